"""The index pass: the hash maps the rules look partners up in, and each
object's index-pass gates (:mod:`toolkit.rules.facts`, ``SHARED_ADDRESS`` ...).

It is one pass over the recipients (those with cc:Mail values) and one over
the cc:Mail entries. The recipients' half needs nothing but each recipient
and X, so it is an :class:`IndexFeed` a reader feeds part by part while the
directory is read (:func:`toolkit.exchange.dialects.read_table`):
:meth:`IndexFeed.part` runs in whichever process classifies the part - a
forked worker included - and :meth:`IndexFeed.add` files its result in the
reading process, in reading order. :func:`build_context` then makes the
entries' half and the relations that need every object (shared names and
addresses, orphan pairs, the ``ccmail-user`` rows).

Why: the index pass ran in one process after the read, ~1.1 s of wall time
at 100,000 people while the second core had nothing to do; decoding each
recipient's valid keys, its primary and its first gates was half of it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from toolkit.model import CUSTOM_RECIPIENT, Dialect, DirEntry, Kind, Recipient
from toolkit.rules.facts import (
    NAME_ELSEWHERE,
    NO_OLD_THERE,
    NO_PRIMARY_AT_X,
    ORPHAN,
    SHARED_ADDRESS,
    SHARED_NAME,
    UNREACHED,
    UPPERS,
    Context,
    Facts,
    UserGroup,
    facts_of,
    orphan_pairs,
    user_group,
)
from toolkit.rules.indexes import AddressIndex, Index, Key
from toolkit.storage import records_valid_keys
from toolkit.storage.entries import EntryTable
from toolkit.storage.recipients import RecipientTable
from toolkit.text import _FOLDED_PO, fold, fold_po

# What IndexFeed.part gives for one packed record: None when it carries no
# cc:Mail value (not in the analysis), else its distinct valid keys in value
# order, its primary's folded name (or None) and its first gates.
Keyed = tuple[tuple[Key, ...], str | None, int] | None


class IndexFeed:
    """The recipients' half of the index pass, fed while the directory is
    read: ``by_address``, ``by_primary_name`` and ``marks`` by position
    among the recipients with cc:Mail values (the analysis' positions)."""

    __slots__ = ("by_address", "by_primary_name", "dialect", "marks", "seen", "table", "x")

    def __init__(self, exchange_pos: Iterable[str], dialect: Dialect) -> None:
        self.x = {fold(p) for p in exchange_pos}
        self.dialect = dialect
        self.by_address = AddressIndex()  # folded address -> positions of the objects carrying it
        self.by_primary_name = Index()  # folded primary name -> positions
        self.marks = array("B")  # the index-pass gates of each object, by position
        self.seen = 0  # records fed, with cc:Mail values or not
        self.table: RecipientTable | None = None  # the table read, once done

    def part(self, records: Sequence[Any], kinds: Sequence[Kind]) -> list[Keyed]:
        """What the index pass reads of each packed record
        (:func:`toolkit.storage.pack_record`) of ``kinds``. Pure: it reads
        only what ``__init__`` set, so it runs where the part is classified.

        Why the record's values are read here and not by
        :func:`~toolkit.storage.records_valid_keys`: nearly every value is
        tagged canonical and valid (``v``/``w``), and for those a key is its
        folded name and PO, its prefix and tag all :func:`primary_of` reads
        (the primary: the first ``w`` of a custom recipient, else in AD the
        last ``vCCMAIL``, in 5.5 the first key at X). Read straight from the
        record - no :class:`~toolkit.storage.ValueKey` a value, no generator,
        no ``primary_of`` call - the part of the 10,000-people organisation's
        LDAP read (callgrind) took 234.7 M -> 188.5 M instructions. A record
        holding any other value (or a tuple record) takes the general way;
        tests/test_index_feed.py compares both with ``primary_of``."""
        x, ad = self.x, self.dialect is Dialect.AD
        custom = CUSTOM_RECIPIENT
        folded_po = _FOLDED_PO.get
        out: list[Keyed] = []
        add = out.append
        for d, kind in zip(records, kinds, strict=True):
            keys: list[Key] = []
            uppers = 0  # valid upper-case CCMAIL: proxies
            target = upper = None  # the first valid target's key, the last such proxy's
            if d.__class__ is str:
                cut = d.rindex("\x05") + 1
                if cut == len(d):  # no values: not in the analysis
                    add(None)
                    continue
                name_seen = folded = ""
                for item in d[cut:].split("\x00"):
                    tag = item[0]
                    if tag != "v" and tag != "w":
                        break
                    at = item.rfind(" at ")  # "TYPE:name at PO", as records_valid_keys reads it
                    name = item[8:at]
                    if name != name_seen:
                        name_seen = name
                        folded = name.casefold() if name.isascii() else fold(name)
                    po = item[at + 4:]
                    key = (folded, folded_po(po) or fold_po(po))
                    keys.append(key)
                    if tag == "w":
                        if target is None:
                            target = key
                    elif item[1:7] == "CCMAIL":
                        uppers += 1
                        upper = key
                else:
                    d = None
            if d is not None:  # the general way (a value to parse, a tuple record)
                last = d[-1]  # a record without values ends with its separator ("" or [] in a tuple)
                if not last or last == "\x05":
                    add(None)
                    continue
                keys, uppers, target, upper = [], 0, None, None
                for v in next(records_valid_keys((d,))):
                    key = v.key  # type: ignore[assignment]
                    keys.append(key)
                    if v.source != "proxy":
                        if target is None:
                            target = key
                    elif v.prefix == "CCMAIL":
                        uppers += 1
                        upper = key
            # primary_of: a custom recipient's first target, else AD's last upper-case
            # proxy, 5.5's first address at X
            if kind is custom and target is not None:
                primary = target
            elif ad:
                primary = upper
            else:
                primary = next((k for k in keys if k[1] in x), None)
            if primary is None:
                name = None
                mark = NO_PRIMARY_AT_X | UNREACHED
            else:
                name = primary[0]
                mark = UNREACHED if primary[1] in x else NO_PRIMARY_AT_X | UNREACHED
            if ad and uppers > 1:
                mark |= UPPERS
            if len(keys) == 1:
                add(((keys[0],), name, mark))
            elif len(keys) == 2 and keys[0] != keys[1]:
                add((tuple(keys), name, mark))
            else:
                add((tuple(dict.fromkeys(keys)), name, mark))
        return out

    def add(self, part: list[Keyed]) -> None:
        """Files one :meth:`part`'s result, in reading order. The primary's
        name is filed by ``Index.add`` written out (one dict call for a new
        name, the usual case): no Python call a recipient."""
        add_keys, by_name = self.by_address.add_keys, self.by_primary_name
        setdefault = dict.setdefault
        marks = self.marks
        mark_one = marks.append
        for item in part:
            if item is None:
                continue
            keys, name, mark = item
            i = len(marks)  # one int object, shared by every index
            add_keys(keys, i)
            if name is not None:
                have = setdefault(by_name, name, i)
                if have is not i:  # (no position is filed twice)
                    if have.__class__ is list:
                        have.append(i)
                    else:
                        dict.__setitem__(by_name, name, [have, i])
            mark_one(mark)
        self.seen += len(part)

    def done(self, table: RecipientTable) -> None:
        """The read is over: ``table`` is what was fed."""
        self.table = table

    def fed(self, table: RecipientTable, x: set[str], dialect: Dialect) -> bool:
        """Whether this feed holds ``table`` as it is now, for X and ``dialect``
        (records are only ever appended, so its length says it is unchanged)."""
        return (self.table is table and self.seen == len(table) and self.x == x
                and self.dialect is dialect)


_UNREAD = object()  # a look-up not made yet


def build_context(recipients: Iterable[Recipient], entries: Iterable[DirEntry] | EntryTable,
                  exchange_pos: Iterable[str], dialect: Dialect, powershell: bool = False,
                  feed: IndexFeed | None = None) -> tuple[Context, list[UserGroup]]:
    """The indexes, and the local entries of each cc:Mail user (name, PO) no
    Exchange mailbox has taken (spec, *Which rows*: the ``ccmail-user`` rows),
    in the order of those rows' keys.
    ``feed``: the recipients' half, fed while ``recipients`` was read (made
    here when it was not, or not for this table)."""
    pos = list(exchange_pos)
    x = {fold(p) for p in pos}
    table = EntryTable.of(entries)
    read = RecipientTable.of(recipients)
    recips = read.with_values()
    recips.freeze()  # rows made later read what this pass read
    if feed is None or not feed.fed(read, x, dialect):
        feed = IndexFeed(pos, dialect)
        feed.add(feed.part(read.records, read.kinds))
    kinds = recips.kinds
    by_address, by_primary_name, marks = feed.by_address, feed.by_primary_name, feed.marks
    mailbox = Kind.MAILBOX

    def taken(here: Any, holders: Any) -> bool:
        """Spec, *Which rows*: a mailbox has that valid address (``here``:
        by_address's objects at the key, raw), or that name as its primary's
        name (``holders``: by_primary_name's, raw); custom recipients never
        suppress the row."""
        for got in (here, holders):
            if got is not None and (kinds[got] is mailbox if got.__class__ is int
                                    else mailbox in map(kinds.__getitem__, got)):
                return True
        return False

    users_by_name = Index()
    # The indexes are read raw below (one holder bare, several a list), once
    # an entry, and Index.add written out: ~142,000 user entries at 100,000
    # people, and the pass runs alone. Its cost is memory latency: each look-up
    # in a map of ~100,000 names is a few cache misses, more of them the larger
    # the organisation. So by_address is read only where a rule reads it (a
    # holder's PO not at X, an L entry's first at its PO), and the entries of
    # the ccmail-user rows are kept in a small map a PO, which the entries of
    # its file (read file by file) keep in cache. Against reading by_address
    # every entry and one map keyed by (name, PO) (alternated in one process,
    # medians of 10): the pass 0.61 -> 0.56 s at 100,000 people, 1.26 -> 1.19
    # s at 200,000. (The spelling's map also giving the holders, a tuple a
    # name: 0.73 -> 0.68 and 1.27 -> 1.08 s in another such run, but 3 MB
    # more at the audit's peak.)
    raw_get = dict.get
    at_po: dict[str, tuple[bool, dict[str, Any], dict[str, Any]]] = {}
    # ^ PO as written -> whether at X, by_address's names at it (folded), the
    #   ccmail-user rows' entries there (folded name -> L/l entries)
    local: dict[str, dict[str, Any]] = {}  # folded PO -> that last map
    elsewhere, no_old = NAME_ELSEWHERE, NAME_ELSEWHERE | NO_OLD_THERE
    # Most cc:Mail user names are also an Exchange object's primary's name:
    # such an entry's folded name is keyed by the index's own string (at
    # 100,000 people 4 MB less at the peak; all of by_address's names cost
    # 0.1 s more for no less memory). Every name as written is folded again,
    # R entries' too (they repeat an L entry's name in the other POs' files):
    # a map remembering each spelling's fold cost more than folding, being
    # one more map of ~100,000 names (alternated in one process, medians of
    # ten: the pass 0.49 -> 0.47 s at 100,000 people, 1.13 -> 1.05 s at
    # 200,000).
    canon = dict(zip(by_primary_name, by_primary_name, strict=True))
    for e, locn, name, po in table.user_entries():  # e: the entry's position
        folded = " ".join(name.split()).casefold() if name.isascii() else fold(name)
        name = canon.get(folded, folded)
        holders = raw_get(by_primary_name, name)  # the objects whose primary has this name
        have = raw_get(users_by_name, name)
        if have is None:
            users_by_name[name] = e
        elif have.__class__ is list:
            have.append(e)
        else:
            users_by_name[name] = [have, e]
        place = at_po.get(po)
        if place is None:
            po_key = fold_po(po)
            place = at_po[po] = (po_key in x, by_address.at(po_key), local.setdefault(po_key, {}))
        at_x, names_here, rows_here = place
        here: Any = _UNREAD  # objects with Name at that PO, read once if needed
        if holders is not None:
            if at_x:
                if holders.__class__ is not list:
                    marks[holders] &= ~UNREACHED
                else:
                    for j in holders:
                        marks[j] &= ~UNREACHED
            else:
                here = raw_get(names_here, name)
                if holders.__class__ is not list:  # the usual: one holder
                    marks[holders] |= (no_old if here is None else elsewhere if here == holders
                                       or (here.__class__ is list and holders in here)
                                       else no_old)
                else:
                    there = here if here.__class__ is list else () if here is None else (here,)
                    for j in holders:
                        marks[j] |= elsewhere if j in there else no_old
        if locn in "Ll":  # an L/l entry's PO is its file's
            have = raw_get(rows_here, name)
            if have is not None:
                if have.__class__ is list:
                    have.append(e)
                else:
                    rows_here[name] = [have, e]
            elif not taken(raw_get(names_here, name) if here is _UNREAD else here, holders):
                rows_here[name] = e
    del canon
    for _, items in by_primary_name.several():
        for j in items:
            marks[j] |= SHARED_NAME
    # Mailbox old addresses shared with custom recipients: only addresses on
    # several objects can be, so only those mailboxes' facts are derived again.
    candidates: list[Facts | None] = [None] * len(recips)
    for key, items in by_address.shared():
        for j in items:
            marks[j] |= SHARED_ADDRESS
        if key[1] not in x:
            here = {kinds[j] for j in items}
            if CUSTOM_RECIPIENT in here and mailbox in here:
                for j in items:
                    if kinds[j] is mailbox and candidates[j] is None:
                        candidates[j] = facts_of(recips[j], x, dialect, j)
    orphans = orphan_pairs(recips, candidates, by_address, x)
    for j in orphans:
        marks[j] |= ORPHAN
    ctx = Context(x, dialect, powershell, recips, by_address, by_primary_name, users_by_name,
                  orphans, marks, table)
    # sorted by row key, "ccmail:" + folded name + "@" + folded PO (spec,
    # Output): the key's parts are the ones folded above, not folded again;
    # equal keys (an "@" in a name or PO) keep their first entry's order
    order = sorted((f"{name}@{po}", have if have.__class__ is int else have[0], have)
                   for po, rows_here in local.items() for name, have in rows_here.items())
    return ctx, [user_group(have, table) for _, _, have in order]

