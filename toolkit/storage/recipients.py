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

Only this module and :mod:`toolkit.storage` know the record's layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any

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


def _fold_each(texts: Iterable[str]) -> list[str]:
    """``[fold(t) for t in texts]``, ASCII inline (the call saved)."""
    return [" ".join(t.split()).casefold() if t.isascii() else fold(t) for t in texts]


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
    __slots__ = ("_counts", "_exchange", "_frozen", "_records", "_subtypes", "_with_values",
                 "kinds")

    def __init__(self, recipients: Iterable[Recipient] = ()) -> None:
        self._records: list[str | tuple[Any, ...]] = []
        self.kinds: list[Kind] = []
        self._subtypes: list[str | None] = []
        self._counts: list[int | None] = []
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
        if self._frozen:
            self._writable()
        self._with_values = None
        self._records.append(pack_record(dn, packed, primary_smtp, nickname, sam, upn, mail,
                                         legacy_dn, smtp))
        self.kinds.append(kind)
        self._subtypes.append(subtype)
        self._counts.append(None)

    def extend(self, records: list[str | tuple[Any, ...]], kinds: list[Kind],
               subtypes: list[str | None]) -> None:
        """Records packed elsewhere (:func:`toolkit.exchange.dialects.classify_part`),
        with their kinds and subtypes; no item counts yet."""
        if self._frozen:
            self._writable()
        self._with_values = None
        self._records += records
        self.kinds += kinds
        self._subtypes += subtypes
        self._counts += [None] * len(records)

    def append(self, r: Recipient) -> None:
        self.add(r.dn, r.kind, list(r.values), r.primary_smtp, list(r.smtp), r.nickname, r.sam,
                 r.upn, r.mail, r.subtype, r.legacy_dn)
        self._counts[-1] = r.item_count
        if r.exchange_values is not None:
            self._exchange[len(self._records) - 1] = tuple(r.exchange_values)

    def set_item_count(self, i: int, count: int | None) -> None:
        self._writable()
        self._with_values = None
        self._counts[i] = count

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
        records = self._records
        # record_has_values of each record, without a call each: a string
        # record ends with the separator when it has no value; a tuple's
        # last field is its values ("" or [] when none)
        lasts = list(map(_last, records))
        if "\x05" not in lasts and "" not in lasts and [] not in lasts:
            return self  # all of them (the analysis asks twice)
        keep = [i for i, last in enumerate(lasts) if last and last != "\x05"]
        out = RecipientTable()
        kinds, subtypes, counts = self.kinds, self._subtypes, self._counts
        out._records = [records[i] for i in keep]
        out.kinds = [kinds[i] for i in keep]
        out._subtypes = [subtypes[i] for i in keep]
        out._counts = [counts[i] for i in keep]
        out._exchange = {n: self._exchange[i] for n, i in enumerate(keep) if i in self._exchange}
        return out

    # ------------------------------------------------------------ reading by position

    @property
    def records(self) -> list[str | tuple[Any, ...]]:
        """The packed records, in order (:func:`toolkit.storage.pack_record`'s;
        read-only: what the index pass reads, as a reader's parts hand it)."""
        return self._records

    def dn(self, i: int) -> str:
        return record_dn(self._records[i])

    def folded_dns(self) -> list[str]:
        """Every recipient's folded DN (:func:`toolkit.text.fold`), in order:
        the rows' sort keys, made in one pass over the records (at 100,000
        people a method call and a ``fold`` call per recipient fewer). The
        DNs are cut from string records by one C-level map (``partition``),
        not an index and a slice each: 76.5 -> 70.5 M instructions at 10,000
        people."""
        records = self._records
        try:  # (lazily: one DN at a time, no list of them beside the keys)
            return _fold_each(map(_first, map(str.partition, records, repeat("\x05"))))
        except TypeError:  # a tuple record (a field held the separator)
            return _fold_each(map(record_dn, records))

    def has_values(self, i: int) -> bool:
        """Whether recipient ``i`` carries a cc:Mail value, without decoding any."""
        return record_has_values(self._records[i])

    def valid_keys(self, i: int) -> list[ValueKey | CcmailValue]:
        """The valid values of recipient ``i`` as the indexes read them
        (``prefix``, ``source``, ``key``), in value order:
        :func:`toolkit.storage.valid_keys`, which skips building a
        :class:`CcmailValue` for most values."""
        return valid_keys(record_vals(self._records[i]))

    def each_valid_keys(self, spellings: dict[str, str] | None = None
                        ) -> Iterator[list[ValueKey | CcmailValue]]:
        """:meth:`valid_keys` of every recipient, in order
        (:func:`toolkit.storage.records_valid_keys`, with no call a
        recipient); ``spellings`` learns each name as written -> its folded
        string."""
        return records_valid_keys(self._records, spellings)

    def stats_identities(self, i: int) -> tuple[str, str | None, str | None, str | None]:
        """(dn, primary_smtp, nickname, sam) of recipient ``i``: what
        ``--mailbox-stats`` matches, in order, nothing else decoded."""
        return stats_ids(self._records[i])

    def item_count(self, i: int) -> int | None:
        return self._counts[i]

    # ------------------------------------------------------------ the sequence

    def __len__(self) -> int:
        return len(self._records)

    def light_fields(self, i: int) -> tuple[str, list[tuple[str, str]]] | None:
        """Recipient ``i``'s DN and :func:`toolkit.storage.canonical_fields`
        of its values; None when a value is not canonical and valid (or a
        field held the separator): then only the recipient tells."""
        d = self._records[i]
        if d.__class__ is not str:
            return None
        dn, _, vals = d.split("\x05")  # type: ignore[union-attr]
        fields = canonical_fields(vals)
        return None if fields is None else (dn, fields)

    def _at(self, i: int) -> Recipient:
        d = self._records[i]
        # Made once per row's facts (~90,000 at 100,000 people): the record is
        # split once here rather than by the three record_* readers.
        if d.__class__ is str:
            dn, ids, vals = d.split("\x05")  # type: ignore[union-attr]
            values = tuple(unpack_values(vals))
        else:  # a field held the separator: (dn, ids, packed or parsed values)
            dn, ids, vals = d  # type: ignore[misc]
            values = tuple(unpack_values(vals) if vals.__class__ is str else vals)
        # identity fields decoded when first read: no audit row reads them
        return new_lazy_recipient(dn, self.kinds[i], values, unpack_ids, ids, self._counts[i],
                                  self._exchange.get(i), self._subtypes[i])

    def __iter__(self) -> Iterator[Recipient]:
        for i in range(len(self._records)):
            yield self._at(i)
