"""cc:Mail post-office directory files and the directory-layer interface.

A file is the directory of one PO as keyword-colon records separated by blank
lines (spec: *The directory layer*). The reader keeps each record's line span,
encoding and line ending so remediation can rewrite a file touching nothing
but the records it removes.
"""

from __future__ import annotations

import codecs
import os
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from toolkit.ccmail.quickread import LOCATION_CODES, MESSAGES_DIGITS
from toolkit.ccmail.quickread import quick_read as _quick  # tests swap it for None
from toolkit.errors import InputError
from toolkit.model import DirEntry
from toolkit.storage.entries import DirFile, EntryTable, EntryView
from toolkit.text import fold, squeeze

CONNECTOR_COMMENT = "MSExchangeCCMC"
_PO_PREFIX = re.compile(r"^([A-Za-z0-9_-]+)=(.+)$", re.S)
_DIGITS = re.compile(r"[0-9]+")


class DirectoryLayer(Protocol):
    """What the rule engine needs from cc:Mail: every entry of every PO.

    Implementations: :class:`Directory` (export files), ``toolkit.mocks.ccmail``
    (in memory, with add/delete and a dirsync cycle), or anything a test
    suite swaps in.
    """

    def post_offices(self) -> list[str]: ...

    def entries(self) -> Iterable[DirEntry]: ...


@dataclass(slots=True)
class DirectoryFile:
    """One parsed export file; ``spans`` maps entry index -> (first, last) line.
    ``entries`` are the file's own table, or its part of a :class:`Directory`'s
    one table once the directory holds it."""

    path: Path
    po: str
    entries: EntryTable | EntryView
    encoding: str
    newline: str
    spans: list[tuple[int, int]] = field(default_factory=list)


def split_po_arg(arg: str) -> tuple[str | None, Path]:
    """``PO=FILE`` or ``FILE``; an existing file whose name holds ``=`` wins."""
    match = _PO_PREFIX.match(arg)
    if match and not Path(arg).exists():
        return match.group(1), Path(match.group(2))
    return None, Path(arg)


def decode(data: bytes, encoding: str | None, where: str) -> tuple[str, str]:
    """(text, encoding used): BOM or valid UTF-8 -> UTF-8, else cp850."""
    if encoding:
        try:
            info = codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}", "--ccmail-encoding") from None
        # rot13, base64, zlib... pass lookup but are bytes<->bytes or str<->str transforms
        if not getattr(info, "_is_text_encoding", True):
            raise InputError(f"{encoding!r} is not a text encoding", "--ccmail-encoding")
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(f"not valid {encoding}", f"{where}:{line}") from None
        except (UnicodeError, LookupError, ValueError, TypeError):
            # codecs such as punycode or "undefined" fail without a position
            raise InputError(f"{where} cannot be decoded as {encoding!r}",
                             "--ccmail-encoding") from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line = data[: exc.start + 3].count(b"\n") + 1
            raise InputError("not valid UTF-8 after a UTF-8 BOM", f"{where}:{line}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp850"), "cp850"


def _split_lines(text: str) -> list[str]:
    """Lines end at LF (CRLF or LF files); other characters that Python's
    splitlines() treats as breaks (NEL, FF, U+2028...) are data."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


BARE_CR = ("carriage return without a line feed (CR-only line endings?): "
           "lines must end in LF or CR LF")


def _records(text: str, where: str) -> Iterator[list[tuple[int, str, str]]]:
    """Records as lists of (line, key, value); keys as written."""
    record: list[tuple[int, str, str]] = []
    for number, line in enumerate(_split_lines(text), 1):
        if "\r" in line:  # read on, and a CR-only file would be one header line
            raise InputError(BARE_CR, f"{where}:{number}")
        if not line.strip():
            if record:
                yield record
                record = []
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            shown = line.strip()[:40]
            raise InputError(f"expected 'Keyword: value', found {shown!r}", f"{where}:{number}")
        record.append((number, key.strip(), value.strip()))
    if record:
        yield record


def _entry(record: list[tuple[int, str, str]], where: str
           ) -> tuple[str, str, str, str, int | None, dict[str, str]]:
    """A record's fields (name, locn, addr, comments, messages, extra), checked."""
    name = locn = None
    addr = comments = ""
    messages: int | None = None
    extra: dict[str, str] = {}
    for number, key, value in record:
        k = key.casefold()
        at = f"{where}:{number}"
        if k == "name":
            if name is not None:
                raise InputError("repeated 'Name' in one record", at)
            if not value:
                raise InputError("empty 'Name'", at)
            name = squeeze(value)
        elif k == "locn":
            if locn is not None:
                raise InputError("repeated 'Locn' in one record", at)
            if len(value) != 1 or value not in LOCATION_CODES:
                raise InputError(f"'Locn' must be one of P p L l R r A a, found {value!r}", at)
            locn = value
        elif k == "addr":
            addr = value
        elif k == "comments":
            comments = value
        elif k == "messages":
            if value and (not _DIGITS.fullmatch(value) or len(value) > MESSAGES_DIGITS):
                raise InputError(f"'Messages' must be a non-negative integer of at most "
                                 f"{MESSAGES_DIGITS} digits, found {value[:40]!r}", at)
            if value and messages is None:
                messages = int(value)
        elif k == "post office":
            raise InputError("'Post office' header must be the first record on its own", at)
        else:
            extra.setdefault(key, value)
    first = f"{where}:{record[0][0]}"
    if name is None:
        raise InputError("record without 'Name'", first)
    if locn is None:
        raise InputError("record without 'Locn'", first)
    return name, locn, addr, comments, messages, extra


class _Spans(Sequence[tuple[int, int]]):
    """``DirectoryFile.spans`` without a tuple per entry: (first, last) line pairs."""

    __slots__ = ("_lines",)

    def __init__(self, lines: array[int]) -> None:
        self._lines = lines  # first, last, first, last, ...

    def __len__(self) -> int:
        return len(self._lines) // 2

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("span index out of range")
        return self._lines[2 * index], self._lines[2 * index + 1]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        lines = self._lines
        return zip(lines[0::2], lines[1::2], strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (_Spans, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))


def read_directory_file(
    arg: str | Path, encoding: str | None = None, po: str | None = None
) -> DirectoryFile:
    """Parse one ``--ccmail-dir`` argument (``FILE`` or ``PO=FILE``)."""
    if po is None and isinstance(arg, str):
        po, path = split_po_arg(arg)
    else:
        path = Path(arg)
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read cc:Mail directory file: {exc.strerror}", where) from None
    if b"\x00" in data and not encoding:  # UTF-16 and binary files; a BOM is no excuse
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError("NUL byte: not a cc:Mail directory text file", f"{where}:{line}")
    text, used = decode(data, encoding, where)
    if "\x00" in text:  # an explicit --ccmail-encoding (e.g. utf-16) decoded one
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError("NUL character: not a cc:Mail directory text file", f"{where}:{line}")
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    absolute = os.path.abspath(where)
    quick = _quick(text, where, po, absolute)
    if quick is not None:
        header_po, entries, lines = quick
        name = header_po or po
        if name is None:
            raise InputError("no post office: add a 'Post office: NAME' header or pass PO=FILE",
                             where)
        return DirectoryFile(path, name, entries, used, newline, _Spans(lines))
    records = _records(text, where)
    entries = EntryTable()
    src: DirFile | None = None
    spans: list[tuple[int, int]] = []
    header_po = None
    for index, record in enumerate(records):
        keys = {key.casefold() for _, key, _ in record}
        if index == 0 and "post office" in keys:
            if len(record) != 1:
                raise InputError("'Post office' header must be a record of its own",
                                 f"{where}:{record[0][0]}")
            header_po = squeeze(record[0][2])
            if not header_po:
                raise InputError("empty 'Post office' header", f"{where}:{record[0][0]}")
            if po is not None and fold(po) != fold(header_po):
                raise InputError(
                    f"header says post office {header_po!r} but the option says {po!r}",
                    f"{where}:{record[0][0]}",
                )
            continue
        if po is None and header_po is None:
            raise InputError(
                "no post office: add a 'Post office: NAME' header or pass PO=FILE",
                f"{where}:{record[0][0]}",
            )
        if src is None:
            src = DirFile(where, header_po or po or "", absolute)
        entries.add(*_entry(record, where), src, record[0][0])
        spans.append((record[0][0], record[-1][0]))
    name = header_po or po
    if name is None:
        raise InputError("no post office: add a 'Post office: NAME' header or pass PO=FILE", where)
    return DirectoryFile(path, name, entries, used, newline, spans)


class Directory:
    """The union of every ``--ccmail-dir`` file: the export-file directory layer."""

    def __init__(self, files: Sequence[DirectoryFile]) -> None:
        seen: dict[str, DirectoryFile] = {}
        for f in files:
            other = seen.get(fold(f.po))
            if other is not None:
                raise InputError(
                    f"two files for post office {f.po!r} (also {other.path})", str(f.path)
                )
            seen[fold(f.po)] = f
        self.files = list(files)
        # One table for every file's entries (the rules read it by position);
        # each file keeps a view of its part.
        self.table = EntryTable()
        for f in self.files:
            start = len(self.table)
            self.table.extend(EntryTable.of(f.entries))
            f.entries = EntryView(self.table, start, len(self.table))

    @classmethod
    def from_args(cls, args: Iterable[str], encoding: str | None = None) -> Directory:
        return cls([read_directory_file(a, encoding) for a in args])

    def post_offices(self) -> list[str]:
        return [f.po for f in self.files]

    def entries(self) -> EntryTable:
        """Every file's entries, in file order: one table (iterating it makes
        each entry)."""
        return self.table


def connector_entries(entries: Iterable[DirEntry]) -> Iterator[DirEntry]:
    """The Exchange connector's ``P`` entries (comment ``MSExchangeCCMC ...``),
    in order; a table's read by position, so no other entry is made."""
    if isinstance(entries, EntryTable):
        for j in entries.having("P"):
            if entries.comments(j).startswith(CONNECTOR_COMMENT):
                yield entries[j]
        return
    for e in entries:
        if e.locn == "P" and e.comments.startswith(CONNECTOR_COMMENT):
            yield e


def connector_post_offices(entries: Iterable[DirEntry]) -> list[str]:
    """Exchange sites' PO names, inferred from the connector's ``P`` entries."""
    found: dict[str, str] = {}
    for e in connector_entries(entries):
        found.setdefault(fold(e.name), e.name)
    return list(found.values())


def check_not_exchange(layer: DirectoryLayer, exchange_pos: Iterable[str]) -> None:
    """A directory file for an Exchange site's PO is a mistake in the inputs."""
    x = {fold(p) for p in exchange_pos}
    for f in getattr(layer, "files", []):
        if fold(f.po) in x:
            raise InputError(
                f"post office {f.po!r} is an Exchange site (--exchange-po), not cc:Mail",
                str(f.path),
            )
