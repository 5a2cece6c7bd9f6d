"""Folding: the one comparison rule of the spec (Terms, *Folded*).

Every name, PO, DN and identity comparison goes through :func:`fold`, so two
spellings that cc:Mail or AD treat as one compare equal everywhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def squeeze(value: str) -> str:
    """Trim and fold white-space runs to one space (display form, case kept)."""
    return " ".join(value.split())


def fold(value: str) -> str:
    """NFC, trim, fold white-space runs, Unicode case folding."""
    if value.isascii():  # ASCII is its own NFC: skip the call (most values)
        return " ".join(value.split()).casefold()
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()


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
