"""The recipients an audit reads, kept compact: :class:`RecipientTable`.

Why a table and not a list of :class:`~toolkit.model.Recipient`: at 100,000
people a plain recipient with its parsed values and identity fields is
~1 KB; the audit keeps every one from the read to the last row. The table
keeps each as ONE record string (:func:`toolkit.storage.join_record`: DN,
packed identity fields, tagged raw values) plus its kind, subtype, item
count and Exchange values in columns, and makes the plain, immutable
recipient when one is read (``table[i]``). The rules' index pass reads the
packed records and ``kinds`` (:attr:`RecipientTable.records`, through
:func:`toolkit.storage.records_valid_keys`) without making recipients at
all; each row's facts make its recipient once.

Why each read part's records are kept as ONE string (their records joined,
a separator between them) with an offsets array, not one ``str`` a record:
the audit forks workers (:mod:`toolkit.parallel`) that read every record,
and CPython writes a reference count into each object it reads, so each
4 KB page of record strings a worker read was copied (Linux copies a
shared page on its first write). At 100,000 people the sort's worker and
the rows' worker each copied ~22 MB of record pages (measured page by page:
``/proc/PID/pagemap`` of worker and parent, pages by pymalloc size class).
A slice of a part's string is a new object: reading a record writes no
shared page. Item counts are an ``array`` for the same reason (one ``int``
object a mailbox otherwise).

Only this module and :mod:`toolkit.storage` know the record's layout.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import accumulate, compress, count, repeat
from operator import add, getitem, itemgetter, not_
from sys import getsizeof
from typing import Any, NamedTuple

from toolkit.model import CcmailValue, Kind, Recipient, ValueSequence, new_lazy_recipient
from toolkit.storage import (
    ValueKey,
    canonical_fields,
    pack_record,
    record_dn,
    record_has_values,
    record_vals,
    records_valid_keys,
    stats_ids,
    unpack_ids,
    unpack_values,
    valid_keys,
)
from toolkit.text import fold

_first, _last = itemgetter(0), itemgetter(-1)

# A tuple record (a field held the separator: :func:`toolkit.storage.join_record`)
# stands in its part's string as this, and is kept in ``RecipientTable._odd``;
# no string record is this (a record's identity fields are never empty).
_TUPLE = "\x05\x05"


# What a string of one byte a character (ASCII or Latin-1) takes beyond its
# length (PEP 393: header and terminator); a string of 2 or 4 bytes a
# character takes more than this beyond its length, whatever its length
# (an O(1) test: encoding each record to Latin-1 cost ~10 instructions a
# character).
# Why a record past U+00FF is kept aside: one makes its part's whole string
# 2 or 4 bytes a character, and ~1% of the bench's records have one, against
# ~half with a character past ASCII.
_ONE_BYTE = getsizeof("\xe9") - 1

_NO_COUNT = -1  # an item count not known
_COUNT_MAX = (1 << 63) - 1  # larger counts, and negative ones, are kept in RecipientTable._huge


def _fold_each(texts: Iterable[str]) -> list[str]:
    """``[fold(t) for t in texts]``, ASCII inline (the call saved)."""
    return [" ".join(t.split()).casefold() if t.isascii() else fold(t) for t in texts]


class PackedRecords(NamedTuple):
    """A run of records as :meth:`RecipientTable.extend` keeps them: made by
    :func:`packed_records` where the run was read (a forked reader's worker
    hands back one string, not a string a record: cheaper to pickle and to
    take in)."""

    text: str  # the records, a separator between them (_TUPLE for one kept aside)
    ends: array[int]  # each record's end + 1 in text
    aside: dict[int, str | tuple[Any, ...]]  # the records kept aside, by position
    bare: list[int]  # the positions of the records with no value, in order


def packed_records(records: list[str | tuple[Any, ...]]) -> PackedRecords:
    """``records`` (:func:`toolkit.storage.pack_record`'s) joined into one
    string of one byte a character, the few that would widen it kept aside."""
    aside: dict[int, str | tuple[Any, ...]] = {}
    # a tuple record (a field held the separator), a string one past U+00FF
    # (it takes more than a one-byte string beyond its length): found before
    # joining (a join that widens costs ~5 x one that does not)
    try:  # (only the records past ASCII measured: about half of the bench's)
        odd = [k for k, d in compress(enumerate(records), map(not_, map(str.isascii, records)))
               if getsizeof(d) - len(d) > _ONE_BYTE]  # type: ignore[arg-type]
    except TypeError:
        odd = [k for k, d in enumerate(records) if d.__class__ is not str
               or (not d.isascii() and getsizeof(d) - len(d) > _ONE_BYTE)]  # type: ignore[union-attr]
    if odd:
        records = list(records)
        text = _aside(records, odd, aside)
    else:
        text = "\x05".join(records)  # type: ignore[arg-type]
    # C level: each record's end + 1 is the running sum of len + 1
    ends = array("I", accumulate(map(add, map(len, records), repeat(1))))
    # the positions with no value: a string record ends with the separator
    # (C level; searching the string for two separators in a row cost more:
    # every record holds the separator twice, so the search stops often)
    bare = list(compress(count(), map("\x05".__eq__, map(_last, records))))
    if aside:  # (_TUPLE ends so too)
        bare = [k for k in bare if k not in aside]
        bare += [k for k, d in aside.items() if not record_has_values(d)]
        bare.sort()
    return PackedRecords(text, ends, aside, bare)


def _aside(records: list[str | tuple[Any, ...]], picked: list[int],
           aside: dict[int, str | tuple[Any, ...]]) -> str:
    """The records at ``picked`` put in ``aside``, _TUPLE in their place in
    ``records``; the records joined."""
    for k in picked:
        aside[k] = records[k]
        records[k] = _TUPLE
    return "\x05".join(records)  # type: ignore[arg-type]


class RecipientTable(ValueSequence[Recipient]):
    """Recipients in reading order; ``table[i]`` is a plain
    :class:`~toolkit.model.Recipient` made when read (a new, equal value
    each time). Readers :meth:`add` what they classified; :meth:`append`
    takes a recipient made by hand. ``kinds`` is the kinds column, read by
    position. Item counts and Exchange values learnt after the read are set
    by position (:meth:`set_item_count`, :meth:`set_exchange_values`): the
    stages that learn them own the table until the analysis starts, which
    :meth:`freeze`s it - rows made later must read what the analysis read
    (copy it, ``RecipientTable(table)``, to change anything afterwards)."""

    _noun = "recipients"
    __slots__ = ("_bare", "_counts", "_exchange", "_frozen", "_huge", "_odd", "_part", "_start",
                 "_stop", "_subtypes", "_texts", "_with_values", "kinds")

    def __init__(self, recipients: Iterable[Recipient] = ()) -> None:
        # record i is _texts[_part[i]][_start[i]:_stop[i]] (_TUPLE: _odd[i])
        self._texts: list[str] = []
        self._part = array("I")
        self._start = array("I")
        self._stop = array("I")
        self._odd: dict[int, tuple[Any, ...]] = {}
        self._bare: list[int] = []  # the positions of records with no value
        self.kinds: list[Kind] = []
        self._subtypes: list[str | None] = []
        self._counts = array("q")  # _NO_COUNT: None
        self._huge: dict[int, int] = {}  # counts past _COUNT_MAX or below 0
        self._exchange: dict[int, tuple[str, ...]] = {}  # few: PowerShell's answers
        self._frozen = False
        # with_values() until a write (False: this table itself)
        self._with_values: RecipientTable | None = None
        for r in recipients:
            self.append(r)

    @classmethod
    def of(cls, recipients: Iterable[Recipient]) -> RecipientTable:
        """``recipients`` as a table (itself when it is one)."""
        return recipients if isinstance(recipients, RecipientTable) else cls(recipients)

    # ------------------------------------------------------------ writing

    def freeze(self) -> None:
        """No change from now on (the analysis reads this table)."""
        self._frozen = True

    def _writable(self) -> None:
        if self._frozen:
            raise TypeError("this RecipientTable has been analysed and is read-only; "
                            "change a copy: RecipientTable(table)")

    def add(self, dn: str, kind: Kind, packed: str | list[CcmailValue],
            primary_smtp: str | None, smtp: list[str], nickname: str | None, sam: str | None,
            upn: str | None, mail: str | None, subtype: str | None,
            legacy_dn: str | None) -> None:
        """A recipient as a reader classified it: ``packed`` is
        :func:`toolkit.storage.pack_values`'s string (or a list of values)."""
        self.extend([pack_record(dn, packed, primary_smtp, nickname, sam, upn, mail, legacy_dn,
                                 smtp)], [kind], [subtype])

    def extend(self, records: list[str | tuple[Any, ...]] | PackedRecords, kinds: list[Kind],
               subtypes: list[str | None]) -> None:
        """Records packed elsewhere (:func:`toolkit.exchange.dialects.classify_part`;
        or already joined by :func:`packed_records`, where the part was read),
        with their kinds and subtypes; no item counts yet."""
        if self._frozen:
            self._writable()
        text, ends, aside, bare = (records if records.__class__ is PackedRecords
                                   else packed_records(records))  # type: ignore[arg-type]
        if not ends:
            return
        self._with_values = None
        base = len(self._part)
        self._start.append(0)
        self._start += ends[:-1]
        self._stop += array("I", map(add, ends, repeat(-1)))
        self._part += array("I", [len(self._texts)]) * len(ends)
        self._texts.append(text)
        for k, d in aside.items():
            self._odd[base + k] = d
        self._bare += map(add, bare, repeat(base))
        self.kinds += kinds
        self._subtypes += subtypes
        self._counts += array("q", [_NO_COUNT]) * len(ends)

    def append(self, r: Recipient) -> None:
        self.add(r.dn, r.kind, list(r.values), r.primary_smtp, list(r.smtp), r.nickname, r.sam,
                 r.upn, r.mail, r.subtype, r.legacy_dn)
        self._set_count(len(self._part) - 1, r.item_count)
        if r.exchange_values is not None:
            self._exchange[len(self._part) - 1] = tuple(r.exchange_values)

    def set_item_count(self, i: int, count: int | None) -> None:
        self._writable()
        self._with_values = None
        self._set_count(i, count)

    def _set_count(self, i: int, count: int | None) -> None:
        if count is not None and 0 <= count <= _COUNT_MAX:
            self._counts[i] = count  # (IndexError past either end, as a list)
            if self._huge:
                self._huge.pop(i % len(self._counts), None)
            return
        self._counts[i] = _NO_COUNT
        i %= len(self._counts)
        self._huge.pop(i, None)
        if count is not None:
            self._huge[i] = count

    def set_exchange_values(self, i: int, values: Iterable[str]) -> None:
        self._writable()
        self._with_values = None
        self._exchange[i] = tuple(values)

    def with_values(self) -> RecipientTable:
        """The recipients that carry a cc:Mail value, in order (what the
        rules read: the records are shared, not copied). The same table
        each time until this one is written to: the analysis asks more than
        once, and one copy of the columns is ~3 MB at 100,000 people."""
        kept = self._with_values
        if kept is None:
            kept = self._values_only()
            # itself kept as False: no reference cycle (the collector is off in an audit)
            self._with_values = False if kept is self else kept  # type: ignore[assignment]
        return self if kept is False else kept  # type: ignore[return-value]

    def _values_only(self) -> RecipientTable:
        # the positions with no value were noted as each part was added: no
        # record is read here, and the columns are copied run by run between
        # them (a few percent of the records: ~1,000 instructions a record
        # fewer than a position at a time)
        bare = self._bare
        if not bare:
            return self  # all of them (the analysis asks twice)
        gone = set(bare)

        def moved(kept: dict[int, Any]) -> dict[int, Any]:
            """``kept`` (by position here) by position in the copy."""
            return {i - bisect_left(bare, i): d for i, d in kept.items() if i not in gone}

        out = RecipientTable()
        out._texts = list(self._texts)  # shared strings, not copied
        for a, b in zip([-1, *bare], [*bare, len(self._part)], strict=True):
            if a + 1 < b:
                out._part += self._part[a + 1:b]
                out._start += self._start[a + 1:b]
                out._stop += self._stop[a + 1:b]
                out.kinds += self.kinds[a + 1:b]
                out._subtypes += self._subtypes[a + 1:b]
                out._counts += self._counts[a + 1:b]
        out._odd = moved(self._odd)
        out._huge = moved(self._huge)
        out._exchange = moved(self._exchange)
        return out

    # ------------------------------------------------------------ reading by position

    def _each(self) -> Iterator[str]:
        """Every record as its part's string holds it (_TUPLE for a tuple
        record), in order: one slice each, made at C level."""
        return map(getitem, map(self._texts.__getitem__, self._part),
                   map(slice, self._start, self._stop))

    def _record(self, i: int) -> str | tuple[Any, ...]:
        d = self._texts[self._part[i]][self._start[i]:self._stop[i]]
        return self._odd.get(i, d) if d == _TUPLE else d

    @property
    def records(self) -> list[str | tuple[Any, ...]]:
        """The packed records, in order (:func:`toolkit.storage.pack_record`'s;
        a new list each time: what the index pass reads when no reader fed it,
        as a reader's parts hand it)."""
        records: list[str | tuple[Any, ...]] = list(self._each())
        for i, d in self._odd.items():
            records[i] = d
        return records

    def dn(self, i: int) -> str:
        return record_dn(self._record(i))

    def folded_dns(self) -> list[str]:
        """Every recipient's folded DN (:func:`toolkit.text.fold`), in order:
        the rows' sort keys, made in one pass over the records (at 100,000
        people a method call and a ``fold`` call per recipient fewer). The
        DNs are cut from string records by one C-level map (``partition``),
        not an index and a slice each: 76.5 -> 70.5 M instructions at 10,000
        people."""
        # (lazily: one DN at a time, no list of them beside the keys; a split
        # of each part's string instead of a slice a record: 8 M instructions
        # more at 10,000 people, a split scans every character)
        keys = _fold_each(map(_first, map(str.partition, self._each(), repeat("\x05"))))
        for i, d in self._odd.items():  # a tuple record, a string one kept aside
            keys[i] = fold(record_dn(d))
        return keys

    def has_values(self, i: int) -> bool:
        """Whether recipient ``i`` carries a cc:Mail value, without decoding any."""
        return record_has_values(self._record(i))

    def valid_keys(self, i: int) -> list[ValueKey | CcmailValue]:
        """The valid values of recipient ``i`` as the indexes read them
        (``prefix``, ``source``, ``key``), in value order:
        :func:`toolkit.storage.valid_keys`, which skips building a
        :class:`CcmailValue` for most values."""
        return valid_keys(record_vals(self._record(i)))

    def each_valid_keys(self, spellings: dict[str, str] | None = None
                        ) -> Iterator[list[ValueKey | CcmailValue]]:
        """:meth:`valid_keys` of every recipient, in order
        (:func:`toolkit.storage.records_valid_keys`, with no call a
        recipient); ``spellings`` learns each name as written -> its folded
        string."""
        return records_valid_keys(self.records, spellings)

    def stats_identities(self, i: int) -> tuple[str, str | None, str | None, str | None]:
        """(dn, primary_smtp, nickname, sam) of recipient ``i``: what
        ``--mailbox-stats`` matches, in order, nothing else decoded."""
        return stats_ids(self._record(i))

    def item_count(self, i: int) -> int | None:
        count = self._counts[i]
        return count if count != _NO_COUNT else self._huge.get(i)

    # ------------------------------------------------------------ the sequence

    def __len__(self) -> int:
        return len(self._part)

    def light_fields(self, i: int) -> tuple[str, list[tuple[str, str]]] | None:
        """Recipient ``i``'s DN and :func:`toolkit.storage.canonical_fields`
        of its values; None when a value is not canonical and valid (or a
        field held the separator): then only the recipient tells."""
        d = self._record(i)
        if d.__class__ is not str:
            return None
        dn, _, vals = d.split("\x05")  # type: ignore[union-attr]
        fields = canonical_fields(vals)
        return None if fields is None else (dn, fields)

    def _at(self, i: int) -> Recipient:
        d = self._record(i)
        # Made once per row's facts (~90,000 at 100,000 people): the record is
        # split once here rather than by the three record_* readers.
        if d.__class__ is str:
            dn, ids, vals = d.split("\x05")  # type: ignore[union-attr]
            values = tuple(unpack_values(vals))
        else:  # a field held the separator: (dn, ids, packed or parsed values)
            dn, ids, vals = d  # type: ignore[misc]
            values = tuple(unpack_values(vals) if vals.__class__ is str else vals)
        # identity fields decoded when first read: no audit row reads them
        return new_lazy_recipient(dn, self.kinds[i], values, unpack_ids, ids, self.item_count(i),
                                  self._exchange.get(i), self._subtypes[i])

    def __iter__(self) -> Iterator[Recipient]:
        for i in range(len(self._part)):
            yield self._at(i)
