"""The finding table of spec.md as code: one function per code, in the
table's order, each holding its whole predicate and its message.

A rule is ``(ctx, f) -> Finding | None``: ``f`` is the object's
:class:`~toolkit.rules.facts.Facts`, ``ctx`` the indexes and the named
relations of :mod:`toolkit.rules.facts`. ``@gate(BIT)`` above a rule names a
condition necessary for it to find something (the gate bits of
:mod:`toolkit.rules.facts`, known from the index pass or the facts): an
object without it is not passed to the rule at all, which is most of the
audit's rule calls (the predicate below still checks everything itself). Which object kinds a code applies to
is declared once, in :mod:`toolkit.rules.codes`; :data:`RULES` pairs each
function with its code. ``not-migrated`` (``ccmail-user`` rows) is
:func:`not_migrated`.

The predicates here are the definition. One fast path restates three of
them: :func:`toolkit.rules.rows.light_row` writes the row of an object whose
gates leave only ``stale-ccmail-mailbox``, ``unconfirmed-migration`` and
``awaiting-dirsync`` possible straight from its packed record, with these
rules' own message builders (:func:`stale_finding`, :func:`unconfirmed_finding`,
:func:`awaiting_finding`). ``tests/test_quiet_rows.py`` checks on generated
organisations that every such row equals the one made from the facts: a
change to one of those three predicates must be made in both places.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from toolkit.model import Dialect, DirEntry, Finding, Kind, new_finding
from toolkit.rules.codes import SEVERITY, TABLE, Code
from toolkit.rules.facts import (
    INDEX_GATES,
    INVALID,
    NO_OLD_THERE,
    NO_PRIMARY_AT_X,
    ORPHAN,
    POWERSHELL,
    SHARED_ADDRESS,
    SHARED_NAME,
    STALE,
    UNREACHED,
    UPPERS,
    Context,
    Facts,
    describe,
    entry_order,
    entry_text,
)
from toolkit.text import distinct_folded, fold_po, sorted_texts, squeeze, text_order

Rule = Callable[[Context, Facts], "Finding | None"]


_GATES: dict[Rule, int] = {}  # rule -> its gate bits (0: called for every object)


def gate(bits: int) -> Callable[[Rule], Rule]:
    """Declares that ``rule`` finds nothing on an object whose gate bits
    (:meth:`Context.gates <toolkit.rules.facts.Context.gates>`) include none
    of ``bits``; :func:`findings_of` then skips the call."""
    def declare(rule: Rule) -> Rule:
        _GATES[rule] = bits
        return rule
    return declare


def finding(code: str, message: str, action: str) -> Finding:
    return new_finding(code, SEVERITY[code], message, action)


def quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def x_names(ctx: Context) -> str:
    return "Exchange POs: " + ", ".join(sorted(ctx.x))


@gate(INVALID)
def invalid_address(ctx: Context, f: Facts) -> Finding | None:
    """A cc:Mail value on the object does not parse, or its name or PO breaks
    the grammar (``toolkit.ccmail.address``, decided when the value was read)."""
    bad = [v for v in f.values if v.error is not None]
    if not bad:
        return None
    what = "; ".join(f"'{v.raw}' ({v.error})" for v in bad)
    return finding(
        "invalid-address",
        f"{describe(f.r)} carries invalid cc:Mail value(s): {what}",
        "Correct or remove each invalid value in Exchange; it takes part in no other "
        "check and dirsync/Import cannot use it.",
    )


@gate(SHARED_ADDRESS)
def duplicate_address(ctx: Context, f: Facts) -> Finding | None:
    """The same folded address is on this object and on another object - except
    a mailbox's old address shared with a custom recipient (their
    orphan-custom-recipient pair; two custom recipients are still duplicates)."""
    clashes: list[str] = []
    kind, x = f.r.kind, ctx.x
    for key in f.keys:
        holders = ctx.by_address[key]
        if len(holders) < 2:
            continue
        partners = []
        for j in holders:
            if j == f.i:
                continue
            other = ctx.recipients.kinds[j]
            if key[1] not in x and {kind, other} == _ORPHAN_KINDS:
                continue  # a mailbox's old address on a custom recipient: orphan pair
            partners.append(ctx.describe(j))
        if partners:
            v = next(v for v in f.valid if v.key == key)
            clashes.append(f"'{v.address}' is also on {', '.join(sorted_texts(partners))}")
    if not clashes:
        return None
    return finding(
        "duplicate-address",
        f"{describe(f.r)}: " + "; ".join(clashes),
        "Decide which object keeps the address and remove it from the others; "
        "cc:Mail mail to it cannot be routed to two recipients.",
    )


_ORPHAN_KINDS = {Kind.MAILBOX, Kind.CUSTOM_RECIPIENT}


@gate(SHARED_NAME)
def name_conflict(ctx: Context, f: Facts) -> Finding | None:
    """Another object's primary has the same folded name as this object's
    primary while the two folded addresses differ, unless the two form an
    orphan-custom-recipient pair. Objects without a primary take no part."""
    p = f.primary
    if p is None:
        return None
    holders = ctx.by_primary_name[p.key[0]]  # type: ignore[index]
    if len(holders) < 2:
        return None
    others = []
    for j in holders:
        if j == f.i or ctx.orphan_pair(f.i, j):
            continue
        g = ctx.facts_at(j)
        if g.primary is None or g.primary.key == p.key:
            continue
        others.append(f"'{g.primary.address}' of {describe(g.r)}")
    if not others:
        return None
    others.sort(key=text_order)
    return finding(
        "name-conflict",
        f"primary '{p.address}' of {describe(f.r)} has the same cc:Mail name as "
        f"{', '.join(others)}; cc:Mail names are unique directory-wide",
        "Rename one of the primaries (cc:Mail cannot hold both names); dirsync will "
        "refuse the second one.",
    )


@gate(STALE)
def stale_ccmail_mailbox(ctx: Context, f: Facts) -> Finding | None:
    """The mailbox's primary name or one of its old addresses' names matches a
    user entry that routes to a cc:Mail mailbox (``f.stale_entries``, the
    relation :func:`toolkit.rules.facts.stale_entries`)."""
    stale = f.stale_entries
    if not stale:
        return None
    return stale_finding(f.r.dn, stale)


def stale_finding(dn: str, stale: tuple[DirEntry, ...]) -> Finding:
    """:func:`stale_ccmail_mailbox`'s finding on mailbox ``dn`` with ``stale``
    entries (also what :func:`toolkit.rules.rows.light_row` writes)."""
    # (a loop, not a generator: ~22,000 messages at 100,000 people; an L
    # entry's po is its file's, no call for DirEntry.po)
    parts = []
    for e in stale:
        parts.append(f"{entry_text(e)} routes to a cc:Mail mailbox at "
                     f"{e.file_po if e.locn in 'Ll' else e.po}")
    return finding(
        "stale-ccmail-mailbox",
        f"mailbox {dn} is still a cc:Mail user: " + "; ".join(parts)
        + "; mail from cc:Mail users lands in the old cc:Mail mailbox",
        "Confirm the migration (Exchange item count), then delete the user from the "
        "cc:Mail post office; the next dirsync creates an entry pointing at Exchange.",
    )


@gate(ORPHAN)
def orphan_custom_recipient(ctx: Context, f: Facts) -> Finding | None:
    """A custom recipient carries one of the mailbox's old addresses (as
    targetAddress or proxy); reported on both rows (``ctx.orphans``, the
    relation :func:`toolkit.rules.facts.orphan_pairs`)."""
    pairs = ctx.orphans.get(f.i)
    if not pairs:
        return None
    recipients = ctx.recipients
    seen: set[tuple[int, object]] = set()
    parts = []
    for j, v in sorted(pairs, key=lambda p: (*text_order(recipients.dn(p[0])), p[1].key)):
        if (j, v.key) in seen:
            continue
        seen.add((j, v.key))
        parts.append(f"'{v.address}' with {ctx.describe(j)}")
    if f.r.kind is Kind.MAILBOX:
        message = f"mailbox {f.r.dn} shares its old cc:Mail address " + "; ".join(parts)
        action = ("Remove the left-over custom recipient (the Migration Wizard should have "
                  "deleted it); keep the mailbox's secondary address.")
    else:
        message = f"custom recipient {f.r.dn} carries the old cc:Mail address " + "; ".join(
            parts)
        action = ("Remove this custom recipient: the mailbox now owns the address as its "
                  "secondary.")
    return finding("orphan-custom-recipient", message, action)


@gate(NO_PRIMARY_AT_X)
def missing_primary_address(ctx: Context, f: Facts) -> Finding | None:
    """The mailbox has a valid cc:Mail value but no primary at X."""
    if not f.valid or (f.primary is not None and ctx.at_x(f.primary.po)):
        return None
    if f.primary is not None:
        detail = f"its primary '{f.primary.address}' is not at an Exchange site's PO"
    else:
        detail = "it has no primary cc:Mail address"
    return finding(
        "missing-primary-address",
        f"mailbox {f.r.dn} has cc:Mail addresses but {detail} ({x_names(ctx)})",
        "Add a primary cc:Mail address 'Name at <Exchange site PO>' so dirsync can "
        "point cc:Mail at this mailbox.",
    )


@gate(UPPERS)
def multiple_primaries(ctx: Context, f: Facts) -> Finding | None:
    """AD dialect: more than one valid upper-case ``CCMAIL:`` proxy; the last
    is taken as primary, but LDAP does not promise value order."""
    if ctx.dialect is not Dialect.AD:
        return None
    uppers = [v for v in f.valid if v.prefix == "CCMAIL" and v.source == "proxy"]
    if len(uppers) < 2:
        return None
    return finding(
        "multiple-primaries",
        f"{describe(f.r)} has {len(uppers)} primary CCMAIL: values: "
        f"{quoted(v.raw for v in uppers)}; the last, '{uppers[-1].address}', is taken",
        "Keep one upper-case CCMAIL: value and make the others secondary (ccmail:); "
        "LDAP does not promise value order.",
    )


@gate(NO_OLD_THERE)
def missing_secondary_address(ctx: Context, f: Facts) -> Finding | None:
    """A user entry has the mailbox's primary name and a PO other than X, and
    the mailbox has no old address (of any name) at that PO."""
    if f.primary is None:
        return None
    entries = ctx.user_entries(f.primary.key[0])  # type: ignore[index]
    if not entries:
        return None
    x = ctx.x
    old_pos = {v.key[1] for v in f.old}  # type: ignore[index]
    missing = sorted((e for e in entries if fold_po(e.po) not in x
                      and fold_po(e.po) not in old_pos), key=entry_order)
    if not missing:
        return None
    pos = distinct_folded(e.po for e in missing)
    return finding(
        "missing-secondary-address",
        f"mailbox {f.r.dn} (primary '{f.primary.address}') has no old cc:Mail address at "
        f"{', '.join(pos)}, where " + "; ".join(entry_text(e) for e in missing)
        + " has its name",
        "Check that this entry is the same person; if so add 'Name at PO' as a secondary "
        "(ccmail:) address before removing the entry, so old address books still work.",
    )


@gate(STALE)
def unconfirmed_migration(ctx: Context, f: Facts) -> Finding | None:
    """With stale-ccmail-mailbox: the Exchange item count is known and lower
    than the sum of ``Messages`` over the stale entries that have one."""
    return unconfirmed_finding(f.r.dn, f.r.item_count, f.stale_entries)


def unconfirmed_finding(dn: str, count: int | None,
                        stale: tuple[DirEntry, ...]) -> Finding | None:
    """:func:`unconfirmed_migration` of mailbox ``dn`` holding ``count`` items
    with ``stale`` entries."""
    if not stale or count is None:
        return None
    known = [e for e in stale if e.messages is not None]
    if not known:
        return None
    total = sum(e.messages or 0 for e in known)
    if count >= total:
        return None
    return finding(
        "unconfirmed-migration",
        f"mailbox {dn} holds {count} items in Exchange but the stale cc:Mail "
        f"mailbox(es) hold {total} messages ("
        + "; ".join(f"{entry_text(e)}: {e.messages}" for e in known) + ")",
        "Do not delete the cc:Mail user yet: re-run or finish the migration of its mail, "
        "then confirm the item count.",
    )


@gate(UNREACHED)
def awaiting_dirsync(ctx: Context, f: Facts) -> Finding | None:
    """The mailbox has a cc:Mail name, is not stale, and no user entry with its
    cc:Mail name routes to Exchange."""
    if f.ccmail_name is None or f.stale_entries or ctx.reaches_exchange(f):
        return None
    return awaiting_finding(ctx, f.r.dn, f.ccmail_name,
                            f.primary is not None and ctx.at_x(f.primary.po))


def awaiting_finding(ctx: Context, dn: str, name: str, primary_at_x: bool) -> Finding:
    """:func:`awaiting_dirsync`'s finding on mailbox ``dn`` of cc:Mail name ``name``."""
    return finding(
        "awaiting-dirsync",
        f"mailbox {dn}: no cc:Mail entry named '{name}' routes to Exchange "
        f"({x_names(ctx)}); cc:Mail users cannot reach it",
        "Run directory synchronisation; it creates the cc:Mail entry pointing at Exchange."
        if primary_at_x else
        # dirsync creates entries for primaries at X only: running it first is a circle
        "First add the primary cc:Mail address at an Exchange PO (missing-primary-address), "
        "then run directory synchronisation: it creates the entry only for that primary.",
    )


@gate(POWERSHELL)
def source_mismatch(ctx: Context, f: Facts) -> Finding | None:
    """Only with remote PowerShell: the cc:Mail values Exchange returns differ
    from the directory's (prefix case kept, order ignored)."""
    exchange = f.r.exchange_values
    if not ctx.powershell or exchange is None:
        return None
    directory = [v.raw for v in f.values if v.source == "proxy"]
    if set(directory) == set(exchange):
        return None
    # the object's own values, in value order (spec: Output)
    only_dir = list(dict.fromkeys(v for v in directory if v not in exchange))
    only_ex = list(dict.fromkeys(v for v in exchange if v not in directory))
    return finding(
        "source-mismatch",
        f"mailbox {f.r.dn}: the directory has {quoted(only_dir) or 'nothing more'} and "
        f"Exchange returns {quoted(only_ex) or 'nothing more'}; the checks used the "
        "directory's values",
        "Wait for directory replication, or find out why Exchange and the directory "
        "disagree (an email address policy may have re-stamped the addresses).",
    )


def not_migrated(group: tuple[DirEntry, ...], name: str | None = None) -> Finding:
    """The ``ccmail-user`` row of a cc:Mail user still only on cc:Mail (which
    rows: :func:`toolkit.rules.indexpass.build_context`); it names every entry.
    ``name``: the first entry's name squeezed, when the caller has it."""
    e = group[0]
    listed = (entry_text(e) if len(group) == 1
              else "; ".join(entry_text(x) for x in sorted(group, key=entry_order)))
    return new_finding(
        "not-migrated", "info",
        f"cc:Mail user '{squeeze(e.name) if name is None else name} at {e.file_po}' "
        f"({listed}) has no Exchange mailbox",
        "Migrate this user with the Migration Wizard, or leave it if it stays on cc:Mail.",
    )


assert SEVERITY["not-migrated"] == "info"


# Each code of the table with its rule, in the table's order.
RULES: tuple[tuple[Code, Rule], ...] = tuple(zip(TABLE[:-1], (
    invalid_address,
    duplicate_address,
    name_conflict,
    stale_ccmail_mailbox,
    orphan_custom_recipient,
    missing_primary_address,
    multiple_primaries,
    missing_secondary_address,
    unconfirmed_migration,
    awaiting_dirsync,
    source_mismatch,
), strict=True))
assert all(code.code == rule.__name__.replace("_", "-") for code, rule in RULES)

# Per object kind, the rules that apply to it (from the kinds declared in codes.py).
RULES_FOR: dict[Kind, tuple[Rule, ...]] = {
    kind: tuple(rule for code, rule in RULES if kind in code.kinds) for kind in Kind
}


def _gates_of(rules: tuple[Rule, ...]) -> int:
    bits = 0
    for rule in rules:
        if not _GATES.get(rule):
            return -1  # a rule without a gate: any object may have a finding
        bits |= _GATES[rule]
    return bits


# Per object kind, every gate bit of the rules that apply to it: an object
# whose gates hold none of them has no finding (-1: never known so).
GATES_OF: dict[Kind, int] = {kind: _gates_of(rules) for kind, rules in RULES_FOR.items()}
# Per kind and gate bits, the rules to call: the few combinations met, made when first met.
_CALLS: dict[Kind, dict[int, tuple[Rule, ...]]] = {kind: {} for kind in Kind}


def findings_of(ctx: Context, f: Facts) -> tuple[Finding, ...]:
    """Every finding of one object, in the table's order, from one set of facts
    (the rules its gates exclude are not called: they would return None)."""
    r = f.r
    kind = r.kind
    # ctx.gates(f) written out: one call a row fewer (~87,000 at 100,000 people)
    may = ctx.marks[f.i] if f.i >= 0 else INDEX_GATES
    if len(f.valid) != len(f.values):
        may |= INVALID
    if f.stale_entries:
        may |= STALE
    if ctx.powershell and r.exchange_values is not None:
        may |= POWERSHELL
    known = _CALLS[kind]  # by kind, then by gate bits: no (kind, bits) tuple a row
    calls = known.get(may)
    if calls is None:
        calls = known[may] = tuple(
            rule for rule in RULES_FOR[kind] if not _GATES.get(rule) or may & _GATES[rule])
    if not calls:
        return ()
    out = []  # a loop, not a comprehension: no function object made per row
    for rule in calls:
        found = rule(ctx, f)
        if found is not None:
            out.append(found)
    return tuple(out)
