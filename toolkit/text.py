"""Folding: the one comparison rule of the spec (Terms, *Folded*).

Every name, PO, DN and identity comparison goes through :func:`fold`, so two
spellings that cc:Mail or AD treat as one compare equal everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F (a stable
# Unicode property): one search instead of a category lookup per character.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


# What a terminal, a Markdown table or an HTML page must never get raw from
# the directory: control characters (terminal escapes, line breaks) and, for
# the documents, lone surrogates (not encodable as UTF-8).
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(value: str, *, surrogates: bool = False) -> str:
    """``value`` with every control character (and, with ``surrogates``, every
    lone surrogate) replaced by U+FFFD: the one cleaner for hostile text."""
    return (UNPRINTABLE if surrogates else CONTROL).sub("\ufffd", value)


def one_line(text: str, secrets: Iterable[str | None] = (), limit: int | None = None) -> str:
    """A message on one line (white-space runs folded to one space), without
    any of ``secrets`` (replaced by ``***``, in the text as given and as
    folded), at most ``limit`` characters (cut with ``...``)."""
    kept = [s for s in secrets if s]
    for secret in kept:
        text = text.replace(secret, "***")
    text = squeeze(text)
    for secret in kept:
        text = text.replace(squeeze(secret) or secret, "***")
    return shorten(text, limit)


def shorten(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, ``...`` marking the cut."""
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


def has_control(value: str) -> bool:
    """Whether ``value`` holds a control character (Unicode category Cc)."""
    return CONTROL.search(value) is not None


def squeeze(value: str) -> str:
    """Trim and fold white-space runs to one space (display form, case kept)."""
    return " ".join(value.split())


def fold(value: str) -> str:
    """NFC, trim, fold white-space runs, Unicode case folding."""
    if value.isascii():  # ASCII is its own NFC: skip the call (most values)
        return " ".join(value.split()).casefold()
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()


_FOLDED_PO: dict[str, str] = {}  # PO names are few and folded very often
_FOLDED_PO_MAX = 65536  # bounded: hostile input cannot grow it without limit


def fold_po(po: str) -> str:
    """:func:`fold` of a post office name, remembered (one string per PO)."""
    folded = _FOLDED_PO.get(po)
    if folded is None:
        folded = fold(po)
        if len(_FOLDED_PO) < _FOLDED_PO_MAX:
            folded = _FOLDED_PO.setdefault(folded, folded)  # equal folds share one string
            _FOLDED_PO[po] = folded
    return folded


def text_order(value: str) -> tuple[str, str]:
    """The order of lists inside messages (spec, Output): folded text, ties by
    code point, so the same inputs give the same bytes on every run."""
    return fold(value), value


def sorted_texts(values: Iterable[str]) -> list[str]:
    """``values`` in :func:`text_order`."""
    return sorted(values, key=text_order)


def distinct_folded(values: Iterable[str]) -> list[str]:
    """One spelling of each folded value - the first by code point - in
    :func:`text_order` (spec: POs that fold alike are named once)."""
    first: dict[str, str] = {}
    for value in values:
        folded = fold(value)
        have = first.get(folded)
        if have is None or value < have:
            first[folded] = value
    return [first[k] for k in sorted(first)]
