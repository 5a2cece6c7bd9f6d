"""The cc:Mail address grammar of spec.md (Terms, and ``invalid-address``).

``Smith, John at PO1``: split at the *last* `` at `` (any case), trim, fold
white space, then validate. ``/`` escapes are deliberately not interpreted.
"""

from __future__ import annotations

import re

from toolkit.model import CcmailValue
from toolkit.text import CONTROL, fold, fold_po, squeeze

_PO_OK = re.compile(r"[A-Za-z0-9_-]+")
_NAME_BAD = frozenset('"[]')


def is_ccmail_type(prefix: str) -> bool:
    return prefix.upper() == "CCMAIL"


def split_address(address: str) -> tuple[str, str] | None:
    """Split ``name at PO`` at the last `` at `` in any case; None if absent.

    Only ASCII ``a``/``t`` are case-mapped so string offsets stay valid.
    """
    probe = address.replace("A", "a").replace("T", "t")
    cut = probe.rfind(" at ")
    if cut < 0:
        return None
    return address[:cut], address[cut + 4 :]


_CONTROL = CONTROL


NAME_CONTROL = "name holds a control character"
PO_CONTROL = "post office holds a control character"


def name_problem(name: str) -> str | None:
    if not name:
        return "empty name"
    if '"' in name or "[" in name or "]" in name:
        bad = sorted({c for c in name if c in _NAME_BAD})
        return "name holds " + " ".join(repr(c) for c in bad)
    if _CONTROL.search(name):
        return NAME_CONTROL
    return None


def po_problem(po: str) -> str | None:
    if not po:
        return "empty post office"
    if not _PO_OK.fullmatch(po):
        return "post office may hold only ASCII letters, digits, '-' and '_'"
    return None


# Post office names and value types repeat across 100,000 objects: one
# string each (equal strings, so nothing else can tell), and PO names are
# folded once. Bounded, so hostile input cannot grow them without limit.
_SHARED: dict[str, str] = {}
_SHARED_MAX = 65536


def _shared(text: str) -> str:
    found = _SHARED.get(text)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            return text
        _SHARED[text] = found = text
    return found


# The last name parsed (as written, squeezed, folded): an object's values
# mostly share their name ("Smith, John at PO1", "Smith, John at EXCH"), and
# one string for both keeps the rules' indexes smaller. One tuple, replaced
# whole, so threads parsing at once never see a mixed one.
_last: tuple[str, str, str] = ("\x00", "\x00", "\x00")


def parse(raw: str, prefix: str, address: str, source: str) -> CcmailValue:
    """Build a :class:`CcmailValue` from one cc:Mail value, valid or not."""
    prefix = _shared(prefix)
    parts = split_address(address)
    if parts is None:
        return CcmailValue(raw, prefix, source, None, None, None,
                           "no ' at ' between name and post office")
    # Spec (Terms): a control character anywhere in the name or PO makes the
    # value invalid, checked on the value as read, before white space is
    # folded (squeezing would turn a TAB or a trailing CR into nothing).
    if _CONTROL.search(parts[0]):
        return CcmailValue(raw, prefix, source, None, None, None, NAME_CONTROL)
    if _CONTROL.search(parts[1]):
        return CcmailValue(raw, prefix, source, None, None, None, PO_CONTROL)
    global _last
    last = _last
    folded: str | None
    if parts[0] == last[0]:
        name, folded = last[1], last[2]
    else:
        name = squeeze(parts[0])
        folded = None
    po = _shared(squeeze(parts[1]))
    error = name_problem(name) or po_problem(po)
    if error is None:
        if folded is None:
            folded = fold(name)
            _last = (parts[0], name, folded)
        key: tuple[str, str] | None = (folded, fold_po(po))
    else:
        key = None
    cut = len(prefix)
    sep = raw[cut : cut + 1]
    if len(raw) == cut + len(name) + len(po) + 5 and raw == f"{prefix}{sep}{name} at {po}":
        # "CCMAIL:Smith, John at PO1" is rebuilt from its parts when read
        return CcmailValue.canonical(sep, prefix, source, name, po, key, error)  # type: ignore[arg-type]
    return CcmailValue(raw, prefix, source, name, po, key, error)


# --------------------------------------------------------------------------- packed values
# A reader keeps an object's cc:Mail values as one string (see
# model.Recipient.read): each value's raw text after a tag saying how it was
# found, NUL between values. The tags: "v"/"w" a proxy/target value :func:`parse`
# found valid and written exactly ``TYPE:name at PO`` (most values: unpacked
# without parsing again), "p"/"t" any other text proxy/target value (parsed
# again), "P"/"T" one whose bytes were not UTF-8 (kept decoded with backslash
# escapes, invalid).
_TAGS = {"p": "proxy", "t": "target", "P": "proxy", "T": "target"}
NOT_UTF8 = "not valid UTF-8"


def tagged(raw: str, source: str) -> str:
    """``raw`` (a cc:Mail value, ``TYPE`` then a one-character separator)
    with its tag: parsed once here, so that unpacking a valid value written
    the canonical way needs no second parse."""
    v = parse(raw, raw[:6], raw[7:], source)
    if v.error is None and len(v._raw) == 1:  # valid and canonical (see CcmailValue.canonical)
        return ("v" if source == "proxy" else "w") + raw
    return ("p" if source == "proxy" else "t") + raw


def pack_values(tagged: list[str]) -> str | list[CcmailValue]:
    """Tagged raw values as one string; a parsed list when a value holds NUL."""
    for item in tagged:
        if "\x00" in item:
            return [unpack_one(item) for item in tagged]
    return "\x00".join(tagged)


def unpack_values(packed: str) -> list[CcmailValue]:
    if not packed:
        return []
    return [unpack_one(item) for item in packed.split("\x00")]


def unpack_one(item: str) -> CcmailValue:
    tag, raw = item[0], item[1:]
    if tag in "vw":
        # "TYPE:name at PO", checked when tagged: the PO holds no space, so the
        # last " at " is the separator, and name and PO are already squeezed.
        global _last
        cut = raw.rfind(" at ")
        name, po = raw[7:cut], _shared(raw[cut + 4:])
        last = _last
        if name == last[1]:
            name, folded = last[1], last[2]
        else:
            folded = fold(name)
            _last = (name, name, folded)
        return CcmailValue.canonical(raw[6], _shared(raw[:6]), "proxy" if tag == "v" else "target",
                                     name, po, (folded, fold_po(po)), None)  # type: ignore[arg-type]
    if tag in "pt":
        return parse(raw, raw[:6], raw[7:], _TAGS[tag])
    return CcmailValue(raw, raw[:6], _TAGS[tag], None, None, None, NOT_UTF8)


def format_address(name: str, po: str) -> str:
    return f"{name} at {po}"
