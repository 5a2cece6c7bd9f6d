"""Plain data shared by every reader, the rule engine and the renderers.

Readers (LDIF, LDAP, PowerShell, cc:Mail files, mocks) produce these objects;
:mod:`toolkit.rules` turns them into :class:`Row` objects. Nothing here does
I/O, so runbooks and test suites can build them by hand.

``Finding`` and ``Row`` are frozen values. ``Recipient`` and ``DirEntry`` keep
their fields in :mod:`toolkit.storage`'s compact forms (what lets 100,000
recipients fit in 150 MB) and decode a field when it is read; the codecs live
there, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import FrozenInstanceError, dataclass, field
from enum import StrEnum
from typing import Any

from toolkit import storage
from toolkit.ccmail.address import CcmailValue
from toolkit.storage import NO_EXTRA, DirFile, join_record, pack_ids

__all__ = ["NO_EXTRA", "AttrValue", "CcmailValue", "Dialect", "DirEntry", "DirFile", "Finding",
           "Identities", "Kind", "RawEntry", "Recipient", "Row"]

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


_IDS = ("primary_smtp", "nickname", "sam", "upn", "mail", "legacy_dn", "smtp")
_RECIPIENT_FIELDS = ("dn", "kind", "values", "primary_smtp", "smtp", "nickname", "sam", "upn",
                     "mail", "item_count", "exchange_values", "subtype", "legacy_dn")
_FIELD_SET = frozenset(_RECIPIENT_FIELDS)
_RECORD_FIELDS = frozenset({"dn", "values", *_IDS})  # a change to one of these repacks the record


class _Frozen:
    """Instances cannot be changed after construction (as a frozen dataclass):
    make a changed copy with ``replace(**changes)``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: "
                                  f"{type(self).__name__} is immutable, use replace()")

    __delattr__ = __setattr__  # type: ignore[assignment]


class Recipient(_Frozen):
    """An Exchange object classified as mailbox, custom recipient or group.

    An immutable value with a dataclass's interface (fields, equality, repr,
    :meth:`replace`). Its DN, identity fields and cc:Mail values are kept in
    ONE string (:mod:`toolkit.storage`: at 100,000 objects ~60 MB less than
    fields and parsed values) and decoded when read; ``values`` and ``smtp``
    are therefore new lists on each read. ``item_count`` and
    ``exchange_values`` are what later stages (``--mailbox-stats``,
    PowerShell) learnt about the mailbox: they make a new recipient.
    """

    __slots__ = ("_d", "exchange_values", "item_count", "kind", "subtype")
    __match_args__ = _RECIPIENT_FIELDS
    __hash__ = None  # type: ignore[assignment]

    _d: str | tuple[Any, ...]  # the storage record
    kind: Kind
    item_count: int | None
    exchange_values: list[str] | None  # cc:Mail values Exchange returned
    subtype: str | None  # e.g. "contact", "mail-user", "remote-address"

    def __init__(self, dn: str, kind: Kind, values: list[CcmailValue],
                 primary_smtp: str | None = None, smtp: list[str] | None = None,
                 nickname: str | None = None, sam: str | None = None, upn: str | None = None,
                 mail: str | None = None, item_count: int | None = None,
                 exchange_values: list[str] | None = None, subtype: str | None = None,
                 legacy_dn: str | None = None) -> None:
        ids = pack_ids(primary_smtp, nickname, sam, upn, mail, legacy_dn,
                       [] if smtp is None else smtp)
        _init_recipient(self, join_record(dn, ids, _stored(values)), kind, item_count,
                        exchange_values, subtype)

    @classmethod
    def read(cls, dn: str, kind: Kind, packed: str | list[CcmailValue],
             primary_smtp: str | None, smtp: list[str], nickname: str | None, sam: str | None,
             upn: str | None, mail: str | None, subtype: str | None,
             legacy_dn: str | None) -> Recipient:
        """A recipient as a reader makes it: ``packed`` is
        :func:`toolkit.storage.pack_values`'s string (or a list)."""
        r = cls.__new__(cls)
        ids = pack_ids(primary_smtp, nickname, sam, upn, mail, legacy_dn, smtp)
        vals = packed if packed.__class__ is str else tuple(packed)  # _stored, without the call
        _init_recipient(r, join_record(dn, ids, vals), kind, None, None, subtype)
        return r

    def replace(self, **changes: Any) -> Recipient:
        """A copy with ``changes`` (field names as in the constructor)."""
        unknown = changes.keys() - _FIELD_SET
        if unknown:
            raise TypeError(f"Recipient has no field(s) {', '.join(sorted(unknown))}")
        d = self._d
        if not _RECORD_FIELDS.isdisjoint(changes):  # the record itself changes
            ids = list(self._unpacked())
            for n, name in enumerate(_IDS):
                if name in changes:
                    ids[n] = changes[name]
            d = join_record(changes.get("dn", self.dn), pack_ids(*ids),
                            _stored(changes.get("values", self._vals)))
        r = Recipient.__new__(Recipient)
        _init_recipient(r, d, changes.get("kind", self.kind),
                        changes.get("item_count", self.item_count),
                        changes.get("exchange_values", self.exchange_values),
                        changes.get("subtype", self.subtype))
        return r

    # ------------------------------------------------------------ the record

    @property
    def dn(self) -> str:
        return storage.record_dn(self._d)

    @property
    def _ids(self) -> str | tuple[Any, ...]:
        return storage.record_ids(self._d)

    @property
    def _vals(self) -> str | list[CcmailValue]:
        return storage.record_vals(self._d)

    @property
    def values(self) -> list[CcmailValue]:
        vals = storage.record_vals(self._d)
        if vals.__class__ is str:
            return storage.unpack_values(vals)  # type: ignore[arg-type]
        return list(vals)

    @property
    def has_values(self) -> bool:
        """``bool(values)``, without decoding them."""
        return storage.record_has_values(self._d)

    def valid_keys(self) -> list[Any]:
        """The valid values as the indexes read them (``prefix``, ``source``,
        ``key``), in value order: :func:`toolkit.storage.valid_keys`, which
        skips building a :class:`CcmailValue` for most values."""
        return storage.valid_keys(storage.record_vals(self._d))

    # ------------------------------------------------------------ identity fields

    def _unpacked(self) -> tuple[Any, ...]:
        """(primary_smtp, nickname, sam, upn, mail, legacy_dn, smtp list)."""
        return storage.unpack_ids(self._ids)

    @property
    def primary_smtp(self) -> str | None:
        return self._unpacked()[0]  # type: ignore[no-any-return]

    @property
    def nickname(self) -> str | None:
        return self._unpacked()[1]  # type: ignore[no-any-return]

    @property
    def sam(self) -> str | None:
        return self._unpacked()[2]  # type: ignore[no-any-return]

    @property
    def upn(self) -> str | None:
        return self._unpacked()[3]  # type: ignore[no-any-return]

    @property
    def mail(self) -> str | None:
        return self._unpacked()[4]  # type: ignore[no-any-return]

    @property
    def legacy_dn(self) -> str | None:
        return self._unpacked()[5]  # type: ignore[no-any-return]

    @property
    def smtp(self) -> list[str]:
        return self._unpacked()[6]  # type: ignore[no-any-return]

    @property
    def ids(self) -> Identities:
        """The identity fields as one record."""
        *fields, smtp = self._unpacked()
        return Identities(*fields, tuple(smtp))

    def stats_identities(self) -> tuple[str, str | None, str | None, str | None]:
        """(dn, primary_smtp, nickname, sam): what ``--mailbox-stats`` matches, in order."""
        return storage.stats_ids(self._d)

    # ------------------------------------------------------------ dataclass interface

    def _fields(self) -> tuple[object, ...]:
        primary_smtp, nickname, sam, upn, mail, legacy_dn, smtp = self._unpacked()
        return (self.dn, self.kind, self.values, primary_smtp, smtp, nickname, sam, upn, mail,
                self.item_count, self.exchange_values, self.subtype, legacy_dn)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._fields() == other._fields()  # type: ignore[attr-defined]
        return NotImplemented

    def __repr__(self) -> str:
        return "Recipient(" + ", ".join(
            f"{name}={value!r}" for name, value in zip(_RECIPIENT_FIELDS, self._fields(),
                                                       strict=True)) + ")"

    def identities(self) -> list[str]:
        """Every string ``ccmig check`` matches this object by (unfolded)."""
        primary_smtp, nickname, sam, upn, mail, legacy_dn, smtp = self._unpacked()
        out = [self.dn]
        out += [v for v in (nickname, sam, upn, mail) if v]
        out += smtp
        for v in self.values:
            if v.valid:
                out += [v.name or "", v.address]
        return out


def _stored(values: str | Iterable[CcmailValue]) -> str | tuple[CcmailValue, ...]:
    """Values as the record keeps them: storage's string, or a tuple."""
    return values if values.__class__ is str else tuple(values)  # type: ignore[return-value]


def _init_recipient(r: Recipient, d: str | tuple[Any, ...], kind: Kind, item_count: int | None,
                    exchange_values: list[str] | None, subtype: str | None) -> None:
    """Fill the slots of a new recipient, through the slots' own setters
    (every reader makes 100,000 of these: ~40% faster than
    ``object.__setattr__``, which looks each name up again)."""
    _set_d(r, d)
    _set_kind(r, kind)
    _set_item_count(r, item_count)
    _set_exchange_values(r, exchange_values)
    _set_subtype(r, subtype)


_set_d, _set_kind, _set_item_count, _set_exchange_values, _set_subtype = (
    Recipient.__dict__[name].__set__
    for name in ("_d", "kind", "item_count", "exchange_values", "subtype"))


_ENTRY_FIELDS = ("name", "locn", "file_po", "addr", "comments", "messages", "extra", "where",
                 "path")


class DirEntry(_Frozen):
    """One record of a cc:Mail post office directory: an immutable value with
    a dataclass's interface (fields, equality, repr, :meth:`replace`).

    ``po`` is where the entry sends mail (spec: *user entry*): the file's PO
    for ``L``/``l`` and for ``R``/``r`` without ``Addr``, else the first word
    of ``Addr`` taken at face value.

    An entry read from a file (:meth:`read`) is its name plus ONE integer and
    the :class:`~toolkit.storage.DirFile` it shares with its file's other
    entries (:mod:`toolkit.storage`: ~100 bytes less an entry than ten
    fields); any other entry keeps its fields in a tuple.
    """

    __slots__ = ("_rec", "_src", "name")
    __match_args__ = _ENTRY_FIELDS
    __hash__ = None  # type: ignore[assignment]

    name: str
    _rec: int | tuple[Any, ...]
    _src: DirFile | None

    def __init__(self, name: str, locn: str, file_po: str, addr: str = "", comments: str = "",
                 messages: int | None = None, extra: dict[str, str] | None = None,
                 where: str | None = None, path: str | None = None) -> None:
        put = object.__setattr__
        put(self, "name", name)
        # locn, file_po, addr, comments, messages, extra, where, path
        put(self, "_rec", (locn, file_po, addr, comments, messages,
                           extra if extra else NO_EXTRA, where, path))
        put(self, "_src", None)

    @classmethod
    def read(cls, name: str, locn: str, addr: str, comments: str, messages: int | None,
             extra: dict[str, str] | None, src: DirFile, line: int) -> DirEntry:
        """An entry read from line ``line`` of ``src`` (``where`` is ``file:line``)."""
        code = None if extra is not None else storage.pack_entry(
            src, locn, line, addr, comments, messages)
        if code is None:
            return cls(name, locn, src.file_po, addr, comments, messages, extra,
                       f"{src.file}:{line}", src.path)
        entry = cls.__new__(cls)
        _set_name(entry, name)
        _set_rec(entry, code)
        _set_src(entry, src)
        return entry

    def replace(self, **changes: Any) -> DirEntry:
        """A copy with ``changes`` (field names as in the constructor)."""
        fields = dict(zip(_ENTRY_FIELDS, self._fields(), strict=True))
        unknown = changes.keys() - fields.keys()
        if unknown:
            raise TypeError(f"DirEntry has no field(s) {', '.join(sorted(unknown))}")
        fields.update(changes)
        return DirEntry(**fields)

    @property
    def locn(self) -> str:
        rec = self._rec
        if rec.__class__ is int:
            return storage.entry_locn(rec)  # type: ignore[arg-type]
        return rec[0]  # type: ignore[index,no-any-return]

    @property
    def file_po(self) -> str:
        src = self._src
        if src is not None:
            return src.file_po
        return self._rec[1]  # type: ignore[index,no-any-return]

    @property
    def addr(self) -> str:
        src = self._src
        if src is not None:
            return src.strings[storage.entry_addr(self._rec)]  # type: ignore[arg-type]
        return self._rec[2]  # type: ignore[index,no-any-return]

    @property
    def comments(self) -> str:
        src = self._src
        if src is not None:
            return src.strings[storage.entry_comments(self._rec)]  # type: ignore[arg-type]
        return self._rec[3]  # type: ignore[index,no-any-return]

    @property
    def messages(self) -> int | None:
        rec = self._rec
        if rec.__class__ is int:
            return storage.entry_messages(rec)  # type: ignore[arg-type]
        return rec[4]  # type: ignore[index,no-any-return]

    @property
    def extra(self) -> dict[str, str]:
        rec = self._rec
        if rec.__class__ is int:
            return NO_EXTRA
        return rec[5]  # type: ignore[index,no-any-return]

    @property
    def where(self) -> str | None:
        """``file:line`` of the record (None for in-memory layers)."""
        src = self._src
        if src is not None:
            return f"{src.file}:{storage.entry_line(self._rec)}"  # type: ignore[arg-type]
        return self._rec[6]  # type: ignore[index,no-any-return]

    @property
    def path(self) -> str | None:
        """The export file holding it (None for in-memory layers)."""
        src = self._src
        if src is not None:
            return src.path
        return self._rec[7]  # type: ignore[index,no-any-return]

    def _fields(self) -> tuple[object, ...]:
        return (self.name, self.locn, self.file_po, self.addr, self.comments, self.messages,
                self.extra, self.where, self.path)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._fields() == other._fields()  # type: ignore[attr-defined]
        return NotImplemented

    def __repr__(self) -> str:
        return (f"DirEntry(name={self.name!r}, locn={self.locn!r}, file_po={self.file_po!r}, "
                f"addr={self.addr!r}, comments={self.comments!r}, messages={self.messages!r}, "
                f"extra={self.extra!r}, where={self.where!r}, path={self.path!r})")

    @property
    def is_user(self) -> bool:
        return self.locn in "LlRr"

    @property
    def is_local(self) -> bool:
        return self.locn in "Ll"

    @property
    def po(self) -> str:
        src = self._src
        if src is not None:  # read from a file: the first word of each Addr is kept
            return storage.entry_po(self._rec, src)  # type: ignore[arg-type]
        if self.locn in "Ll":
            return self.file_po
        first = self.addr.split(None, 1)
        return first[0] if first else self.file_po


# DirEntry.read makes one entry per record (~145,000 at 100,000 people): its
# slots are set through their descriptors, which skips object.__setattr__'s
# attribute lookup (a quarter of making an entry, measured).
_set_name = DirEntry.__dict__["name"].__set__
_set_rec = DirEntry.__dict__["_rec"].__set__
_set_src = DirEntry.__dict__["_src"].__set__


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


def slot_setters(cls: type, names: Sequence[str]) -> tuple[Any, ...]:
    """The slot descriptors' setters of ``names`` in frozen slotted dataclass
    ``cls``: what the fast constructors below (and
    :mod:`toolkit.rules.facts`') fill a new instance with. Why: a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__``
    looked up by name, ~3 us for a 9-field Row; the audit makes ~112,000 rows,
    ~90,000 facts and ~50,000 findings at 100,000 people, and calling the
    descriptors directly takes about a third of that (measured)."""
    return tuple(cls.__dict__[name].__set__ for name in names)


_new = object.__new__
_F_CODE, _F_SEVERITY, _F_MESSAGE, _F_ACTION = slot_setters(
    Finding, ("code", "severity", "message", "action"))


def new_finding(code: str, severity: str, message: str, action: str) -> Finding:
    """``Finding(code, severity, message, action)``, faster (see :func:`slot_setters`)."""
    f = _new(Finding)
    _F_CODE(f, code)
    _F_SEVERITY(f, severity)
    _F_MESSAGE(f, message)
    _F_ACTION(f, action)
    return f  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Row:
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


(_R_KEY, _R_DN, _R_KIND, _R_NAME, _R_OLD_PO, _R_ROUTE, _R_FINDINGS, _R_RECIPIENT,
 _R_ENTRIES) = slot_setters(Row, ("key", "dn", "kind", "ccmail_name", "old_post_office", "route",
                                  "findings", "recipient", "entries"))


def new_row(key: str, dn: str | None, kind: Kind, ccmail_name: str | None,
            old_post_office: str | None, route: str | None, findings: Sequence[Finding],
            recipient: Recipient | None, entries: tuple[DirEntry, ...]) -> Row:
    """``Row(...)`` with every field given, faster (see :func:`slot_setters`)."""
    row = _new(Row)
    _R_KEY(row, key)
    _R_DN(row, dn)
    _R_KIND(row, kind)
    _R_NAME(row, ccmail_name)
    _R_OLD_PO(row, old_post_office)
    _R_ROUTE(row, route)
    _R_FINDINGS(row, findings)
    _R_RECIPIENT(row, recipient)
    _R_ENTRIES(row, entries)
    return row  # type: ignore[no-any-return]
