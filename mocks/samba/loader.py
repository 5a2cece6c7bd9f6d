"""Load an LDIF export (ldifde or ldapsearch style) into a Samba AD DC over LDAP.

Why not just ``ldapadd``: an export holds what AD itself refuses to be
given - values the DC owns (``objectGUID``, ``whenCreated``, ``objectSid``,
``objectCategory`` ...), back links (``memberOf``), attributes the schema
does not know, ``member`` values naming objects further down the file, DN
values (``homeMDB``) naming objects outside the export. A real DC answers
each of those with an error, so this loader changes the export the way an
administrator would, and says what it changed: every value dropped, entry
skipped or object created is listed in :class:`LoadReport`, so a test can
tell "AD refused it" from "ccmig lost it".

Only :mod:`ldap3` and :mod:`toolkit.exchange.ldif` are used: the entries
are added one by one through the running DC, exactly as a client would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ldap3

from toolkit.exchange.ldif import read_ldif
from toolkit.model import AttrValue, RawEntry

# Values the DC sets itself: refused (constraint / unwilling) when given on add.
OWNED_BY_DC = frozenset(
    a.lower()
    for a in (
        "objectGUID", "objectSid", "whenCreated", "whenChanged", "uSNCreated", "uSNChanged",
        "objectCategory", "instanceType", "distinguishedName", "name", "sAMAccountType",
        "primaryGroupID", "memberOf", "dSCorePropagationData", "nTSecurityDescriptor",
        "pwdLastSet", "badPwdCount", "badPasswordTime", "lastLogon", "lastLogoff",
        "lastLogonTimestamp", "logonCount", "accountExpires", "codePage", "countryCode",
        "isCriticalSystemObject", "systemFlags", "showInAdvancedViewOnly", "objectVersion",
        "replPropertyMetaData", "msDS-ReplAttributeMetaData", "structuralObjectClass",
        "entryUUID", "entryCSN", "creatorsName", "createTimestamp", "modifiersName",
        "modifyTimestamp", "subschemaSubentry", "hasSubordinates", "entryDN",
    )
)  # fmt: skip

# DN-valued attributes whose targets may lie outside the export (Exchange's
# configuration): the loader creates plain containers for missing targets.
EXTERNAL_DN_ATTRIBUTES = frozenset({"homemdb", "homemta"})
LINK_ATTRIBUTES = frozenset({"member", "manager", "managedby"})


@dataclass
class LoadReport:
    """What happened to one LDIF file on its way into AD."""

    source: str
    loaded: int = 0
    skipped: list[dict[str, object]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    created: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "loaded": self.loaded,
            "skipped": self.skipped,
            "dropped": dict(sorted(self.dropped.items())),
            "created": self.created,
        }


def schema_attributes(conn: ldap3.Connection, schema_dn: str) -> dict[str, str]:
    """lower-case lDAPDisplayName -> attributeSyntax for every attribute AD knows."""
    out: dict[str, str] = {}
    for item in conn.extend.standard.paged_search(
        schema_dn, "(objectClass=attributeSchema)", attributes=["lDAPDisplayName", "attributeSyntax"],
        paged_size=1000, generator=True,
    ):  # fmt: skip
        attrs = item.get("raw_attributes") or {}
        name = attrs.get("lDAPDisplayName") or attrs.get("ldapdisplayname")
        syntax = attrs.get("attributeSyntax") or attrs.get("attributesyntax")
        if name:
            out[name[0].decode().lower()] = syntax[0].decode() if syntax else ""
    if conn.result.get("result") != 0 or not out:
        raise RuntimeError(f"cannot read the schema: {conn.result.get('message')}")
    return out


def _value(value: AttrValue) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _split(dn: str) -> tuple[str, str | None]:
    """(first RDN, parent DN or None) at the first unescaped comma."""
    escaped = False
    for i, ch in enumerate(dn):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            return dn[:i], dn[i + 1 :]
    return dn, None


def _rdn(dn: str) -> tuple[str, str]:
    name, _, value = _split(dn)[0].partition("=")
    return name.strip().lower(), value


def _parent(dn: str) -> str | None:
    return _split(dn)[1]


class Loader:
    """Adds entries through an admin connection; see the module docstring."""

    def __init__(self, conn: ldap3.Connection, base_dn: str, config_dn: str, schema: dict[str, str]):
        self.conn = conn
        self.base_dn = base_dn
        self.config_dn = config_dn
        self.schema = schema

    def _exists(self, dn: str) -> bool:
        self.conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["1.1"])
        return self.conn.result.get("result") == 0

    def _ensure_container(self, dn: str, report: LoadReport) -> bool:
        """Create ``dn`` (and missing parents) as plain containers; False if impossible."""
        if self._exists(dn):
            return True
        parent = _parent(dn)
        name, value = _rdn(dn)
        if parent is None or name != "cn" or not self._ensure_container(parent, report):
            return False
        self.conn.add(dn, ["top", "container"])
        if self.conn.result.get("result") == 0:
            report.created.append(dn)
            return True
        return False

    def _attributes(self, entry: RawEntry, report: LoadReport) -> dict[str, list[bytes]]:
        attrs: dict[str, list[bytes]] = {}
        rdn_name, _ = _rdn(entry.dn)
        for name, values in entry.attrs.items():
            if name == "changetype" or not values:
                continue
            if name in OWNED_BY_DC or name not in self.schema:
                report.dropped[name] += len(values)
                continue
            if name == rdn_name and name != "objectclass":
                continue  # AD takes the RDN value from the DN
            attrs[name] = [_value(v) for v in values]
        return attrs

    def load(self, entries: Iterable[RawEntry], source: str) -> LoadReport:
        """Add every entry; link values second (their targets may come later)."""
        report = LoadReport(source)
        links: list[tuple[str, str, list[bytes]]] = []
        for entry in entries:
            attrs = self._attributes(entry, report)
            for name in LINK_ATTRIBUTES & attrs.keys():
                links.append((entry.dn, name, attrs.pop(name)))
            for name in EXTERNAL_DN_ATTRIBUTES & attrs.keys():
                for target in attrs[name]:
                    if not self._ensure_container(target.decode("utf-8"), report):
                        report.dropped[name] += 1
                        attrs.pop(name)
                        break
            if entry.dn.lower() == self.base_dn.lower():
                report.skipped.append({"dn": entry.dn, "reason": "the domain itself (exists in AD)"})
                continue
            self.conn.add(entry.dn, None, attrs)
            result = self.conn.result
            if result.get("result") == 0:
                report.loaded += 1
            elif result.get("result") == 68:
                report.skipped.append({"dn": entry.dn, "reason": "already exists"})
            else:
                report.skipped.append({"dn": entry.dn, "reason": _reason(result)})
        for dn, name, values in links:
            self.conn.modify(dn, {name: [(ldap3.MODIFY_ADD, values)]})
            if self.conn.result.get("result") not in (0, 20):  # 20: value already there
                report.skipped.append({"dn": dn, "attribute": name, "reason": _reason(self.conn.result)})
        return report

    def load_file(self, path: str | Path) -> LoadReport:
        return self.load(read_ldif(path), str(path))


def _reason(result: dict[str, object]) -> str:
    message = " ".join(str(result.get("message") or "").split())
    return f"{result.get('description')} ({result.get('result')}): {message}"[:300]
