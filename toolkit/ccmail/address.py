"""The cc:Mail address grammar of spec.md (Terms, and ``invalid-address``).

``Smith, John at PO1``: split at the *last* `` at `` (any case), trim, fold
white space, then validate. ``/`` escapes are deliberately not interpreted.
"""

from __future__ import annotations

import re

from toolkit.text import CONTROL, fold, fold_po, squeeze


class CcmailValue:
    """A cc:Mail address value on an Exchange object (proxy or target).

    ``name``/``po`` are trimmed with white space folded, case kept; ``key`` is
    the folded (name, PO) pair used for every comparison. ``error`` is set
    when the value is invalid (spec: ``invalid-address``); invalid values
    take no part in any other rule.

    A plain-data class with a dataclass's interface. Most values are written
    exactly ``TYPE:name at PO``; those do not keep ``raw`` as a second
    string (it is rebuilt when read), which at 150,000 values saves 15 MB.
    Values are read-only in practice: to change one, make a new one (on a
    rebuilt value, assigning ``name``, ``po`` or ``prefix`` changes ``raw``).
    """

    __slots__ = ("_raw", "error", "key", "name", "po", "prefix", "source")
    __match_args__ = ("raw", "prefix", "source", "name", "po", "key", "error")
    __hash__ = None  # type: ignore[assignment]

    prefix: str
    source: str  # "proxy" or "target"
    name: str | None
    po: str | None
    key: tuple[str, str] | None
    error: str | None

    def __init__(self, raw: str, prefix: str, source: str, name: str | None = None,
                 po: str | None = None, key: tuple[str, str] | None = None,
                 error: str | None = None) -> None:
        self._raw = raw
        self.prefix = prefix
        self.source = source
        self.name = name
        self.po = po
        self.key = key
        self.error = error

    @classmethod
    def canonical(cls, sep: str, prefix: str, source: str, name: str, po: str,
                  key: tuple[str, str] | None, error: str | None) -> CcmailValue:
        """A value whose raw text is exactly ``prefix + sep + name + " at " + po``."""
        value = cls.__new__(cls)
        value._raw, value.prefix, value.source = sep, prefix, source
        value.name, value.po, value.key, value.error = name, po, key, error
        return value

    @property
    def raw(self) -> str:
        raw = self._raw
        if len(raw) == 1:  # the separator of a canonical value (no raw value is 1 long)
            return f"{self.prefix}{raw}{self.name} at {self.po}"
        return raw

    @raw.setter
    def raw(self, value: str) -> None:
        self._raw = value

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def upper(self) -> bool:
        """Upper-case ``CCMAIL`` type: Exchange's mark of a primary address."""
        return self.prefix == "CCMAIL"

    @property
    def address(self) -> str:
        """``name at PO`` in display form (valid values only)."""
        return f"{self.name} at {self.po}"

    def _fields(self) -> tuple[object, ...]:
        return (self.raw, self.prefix, self.source, self.name, self.po, self.key, self.error)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._fields() == other._fields()  # type: ignore[attr-defined]
        return NotImplemented

    def __repr__(self) -> str:
        return (f"CcmailValue(raw={self.raw!r}, prefix={self.prefix!r}, source={self.source!r}, "
                f"name={self.name!r}, po={self.po!r}, key={self.key!r}, error={self.error!r})")



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
NOT_UTF8 = "not valid UTF-8"
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


def format_address(name: str, po: str) -> str:
    return f"{name} at {po}"
