"""Plain data shared by every reader, the rule engine and the renderers.

Readers (LDIF, LDAP, PowerShell, cc:Mail files, mocks) produce these objects;
:mod:`toolkit.rules` turns them into :class:`Row` objects. Nothing here does
I/O, so runbooks and test suites can build them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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


@dataclass(slots=True)
class CcmailValue:
    """A cc:Mail address value on an Exchange object (proxy or target).

    ``name``/``po`` are trimmed with white space folded, case kept; ``key`` is
    the folded (name, PO) pair used for every comparison. ``error`` is set
    when the value is invalid (spec: ``invalid-address``); invalid values
    take no part in any other rule.
    """

    raw: str
    prefix: str
    source: str  # "proxy" or "target"
    name: str | None = None
    po: str | None = None
    key: tuple[str, str] | None = None
    error: str | None = None

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


@dataclass(slots=True)
class Recipient:
    """An Exchange object classified as mailbox, custom recipient or group."""

    dn: str
    kind: Kind
    values: list[CcmailValue]
    primary_smtp: str | None = None
    smtp: list[str] = field(default_factory=list)
    nickname: str | None = None
    sam: str | None = None
    upn: str | None = None
    mail: str | None = None
    # Set by later stages (stats file or PowerShell):
    item_count: int | None = None
    exchange_values: list[str] | None = None  # cc:Mail values Exchange returned
    subtype: str | None = None  # e.g. "contact", "mail-user", "remote-address"
    legacy_dn: str | None = None

    def identities(self) -> list[str]:
        """Every string ``ccmig check`` matches this object by (unfolded)."""
        out = [self.dn]
        out += [v for v in (self.nickname, self.sam, self.upn, self.mail) if v]
        out += self.smtp
        for v in self.values:
            if v.valid:
                out += [v.name or "", v.address]
        return out


@dataclass(slots=True)
class DirEntry:
    """One record of a cc:Mail post office directory.

    ``po`` is where the entry sends mail (spec: *user entry*): the file's PO
    for ``L``/``l`` and for ``R``/``r`` without ``Addr``, else the first word
    of ``Addr`` taken at face value.
    """

    name: str
    locn: str
    file_po: str
    addr: str = ""
    comments: str = ""
    messages: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    where: str | None = None  # "file:line" of the record
    path: str | None = None  # the export file holding it (None for in-memory layers)

    @property
    def is_user(self) -> bool:
        return self.locn in "LlRr"

    @property
    def is_local(self) -> bool:
        return self.locn in "Ll"

    @property
    def po(self) -> str:
        if self.locn in "Ll" or not self.addr.split():
            return self.file_po
        return self.addr.split()[0]


SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


@dataclass(slots=True)
class Finding:
    code: str
    severity: str
    message: str
    action: str

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "action": self.action,
        }


@dataclass(slots=True)
class Row:
    """One output row of ``ccmig audit`` (spec: Output)."""

    key: str
    dn: str | None
    kind: Kind
    ccmail_name: str | None
    old_post_office: str | None
    route: str | None
    findings: list[Finding]
    identities: list[str] = field(default_factory=list, repr=False)
    recipient: Recipient | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        return self.findings[0].code if self.findings else "complete"

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
