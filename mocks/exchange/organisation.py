"""The mock's organisation: recipients read from an AD-dialect LDIF, in memory.

Objects keep their LDIF attributes (lower-case names, values in file order)
so what Exchange "returns" is exactly what the file says, and DNs are kept
byte for byte so rows built from PowerShell match rows built from the LDIF.
Identity resolution follows Exchange's ``-Identity`` rules (DN, GUID,
LegacyExchangeDN, e-mail or proxy address, alias, account names, name,
canonical name), level by level, so ambiguity is reported, never guessed.
"""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.mocks.dn import rdns
from toolkit.mocks.exchange.policies import Policy, default_policy, load_policies, merge

from toolkit.errors import InputError
from toolkit.exchange.ldif import read_ldif
from toolkit.model import AttrValue, RawEntry
from toolkit.text import fold

MAILBOX = "UserMailbox"
MAIL_USER = "MailUser"
MAIL_CONTACT = "MailContact"
GROUP_TYPES = (
    "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup",
    "MailNonUniversalGroup",
    "DynamicDistributionGroup",
)
_MAILISH = ("proxyaddresses", "targetaddress", "mail", "mailnickname")
PUBLIC_FOLDER = "PublicFolder"
# msExchRecipientTypeDetails values (Exchange's RecipientTypeDetails flags) the
# mock knows, with the RecipientType each belongs to. An LDIF that carries the
# attribute decides the details (shared, room, remote mailboxes...); without it
# they follow from the object classes, as :func:`classify` says.
TYPE_DETAILS: dict[int, tuple[str, str]] = {
    0x1: ("UserMailbox", MAILBOX), 0x2: ("LinkedMailbox", MAILBOX),
    0x4: ("SharedMailbox", MAILBOX), 0x8: ("LegacyMailbox", MAILBOX),
    0x10: ("RoomMailbox", MAILBOX), 0x20: ("EquipmentMailbox", MAILBOX),
    0x40: ("MailContact", MAIL_CONTACT), 0x80: ("MailUser", MAIL_USER),
    0x100: ("MailUniversalDistributionGroup", "MailUniversalDistributionGroup"),
    0x200: ("MailNonUniversalGroup", "MailNonUniversalGroup"),
    0x400: ("MailUniversalSecurityGroup", "MailUniversalSecurityGroup"),
    0x800: ("DynamicDistributionGroup", "DynamicDistributionGroup"),
    0x1000: ("PublicFolder", PUBLIC_FOLDER),
    0x4000000: ("RoomList", "MailUniversalDistributionGroup"),
    0x80000000: ("RemoteUserMailbox", MAIL_USER),
    0x200000000: ("RemoteRoomMailbox", MAIL_USER),
    0x400000000: ("RemoteEquipmentMailbox", MAIL_USER),
    0x800000000: ("RemoteSharedMailbox", MAIL_USER),
}
# msExchPoliciesExcluded holds this GUID when the object does not follow
# email address policies (EmailAddressPolicyEnabled $false).
POLICIES_EXCLUDED = "{26491cfc-9e50-4857-861b-0cb8df22b5d7}"


@dataclass(eq=False)
class Entry:
    """One mail-enabled object; ``attrs`` is the live LDIF attribute map."""

    dn: str
    attrs: dict[str, list[AttrValue]]
    guid: uuid.UUID
    recipient_type: str
    type_details: str
    item_count: int | None = None
    created: int = field(default=0)

    def texts(self, name: str) -> list[str]:
        return [v for v in self.attrs.get(name, []) if isinstance(v, str)]

    def text(self, name: str) -> str | None:
        return next((v for v in self.texts(name) if v.strip()), None)

    @property
    def proxies(self) -> list[str]:
        """Live list of proxyAddresses (mutating it changes the object)."""
        values = self.attrs.setdefault("proxyaddresses", [])
        return values  # type: ignore[return-value]

    @property
    def name(self) -> str:
        parts = rdns(self.dn)
        return parts[0][1] if parts else self.dn

    @property
    def alias(self) -> str | None:
        return self.text("mailnickname")

    @property
    def target(self) -> str | None:
        return self.text("targetaddress")

    @property
    def primary_smtp(self) -> str | None:
        """The last upper-case ``SMTP:`` proxy (Exchange's rule), else ``mail``."""
        primary = None
        for value in self.texts("proxyaddresses"):
            if value.startswith("SMTP:"):
                primary = value[5:]
        return primary or self.text("mail")

    @property
    def policy_enabled(self) -> bool:
        """EmailAddressPolicyEnabled: msExchPoliciesExcluded does not hold the GUID."""
        return not any(v.strip().lower() == POLICIES_EXCLUDED
                       for v in self.texts("msexchpoliciesexcluded"))

    def smtp_addresses(self) -> list[str]:
        return [v[5:] for v in self.texts("proxyaddresses") if v[:5].upper() == "SMTP:"]


def classify(entry: RawEntry) -> tuple[str, str] | None:
    """(RecipientType, RecipientTypeDetails) of an LDIF object, or None."""
    classes = {fold(c) for c in entry.texts("objectclass")}
    mailish = any(entry.first(a) for a in _MAILISH)
    if "computer" in classes:
        return None
    if "publicfolder" in classes:
        return (PUBLIC_FOLDER, PUBLIC_FOLDER) if mailish else None
    if "contact" in classes:
        return (MAIL_CONTACT, MAIL_CONTACT) if mailish else None
    if "msexchdynamicdistributionlist" in classes:
        return "DynamicDistributionGroup", "DynamicDistributionGroup"
    if "group" in classes:
        if not mailish:
            return None
        try:
            group_type = int(entry.first("grouptype") or "8")
        except ValueError:
            group_type = 8
        universal = bool(group_type & 0x8)
        if not universal:
            return "MailNonUniversalGroup", "MailNonUniversalGroup"
        if group_type & 0x80000000:
            return "MailUniversalSecurityGroup", "MailUniversalSecurityGroup"
        return "MailUniversalDistributionGroup", "MailUniversalDistributionGroup"
    if "user" in classes or "inetorgperson" in classes:
        if entry.first("homemdb"):
            return MAILBOX, MAILBOX
        if entry.first("msexchhomeservername"):
            return MAILBOX, "LegacyMailbox"
        if entry.first("targetaddress"):
            return MAIL_USER, MAIL_USER
    return None


def with_details(entry: RawEntry, kinds: tuple[str, str]) -> tuple[str, str]:
    """``kinds`` refined by the entry's msExchRecipientTypeDetails, when it names one."""
    try:
        value = int((entry.first("msexchrecipienttypedetails") or "").strip())
    except ValueError:
        return kinds
    known = TYPE_DETAILS.get(value)
    return (known[1], known[0]) if known else kinds


def _guid(entry: RawEntry) -> uuid.UUID:
    for value in entry.get("objectguid"):
        if isinstance(value, bytes) and len(value) == 16:
            return uuid.UUID(bytes_le=value)
        if isinstance(value, str):
            try:
                return uuid.UUID(value.strip("{} "))
            except ValueError:
                pass
    return uuid.uuid5(uuid.NAMESPACE_URL, "ldap:" + fold(entry.dn))


class Organisation:
    """All recipients of the mock, with Exchange's identity resolution.

    Thread-safe only under :attr:`lock`: the endpoint holds it for every
    request, so cmdlets see and change a consistent organisation.
    """

    def __init__(self, entries: Iterable[RawEntry] = (), *, server: str = "EX01") -> None:
        self.lock = threading.RLock()
        self.entries: list[Entry] = []
        self.server = server
        self.domain = "corp.example"
        self._index: dict[str, dict[str, list[Entry]]] | None = None
        self._serial = 0
        for raw in entries:
            kinds = classify(raw)
            if kinds is None:
                continue
            kinds = with_details(raw, kinds)
            attrs = {k: list(v) for k, v in raw.attrs.items()}
            self._add(Entry(raw.dn, attrs, _guid(raw), kinds[0], kinds[1]))
        for e in self.entries:
            dcs = [v for k, v in rdns(e.dn) if k.lower() == "dc"]
            if dcs:
                self.domain = ".".join(dcs)
                break
        self.domain_controller = f"DC01.{self.domain}"
        self.policies: list[Policy] = [default_policy(self.domain)]
        # An injected destructive-cmdlet throttling error for the next pipeline (server.py)
        self.throttle_next: Any = None

    @classmethod
    def from_files(cls, ldif: str | Path, stats: str | Path | None = None,
                   policies: str | Path | None = None) -> Organisation:
        org = cls(read_ldif(ldif))
        if stats is not None:
            org.load_stats(stats)
        if policies is not None:
            org.add_policies(load_policies(policies))
        return org

    def add_policies(self, policies: list[Policy]) -> None:
        """Add email address policies (one named like an existing one replaces it)."""
        self.policies = merge(self.policies, policies)

    # -- changes -------------------------------------------------------------

    def _add(self, entry: Entry) -> Entry:
        self._serial += 1
        entry.created = self._serial
        self.entries.append(entry)
        self._index = None
        return entry

    def add(self, entry: Entry) -> Entry:
        return self._add(entry)

    def remove(self, entry: Entry) -> None:
        self.entries.remove(entry)
        self._index = None

    def changed(self) -> None:
        """Call after editing an entry's attributes: identities may have moved."""
        self._index = None

    # -- names -----------------------------------------------------------------

    @property
    def netbios(self) -> str:
        return self.domain.split(".")[0].upper()

    def canonical_name(self, dn: str) -> str:
        parts = rdns(dn)
        path = [v for k, v in reversed(parts) if k.lower() != "dc"]
        return "/".join([self.domain, *path])

    def users_container(self) -> str:
        dcs = ",".join(f"DC={p}" for p in self.domain.split("."))
        return f"CN=Users,{dcs}"

    # -- identity resolution -------------------------------------------------

    def _build_index(self) -> dict[str, dict[str, list[Entry]]]:
        index: dict[str, dict[str, list[Entry]]] = {k: {} for k in _LEVELS}

        def put(level: str, key: str | None, e: Entry) -> None:
            if key:
                bucket = index[level].setdefault(fold(key), [])
                if e not in bucket:
                    bucket.append(e)

        for e in self.entries:
            put("dn", e.dn, e)
            put("guid", str(e.guid), e)
            put("legacydn", e.text("legacyexchangedn"), e)
            for proxy in e.texts("proxyaddresses"):
                put("proxy", proxy, e)
            for address in [*e.smtp_addresses(), e.text("mail")]:
                put("email", address, e)
            put("alias", e.alias, e)
            sam = e.text("samaccountname")
            put("account", sam, e)
            put("account", f"{self.netbios}\\{sam}" if sam else None, e)
            put("account", e.text("userprincipalname"), e)
            put("name", e.name, e)
            put("canonical", self.canonical_name(e.dn), e)
        return index

    def resolve(self, identity: str, types: Collection[str] | None = None,
                details: Collection[str] | None = None) -> list[Entry]:
        """Objects ``identity`` names, at the first level that names any.

        More than one result means Exchange would say the identity "matches
        multiple entries"; none means "couldn't be found".
        """
        if self._index is None:
            self._index = self._build_index()
        key = fold(identity)
        if not key:
            return []
        for level in _LEVELS:
            probe = key.strip("{}") if level == "guid" else key
            if level == "email" and ":" in key:
                continue
            hits = self._index[level].get(probe, [])
            if types is not None:
                hits = [e for e in hits if e.recipient_type in types]
            if details is not None:
                hits = [e for e in hits if e.type_details in details]
            if hits:
                return list(hits)
        return []

    def proxy_owner(self, proxy: str, *, besides: Entry | None = None) -> Entry | None:
        """Another object already carrying this address (type and address folded)."""
        if self._index is None:
            self._index = self._build_index()
        for e in self._index["proxy"].get(fold(proxy), []):
            if e is not besides:
                return e
        return None

    def iter(self, types: Collection[str] | None = None) -> Iterator[Entry]:
        for e in list(self.entries):
            if types is None or e.recipient_type in types:
                yield e

    # -- mailbox statistics --------------------------------------------------

    def load_stats(self, path: str | Path) -> int:
        """Read ``identity,item_count``; match as spec.md's ``--mailbox-stats``."""
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read mailbox stats: {exc}", str(path)) from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "identity" not in fields or "item_count" not in fields:
            raise InputError("header must be 'identity,item_count'", f"{path}:1")
        mailboxes = [e for e in self.entries if e.recipient_type == MAILBOX]
        getters: list[Callable[[Entry], str | None]] = [
            lambda e: e.dn,
            lambda e: e.primary_smtp,
            lambda e: e.alias,
            lambda e: e.text("samaccountname"),
        ]
        levels: list[dict[str, list[Entry]]] = []  # one index per level: linear, not N x M
        for get in getters:
            index: dict[str, list[Entry]] = {}
            for e in mailboxes:
                if (v := get(e)):
                    index.setdefault(fold(v), []).append(e)
            levels.append(index)
        seen: dict[int, int] = {}
        matched = 0
        for row in reader:
            line = reader.line_num
            norm = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            identity, count = norm.get("identity", ""), norm.get("item_count", "")
            if not count.isdigit():
                raise InputError(f"item_count must be a non-negative integer: {count!r}",
                                 f"{path}:{line}")
            key = fold(identity)
            hits: list[Entry] = []
            for index in levels:
                hits = index.get(key, [])
                if hits:
                    break
            if not hits:
                continue
            if len(hits) > 1:
                raise InputError(f"identity {identity!r} matches several mailboxes",
                                 f"{path}:{line}")
            if id(hits[0]) in seen:
                raise InputError(f"second line for {hits[0].dn}", f"{path}:{line}")
            seen[id(hits[0])] = line
            hits[0].item_count = int(count)
            matched += 1
        return matched


_LEVELS = ("dn", "guid", "legacydn", "proxy", "email", "alias", "account", "name", "canonical")
