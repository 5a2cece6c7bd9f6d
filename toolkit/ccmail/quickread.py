"""The quick reader of cc:Mail export files (:func:`quick_read`): a
well-formed file's entries in a few C calls per thousand records, or None
and the exact reader of :mod:`toolkit.ccmail.directory` reads the file and
names what is wrong. Kept apart from the exact reader so each stays small;
tests/test_ccmail_quick.py holds the two to the same outcome.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from itertools import compress, islice

from toolkit.storage.entries import NO_COUNT, DirFile, EntryTable
from toolkit.text import fold

LOCATION_CODES = frozenset("PpLlRrAa")
MESSAGES_DIGITS = 18  # int() refuses > 4,300 digits; no mailbox holds 10**18 messages

# What the quick reader does with a key (stripped, case-folded).
_NAME, _LOCN, _ADDR, _COMMENTS, _MESSAGES, _EXTRA, _HEADER = range(7)
_KINDS = {"name": _NAME, "locn": _LOCN, "addr": _ADDR, "comments": _COMMENTS,
          "messages": _MESSAGES, "post office": _HEADER}


def _key_kind(key: str, cache: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    """(what to do, key as kept) for a key as written; None for a blank key."""
    stripped = key.strip()
    if not stripped:
        return None
    known = (_KINDS.get(stripped.casefold(), _EXTRA), stripped)
    if len(cache) < 1024:
        cache[key] = known
    return known


# The shape of nearly every record of a real export, matched whole: Name,
# Locn, then any of Addr, Comments, Messages in that order. Keys but Name's
# may be in any ASCII case (``(?ai:``: ASCII letters only; a key the exact
# reader folds from other letters, such as U+017F, is left to it). The regex
# also makes the line reader's checks: a Name already squeezed (words one
# space apart; \s and \S are str.isspace, as str.split uses), a Locn code, a
# Messages count of at most 18 ASCII digits. Lines of other keys may follow
# (exports add Phone, Dept...) when the key is ASCII letters, digits, - or _
# right before the colon and not a known key in any case: keys the exact
# reader keeps as written and folds as ASCII. A record that does not match
# (other keys or orders, a header, a Name with a double space, anything
# wrong) is read line by line by _record_lines.
#
# The text is cut with ``_RECORD.split``: one C call finds every usual
# record and hands back the text between them (usually empty) and each
# record's groups. A match starts with the line feed that ends the line
# before the record and the empty line after it ("\n\nName:", so it always
# starts a record: an empty line ends a record and no value holds a line
# feed), and ends at the end of the record's last line, where an empty line
# or the end of the text must follow. The text before the first match (a
# header, the first record) and any text between matches (records of other
# shapes, more empty lines) are read by lines. The literal start lets the
# search skip to each "\n\nName:" without trying every position (a
# lookbehind start, which tries each, took ~0.3 G more instructions over
# the bench's exports); possessive quantifiers keep a match linear in the
# line length whatever the text.
_KNOWN_KEYS = ("name", "locn", "addr", "comments", "messages")  # one word, unlike "post office"
_WS = r"[^\S\n]*+"  # white space within a line
_RECORD = re.compile(
    rf"\n\nName:{_WS}(\S++(?: \S++)*+){_WS}"
    rf"\n(?ai:locn):{_WS}([PpLlRrAa]){_WS}"
    rf"(?:\n(?ai:addr):([^\n]*))?"
    rf"(?:\n(?ai:comments):([^\n]*))?"
    rf"(?:\n(?ai:messages):{_WS}([0-9]{{0,{MESSAGES_DIGITS}}}+){_WS})?"
    rf"((?:\n(?!(?ai:{'|'.join(_KNOWN_KEYS)}):)[A-Za-z0-9_-]++:[^\n]*)*+)"
    r"(?=\n\n|\n?\Z)")
_GROUPS = 6  # of _RECORD: name, locn, addr, comments, count, extra lines (each "\nKey: value")
_BLANK_LINES = re.compile(r"\n*")

Fields = tuple[str, str, str, str, int | None, dict[str, str] | None]


def _messages(value: str) -> int | bool | None:
    """A ``Messages`` value (stripped): its count, None when blank, False when
    the exact reader must name it."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > MESSAGES_DIGITS:
        return False
    return int(value)


def _record_lines(lines: list[str], cache: dict[str, tuple[int, str]]
                  ) -> Fields | str | None:
    """One record's lines, read line by line: its fields, or the PO of a
    ``Post office`` header (a record of one line), or None for anything the
    exact reader must look at."""
    name = locn = None
    addr = comments = ""
    messages: int | None = None
    extra: dict[str, str] | None = None
    for number, line in enumerate(lines):
        colon = line.find(":")
        if colon < 0:
            return None
        known = cache.get(line[:colon]) or _key_kind(line[:colon], cache)
        if known is None:
            return None
        kind = known[0]
        value = line[colon + 1 :].strip()
        if kind == _NAME:
            if name is not None or not value:
                return None
            name = " ".join(value.split())
        elif kind == _LOCN:
            if locn is not None or len(value) != 1 or value not in LOCATION_CODES:
                return None
            locn = value
        elif kind == _ADDR:
            addr = value
        elif kind == _COMMENTS:
            comments = value
        elif kind == _MESSAGES:
            count = _messages(value)
            if count is False:
                return None
            if messages is None:
                messages = count  # type: ignore[assignment]
        elif kind == _HEADER:
            if number or len(lines) != 1:
                return None
            return " ".join(value.split())
        else:
            if extra is None:
                extra = {}
            extra.setdefault(known[1], value)
    if name is None or locn is None:
        return None
    return name, locn, addr, comments, messages, extra


class _Strings(dict[str | None, str]):
    """One file's ``Addr``/``Comments`` values as matched (white space
    around; None for a line the record lacks) -> the value stripped, as the
    one string the file keeps for it (:meth:`DirFile.string`)."""

    __slots__ = ("_src",)

    def __init__(self, src: DirFile) -> None:
        super().__init__({None: ""})
        self._src = src

    def __missing__(self, raw: str) -> str:
        text = self[raw] = self._src.string(raw.strip())
        return text


class _Counts(dict[str | None, int]):
    """``Messages`` digits as matched -> the count (:data:`NO_COUNT` for a
    blank or absent one); bounded, as counts may all differ."""

    LIMIT = 4096

    def __init__(self) -> None:
        super().__init__({None: NO_COUNT, "": NO_COUNT})

    def __missing__(self, digits: str) -> int:
        count = int(digits)
        if len(self) < self.LIMIT:
            self[digits] = count
        return count


def _extra(lines: str, keys: dict[str, str]) -> dict[str, str]:
    """A record's lines of other keys, as matched by ``_RECORD`` (each
    ``\nKey: value``, the key as kept) -> its ``extra``: the first value of
    each key. ``keys`` makes each key one string for the file (as the line
    reader's cache does: a string per entry would be ~55 bytes each)."""
    extra: dict[str, str] = {}
    for line in lines.split("\n"):
        if line:
            key, _, value = line.partition(":")
            extra.setdefault(keys.setdefault(key, key), value.strip())
    return extra


def _by_lines(text: str, line: int, cache: dict[str, tuple[int, str]]
              ) -> list[tuple[Fields | str, int, int]] | None:
    """The records of ``text`` (which starts line ``line`` and holds whole
    lines) read by :func:`_record_lines`, each with its first and last line;
    None at the first the exact reader must look at."""
    found: list[tuple[Fields | str, int, int]] = []
    pos, size = 0, len(text)  # ``pos`` starts line number ``line``
    while pos < size:
        first = _BLANK_LINES.match(text, pos).end()  # type: ignore[union-attr]
        if first == size:
            break
        start = line + first - pos
        end = text.find("\n\n", first)
        if end < 0:
            end = size - 1 if text.endswith("\n") else size
        lines = text[first:end].split("\n")
        line = start + len(lines)
        pos = end + 1
        fields = _record_lines(lines, cache)
        if fields is None:
            return None
        found.append((fields, start, line - 1))
    return found


_CHUNK = 1 << 20  # characters split at once: ~20,000 records' parts, not a whole file's


def _chunks(text: str) -> Iterator[str]:
    """``text`` in pieces of about ``_CHUNK`` characters, each cut where a
    line feed and an empty line come before ``Name:`` (where a match of
    ``_RECORD`` starts): no record or match straddles two pieces, and a
    record that ends a piece is followed by an empty line in ``text``."""
    start, size = 0, len(text)
    while start < size:
        cut = text.find("\n\nName:", start + _CHUNK)
        if cut < 0:
            cut = size
        yield text[start:cut]
        start = cut


def quick_read(text: str, where: str, po: str | None, path: str
               ) -> tuple[str | None, EntryTable, array[int]] | None:
    """Parse a well-formed file quickly; None at the first thing that is
    unusual or wrong, and the exact reader then finds and names it. Equal
    ``Addr``/``Comments`` values share one string.

    Records of the usual shape are cut out whole by ``_RECORD.split`` (a
    piece of the text at a time, :func:`_chunks`, so the parts of a big file
    are never all held at once) and go into the table a column at a time
    (:meth:`EntryTable.add_columns`), each distinct ``Addr``/``Comments``/
    ``Messages`` text converted once (:class:`_Strings`, :class:`_Counts`);
    the text between matches (a header, the first record, records of other
    shapes, more empty lines) is read by :func:`_by_lines`. Both give the
    exact reader's values (tests/test_ccmail_quick.py). Measured on the
    bench's 144,375 entries: a regex match and a table call a record took
    2.85 G instructions (0.42 s CPU); this takes 2.10 G (~0.31 s).
    """
    if "\r" in text:  # a line's CR before its LF is not part of it
        text = text.replace("\r\n", "\n")
        if text.endswith("\r"):
            text = text[:-1]
        if "\r" in text:
            return None  # a bare CR: the exact reader names its line
    cache: dict[str, tuple[int, str]] = {}
    entries = EntryTable()
    spans = array("q")  # as EntryTable's line column, so one extends the other
    span = spans.append
    header_po: str | None = None
    file_po = po  # the header (which must come first) may set it
    src: DirFile | None = None  # what this file's entries share
    strings: _Strings | None = None
    counts = _Counts()
    keys: dict[str, str] = {}  # extra keys, one string each
    seen = False  # a record read
    # The line at whose end the text not read yet starts (after a match or a
    # gap); at the very start, line 1 (which a match's "\n\n" and _by_lines
    # count from alike).
    line = 1
    step = _GROUPS + 1
    for chunk in _chunks(text):
        parts = _RECORD.split(chunk)  # text, then a match's groups, text, ...
        gaps = parts[::step]  # gaps[m]: the text before match m; the last, after them all
        matched = len(gaps) - 1
        # gaps[0], then each gap that holds text, begins a run of matches
        cuts = [0, *compress(range(1, matched + 1), islice(gaps, 1, None))]
        for cut, stop in zip(cuts, [*cuts[1:], matched], strict=True):
            gap = gaps[cut]
            if gap:
                found = _by_lines(gap, line, cache)
                if found is None:
                    return None
                for fields, start, end in found:
                    if fields.__class__ is str:  # a ``Post office`` header
                        other = po is not None and fold(po) != fold(fields)  # type: ignore[arg-type]
                        if seen or not fields or other:
                            return None
                        header_po = file_po = fields  # type: ignore[assignment]
                    else:
                        if file_po is None:
                            return None
                        if src is None:
                            src = DirFile(where, file_po, path)
                        entries.add(*fields, src, start)  # type: ignore[misc]
                        span(start)
                        span(end)
                    seen = True
                line += gap.count("\n")
            if stop == cut:
                continue
            if file_po is None:
                return None
            if src is None:
                src = DirFile(where, file_po, path)
            if strings is None:
                strings = _Strings(src)
            lo, hi = cut * step, stop * step
            addrs, comments, digits, extras = (parts[lo + 3 : hi : step],
                                               parts[lo + 4 : hi : step],
                                               parts[lo + 5 : hi : step],
                                               parts[lo + 6 : hi : step])
            here = len(spans)
            for addr, comment, count, extra in zip(addrs, comments, digits, extras, strict=False):
                span(line + 2)  # after the line feed and the empty line
                line += 3 + (addr is not None) + (comment is not None) + (count is not None)
                if extra:
                    line += extra.count("\n")
                span(line)
            entries.add_columns(src, parts[lo + 1 : hi : step], parts[lo + 2 : hi : step],
                                list(map(strings.__getitem__, addrs)),
                                list(map(strings.__getitem__, comments)),
                                list(map(counts.__getitem__, digits)), spans[here::2],
                                {k: _extra(extras[k], keys)
                                 for k in compress(range(len(extras)), extras)})
            seen = True
    return header_po, entries, spans
