"""Plain immutable data of proxy hygiene (spec: Legacy proxy hygiene, Objects
and values): address values, the objects that carry them, findings, rows.

Nothing here does I/O. The value grammar lives here, once, because every
rule, the ``types`` counts and (later) apply's re-check must agree on what a
value's type is and when two values are *the same*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from toolkit.model import Finding, twin
from toolkit.text import fold

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class ProxyKind(StrEnum):
    """The audit's kinds plus ``user``: an AD user that is neither a mailbox
    nor a custom recipient still carries addresses worth checking."""

    MAILBOX = "mailbox"
    CUSTOM_RECIPIENT = "custom-recipient"
    GROUP = "group"
    USER = "user"


def value_type(text: str) -> str | None:
    """The text before the first ``:``, ASCII letters upper-cased; None when
    there is no ``:`` or nothing before it (spec: a value's *type*).

    Only ASCII is upper-cased so that a look-alike (``ccmaıl``) never
    becomes a type it is not.
    """
    cut = text.find(":")
    if cut <= 0:
        return None
    return text[:cut].translate(_ASCII_UPPER)


def written_primary(type_as_written: str) -> bool:
    """Primary: the type as written has a letter and no lower-case letter."""
    if type_as_written.isascii():  # every ASCII letter is cased: the same test, in C
        return type_as_written.isupper()
    return any(c.isalpha() for c in type_as_written) and not any(c.islower() for c in type_as_written)


@dataclass(frozen=True, slots=True)
class ProxyValue:
    """One address value, exactly as read (``text``), never rewritten.

    ``type`` is None for a value without one (and for one whose bytes were
    not UTF-8: ``text`` then shows them with backslash escapes and
    ``undecodable`` is set, so no plan ever names a value that is not there).
    ``primary`` is always False in the Exchange 5.5 dialect (case says nothing
    there).
    """

    text: str
    type: str | None
    address: str
    primary: bool = False
    undecodable: bool = False

    @classmethod
    def parse(cls, text: str, primary_by_case: bool = True) -> ProxyValue:
        """``text`` split at its first ``:`` (:func:`value_type`,
        :func:`written_primary`), made by :func:`parse_value`."""
        return parse_value(text, primary_by_case)

    @classmethod
    def typed(cls, type_as_written: str, address: str) -> ProxyValue:
        """A value read as two parts (Exchange 5.5 ``TYPE$address``): shown as
        ``TYPE:address``; never primary (case says nothing in 5.5)."""
        text = f"{type_as_written}:{address}"
        if not type_as_written:
            return cls(text, None, address)
        return cls(text, type_as_written.translate(_ASCII_UPPER), address)

    @classmethod
    def undecodable_bytes(cls, raw: bytes) -> ProxyValue:
        return cls(raw.decode("utf-8", "backslashreplace"), None, "", False, True)

    @property
    def same_key(self) -> SameKey | None:
        """Values with equal keys are *the same* (type equal, address Folded
        equal); a value without a type is the same as nothing
        (:func:`same_key_of`)."""
        return None if self.type is None else same_key_of(self.type, self.address)


# What makes two values *the same*: ``TYPE:folded address`` as one string, or
# (type, folded address) for a type with a ":" in it (only an Exchange 5.5
# ``TYPE$address`` can have one). Unambiguous: a type without ":" ends at the
# string's first ":", and a string never equals a tuple.
SameKey = str | tuple[str, str]


def same_key_of(type_: str, address: str) -> SameKey:
    """The key of a value of type ``type_`` (see :data:`SameKey`).

    Why one string and not the (type, folded address) tuple: ``proxies``
    keeps a key for every distinct value (~300,000 at 100,000 people), and a
    tuple with its own folded string cost ~115 bytes more a key than one
    string (tracemalloc: the context at 100,000 people 211 -> 191 MB)."""
    return f"{type_}:{fold(address)}" if ":" not in type_ else (type_, fold(address))


_ValueTwin = twin(ProxyValue)
# type as written -> (value_type, written_primary): a directory spells its types
# a handful of ways (SMTP, smtp, X400, CCMAIL, ...). Bounded, as hostile input
# could spell many.
_WRITTEN: dict[str, tuple[str, bool]] = {}
_WRITTEN_MAX = 4096


def parse_value(text: str, primary_by_case: bool = True) -> ProxyValue:
    """``ProxyValue.parse``: the same value, made faster.

    Why: ``proxies audit`` parses every address value (37,602 at 10,000
    people). The frozen dataclass's constructor sets each field through
    ``object.__setattr__``; this fills a :func:`~toolkit.model.twin` and
    makes it a ProxyValue, finds the ``:`` once (not once in
    :func:`value_type` and again here) and looks up the type as written in a
    small table instead of upper-casing it and testing its case for every
    value. Measured under callgrind (gc off, as the CLI runs; the loop
    around it included): ~17,400 -> ~6,300 instructions a value.
    ``tests/test_proxies_fast.py`` holds it to :func:`value_type` and
    :func:`written_primary` over random and hostile texts.
    """
    v = _ValueTwin()
    v.text = text
    cut = text.find(":")
    if cut <= 0:
        v.type = None
        v.address = ""
        v.primary = False
    else:
        written = text[:cut]
        known = _WRITTEN.get(written)
        if known is None:
            known = (written.translate(_ASCII_UPPER), written_primary(written))
            if len(_WRITTEN) < _WRITTEN_MAX:
                _WRITTEN[written] = known
        v.type = known[0]
        v.address = text[cut + 1:]
        v.primary = primary_by_case and known[1]
    v.undecodable = False
    v.__class__ = ProxyValue
    return v  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class ProxyObject:
    """An Exchange object that carries address values or a target.

    ``key`` is the audit's row key (``dn:`` + folded DN). ``targets`` are its
    non-blank ``targetAddress`` values (not address values). ``type_details``
    is ``msExchRecipientTypeDetails`` when read (picks the cmdlet), or
    PowerShell's RecipientTypeDetails name;
    ``policies_excluded`` the ``msExchPoliciesExcluded`` values.
    """

    key: str
    dn: str
    kind: ProxyKind
    values: tuple[ProxyValue, ...]
    targets: tuple[str, ...] = ()
    classes: frozenset[str] = frozenset()  # objectClass values, lower case
    type_details: int | str | None = None
    policies_excluded: tuple[str, ...] = ()
    where: str | None = None


_ObjectTwin = twin(ProxyObject)


def new_object(key: str, dn: str, kind: ProxyKind, values: tuple[ProxyValue, ...],
               targets: tuple[str, ...], classes: frozenset[str],
               type_details: int | str | None, policies_excluded: tuple[str, ...],
               where: str | None) -> ProxyObject:
    """``ProxyObject(...)`` with every field given, made through its
    :func:`~toolkit.model.twin`: nine plain stores instead of nine
    ``object.__setattr__`` calls (under callgrind, gc off, the loop around
    it included: ~18,400 -> ~7,400 instructions an object)."""
    o = _ObjectTwin()
    o.key = key
    o.dn = dn
    o.kind = kind
    o.values = values
    o.targets = targets
    o.classes = classes
    o.type_details = type_details
    o.policies_excluded = policies_excluded
    o.where = where
    o.__class__ = ProxyObject
    return o  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- output


# A proxy finding is the audit's finding: the same four fields, the same JSON.
ProxyFinding = Finding


@dataclass(frozen=True, slots=True)
class ProxyRow:
    """A row of ``ccmig proxies audit``: an object with at least one finding."""

    key: str
    dn: str
    kind: ProxyKind
    values: int
    remove: tuple[str, ...]
    findings: tuple[ProxyFinding, ...]

    @property
    def status(self) -> str:
        return self.findings[0].code if self.findings else "complete"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "dn": self.dn, "kind": self.kind.value, "values": self.values,
                "remove": list(self.remove), "status": self.status,
                "findings": [f.as_dict() for f in self.findings]}


_RowTwin = twin(ProxyRow)


def new_row(key: str, dn: str, kind: ProxyKind, values: int, remove: tuple[str, ...],
            findings: tuple[ProxyFinding, ...]) -> ProxyRow:
    """``ProxyRow(...)`` through its :func:`~toolkit.model.twin` (as :func:`new_object`)."""
    r = _RowTwin()
    r.key = key
    r.dn = dn
    r.kind = kind
    r.values = values
    r.remove = remove
    r.findings = findings
    r.__class__ = ProxyRow
    return r  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class TypeRow:
    """A row of ``ccmig proxies types``; ``primaries`` and ``policies`` are
    None when unknown (5.5 dialect; no ``--exchange-uri``)."""

    type: str
    objects: int = 0
    values: int = 0
    primaries: int | None = 0
    retired: bool = False
    policies: tuple[str, ...] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "objects": self.objects, "values": self.values,
                "primaries": self.primaries, "retired": self.retired,
                "policies": None if self.policies is None else list(self.policies)}
