"""The objects of a generated organisation that are not people, spread through the run.

Why: a real directory is not only the people the rules are about. Distribution
lists, security groups without mail, computers, service accounts, partners'
SMTP contacts and 5.5 public folders must be read, classified and left without
a row, and a stats file names mailboxes that no longer exist. They come every
so many people (:meth:`Background.periodic`), so they are spread through the
file as in an export in creation order; two scenarios also make a computer or
a public folder that carries a cc:Mail address.
"""

from __future__ import annotations

from toolkit.mocks.orggen.exchange import ExchangeSide
from toolkit.mocks.orggen.identities import Draws, Identities
from toolkit.mocks.orggen.names import DEPARTMENTS, at


class Background(Draws):
    """Lists, groups, computers, service accounts, partner contacts and public folders."""

    GROUP_EVERY = 25
    COMPUTER_EVERY = 40
    SERVICE_EVERY = 60
    EXTERNAL_EVERY = 50
    UNKNOWN_STATS_EVERY = 150

    def __init__(self, ids: Identities, ex: ExchangeSide) -> None:
        super().__init__(ids.rng)
        self.ids = ids
        self.ex = ex
        self.s = ids.s
        self.ad = ids.ad
        self._groups = 0
        self._computers = 0
        self._services = 0
        self._unknown = 0

    def periodic(self, count: int) -> None:
        """Objects that are not people: groups, computers, service accounts."""
        if count % self.GROUP_EVERY == 0:
            self._background_group()
        if count % self.COMPUTER_EVERY == 0:
            if self.ad:
                self.computer(None)
            else:
                self.public_folder(with_ccmail=False)
        if count % self.SERVICE_EVERY == 0 and self.ad:
            self._service_account()
        if count % self.EXTERNAL_EVERY == 0:
            self._external_recipient()
        if count % self.UNKNOWN_STATS_EVERY == 0:
            self._unknown += 1
            self.ex.stat(f"departed.user{self._unknown}@old.{self.s.domain}", self._int(0, 900))

    def _background_group(self) -> None:
        self._groups += 1
        dept = self._pick(DEPARTMENTS)
        site = self._pick(self.s.exchange_pos)
        if not self.ad or self._p(0.75):
            name = self.ids.group_name(f"{dept} {self._pick(self.s.ccmail_pos)} List")
            self.ex.group(name, [("CCMAIL", at(name, site))], "background-group", site=site)
        else:
            name = self.ids.group_name(f"SG {dept} Access")
            self.ex.group(name, [], "background-group", code=None, site=site)

    def computer(self, proxy: str | None, scenario: str = "background-computer") -> None:
        self._computers += 1
        name = f"WS{self._computers:05d}"
        dn = self.ids.dn(name, self.ids.container_dn("Computers"))
        sam = self.ids.sam(f"{name}$")
        attrs: list[tuple[str, str | bytes]] = [
            ("changetype", "add"), ("objectClass", "top"), ("objectClass", "person"),
            ("objectClass", "organizationalPerson"), ("objectClass", "user"),
            ("objectClass", "computer"), ("cn", name), ("sAMAccountName", sam),
            ("dNSHostName", f"{name.lower()}.{self.s.domain}"),
        ]
        if proxy:
            attrs.append(("proxyAddresses", f"CCMAIL:{proxy}"))
        attrs.append(("objectGUID", self.ids.guid()))
        self.ex.emit(dn, attrs, "not-recipient", scenario, "computer", None, bool(proxy))

    def _service_account(self) -> None:
        self._services += 1
        name = f"svc-app{self._services:04d}"
        dn = self.ids.dn(name, self.ids.ou("Service Accounts"))
        sam = self.ids.sam(name)
        attrs: list[tuple[str, str | bytes]] = [
            ("changetype", "add"), ("objectClass", "top"), ("objectClass", "person"),
            ("objectClass", "organizationalPerson"), ("objectClass", "user"), ("cn", name),
            ("sAMAccountName", sam), ("userPrincipalName", f"{sam}@{self.s.domain}"),
            ("objectGUID", self.ids.guid())]
        self.ex.emit(dn, attrs, "not-recipient", "background-service-account", "user", None, False)

    def _external_recipient(self) -> None:
        """A partner's SMTP contact / mail-enabled user: a custom recipient with no
        cc:Mail value, so it is classified but gets no row."""
        surname, given, name = self.ids.fresh_name()
        acct = self.ids.account(surname, given, name, smtp_domain="partner.example")
        if self.ad:
            mail_user = self._p(0.5)
            dn = self.ids.dn(name, self.ids.ou("External"))
            attrs: list[tuple[str, str | bytes]] = [
                ("changetype", "add"), ("objectClass", "top"), ("objectClass", "person"),
                ("objectClass", "organizationalPerson"),
                ("objectClass", "user" if mail_user else "contact"),
                ("cn", name), ("sn", surname), ("givenName", given), ("displayName", name)]
            if mail_user:
                attrs.append(("sAMAccountName", acct.sam))
            attrs += [("mail", acct.smtp), ("mailNickname", acct.sam),
                      ("proxyAddresses", f"SMTP:{acct.smtp}"),
                      ("targetAddress", f"SMTP:{acct.smtp}"), ("objectGUID", acct.guid)]
        else:
            dn = self.ids.dn(acct.sam, self.ids.recipients_55(self.s.exchange_pos[0]))
            attrs = [("objectClass", "remote-address"), ("objectClass", "person"),
                     ("objectClass", "Top"), ("cn", name), ("uid", acct.sam),
                     ("mail", acct.smtp), ("Target-Address", f"SMTP:{acct.smtp}")]
        self.ex.emit(dn, attrs, "custom-recipient", "background-external", "external", None, False)

    def public_folder(self, *, with_ccmail: bool, scenario: str = "background-folder") -> None:
        self._computers += 1
        site = self.s.exchange_pos[0]
        name = self.ids.group_name(f"Public Folder {self._computers}")
        dn = self.ids.dn(name, self.ids.container_dn("Public Folders", self.ids.ou(site)))
        attrs: list[tuple[str, str | bytes]] = [
            ("objectClass", "publicFolder"), ("objectClass", "Top"), ("cn", name),
            ("mail", f"pf{self._computers}@{self.s.domain}")]
        if with_ccmail:
            attrs.append(("otherMailbox", f"CCMAIL${at(name, site)}"))
        self.ex.emit(dn, attrs, "not-recipient", scenario, "public-folder", None, with_ccmail)
