"""The Exchange side of a generated organisation: containers, mailboxes, custom
recipients and groups, written to the LDIF as AD or Exchange 5.5 exported them.

Why every object goes through :meth:`ExchangeSide.emit`: the LDIF entry and its
line in ``expected-codes.json`` (the scenario it was made for and the finding
code it should show) must never part, and the summary's counts are made from
the same calls. The mailbox statistics CSV is written here too, since each line
names a mailbox as it is created. Objects that are not people come from
:mod:`toolkit.mocks.orggen.background`; which objects a person gets, from
:mod:`toolkit.mocks.orggen.builders`.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Sequence
from typing import IO

from toolkit.mocks.orggen.identities import Draws, Identities
from toolkit.mocks.orggen.names import CcValue, ascii_fold, at
from toolkit.mocks.orggen.records import Person, Summary
from toolkit.mocks.orggen.scenarios import SCENARIO_BY_NAME
from toolkit.mocks.orggen.writers import ExpectedWriter, LdifWriter

from toolkit.text import fold


class ExchangeSide(Draws):
    """Writes the Exchange objects and records what each was made for."""

    def __init__(self, ids: Identities, summary: Summary, ldif: LdifWriter,
                 expected: ExpectedWriter, stats: IO[str]) -> None:
        super().__init__(ids.rng)
        self.ids = ids
        self.s = ids.s
        self.ad = ids.ad
        self.base = ids.base
        self.summary = summary
        self.ldif = ldif
        self.expected = expected
        self.stats = csv.writer(stats, lineterminator="\n")
        self.stats.writerow(["identity", "item_count"])
        self._recent_mailboxes: list[str] = []  # a group's members: the last few mailboxes

    # ---- containers ------------------------------------------------------

    def structure(self) -> None:
        """Domain root, OUs and containers, written before any object."""
        s = self.s
        self.ldif.comment("Containers")
        if self.ad:
            self._not_recipient(self.base, [("changetype", "add"), ("objectClass", "top"),
                                            ("objectClass", "domain"),
                                            ("objectClass", "domainDNS"),
                                            ("dc", s.domain.split(".")[0])])
            for name in ("Users", "Computers", "Microsoft Exchange System Objects"):
                self._not_recipient(self.ids.container_dn(name), self._container_attrs(name))
            for name in ("Sites", "cc:Mail Recipients", "External", "Groups", "Service Accounts"):
                self._not_recipient(self.ids.ou(name), self._ou_attrs(name))
            for po in [*s.ccmail_pos, *s.exchange_pos]:
                self._not_recipient(self.ids.ou(po, self.ids.ou("Sites")), self._ou_attrs(po))
                self._not_recipient(self.ids.staff_ou(po), self._ou_attrs("Staff"))
        else:
            self._not_recipient(self.base, [("objectClass", "organization"),
                                            ("objectClass", "Top"), ("o", s.org)])
            for site in s.exchange_pos:
                self._not_recipient(self.ids.ou(site), [("objectClass", "organizationalUnit"),
                                                         ("objectClass", "Top"), ("ou", site)])
                for name in ("Recipients", "ccMail Recipients", "Public Folders"):
                    self._not_recipient(self.ids.container_dn(name, self.ids.ou(site)),
                                        [("objectClass", "container"), ("objectClass", "Top"),
                                         ("cn", name)])
        self.ldif.comment("")
        self.ldif.comment("Recipients and everything else, in creation order")

    def _container_attrs(self, name: str) -> list[tuple[str, str | bytes]]:
        return [("changetype", "add"), ("objectClass", "top"), ("objectClass", "container"),
                ("cn", name), ("objectGUID", self.ids.guid())]

    def _ou_attrs(self, name: str) -> list[tuple[str, str | bytes]]:
        return [("changetype", "add"), ("objectClass", "top"),
                ("objectClass", "organizationalUnit"), ("ou", name),
                ("objectGUID", self.ids.guid())]

    def header(self) -> None:
        """The comments and ``version: 1`` an export starts with."""
        s = self.s
        self.ldif.comment("ccmig synthetic organisation (mocks/orggen): not a real directory")
        self.ldif.comment(f"dialect {s.dialect}, seed {s.seed}, {s.people} people")
        style = "ldifde -f org.ldif -u" if s.utf16 else "ldifde -f org.ldif"
        self.ldif.comment(f"exported as by: {style}" if self.ad else "exported as by: ldapsearch")
        self.ldif.raw("version: 1")
        self.ldif.raw("")

    # ---- recording -------------------------------------------------------

    def emit(self, dn: str, attrs: Sequence[tuple[str, str | bytes]], kind: str,
             scenario: str, role: str, code: str | None, has_ccmail: bool) -> None:
        """Write one Exchange object and record what it was made for."""
        shown = code if (has_ccmail and kind != "not-recipient") else None
        if self.s.annotate:
            self.ldif.comment(f"{scenario} / {role}: " + (
                f"intended {shown}" if shown else "no row"))
        self.ldif.entry(dn, attrs)
        self._record(kind, dn, scenario, role, code, has_ccmail)

    def _record(self, kind: str, dn: str, scenario: str, role: str, code: str | None,
                has_ccmail: bool) -> None:
        ex = self.summary.exchange
        ex[kind] = ex.get(kind, 0) + 1
        if has_ccmail and kind != "not-recipient":
            wc = self.summary.exchange_with_ccmail
            wc[kind] = wc.get(kind, 0) + 1
        shown = code if (has_ccmail and kind != "not-recipient") else None
        self.expected.add("dn:" + fold(dn), dn, kind, scenario, role, shown, self.ids.person_index)

    def _not_recipient(self, dn: str, attrs: list[tuple[str, str | bytes]]) -> None:
        self.ldif.entry(dn, attrs)
        ex = self.summary.exchange
        ex["not-recipient"] = ex.get("not-recipient", 0) + 1

    def stat(self, identity: str, count: int) -> None:
        self.stats.writerow([identity, count])
        self.summary.stats_lines += 1

    # ---- Exchange objects ------------------------------------------------

    def _x400(self, site: str, surname: str, given: str) -> str:
        sn = ascii_fold(surname) or "X"
        g = ascii_fold(given)
        return f"c=US;a= ;p={ascii_fold(self.s.org)};o={site};s={sn};" + (f"g={g};" if g else "")

    def _render(self, values: Sequence[CcValue], nfd: bool = False) -> list[str]:
        sep = ":" if self.ad else "$"
        out = [f"{prefix}{sep}{address}" for prefix, address in values]
        return [unicodedata.normalize("NFD", v) for v in out] if nfd else out

    def mailbox(
        self, p: Person, values: Sequence[CcValue], scenario: str, *,
        role: str = "mailbox", code: str | None = None, stats: str = "random",
        messages: int = 0, name: str | None = None, site: str | None = None,
        ou_po: str | None = None, nfd: bool = False,
    ) -> str:
        """Write a mailbox; ``stats``: random | confirm | short | omit."""
        name = name or p.name
        site = site or p.site
        code = code if code is not None else SCENARIO_BY_NAME[scenario].code
        acct = self.ids.account(p.surname, p.given, name)
        proxies = self._render(values, nfd)
        if self.ad:
            dn = self.ids.dn(name, self.ids.staff_ou(ou_po or site))
            attrs: list[tuple[str, str | bytes]] = [("changetype", "add"), ("objectClass", "top"),
                                                    ("objectClass", "person"),
                                                    ("objectClass", "organizationalPerson")]
            if self._p(0.03):
                attrs.append(("objectClass", "inetOrgPerson"))
            else:
                attrs.append(("objectClass", "user"))
            attrs += [("cn", name), ("sn", p.surname), ("givenName", p.given),
                      ("displayName", name), ("sAMAccountName", acct.sam),
                      ("userPrincipalName", f"{acct.sam}@{self.s.domain}"),
                      ("mail", acct.smtp), ("mailNickname", acct.sam),
                      ("proxyAddresses", f"SMTP:{acct.smtp}")]
            if self._p(0.5):
                attrs.append(("proxyAddresses", f"smtp:{acct.sam}@{self.s.domain}"))
            attrs.append(("proxyAddresses", "X400:" + self._x400(site, p.surname, p.given)))
            attrs += [("proxyAddresses", v) for v in proxies]
            attrs.append(("legacyExchangeDN",
                          f"/o={self.s.org}/ou={site}/cn=Recipients/cn={acct.sam}"))
            server = self._server(site)
            where = self.rng.random()
            if where < 0.95:
                attrs.append(("homeMDB", f"CN=Mailbox Store ({server}),CN=First Storage Group,"
                              f"CN=InformationStore,CN={server},CN=Servers,CN={site},"
                              f"CN=Administrative Groups,CN={self.s.org},"
                              f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{self.base}"))
            if where > 0.05:
                attrs.append(("msExchHomeServerName",
                              f"/o={self.s.org}/ou={site}/cn=Configuration/cn=Servers/cn={server}"))
            attrs.append(("objectGUID", acct.guid))
            identities = [dn, acct.smtp, acct.sam, acct.sam.upper()]
        else:
            dn = self.ids.dn(acct.sam, self.ids.recipients_55(site))
            attrs = [("objectClass", "organizationalPerson"), ("objectClass", "person"),
                     ("objectClass", "Top"), ("cn", name), ("uid", acct.sam),
                     ("givenName", p.given), ("sn", p.surname), ("mail", acct.smtp),
                     ("rfc822Mailbox", acct.smtp),
                     ("textEncodedORAddress", self._x400(site, p.surname, p.given)),
                     ("otherMailbox", f"MS${ascii_fold(self.s.org).upper()}/{site}/"
                                      f"{acct.sam.upper()}")]
            if self._p(0.3):
                attrs.append(("otherMailbox", f"smtp${acct.sam}@{self.s.domain}"))
            attrs += [("otherMailbox", v) for v in proxies]
            identities = [dn, acct.smtp, acct.sam]
        if ou_po is not None and self._p(0.5):
            # The wizard's note: long enough to be folded, in both dialects.
            attrs.append(("description", f"Migrated from cc:Mail post office {ou_po} by the "
                          f"Exchange Migration Wizard on {self._date()}"))
        self.emit(dn, attrs, "mailbox", scenario, role, code, bool(values))
        self._recent_mailboxes.append(dn)
        del self._recent_mailboxes[:-8]
        count: int | None
        if stats == "confirm":
            count = messages + self._int(0, 400)
        elif stats == "short":
            count = self._int(0, max(0, messages - 1))
        elif stats == "omit":
            count = None
        else:
            count = self._int(0, 3000) if self._p(0.9) else None
        if count is not None:
            self.stat(self._pick(identities), count)
        return dn

    def _date(self) -> str:
        return f"{self._int(1, 12):02d}/{self._int(1, 28):02d}/{self._pick(('1999', '2000'))}"

    def _server(self, site: str) -> str:
        return f"EXSRV{self.s.exchange_pos.index(site) + 1:02d}"

    def contact(
        self, p: Person, target: str, scenario: str, *, role: str = "contact",
        code: str | None = None, name: str | None = None, mail_user: bool = False,
        prefix: str = "CCMAIL",
    ) -> str:
        """A custom recipient: AD contact (or mail-enabled user), 5.5 remote-address."""
        name = name or p.name
        code = code if code is not None else SCENARIO_BY_NAME[scenario].code
        acct = self.ids.account(p.surname, p.given, name, smtp_domain=f"ccmail.{self.s.domain}")
        kind = "custom-recipient"
        if self.ad:
            parent = self.ids.ou("External") if mail_user else self.ids.ou("cc:Mail Recipients")
            dn = self.ids.dn(name, parent)
            classes = ["top", "person", "organizationalPerson", "user" if mail_user else "contact"]
            attrs: list[tuple[str, str | bytes]] = [("changetype", "add")]
            attrs += [("objectClass", c) for c in classes]
            attrs += [("cn", name), ("sn", p.surname), ("givenName", p.given),
                      ("displayName", name)]
            if mail_user:
                attrs += [("sAMAccountName", acct.sam),
                          ("userPrincipalName", f"{acct.sam}@{self.s.domain}")]
            attrs += [("mail", acct.smtp), ("mailNickname", acct.sam),
                      ("proxyAddresses", f"SMTP:{acct.smtp}"),
                      ("proxyAddresses",
                       "X400:" + self._x400(self.s.exchange_pos[0], p.surname, p.given)),
                      ("proxyAddresses", f"{prefix}:{target}"),
                      ("targetAddress", f"{prefix}:{target}"),
                      ("legacyExchangeDN",
                       f"/o={self.s.org}/ou={self.s.exchange_pos[0]}/cn=Recipients/cn={acct.sam}"),
                      ("objectGUID", acct.guid)]
        else:
            dn = self.ids.dn(acct.sam, self.ids.container_dn("ccMail Recipients",
                                                             self.ids.ou(self.s.exchange_pos[0])))
            target_attr = "Target-Address" if self._p(0.5) else "targetAddress"
            attrs = [("objectClass", "remote-address"), ("objectClass", "person"),
                     ("objectClass", "Top"), ("cn", name), ("uid", acct.sam),
                     ("mail", acct.smtp), ("rfc822Mailbox", acct.smtp),
                     ("otherMailbox", f"{prefix}${target}"),
                     (target_attr, f"{prefix}:{target}")]
        self.emit(dn, attrs, kind, scenario, role, code, True)
        return dn

    def group(self, name: str, values: Sequence[CcValue], scenario: str, *, role: str = "group",
              code: str | None = "complete", site: str | None = None) -> str:
        site = site or self.s.exchange_pos[0]
        acct = self.ids.account(name, "", name)
        alias = acct.sam
        members = list(self._recent_mailboxes[-self._int(1, 5):])
        if self.ad:
            dn = self.ids.dn(name, self.ids.ou("Groups"))
            attrs: list[tuple[str, str | bytes]] = [
                ("changetype", "add"), ("objectClass", "top"), ("objectClass", "group"),
                ("cn", name), ("sAMAccountName", alias),
                ("groupType", self._pick(("8", "2", "-2147483640", "-2147483646"))),
            ]
            if values:
                attrs += [("displayName", name), ("mail", acct.smtp), ("mailNickname", alias),
                          ("proxyAddresses", f"SMTP:{acct.smtp}"),
                          ("proxyAddresses", "X400:" + self._x400(site, name, ""))]
                attrs += [("proxyAddresses", v) for v in self._render(values)]
                attrs.append(("legacyExchangeDN",
                              f"/o={self.s.org}/ou={site}/cn=Recipients/cn={alias}"))
            attrs += [("member", m) for m in members]
            attrs.append(("objectGUID", acct.guid))
        else:
            dn = self.ids.dn(alias, self.ids.recipients_55(site))
            attrs = [("objectClass", "groupOfNames"), ("objectClass", "Top"), ("cn", name),
                     ("uid", alias), ("mail", acct.smtp), ("rfc822Mailbox", acct.smtp)]
            attrs += [("otherMailbox", v) for v in self._render(values)]
            attrs += [("member", m) for m in members or [self.ids.recipients_55(site)]]
        self.emit(dn, attrs, "group", scenario, role, code, bool(values))
        return dn

    def disabled_user(self, p: Person, scenario: str) -> str:
        """An AD user without homeMDB/targetAddress that still holds cc:Mail proxies:
        not a recipient, so it must get no row whatever its values say."""
        acct = self.ids.account(p.surname, p.given, p.name)
        dn = self.ids.dn(p.name, self.ids.container_dn("Users"))
        attrs: list[tuple[str, str | bytes]] = [
            ("changetype", "add"), ("objectClass", "top"), ("objectClass", "person"),
            ("objectClass", "organizationalPerson"), ("objectClass", "user"),
            ("cn", p.name), ("sn", p.surname), ("givenName", p.given),
            ("displayName", p.name), ("sAMAccountName", acct.sam),
            ("userPrincipalName", f"{acct.sam}@{self.s.domain}"),
            ("proxyAddresses", f"SMTP:{acct.smtp}"),
            ("proxyAddresses", f"CCMAIL:{at(p.name, p.site)}"),
            ("proxyAddresses", f"ccmail:{at(p.name, p.home)}"),
            ("objectGUID", acct.guid),
        ]
        self.emit(dn, attrs, "not-recipient", scenario, "disabled-user", None, True)
        return dn
