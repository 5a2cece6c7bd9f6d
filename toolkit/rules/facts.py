"""What the rules know about each object, and the relations between objects.

The index pass (:mod:`toolkit.rules.indexpass`) builds the indexes of
:mod:`toolkit.rules.indexes` and each object's gates into a :class:`Context`;
:meth:`Context.facts_at` derives one object's
:class:`Facts` - its values as read, primary, old addresses, cc:Mail name and
stale entries - from its recipient and those indexes; the rules and the row
of that object are built from that one set of facts.

Named relations (each quoting the spec sentence it implements):
:func:`stale_entries`, :func:`orphan_pairs` / :meth:`Context.orphan_pair`,
:meth:`Context.routes_to_exchange`, :meth:`Context.reaches_exchange`.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from toolkit.model import (
    AD,
    CUSTOM_RECIPIENT,
    MAILBOX,
    CcmailValue,
    Dialect,
    DirEntry,
    Kind,
    Recipient,
    twin,
)
from toolkit.rules.indexes import AddressIndex, Index, Key
from toolkit.storage.entries import EntryTable
from toolkit.storage.recipients import RecipientTable
from toolkit.text import _FOLDED_PO, fold, fold_po

# The positions (in Context.entries) of the local entries of one ccmail-user
# row, its spelling first; most rows have one entry, kept bare (a tuple each
# would be ~2 MB at 25,000 rows).
UserGroup = int | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules need to know about one Exchange object."""

    r: Recipient
    valid: tuple[CcmailValue, ...]  # the valid values, in value order
    primary: CcmailValue | None  # spec, Terms: *Primary*
    old: tuple[CcmailValue, ...]  # mailboxes: valid values at a PO outside X, first of each key
    ccmail_name: str | None  # spec, Terms: the mailbox's *cc:Mail name*; others: the primary's
    stale_entries: tuple[DirEntry, ...] = ()  # mailboxes: see stale_entries()
    values: tuple[CcmailValue, ...] = ()  # every cc:Mail value, valid or not, as read
    i: int = -1  # position in Context.recipients

    @property
    def keys(self) -> tuple[Key, ...]:
        """The distinct folded addresses of the valid values, in value order.
        Derived when read: two rules and remediation read it, while every
        row makes its facts (at 100,000 people ~87,000 facts, ~8,000 reads)."""
        valid = self.valid
        if len(valid) == 1:
            return (valid[0].key,)  # type: ignore[return-value]
        return tuple(dict.fromkeys(v.key for v in valid))  # type: ignore[misc]


# Gates: for each object, conditions the index pass or its facts show, each
# NECESSARY for some rule of toolkit.rules.table to find something (a rule
# declares its gate there, beside its whole predicate). A clear bit proves the
# rule returns None, so findings_of skips the call. Why: at 100,000 objects a
# mailbox row called 11 rules, ~1.1 s CPU of the audit, and most calls only
# looked something up to return None. The index-pass bits are one byte per
# object (Context.marks, ~90 KB), the others are read from the facts.
SHARED_ADDRESS = 1  # one of its folded addresses is on another object too
SHARED_NAME = 2  # its primary's folded name is another object's primary's name too
NO_PRIMARY_AT_X = 4  # it has no primary at X
UPPERS = 8  # it has two or more valid upper-case CCMAIL: proxies
NAME_ELSEWHERE = 16  # a user entry with its primary's folded name routes outside X
UNREACHED = 32  # it has no primary, or no user entry with that name routes to X
ORPHAN = 64  # it is in an orphan-custom-recipient pair (Context.orphans)
NO_OLD_THERE = 128  # such an entry is at a PO where it has no address of that name
INDEX_GATES = 255  # every bit above: what is assumed of an object no index saw
INVALID = 256  # it carries an invalid cc:Mail value
STALE = 512  # it has stale entries (Facts.stale_entries)
POWERSHELL = 1024  # remote PowerShell returned its cc:Mail values


def primary_of(kind: Kind, valid: Sequence[CcmailValue], x: set[str],
               dialect: Dialect) -> CcmailValue | None:
    """Spec, Terms, *Primary* (invalid values never count): a custom
    recipient's cc:Mail ``targetAddress``; else, AD: the last upper-case
    ``CCMAIL:`` proxy in value order; 5.5: the first address at X.

    This is the definition. Two hot paths restate it over a packed record's
    canonical values, for speed: :meth:`toolkit.rules.indexpass.IndexFeed.part`
    and :func:`toolkit.rules.rows.light_row`; ``tests/test_index_feed.py`` and
    ``tests/test_quiet_rows.py`` compare each with this function on generated
    organisations. A change here must be made there too."""
    if kind is CUSTOM_RECIPIENT:
        for v in valid:
            if v.source == "target":
                return v
    if dialect is AD:
        found = None
        for v in valid:
            if v.prefix == "CCMAIL" and v.source == "proxy":
                found = v
        return found
    for v in valid:
        if v.key[1] in x:  # type: ignore[index]
            return v
    return None


def facts_of(r: Recipient, x: set[str], dialect: Dialect, i: int = -1,
             users_by_name: Index | None = None, marks: int = INDEX_GATES,
             entries: EntryTable | None = None) -> Facts:
    """The facts of one object; its stale entries too when ``users_by_name``
    (the positions in ``entries`` of the cc:Mail user entries, by folded
    name) and ``entries`` are given. ``marks`` are its
    index-pass gates (:attr:`Context.marks`): without ``NAME_ELSEWHERE`` no
    entry with its primary's name routes outside X, so a mailbox whose old
    addresses all carry that name has no stale entry (no lookup needed)."""
    values = r.values  # a tuple
    valid = values
    for v in values:
        if v.error is not None:
            valid = tuple(v for v in values if v.error is None)
            break
    kind = r.kind
    primary = primary_of(kind, valid, x, dialect)
    old: tuple[CcmailValue, ...] = ()
    stale: tuple[DirEntry, ...] = ()
    if kind is MAILBOX:
        # Spec, Terms: old addresses are its cc:Mail addresses at a PO other than X
        # (a loop, not a comprehension: no function object made per object).
        found = []
        for v in valid:
            if v.key[1] not in x:  # type: ignore[index]
                found.append(v)
        if len(found) > 1:  # the first of each key
            seen: set[Key] = set()
            found = [v for v in found if not (v.key in seen or seen.add(v.key))]  # type: ignore[func-returns-value]
        old = tuple(found)
        # the cc:Mail name: the primary name, else its first old address's name
        name = primary.name if primary else (old[0].name if old else None)
        if users_by_name is not None and entries is not None and name is not None:
            look = marks & NAME_ELSEWHERE or primary is None
            if not look:
                pname = primary.key[0]  # type: ignore[union-attr,index]
                for v in found:
                    if v.key[0] != pname:  # type: ignore[index]
                        look = True
                        break
            if look:
                stale = _stale(primary, old, users_by_name, x, entries)
    else:
        name = primary.name if primary else None
    f = _FactsTwin()
    f.r = r
    f.valid = valid
    f.primary = primary
    f.old = old
    f.ccmail_name = name
    f.stale_entries = stale
    f.values = values
    f.i = i
    f.__class__ = Facts
    return f  # type: ignore[no-any-return]


# Facts(...) without the frozen dataclass __init__: see toolkit.model.twin.
_FactsTwin = twin(Facts)


def stale_entries(f: Facts, users_by_name: Index, x: set[str],
                  entries: EntryTable) -> tuple[DirEntry, ...]:
    """Spec, ``stale-ccmail-mailbox``: the cc:Mail user entries named like the
    mailbox's primary or one of its old addresses that route to a cc:Mail
    mailbox (not to X), in message order. ``users_by_name``: positions in
    ``entries`` by folded name."""
    if f.r.kind is not Kind.MAILBOX:
        return ()
    return _stale(f.primary, f.old, users_by_name, x, entries)


def _stale(primary: CcmailValue | None, old: tuple[CcmailValue, ...], users_by_name: Index,
           x: set[str], entries: EntryTable) -> tuple[DirEntry, ...]:
    """:func:`stale_entries` of a mailbox's primary and old addresses.

    Asked by ~30,000 rows at 100,000 people, each of a name or two with
    several entries: ``users_by_name`` is read raw (one holder bare, several
    a list) and a PO folded through :func:`~toolkit.text.fold_po`'s table
    first, no call a name or an entry for those."""
    if primary is not None:  # usually its one name: the old addresses carry it too
        first = primary.key[0]  # type: ignore[index]
        names: Iterable[str] = (first,)
        for v in old:
            if v.key[0] != first:  # type: ignore[index]
                names = {first, *[v.key[0] for v in old]}  # type: ignore[index]
                break
    else:
        names = {v.key[0] for v in old}  # type: ignore[index]
    return stale_of_names(names, users_by_name, x, entries)


def stale_of_names(names: Iterable[str], users_by_name: Index, x: set[str],
                   entries: EntryTable) -> tuple[DirEntry, ...]:
    """:func:`_stale` of the distinct folded names of a mailbox's primary and
    old addresses (in any order: the entries found are sorted)."""
    places, folded_po = entries.places, _FOLDED_PO.get
    found = []
    for name in names:
        have = dict.get(users_by_name, name)
        if have is None:
            continue
        for j, where, file_po, locn in places(have):
            if (folded_po(where) or fold_po(where)) not in x:
                found.append((name, folded_po(file_po) or fold_po(file_po), locn, j))
    if len(found) < 2:
        return (entries._at(found[0][3]),) if found else ()
    if len(found) == 2:  # the usual stale list: two heads decide (see _in_entry_order)
        a, b = found
        if a[:3] != b[:3]:
            at = entries._at
            return (at(a[3]), at(b[3])) if a < b else (at(b[3]), at(a[3]))
    return _in_entry_order([(name, j) for name, _, _, j in found], entries)


def _in_entry_order(found: list[tuple[str, int]], entries: EntryTable) -> tuple[DirEntry, ...]:
    """``(folded name, position)`` pairs' entries sorted by :func:`entry_order`,
    which begins with the folded name (known here: the lookup key) and the
    folded PO. Why: most stale lists differ there, so the rest of the key
    (folding each ``Addr``) is built only on a tie; at 100,000 people
    ~20,000 stale lists were sorted, ~35,000 full keys (0.1 s of CPU)."""
    locns, file_po, folded_po = entries.locns, entries.file_po, _FOLDED_PO.get
    heads, js = [], []
    for name, j in found:
        where = file_po(j)
        heads.append((name, folded_po(where) or fold_po(where), locns[j]))
        js.append(j)
    if len(set(heads)) == len(heads):  # distinct heads decide the whole order
        at = entries._at  # positions of the table: no range check
        return tuple([at(j) for _, j in sorted(zip(heads, js, strict=True))])
    return tuple(sorted([entries[j] for _, j in found], key=entry_order))


def entry_text(e: DirEntry) -> str:
    """How messages name a cc:Mail entry (only an R/r entry's ``Addr`` is read:
    most entries in messages are L entries)."""
    locn = e.locn
    if locn in "Rr":
        addr = e.addr
        if addr.strip():
            return f"{locn} entry '{e.name}' in {e.file_po}'s directory (Addr {addr!r})"
    return f"{locn} entry '{e.name}' in {e.file_po}'s directory"


def entry_order(e: DirEntry) -> tuple[str, ...]:
    """A reading-order-free order for entries in messages (LDAP, LDIF, any
    file order; spec: Output): by folded name, folded PO, location code and
    folded ``Addr``, ties by code point."""
    return (fold(e.name), fold_po(e.file_po), e.locn, fold(e.addr), e.name, e.file_po, e.addr)


def describe(r: Recipient) -> str:
    """How messages name an Exchange object."""
    return f"{_KIND_TEXT[r.kind]} {r.dn}"


# Each kind's text: Enum.value is a Python-level property (~1,500 instructions a
# read; ~2,600 messages name an object at 10,000 people).
_KIND_TEXT = {kind: kind.value for kind in Kind}


@dataclass(slots=True)
class Context:
    """The indexes shared by the rules, built in one pass over each input.

    Index values are positions in ``recipients`` (the objects with cc:Mail
    values, in reading order). Built once by
    :func:`toolkit.rules.indexpass.build_context` and not
    changed afterwards.
    """

    x: set[str]  # folded Exchange POs
    dialect: Dialect
    powershell: bool
    recipients: RecipientTable  # table[i] makes the plain recipient
    by_address: AddressIndex  # folded address -> positions of the objects carrying it
    by_primary_name: Index  # folded primary name -> positions
    users_by_name: Index  # folded name -> positions in entries of user entries (L l R r)
    orphans: dict[int, list[tuple[int, CcmailValue]]]  # see orphan_pairs()
    # each object's index-pass gates (SHARED_ADDRESS ... NO_OLD_THERE), by position
    marks: array[int]
    entries: EntryTable  # every cc:Mail entry; table[j] makes the plain entry

    def at_x(self, po: str | None) -> bool:
        """'At X' means at any PO in X."""
        return po is not None and fold_po(po) in self.x

    def routes_to_exchange(self, j: int) -> bool:
        """Spec, Terms: an entry routes to Exchange when its PO is X (entry
        ``j`` of :attr:`entries`, read by position)."""
        return fold_po(self.entries.po(j)) in self.x

    def reaches_exchange(self, f: Facts) -> bool:
        """A user entry with the object's cc:Mail name routes to Exchange."""
        if f.ccmail_name is None:
            return False
        if f.primary is not None and f.i >= 0:  # its cc:Mail name is its primary's:
            return not self.marks[f.i] & UNREACHED  # the index pass looked it up
        name = (f.primary or f.old[0]).key[0]  # type: ignore[index]  # fold(f.ccmail_name)
        return any(self.routes_to_exchange(j) for j in self.users_by_name.get(name, ()))

    def user_entries(self, name: str) -> list[DirEntry]:
        """The cc:Mail user entries (L l R r) of folded name ``name``, in reading order."""
        entries = self.entries
        return [entries[j] for j in self.users_by_name.get(name, ())]

    def describe(self, i: int) -> str:
        """:func:`describe` of ``recipients[i]``, read from the table."""
        return f"{_KIND_TEXT[self.recipients.kinds[i]]} {self.recipients.dn(i)}"

    def facts_at(self, i: int) -> Facts:
        """The facts of ``recipients[i]``, stale entries included."""
        # _at: i is a position the analysis made (~100,000 calls without the
        # sequence's bounds check)
        return facts_of(self.recipients._at(i), self.x, self.dialect, i, self.users_by_name,
                        self.marks[i], self.entries)

    def gates(self, f: Facts) -> int:
        """The gate bits of ``f`` (see ``SHARED_ADDRESS`` ...): its index-pass
        marks plus what its facts show."""
        may = self.marks[f.i] if f.i >= 0 else INDEX_GATES
        if len(f.valid) != len(f.values):
            may |= INVALID
        if f.stale_entries:
            may |= STALE
        if self.powershell and f.r.exchange_values is not None:
            may |= POWERSHELL
        return may

    @property
    def facts(self) -> FactsView:
        """``facts[i]``: :meth:`facts_at` as a sequence (remediation reads it)."""
        return FactsView(self)

    def orphan_pair(self, i: int, j: int) -> bool:
        """Objects ``i`` and ``j`` form an ``orphan-custom-recipient`` pair."""
        return any(k == j for k, _ in self.orphans.get(i, ()))


class FactsView(Sequence[Facts]):
    """The facts of every recipient, derived when read."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def __len__(self) -> int:
        return len(self._ctx.recipients)

    def __getitem__(self, i):  # type: ignore[no-untyped-def,override]
        if isinstance(i, slice):
            return [self._ctx.facts_at(k) for k in range(len(self))[i]]
        if i < 0:
            i += len(self)
        return self._ctx.facts_at(i)

    def __iter__(self) -> Iterator[Facts]:
        for i in range(len(self)):
            yield self._ctx.facts_at(i)


def orphan_pairs(recips: RecipientTable, facts: list[Facts | None], by_address: AddressIndex,
                 x: set[str]) -> dict[int, list[tuple[int, CcmailValue]]]:
    """Spec, ``orphan-custom-recipient``: a custom recipient carries one of the
    mailbox's old addresses (as targetAddress or proxy). Both ways: position
    -> [(partner position, the mailbox's old value)].

    Only addresses on several objects can be shared: the index finds the few
    mailboxes concerned (``facts`` holds theirs)."""
    custom = Kind.CUSTOM_RECIPIENT
    kinds = recips.kinds
    orphans: dict[int, list[tuple[int, CcmailValue]]] = defaultdict(list)
    for i, f in enumerate(facts):
        if f is None:
            continue
        for v in f.old:
            for j in by_address[v.key]:  # type: ignore[index]
                if kinds[j] is custom:
                    orphans[i].append((j, v))
                    orphans[j].append((i, v))
    return dict(orphans)


def user_group(positions: int | list[int], entries: EntryTable) -> UserGroup:
    """The entries (positions in ``entries``) of one ``ccmail-user`` row: one
    bare; several as a tuple, first the one whose spelling sorts first by code
    point (it names the row, so that the order of entries and files never
    changes the output), then the others in message order."""
    if positions.__class__ is not list:
        return positions  # type: ignore[return-value]
    made = {j: entries[j] for j in positions}  # type: ignore[union-attr]
    first = min(made, key=lambda j: (" ".join(made[j].name.split()), made[j].file_po,
                                     entry_order(made[j])))
    return (first, *sorted((j for j in made if j != first), key=lambda j: entry_order(made[j])))


def user_entries(group: UserGroup, entries: EntryTable) -> tuple[DirEntry, ...]:
    """The entries of a ``ccmail-user`` row's group, made from the table."""
    if group.__class__ is int:
        return (entries[group],)  # type: ignore[index]
    return tuple([entries[j] for j in group])  # type: ignore[union-attr]
