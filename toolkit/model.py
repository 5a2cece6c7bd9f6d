"""Plain data shared by every reader, the rule engine and the renderers.

Readers (LDIF, LDAP, PowerShell, cc:Mail files, mocks) produce these objects;
:mod:`toolkit.rules` turns them into :class:`Row` objects. Nothing here does
I/O, so runbooks and test suites can build them by hand.

Everything here is a plain frozen value: ``Recipient`` (with its
``Identities``), ``DirEntry``, ``Finding``, ``Row``. An audit keeps its
recipients and entries compact in :mod:`toolkit.storage`'s tables (what lets
100,000 people fit in 150 MB), which make these values when they are read.
This module imports nothing of the toolkit but the cc:Mail grammar: it is
the bottom layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from toolkit.ccmail.address import CcmailValue

__all__ = ["NO_EXTRA", "AttrValue", "CcmailValue", "Dialect", "DirEntry", "Finding",
           "Identities", "Kind", "RawEntry", "Recipient", "Row", "ValueSequence"]

AttrValue = str | bytes


@dataclass(slots=True)
class RawEntry:
    """One directory object as read from LDIF or LDAP.

    ``attrs`` keys are lower-case attribute names (options stripped); values
    keep the order they were read in, because some rules depend on it.
    """

    dn: str
    attrs: dict[str, list[AttrValue]]
    where: str | None = None  # "file:line" of the record, for messages

    def get(self, name: str) -> list[AttrValue]:
        return self.attrs.get(name, [])

    def texts(self, name: str) -> list[str]:
        """String values of an attribute; binary values are skipped."""
        return [v for v in self.attrs.get(name, []) if isinstance(v, str)]

    def first(self, name: str) -> str | None:
        for v in self.attrs.get(name, []):
            if isinstance(v, str) and v.strip():
                return v
        return None


class Kind(StrEnum):
    MAILBOX = "mailbox"
    CUSTOM_RECIPIENT = "custom-recipient"
    GROUP = "group"
    CCMAIL_USER = "ccmail-user"


class Dialect(StrEnum):
    AD = "ad"
    EXCHANGE55 = "exchange55"


# Hot code names these rather than ``Kind.MAILBOX``: on Python 3.11 every read
# of an attribute of an Enum class goes through ``EnumType.__getattr__``'s
# slot hook (~600 instructions under callgrind) where a module global costs a
# few. The rows stage read ~7 a row (39 M instructions at 10,000 people).
MAILBOX = Kind.MAILBOX
CUSTOM_RECIPIENT = Kind.CUSTOM_RECIPIENT
AD = Dialect.AD


@dataclass(frozen=True, slots=True)
class Identities:
    """A recipient's identity fields: what ``--mailbox-stats`` and ``ccmig
    check`` match it by, besides its DN and cc:Mail values."""

    primary_smtp: str | None
    nickname: str | None  # mailNickname (AD), uid (5.5)
    sam: str | None
    upn: str | None
    mail: str | None
    legacy_dn: str | None
    smtp: tuple[str, ...]  # every SMTP address, in value order


T = TypeVar("T")


class ValueSequence(Sequence[T]):
    """A read-only sequence whose items are made when read (rows, recipients),
    compared as a value: equal to any sequence of equal items, in order."""

    __slots__ = ()
    _noun = "items"

    def _at(self, i: int) -> T:
        """Item ``i``, ``0 <= i < len(self)``: what a subclass makes."""
        raise NotImplementedError

    def __getitem__(self, i: Any) -> Any:
        """``self[i]`` as a list answers it (negative positions, slices as
        lists, IndexError past either end), each item made by :meth:`_at`."""
        if i.__class__ is not int:
            if i.__class__ is slice:
                return [self._at(n) for n in range(len(self))[i]]
            i = i.__index__()
        size = len(self)
        if i < 0:
            i += size
        if not 0 <= i < size:
            raise IndexError(f"{type(self).__name__} index out of range")
        return self._at(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} {self._noun}>"


def twin(cls: type) -> type:
    """A mutable class with the slots of frozen slotted dataclass ``cls``:
    the fast constructors below (and :mod:`toolkit.rules.facts`') fill a new
    twin by plain attribute stores and then make it a ``cls`` by assigning
    ``__class__``. Python allows that assignment only between classes of the
    same layout (same base, same slots, in order) and checks it on every
    assignment (TypeError otherwise). A field a constructor forgets to set
    stays an empty slot, which raises AttributeError when read;
    ``tests/test_compact.py`` holds each constructor to the dataclass's own.

    Why: a frozen dataclass's fields can only be set through
    ``object.__setattr__`` or the slot descriptors' ``__set__``, each a
    wrapped C call that packs its arguments into a tuple. The audit makes
    ~90,000 recipients, ~90,000 facts, ~112,000 rows and ~50,000 findings at
    100,000 people; under callgrind one 13-field recipient cost ~11,100
    instructions through the descriptors and ~3,900 through its twin. A
    twin is made by calling it (``_RecipientTwin()``, a class without
    ``__init__``): ~20% cheaper than ``object.__new__(twin)``, whose
    wrapper checks its arguments (timeit)."""
    return type(f"_{cls.__name__}Twin", cls.__bases__,  # (the same layout: base slots too)
                {"__slots__": cls.__slots__, "__module__": cls.__module__})


class _LazyIdentities:
    """The base of :class:`Recipient`: one hidden slot, ``_packed_ids``, that
    holds ``(decode, packed)`` for a recipient whose identity fields are
    decoded when first read (:func:`new_lazy_recipient`; each identity field
    is then a :class:`_Identity` descriptor).

    Why: every audit row makes its object's recipient (it is the row's
    ``recipient`` and the rules' ``f.r``), but no rule, row field or
    renderer of an audit reads the identity fields - ``ccmig check``,
    remediation and library users do. Decoding them was ~11,000 of the
    ~42,000 instructions a recipient took to make (callgrind, 10,000
    people). The value is the same: each field, when read (by ``==``,
    ``hash``, ``repr``, ``dataclasses.replace`` or by name), is decoded and
    kept in its slot."""

    __slots__ = ("_packed_ids",)


class _Identity:
    """A data descriptor in place of a field's slot descriptor: reads the
    slot, and first fills it by ``fill(obj)`` when it is still empty (a
    lazily made value; ``fill`` raises AttributeError when the object has
    nothing to fill it from). Used for a recipient's identity fields (all
    decoded at once, :func:`_decode_ids`) and a row's recipient
    (:func:`_make_recipient`). Why not ``__getattr__`` on the class: Python
    3.11 specialises no attribute read of a class that has one (~275 more
    instructions a read of ``dn``, ``kind``, ``values``, ~6 a row: 16 M
    instructions at 10,000 people); this costs only reads of the lazy
    fields themselves."""

    __slots__ = ("fill", "slot")

    def __init__(self, slot: Any, fill: Any = None) -> None:
        self.slot = slot  # the slot's own member descriptor
        self.fill = fill or _decode_ids

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return self.slot.__get__(obj, owner)
        except AttributeError:
            try:
                self.fill(obj)
            except AttributeError:
                raise AttributeError(
                    f"{type(obj).__name__!r} object has no attribute {self.slot.__name__!r}"
                ) from None
            return self.slot.__get__(obj, owner)

    def __set__(self, obj: Any, value: Any) -> None:
        self.slot.__set__(obj, value)

    def __delete__(self, obj: Any) -> None:
        self.slot.__delete__(obj)


def _decode_ids(obj: Any) -> None:
    """Fills a lazily made recipient's identity fields from its packed ones."""
    decode, packed = _PACKED.__get__(obj)
    for name, value in zip(_IDENTITY_FIELDS, decode(packed), strict=True):
        _SLOTS[name].__set__(obj, value)


# The identity fields, in the order of toolkit.storage.unpack_ids' answer.
_IDENTITY_FIELDS = ("primary_smtp", "nickname", "sam", "upn", "mail", "legacy_dn", "smtp")
_PACKED = _LazyIdentities.__dict__["_packed_ids"]


@dataclass(frozen=True, slots=True)
class Recipient(_LazyIdentities):
    """An Exchange object classified as mailbox, custom recipient or group: a
    plain immutable value (make a changed copy with :meth:`replace`).

    ``values`` are its cc:Mail values in value order (spec: the
    ``targetAddress`` after the proxies), ``smtp`` every SMTP address in
    value order; lists given are kept as tuples. ``item_count`` and
    ``exchange_values`` are what later stages (``--mailbox-stats``,
    PowerShell) learnt about the mailbox. An audit keeps its recipients in
    :class:`toolkit.storage.recipients.RecipientTable`, which makes these
    when they are read.
    """

    dn: str
    kind: Kind
    values: Sequence[CcmailValue] = ()
    primary_smtp: str | None = None
    smtp: Sequence[str] = ()
    nickname: str | None = None  # mailNickname (AD), uid (5.5)
    sam: str | None = None
    upn: str | None = None
    mail: str | None = None
    item_count: int | None = None
    exchange_values: Sequence[str] | None = None  # cc:Mail values Exchange returned
    subtype: str | None = None  # e.g. "contact", "mail-user", "remote-address"
    legacy_dn: str | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__  # the documented way for a frozen dataclass
        if self.values.__class__ is not tuple:
            put(self, "values", tuple(self.values))
        if self.smtp.__class__ is not tuple:
            put(self, "smtp", tuple(self.smtp or ()))
        if self.exchange_values is not None and self.exchange_values.__class__ is not tuple:
            put(self, "exchange_values", tuple(self.exchange_values))

    def replace(self, **changes: Any) -> Recipient:
        """A copy with ``changes`` (field names as in the constructor)."""
        return dataclasses.replace(self, **changes)

    @property
    def has_values(self) -> bool:
        return bool(self.values)

    @property
    def ids(self) -> Identities:
        """The identity fields as one record."""
        return Identities(self.primary_smtp, self.nickname, self.sam, self.upn, self.mail,
                          self.legacy_dn, tuple(self.smtp))

    def identities(self) -> list[str]:
        """Every string ``ccmig check`` matches this object by (unfolded)."""
        out = [self.dn]
        out += [v for v in (self.nickname, self.sam, self.upn, self.mail) if v]
        out += self.smtp
        for v in self.values:
            if v.valid:
                out += [v.name or "", v.address]
        return out


_RecipientTwin = twin(Recipient)  # (made before the descriptors change: plain slots)
_SLOTS = {name: Recipient.__dict__[name] for name in _IDENTITY_FIELDS}
for _name in _IDENTITY_FIELDS:
    setattr(Recipient, _name, _Identity(_SLOTS[_name]))


def new_lazy_recipient(dn: str, kind: Kind, values: tuple[CcmailValue, ...],
                       decode: Any, packed: Any, item_count: int | None,
                       exchange_values: tuple[str, ...] | None,
                       subtype: str | None) -> Recipient:
    """``Recipient(...)`` from fields already in their stored types (tuples),
    faster (see :func:`twin`), its identity fields ``decode(packed)``
    (``(primary_smtp, nickname, sam, upn, mail, legacy_dn, smtp tuple)``),
    decoded when first read (see :class:`_LazyIdentities`): what
    :class:`~toolkit.storage.recipients.RecipientTable` makes when read."""
    r = _RecipientTwin()
    r.dn = dn
    r.kind = kind
    r.values = values
    r.item_count = item_count
    r.exchange_values = exchange_values
    r.subtype = subtype
    r._packed_ids = (decode, packed)
    r.__class__ = Recipient
    return r  # type: ignore[no-any-return]


class _NoExtra(dict):  # type: ignore[type-arg]
    """The shared, read-only ``extra`` of every entry that has no unknown keys
    (one empty dict per entry would be 9 MB at 150,000 entries)."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("DirEntry.extra of an entry read without extra keys is read-only; "
                        "assign a new dict instead")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = _read_only  # type: ignore[assignment]
    __ior__ = _read_only  # type: ignore[assignment]

    def __hash__(self) -> int:  # read-only and always empty: a dataclass default may share it
        return 0


NO_EXTRA: dict[str, str] = _NoExtra()


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One record of a cc:Mail post office directory: a plain immutable value
    (make a changed copy with :meth:`replace`).

    ``po`` is where the entry sends mail (spec: *user entry*): the file's PO
    for ``L``/``l`` and for ``R``/``r`` without ``Addr``, else the first word
    of ``Addr`` taken at face value. ``extra`` holds the record's unknown
    keys (:data:`NO_EXTRA`, shared and read-only, when there are none);
    ``where`` is ``file:line`` of the record and ``path`` its export file
    (None for in-memory layers). An audit keeps entries compact in
    :class:`toolkit.storage.entries.EntryTable` and makes these when read.
    """

    name: str
    locn: str
    file_po: str
    addr: str = ""
    comments: str = ""
    messages: int | None = None
    extra: dict[str, str] = NO_EXTRA  # shared on purpose: read-only
    where: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if not self.extra and self.extra is not NO_EXTRA:
            object.__setattr__(self, "extra", NO_EXTRA)  # the documented way, frozen

    def replace(self, **changes: Any) -> DirEntry:
        """A copy with ``changes`` (field names as in the constructor)."""
        return dataclasses.replace(self, **changes)

    @property
    def is_user(self) -> bool:
        return self.locn in "LlRr"

    @property
    def is_local(self) -> bool:
        return self.locn in "Ll"

    @property
    def po(self) -> str:
        return entry_po(self.locn, self.file_po, self.addr)


def entry_po(locn: str, file_po: str, addr: str) -> str:
    """Where an entry sends mail (spec: *user entry*): its file's PO for
    ``L``/``l``, else the first word of ``Addr``, the file's PO when blank.
    :attr:`DirEntry.po` and :meth:`toolkit.storage.entries.EntryTable.po`."""
    if locn in "Ll":
        return file_po
    first = addr.split(None, 1)
    return first[0] if first else file_po


_DirEntryTwin = twin(DirEntry)


def new_entry(name: str, locn: str, file_po: str, addr: str, comments: str,
              messages: int | None, extra: dict[str, str], where: str | None,
              path: str | None) -> DirEntry:
    """``DirEntry(...)`` with every field given and ``extra`` already
    :data:`NO_EXTRA` when empty, faster (see :func:`twin`): what
    :class:`~toolkit.storage.entries.EntryTable` makes when read."""
    e = _DirEntryTwin()
    e.name = name
    e.locn = locn
    e.file_po = file_po
    e.addr = addr
    e.comments = comments
    e.messages = messages
    e.extra = extra
    e.where = where
    e.path = path
    e.__class__ = DirEntry
    return e  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding on a row: code, severity, message (names everything
    involved) and action. A plain immutable value."""

    code: str
    severity: str
    message: str
    action: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "action": self.action}


_FindingTwin = twin(Finding)


def new_finding(code: str, severity: str, message: str, action: str) -> Finding:
    """``Finding(code, severity, message, action)``, faster (see :func:`twin`)."""
    f = _FindingTwin()
    f.code = code
    f.severity = severity
    f.message = message
    f.action = action
    f.__class__ = Finding
    return f  # type: ignore[no-any-return]


class _LazyRecipient:
    """The base of :class:`Row`: one hidden slot, ``_recipient_of``, that
    holds ``(table, i)`` for a row whose ``recipient`` is ``table[i]``, made
    when first read (:func:`new_lazy_row`; ``recipient`` is then an
    :class:`_Identity` descriptor).

    Why: an audit row whose gates leave only stale, unconfirmed or
    awaiting-dirsync findings possible is written from its object's packed
    record alone (:func:`toolkit.rules.rows.light_row`);
    making the recipient (its cc:Mail values decoded, ~40% of such a row's
    instructions) is left to whoever reads it - remediation, ``--record``,
    library callers - and they get the same value."""

    __slots__ = ("_recipient_of",)


_RECIPIENT_OF = _LazyRecipient.__dict__["_recipient_of"]


def _make_recipient(row: Any) -> None:
    """Fills a lazily made row's recipient: ``table[i]``."""
    table, i = _RECIPIENT_OF.__get__(row)
    _ROW_RECIPIENT.__set__(row, table[i])


@dataclass(frozen=True, slots=True)
class Row(_LazyRecipient):
    """One output row of ``ccmig audit`` (spec: Output). A plain immutable
    value: two rows made from the same analysis are equal.

    ``recipient`` is the Exchange object the row is about (None for a
    ``ccmail-user`` row), ``entries`` the cc:Mail entries of a ``ccmail-user``
    row; both are left out of the repr.
    """

    key: str
    dn: str | None
    kind: Kind
    ccmail_name: str | None
    old_post_office: str | None
    route: str | None
    findings: Sequence[Finding]
    recipient: Recipient | None = field(default=None, repr=False)
    entries: tuple[DirEntry, ...] = field(default=(), repr=False)

    @property
    def status(self) -> str:
        """The first finding's code, or ``complete``."""
        return self.findings[0].code if self.findings else "complete"

    @property
    def identities(self) -> list[str]:
        """Every string ``ccmig check`` matches this row by (unfolded)."""
        if self.recipient is not None:
            return self.recipient.identities()
        out: list[str] = []
        for e in self.entries:
            out += [e.name, f"{' '.join(e.name.split())} at {e.file_po}"]
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "dn": self.dn,
            "kind": self.kind.value,
            "ccmail_name": self.ccmail_name,
            "old_post_office": self.old_post_office,
            "route": self.route,
            "status": self.status,
            "findings": [f.as_dict() for f in self.findings],
        }


_RowTwin = twin(Row)  # (made before the descriptor changes: a plain slot)
_ROW_RECIPIENT = Row.__dict__["recipient"]
Row.recipient = _Identity(_ROW_RECIPIENT, _make_recipient)  # type: ignore[assignment,misc]


def new_row(key: str, dn: str | None, kind: Kind, ccmail_name: str | None,
            old_post_office: str | None, route: str | None, findings: Sequence[Finding],
            recipient: Recipient | None, entries: tuple[DirEntry, ...]) -> Row:
    """``Row(...)`` with every field given, faster (see :func:`twin`)."""
    row = _RowTwin()
    row.key = key
    row.dn = dn
    row.kind = kind
    row.ccmail_name = ccmail_name
    row.old_post_office = old_post_office
    row.route = route
    row.findings = findings
    row.recipient = recipient
    row.entries = entries
    row.__class__ = Row
    return row  # type: ignore[no-any-return]


def new_lazy_row(key: str, dn: str, kind: Kind, ccmail_name: str | None,
                 old_post_office: str | None, route: str | None, findings: Sequence[Finding],
                 table: Sequence[Recipient], i: int) -> Row:
    """:func:`new_row` of an Exchange object whose ``recipient`` is
    ``table[i]``, made when first read (see :class:`_LazyRecipient`; a
    table, not a bound method: one object fewer a row). Written out beside
    :func:`new_row` on purpose: calling ``new_row`` and then emptying the
    ``recipient`` slot made the 10,000-people audit 17.8 M instructions
    dearer (callgrind, +0.46%)."""
    row = _RowTwin()
    row.key = key
    row.dn = dn
    row.kind = kind
    row.ccmail_name = ccmail_name
    row.old_post_office = old_post_office
    row.route = route
    row.findings = findings
    row._recipient_of = (table, i)
    row.entries = ()
    row.__class__ = Row
    return row  # type: ignore[no-any-return]
