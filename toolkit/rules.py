"""The finding rules of spec.md, as pure functions over plain data.

``evaluate(recipients, entries, exchange_pos, dialect)`` -> rows sorted by key.
Every cross-object rule goes through a hash map keyed by folded names or
addresses, so the run is linear in the size of the directory. Each rule is a
small function named after its finding code, in the table's order (see
``RULES`` at the end), so a reader finds any rule in a minute.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.model import SEVERITY, CcmailValue, Dialect, DirEntry, Finding, Kind, Recipient, Row
from toolkit.text import distinct_folded, fold, sorted_texts, squeeze, text_order

Key = tuple[str, str]
UserGroup = tuple[DirEntry, ...]  # the local entries of one ccmail-user row, spelling first

# SEVERITY (code -> severity, in the table's order) lives in toolkit.model.
CODES = tuple(SEVERITY)

_NONE: tuple[Any, ...] = ()  # shared by every Facts with no old address / stale entry
_FOLDED: dict[str, str] = {}  # PO names are few and folded very often


def fold_po(po: str) -> str:
    """:func:`fold` of a post office name, remembered."""
    folded = _FOLDED.get(po)
    if folded is None:
        folded = fold(po)
        if len(_FOLDED) < 65536:
            _FOLDED[po] = folded
    return folded


class Index(dict):  # type: ignore[type-arg]
    """key -> items, as a ``defaultdict(list)`` reads (``[key]`` and ``get`` give
    lists), but one item is stored bare: most keys (addresses, names) have
    one, and a list each would be ~90 bytes x 150,000. Items are never lists."""

    __slots__ = ()

    def add(self, key: Any, item: Any) -> None:
        have = dict.get(self, key, _NONE)
        if have is _NONE:
            dict.__setitem__(self, key, item)
        elif type(have) is list:
            have.append(item)
        else:
            dict.__setitem__(self, key, [have, item])

    def __getitem__(self, key: Any) -> list[Any]:
        have = dict.get(self, key, _NONE)
        if have is _NONE:
            return []
        return have if type(have) is list else [have]

    def get(self, key: Any, default: Any = None) -> Any:
        have = dict.get(self, key, _NONE)
        if have is _NONE:
            return default
        return have if type(have) is list else [have]


class AddressIndex:
    """(folded name, folded PO) -> items, read like :class:`Index`, stored as
    one Index of folded names per PO: the names are strings the values'
    keys already hold, so the 150,000 keys cost no tuple each (~8 MB)."""

    __slots__ = ("_by_po",)

    def __init__(self) -> None:
        self._by_po: dict[str, Index] = {}

    def add(self, key: Key, item: Any) -> None:
        names = self._by_po.get(key[1])
        if names is None:
            names = self._by_po[key[1]] = Index()
        names.add(key[0], item)

    def __getitem__(self, key: Key) -> list[Any]:
        names = self._by_po.get(key[1])
        return [] if names is None else names[key[0]]

    def get(self, key: Key, default: Any = None) -> Any:
        names = self._by_po.get(key[1])
        return default if names is None else names.get(key[0], default)

    def __contains__(self, key: object) -> bool:
        if type(key) is not tuple or len(key) != 2:
            return False
        names = self._by_po.get(key[1])
        return names is not None and dict.__contains__(names, key[0])

    def __len__(self) -> int:
        return sum(len(names) for names in self._by_po.values())

    def shared(self) -> Iterator[tuple[Key, list[Any]]]:
        """Every key on several items, with them."""
        for po, names in self._by_po.items():
            for name, items in dict.items(names):
                if type(items) is list:
                    yield (name, po), items


@dataclass(slots=True)
class Facts:
    """What the rules need to know about one Exchange object (derived when asked: :class:`FactsView`)."""

    r: Recipient
    valid: Sequence[CcmailValue]  # r.values itself when every value is valid
    keys: tuple[Key, ...]  # distinct, in value order
    primary: CcmailValue | None
    old: Sequence[CcmailValue]  # mailboxes only: valid values at a PO outside X, first of each key
    ccmail_name: str | None
    stale_entries: Sequence[DirEntry] = _NONE
    values: Sequence[CcmailValue] = _NONE  # r.values, as parsed for these facts


@dataclass(slots=True)
class Context:
    """Indexes shared by the rules: one pass over each input builds them.

    Index values are positions in ``recipients`` (the objects with cc:Mail
    values, in reading order); ``facts[i]`` derives the Facts of one when
    asked (see :class:`FactsView`), so no per-object record outlives a rule.
    """

    x: set[str]
    dialect: Dialect
    powershell: bool
    recipients: list[Recipient]
    facts: FactsView
    by_address: AddressIndex
    by_primary_name: dict[str, list[int]]  # an Index
    users_by_name: dict[str, list[DirEntry]]  # an Index
    orphans: dict[int, list[tuple[int, CcmailValue]]]
    indexes: list[int] = _NONE  # type: ignore[assignment]  # 0..len-1, one int object each

    def at_x(self, po: str | None) -> bool:
        return po is not None and fold_po(po) in self.x

    def routes_to_exchange(self, entry: DirEntry) -> bool:
        return fold_po(entry.po) in self.x

    # A row made by :func:`analyse` asks its analysis for what it does not
    # keep: ``handle`` is the index of its Facts, or the DirEntry of a
    # ccmail-user row.

    def row_key(self, handle: int | UserGroup) -> str:
        if isinstance(handle, int):
            return "dn:" + fold(self.recipients[handle].dn)
        return f"ccmail:{fold(handle[0].name)}@{fold(handle[0].file_po)}"

    def row_identities(self, handle: int | UserGroup) -> list[str]:
        if isinstance(handle, int):
            return self.recipients[handle].identities()
        out: list[str] = []
        for e in handle:
            out += [e.name, f"{squeeze(e.name)} at {e.file_po}"]
        return out

    def finding_text(self, code: str, handle: int | UserGroup) -> tuple[str, str]:
        found = RULE_OF[code](self, handle) if isinstance(handle, int) else not_migrated(handle)
        if found is None or found.code != code:  # the analysis changed under its rows
            raise RuntimeError(f"finding {code} no longer holds: the analysis was modified")
        return found.message, found.action


def describe(r: Recipient) -> str:
    return f"{r.kind.value} {r.dn}"


def quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def entry_text(e: DirEntry) -> str:
    where = f"in {e.file_po}'s directory"
    target = f" (Addr {e.addr!r})" if e.addr.strip() and e.locn in "Rr" else ""
    return f"{e.locn} entry '{e.name}' {where}{target}"


# --------------------------------------------------------------------------- facts


def primary_of(r: Recipient, valid: list[CcmailValue], x: set[str], dialect: Dialect):
    """Spec, Terms, *Primary*: which valid value is the primary, if any."""
    if r.kind is Kind.CUSTOM_RECIPIENT:
        for v in valid:
            if v.source == "target":
                return v
    if dialect is Dialect.AD:
        uppers = [v for v in valid if v.source == "proxy" and v.upper]
        return uppers[-1] if uppers else None
    return next((v for v in valid if v.key and v.key[1] in x), None)


def facts_of(r: Recipient, x: set[str], dialect: Dialect) -> Facts:
    values = r.values
    valid: Sequence[CcmailValue] = values
    for v in values:
        if v.error is not None:
            valid = [v for v in values if v.valid]
            break
    primary = primary_of(r, valid, x, dialect)  # type: ignore[arg-type]
    old: Sequence[CcmailValue] = _NONE
    if r.kind is Kind.MAILBOX:
        seen: set[Key] = set()
        found: list[CcmailValue] = []
        for v in valid:
            assert v.key is not None
            if v.key[1] not in x and v.key not in seen:
                seen.add(v.key)
                found.append(v)
        if found:
            old = tuple(found)
    if r.kind is Kind.MAILBOX:
        name = primary.name if primary else (old[0].name if old else None)
    else:
        name = primary.name if primary else None
    keys = tuple(dict.fromkeys(v.key for v in valid if v.key))
    return Facts(r, valid, keys, primary, old, name, _NONE, values)


class FactsView(Sequence[Facts]):
    """``ctx.facts``: the :class:`Facts` of each recipient, derived again
    when asked (values parsed, primary chosen, stale entries looked up) and
    the last few kept.

    Keeping them all would cost ~250 bytes an object (at 100,000 objects a
    sixth of the audit's memory); deriving them is a few microseconds, and
    the rules ask for one object's facts many times in a row, which the
    cache serves.
    """

    __slots__ = ("_cache", "_ctx", "_f", "_i", "recipients")
    CACHED = 8

    def __init__(self, recipients: list[Recipient]) -> None:
        self.recipients = recipients
        self._cache: dict[int, Facts] = {}
        self._ctx: Context | None = None
        self._i: int | None = None  # the last one asked for, and its facts
        self._f: Facts | None = None

    def __len__(self) -> int:
        return len(self.recipients)

    def __getitem__(self, i):  # type: ignore[no-untyped-def,override]
        if i == self._i:
            return self._f
        if i.__class__ is slice:
            return [self[k] for k in range(len(self.recipients))[i]]
        cache = self._cache
        f = cache.get(i)
        if f is None:
            ctx = self._ctx
            assert ctx is not None
            if i < 0:
                i += len(self.recipients)
            r = self.recipients[i]
            f = facts_of(r, ctx.x, ctx.dialect)
            if r.kind is Kind.MAILBOX:
                found = stale_entries(f, ctx.users_by_name, ctx.x)
                if found:
                    f.stale_entries = found
            if len(cache) >= self.CACHED:
                del cache[next(iter(cache))]
            cache[i] = f
        self._i, self._f = i, f
        return f

    def __iter__(self) -> Iterator[Facts]:
        for i in range(len(self.recipients)):
            yield self[i]


def stale_entries(f: Facts, users_by_name: dict[str, list[DirEntry]], x: set[str]):
    """User entries named like the mailbox's primary or an old address that
    route to a cc:Mail mailbox (spec: ``stale-ccmail-mailbox``)."""
    names = {v.key[0] if v.key else fold(v.name or "") for v in f.old}
    if f.primary is not None:
        names.add(f.primary.key[0] if f.primary.key else fold(f.primary.name or ""))
    found = [e for name in names for e in users_by_name.get(name, ()) if fold_po(e.po) not in x]
    if len(found) < 2:
        return found
    return sorted(found, key=entry_order)


def entry_order(e: DirEntry) -> tuple[str, str]:
    """A reading-order-free order for entries in messages (LDAP, LDIF, any
    file order): their text folded, ties by code point (spec: Output)."""
    return text_order(entry_text(e))


def build_context(
    recipients: Iterable[Recipient],
    entries: Iterable[DirEntry],
    exchange_pos: Iterable[str],
    dialect: Dialect,
    powershell: bool = False,
) -> tuple[Context, dict[Key, list[DirEntry]]]:
    """The indexes, and the local entries of each cc:Mail user (name, PO) no
    Exchange mailbox has taken (spec, *Which rows*: the ``ccmail-user`` rows)."""
    x = {fold(p) for p in exchange_pos}
    recips = [r for r in recipients if r.has_values]
    by_address = AddressIndex()
    by_primary_name = Index()
    indexes = list(range(len(recips)))  # the same int objects in every index
    # Most cc:Mail names are also on an Exchange object: key the entries by
    # that object's folded-name string instead of a second equal one.
    folded: dict[str, str] = {}
    for i, r in zip(indexes, recips, strict=True):
        f = facts_of(r, x, dialect)
        for key in f.keys:
            by_address.add(key, i)
            folded.setdefault(key[0], key[0])
        if f.primary is not None:
            by_primary_name.add(_name_key(f.primary), i)
    mailbox = Kind.MAILBOX

    def taken(key: Key) -> bool:
        return (any(recips[j].kind is mailbox for j in by_address[key])
                or any(recips[j].kind is mailbox for j in by_primary_name[key[0]]))

    users_by_name = Index()
    not_migrated: dict[Key, list[DirEntry]] = {}
    for e in entries:
        if e.locn in "LlRr":  # is_user
            name = fold(e.name)
            name = folded.get(name, name)
            users_by_name.add(name, e)
            if e.locn in "Ll":  # is_local: every one of each (name, PO)
                key = (name, fold_po(e.file_po))
                group = not_migrated.get(key)
                if group is not None:
                    group.append(e)
                elif not taken(key):
                    not_migrated[key] = [e]
    del folded
    orphans = _orphans(recips, by_address, x, dialect)
    facts = FactsView(recips)
    ctx = Context(x, dialect, powershell, recips, facts, by_address, by_primary_name,
                  users_by_name, orphans, indexes)
    facts._ctx = ctx
    return ctx, not_migrated


def _orphans(recips: list[Recipient], by_address: AddressIndex, x: set[str],
             dialect: Dialect) -> dict[int, list[tuple[int, CcmailValue]]]:
    """Mailbox old addresses shared with custom recipients, both ways.

    Only addresses on several objects can be shared: the index finds the
    few mailboxes concerned, whose facts are derived again."""
    custom, mailbox = Kind.CUSTOM_RECIPIENT, Kind.MAILBOX
    candidates: set[int] = set()
    for key, items in by_address.shared():
        if key[1] not in x:
            kinds = {recips[j].kind for j in items}
            if custom in kinds and mailbox in kinds:
                candidates.update(j for j in items if recips[j].kind is mailbox)
    orphans: dict[int, list[tuple[int, CcmailValue]]] = defaultdict(list)
    for i in sorted(candidates):
        for v in facts_of(recips[i], x, dialect).old:
            for j in by_address[v.key]:  # type: ignore[index]
                if recips[j].kind is custom:
                    orphans[i].append((j, v))
                    orphans[j].append((i, v))
    return orphans


def _name_key(v: CcmailValue) -> str:
    """fold(v.name) of a valid value: the first part of its key."""
    return v.key[0] if v.key else fold(v.name or "")


def _ccmail_key(f: Facts) -> str:
    """fold(f.ccmail_name): the key of the value the cc:Mail name comes from."""
    if f.primary is not None:
        return _name_key(f.primary)
    if f.r.kind is Kind.MAILBOX and f.old:
        return _name_key(f.old[0])
    return fold(f.ccmail_name or "")


def orphan_pair(ctx: Context, i: int, j: int) -> bool:
    return any(k == j for k, _ in ctx.orphans.get(i, ()))


# --------------------------------------------------------------------------- rules
# Each rule: (ctx, index) -> Finding | None. Codes and severities from SEVERITY.


def finding(code: str, message: str, action: str) -> Finding:
    return Finding(code, SEVERITY[code], message, action)


def invalid_address(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    r = f.r
    bad = [v for v in f.values if not v.valid]
    if not bad:
        return None
    what = "; ".join(f"'{v.raw}' ({v.error})" for v in bad)
    return finding(
        "invalid-address",
        f"{describe(r)} carries invalid cc:Mail value(s): {what}",
        "Correct or remove each invalid value in Exchange; it takes part in no other "
        "check and dirsync/Import cannot use it.",
    )


def duplicate_address(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    clashes: list[str] = []
    for v in f.valid:
        if v.key is None or any(v.key == w.key for w in f.valid[: f.valid.index(v)]):
            continue
        partners = []
        for j in ctx.by_address[v.key]:
            other = ctx.recipients[j]
            if j == i or _exempt_pair(ctx, f.r, other, v.key):
                continue
            partners.append(describe(other))
        if partners:
            clashes.append(f"'{v.address}' is also on {', '.join(sorted_texts(partners))}")
    if not clashes:
        return None
    return finding(
        "duplicate-address",
        f"{describe(f.r)}: " + "; ".join(clashes),
        "Decide which object keeps the address and remove it from the others; "
        "cc:Mail mail to it cannot be routed to two recipients.",
    )


def _exempt_pair(ctx: Context, a: Recipient, b: Recipient, key: Key) -> bool:
    """A mailbox's old address shared with a custom recipient is an orphan pair."""
    if key[1] in ctx.x:
        return False
    kinds = {a.kind, b.kind}
    return kinds == {Kind.MAILBOX, Kind.CUSTOM_RECIPIENT}


def name_conflict(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    if f.primary is None:
        return None
    others = []
    for j in ctx.by_primary_name[_name_key(f.primary)]:
        if j == i:
            continue
        g = ctx.facts[j]
        if g.primary is None or g.primary.key == f.primary.key:
            continue
        if orphan_pair(ctx, i, j):
            continue
        others.append(f"'{g.primary.address}' of {describe(g.r)}")
    if not others:
        return None
    others.sort(key=text_order)
    return finding(
        "name-conflict",
        f"primary '{f.primary.address}' of {describe(f.r)} has the same cc:Mail name as "
        f"{', '.join(others)}; cc:Mail names are unique directory-wide",
        "Rename one of the primaries (cc:Mail cannot hold both names); dirsync will "
        "refuse the second one.",
    )


def stale_ccmail_mailbox(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    stale = f.stale_entries
    if not stale:
        return None
    return finding(
        "stale-ccmail-mailbox",
        f"mailbox {f.r.dn} is still a cc:Mail user: "
        + "; ".join(f"{entry_text(e)} routes to a cc:Mail mailbox at {e.po}" for e in stale)
        + "; mail from cc:Mail users lands in the old cc:Mail mailbox",
        "Confirm the migration (Exchange item count), then delete the user from the "
        "cc:Mail post office; the next dirsync creates an entry pointing at Exchange.",
    )


def orphan_custom_recipient(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    pairs = ctx.orphans.get(i)
    if not pairs:
        return None
    seen: set[tuple[int, Key | None]] = set()
    parts = []
    for j, v in sorted(pairs, key=lambda p: (*text_order(ctx.recipients[p[0]].dn),
                                             p[1].key or ("", ""))):
        if (j, v.key) in seen:
            continue
        seen.add((j, v.key))
        parts.append(f"'{v.address}' with {describe(ctx.recipients[j])}")
    if f.r.kind is Kind.MAILBOX:
        message = f"mailbox {f.r.dn} shares its old cc:Mail address " + "; ".join(parts)
        action = ("Remove the left-over custom recipient (the Migration Wizard should have "
                  "deleted it); keep the mailbox's secondary address.")
    else:
        message = f"custom recipient {f.r.dn} carries the old cc:Mail address " + "; ".join(
            parts
        )
        action = ("Remove this custom recipient: the mailbox now owns the address as its "
                  "secondary.")
    return finding("orphan-custom-recipient", message, action)


def missing_primary_address(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    if f.r.kind is not Kind.MAILBOX or not f.valid:
        return None
    if f.primary is not None and ctx.at_x(f.primary.po):
        return None
    if f.primary is not None:
        detail = f"its primary '{f.primary.address}' is not at an Exchange site's PO"
    else:
        detail = "it has no primary cc:Mail address"
    return finding(
        "missing-primary-address",
        f"mailbox {f.r.dn} has cc:Mail addresses but {detail} ({_x_names(ctx)})",
        "Add a primary cc:Mail address 'Name at <Exchange site PO>' so dirsync can "
        "point cc:Mail at this mailbox.",
    )


def _x_names(ctx: Context) -> str:
    return "Exchange POs: " + ", ".join(sorted(ctx.x))


def multiple_primaries(ctx: Context, i: int) -> Finding | None:
    if ctx.dialect is not Dialect.AD:
        return None
    f = ctx.facts[i]
    uppers = [v for v in f.valid if v.source == "proxy" and v.upper]
    if len(uppers) < 2:
        return None
    return finding(
        "multiple-primaries",
        f"{describe(f.r)} has {len(uppers)} primary CCMAIL: values: "
        f"{quoted(v.raw for v in uppers)}; the last, '{uppers[-1].address}', is taken",
        "Keep one upper-case CCMAIL: value and make the others secondary (ccmail:); "
        "LDAP does not promise value order.",
    )


def missing_secondary_address(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    if f.r.kind is not Kind.MAILBOX or f.primary is None:
        return None
    old_pos = {v.key[1] for v in f.old if v.key}
    missing = sorted((
        e
        for e in ctx.users_by_name.get(_name_key(f.primary), ())
        if fold_po(e.po) not in ctx.x and fold_po(e.po) not in old_pos
    ), key=entry_order)
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


def unconfirmed_migration(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    count = f.r.item_count
    if not f.stale_entries or count is None:
        return None
    known = [e for e in f.stale_entries if e.messages is not None]
    if not known:
        return None
    total = sum(e.messages or 0 for e in known)
    if count >= total:
        return None
    return finding(
        "unconfirmed-migration",
        f"mailbox {f.r.dn} holds {count} items in Exchange but the stale cc:Mail "
        f"mailbox(es) hold {total} messages ("
        + "; ".join(f"{entry_text(e)}: {e.messages}" for e in known) + ")",
        "Do not delete the cc:Mail user yet: re-run or finish the migration of its mail, "
        "then confirm the item count.",
    )


def awaiting_dirsync(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    if f.r.kind is not Kind.MAILBOX or f.ccmail_name is None or f.stale_entries:
        return None
    if any(ctx.routes_to_exchange(e) for e in ctx.users_by_name.get(_ccmail_key(f), ())):
        return None
    return finding(
        "awaiting-dirsync",
        f"mailbox {f.r.dn}: no cc:Mail entry named '{f.ccmail_name}' routes to Exchange "
        f"({_x_names(ctx)}); cc:Mail users cannot reach it",
        "Run directory synchronisation; it creates the cc:Mail entry pointing at Exchange.",
    )


def source_mismatch(ctx: Context, i: int) -> Finding | None:
    f = ctx.facts[i]
    if not ctx.powershell or f.r.kind is not Kind.MAILBOX or f.r.exchange_values is None:
        return None
    directory = [v.raw for v in f.values if v.source == "proxy"]
    exchange = f.r.exchange_values
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


RULES: tuple[Callable[[Context, int], Finding | None], ...] = (
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
)
RULE_OF = {rule.__name__.replace("_", "-"): rule for rule in RULES}


# --------------------------------------------------------------------------- rows


def route_of(ctx: Context, f: Facts) -> str | None:
    if f.r.kind is not Kind.MAILBOX:
        return None
    if f.stale_entries:
        return "ccmail-mailbox"
    if f.ccmail_name is not None and any(
        ctx.routes_to_exchange(e) for e in ctx.users_by_name.get(_ccmail_key(f), ())
    ):
        return "exchange"
    return "undeliverable"


def old_post_office(ctx: Context, f: Facts) -> str | None:
    if f.r.kind is Kind.MAILBOX:
        return f.old[0].po if f.old else None
    if f.r.kind is Kind.CUSTOM_RECIPIENT and f.primary and not ctx.at_x(f.primary.po):
        return f.primary.po
    return None


NOT_MIGRATED = ("not-migrated",)


def user_group(entries: list[DirEntry]) -> UserGroup:
    """The entries of one ``ccmail-user`` row: first the one whose spelling
    sorts first by code point (it names the row, so that the order of entries
    and files never changes the output), then the others in message order."""
    if len(entries) == 1:
        return (entries[0],)
    first = min(entries, key=lambda e: (squeeze(e.name), e.file_po, *entry_order(e)))
    return (first, *sorted((e for e in entries if e is not first), key=entry_order))


def ccmail_user_row(ctx: Context, group: UserGroup) -> Row:
    """Spec, *Which rows*: the row of a cc:Mail user still only on cc:Mail
    (:func:`build_context` finds them)."""
    e = group[0]
    name = squeeze(e.name)
    return Row.lazy(ctx, group, None, Kind.CCMAIL_USER, e.name if name == e.name else name,
                    e.file_po, "ccmail-mailbox", NOT_MIGRATED)


def not_migrated(group: UserGroup) -> Finding:
    """The finding of a ``ccmail-user`` row: it names every entry."""
    e = group[0]
    address = f"{squeeze(e.name)} at {e.file_po}"
    listed = "; ".join(entry_text(x) for x in sorted(group, key=entry_order))
    return finding(
        "not-migrated",
        f"cc:Mail user '{address}' ({listed}) has no Exchange mailbox",
        "Migrate this user with the Migration Wizard, or leave it if it stays on cc:Mail.",
    )


_UNKNOWN = 0xFFFF  # a row whose codes the rules have not given yet


class Rows(Sequence[Row]):
    """The rows of an analysis, sorted by key, made when read.

    A ``ccmail-user`` row is kept as its entry; a recipient's row as its
    position and the index of its finding codes; each is made again (a new
    :class:`Row`, from :class:`FactsView`) each time it is read - at
    100,000 rows, 2 MB instead of 15. The rules run for a row when its
    codes are first needed (writing the rows, or :meth:`codes`), with the
    facts the row is made from, and the codes are remembered. Read-only:
    filter into a list to keep rows or change them.
    """

    __slots__ = ("_code_sets", "_codes", "_ctx", "_head", "_known", "_order")

    def __init__(self, ctx: Context, head: list[UserGroup], order: array[int]) -> None:
        self._ctx, self._head, self._order = ctx, head, order
        self._codes = array("H", [_UNKNOWN]) * len(order)
        self._code_sets: list[tuple[str, ...]] = []
        self._known: dict[tuple[str, ...], int] = {}

    def __len__(self) -> int:
        return len(self._head) + len(self._order)

    def _codes_of(self, n: int, i: int) -> tuple[str, ...]:
        """The codes of the n-th recipient row (recipient ``i``)."""
        c = self._codes[n]
        if c == _UNKNOWN:
            ctx = self._ctx
            found = tuple([fd.code for rule in RULES if (fd := rule(ctx, i)) is not None])
            c = self._known.get(found)  # type: ignore[assignment]
            if c is None:
                c = self._known[found] = len(self._code_sets)
                self._code_sets.append(found)
            self._codes[n] = c
        return self._code_sets[c]

    def _make(self, n: int) -> Row:
        ctx = self._ctx
        i = self._order[n]
        f = ctx.facts[i]
        r = f.r
        return Row.lazy(ctx, i, r.dn, r.kind, f.ccmail_name, old_post_office(ctx, f),
                        route_of(ctx, f), self._codes_of(n, i), r)

    def __getitem__(self, k):  # type: ignore[no-untyped-def,override]
        if k.__class__ is slice:
            return [self[n] for n in range(len(self))[k]]
        if k < 0:
            k += len(self)
        head = self._head
        if 0 <= k < len(head):
            return ccmail_user_row(self._ctx, head[k])
        n = k - len(head)
        if not 0 <= n < len(self._order):
            raise IndexError("row index out of range")
        return self._make(n)

    def __iter__(self) -> Iterator[Row]:
        ctx = self._ctx
        for e in self._head:
            yield ccmail_user_row(ctx, e)
        make = self._make
        for n in range(len(self._order)):
            yield make(n)

    def codes(self) -> Iterator[tuple[str, ...]]:
        """Each row's finding codes, without making the rows."""
        for _ in self._head:
            yield NOT_MIGRATED
        codes_of = self._codes_of
        for n, i in enumerate(self._order):
            yield codes_of(n, i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Rows: {len(self)} rows>"


@dataclass(slots=True)
class Analysis:
    """The rows plus the derived facts behind them (remediation plans from both)."""

    ctx: Context
    rows: Rows
    entries: list[DirEntry]


def analyse(
    recipients: Iterable[Recipient],
    entries: Iterable[DirEntry],
    exchange_pos: Iterable[str],
    dialect: Dialect = Dialect.AD,
    powershell: bool = False,
) -> Analysis:
    entries = list(entries)
    recips = [r for r in recipients if r.has_values]
    # Rows sorted by key: every "ccmail:..." key sorts before every "dn:..."
    # key, so each kind is sorted on its own. The recipients' order comes
    # first, before the indexes exist: its 100,000 sort keys stay out of the peak.
    order = array("l", sorted(range(len(recips)), key=lambda i: fold(recips[i].dn)))
    ctx, not_migrated = build_context(recips, entries, exchange_pos, dialect, powershell)
    head = sorted((user_group(g) for g in not_migrated.values()), key=ctx.row_key)
    del not_migrated
    return Analysis(ctx, Rows(ctx, head, order), entries)


def evaluate(
    recipients: Iterable[Recipient],
    entries: Iterable[DirEntry],
    exchange_pos: Iterable[str],
    dialect: Dialect = Dialect.AD,
    powershell: bool = False,
) -> list[Row]:
    """Every row of the audit, sorted by key (spec: Output)."""
    return list(analyse(recipients, entries, exchange_pos, dialect, powershell).rows)
