"""Synthetic organisation generator: both sides of a half-finished cc:Mail migration.

Why this exists: nobody can hand us a real directory of a company caught in the
middle of the Q253306 clean-up, and a handful of hand-written fixtures would only
ever test the cases their author thought of. This module builds one from a seed:
an Exchange export (LDIF, Active Directory or Exchange 5.5 dialect) plus one
cc:Mail directory file per post office, a mailbox statistics CSV, and a key
(``expected-codes.json``) saying which lifecycle scenario every object was made
for. Every person is drawn from a weighted list of :data:`SCENARIOS` that
covers each state of the KB lifecycle and each finding code of ``spec.md``.

The files are written the way the real tools wrote them (``version: 1``,
comments, lines folded at 76 characters, base64 for anything that is not an
LDIF SAFE-STRING, optional UTF-16 LE with a BOM as ``ldifde -u`` writes; DOS
code page 850 for cc:Mail Export files), because the readers must survive the
real thing, not a tidy imitation.

Output is streamed object by object (no giant strings, no list of every
entry): 200,000 people take about half a minute in ~130 MB, most of it the sets
that keep names unique. It is byte-for-byte deterministic for a seed (set
iteration order never reaches the output).

``expected-codes.json`` holds ``settings``, the ``scenarios`` table (name ->
intended code and description), one ``objects`` line per Exchange object and
per cc:Mail user entry of interest (``key`` as in the audit's rows, ``dn``,
``kind`` (``mailbox``/``custom-recipient``/``group``/``ccmail-user``/
``not-recipient``), ``scenario``, ``role``, ``code``: the finding code the object
was built to show, ``complete`` for none, ``null`` for no row), and a
``summary`` of counts. The codes are intentions, not the full expected rows:
a stale mailbox may also be ``unconfirmed-migration``; the rule engine decides.

Usage::

    python -m toolkit.mocks.orggen OUT --people 300 --seed 7 [--dialect exchange55]
    scripts/make-org OUT ...

or from Python: ``generate(Settings(people=300, seed=7), Path("OUT"))``.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import csv
import io
import json
import re
import shlex
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from random import Random
from typing import IO, Any

from toolkit.text import fold

# --------------------------------------------------------------------------
# Scenarios: what each drawn person is made to be
# --------------------------------------------------------------------------

AD = "ad"
EX55 = "exchange55"
BOTH = frozenset({AD, EX55})
AD_ONLY = frozenset({AD})
EX55_ONLY = frozenset({EX55})


@dataclass(frozen=True, slots=True)
class Scenario:
    """One way a person can stand in the migration lifecycle.

    ``code`` is the finding code the scenario is built to produce on its main
    row (``complete`` for none; ``None`` when the scenario should produce no
    row at all). It is the *intended* code, not the whole expected row: the
    rule engine decides the rest (a stale mailbox, say, may also be
    ``unconfirmed-migration``). Partner objects carry their own code in
    ``expected-codes.json``.
    """

    name: str
    code: str | None
    weight: float
    description: str
    dialects: frozenset[str] = BOTH
    min_sites: int = 1


# Ordered by importance: a run too small to hold every scenario (the tiny 5.5
# demo) gets the first ones.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("complete", "complete", 22,
             "migrated, deleted from cc:Mail, dirsync entry (R/r, Addr = Exchange PO) present"),
    Scenario("not-migrated", "not-migrated", 12,
             "plain cc:Mail L user, no Exchange mailbox"),
    Scenario("stale", "stale-ccmail-mailbox", 8,
             "migrated, old L entry still in its PO; Exchange item count confirms it"),
    Scenario("stale-unconfirmed", "unconfirmed-migration", 3,
             "migrated, L entry still there, Exchange item count below its Messages"),
    Scenario("awaiting-dirsync", "awaiting-dirsync", 5,
             "migrated and deleted from cc:Mail, dirsync has not run yet"),
    Scenario("orphan-custom-recipient", "orphan-custom-recipient", 2,
             "complete mailbox plus a contact left behind carrying its old address"),
    Scenario("missing-secondary", "missing-secondary-address", 0.7,
             "complete mailbox; an L entry of its primary name in a PO where it has no "
             "old address (moved POs before migration)"),
    Scenario("missing-primary-non-exchange", "missing-primary-address", 0.5,
             "the only primary-looking cc:Mail value is at the old PO, none at Exchange"),
    Scenario("name-conflict-namesake", "name-conflict", 0.3,
             "complete mailbox 'Smith, John at EXCH' and a contact 'SMITH, John at PARTNER' "
             "(a namesake at a partner PO): cc:Mail names clash ignoring case"),
    Scenario("duplicate-mailbox-mailbox", "duplicate-address", 0.3,
             "the mailbox was created twice; both carry the same cc:Mail addresses"),
    Scenario("duplicate-contact-contact", "duplicate-address", 0.5,
             "not-migrated user with two contacts sharing one target address"),
    Scenario("duplicate-group-mailbox", "duplicate-address", 0.2,
             "complete mailbox; a group was given the mailbox's old address too"),
    Scenario("invalid-no-at", "invalid-address", 0.15, "cc:Mail value without ' at '"),
    Scenario("invalid-empty-name", "invalid-address", 0.15, "cc:Mail value ' at PO1'"),
    Scenario("invalid-empty-po", "invalid-address", 0.15, "cc:Mail value 'Name at '"),
    Scenario("invalid-quote", "invalid-address", 0.15, "'\"' in the cc:Mail name"),
    Scenario("invalid-bracket", "invalid-address", 0.15, "'[' ']' in the cc:Mail name"),
    Scenario("invalid-control", "invalid-address", 0.15,
             "a control character in the cc:Mail name"),
    Scenario("invalid-non-ascii-po", "invalid-address", 0.15, "non-ASCII PO name (MÜNCHEN)"),
    Scenario("invalid-space-in-po", "invalid-address", 0.15, "space inside the PO name"),
    Scenario("stale-no-count", "stale-ccmail-mailbox", 1.5,
             "stale L entry without a Messages field: nothing to compare, no unconfirmed"),
    Scenario("stale-no-stats", "stale-ccmail-mailbox", 1,
             "stale L entry with Messages; mailbox absent from the stats file"),
    Scenario("stale-remote-pointer", "stale-ccmail-mailbox", 1,
             "L deleted and dirsync ran, but another PO still has an R entry Addr = old PO"),
    Scenario("stale-old-name", "stale-ccmail-mailbox", 1,
             "renamed on migration: old address has a different name, whose L is still there"),
    Scenario("stale-mobile", "stale-ccmail-mailbox", 1,
             "old entry is a mobile R entry with an empty Addr (routes to its own PO)"),
    Scenario("exchange-only-awaiting-dirsync", "awaiting-dirsync", 2,
             "new Exchange user (never on cc:Mail) with a primary, dirsync not run yet"),
    Scenario("exchange-only-complete", "complete", 6,
             "new Exchange user with a primary, dirsync entry present"),
    Scenario("complete-with-alias", "complete", 1,
             "complete, plus cc:Mail alias entries (A/a) of the same name: ignored"),
    Scenario("complete-spacing", "complete", 1,
             "complete, proxies written with upper-case AT and extra white space"),
    Scenario("complete-mixed-case-secondary", "complete", 1,
             "complete, old address typed 'ccMail:' (mixed case is a secondary)"),
    Scenario("complete-nfd", "complete", 0.5,
             "complete, accented name in NFD in the LDIF, NFC in cc:Mail"),
    Scenario("not-migrated-l", "not-migrated", 1, "cc:Mail user with a lower-case 'l' entry"),
    Scenario("not-migrated-with-contact", "not-migrated", 10,
             "not migrated; dirsync's contact for it exists (contact row: complete)"),
    Scenario("orphan-mail-user", "orphan-custom-recipient", 0.5,
             "complete mailbox plus a mail-enabled user (targetAddress) with its old address",
             AD_ONLY),
    Scenario("missing-primary-lowercase", "missing-primary-address", 0.5,
             "cc:Mail values are all lower-case 'ccmail:' (AD: no primary)", AD_ONLY),
    Scenario("missing-primary-mixed-case", "missing-primary-address", 0.5,
             "the Exchange-PO value is typed 'ccMail:', which is not a primary", AD_ONLY),
    Scenario("multiple-primaries", "multiple-primaries", 0.7,
             "two upper-case CCMAIL: values (old PO first, Exchange last)", AD_ONLY),
    Scenario("multiple-primaries-group", "multiple-primaries", 0.2,
             "a group with two upper-case CCMAIL: values (person: complete)", AD_ONLY),
    Scenario("name-conflict-sites", "name-conflict", 0.3,
             "'Smith, John at EXCH' and 'SMITH, John at EXCH2': two sites, one cc:Mail name",
             min_sites=2),
    Scenario("ccmail-remote-only", None, 1,
             "mobile R entry (empty Addr) with no mailbox: not a user row"),
    Scenario("mailbox-without-ccmail", None, 4, "mailbox with no cc:Mail value: no row"),
    Scenario("ignored-user-with-proxies", None, 0.5,
             "AD user without homeMDB/targetAddress still holding CCMAIL proxies: not a "
             "recipient", AD_ONLY),
    Scenario("ignored-computer-with-proxy", None, 0.2,
             "complete person plus a computer object carrying a CCMAIL proxy: ignored",
             AD_ONLY),
    Scenario("ignored-public-folder", None, 0.3,
             "complete person plus a 5.5 public folder with a cc:Mail address: ignored",
             EX55_ONLY),
)  # fmt: skip

SCENARIO_BY_NAME = {s.name: s for s in SCENARIOS}

# The codes of spec.md's finding table that a generated organisation can show
# (source-mismatch needs remote PowerShell, so no file can produce it).
FILE_CODES = (
    "invalid-address", "duplicate-address", "name-conflict", "stale-ccmail-mailbox",
    "orphan-custom-recipient", "missing-primary-address", "multiple-primaries",
    "missing-secondary-address", "unconfirmed-migration", "awaiting-dirsync",
    "not-migrated",
)  # fmt: skip


def applicable(dialect: str, sites: int) -> list[Scenario]:
    """Scenarios that make sense for a dialect and number of Exchange sites."""
    return [s for s in SCENARIOS if dialect in s.dialects and sites >= s.min_sites]


# --------------------------------------------------------------------------
# Name pools (every string encodes in cp850, as DOS cc:Mail needs)
# --------------------------------------------------------------------------

SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
    "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards",
    "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson",
    "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood",
    "Watson", "Brooks", "Bennett", "Gray", "Hughes", "Price", "Sanders", "Myers",
    "Ross", "Foster", "Cole", "Doe", "Grewal", "Ferguson", "O'Brien", "O'Neill",
    "McDonald", "MacLeod", "de Vries", "van Dijk", "van der Berg", "Jansen", "Bakker",
    "Visser", "Meijer", "de Jong", "Müller", "Schmidt", "Schneider", "Fischer", "Weber",
    "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer",
    "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun",
    "Krüger", "Hartmann", "Lange", "Weiß", "Strauß", "Gößling", "Jørgensen", "Sørensen",
    "Ødegård", "Åberg", "Håkansson", "Björk", "Lindström", "Öberg", "Nyström",
    "Dubois", "Lefèvre", "Fontaine", "Gagné", "Côté", "Lévesque", "Bélanger", "Bérubé",
    "Chevalier", "Mercier", "García", "Martínez", "Rodríguez", "Hernández", "López",
    "González", "Pérez", "Sánchez", "Ramírez", "Núñez", "Muñoz", "Ibáñez", "Peña",
    "Gómez", "Díaz", "Gonçalves", "Conceição", "Brändli", "Zürcher", "Þórsson",
    "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "Greco", "Bruno", "Gallo", "Conti", "Costa", "Fontana", "Rinaldi", "Barbieri",
    "Nowak", "Kowalski", "Novák", "Horváth", "Nagy", "Kovács", "Tóth", "Szabó",
    "Janssens", "Peeters", "Maes", "Claes", "Goossens", "Wouters", "Dupont", "Lambert",
    "Hansen", "Nielsen", "Pedersen", "Andersen", "Larsen", "Olsen", "Johansson",
    "Karlsson", "Nilsson", "Eriksson", "Virtanen", "Korhonen", "Mäkinen", "Nieminen",
    "Silva", "Santos", "Oliveira", "Sousa", "Ferreira", "Pereira", "Carvalho",
    "Murray", "Quinn", "Byrne", "Ryan", "Walsh", "O'Connor", "Fitzgerald", "Doyle",
)  # fmt: skip
GIVEN = (
    "John", "Jane", "Grover", "Mary", "Michael", "Sarah", "David", "Laura", "James",
    "Emma", "Robert", "Linda", "William", "Susan", "Richard", "Karen", "Thomas",
    "Nancy", "Daniel", "Lisa", "Paul", "Betty", "Mark", "Helen", "Peter", "Anna",
    "Jeff", "Olivia", "At", "Kees", "Anouk", "Sanne", "Joost", "Daan", "Jürgen", "Jörg",
    "Günther", "Käthe", "Björn", "Søren", "Åsa", "Øyvind", "Håkon", "Mårten", "Ingrid",
    "Sigrún", "Þóra", "René", "Renée", "Hélène", "Chloé", "Zoë", "Noël", "François",
    "Françoise", "Jérôme", "Gaël", "Loïc", "José", "Iñigo", "Inés", "María", "Ángel",
    "João", "Dörte", "Ulrike", "Klaus", "Heike", "Maëlle", "Bartholomew", "Ann", "Kat",
    "Giulia", "Marco", "Luca", "Francesca", "Piotr", "Agnieszka", "Tomás", "Zsófia",
    "Lieve", "Pieter", "Mette", "Lars", "Kirsten", "Anders", "Aino", "Mikko", "Ana",
    "Luís", "Inês", "Patrick", "Siobhán", "Seán", "Aoife", "Ciarán", "Brigitte",
    "Dieter", "Élodie", "Théo", "Cécile", "Agnès", "Ursula", "Wolfgang", "Grete",
)  # fmt: skip
INITIALS = tuple(f"{c}." for c in "ABCDEFGHJKLMNPRSTW")
# Names shown by the first instance of some scenarios, so the demo tells its
# story with recognisable people (and always holds a name with ' at ' inside).
FEATURED = {
    "complete": ("Cole", "At"),
    "exchange-only-complete": ("Smith", "Grover"),
    "not-migrated": ("Müller", "Jürgen"),
    "stale": ("Ødegård", "Søren"),
    "stale-unconfirmed": ("Smith", "John"),
    "awaiting-dirsync": ("Muñoz", "Iñigo"),
    "missing-secondary": ("Strauß", "Käthe"),
    "orphan-custom-recipient": ("Lefèvre", "Hélène"),
    "name-conflict-namesake": ("Doe", "Jane"),
    "stale-old-name": ("Weiß", "Renée"),
    "complete-nfd": ("Ibáñez", "José"),
}
COMMENTS = (
    "Sales, 2nd floor", "Accounting", "Comptabilité, Bât. B", "Entwicklung, 3. Stock",
    "Help desk", "Legal", "Marketing, Room 214", "Logística", "IT Operations",
    "Vertrieb Süd", "Direction générale", "Warehouse", "Personalabteilung",
)  # fmt: skip
DEPARTMENTS = ("Sales", "Finance", "IT", "Legal", "Marketing", "Operations", "HR", "Support")

_ASCII_MAP = str.maketrans(
    {"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ð": "d", "Ð": "D",
     "þ": "th", "Þ": "Th"}
)  # fmt: skip


@lru_cache(maxsize=8192)
def ascii_fold(text: str) -> str:
    """ASCII letters and digits only: what SMTP, X.400 and account names get."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_MAP))
    return re.sub(r"[^A-Za-z0-9]", "", text.encode("ascii", "ignore").decode())


_RDN_SPECIAL = re.compile(r'[,+"\\<>;#]|^ | $')


def escape_rdn(value: str) -> str:
    """RFC 4514 escaping of an RDN value (``Smith\\, John``), as AD writes DNs."""
    if not _RDN_SPECIAL.search(value):
        return value
    out = re.sub(r'([,+"\\<>;])', r"\\\1", value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------

# RFC 2849 SAFE-STRING, made stricter: printable ASCII, no leading space,
# colon or '<', no trailing space (editors strip those), no controls.
LDIF_WIDTH = 76
# Attributes whose values repeat across the whole file (per site at most).
_CONSTANT_ATTRS = frozenset({"changetype", "objectClass", "groupType", "homeMDB",
                             "msExchHomeServerName"})


def _plain_ascii(value: str) -> bool:
    """RFC 2849 SAFE-STRING, stricter: printable ASCII, no trailing space."""
    return (
        value.isascii()
        and value.isprintable()
        and value != ""
        and value[0] not in " :<"
        and value[-1] != " "
    )


def _plain_wide(value: str) -> bool:
    """UTF-16 (ldifde -u) files carry printable non-ASCII text unencoded."""
    return (
        bool(value)
        and value.isprintable()
        and value[0] not in " :<"
        and not value.endswith(" ")
    )


class LdifWriter:
    """Writes LDIF records one at a time, folded at 76 characters.

    ``utf16``: UTF-16 LE with a BOM and CRLF, non-ASCII printable values in
    the clear (as ``ldifde -u``); otherwise the file is pure ASCII: every
    value that is not a SAFE-STRING goes out base64 (``attr:: ...``).
    """

    def __init__(self, path: Path, *, utf16: bool = False, crlf: bool = False) -> None:
        self.eol = "\r\n" if (crlf or utf16) else "\n"
        self._plain: Callable[[str], object]
        if utf16:
            raw = path.open("wb")
            raw.write(codecs.BOM_UTF16_LE)
            self._fh: IO[str] = io.TextIOWrapper(
                io.BufferedWriter(raw, 1 << 20), encoding="utf-16-le", newline=""
            )
            self._plain = _plain_wide
        else:
            self._fh = path.open("w", encoding="ascii", newline="", buffering=1 << 20)
            self._plain = _plain_ascii
        self.entries = 0
        self._cache: dict[tuple[str, str], str] = {}

    def comment(self, text: str) -> None:
        self._fh.write(f"# {text}{self.eol}" if text else f"#{self.eol}")

    def raw(self, text: str) -> None:
        self._fh.write(text + self.eol)

    def line(self, name: str, value: str | bytes) -> str:
        """One attribute line, base64 when the value is not safe, folded at 76."""
        if isinstance(value, bytes):
            text = name + ":: " + base64.b64encode(value).decode()
        elif self._plain(value):
            text = name + ": " + value
        else:
            text = name + ":: " + base64.b64encode(value.encode()).decode()
        if len(text) <= LDIF_WIDTH:
            return text
        step = LDIF_WIDTH - 1
        parts = [text[:LDIF_WIDTH]]
        parts += [" " + text[i : i + step] for i in range(LDIF_WIDTH, len(text), step)]
        return self.eol.join(parts)

    def entry(self, dn: str, attrs: Sequence[tuple[str, str | bytes]]) -> None:
        line, cache = self.line, self._cache
        lines = [line("dn", dn)]
        for name, value in attrs:
            if name in _CONSTANT_ATTRS:  # a few hundred distinct values: render once
                text = cache.get((name, value))  # type: ignore[arg-type]
                if text is None:
                    text = cache[(name, value)] = line(name, value)  # type: ignore[index]
                lines.append(text)
            else:
                lines.append(line(name, value))
        lines.append("")
        lines.append("")
        self._fh.write(self.eol.join(lines))
        self.entries += 1

    def close(self) -> None:
        self._fh.close()


class CcmailWriter:
    """One post office's directory in the spec's keyword-colon format."""

    def __init__(self, path: Path, po: str, *, encoding: str, crlf: bool) -> None:
        self.po = po
        self.path = path
        self.eol = "\r\n" if crlf else "\n"
        self._fh = path.open("w", encoding=encoding, newline="", buffering=1 << 18)
        self._fh.write(f"Post office: {po}{self.eol}")
        self.counts: dict[str, int] = {}

    def record(self, fields: Sequence[tuple[str, str | None]], locn: str) -> None:
        eol = self.eol
        out = [eol]
        for key, value in fields:
            if value is None:
                continue
            out.append(f"{key}: {value}{eol}" if value else f"{key}:{eol}")
        self._fh.write("".join(out))
        self.counts[locn] = self.counts.get(locn, 0) + 1

    def close(self) -> None:
        self._fh.close()


class ExpectedWriter:
    """``expected-codes.json``, streamed: objects first, summary last."""

    def __init__(self, path: Path, head: dict[str, Any]) -> None:
        self._fh = path.open("w", encoding="utf-8", newline="\n", buffering=1 << 18)
        self._fh.write("{\n")
        for key, value in head.items():
            self._fh.write(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
        self._fh.write('"objects": [')
        self._sep = "\n"
        self._quote: Callable[[str], str] = json.encoder.encode_basestring

    def add(self, key: str, dn: str | None, kind: str, scenario: str, role: str,
            code: str | None, person: int) -> None:
        """One object; formatted by hand because json.dumps per object cost a fifth
        of the run time at 200,000 people."""
        q = self._quote
        self._fh.write(
            f'{self._sep}{{"key": {q(key)}, "dn": {q(dn) if dn is not None else "null"}, '
            f'"kind": {q(kind)}, "scenario": {q(scenario)}, "role": {q(role)}, '
            f'"code": {q(code) if code is not None else "null"}, "person": {person}}}'
        )
        self._sep = ",\n"

    def close(self, summary: dict[str, Any]) -> None:
        self._fh.write("\n],\n")
        self._fh.write(f'"summary": {json.dumps(summary, ensure_ascii=False, indent=1)}\n}}\n')
        self._fh.close()


# --------------------------------------------------------------------------
# Settings and people
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------

CcValue = tuple[str, str]  # (type as written: CCMAIL / ccmail / ccMail, "name at PO")


def at(name: str, po: str) -> str:
    return f"{name} at {po}"


class OrgGenerator:
    """Draws people and writes both sides of the organisation as it goes."""

    GROUP_EVERY = 25
    COMPUTER_EVERY = 40
    SERVICE_EVERY = 60
    EXTERNAL_EVERY = 50
    UNKNOWN_STATS_EVERY = 150
    REPLICA_RATE = 0.2  # chance that a spoke other than the hub replicates an entry

    def __init__(self, settings: Settings, out: Path, command: str | None = None) -> None:
        settings.validate()
        self.s = settings
        self.out = out
        self.command = command
        self.rng = Random(settings.seed)
        self.ad = settings.dialect == AD
        parts = settings.domain.split(".")
        self.base = ",".join(f"DC={p}" for p in parts) if self.ad else f"o={settings.org}"
        self.summary = Summary()
        self._names: set[str] = set()
        self._sams: set[str] = set()
        self._smtps: set[str] = set()
        self._dns: set[str] = set()
        self._next_suffix: dict[str, int] = {}
        self._featured_left = dict(FEATURED)
        for surname, given in FEATURED.values():
            self._names.add(fold(f"{surname}, {given}"))
        self._recent_mailboxes: list[str] = []
        self._groups = 0
        self._computers = 0
        self._services = 0
        self._unknown = 0
        self._person_index = 0

    # ---- driving ---------------------------------------------------------

    def run(self) -> Summary:
        started = time.perf_counter()
        s = self.s
        ccdir = self.out / "ccmail"
        ccdir.mkdir(parents=True, exist_ok=True)
        self.ldif = LdifWriter(self.out / "org.ldif", utf16=s.utf16, crlf=s.crlf)
        self.cc = {
            po: CcmailWriter(ccdir / f"{po}.txt", po, encoding=s.ccmail_encoding, crlf=s.crlf)
            for po in s.ccmail_pos
        }
        self.stats_fh = (self.out / "stats.csv").open("w", encoding="utf-8", newline="")
        self.stats = csv.writer(self.stats_fh, lineterminator="\n")
        self.stats.writerow(["identity", "item_count"])
        self.expected = ExpectedWriter(self.out / "expected-codes.json", self._head())
        try:
            self._ldif_header()
            self._post_office_entries()
            self._structure()
            for i, scenario in enumerate(self._schedule()):
                self._person_index = i
                self.summary.scenarios[scenario.name] = (
                    self.summary.scenarios.get(scenario.name, 0) + 1
                )
                getattr(self, "_s_" + scenario.name.replace("-", "_"))(scenario.name)
                self._periodic(i + 1)
            self.summary.people = s.people
            self.ldif.comment("")
            self.ldif.comment(f"numEntries: {self.ldif.entries}")
        finally:
            self.ldif.close()
            for writer in self.cc.values():
                writer.close()
            self.stats_fh.close()
        if not s.stats:
            (self.out / "stats.csv").unlink()
        self.summary.ldif_entries = self.ldif.entries
        self.summary.ccmail_entries = {
            po: dict(sorted(w.counts.items())) for po, w in self.cc.items()
        }
        self.summary.seconds = round(time.perf_counter() - started, 3)
        summary = asdict(self.summary)
        del summary["seconds"]  # keeps the file deterministic
        self.expected.close(summary)
        self._readme()
        return self.summary

    def _schedule(self) -> Iterator[Scenario]:
        """Every applicable scenario once (if room), the rest drawn by weight."""
        pool = applicable(self.s.dialect, len(self.s.exchange_pos))
        n = self.s.people
        required = pool[: min(n, len(pool))]
        self.rng.shuffle(required)
        slots = self.rng.sample(range(n), len(required))
        positions = dict(zip(slots, required, strict=True))
        cum: list[float] = []
        total = 0.0
        for sc in pool:
            total += sc.weight
            cum.append(total)
        for i in range(n):
            fixed = positions.get(i)
            yield fixed if fixed is not None else self.rng.choices(pool, cum_weights=cum)[0]

    def _periodic(self, count: int) -> None:
        """Objects that are not people: groups, computers, service accounts."""
        if count % self.GROUP_EVERY == 0:
            self._background_group()
        if count % self.COMPUTER_EVERY == 0:
            if self.ad:
                self._computer(None)
            else:
                self._public_folder(with_ccmail=False)
        if count % self.SERVICE_EVERY == 0 and self.ad:
            self._service_account()
        if count % self.EXTERNAL_EVERY == 0:
            self._external_recipient()
        if count % self.UNKNOWN_STATS_EVERY == 0:
            self._unknown += 1
            self._stat(f"departed.user{self._unknown}@old.{self.s.domain}", self._int(0, 900))

    # ---- randomness helpers ---------------------------------------------

    def _p(self, probability: float) -> bool:
        return self.rng.random() < probability

    def _int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def _pick(self, seq: Sequence[str]) -> str:
        return seq[int(self.rng.random() * len(seq))]

    # ---- people and identifiers -----------------------------------------

    def _fresh_name(
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

    def _person(self, scenario: str, *, site: str | None = None, nfd_able: bool = False) -> Person:
        surname, given, name = self._fresh_name(scenario, nfd_able=nfd_able)
        sites = self.s.exchange_pos
        if site is None:
            site = sites[0] if len(sites) == 1 or self._p(0.7) else self._pick(sites[1:])
        home = self.s.hub if self._p(0.1) else self._pick(self.s.spoke_pos)
        return Person(self._person_index, surname, given, name, site, home)

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

    def _account(
        self, surname: str, given: str, cn: str, *, smtp_domain: str | None = None
    ) -> Account:
        sam = self._unique(self._sams, (ascii_fold(given)[:1] + ascii_fold(surname)).lower(), 20)
        local = ".".join(part for part in (ascii_fold(given), ascii_fold(surname)) if part)
        local = self._unique(self._smtps, local, 60)
        domain = smtp_domain or self.s.domain
        guid = self.rng.getrandbits(128).to_bytes(16, "little")
        return Account(cn, sam, f"{local}@{domain}", guid)

    def _dn(self, rdn_value: str, parent: str) -> str:
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

    def _ou(self, name: str, parent: str | None = None) -> str:
        parent = parent or self.base
        return f"OU={escape_rdn(name)},{parent}" if self.ad else f"ou={escape_rdn(name)},{parent}"

    def _container_dn(self, name: str, parent: str | None = None) -> str:
        parent = parent or self.base
        return f"{'CN' if self.ad else 'cn'}={escape_rdn(name)},{parent}"

    def _staff_ou(self, po: str) -> str:
        return self._ou("Staff", self._ou(po, self._ou("Sites")))

    def _recipients_55(self, site: str) -> str:
        return self._container_dn("Recipients", self._ou(site))

    def _structure(self) -> None:
        """Domain root, OUs and containers, written before any object."""
        s = self.s
        self.ldif.comment("Containers")
        if self.ad:
            self._not_recipient(self.base, [("changetype", "add"), ("objectClass", "top"),
                                            ("objectClass", "domain"),
                                            ("objectClass", "domainDNS"),
                                            ("dc", s.domain.split(".")[0])])
            for name in ("Users", "Computers", "Microsoft Exchange System Objects"):
                self._not_recipient(self._container_dn(name), self._container_attrs(name))
            for name in ("Sites", "cc:Mail Recipients", "External", "Groups", "Service Accounts"):
                self._not_recipient(self._ou(name), self._ou_attrs(name))
            for po in [*s.ccmail_pos, *s.exchange_pos]:
                self._not_recipient(self._ou(po, self._ou("Sites")), self._ou_attrs(po))
                self._not_recipient(self._staff_ou(po), self._ou_attrs("Staff"))
        else:
            self._not_recipient(self.base, [("objectClass", "organization"),
                                            ("objectClass", "Top"), ("o", s.org)])
            for site in s.exchange_pos:
                self._not_recipient(self._ou(site), [("objectClass", "organizationalUnit"),
                                                     ("objectClass", "Top"), ("ou", site)])
                for name in ("Recipients", "ccMail Recipients", "Public Folders"):
                    self._not_recipient(self._container_dn(name, self._ou(site)),
                                        [("objectClass", "container"), ("objectClass", "Top"),
                                         ("cn", name)])
        self.ldif.comment("")
        self.ldif.comment("Recipients and everything else, in creation order")

    def _container_attrs(self, name: str) -> list[tuple[str, str | bytes]]:
        return [("changetype", "add"), ("objectClass", "top"), ("objectClass", "container"),
                ("cn", name), ("objectGUID", self._guid())]

    def _ou_attrs(self, name: str) -> list[tuple[str, str | bytes]]:
        return [("changetype", "add"), ("objectClass", "top"),
                ("objectClass", "organizationalUnit"), ("ou", name),
                ("objectGUID", self._guid())]

    def _guid(self) -> bytes:
        return self.rng.getrandbits(128).to_bytes(16, "little")

    def _ldif_header(self) -> None:
        s = self.s
        self.ldif.comment("ccmig synthetic organisation (mocks/orggen.py): not a real directory")
        self.ldif.comment(f"dialect {s.dialect}, seed {s.seed}, {s.people} people")
        style = "ldifde -f org.ldif -u" if s.utf16 else "ldifde -f org.ldif"
        self.ldif.comment(f"exported as by: {style}" if self.ad else "exported as by: ldapsearch")
        self.ldif.raw("version: 1")
        self.ldif.raw("")

    # ---- recording -------------------------------------------------------

    def _emit(self, dn: str, attrs: Sequence[tuple[str, str | bytes]], kind: str,
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
        self.expected.add("dn:" + fold(dn), dn, kind, scenario, role, shown, self._person_index)

    def _not_recipient(self, dn: str, attrs: list[tuple[str, str | bytes]]) -> None:
        self.ldif.entry(dn, attrs)
        ex = self.summary.exchange
        ex["not-recipient"] = ex.get("not-recipient", 0) + 1

    def _stat(self, identity: str, count: int) -> None:
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

    def _mailbox(
        self, p: Person, values: Sequence[CcValue], scenario: str, *,
        role: str = "mailbox", code: str | None = None, stats: str = "random",
        messages: int = 0, name: str | None = None, site: str | None = None,
        ou_po: str | None = None, nfd: bool = False,
    ) -> str:
        """Write a mailbox; ``stats``: random | confirm | short | omit."""
        name = name or p.name
        site = site or p.site
        code = code if code is not None else SCENARIO_BY_NAME[scenario].code
        acct = self._account(p.surname, p.given, name)
        proxies = self._render(values, nfd)
        if self.ad:
            dn = self._dn(name, self._staff_ou(ou_po or site))
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
            dn = self._dn(acct.sam, self._recipients_55(site))
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
        self._emit(dn, attrs, "mailbox", scenario, role, code, bool(values))
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
            self._stat(self._pick(identities), count)
        return dn

    def _date(self) -> str:
        return f"{self._int(1, 12):02d}/{self._int(1, 28):02d}/{self._pick(('1999', '2000'))}"

    def _server(self, site: str) -> str:
        return f"EXSRV{self.s.exchange_pos.index(site) + 1:02d}"

    def _contact(
        self, p: Person, target: str, scenario: str, *, role: str = "contact",
        code: str | None = None, name: str | None = None, mail_user: bool = False,
        prefix: str = "CCMAIL",
    ) -> str:
        """A custom recipient: AD contact (or mail-enabled user), 5.5 remote-address."""
        name = name or p.name
        code = code if code is not None else SCENARIO_BY_NAME[scenario].code
        acct = self._account(p.surname, p.given, name, smtp_domain=f"ccmail.{self.s.domain}")
        kind = "custom-recipient"
        if self.ad:
            parent = self._ou("External") if mail_user else self._ou("cc:Mail Recipients")
            dn = self._dn(name, parent)
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
            dn = self._dn(acct.sam, self._container_dn("ccMail Recipients",
                                                       self._ou(self.s.exchange_pos[0])))
            target_attr = "Target-Address" if self._p(0.5) else "targetAddress"
            attrs = [("objectClass", "remote-address"), ("objectClass", "person"),
                     ("objectClass", "Top"), ("cn", name), ("uid", acct.sam),
                     ("mail", acct.smtp), ("rfc822Mailbox", acct.smtp),
                     ("otherMailbox", f"{prefix}${target}"),
                     (target_attr, f"{prefix}:{target}")]
        self._emit(dn, attrs, kind, scenario, role, code, True)
        return dn

    def _group(self, name: str, values: Sequence[CcValue], scenario: str, *, role: str = "group",
               code: str | None = "complete", site: str | None = None) -> str:
        site = site or self.s.exchange_pos[0]
        acct = self._account(name, "", name)
        alias = acct.sam
        members = list(self._recent_mailboxes[-self._int(1, 5):])
        if self.ad:
            dn = self._dn(name, self._ou("Groups"))
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
            dn = self._dn(alias, self._recipients_55(site))
            attrs = [("objectClass", "groupOfNames"), ("objectClass", "Top"), ("cn", name),
                     ("uid", alias), ("mail", acct.smtp), ("rfc822Mailbox", acct.smtp)]
            attrs += [("otherMailbox", v) for v in self._render(values)]
            attrs += [("member", m) for m in members or [self._recipients_55(site)]]
        self._emit(dn, attrs, "group", scenario, role, code, bool(values))
        return dn

    def _group_name(self, stem: str) -> str:
        """A list name unique among people and lists (cc:Mail names are one space)."""
        for n in range(1, 100000):
            name = stem if n == 1 else f"{stem} {n}"
            if fold(name) not in self._names:
                self._names.add(fold(name))
                return name
        raise RuntimeError("group name space exhausted")

    def _background_group(self) -> None:
        self._groups += 1
        dept = self._pick(DEPARTMENTS)
        site = self._pick(self.s.exchange_pos)
        if not self.ad or self._p(0.75):
            name = self._group_name(f"{dept} {self._pick(self.s.ccmail_pos)} List")
            self._group(name, [("CCMAIL", at(name, site))], "background-group", site=site)
        else:
            name = self._group_name(f"SG {dept} Access")
            self._group(name, [], "background-group", code=None, site=site)

    def _computer(self, proxy: str | None, scenario: str = "background-computer") -> None:
        self._computers += 1
        name = f"WS{self._computers:05d}"
        dn = self._dn(name, self._container_dn("Computers"))
        sam = self._unique(self._sams, f"{name}$", 20)
        attrs: list[tuple[str, str | bytes]] = [
            ("changetype", "add"), ("objectClass", "top"), ("objectClass", "person"),
            ("objectClass", "organizationalPerson"), ("objectClass", "user"),
            ("objectClass", "computer"), ("cn", name), ("sAMAccountName", sam),
            ("dNSHostName", f"{name.lower()}.{self.s.domain}"),
        ]
        if proxy:
            attrs.append(("proxyAddresses", f"CCMAIL:{proxy}"))
        attrs.append(("objectGUID", self._guid()))
        self._emit(dn, attrs, "not-recipient", scenario, "computer", None, bool(proxy))

    def _service_account(self) -> None:
        self._services += 1
        name = f"svc-app{self._services:04d}"
        dn = self._dn(name, self._ou("Service Accounts"))
        sam = self._unique(self._sams, name, 20)
        attrs: list[tuple[str, str | bytes]] = [
            ("changetype", "add"), ("objectClass", "top"), ("objectClass", "person"),
            ("objectClass", "organizationalPerson"), ("objectClass", "user"), ("cn", name),
            ("sAMAccountName", sam), ("userPrincipalName", f"{sam}@{self.s.domain}"),
            ("objectGUID", self._guid())]
        self._emit(dn, attrs, "not-recipient", "background-service-account", "user", None, False)

    def _external_recipient(self) -> None:
        """A partner's SMTP contact / mail-enabled user: a custom recipient with no
        cc:Mail value, so it is classified but gets no row."""
        surname, given, name = self._fresh_name()
        acct = self._account(surname, given, name, smtp_domain="partner.example")
        if self.ad:
            mail_user = self._p(0.5)
            dn = self._dn(name, self._ou("External"))
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
            dn = self._dn(acct.sam, self._recipients_55(self.s.exchange_pos[0]))
            attrs = [("objectClass", "remote-address"), ("objectClass", "person"),
                     ("objectClass", "Top"), ("cn", name), ("uid", acct.sam),
                     ("mail", acct.smtp), ("Target-Address", f"SMTP:{acct.smtp}")]
        self._emit(dn, attrs, "custom-recipient", "background-external", "external", None, False)

    def _public_folder(self, *, with_ccmail: bool, scenario: str = "background-folder") -> None:
        self._computers += 1
        site = self.s.exchange_pos[0]
        name = self._group_name(f"Public Folder {self._computers}")
        dn = self._dn(name, self._container_dn("Public Folders", self._ou(site)))
        attrs: list[tuple[str, str | bytes]] = [
            ("objectClass", "publicFolder"), ("objectClass", "Top"), ("cn", name),
            ("mail", f"pf{self._computers}@{self.s.domain}")]
        if with_ccmail:
            attrs.append(("otherMailbox", f"CCMAIL${at(name, site)}"))
        self._emit(dn, attrs, "not-recipient", scenario, "public-folder", None, with_ccmail)

    # ---- cc:Mail entries -------------------------------------------------

    def _key(self, key: str) -> str:
        """Keys are case-insensitive: now and then write one the way a script did."""
        r = self.rng.random()
        return key.upper() if r < 0.01 else key.lower() if r < 0.02 else key

    def _entry(self, po: str, name: str, locn: str, addr: str | None = "",
               comments: str | None = None, messages: int | None = None,
               extra: Sequence[tuple[str, str]] = ()) -> None:
        fields: list[tuple[str, str | None]] = [("Name", name), (self._key("Locn"), locn),
                                                (self._key("Addr"), addr)]
        if comments:
            fields.append(("Comments", comments))
        if messages is not None:
            fields.append((self._key("Messages"), str(messages)))
        fields += list(extra)
        self.cc[po].record(fields, locn)

    def _alias(self, po: str, p: Person, locn: str) -> None:
        """An ``A``/``a`` entry ``J. Smith`` -> the person; skipped if the name is taken."""
        alias = f"{p.given[:1]}. {p.surname}"
        if fold(alias) not in self._names:
            self._names.add(fold(alias))
            self._entry(po, alias, locn, p.name)

    def _extras(self) -> list[tuple[str, str]]:
        """Unknown keys (phone, department): readers must keep, not choke on, them."""
        if not self._p(0.12):
            return []
        return [("Phone", f"555-{self._int(100, 9999):04d}"),
                ("Dept", self._pick(DEPARTMENTS))][: self._int(1, 2)]

    def _other_po(self, *avoid: str) -> str:
        choices = [po for po in self.s.ccmail_pos if po not in avoid]
        return self._pick(choices)

    def _replicas(self, name: str, target_po: str) -> None:
        """Directory propagation: the hub knows everyone; now and then a spoke too."""
        if target_po != self.s.hub:
            self._entry(self.s.hub, name, self._pick("Rr"), target_po)
        if self._p(self.REPLICA_RATE) and set(self.s.spoke_pos) - {target_po}:
            self._entry(self._other_po(self.s.hub, target_po), name, "r", target_po)

    def _local(self, name: str, home: str, *, locn: str = "L", messages: int | None = -1,
               replicate: bool = True) -> int | None:
        """An L/l user (mailbox in ``home``); ``messages=-1``: random, maybe absent."""
        if messages == -1:
            messages = self._int(0, 2500) if self._p(0.85) else None
        self._entry(home, name, locn, "", self._pick(COMMENTS) if self._p(0.7) else None,
                    messages, self._extras())
        if replicate:
            self._replicas(name, home)
        return messages

    def _dirsync(self, name: str, site: str, *, avoid: str | None = None) -> None:
        """The entry Import.exe creates for an Exchange user: routes to the site.

        It lands in the hub (where the connector is) and propagates to some
        spokes; ``avoid`` keeps it out of a PO that already has that name.
        """
        self._entry(self.s.hub, name, self._pick("Rr"), site,
                    "Exchange user" if self._p(0.1) else None)
        if self._p(self.REPLICA_RATE) and set(self.s.spoke_pos) - {avoid}:
            self._entry(self._other_po(self.s.hub, *([avoid] if avoid else [])), name, "r", site)

    def _expect_user(self, name: str, po: str, scenario: str, code: str | None,
                     role: str = "ccmail-user") -> None:
        key = "ccmail:" + fold(f"{name}@{po}")
        self.expected.add(key, None, "ccmail-user", scenario, role, code, self._person_index)

    def _post_office_entries(self) -> None:
        """P/p entries: the hub links every spoke and the Exchange connector(s)."""
        s = self.s
        hub = self.cc[s.hub]
        for po in s.spoke_pos:
            hub.record([("Name", po), ("Locn", "P"), ("Addr", f"\\\\CCSRV\\{po}\\CCDATA"),
                        ("Comments", "LAN link")], "P")
        for n, site in enumerate(s.exchange_pos, 1):
            hub.record([("Name", site), ("Locn", "P"), ("Addr", ""),
                        ("Comments", f"MSExchangeCCMC EXSRV{n:02d}")], "P")
        hub.record([("Name", s.partner_po), ("Locn", "P"), ("Addr", "X25:31102080"),
                    ("Comments", "Partner gateway")], "P")
        for po in s.spoke_pos:
            w = self.cc[po]
            w.record([("Name", s.hub), ("Locn", "P"), ("Addr", "\\\\CCSRV\\HUBPO\\CCDATA"),
                      ("Comments", "Hub")], "P")
            for other in [*s.spoke_pos, *s.exchange_pos, s.partner_po]:
                if other != po:
                    w.record([("Name", other), ("Locn", "p"), ("Addr", s.hub),
                              ("Comments", f"via {s.hub}")], "p")

    # ---- scenarios -------------------------------------------------------
    # Each _s_<name> draws one person and writes every object the scenario
    # needs. The standard migrated mailbox carries the two addresses of
    # Q253306: primary CCMAIL:<name> at <site>, secondary ccmail:<name> at <old PO>.

    def _migrated_values(self, p: Person) -> list[CcValue]:
        return [("CCMAIL", at(p.name, p.site)), ("ccmail", at(p.name, p.home))]

    def _complete(self, scenario: str, p: Person | None = None, **kw: Any) -> Person:
        p = p or self._person(scenario)
        self._mailbox(p, self._migrated_values(p), scenario, ou_po=p.home, **kw)
        self._dirsync(p.name, p.site)
        return p

    def _s_complete(self, sc: str) -> None:
        self._complete(sc)

    def _s_not_migrated(self, sc: str, locn: str = "L") -> None:
        p = self._person(sc)
        self._local(p.name, p.home, locn=locn)
        if self._p(0.05):
            self._alias(p.home, p, "a")
        self._expect_user(p.name, p.home, sc, "not-migrated")

    def _s_not_migrated_l(self, sc: str) -> None:
        self._s_not_migrated(sc, "l")

    def _s_not_migrated_with_contact(self, sc: str) -> None:
        p = self._person(sc)
        self._local(p.name, p.home)
        self._contact(p, at(p.name, p.home), sc, code="complete")
        self._expect_user(p.name, p.home, sc, "not-migrated")

    def _stale(self, sc: str, *, messages: int | None = -1, stats: str = "confirm",
               nonzero: bool = False) -> None:
        p = self._person(sc)
        if messages == -1:
            messages = self._int(1 if nonzero else 0, 2500)
        self._local(p.name, p.home, messages=messages)
        self._mailbox(p, self._migrated_values(p), sc, ou_po=p.home, stats=stats,
                      messages=messages or 0)
        self._expect_user(p.name, p.home, sc, None, "stale-entry")

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
        p = self._person(sc)
        self._mailbox(p, self._migrated_values(p), sc, ou_po=p.home)
        self._entry(self._other_po(p.home), p.name, "R", p.home)

    def _s_stale_old_name(self, sc: str) -> None:
        p = self._person(sc)
        old_surname, _, _ = self._fresh_name()
        old = f"{old_surname}, {p.given}"
        if fold(old) in self._names:
            old = self._fresh_name()[2]
        self._names.add(fold(old))
        messages = self._local(old, p.home, messages=self._int(0, 2500))
        values = [("CCMAIL", at(p.name, p.site)), ("ccmail", at(old, p.home))]
        self._mailbox(p, values, sc, ou_po=p.home, stats="confirm", messages=messages or 0)
        self._expect_user(old, p.home, sc, None, "stale-entry")

    def _s_stale_mobile(self, sc: str) -> None:
        p = self._person(sc)
        messages = self._int(0, 800) if self._p(0.5) else None
        self._entry(p.home, p.name, "R", self._pick(("", "  ")) if self._p(0.7) else None,
                    "Mobile", messages)
        self._replicas(p.name, p.home)
        self._mailbox(p, self._migrated_values(p), sc, ou_po=p.home, stats="confirm",
                      messages=messages or 0)

    def _s_awaiting_dirsync(self, sc: str) -> None:
        p = self._person(sc)
        self._mailbox(p, self._migrated_values(p), sc, ou_po=p.home)

    def _s_exchange_only_awaiting_dirsync(self, sc: str) -> None:
        p = self._person(sc)
        self._mailbox(p, [("CCMAIL", at(p.name, p.site))], sc)

    def _s_exchange_only_complete(self, sc: str) -> None:
        p = self._person(sc)
        self._mailbox(p, [("CCMAIL", at(p.name, p.site))], sc)
        self._dirsync(p.name, p.site)

    def _s_complete_with_alias(self, sc: str) -> None:
        p = self._person(sc)
        # An alias of the very name that migrated, which would look stale if aliases
        # were read as users; kept out of any PO holding a user entry of that name.
        alias_po = p.home if p.home != self.s.hub else self._pick(self.s.spoke_pos)
        self._mailbox(p, self._migrated_values(p), sc, ou_po=p.home)
        self._dirsync(p.name, p.site, avoid=alias_po)
        self._entry(alias_po, p.name, "a", p.home, "alias left after migration")
        self._alias(self.s.hub, p, "A")

    def _s_complete_spacing(self, sc: str) -> None:
        p = self._person(sc)
        spaced = p.name.replace(" ", "  ")
        values = [("CCMAIL", f" {spaced}  AT  {p.site}"), ("ccmail", f"{p.name} AT {p.home} ")]
        self._mailbox(p, values, sc, ou_po=p.home)
        self._dirsync(p.name, p.site)

    def _s_complete_mixed_case_secondary(self, sc: str) -> None:
        p = self._person(sc)
        values = [("CCMAIL", at(p.name, p.site)), ("ccMail", at(p.name, p.home))]
        self._mailbox(p, values, sc, ou_po=p.home)
        self._dirsync(p.name, p.site)

    def _s_complete_nfd(self, sc: str) -> None:
        p = self._person(sc, nfd_able=True)
        self._mailbox(p, self._migrated_values(p), sc, ou_po=p.home, nfd=True)
        self._dirsync(p.name, p.site)

    def _s_orphan_custom_recipient(self, sc: str, mail_user: bool = False) -> None:
        p = self._complete(sc)
        self._contact(p, at(p.name, p.home), sc, role="leftover-contact", mail_user=mail_user)

    def _s_orphan_mail_user(self, sc: str) -> None:
        self._s_orphan_custom_recipient(sc, mail_user=True)

    def _s_missing_primary_lowercase(self, sc: str) -> None:
        p = self._person(sc)
        values = [("ccmail", at(p.name, p.site)), ("ccmail", at(p.name, p.home))]
        self._mailbox(p, values, sc, ou_po=p.home)
        self._dirsync(p.name, p.site)

    def _s_missing_primary_mixed_case(self, sc: str) -> None:
        p = self._person(sc)
        values = [("ccMail", at(p.name, p.site)), ("ccmail", at(p.name, p.home))]
        self._mailbox(p, values, sc, ou_po=p.home)
        self._dirsync(p.name, p.site)

    def _s_missing_primary_non_exchange(self, sc: str) -> None:
        p = self._person(sc)
        self._mailbox(p, [("CCMAIL", at(p.name, p.home))], sc, ou_po=p.home)

    def _s_multiple_primaries(self, sc: str) -> None:
        p = self._person(sc)
        values = [("CCMAIL", at(p.name, p.home)), ("CCMAIL", at(p.name, p.site))]
        self._mailbox(p, values, sc, ou_po=p.home)
        self._dirsync(p.name, p.site)

    def _s_multiple_primaries_group(self, sc: str) -> None:
        p = self._complete(sc, code="complete", role="bystander")
        name = self._group_name(f"{self._pick(DEPARTMENTS)} {p.home} Team")
        values = [("CCMAIL", at(name, p.home)), ("CCMAIL", at(name, p.site))]
        self._group(name, values, sc, code="multiple-primaries", site=p.site)

    def _s_missing_secondary(self, sc: str) -> None:
        p = self._person(sc)
        moved_from = self._other_po(p.home)
        messages = self._int(0, 1500)
        self._mailbox(p, self._migrated_values(p), sc, ou_po=p.home, stats="confirm",
                      messages=messages)
        # No dirsync entry: the surviving name blocks it.
        self._entry(moved_from, p.name, "L", "", "moved to " + p.home, messages)
        self._expect_user(p.name, moved_from, sc, None, "entry-in-other-po")

    def _s_name_conflict_namesake(self, sc: str) -> None:
        p = self._complete(sc)
        namesake = p.name.replace(p.surname, p.surname.upper(), 1)
        self._contact(p, at(namesake, self.s.partner_po), sc, role="namesake-contact",
                      name=namesake)

    def _s_name_conflict_sites(self, sc: str) -> None:
        first, second = self.s.exchange_pos[0], self.s.exchange_pos[1]
        p = self._person(sc, site=first)
        self._complete(sc, p)
        namesake = p.name.replace(p.surname, p.surname.upper(), 1)
        q = Person(p.index, p.surname.upper(), p.given, namesake, second, p.home)
        self._mailbox(q, [("CCMAIL", at(namesake, second))], sc, role="namesake-mailbox")

    def _s_duplicate_mailbox_mailbox(self, sc: str) -> None:
        p = self._complete(sc)
        self._mailbox(p, self._migrated_values(p), sc, role="second-mailbox",
                      name=f"{p.name} (2)", ou_po=p.home)

    def _s_duplicate_contact_contact(self, sc: str) -> None:
        p = self._person(sc)
        self._local(p.name, p.home)
        self._contact(p, at(p.name, p.home), sc)
        self._contact(p, at(p.name, p.home), sc, role="second-contact", name=f"{p.name} (2)")
        self._expect_user(p.name, p.home, sc, "not-migrated")

    def _s_duplicate_group_mailbox(self, sc: str) -> None:
        p = self._complete(sc)
        name = self._group_name(f"{p.given} {p.surname} forward")
        values = [("CCMAIL", at(name, p.site)), ("ccmail", at(p.name, p.home))]
        self._group(name, values, sc, code="duplicate-address", site=p.site)

    def _invalid(self, sc: str, value: str) -> None:
        p = self._person(sc)
        values = [*self._migrated_values(p), ("ccmail", value.format(name=p.name, po=p.home))]
        self._mailbox(p, values, sc, ou_po=p.home)
        self._dirsync(p.name, p.site)

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
        p = self._person(sc)
        self._entry(p.home, p.name, "R", "", "Mobile", self._int(0, 300) if self._p(0.5) else None)
        self._expect_user(p.name, p.home, sc, None, "mobile-entry")

    def _s_mailbox_without_ccmail(self, sc: str) -> None:
        self._mailbox(self._person(sc), [], sc)

    def _s_ignored_user_with_proxies(self, sc: str) -> None:
        p = self._person(sc)
        acct = self._account(p.surname, p.given, p.name)
        dn = self._dn(p.name, self._container_dn("Users"))
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
        self._emit(dn, attrs, "not-recipient", sc, "disabled-user", None, True)

    def _s_ignored_computer_with_proxy(self, sc: str) -> None:
        p = self._complete(sc, code="complete", role="owner")
        self._computer(at(f"WS {p.surname}", p.site), sc)

    def _s_ignored_public_folder(self, sc: str) -> None:
        self._complete(sc, code="complete", role="owner")
        self._public_folder(with_ccmail=True, scenario=sc)

    # ---- metadata --------------------------------------------------------

    def _head(self) -> dict[str, Any]:
        s = self.s
        settings = asdict(s)
        settings["exchange_pos"] = list(s.exchange_pos)
        pool = applicable(s.dialect, len(s.exchange_pos))
        return {
            "format": 1,
            "generator": "mocks/orggen.py",
            "settings": settings,
            "ccmail_pos": s.ccmail_pos,
            "scenarios": {sc.name: {"code": sc.code, "description": sc.description}
                          for sc in pool},
            "note": ("'code' is the finding code each object was built to show (complete: "
                     "none; null: no row expected); other findings may come with it."),
        }

    def audit_command(self) -> list[str]:
        out = str(self.out)
        cmd = ["ccmig", "audit", "--ldif", f"{out}/org.ldif"]
        if not self.ad:
            cmd += ["--dialect", EX55]
        for po in self.s.ccmail_pos:
            cmd += ["--ccmail-dir", f"{out}/ccmail/{po}.txt"]
        for site in self.s.exchange_pos:
            cmd += ["--exchange-po", site]
        if self.s.stats:
            cmd += ["--mailbox-stats", f"{out}/stats.csv"]
        return cmd

    def _readme(self) -> None:
        s = self.s
        sm = self.summary
        lines = [
            "Synthetic cc:Mail -> Exchange organisation (KB Q253306), made by mocks/orggen.py.",
            "Not a real directory: every name, address and count is invented.",
            "",
            "Made with:",
            "  " + (self.command or "python -m toolkit.mocks.orggen ..."),
            "",
            "Audit it with:",
            "  " + shlex.join(self.audit_command()),
            "",
            "Files:",
            f"  org.ldif             Exchange side, {s.dialect} dialect, "
            + ("UTF-16 LE with BOM (ldifde -u)" if s.utf16 else "ASCII/UTF-8, base64 for the rest"),
            f"  ccmail/<PO>.txt      one cc:Mail directory per post office ({s.ccmail_encoding}"
            + (", CRLF)" if s.crlf else ")"),
        ]
        if s.stats:
            lines.append("  stats.csv            identity,item_count for most mailboxes")
        lines += [
            "  expected-codes.json  the scenario and intended finding code of every object",
            "",
            f"People: {sm.people}; Exchange PO(s): {', '.join(s.exchange_pos)}; "
            f"cc:Mail POs: {', '.join(s.ccmail_pos)}",
            "Scenarios drawn:",
        ]
        lines += [f"  {n:6d}  {name}" for name, n in sorted(sm.scenarios.items())]
        lines.append("")
        (self.out / "README").write_text("\n".join(lines), encoding="utf-8")


def generate(settings: Settings, out: Path, command: str | None = None) -> Summary:
    """Write an organisation into ``out`` (created if needed) and return its summary."""
    out.mkdir(parents=True, exist_ok=True)
    return OrgGenerator(settings, out, command).run()


OWNED = ("org.ldif", "stats.csv", "README", "expected-codes.json")


def _prepare(out: Path, force: bool) -> None:
    """Refuse to mix a new organisation into an old one; ``--force`` clears ours only."""
    if not out.exists():
        return
    if not any(out.iterdir()):
        return
    if not force:
        raise FileExistsError(f"{out} is not empty (use --force to replace its files)")
    for name in OWNED:
        (out / name).unlink(missing_ok=True)
    for path in sorted((out / "ccmail").glob("*.txt")) if (out / "ccmail").is_dir() else []:
        path.unlink()


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m toolkit.mocks.orggen",
        description="Generate a synthetic cc:Mail -> Exchange organisation (LDIF + cc:Mail "
        "directory files + mailbox stats) in which every migration scenario occurs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""\
output layout:
  OUT/org.ldif              Exchange side (--dialect), ldifde/ldapsearch style
  OUT/ccmail/<PO>.txt       one cc:Mail directory per post office (HUBPO, PO1..POK)
  OUT/stats.csv             identity,item_count (unless --no-stats)
  OUT/expected-codes.json   scenario and intended finding code of every object
  OUT/README                how it was made and the ccmig command that audits it

example:
  scripts/make-org /tmp/org --people 2000 --seed 7
  ccmig audit --ldif /tmp/org/org.ldif --ccmail-dir /tmp/org/ccmail/HUBPO.txt ... \\
      --exchange-po EXCH --mailbox-stats /tmp/org/stats.csv
""",
    )
    ap.add_argument("out", type=Path, help="output directory (ORG)")
    ap.add_argument("-n", "--people", type=int, default=300, help="number of people (300)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (1)")
    ap.add_argument("--dialect", choices=(AD, EX55), default=AD)
    ap.add_argument("--post-offices", type=int, default=4, metavar="K",
                    help="cc:Mail post offices PO1..POK besides the hub (4)")
    ap.add_argument("--hub", default="HUBPO", help="hub post office name (HUBPO)")
    ap.add_argument("--exchange-po", action="append", metavar="NAME",
                    help="Exchange site cc:Mail PO name; repeat for more sites (EXCH)")
    ap.add_argument("--two-sites", action="store_true", help="shorthand: EXCH and EXCH2")
    ap.add_argument("--utf16", action="store_true",
                    help="write the LDIF as UTF-16 LE with BOM and CRLF, as 'ldifde -u'")
    ap.add_argument("--ccmail-encoding", choices=("cp850", "utf-8", "utf-8-sig"),
                    default="cp850", help="cc:Mail file encoding (cp850, as DOS Export)")
    ap.add_argument("--crlf", action="store_true", help="CRLF line ends (LDIF and cc:Mail)")
    ap.add_argument("--no-stats", action="store_true", help="do not write stats.csv")
    ap.add_argument("--annotate", action="store_true",
                    help="comment each LDIF object with its scenario (hand-checkable demos)")
    ap.add_argument("--domain", default="corp.example", help="AD DNS domain (corp.example)")
    ap.add_argument("--force", action="store_true", help="replace files of an earlier run")
    ap.add_argument("-q", "--quiet", action="store_true")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    sites = args.exchange_po or (["EXCH", "EXCH2"] if args.two_sites else ["EXCH"])
    settings = Settings(
        people=args.people, seed=args.seed, dialect=args.dialect, spokes=args.post_offices,
        hub=args.hub, exchange_pos=tuple(sites), utf16=args.utf16,
        ccmail_encoding=args.ccmail_encoding, crlf=args.crlf, stats=not args.no_stats,
        domain=args.domain, annotate=args.annotate,
    )
    try:
        settings.validate()
    except (ValueError, LookupError) as exc:
        ap.error(str(exc))
    try:
        _prepare(args.out, args.force)
    except FileExistsError as exc:
        ap.error(str(exc))
    given = list(argv if argv is not None else sys.argv[1:])
    # How it was made, minus the flags that do not change a byte of it.
    shown = ["python", "-m", "toolkit.mocks.orggen",
             *(a for a in given if a not in ("--force", "-q", "--quiet"))]
    summary = generate(settings, args.out, shlex.join(shown))
    if not args.quiet:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.exchange.items()))
        print(f"orggen: {summary.people} people, {summary.ldif_entries} LDIF entries ({kinds}), "
              f"{sum(sum(c.values()) for c in summary.ccmail_entries.values())} cc:Mail entries "
              f"in {len(summary.ccmail_entries)} files, {summary.seconds:.1f}s -> {args.out}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
