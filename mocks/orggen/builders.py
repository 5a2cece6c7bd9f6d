"""One builder per scenario of the organisation generator: which objects a drawn
person gets, on both sides, for the state of the KB Q253306 lifecycle it stands for.

Why methods named after the scenarios (``_s_<name>``, dashes as underscores):
:data:`~toolkit.mocks.orggen.scenarios.SCENARIOS` and the builders must match
one for one, and :meth:`ScenarioBuilder.build` finds a scenario's builder by
its name. The standard migrated mailbox carries the two addresses of Q253306:
primary ``CCMAIL:<name> at <site>``, secondary ``ccmail:<name> at <old PO>``.
"""

from __future__ import annotations

from typing import Any

from toolkit.mocks.orggen.background import Background
from toolkit.mocks.orggen.ccmail import CcmailSide
from toolkit.mocks.orggen.exchange import ExchangeSide
from toolkit.mocks.orggen.identities import Draws, Identities
from toolkit.mocks.orggen.names import DEPARTMENTS, CcValue, at
from toolkit.mocks.orggen.records import Person


class ScenarioBuilder(Draws):
    """Draws one person and writes every object a scenario needs."""

    def __init__(self, ids: Identities, ex: ExchangeSide, bg: Background, cc: CcmailSide) -> None:
        super().__init__(ids.rng)
        self.ids = ids
        self.s = ids.s
        self.ex = ex
        self.bg = bg
        self.cc = cc

    def build(self, scenario: str) -> None:
        """Make one person of ``scenario`` (a name of the scenarios table)."""
        getattr(self, "_s_" + scenario.replace("-", "_"))(scenario)

    def _migrated_values(self, p: Person) -> list[CcValue]:
        return [("CCMAIL", at(p.name, p.site)), ("ccmail", at(p.name, p.home))]

    def _complete(self, scenario: str, p: Person | None = None, **kw: Any) -> Person:
        p = p or self.ids.person(scenario)
        self.ex.mailbox(p, self._migrated_values(p), scenario, ou_po=p.home, **kw)
        self.cc.dirsync(p.name, p.site)
        return p

    def _s_complete(self, sc: str) -> None:
        self._complete(sc)

    def _s_not_migrated(self, sc: str, locn: str = "L") -> None:
        p = self.ids.person(sc)
        self.cc.local(p.name, p.home, locn=locn)
        if self._p(0.05):
            self.cc.alias(p.home, p, "a")
        self.cc.expect_user(p.name, p.home, sc, "not-migrated")

    def _s_not_migrated_l(self, sc: str) -> None:
        self._s_not_migrated(sc, "l")

    def _s_not_migrated_with_contact(self, sc: str) -> None:
        p = self.ids.person(sc)
        self.cc.local(p.name, p.home)
        self.ex.contact(p, at(p.name, p.home), sc, code="complete")
        self.cc.expect_user(p.name, p.home, sc, "not-migrated")

    def _stale(self, sc: str, *, messages: int | None = -1, stats: str = "confirm",
               nonzero: bool = False) -> None:
        p = self.ids.person(sc)
        if messages == -1:
            messages = self._int(1 if nonzero else 0, 2500)
        self.cc.local(p.name, p.home, messages=messages)
        self.ex.mailbox(p, self._migrated_values(p), sc, ou_po=p.home, stats=stats,
                        messages=messages or 0)
        self.cc.expect_user(p.name, p.home, sc, None, "stale-entry")

    def _s_stale(self, sc: str) -> None:
        self._stale(sc)

    def _s_stale_unconfirmed(self, sc: str) -> None:
        self._stale(sc, stats="short", nonzero=True)

    def _s_stale_no_count(self, sc: str) -> None:
        self._stale(sc, messages=None, stats="random")

    def _s_stale_no_stats(self, sc: str) -> None:
        self._stale(sc, stats="omit")

    def _s_stale_remote_pointer(self, sc: str) -> None:
        # The L entry is gone but a replica elsewhere survived; dirsync cannot add
        # the Exchange entry while the name still exists, so there is none.
        p = self.ids.person(sc)
        self.ex.mailbox(p, self._migrated_values(p), sc, ou_po=p.home)
        self.cc.entry(self.cc.other_po(p.home), p.name, "R", p.home)

    def _s_stale_old_name(self, sc: str) -> None:
        p = self.ids.person(sc)
        old_surname, _, _ = self.ids.fresh_name()
        old = f"{old_surname}, {p.given}"
        if not self.ids.claim(old):
            old = self.ids.fresh_name()[2]
        messages = self.cc.local(old, p.home, messages=self._int(0, 2500))
        values = [("CCMAIL", at(p.name, p.site)), ("ccmail", at(old, p.home))]
        self.ex.mailbox(p, values, sc, ou_po=p.home, stats="confirm", messages=messages or 0)
        self.cc.expect_user(old, p.home, sc, None, "stale-entry")

    def _s_stale_mobile(self, sc: str) -> None:
        p = self.ids.person(sc)
        messages = self._int(0, 800) if self._p(0.5) else None
        self.cc.entry(p.home, p.name, "R", self._pick(("", "  ")) if self._p(0.7) else None,
                      "Mobile", messages)
        self.cc.replicas(p.name, p.home)
        self.ex.mailbox(p, self._migrated_values(p), sc, ou_po=p.home, stats="confirm",
                        messages=messages or 0)

    def _s_awaiting_dirsync(self, sc: str) -> None:
        p = self.ids.person(sc)
        self.ex.mailbox(p, self._migrated_values(p), sc, ou_po=p.home)

    def _s_exchange_only_awaiting_dirsync(self, sc: str) -> None:
        p = self.ids.person(sc)
        self.ex.mailbox(p, [("CCMAIL", at(p.name, p.site))], sc)

    def _s_exchange_only_complete(self, sc: str) -> None:
        p = self.ids.person(sc)
        self.ex.mailbox(p, [("CCMAIL", at(p.name, p.site))], sc)
        self.cc.dirsync(p.name, p.site)

    def _s_complete_with_alias(self, sc: str) -> None:
        p = self.ids.person(sc)
        # An alias of the very name that migrated, which would look stale if aliases
        # were read as users; kept out of any PO holding a user entry of that name.
        alias_po = p.home if p.home != self.s.hub else self._pick(self.s.spoke_pos)
        self.ex.mailbox(p, self._migrated_values(p), sc, ou_po=p.home)
        self.cc.dirsync(p.name, p.site, avoid=alias_po)
        self.cc.entry(alias_po, p.name, "a", p.home, "alias left after migration")
        self.cc.alias(self.s.hub, p, "A")

    def _s_complete_spacing(self, sc: str) -> None:
        p = self.ids.person(sc)
        spaced = p.name.replace(" ", "  ")
        values = [("CCMAIL", f" {spaced}  AT  {p.site}"), ("ccmail", f"{p.name} AT {p.home} ")]
        self.ex.mailbox(p, values, sc, ou_po=p.home)
        self.cc.dirsync(p.name, p.site)

    def _s_complete_mixed_case_secondary(self, sc: str) -> None:
        p = self.ids.person(sc)
        values = [("CCMAIL", at(p.name, p.site)), ("ccMail", at(p.name, p.home))]
        self.ex.mailbox(p, values, sc, ou_po=p.home)
        self.cc.dirsync(p.name, p.site)

    def _s_complete_nfd(self, sc: str) -> None:
        p = self.ids.person(sc, nfd_able=True)
        self.ex.mailbox(p, self._migrated_values(p), sc, ou_po=p.home, nfd=True)
        self.cc.dirsync(p.name, p.site)

    def _s_orphan_custom_recipient(self, sc: str, mail_user: bool = False) -> None:
        p = self._complete(sc)
        self.ex.contact(p, at(p.name, p.home), sc, role="leftover-contact", mail_user=mail_user)

    def _s_orphan_mail_user(self, sc: str) -> None:
        self._s_orphan_custom_recipient(sc, mail_user=True)

    def _s_missing_primary_lowercase(self, sc: str) -> None:
        p = self.ids.person(sc)
        values = [("ccmail", at(p.name, p.site)), ("ccmail", at(p.name, p.home))]
        self.ex.mailbox(p, values, sc, ou_po=p.home)
        self.cc.dirsync(p.name, p.site)

    def _s_missing_primary_mixed_case(self, sc: str) -> None:
        p = self.ids.person(sc)
        values = [("ccMail", at(p.name, p.site)), ("ccmail", at(p.name, p.home))]
        self.ex.mailbox(p, values, sc, ou_po=p.home)
        self.cc.dirsync(p.name, p.site)

    def _s_missing_primary_non_exchange(self, sc: str) -> None:
        p = self.ids.person(sc)
        self.ex.mailbox(p, [("CCMAIL", at(p.name, p.home))], sc, ou_po=p.home)

    def _s_multiple_primaries(self, sc: str) -> None:
        p = self.ids.person(sc)
        values = [("CCMAIL", at(p.name, p.home)), ("CCMAIL", at(p.name, p.site))]
        self.ex.mailbox(p, values, sc, ou_po=p.home)
        self.cc.dirsync(p.name, p.site)

    def _s_multiple_primaries_group(self, sc: str) -> None:
        p = self._complete(sc, code="complete", role="bystander")
        name = self.ids.group_name(f"{self._pick(DEPARTMENTS)} {p.home} Team")
        values = [("CCMAIL", at(name, p.home)), ("CCMAIL", at(name, p.site))]
        self.ex.group(name, values, sc, code="multiple-primaries", site=p.site)

    def _s_missing_secondary(self, sc: str) -> None:
        p = self.ids.person(sc)
        moved_from = self.cc.other_po(p.home)
        messages = self._int(0, 1500)
        self.ex.mailbox(p, self._migrated_values(p), sc, ou_po=p.home, stats="confirm",
                        messages=messages)
        # No dirsync entry: the surviving name blocks it.
        self.cc.entry(moved_from, p.name, "L", "", "moved to " + p.home, messages)
        self.cc.expect_user(p.name, moved_from, sc, None, "entry-in-other-po")

    def _s_name_conflict_namesake(self, sc: str) -> None:
        p = self._complete(sc)
        namesake = p.name.replace(p.surname, p.surname.upper(), 1)
        self.ex.contact(p, at(namesake, self.s.partner_po), sc, role="namesake-contact",
                        name=namesake)

    def _s_name_conflict_sites(self, sc: str) -> None:
        first, second = self.s.exchange_pos[0], self.s.exchange_pos[1]
        p = self.ids.person(sc, site=first)
        self._complete(sc, p)
        namesake = p.name.replace(p.surname, p.surname.upper(), 1)
        q = Person(p.index, p.surname.upper(), p.given, namesake, second, p.home)
        self.ex.mailbox(q, [("CCMAIL", at(namesake, second))], sc, role="namesake-mailbox")

    def _s_duplicate_mailbox_mailbox(self, sc: str) -> None:
        p = self._complete(sc)
        self.ex.mailbox(p, self._migrated_values(p), sc, role="second-mailbox",
                        name=f"{p.name} (2)", ou_po=p.home)

    def _s_duplicate_contact_contact(self, sc: str) -> None:
        p = self.ids.person(sc)
        self.cc.local(p.name, p.home)
        self.ex.contact(p, at(p.name, p.home), sc)
        self.ex.contact(p, at(p.name, p.home), sc, role="second-contact", name=f"{p.name} (2)")
        self.cc.expect_user(p.name, p.home, sc, "not-migrated")

    def _s_duplicate_group_mailbox(self, sc: str) -> None:
        p = self._complete(sc)
        name = self.ids.group_name(f"{p.given} {p.surname} forward")
        values = [("CCMAIL", at(name, p.site)), ("ccmail", at(p.name, p.home))]
        self.ex.group(name, values, sc, code="duplicate-address", site=p.site)

    def _invalid(self, sc: str, value: str) -> None:
        p = self.ids.person(sc)
        values = [*self._migrated_values(p), ("ccmail", value.format(name=p.name, po=p.home))]
        self.ex.mailbox(p, values, sc, ou_po=p.home)
        self.cc.dirsync(p.name, p.site)

    def _s_invalid_no_at(self, sc: str) -> None:
        self._invalid(sc, "{name}@{po}")

    def _s_invalid_empty_name(self, sc: str) -> None:
        self._invalid(sc, " at {po}")

    def _s_invalid_empty_po(self, sc: str) -> None:
        self._invalid(sc, "{name} at ")

    def _s_invalid_quote(self, sc: str) -> None:
        self._invalid(sc, '{name} "Jack" at {po}')

    def _s_invalid_bracket(self, sc: str) -> None:
        self._invalid(sc, "{name} [Sales] at {po}")

    def _s_invalid_control(self, sc: str) -> None:
        self._invalid(sc, "{name}\x02 at {po}")

    def _s_invalid_non_ascii_po(self, sc: str) -> None:
        self._invalid(sc, "{name} at MÜNCHEN")

    def _s_invalid_space_in_po(self, sc: str) -> None:
        self._invalid(sc, "{name} at {po} OLD")

    def _s_ccmail_remote_only(self, sc: str) -> None:
        p = self.ids.person(sc)
        self.cc.entry(p.home, p.name, "R", "", "Mobile", self._int(0, 300) if self._p(0.5) else None)
        self.cc.expect_user(p.name, p.home, sc, None, "mobile-entry")

    def _s_mailbox_without_ccmail(self, sc: str) -> None:
        self.ex.mailbox(self.ids.person(sc), [], sc)

    def _s_ignored_user_with_proxies(self, sc: str) -> None:
        self.ex.disabled_user(self.ids.person(sc), sc)

    def _s_ignored_computer_with_proxy(self, sc: str) -> None:
        p = self._complete(sc, code="complete", role="owner")
        self.bg.computer(at(f"WS {p.surname}", p.site), sc)

    def _s_ignored_public_folder(self, sc: str) -> None:
        self._complete(sc, code="complete", role="owner")
        self.bg.public_folder(with_ccmail=True, scenario=sc)
