"""The cc:Mail side of a generated organisation: one directory file per post office.

Why a side of its own: the cc:Mail directory is not a copy of the Exchange one.
Entries replicate from the hub to some spokes (``R``/``r``), dirsync's entries
for Exchange users land in the hub, keys are now and then written in another
case and unknown keys (phone, department) appear, as in real Export files;
the rules must find the stale, missing and moved entries among all that.
User entries of interest get their own line in ``expected-codes.json``.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.mocks.orggen.identities import Draws, Identities
from toolkit.mocks.orggen.names import COMMENTS, DEPARTMENTS
from toolkit.mocks.orggen.records import Person
from toolkit.mocks.orggen.writers import CcmailWriter, ExpectedWriter

from toolkit.text import fold


class CcmailSide(Draws):
    """Writes the cc:Mail directory entries, post office by post office."""

    REPLICA_RATE = 0.2  # chance that a spoke other than the hub replicates an entry

    def __init__(self, ids: Identities, files: dict[str, CcmailWriter],
                 expected: ExpectedWriter) -> None:
        super().__init__(ids.rng)
        self.ids = ids
        self.s = ids.s
        self.files = files
        self.expected = expected

    def _key(self, key: str) -> str:
        """Keys are case-insensitive: now and then write one the way a script did."""
        r = self.rng.random()
        return key.upper() if r < 0.01 else key.lower() if r < 0.02 else key

    def entry(self, po: str, name: str, locn: str, addr: str | None = "",
              comments: str | None = None, messages: int | None = None,
              extra: Sequence[tuple[str, str]] = ()) -> None:
        fields: list[tuple[str, str | None]] = [("Name", name), (self._key("Locn"), locn),
                                                (self._key("Addr"), addr)]
        if comments:
            fields.append(("Comments", comments))
        if messages is not None:
            fields.append((self._key("Messages"), str(messages)))
        fields += list(extra)
        self.files[po].record(fields, locn)

    def alias(self, po: str, p: Person, locn: str) -> None:
        """An ``A``/``a`` entry ``J. Smith`` -> the person; skipped if the name is taken."""
        alias = f"{p.given[:1]}. {p.surname}"
        if self.ids.claim(alias):
            self.entry(po, alias, locn, p.name)

    def _extras(self) -> list[tuple[str, str]]:
        """Unknown keys (phone, department): readers must keep, not choke on, them."""
        if not self._p(0.12):
            return []
        return [("Phone", f"555-{self._int(100, 9999):04d}"),
                ("Dept", self._pick(DEPARTMENTS))][: self._int(1, 2)]

    def other_po(self, *avoid: str) -> str:
        """A cc:Mail post office (hub or spoke) other than those given."""
        choices = [po for po in self.s.ccmail_pos if po not in avoid]
        return self._pick(choices)

    def replicas(self, name: str, target_po: str) -> None:
        """Directory propagation: the hub knows everyone; now and then a spoke too."""
        if target_po != self.s.hub:
            self.entry(self.s.hub, name, self._pick("Rr"), target_po)
        if self._p(self.REPLICA_RATE) and set(self.s.spoke_pos) - {target_po}:
            self.entry(self.other_po(self.s.hub, target_po), name, "r", target_po)

    def local(self, name: str, home: str, *, locn: str = "L", messages: int | None = -1,
              replicate: bool = True) -> int | None:
        """An L/l user (mailbox in ``home``); ``messages=-1``: random, maybe absent."""
        if messages == -1:
            messages = self._int(0, 2500) if self._p(0.85) else None
        self.entry(home, name, locn, "", self._pick(COMMENTS) if self._p(0.7) else None,
                   messages, self._extras())
        if replicate:
            self.replicas(name, home)
        return messages

    def dirsync(self, name: str, site: str, *, avoid: str | None = None) -> None:
        """The entry Import.exe creates for an Exchange user: routes to the site.

        It lands in the hub (where the connector is) and propagates to some
        spokes; ``avoid`` keeps it out of a PO that already has that name.
        """
        self.entry(self.s.hub, name, self._pick("Rr"), site,
                   "Exchange user" if self._p(0.1) else None)
        if self._p(self.REPLICA_RATE) and set(self.s.spoke_pos) - {avoid}:
            self.entry(self.other_po(self.s.hub, *([avoid] if avoid else [])), name, "r", site)

    def expect_user(self, name: str, po: str, scenario: str, code: str | None,
                    role: str = "ccmail-user") -> None:
        """The ``expected-codes.json`` line of a cc:Mail user entry of interest."""
        key = "ccmail:" + fold(f"{name}@{po}")
        self.expected.add(key, None, "ccmail-user", scenario, role, code, self.ids.person_index)

    def post_office_entries(self) -> None:
        """P/p entries: the hub links every spoke and the Exchange connector(s)."""
        s = self.s
        hub = self.files[s.hub]
        for po in s.spoke_pos:
            hub.record([("Name", po), ("Locn", "P"), ("Addr", f"\\\\CCSRV\\{po}\\CCDATA"),
                        ("Comments", "LAN link")], "P")
        for n, site in enumerate(s.exchange_pos, 1):
            hub.record([("Name", site), ("Locn", "P"), ("Addr", ""),
                        ("Comments", f"MSExchangeCCMC EXSRV{n:02d}")], "P")
        hub.record([("Name", s.partner_po), ("Locn", "P"), ("Addr", "X25:31102080"),
                    ("Comments", "Partner gateway")], "P")
        for po in s.spoke_pos:
            w = self.files[po]
            w.record([("Name", s.hub), ("Locn", "P"), ("Addr", "\\\\CCSRV\\HUBPO\\CCDATA"),
                      ("Comments", "Hub")], "P")
            for other in [*s.spoke_pos, *s.exchange_pos, s.partner_po]:
                if other != po:
                    w.record([("Name", other), ("Locn", "p"), ("Addr", s.hub),
                              ("Comments", f"via {s.hub}")], "p")
