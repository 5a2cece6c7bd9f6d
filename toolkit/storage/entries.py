"""The cc:Mail directory entries an audit reads, kept compact: :class:`EntryTable`.

Why a table and not a list of :class:`~toolkit.model.DirEntry`: at 100,000
people the bench organisation's exports hold ~145,000 entries, kept from
the read to the last row; a plain entry object with its ``file:line`` text
is ~200 bytes beside its name. The table keeps each field in a column -
names, location codes, ``Addr``/``Comments`` (one string per distinct text
of a file, :class:`DirFile`), line and ``Messages`` in ``array``\\ s, the
file the entry came from - ~60 bytes an entry, and makes the plain, immutable
entry when one is read (``table[i]``). The rules' index pass reads the
columns by position (``names``, ``locns``, :meth:`EntryTable.po`) without
making entries at all; messages, rows and remediation make the few they name.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterable, Iterator
from itertools import accumulate, chain, islice, repeat
from operator import add

from toolkit.model import NO_EXTRA, DirEntry, ValueSequence, entry_po, new_entry

_NONE = -1  # "no line" / "no Messages" in the int columns
NO_COUNT = _NONE  # "no Messages" in :meth:`EntryTable.add_columns`' counts


class PackedStrings(ValueSequence[str]):
    """Strings in order, kept as ONE string plus an array of each one's end
    (``strings[i]`` is a slice of it, a new string each time): the entries'
    names column.

    Why not a list: at 100,000 people the exports hold ~145,000 names, kept
    from the read to the last row. A string object is ~50 bytes beside its
    characters (7 MB of headers here), and the rows' forked worker
    (:mod:`toolkit.parallel`) copies every 4 KB page holding a name it reads,
    since reading an object writes its reference count: measured page by
    page, ~14 MB of name pages copied by a worker making half the rows. A
    slice is the worker's own new object; the one string is only read.
    Strings added are kept in ``_parts`` and joined on the next read."""

    __slots__ = ("_ends", "_parts", "_text")
    _noun = "strings"

    def __init__(self, strings: Iterable[str] = ()) -> None:
        self._text = ""
        self._parts: list[str] = []  # added since the last read, joined then
        self._ends = array("I")  # each string's end in the text
        self.extend(list(strings))

    def append(self, text: str) -> None:
        ends = self._ends
        ends.append((ends[-1] if ends else 0) + len(text))
        self._parts.append(text)

    def extend(self, strings: list[str]) -> None:
        """Each of ``strings``, after these (one join, no call a string)."""
        if strings:
            ends = self._ends
            ends.extend(islice(accumulate(map(len, strings), initial=ends[-1] if ends else 0),
                               1, None))
            self._parts.append("".join(strings))

    def extend_packed(self, other: PackedStrings) -> None:
        """Every string of ``other``, after these (its text taken whole)."""
        base = self._ends[-1] if self._ends else 0
        # made whole before extending: ``other`` may be this column (extend reads as it grows)
        self._ends.extend(array("I", map(add, other._ends, repeat(base))) if base
                          else other._ends)
        more = other.text()  # (before naming _parts: text() replaces it)
        self._parts.append(more)

    def text(self) -> str:
        """Every string, joined."""
        if self._parts:
            self._text = "".join([self._text, *self._parts])
            self._parts = []
        return self._text

    def spans(self) -> Iterator[tuple[int, int]]:
        """Each string's (start, end) in :meth:`text`."""
        ends = self._ends
        return zip(chain((0,), ends), ends, strict=False)  # (the starts: one more)

    def __len__(self) -> int:
        return len(self._ends)

    def _at(self, i: int) -> str:
        text = self._text if not self._parts else self.text()
        ends = self._ends
        return text[ends[i - 1] if i else 0:ends[i]]

    def __iter__(self) -> Iterator[str]:
        text = self.text()
        return (text[a:b] for a, b in self.spans())

    def __reduce__(self) -> tuple[object, ...]:
        # the text and the ends, not a string each (a forked reader hands tables back)
        return _packed_strings, (self.text(), self._ends)


def _packed_strings(text: str, ends: array[int]) -> PackedStrings:
    strings = PackedStrings()
    strings._text, strings._ends = text, ends
    return strings


class DirFile:
    """What the entries read from one export file share: the file's name as
    messages show it, its PO and path, and each distinct ``Addr``/``Comments``
    text once (:meth:`string`)."""

    __slots__ = ("_first", "file", "file_po", "index", "path")

    def __init__(self, file: str | None, file_po: str, path: str | None) -> None:
        self.file, self.file_po, self.path = file, file_po, path
        self.index: dict[str, str] = {"": ""}
        self._first: dict[str, str] = {}

    def string(self, text: str) -> str:
        """``text`` as the one string this file keeps for it."""
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = text
        return found

    def first_word(self, addr: str) -> str:
        """The first word of ``addr`` (where an R entry sends mail), or the
        file's PO when it is blank - :attr:`DirEntry.po`; remembered, since the
        rules ask it of every user entry and a file has few distinct Addrs."""
        found = self._first.get(addr)
        if found is None:
            found = self._first[addr] = entry_po("R", self.file_po, addr)
        return found


class EntryTable(ValueSequence[DirEntry]):
    """cc:Mail entries in reading order; ``table[i]`` is a plain
    :class:`~toolkit.model.DirEntry` made when read (a new, equal value each
    time). Readers :meth:`add` what they parsed; :meth:`append` takes an
    entry made by hand (a mock layer's). ``names`` (:class:`PackedStrings`)
    and ``locns`` are columns read by position."""

    __slots__ = ("_addrs", "_comments", "_extras", "_lines", "_messages", "_plain_srcs",
                 "_srcs", "_wheres", "locns", "names")
    _noun = "entries"

    def __init__(self, entries: Iterable[DirEntry] = ()) -> None:
        self.names = PackedStrings()
        self.locns: list[str] = []
        self._srcs: list[DirFile] = []
        self._addrs: list[str] = []
        self._comments: list[str] = []
        self._lines = array("q")
        self._messages = array("q")
        self._extras: dict[int, dict[str, str]] = {}  # the few with unknown keys
        self._wheres: dict[int, str | None] = {}  # appended entries: their own ``where``
        self._plain_srcs: dict[tuple[str, str | None], DirFile] = {}
        for e in entries:
            self.append(e)

    @classmethod
    def of(cls, entries: Iterable[DirEntry]) -> EntryTable:
        """``entries`` as a table (itself when it is one)."""
        return entries if isinstance(entries, EntryTable) else cls(entries)

    # ------------------------------------------------------------ writing

    def add(self, name: str, locn: str, addr: str, comments: str, messages: int | None,
            extra: dict[str, str] | None, src: DirFile, line: int) -> None:
        """An entry read from line ``line`` of ``src``'s file (``where`` is ``file:line``)."""
        index = src.index
        self.names.append(name)
        self.locns.append(locn)
        self._srcs.append(src)
        self._addrs.append(index.get(addr) or src.string(addr))
        self._comments.append(index.get(comments) or src.string(comments))
        self._lines.append(line)
        self._messages.append(_NONE if messages is None else messages)
        if extra:
            self._extras[len(self.names) - 1] = extra

    def add_columns(self, src: DirFile, names: list[str], locns: list[str], addrs: list[str],
                    comments: list[str], counts: list[int], lines: Iterable[int],
                    extras: dict[int, dict[str, str]]) -> None:
        """Entries read from ``src``'s file, given column by column (equal
        lengths): :meth:`add` without a call an entry (a reader that matches
        many records at once). ``addrs`` and ``comments`` are already
        ``src.string``'s; ``counts`` hold :data:`NO_COUNT` for no
        ``Messages``; ``extras`` maps a position in the columns to its
        entry's extra keys (the few that have them)."""
        if extras:
            n = len(self.names)
            self._extras.update({n + k: v for k, v in extras.items()})
        self.names.extend(names)
        self.locns += locns
        self._srcs += [src] * len(names)
        self._addrs += addrs
        self._comments += comments
        self._messages.extend(counts)
        self._lines.extend(lines)

    def append(self, e: DirEntry) -> None:
        key = (e.file_po, e.path)
        src = self._plain_srcs.get(key)
        if src is None:
            src = self._plain_srcs[key] = DirFile(None, e.file_po, e.path)
        self._wheres[len(self.names)] = e.where  # its own, not "file:line"
        self.add(e.name, e.locn, e.addr, e.comments, e.messages, e.extra, src, _NONE)

    def extend(self, other: EntryTable) -> None:
        """Every entry of ``other``, after these (a directory's files, one table)."""
        n = len(self.names)
        self.names.extend_packed(other.names)
        for column, more in ((self.locns, other.locns),
                             (self._srcs, other._srcs), (self._addrs, other._addrs),
                             (self._comments, other._comments), (self._lines, other._lines),
                             (self._messages, other._messages)):
            column.extend(more)  # type: ignore[attr-defined]
        self._extras.update({n + i: v for i, v in other._extras.items()})
        self._wheres.update({n + i: v for i, v in other._wheres.items()})

    # ------------------------------------------------------------ reading by position

    def having(self, locns: Collection[str]) -> Iterator[int]:
        """The positions of the entries whose location code is one of ``locns``."""
        for j, locn in enumerate(self.locns):
            if locn in locns:
                yield j

    def user_entries(self) -> Iterator[tuple[int, str, str, str]]:
        """(position, location code, name, :meth:`po`) of each user entry
        (L, l, R or r), in order: what the index pass reads of every one
        (~144,000 at 100,000 people), without a :meth:`po` call each."""
        text, srcs, addrs = self.names.text(), self._srcs, self._addrs
        for e, (locn, (a, b)) in enumerate(zip(self.locns, self.names.spans(), strict=True)):
            if locn in "LlRr":
                src = srcs[e]
                if locn in "Ll":
                    yield e, locn, text[a:b], src.file_po
                else:
                    addr = addrs[e]
                    yield e, locn, text[a:b], src._first.get(addr) or src.first_word(addr)

    def po(self, i: int) -> str:
        """Where entry ``i`` sends mail (:attr:`DirEntry.po`), without making
        it; the index pass asks it of every user entry (the file's cache of
        first words read here, not through a call)."""
        src = self._srcs[i]
        if self.locns[i] in "Ll":
            return src.file_po
        addr = self._addrs[i]
        return src._first.get(addr) or src.first_word(addr)

    def places(self, have: int | list[int]) -> list[tuple[int, str, str, str]]:
        """(position, :meth:`po`, file PO, location code) of entry ``have``,
        or of each of a list of positions (an index's raw value: one holder
        bare, several a list). Why: the stale-entry relation reads these of
        every entry named like a mailbox (~3 a stale mailbox, ~30,000 stale
        mailboxes at 100,000 people): one call a name, not two a position."""
        srcs, locns, addrs = self._srcs, self.locns, self._addrs
        out = []
        for j in have if have.__class__ is list else (have,):  # type: ignore[union-attr]
            src, locn = srcs[j], locns[j]  # type: ignore[index]
            if locn in "Ll":
                out.append((j, src.file_po, src.file_po, locn))
            else:
                addr = addrs[j]  # type: ignore[index]
                out.append((j, src._first.get(addr) or src.first_word(addr), src.file_po, locn))
        return out  # type: ignore[return-value]

    def file_po(self, i: int) -> str:
        return self._srcs[i].file_po

    def addr(self, i: int) -> str:
        return self._addrs[i]

    def comments(self, i: int) -> str:
        return self._comments[i]

    def where(self, i: int) -> str | None:
        found = self._wheres.get(i, self)
        if found is not self:
            return found  # type: ignore[return-value]
        return f"{self._srcs[i].file}:{self._lines[i]}"

    # ------------------------------------------------------------ the sequence

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        """``table[i]`` for a position in range straight to :meth:`_at`; the
        rest as :class:`ValueSequence` answers it. Why: the rows stage makes
        an entry each time a message names one, and the general method's
        ``len(self)`` is one more Python call each time."""
        if i.__class__ is int and 0 <= i < len(self.names):
            return self._at(i)
        return ValueSequence.__getitem__(self, i)

    def _at(self, i: int) -> DirEntry:
        src = self._srcs[i]
        messages = self._messages[i]
        wheres = self._wheres  # empty unless entries were appended by hand
        where = wheres[i] if wheres and i in wheres else f"{src.file}:{self._lines[i]}"
        return new_entry(self.names._at(i), self.locns[i], src.file_po, self._addrs[i],
                         self._comments[i], None if messages < 0 else messages,
                         self._extras.get(i, NO_EXTRA), where, src.path)

    def __iter__(self) -> Iterator[DirEntry]:
        at = self._at
        for i in range(len(self.names)):
            yield at(i)


class EntryView(ValueSequence[DirEntry]):
    """Entries ``start`` to ``stop`` of a table: one export file's entries
    inside the directory's one table (``DirectoryFile.entries``)."""

    __slots__ = ("_start", "_stop", "table")
    _noun = "entries"

    def __init__(self, table: EntryTable, start: int, stop: int) -> None:
        self.table, self._start, self._stop = table, start, stop

    def __len__(self) -> int:
        return self._stop - self._start

    def _at(self, i: int) -> DirEntry:
        return self.table[self._start + i]

    def __iter__(self) -> Iterator[DirEntry]:
        table = self.table
        for n in range(self._start, self._stop):
            yield table[n]
