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

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from toolkit import storage
from toolkit.ccmail.address import CcmailValue
from toolkit.storage import NO_EXTRA, DirFile, join_record, pack_ids

__all__ = ["NO_EXTRA", "AttrValue", "CcmailValue", "Dialect", "DirEntry", "DirFile", "Finding",
           "Kind", "RawEntry", "Recipient", "Row"]

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


class Recipient:
    """An Exchange object classified as mailbox, custom recipient or group.

    A plain-data class with a dataclass's interface (fields, equality,
    repr). The identity fields (``primary_smtp``, ``smtp``, ``nickname``,
    ``sam``, ``upn``, ``mail``, ``legacy_dn``) are read rarely - by
    ``--mailbox-stats`` and ``ccmig check`` - so they are kept packed in one
    string and unpacked when read: at 100,000 objects that saves ~25 MB of
    string and list headers. ``smtp`` is therefore a new list on each read;
    assign a list to change it.

    Recipients made by the directory readers (:meth:`read`) keep their
    cc:Mail values *packed* too: the raw texts in one string, parsed again
    each time ``values`` is read (a new list each time). Parsed, a value
    costs ~300 bytes in objects (value, name, folded name, key); packed, the
    length of its text - at 100,000 recipients ~40 MB. The rules read each
    recipient's values a few times in one audit. Recipients made with
    ``Recipient(...)`` keep the list they are given.

    ``dn``, the packed identity fields and the packed values are kept as ONE
    string (ENQ between them; a tuple when one holds ENQ): two string
    headers and two fields fewer an object, ~11 MB at 100,000 objects.
    """

    __slots__ = ("_d", "exchange_values", "item_count", "kind", "subtype")
    __match_args__ = ("dn", "kind", "values", "primary_smtp", "smtp", "nickname", "sam", "upn",
                      "mail", "item_count", "exchange_values", "subtype", "legacy_dn")
    __hash__ = None  # type: ignore[assignment]

    kind: Kind
    # Set by later stages (stats file or PowerShell):
    item_count: int | None
    exchange_values: list[str] | None  # cc:Mail values Exchange returned
    subtype: str | None  # e.g. "contact", "mail-user", "remote-address"

    def __init__(self, dn: str, kind: Kind, values: list[CcmailValue],
                 primary_smtp: str | None = None, smtp: list[str] | None = None,
                 nickname: str | None = None, sam: str | None = None, upn: str | None = None,
                 mail: str | None = None, item_count: int | None = None,
                 exchange_values: list[str] | None = None, subtype: str | None = None,
                 legacy_dn: str | None = None) -> None:
        self._d = join_record(dn, pack_ids(primary_smtp, nickname, sam, upn, mail, legacy_dn,
                                           [] if smtp is None else smtp), values)
        self.kind = kind
        self.item_count = item_count
        self.exchange_values = exchange_values
        self.subtype = subtype

    @classmethod
    def read(cls, dn: str, kind: Kind, packed: str | list[CcmailValue],
             primary_smtp: str | None, smtp: list[str], nickname: str | None, sam: str | None,
             upn: str | None, mail: str | None, subtype: str | None,
             legacy_dn: str | None) -> Recipient:
        """A recipient as a reader makes it: ``packed`` is
        :func:`toolkit.storage.pack_values`'s string (or a list)."""
        r = cls.__new__(cls)
        r._d = join_record(dn, pack_ids(primary_smtp, nickname, sam, upn, mail, legacy_dn, smtp),
                           packed)
        r.kind = kind
        r.item_count = r.exchange_values = None
        r.subtype = subtype
        return r

    # ------------------------------------------------------------ the one string

    @property
    def dn(self) -> str:
        return storage.record_dn(self._d)

    @dn.setter
    def dn(self, value: str) -> None:
        self._d = join_record(value, self._ids, self._vals)

    @property
    def _ids(self) -> str | tuple[Any, ...]:
        return storage.record_ids(self._d)

    @_ids.setter
    def _ids(self, value: str | tuple[Any, ...]) -> None:
        self._d = join_record(self.dn, value, self._vals)

    @property
    def _vals(self) -> str | list[CcmailValue]:
        return storage.record_vals(self._d)

    @_vals.setter
    def _vals(self, value: str | list[CcmailValue]) -> None:
        self._d = join_record(self.dn, self._ids, value)

    @property
    def values(self) -> list[CcmailValue]:
        vals = self._vals
        if vals.__class__ is str:
            return storage.unpack_values(vals)  # type: ignore[arg-type]
        return vals  # type: ignore[return-value]

    @values.setter
    def values(self, value: list[CcmailValue]) -> None:
        self._vals = value

    @property
    def has_values(self) -> bool:
        """``bool(values)``, without decoding them."""
        return storage.record_has_values(self._d)

    # ------------------------------------------------------------ identity fields

    def _unpacked(self) -> tuple[Any, ...]:
        """(primary_smtp, nickname, sam, upn, mail, legacy_dn, smtp list)."""
        return storage.unpack_ids(self._ids)

    def _set(self, n: int, value: Any) -> None:
        fields = list(self._unpacked())
        fields[n] = value
        self._ids = pack_ids(*fields)

    @property
    def primary_smtp(self) -> str | None:
        return self._unpacked()[0]  # type: ignore[no-any-return]

    @primary_smtp.setter
    def primary_smtp(self, value: str | None) -> None:
        self._set(0, value)

    @property
    def nickname(self) -> str | None:
        return self._unpacked()[1]  # type: ignore[no-any-return]

    @nickname.setter
    def nickname(self, value: str | None) -> None:
        self._set(1, value)

    @property
    def sam(self) -> str | None:
        return self._unpacked()[2]  # type: ignore[no-any-return]

    @sam.setter
    def sam(self, value: str | None) -> None:
        self._set(2, value)

    @property
    def upn(self) -> str | None:
        return self._unpacked()[3]  # type: ignore[no-any-return]

    @upn.setter
    def upn(self, value: str | None) -> None:
        self._set(3, value)

    @property
    def mail(self) -> str | None:
        return self._unpacked()[4]  # type: ignore[no-any-return]

    @mail.setter
    def mail(self, value: str | None) -> None:
        self._set(4, value)

    @property
    def legacy_dn(self) -> str | None:
        return self._unpacked()[5]  # type: ignore[no-any-return]

    @legacy_dn.setter
    def legacy_dn(self, value: str | None) -> None:
        self._set(5, value)

    @property
    def smtp(self) -> list[str]:
        return self._unpacked()[6]  # type: ignore[no-any-return]

    @smtp.setter
    def smtp(self, value: list[str]) -> None:
        self._set(6, value)

    def stats_identities(self) -> tuple[str, str | None, str | None, str | None]:
        """(dn, primary_smtp, nickname, sam): what ``--mailbox-stats`` matches, in order."""
        ids = self._unpacked()
        return self.dn, ids[0], ids[1], ids[2]

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
        names = self.__match_args__
        return "Recipient(" + ", ".join(
            f"{name}={value!r}" for name, value in zip(names, self._fields(), strict=True)) + ")"

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


class DirEntry:
    """One record of a cc:Mail post office directory.

    ``po`` is where the entry sends mail (spec: *user entry*): the file's PO
    for ``L``/``l`` and for ``R``/``r`` without ``Addr``, else the first word
    of ``Addr`` taken at face value.

    A plain-data class with the interface of a dataclass (fields, equality,
    repr), written out so that 150,000 entries stay small. An entry read
    from a file (:meth:`read`) is its name plus ONE integer - location code,
    line number, ``Addr`` and ``Comments`` (positions in its file's
    :class:`DirFile` strings) and ``Messages`` packed in bits - and a
    reference to the :class:`DirFile` it shares with its file's other
    entries: ~100 bytes less an entry than ten fields. Any other entry, or
    one a setter changes, keeps its fields in a list.
    """

    __slots__ = ("_rec", "_src", "name")
    __match_args__ = ("name", "locn", "file_po", "addr", "comments", "messages", "extra",
                      "where", "path")
    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    name: str

    def __init__(self, name: str, locn: str, file_po: str, addr: str = "", comments: str = "",
                 messages: int | None = None, extra: dict[str, str] | None = None,
                 where: str | None = None, path: str | None = None) -> None:
        self.name = name
        # locn, file_po, addr, comments, messages, extra, where, path
        self._rec: int | list[Any] = [locn, file_po, addr, comments, messages,
                                      {} if extra is None else extra, where, path]
        self._src: DirFile | None = None

    @classmethod
    def read(cls, name: str, locn: str, addr: str, comments: str, messages: int | None,
             extra: dict[str, str] | None, src: DirFile, line: int) -> DirEntry:
        """An entry read from line ``line`` of ``src`` (``where`` is ``file:line``)."""
        entry = cls.__new__(cls)
        entry.name = name
        code = None if extra is not None else storage.pack_entry(
            locn, line, src.string(addr), src.string(comments), messages)
        if code is None:
            entry._rec = [locn, src.file_po, addr, comments, messages,
                          NO_EXTRA if extra is None else extra, f"{src.file}:{line}", src.path]
            entry._src = None
            return entry
        entry._rec = code
        entry._src = src
        return entry

    def _fields_list(self) -> list[Any]:
        """The fields as a list, which the entry keeps from now on (for setters)."""
        rec = self._rec
        if rec.__class__ is int:
            rec = self._rec = [self.locn, self.file_po, self.addr, self.comments, self.messages,
                               NO_EXTRA, self.where, self.path]
            self._src = None
        return rec  # type: ignore[return-value]

    @property
    def locn(self) -> str:
        rec = self._rec
        if rec.__class__ is int:
            return storage.entry_locn(rec)  # type: ignore[arg-type]
        return rec[0]  # type: ignore[index,no-any-return]

    @locn.setter
    def locn(self, value: str) -> None:
        self._fields_list()[0] = value

    @property
    def file_po(self) -> str:
        src = self._src
        if src is not None:
            return src.file_po
        return self._rec[1]  # type: ignore[index,no-any-return]

    @file_po.setter
    def file_po(self, value: str) -> None:
        self._fields_list()[1] = value

    @property
    def addr(self) -> str:
        src = self._src
        if src is not None:
            return src.strings[storage.entry_addr(self._rec)]  # type: ignore[arg-type]
        return self._rec[2]  # type: ignore[index,no-any-return]

    @addr.setter
    def addr(self, value: str) -> None:
        self._fields_list()[2] = value

    @property
    def comments(self) -> str:
        src = self._src
        if src is not None:
            return src.strings[storage.entry_comments(self._rec)]  # type: ignore[arg-type]
        return self._rec[3]  # type: ignore[index,no-any-return]

    @comments.setter
    def comments(self, value: str) -> None:
        self._fields_list()[3] = value

    @property
    def messages(self) -> int | None:
        rec = self._rec
        if rec.__class__ is int:
            return storage.entry_messages(rec)  # type: ignore[arg-type]
        return rec[4]  # type: ignore[index,no-any-return]

    @messages.setter
    def messages(self, value: int | None) -> None:
        self._fields_list()[4] = value

    @property
    def extra(self) -> dict[str, str]:
        rec = self._rec
        if rec.__class__ is int:
            return NO_EXTRA
        return rec[5]  # type: ignore[index,no-any-return]

    @extra.setter
    def extra(self, value: dict[str, str]) -> None:
        self._fields_list()[5] = value

    @property
    def where(self) -> str | None:
        """``file:line`` of the record (None for in-memory layers)."""
        src = self._src
        if src is not None:
            return f"{src.file}:{storage.entry_line(self._rec)}"  # type: ignore[arg-type]
        return self._rec[6]  # type: ignore[index,no-any-return]

    @where.setter
    def where(self, value: str | None) -> None:
        self._fields_list()[6] = value

    @property
    def path(self) -> str | None:
        """The export file holding it (None for in-memory layers)."""
        src = self._src
        if src is not None:
            return src.path
        return self._rec[7]  # type: ignore[index,no-any-return]

    @path.setter
    def path(self, value: str | None) -> None:
        self._fields_list()[7] = value

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
