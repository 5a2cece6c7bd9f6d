"""The records of the organisation generator: its settings, the people it draws,
their Exchange accounts and the summary of a run.

Why apart from the generator: :class:`Settings` is what callers build
(``generate(Settings(people=300, seed=7), out)``) and the CLI fills from its
flags, and :class:`Summary` is what they get back; neither needs the code that
draws and writes an organisation.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from toolkit.mocks.orggen.scenarios import AD, EX55

_PO_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(slots=True)
class Settings:
    """Everything that shapes an organisation; same settings + seed = same bytes."""

    people: int = 300
    seed: int = 1
    dialect: str = AD
    spokes: int = 4  # cc:Mail post offices PO1..POk besides the hub
    hub: str = "HUBPO"
    exchange_pos: tuple[str, ...] = ("EXCH",)
    utf16: bool = False
    ccmail_encoding: str = "cp850"
    crlf: bool = False
    stats: bool = True
    domain: str = "corp.example"
    org: str = "Corp"
    partner_po: str = "PARTNER"
    annotate: bool = False  # a comment before each object naming its scenario

    @property
    def spoke_pos(self) -> list[str]:
        return [f"PO{i}" for i in range(1, self.spokes + 1)]

    @property
    def ccmail_pos(self) -> list[str]:
        return [self.hub, *self.spoke_pos]

    def validate(self) -> None:
        if self.dialect not in (AD, EX55):
            raise ValueError(f"dialect must be {AD!r} or {EX55!r}")
        if self.people < 0:
            raise ValueError("people must be >= 0")
        if self.spokes < 1:
            raise ValueError("at least one post office besides the hub is needed")
        if not self.exchange_pos:
            raise ValueError("at least one Exchange PO is needed")
        names = [*self.ccmail_pos, *self.exchange_pos, self.partner_po]
        for name in names:
            if not _PO_NAME.fullmatch(name):
                raise ValueError(f"bad post office name {name!r}")
        if len({n.casefold() for n in names}) != len(names):
            raise ValueError("post office names must be distinct")
        codecs.lookup(self.ccmail_encoding)


@dataclass(slots=True)
class Person:
    index: int
    surname: str
    given: str
    name: str  # cc:Mail name and display name
    site: str  # the Exchange site (cc:Mail PO name of the site) the mailbox lives at
    home: str  # the cc:Mail PO the person had (or would have) a mailbox in


@dataclass(slots=True)
class Account:
    """Exchange-side identifiers of one object."""

    cn: str
    sam: str
    smtp: str
    guid: bytes


@dataclass(slots=True)
class Summary:
    people: int = 0
    scenarios: dict[str, int] = field(default_factory=dict)
    exchange: dict[str, int] = field(default_factory=dict)
    exchange_with_ccmail: dict[str, int] = field(default_factory=dict)
    ldif_entries: int = 0
    ccmail_entries: dict[str, dict[str, int]] = field(default_factory=dict)
    stats_lines: int = 0
    seconds: float = 0.0
