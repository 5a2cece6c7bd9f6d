"""The organisation generator's draws, and the names, accounts and DNs it makes unique.

Why one seeded Random shared by every part: the output is byte-for-byte the
same for a seed only if every draw happens in the same order, whichever part of
the generator makes it, so :class:`Draws` gives each part the same helpers over
that one :class:`~random.Random`. :class:`Identities` keeps what must be unique
across the whole organisation (cc:Mail names ignoring case, sAMAccountNames,
SMTP local parts, DNs) in sets, so no two objects collide whatever is drawn;
those sets are most of a large run's memory.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from random import Random

from toolkit.mocks.orggen.names import FEATURED, GIVEN, INITIALS, SURNAMES, ascii_fold, escape_rdn
from toolkit.mocks.orggen.records import Account, Person, Settings
from toolkit.mocks.orggen.scenarios import AD

from toolkit.text import fold


class Draws:
    """The randomness helpers, over the organisation's one seeded Random."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng

    def _p(self, probability: float) -> bool:
        return self.rng.random() < probability

    def _int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def _pick(self, seq: Sequence[str]) -> str:
        return seq[int(self.rng.random() * len(seq))]


class Identities(Draws):
    """People's names and every identifier that must be unique in the organisation,
    with the DNs of the containers they go in (AD or Exchange 5.5 layout)."""

    def __init__(self, settings: Settings, rng: Random) -> None:
        super().__init__(rng)
        self.s = settings
        self.ad = settings.dialect == AD
        parts = settings.domain.split(".")
        self.base = ",".join(f"DC={p}" for p in parts) if self.ad else f"o={settings.org}"
        # The person being drawn: their objects and expected-codes lines carry it.
        self.person_index = 0
        self._names: set[str] = set()
        self._sams: set[str] = set()
        self._smtps: set[str] = set()
        self._dns: set[str] = set()
        self._next_suffix: dict[str, int] = {}
        self._featured_left = dict(FEATURED)
        for surname, given in FEATURED.values():
            self._names.add(fold(f"{surname}, {given}"))

    # ---- people and identifiers -----------------------------------------

    def fresh_name(
        self, featured: str | None = None, *, nfd_able: bool = False
    ) -> tuple[str, str, str]:
        """(surname, given, cc:Mail name), unique folded across the organisation.

        A taken name gets a middle initial, then two, then a number (as admins
        do), so the cost stays flat however full the common names get.
        """
        if featured and featured in self._featured_left:
            surname, given = self._featured_left.pop(featured)
            return surname, given, f"{surname}, {given}"
        while True:
            surname, given = self._pick(SURNAMES), self._pick(GIVEN)
            if nfd_able and unicodedata.normalize("NFD", surname + given) == surname + given:
                continue
            comma = self.rng.random() >= 0.15
            middles = [""]
            middles += [" " + self._pick(INITIALS) for _ in range(3)]
            middles += [f" {self._pick(INITIALS)} {self._pick(INITIALS)}" for _ in range(3)]
            for middle in middles:
                name = f"{surname}, {given}{middle}" if comma else f"{given}{middle} {surname}"
                key = fold(name)
                if key not in self._names:
                    self._names.add(key)
                    return surname, given, name
            for n in range(2, 1 << 30):
                name = f"{surname}, {given} {n}" if comma else f"{given} {surname} {n}"
                key = fold(name)
                if key not in self._names:
                    self._names.add(key)
                    return surname, given, name

    def person(self, scenario: str, *, site: str | None = None, nfd_able: bool = False) -> Person:
        surname, given, name = self.fresh_name(scenario, nfd_able=nfd_able)
        sites = self.s.exchange_pos
        if site is None:
            site = sites[0] if len(sites) == 1 or self._p(0.7) else self._pick(sites[1:])
        home = self.s.hub if self._p(0.1) else self._pick(self.s.spoke_pos)
        return Person(self.person_index, surname, given, name, site, home)

    def claim(self, name: str) -> bool:
        """Reserve a cc:Mail name (an alias, an old name); False when it is taken."""
        key = fold(name)
        if key in self._names:
            return False
        self._names.add(key)
        return True

    def group_name(self, stem: str) -> str:
        """A list name unique among people and lists (cc:Mail names are one space)."""
        for n in range(1, 100000):
            name = stem if n == 1 else f"{stem} {n}"
            if self.claim(name):
                return name
        raise RuntimeError("group name space exhausted")

    def _unique(self, used: set[str], base: str, limit: int) -> str:
        """``base``, else ``base2``, ``base3``...; a counter per base keeps it O(1)."""
        base = base[:limit] or "user"
        folded = base.casefold()
        candidate = base
        n = self._next_suffix.get(folded, 1)
        while candidate.casefold() in used:
            n += 1
            candidate = f"{base[: limit - len(str(n))]}{n}"
        self._next_suffix[folded] = n
        used.add(candidate.casefold())
        return candidate

    def sam(self, base: str) -> str:
        """A sAMAccountName unique in the domain (at most 20 characters)."""
        return self._unique(self._sams, base, 20)

    def account(
        self, surname: str, given: str, cn: str, *, smtp_domain: str | None = None
    ) -> Account:
        sam = self.sam((ascii_fold(given)[:1] + ascii_fold(surname)).lower())
        local = ".".join(part for part in (ascii_fold(given), ascii_fold(surname)) if part)
        local = self._unique(self._smtps, local, 60)
        domain = smtp_domain or self.s.domain
        return Account(cn, sam, f"{local}@{domain}", self.guid())

    def guid(self) -> bytes:
        return self.rng.getrandbits(128).to_bytes(16, "little")

    def dn(self, rdn_value: str, parent: str) -> str:
        attr = "CN" if self.ad else "cn"
        dn = f"{attr}={escape_rdn(rdn_value)},{parent}"
        key = fold(dn)
        n = 1
        while key in self._dns:  # two objects of one name in one container
            n += 1
            dn = f"{attr}={escape_rdn(f'{rdn_value} {n}')},{parent}"
            key = fold(dn)
        self._dns.add(key)
        return dn

    # ---- containers ------------------------------------------------------

    def ou(self, name: str, parent: str | None = None) -> str:
        parent = parent or self.base
        return f"OU={escape_rdn(name)},{parent}" if self.ad else f"ou={escape_rdn(name)},{parent}"

    def container_dn(self, name: str, parent: str | None = None) -> str:
        parent = parent or self.base
        return f"{'CN' if self.ad else 'cn'}={escape_rdn(name)},{parent}"

    def staff_ou(self, po: str) -> str:
        return self.ou("Staff", self.ou(po, self.ou("Sites")))

    def recipients_55(self, site: str) -> str:
        return self.container_dn("Recipients", self.ou(site))
