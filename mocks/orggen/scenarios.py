"""The scenarios table of the organisation generator: what each drawn person is made to be.

Why a table: every state of the Q253306 lifecycle and every finding code a file
can show (:data:`FILE_CODES`) must occur in a generated organisation, and the
test suites and ``expected-codes.json`` need to name them. Each
:class:`Scenario` carries its intended code, its draw weight and the dialects
and site counts it makes sense for; :mod:`toolkit.mocks.orggen.builders` holds
one builder per scenario, under the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

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
