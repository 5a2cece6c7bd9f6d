"""Rows: one per Exchange object with cc:Mail values and one per cc:Mail user
still only on cc:Mail (spec, *Which rows*), sorted by key.

:func:`analyse` builds the indexes (:func:`toolkit.rules.indexpass.build_context`)
and returns :class:`Rows`, which makes each row - findings and messages
included - from one derivation of its object's facts, when it is read. Rows
are frozen values computed from the analysis alone, so reading one twice
gives equal rows and nothing done to the inputs afterwards can make a read
fail. At 100,000 rows, keeping every row with its messages would cost ~45 MB;
:class:`Rows` keeps the order and each row's codes (2 bytes a row).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from unicodedata import normalize

from toolkit.model import (
    AD,
    CUSTOM_RECIPIENT,
    MAILBOX,
    Dialect,
    DirEntry,
    Finding,
    Kind,
    Recipient,
    Row,
    ValueSequence,
    new_lazy_row,
    new_row,
)
from toolkit.parallel import background, ordered_map
from toolkit.rules.facts import (
    INDEX_GATES,
    NAME_ELSEWHERE,
    UNREACHED,
    Context,
    Facts,
    UserGroup,
    stale_of_names,
    user_entries,
)
from toolkit.rules.indexpass import IndexFeed, build_context
from toolkit.rules.table import (
    GATES_OF,
    awaiting_finding,
    findings_of,
    not_migrated,
    stale_finding,
    unconfirmed_finding,
)
from toolkit.storage.entries import EntryTable
from toolkit.storage.recipients import RecipientTable
from toolkit.text import _FOLDED_PO, fold, fold_po


def route_of(ctx: Context, f: Facts) -> str | None:
    """Spec, ``route``: a stale mailbox's mail lands in cc:Mail; else it reaches
    Exchange if a user entry with its cc:Mail name routes there."""
    if f.r.kind is not MAILBOX:
        return None
    if f.stale_entries:
        return "ccmail-mailbox"
    return "exchange" if ctx.reaches_exchange(f) else "undeliverable"


def old_post_office(ctx: Context, f: Facts) -> str | None:
    """Spec, ``old_post_office``: a mailbox's first old address's PO; a custom
    recipient's primary's PO unless that is X."""
    kind = f.r.kind
    if kind is MAILBOX:
        return f.old[0].po if f.old else None
    if kind is CUSTOM_RECIPIENT and f.primary and not ctx.at_x(f.primary.po):
        return f.primary.po
    return None


def recipient_row(ctx: Context, i: int) -> Row:
    """The row of ``ctx.recipients[i]``: one set of facts, every rule once
    (:func:`light_row` when its index-pass gates allow that)."""
    kind = ctx.recipients.kinds[i]
    if not ctx.marks[i] & _LIGHT_MASKS[kind]:
        row = light_row(ctx, i, kind)
        if row is not None:
            return row
    return facts_row(ctx, i)


def facts_row(ctx: Context, i: int) -> Row:
    """:func:`recipient_row` from the object's facts (any object)."""
    f = ctx.facts_at(i)
    r = f.r
    dn, kind = r.dn, r.kind
    key = " ".join(dn.split()).casefold() if dn.isascii() else fold(dn)  # fold, ASCII inline
    # old_post_office() and route_of() written out: two calls a row fewer
    # (~110,000 rows at 100,000 people)
    if kind is MAILBOX:
        old = f.old
        po = old[0].po if old else None
        route = ("ccmail-mailbox" if f.stale_entries else
                 "exchange" if ctx.reaches_exchange(f) else "undeliverable")
    else:
        po = route = None
        if kind is CUSTOM_RECIPIENT:
            primary = f.primary
            if primary and not ctx.at_x(primary.po):
                po = primary.po
    return new_row("dn:" + key, dn, kind, f.ccmail_name, po, route, findings_of(ctx, f), r, ())


# Per kind, the index-pass gates (Context.marks) that rule out light_row: its
# rules' gates, but for a mailbox the two light_row decides itself (UNREACHED:
# awaiting-dirsync; NAME_ELSEWHERE: where to look for stale entries).
_LIGHT_MASKS = {kind: INDEX_GATES if bits < 0 else
                bits & INDEX_GATES & ~UNREACHED if kind is MAILBOX else bits & INDEX_GATES
                for kind, bits in GATES_OF.items()}
_NEVER_LIGHT = {kind for kind, bits in GATES_OF.items() if bits < 0}


def light_row(ctx: Context, i: int, kind: Kind | None = None) -> Row | None:
    """:func:`recipient_row` of an object whose only possible findings are
    ``stale-ccmail-mailbox``, ``unconfirmed-migration`` or
    ``awaiting-dirsync``, made from its packed record without its facts,
    values or recipient (that is made if the row's ``recipient`` is read:
    :func:`toolkit.model.new_lazy_row`); None when that is not proven here.

    The proof is the gates' (:func:`toolkit.rules.table.findings_of` would
    call no other rule): the caller saw none of the other index-pass gates
    of its kind's rules in ``ctx.marks``; here every value is canonical and
    valid (no ``INVALID``), there are no PowerShell values (no
    ``POWERSHELL``) and a mailbox has a primary. Its stale entries are
    looked up as :func:`toolkit.rules.facts.facts_of` does (only with
    ``NAME_ELSEWHERE`` or an old address of another name); without any, a
    set ``UNREACHED`` is ``awaiting-dirsync`` (no entry with its primary's
    name routes to X) and a clear one a complete row.

    Why: ~46,000 of the ~113,000 rows at 100,000 people are complete
    mailboxes and custom recipients and ~26,000 stale or awaiting ones;
    decoding their values into :class:`~toolkit.model.CcmailValue` objects,
    their facts and the gate check were most of such a row's instructions."""
    recips = ctx.recipients
    if kind is None:
        kind = recips.kinds[i]
    if kind in _NEVER_LIGHT or (ctx.powershell and kind is MAILBOX):
        return None
    got = recips.light_fields(i)
    if got is None:
        return None
    dn, values = got  # (head, PO) a value: head is tag, TYPE, separator, name
    x, folded_po = ctx.x, _FOLDED_PO.get
    primary = None  # toolkit.rules.facts.primary_of over (head, PO)
    if kind is CUSTOM_RECIPIENT:
        for v in values:
            if v[0] > "w":  # its tag is "w" (a target), not "v"
                primary = v
                break
    if primary is None:
        if ctx.dialect is AD:
            for v in values:
                # head.startswith("vCCMAIL") (a proxy of upper-case type), no call:
                # exactly the strings that begin so sort from "vCCMAIL" to "vCCMAIM"
                if "vCCMAIL" <= v[0] < "vCCMAIM":
                    primary = v
        else:
            for v in values:
                if (folded_po(v[1]) or fold_po(v[1])) in x:
                    primary = v
                    break
    po = route = name = None
    found: tuple[Finding, ...] = ()
    if kind is MAILBOX:
        if primary is None:
            return None
        name = primary[0][8:]
        folded = names = None
        for head, where in values:  # the old addresses: the first one's PO, each one's name
            if (folded_po(where) or fold_po(where)) not in x:
                if po is None:
                    po = where
                other = head[8:]
                if other != name:
                    if folded is None:
                        folded = name.casefold() if name.isascii() else fold(name)
                    other = other.casefold() if other.isascii() else fold(other)
                    if other != folded:
                        if names is None:
                            names = {folded}
                        names.add(other)
        marks = ctx.marks[i]
        stale: tuple[DirEntry, ...] = ()
        if names is not None or marks & NAME_ELSEWHERE:
            if names is None:
                names = (folded or (name.casefold() if name.isascii() else fold(name)),)
            stale = stale_of_names(names, ctx.users_by_name, x, ctx.entries)
        if stale:
            route = "ccmail-mailbox"
            first = stale_finding(dn, stale)
            more = unconfirmed_finding(dn, recips.item_count(i), stale)
            found = (first,) if more is None else (first, more)
        elif marks & UNREACHED:
            route = "undeliverable"
            where = primary[1]
            found = (awaiting_finding(ctx, dn, name, (folded_po(where) or fold_po(where)) in x),)
        else:
            route = "exchange"
    elif primary is not None:
        name = primary[0][8:]
        if kind is CUSTOM_RECIPIENT and (folded_po(primary[1]) or fold_po(primary[1])) not in x:
            po = primary[1]
    # fold(dn), the call saved: ASCII needs no NFC
    key = " ".join((dn if dn.isascii() else normalize("NFC", dn)).split()).casefold()
    return new_lazy_row("dn:" + key, dn, kind, name, po, route, found, recips, i)


def user_row(ctx: Context, group: UserGroup) -> Row:
    """The ``ccmail-user`` row of one (name, PO): its first entry's spelling."""
    # (one entry: made by position, no user_entries or __getitem__ call)
    entries = ((ctx.entries._at(group),) if group.__class__ is int  # type: ignore[arg-type]
               else user_entries(group, ctx.entries))
    e = entries[0]
    name = " ".join(e.name.split())  # squeeze; fold(e.name) of an ASCII name is this, case-folded
    folded = name.casefold() if name.isascii() else fold(e.name)
    po = e.file_po
    # (~25,000 rows at 100,000 people: fold_po's table read here, and the kind a
    # module global - an Enum class attribute is a slot-hook call on Python 3.11)
    return new_row(f"ccmail:{folded}@{_FOLDED_PO.get(po) or fold_po(po)}", None, CCMAIL_USER,
                   name, po, "ccmail-mailbox", (not_migrated(entries, name),), None, entries)


CCMAIL_USER = Kind.CCMAIL_USER


NOT_MIGRATED = ("not-migrated",)
_UNKNOWN = 0xFFFF  # a row whose codes are not known yet


def codes_of(row: Row) -> tuple[str, ...]:
    """The codes of ``row``'s findings, in order."""
    findings = row.findings  # most rows have none or one
    return (() if not findings else (findings[0].code,) if len(findings) == 1
            else tuple([fd.code for fd in findings]))


# What a range of rows comes back as from :meth:`Rows.rendered`'s chunks: the
# text, the position of its first recipient row, the distinct code tuples of
# its recipient rows and, per recipient row, the index of its tuple (array "H").
_Rendered = tuple[str, int, list[tuple[str, ...]], bytes]


class Rows(ValueSequence[Row]):
    """The rows of an analysis, sorted by key, each made when read.

    Keeps the ``ccmail-user`` rows' entries, the recipients' order (an
    ``array``) and, once a row has been made, its finding codes (an index
    into the few distinct code tuples), so :meth:`codes` - what ``--fail-on``
    needs - does not make the rows again. Read-only.
    """

    _noun = "rows"
    __slots__ = ("_code_sets", "_codes", "_ctx", "_head", "_known", "_order")

    def __init__(self, ctx: Context, head: list[UserGroup], order: array[int]) -> None:
        self._ctx, self._head, self._order = ctx, head, order
        self._codes = array("H", [_UNKNOWN]) * len(order)
        self._code_sets: list[tuple[str, ...]] = []
        self._known: dict[tuple[str, ...], int] = {}

    def __len__(self) -> int:
        return len(self._head) + len(self._order)

    def _make(self, n: int) -> Row:
        row = recipient_row(self._ctx, self._order[n])
        if self._codes[n] == _UNKNOWN:
            self._keep(n, row)
        return row

    def _keep(self, n: int, row: Row) -> None:
        """Keeps the codes of row ``n`` (the ``n``-th recipient row)."""
        found = codes_of(row)
        c = self._known.get(found)
        if c is None:
            c = self._code_index(found)
        self._codes[n] = c

    def _code_index(self, found: tuple[str, ...]) -> int:
        c = self._known.get(found)
        if c is None:
            c = self._known[found] = len(self._code_sets)
            self._code_sets.append(found)
        return c

    def _at(self, k: int) -> Row:
        head = self._head
        if k < len(head):
            return user_row(self._ctx, head[k])
        return self._make(k - len(head))

    def __iter__(self) -> Iterator[Row]:
        ctx = self._ctx
        for group in self._head:
            yield user_row(ctx, group)
        # _make, _keep and codes_of written out: three calls a row fewer (the
        # audit reads each row here)
        codes, known, index = self._codes, self._known, self._code_index
        for n, i in enumerate(self._order):
            row = recipient_row(ctx, i)
            if codes[n] == _UNKNOWN:
                findings = row.findings
                found = (() if not findings else (findings[0].code,) if len(findings) == 1
                         else tuple([fd.code for fd in findings]))
                c = known.get(found)
                codes[n] = index(found) if c is None else c
            yield row

    def rendered(self, render: Callable[[Iterable[Row]], str], size: int) -> Iterator[str]:
        """``render(rows)`` of each range of ``size`` consecutive rows, in
        order, the ranges shared with a forked worker
        (:func:`toolkit.parallel.ordered_map`); afterwards every row's codes
        are kept as if the rows had been read here.

        Why: making and writing the rows is a third of an audit's wall time
        (2.55 s of 7.2 s at 100,000 people, one process) and each row depends
        on the analysis alone, which the worker inherits when it is forked, so
        the worker makes and renders about half the ranges. ``render`` must be
        pure (a range's text depends on its rows only); what crosses back is
        the text and two bytes of codes a row.
        """
        def chunk(span: tuple[int, int]) -> _Rendered:
            found: dict[tuple[str, ...], int] = {}
            marks = array("H")
            text = render(self._range(span[0], span[1], found, marks))
            return text, max(span[0] - len(self._head), 0), list(found), marks.tobytes()

        total = len(self)
        spans = ((k, min(k + size, total)) for k in range(0, total, size))
        for text, first, sets, marks in ordered_map(chunk, spans):
            self._learn(first, sets, marks)
            yield text

    def _range(self, start: int, stop: int, found: dict[tuple[str, ...], int],
               marks: array[int]) -> Iterator[Row]:
        """Rows ``start`` to ``stop``; each recipient row's code tuple is
        numbered in ``found`` and its number appended to ``marks``."""
        ctx, head, order = self._ctx, self._head, self._order
        h = len(head)
        for k in range(start, min(stop, h)):
            yield user_row(ctx, head[k])
        mark = marks.append
        for n in range(max(start - h, 0), max(stop - h, 0)):
            row = recipient_row(ctx, order[n])
            findings = row.findings  # codes_of(row) written out: one call a row fewer
            codes = (() if not findings else (findings[0].code,) if len(findings) == 1
                     else tuple([fd.code for fd in findings]))
            c = found.get(codes)
            if c is None:
                c = found[codes] = len(found)
            mark(c)
            yield row

    def _learn(self, first: int, sets: list[tuple[str, ...]], marks: bytes) -> None:
        """Keeps the codes a range's :meth:`_range` numbered: recipient rows
        ``first`` onwards, in this object's own numbering of code tuples."""
        local = array("H", marks)
        mine = [self._code_index(found) for found in sets]
        if mine != list(range(len(mine))):
            local = array("H", [mine[c] for c in local])
        self._codes[first:first + len(local)] = local

    def position(self, k: int) -> int | None:
        """The position in the analysis' recipients of row ``k``'s object
        (None for a ``ccmail-user`` row): what remediation reads its facts by."""
        n = k - len(self._head)
        return None if n < 0 else self._order[n]

    def codes(self) -> Iterator[tuple[str, ...]]:
        """Each row's finding codes (rows not read yet are made once for it)."""
        for _ in self._head:
            yield NOT_MIGRATED
        codes, sets = self._codes, self._code_sets
        for n in range(len(self._order)):
            if codes[n] == _UNKNOWN:
                self._make(n)
            yield sets[codes[n]]


@dataclass(frozen=True, slots=True)
class Analysis:
    """The rows plus the indexes behind them (remediation plans from both)."""

    ctx: Context
    rows: Rows
    entries: EntryTable  # a Sequence[DirEntry]: each made when read


def row_order(recips: RecipientTable) -> array[int]:
    """The recipients' positions in the order of their rows (by folded DN)."""
    keys = recips.folded_dns()
    return array("l", sorted(range(len(recips)), key=keys.__getitem__))


def analyse(recipients: Iterable[Recipient], entries: Iterable[DirEntry],
            exchange_pos: Iterable[str], dialect: Dialect = Dialect.AD,
            powershell: bool = False, feed: IndexFeed | None = None) -> Analysis:
    """The analysis of ``recipients`` against the cc:Mail ``entries``; ``feed``:
    the index pass's recipients' half, fed while ``recipients`` was read
    (:class:`toolkit.rules.indexpass.IndexFeed`; made here when absent)."""
    table = EntryTable.of(entries)
    read = RecipientTable.of(recipients)
    recips = read.with_values()
    # Rows sorted by key: every "ccmail:..." key sorts before every "dn:..."
    # key, so each kind is sorted on its own.
    # Sorted by a forked worker, where one can be (toolkit.parallel), while
    # this process builds the indexes: ~0.2 s at 100,000 people off the time
    # the second core had nothing to do.
    order_of = background(lambda: row_order(recips))
    try:
        ctx, groups = build_context(read, table, exchange_pos, dialect, powershell, feed)
    finally:
        order = order_of()
    return Analysis(ctx, Rows(ctx, groups, order), table)


def evaluate(recipients: Iterable[Recipient], entries: Iterable[DirEntry],
             exchange_pos: Iterable[str], dialect: Dialect = Dialect.AD,
             powershell: bool = False) -> list[Row]:
    """Every row of the audit, sorted by key (spec: Output)."""
    return list(analyse(recipients, entries, exchange_pos, dialect, powershell).rows)
