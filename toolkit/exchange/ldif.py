"""Streaming LDIF reader (RFC 2849 content records, as ldifde and ldapsearch write).

Yields :class:`~toolkit.model.RawEntry` one record at a time so a 100,000
object export never sits in memory as text. Any malformation is an
:class:`~toolkit.errors.InputError` naming ``file:line``: a report built on a
half-read export would be a lie.

Speed (a 100,000-object export is ~2.4 million lines): the file is read in
blocks of about a megabyte that end at an empty line, so every block starts
a record. A block that decodes as UTF-8 is cut at its empty lines, and a
record whose every line is plain is read the quick way
(:meth:`_Reader.record`: by its shape - the sequence of its attribute
names - with a plan made once per shape, or else one split per line and one
cached lookup per name); anything else - a NUL byte, bad UTF-8, a stray CR, a malformed or odd line -
goes through the exact line-by-line reader, which names the line at fault.
Both give the same entries and the same first error
(``tests/test_ldif_quick.py``). ``attributes`` lets a caller that needs a
few attributes skip decoding the rest (every line is still checked).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import re
from binascii import a2b_base64
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, NamedTuple

from toolkit.errors import InputError
from toolkit.exchange.dn import display_dn
from toolkit.model import AttrValue, RawEntry

# Attributes whose base64 values are binary by nature: never guess text.
BINARY_ATTRS = frozenset({"objectguid", "objectsid", "msexchmailboxguid", "sidhistory"})

_ATTR_NAME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;[A-Za-z0-9-]+)*$")
# How the quick path treats a line, by its name (``name:`` for base64): keep
# the text, skip it (not asked for), look closer (dn, changetype) or leave the
# record to the exact reader; of a base64 value: decode as text, keep the
# bytes, or only check it.
_TEXT, _SKIP, _SPECIAL, _FALLBACK = 0, 1, 2, 3
_TEXT64, _BINARY64, _SKIP64 = 4, 5, 6
_BLOCK = 1 << 20  # bytes read at a time; a block ends at an empty line
_NAME_CACHE_MAX = 4096
# Shapes kept (_Reader._shaped): 421 of 99,630 objects in the bench export take
# ~0.1 MB; a shape is its names (a group's shape holds each member line), so the
# cache is bounded by their characters too: at most ~1 MB of names and plans.
_SHAPE_CACHE_MAX = 4096
_SHAPE_CHARS_MAX = 1 << 19


class _Plan(NamedTuple):
    """How :meth:`_Reader._shaped` reads a record of one shape (unpacked as
    a tuple: one step, not an attribute read per field)."""

    pieces: int  # split(": ") pieces of such a record: two per line
    dn64: bool  # dn:: base64
    adds: tuple[int, ...]  # changetype values (must be "add")
    binary: tuple[int, ...]  # base64 values kept as bytes (BINARY_ATTRS)
    texts: tuple[int, ...]  # base64 values decoded to text (bytes when not UTF-8)
    checked: tuple[int, ...]  # base64 values not kept: only checked
    template: dict[str, None]  # the kept names in file order, copied per record
    lnames: tuple[str, ...]  # the same names
    parts: tuple[slice | tuple[int, ...], ...]  # each name's pieces
    getter: Callable[[list], tuple] | None  # itemgetter(*parts) when every part is a slice


def _decode_value(path: Path | str, number: int, attr: str, sep: str, value: str) -> AttrValue:
    if sep == ":":
        return value.lstrip(" ")
    if sep == "<":
        raise InputError(f"URL values (':<') are not supported for {attr!r}", f"{path}:{number}")
    try:
        data = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"bad base64 value for {attr!r}", f"{path}:{number}") from None
    if attr in BINARY_ATTRS:
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


BARE_CR = ("carriage return without a line feed (CR-only line endings?): "
           "LDIF lines end in LF or CR LF, and a value holding a CR must be base64")


def _line_end(path: Path | str, number: int, line: str) -> str:
    """``line`` without its CR of a CR LF; any other CR is an error (RFC 2849
    SAFE-CHAR excludes CR), or a CR-only file would read as one line."""
    if line.endswith("\r"):
        line = line[:-1]
    if "\r" in line:
        raise InputError(BARE_CR, f"{path}:{number}")
    return line


def _utf16_lines(path: Path, fh) -> Iterator[tuple[int, str]]:
    decoder = codecs.getincrementaldecoder("utf-16")("strict")
    number = 0
    pending = ""
    while True:
        chunk = fh.read(1 << 16)
        try:
            pending += decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise InputError("not valid UTF-16", f"{path}:{number + 1}") from None
        *lines, pending = pending.split("\n")
        for line in lines:
            number += 1
            if "\x00" in line:
                raise InputError("NUL character: not an LDIF text file", f"{path}:{number}")
            yield number, _line_end(path, number, line)
        if not chunk:
            break
    if pending:
        number += 1
        yield number, _line_end(path, number, pending)


def _raw_lines(path: str, block: bytes, first: int) -> Iterator[tuple[int, str]]:
    """A block's lines decoded one by one: the first bad one raises, naming its line."""
    for number, raw in enumerate(block.split(b"\n"), first):
        if b"\x00" in raw:
            raise InputError("NUL byte: not an LDIF text file", f"{path}:{number}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("not valid UTF-8", f"{path}:{number}") from None
        yield number, _line_end(path, number, text)


class _Reader:
    """The record state machine shared by the fast and the line-by-line paths."""

    def __init__(self, path: Path, attributes: Collection[str] | None) -> None:
        self.path = str(path)
        self.keep = frozenset(attributes) if attributes is not None else None
        self.names: dict[str, str] = {}  # name as written -> lower case, options stripped
        self.kinds: dict[str, tuple[str, int]] = {}  # name as written -> (lower case, _TEXT...)
        self.seen_version = False
        self.dn: str | None = None
        self.attrs: dict[str, list[AttrValue]] = {}
        self.where = ""
        self.span = 0  # lines of the record record() has just read
        self.shapes: dict[str, _Plan | None] = {}  # record shape -> plan (_shaped)
        self.shape_chars = 0  # characters of the shapes kept

    def lname(self, name: str, number: int) -> str:
        lname = self.names.get(name)
        if lname is None:
            if not _ATTR_NAME.match(name):
                raise InputError(f"bad attribute name {name[:40]!r}", f"{self.path}:{number}")
            lname = name.split(";", 1)[0].lower()
            if len(self.names) < _NAME_CACHE_MAX:
                self.names[name] = lname
        return lname

    def _kind(self, key: str) -> tuple[str, int]:
        """(lower-case name, how the quick path treats it) of a line's ``name``
        (``name:`` for a base64 line); ``_FALLBACK`` for a bad name."""
        base64_value = key.endswith(":")
        name = key[:-1] if base64_value else key
        if not _ATTR_NAME.match(name):
            return ("", _FALLBACK)
        lname = self.lname(name, 0)
        if lname in ("dn", "changetype"):
            how = _FALLBACK if base64_value else _SPECIAL
        elif self.keep is not None and lname not in self.keep:
            how = _SKIP64 if base64_value else _SKIP
        elif lname in BINARY_ATTRS:
            how = _BINARY64 if base64_value else _FALLBACK  # binary as text: the exact reader
        else:
            how = _TEXT64 if base64_value else _TEXT
        kind = (lname, how)
        if len(self.kinds) < _NAME_CACHE_MAX:
            self.kinds[key] = kind
        return kind

    def logical(self, number: int, name: str, lname: str, sep: str, value: str) -> None:
        """One ``name: value`` / ``name:: base64`` / ``name:< url`` line of a record."""
        path = self.path
        if self.dn is None:
            if lname == "version" and not self.seen_version and sep == ":":
                if value.strip() != "1":
                    raise InputError(f"LDIF version {value.strip()[:20]!r} is not supported "
                                     "(only version: 1)", f"{path}:{number}")
                self.seen_version = True
                return
            if lname != "dn":
                raise InputError(f"record must start with 'dn:', found {name!r}", f"{path}:{number}")
            decoded = _decode_value(path, number, "dn", sep, value)
            if isinstance(decoded, bytes):
                raise InputError("dn is not valid UTF-8", f"{path}:{number}")
            self.dn, self.where = display_dn(decoded.strip()), f"{path}:{number}"
            return
        if lname == "dn":
            raise InputError("second 'dn:' in one record (missing blank line?)", f"{path}:{number}")
        if lname == "changetype":
            if value.strip().lower() != "add":
                raise InputError(
                    f"changetype {value.strip()!r} is not an export record", f"{path}:{number}"
                )
            return
        if self.keep is not None and lname not in self.keep:
            if sep == ":":
                return
            if sep == "::":  # not kept, but a malformed value is still an error
                try:
                    base64.b64decode(value.strip(), validate=True)
                except (binascii.Error, ValueError):
                    raise InputError(f"bad base64 value for {lname!r}", f"{path}:{number}") from None
                return
        self.attrs.setdefault(lname, []).append(_decode_value(path, number, lname, sep, value))

    def end_record(self) -> RawEntry | None:
        if self.dn is None:
            return None
        entry = RawEntry(self.dn, self.attrs, self.where)
        self.dn, self.attrs = None, {}
        return entry

    # ------------------------------------------------------------ line by line

    def lines(self, numbered: Iterable[tuple[int, str]], final: bool) -> Iterator[RawEntry]:
        """The exact reader: unfold, drop comments, split records, line by line.

        A block handed here starts a record; ``final``: the file ends after it.
        """
        current: list[str] = []
        start = 0
        in_comment = False
        for number, line in numbered:
            if line.startswith(" "):
                if in_comment:
                    continue
                if not current:
                    raise InputError("continuation line with nothing to continue",
                                     f"{self.path}:{number}")
                current.append(line[1:])
                continue
            if current:
                yield from self._logical_text(start, "".join(current))
                current = []
            in_comment = False
            if line.startswith("#"):
                in_comment = True
                continue
            if not line.strip():
                entry = self.end_record()
                if entry is not None:
                    yield entry
                continue
            current = [line]
            start = number
        if current:
            yield from self._logical_text(start, "".join(current))
        if final:
            entry = self.end_record()
            if entry is not None:
                yield entry

    def _logical_text(self, number: int, line: str) -> Iterator[RawEntry]:
        name, colon, rest = line.partition(":")
        if not colon:
            raise InputError("expected 'attribute: value'", f"{self.path}:{number}")
        lname = self.lname(name, number)
        if rest.startswith(":"):
            self.logical(number, name, lname, "::", rest[1:])
        elif rest.startswith("<"):
            self.logical(number, name, lname, "<", rest[1:])
        else:
            self.logical(number, name, lname, ":", rest)
        return iter(())

    # ------------------------------------------------------------ fast path

    def record(self, rec: str, first: int) -> RawEntry | bool | None:
        """A record (its lines without the empty line after it) the quick way.

        Returns the entry, or False when the record is not plain - a comment
        or ``version:`` before ``dn:``, an odd or malformed line - and must
        go through :meth:`lines`; nothing has changed then.

        Two quick ways, the first that can read the record wins:
        :meth:`_shaped` (the whole record by a few C calls and a plan made once
        per sequence of attribute names) and :meth:`_by_line` (a Python loop
        over its lines, for a record with a value holding ``": "``).
        """
        if self.dn is not None or self.attrs:  # pragma: no cover - records start clean
            return False
        # unfold (a comment's continuation stays a comment); as rec.replace("\n ", ""),
        # a third cheaper (measured: str.replace scans twice where folds are)
        text = "".join(rec.split("\n "))
        if ":  " in text:
            return False
        entry = self._shaped(text, first)
        if entry is None:
            entry = self._by_line(text, first)
        if entry is not False:
            self.span += (len(rec) - len(text)) // 2  # folded lines: lines as written, for block()
        return entry

    def _shaped(self, text: str, first: int) -> RawEntry | None:
        """A record whose every line holds ``": "`` exactly once, without a
        loop over its lines; None when it is not such a record or its names
        ask for more than a :class:`_Plan` does (the caller then reads it
        line by line).

        Why: the loop over lines (split each line, look its name up, append
        its value) was most of the reader. Here each line break becomes
        ``": \\n"`` and one ``split(": ")`` cuts the record into name, value,
        ``\\nname``, value, ...; the names joined (``dn\\nobjectClass\\n...``)
        are the record's *shape*, which repeats from one object to the next
        (357 shapes in 10,050 objects, 421 in 99,630), and the shape's plan,
        made once, says which pieces go into which attribute: ``attrs`` is
        then made by C calls (an ``itemgetter`` of slices, a template dict).

        The pieces line up with the lines only if each line held ``": "``
        once: there are then two pieces per line (``len(pieces)`` against the
        line breaks counted by the replace), and as every line break starts
        a piece, a shape's ``N - 1`` line breaks put the ``N - 1`` line
        starts at even pieces; a shape of the same text with another number
        of pieces is refused by the count the plan holds. (So a line ``cn``
        without colon and a value holding ``": "`` cannot pass for two
        plain lines.)
        """
        cut = text.replace("\n", ": \n")
        pieces = cut.split(": ")
        size = len(pieces)
        if size != len(cut) - len(text) + 2:  # not two pieces per line
            return None
        shape = "".join(pieces[::2])
        try:
            plan = self.shapes[shape]
        except KeyError:
            if len(self.shapes) >= _SHAPE_CACHE_MAX or self.shape_chars > _SHAPE_CHARS_MAX:
                return None  # a plan for one record costs more than reading it line by line
            plan = self.shapes[shape] = self._plan(pieces[::2], size)
            self.shape_chars += len(shape)
        if plan is None or plan[0] != size:
            return None
        _, dn64, adds, binary, texts, checked, template, lnames, parts, getter = plan
        for index in adds:  # changetype: anything but "add" as written goes the exact way
            if pieces[index] != "add":
                return None
        try:
            dn = pieces[1]
            if dn64:  # dn:: base64 - text, or the exact reader says why not
                dn = a2b_base64(dn, strict_mode=True).decode()
            for index in binary:
                pieces[index] = a2b_base64(pieces[index], strict_mode=True)  # type: ignore[call-overload]
            for index in texts:
                item: AttrValue = a2b_base64(pieces[index], strict_mode=True)
                try:  # (not contextlib.suppress: a context manager per value)  # noqa: SIM105
                    item = item.decode()
                except UnicodeDecodeError:  # not UTF-8: kept as bytes
                    pass
                pieces[index] = item  # type: ignore[call-overload]
            for index in checked:  # not kept, but a malformed value is still an error
                a2b_base64(pieces[index], strict_mode=True)
        except ValueError:  # bad base64, a dn not UTF-8: the exact reader says what is wrong
            return None
        if getter is not None:  # (measured: ~15% fewer Ir than dict(zip(lnames, map(...))))
            attrs = template.copy()
            attrs.update(zip(lnames, getter(pieces), strict=True))
        else:  # one attribute or none, or an attribute's lines apart
            attrs = {lname: pieces[part] if part.__class__ is slice else [pieces[i] for i in part]
                     for lname, part in zip(lnames, parts, strict=True)}
        self.span = size // 2
        return RawEntry(display_dn(dn.strip()), attrs, f"{self.path}:{first}")  # type: ignore[arg-type]

    def _plan(self, names: list[str], size: int) -> _Plan | None:
        """What :meth:`_shaped` does with the pieces of a record whose names
        are ``names`` (all but the first with the ``\\n`` before them); None
        when a line must go another way: not ``dn`` first, a second ``dn``, a
        bad name, a binary attribute as text, a base64 ``changetype``."""
        kinds = self.kinds
        lname, how = kinds.get(names[0]) or self._kind(names[0])
        if lname != "dn" or how not in (_SPECIAL, _FALLBACK):  # _FALLBACK: dn:: (see _kind)
            return None
        special: dict[int, list[int]] = {_SPECIAL: [], _BINARY64: [], _TEXT64: [], _SKIP64: []}
        groups: dict[str, list[int]] = {}
        for number, name in enumerate(names[1:], 1):
            if name[:1] != "\n":  # a line with ": " twice and one without: not lined up
                return None
            key = name[1:]
            lname, how = kinds.get(key) or self._kind(key)
            index = 2 * number + 1  # the line's value
            if how == _FALLBACK or (how == _SPECIAL and lname != "changetype"):
                return None
            if how != _TEXT and how != _SKIP:
                special[how].append(index)
            if how in (_TEXT, _TEXT64, _BINARY64):
                groups.setdefault(lname, []).append(index)
        parts: list[slice | tuple[int, ...]] = []
        for indexes in groups.values():
            if len(indexes) == 1:
                parts.append(slice(indexes[0], indexes[0] + 1))
            elif indexes[-1] - indexes[0] == 2 * (len(indexes) - 1):  # lines next to each other
                parts.append(slice(indexes[0], indexes[-1] + 1, 2))
            else:
                parts.append(tuple(indexes))
        apart = any(part.__class__ is tuple for part in parts)
        return _Plan(size, names[0].endswith(":"), *map(tuple, special.values()),
                     dict.fromkeys(groups), tuple(groups), tuple(parts),
                     None if apart or len(parts) < 2 else itemgetter(*parts))

    def _by_line(self, text: str, first: int) -> RawEntry | bool:
        """The record ``text`` (unfolded) line by line; False: not plain.

        Why it reads lines as it does: a 100,000-object export has ~2
        million lines, and the work per line is most of the read. Every
        writer (ldifde, ldapsearch) puts one space after the colon, so a line
        is split once at ``": "``: ``name`` and the text value as it is, or
        ``name:`` and a base64 value - one cached lookup says which and what
        to do with it. A line without ``": "`` (an empty value, a URL, no
        space) fails to unpack, and a record with ``":  "`` (more spaces to
        drop) is not plain: the exact reader takes both.
        """
        lines = text.split("\n")
        self.span = len(lines)
        kinds = self.kinds
        attrs: dict[str, list[AttrValue]] = {}
        rest = iter(lines)
        try:
            name, value = next(rest).split(": ", 1)
            lname, how = kinds.get(name) or self._kind(name)
            if lname != "dn":  # version:, a comment, ...: the exact reader
                return False
            # dn: text, or dn:: base64 (_FALLBACK: as an attribute it would go the exact way)
            dn = value if how == _SPECIAL else a2b_base64(value, strict_mode=True).decode()
            for line in rest:
                name, value = line.split(": ", 1)  # no ": ": ValueError, the exact reader says why
                try:  # (a subscript: cheaper than .get, and try costs nothing until it raises)
                    lname, how = kinds[name]
                except KeyError:
                    lname, how = self._kind(name)
                if not how:  # _TEXT: the value as it is (most lines)
                    if lname in attrs:
                        attrs[lname].append(value)
                    else:
                        attrs[lname] = [value]
                    continue
                # Base64 as ldifde and ldapsearch write it; a value with white
                # space around it (or not ASCII) fails strict a2b_base64: the exact
                # reader takes the record, strips the value and says what is wrong.
                if how == _TEXT64:
                    item: AttrValue = a2b_base64(value, strict_mode=True)
                    try:  # (not contextlib.suppress: a context manager per value)  # noqa: SIM105
                        item = item.decode()
                    except UnicodeDecodeError:  # not UTF-8: kept as bytes
                        pass
                elif how == _BINARY64:
                    item = a2b_base64(value, strict_mode=True)
                elif how == _SPECIAL and lname == "changetype":  # ignored when it says "add"
                    if value != "add" and value.strip().lower() != "add":
                        return False
                    continue
                elif how == _SKIP:
                    continue
                elif how == _SKIP64:  # not kept, but a malformed value is still an error
                    a2b_base64(value, strict_mode=True)
                    continue
                else:  # a second dn:, a binary attribute as text, a bad name
                    return False
                if lname in attrs:
                    attrs[lname].append(item)
                else:
                    attrs[lname] = [item]
        except ValueError:  # a line not "name: value", bad base64 or UTF-8: the exact reader
            return False
        return RawEntry(display_dn(dn.strip()), attrs, f"{self.path}:{first}")

    def block(self, text: str, first: int, final: bool) -> Generator[RawEntry, None, int]:
        """A decoded block that starts a record: record by record, quick when plain.

        Returns the number of the line after the block (counted on the way,
        not by another pass over the block).
        """
        if "\r" in text:
            plain = text.replace("\r\n", "\n")
            if "\r" in plain:
                cr = plain.index("\r")
                if cr != len(plain) - 1:  # a CR at the very end: the last line's, without LF
                    raise InputError(BARE_CR, f"{self.path}:{first + plain.count(chr(10), 0, cr)}")
                plain = plain[:-1]
            text = plain
        if not text.endswith("\n"):
            text += "\n"  # the last line of the file, without its line break
        # Cut at every empty line at once (one C pass, not a find and a slice per
        # record): each piece but the last is followed by an empty line. A piece
        # that is not a plain record - empty, or starting with more empty lines -
        # is not plain to record() either and takes the exact way, which counts
        # its lines. The last piece is what follows the last empty line: nothing,
        # or lines up to the end of the block (its last line break dropped below).
        pieces = text.split("\n\n")
        tail = pieces.pop()
        number = first
        for rec in pieces:
            entry = self.record(rec, number)
            if entry is False:
                yield from self.lines(enumerate([*rec.split("\n"), ""], number), False)
                number += rec.count("\n") + 2
            else:
                if entry is not None:
                    yield entry  # type: ignore[misc]
                number += self.span + 1
        if tail:
            tail = tail[:-1]
            entry = self.record(tail, number)
            if entry is False:
                yield from self.lines(enumerate(tail.split("\n"), number), final)
                number += tail.count("\n") + 1
            else:
                if entry is not None:
                    yield entry  # type: ignore[misc]
                number += self.span
        return number


def _blocks(fh, size: int | None = None) -> Iterator[bytes]:
    """The file in blocks of about ``size`` bytes (``_BLOCK``) that each end
    right after an empty line (or at the end)."""
    pending = b""
    while True:
        data = fh.read(size or _BLOCK)
        if not data:
            if pending:
                yield pending
            return
        data = pending + data
        cut = data.rfind(b"\n\n")
        cut = max(cut, data.rfind(b"\n\r\n", max(cut, 0)))  # not a second pass over an LF file
        if cut < 0:
            pending = data
            continue
        cut = data.index(b"\n", cut + 1) + 1  # after the empty line
        yield data[:cut]
        pending = data[cut:]


def read_ldif(path: str | Path, attributes: Collection[str] | None = None) -> Iterator[RawEntry]:
    """Yield every entry of an LDIF export, attribute values in file order.

    ``attributes`` (lower-case names): keep only these in ``RawEntry.attrs``;
    every line is still checked as strictly as without it.
    """
    path = Path(path)
    fh, encoding = open_ldif(path)
    reader = _Reader(path, attributes)
    with fh:
        if encoding == "utf-16":
            yield from reader.lines(_utf16_lines(path, fh), final=True)
            return
        first = 1  # number of the block's first line
        blocks = _blocks(fh)
        block = next(blocks, None)
        while block is not None:
            following = next(blocks, None)
            first = yield from read_block(reader, block, first, following is None)
            block = following


def open_ldif(path: Path) -> tuple[BinaryIO, str]:
    """The file and "utf-16" (read from its start) or "utf-8" (after any BOM)."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read LDIF file: {exc.strerror}", str(path)) from None
    head = fh.read(4)
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    fh.seek(3 if head.startswith(codecs.BOM_UTF8) else 0)
    return fh, "utf-16" if utf16 else "utf-8"


def read_block(reader: _Reader, block: bytes, first: int, final: bool) -> Generator[RawEntry, None, int]:
    """The entries of a block of :func:`_blocks` starting at line ``first``
    (``final``: the last); returns the next line's number. Depends on nothing
    read before but ``reader.seen_version`` (:mod:`toolkit.exchange.ldif_chunks`)."""
    text = None
    if b"\x00" not in block:
        with contextlib.suppress(UnicodeDecodeError):
            text = block.decode("utf-8")
    if text is not None:
        return (yield from reader.block(text, first, final))
    body = block[:-1] if block.endswith(b"\n") else block
    yield from reader.lines(_raw_lines(reader.path, body, first), final)
    # Lines in the block (the last one may lack its line break).
    return first + block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
