"""An LDIF export read by two processes: :class:`LdifChunks`.

Why: reading, decoding and classifying a 100,000-people export is about half
of ``ccmig audit --ldif`` (~3.6 s of ~7.35 s), all of it CPU in one process.
:func:`toolkit.exchange.ldif.read_ldif` already reads the file in blocks that
each end after an empty line, so every block starts a record and its entries
depend on nothing read before it but two facts: the number of its first line
and whether a ``version:`` line was accepted before it. A chunk is a block's
place in the file with those facts (and whether it is the last), so that
:meth:`LdifChunks.decode` is pure and :func:`toolkit.exchange.dialects.read_table`
can hand half of the chunks to a forked worker (:mod:`toolkit.parallel`):
the same entries, ``where`` and first error as ``read_ldif``
(``tests/test_ldif_parallel.py`` reads awkward exports both ways).

Whichever process decodes a chunk reads its block from the file again (from
the page cache: ~0.1 ms a megabyte): a chunk of a few numbers is handed to the
worker ahead of its answer, where a pickled megabyte block did not fit in the
pipe beside the one it had (half of them: the parent then read 48 of the 90
blocks itself; so, the worker reads 48-53 and the parent's share of the stage
fell from ~2.1 to ~1.8 s of CPU at 100,000 people).

Measured at 100,000 people (93 MB, 90 blocks; a busy shared machine, ranges):
reading + classifying 1.8-3.9 s wall with the worker (parent ~1.6-2.0 s of
CPU, worker ~1.4-2.0 s) against 3.1-3.7 s in one process; the whole audit
5.9-8.6 s against 7.3-8.4 s; peak RSS 123-125 MB (parent), 65-67 MB (worker).

The ``version:`` fact costs little: a ``version: 1`` line is read only at a
record's start, so it matters only to a block with a line that starts with
``v`` or ``V``; whether an earlier such block accepted one is found by
reading that block here (only while none has been, and only when a later
block has such a line too). An export whose first line after its comments
is the version line (ldifde's, ``ldapsearch -L``'s: the bench export) has it
settled at once, and its later blocks are not searched for such lines
(:func:`_version_first`; session 13: that search was ~0.2 s of the
parent's CPU at 100,000 people). UTF-16 exports, and files of one chunk,
are read as before, in one process.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from toolkit.errors import InputError
from toolkit.exchange import ldif
from toolkit.exchange.dialects import Chunked
from toolkit.exchange.ldif import _blocks, _Reader, open_ldif, read_block, read_ldif
from toolkit.model import RawEntry

# (where the block starts in the file, its length, number of its first line, the last
# block?, a version line accepted before it?, the file's stamp); a length of -1: the
# whole file, read by read_ldif (a file turned UTF-16 meanwhile)
Chunk = tuple[int, int, int, bool, bool, tuple[int, ...]]


def ldif_entries(path: str | Path, attributes: Collection[str] | None = None) -> Iterable[RawEntry]:
    """The entries of :func:`~toolkit.exchange.ldif.read_ldif`: as
    :class:`LdifChunks` when the file is a UTF-8 file larger than a block,
    else read_ldif's own (which also says why a file cannot be read; a pipe,
    ``/dev/stdin``, is read once, as it comes)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size <= ldif._BLOCK:
            return read_ldif(path, attributes)
        fh, encoding = open_ldif(Path(path))
    except (OSError, InputError):  # read_ldif says so, when read
        return read_ldif(path, attributes)
    fh.close()
    if encoding != "utf-8":
        return read_ldif(path, attributes)
    return LdifChunks(path, attributes)


class LdifChunks(Chunked):
    """An export's blocks as chunks that :meth:`decode` reads apart (see the
    module's docstring). Each process keeps its own reader, whose caches of
    names and record shapes carry over from chunk to chunk: they change how
    fast a record is read, never what it gives.

    A chunk is one of read_ldif's blocks (``size``: ``ldif._BLOCK`` bytes
    unless given), not another cut: a block with a CR not before a LF is
    refused at that CR before its records are read, so only the same blocks
    give the same first error."""

    def __init__(self, path: str | Path, attributes: Collection[str] | None = None,
                 size: int | None = None) -> None:
        self.path = Path(path)
        self.attributes = attributes
        self.size = size
        self._reader: _Reader | None = None
        self._last: tuple[int, bytes] = (-1, b"")

    def chunks(self) -> Iterator[Chunk]:
        fh, encoding = open_ldif(self.path)
        with fh:
            if encoding == "utf-16":
                yield (0, -1, 1, True, False, ())
                return
            stamp = _stamp(fh.fileno())
            offset, first = fh.tell(), 1
            seen = False  # a version line accepted in an earlier block (exact where it matters)
            unsure: list[tuple[bytes, int, bool]] = []  # blocks that may have accepted one
            blocks = _blocks(fh, self.size)
            block = next(blocks, None)
            while block is not None:
                following = next(blocks, None)
                final = following is None
                # (once seen, it stays so and nothing below changes: no search)
                if not seen and (block[:1] in (b"v", b"V") or b"\nv" in block
                                 or b"\nV" in block):
                    if unsure:
                        seen = self._accepted(unsure)
                        unsure = []
                    if not seen:
                        unsure.append((block, first, final))
                # (else no line starts with v: no version line, seen is never asked)
                self._last = (offset, block)
                yield (offset, len(block), first, final, seen, stamp)
                if first == 1 and _version_first(block):
                    seen = True  # see _version_first
                offset += len(block)
                first += block.count(b"\n")  # (only the last block may end without one)
                block = following

    def _accepted(self, blocks: list[tuple[bytes, int, bool]]) -> bool:
        """Whether one of ``blocks`` (read in order, no version line before
        them) accepts a ``version:`` line. After an error nothing that
        follows is read, so its answer does not matter."""
        reader = _Reader(self.path, self.attributes)
        for block, first, final in blocks:
            try:
                for _entry in read_block(reader, block, first, final):
                    pass
            except Exception:  # raised again at this block's turn
                return False
            if reader.seen_version:
                return True
        return False

    def decode(self, chunk: Chunk) -> Iterable[RawEntry]:
        offset, length, first, final, seen, stamp = chunk
        if length < 0:
            return read_ldif(self.path, self.attributes)
        block = self._block(offset, length, stamp)
        reader = self._reader
        if reader is None:
            reader = self._reader = _Reader(self.path, self.attributes)
        reader.dn, reader.attrs, reader.seen_version = None, {}, seen
        return read_block(reader, block, first, final)

    def count(self, chunk: Chunk) -> int:
        """The entries ``chunk`` gives (progress, ``-v``'s count), told in
        the parent without decoding when every line that could be a ``dn``
        line is a ``dn:`` or ``DN:`` line (no ``Dn:``, ``dn;x:``, folded
        name): each is then one entry's (a block that gives no error holds
        one per entry; after an error the count is not told). Else the
        block is decoded here. (~2.5 ms a megabyte; decoding is ~15 ms.)"""
        offset, length, first, final, seen, stamp = chunk
        if length >= 0:
            last = self._last  # (the block chunks() has just given: not read again)
            block = last[1] if last[0] == offset else self._block(offset, length, stamp)
            if _ODD_DN.search(block) is None and _ODD_DN.match(b"\n" + block[:4]) is None:
                return (block.count(b"\ndn:") + block.count(b"\nDN:")
                        + block.startswith((b"dn:", b"DN:")))
        return sum(1 for _ in self.decode(chunk))

    def _block(self, offset: int, length: int, stamp: tuple[int, ...]) -> bytes:
        """The block :meth:`chunks` found there, read again by the process
        that decodes it (a chunk of a few numbers crosses the pipe at once;
        a megabyte of text did not fit beside the one the worker has); an
        error if the file is no longer the one that was cut."""
        try:
            with self.path.open("rb") as fh:
                block = b""
                if _stamp(fh.fileno()) == stamp:
                    fh.seek(offset)
                    block = fh.read(length)
        except OSError as exc:
            raise InputError(f"cannot read LDIF file: {exc.strerror}", str(self.path)) from None
        if len(block) != length:
            raise InputError("the file changed while it was read", str(self.path))
        return block


# A line that may be a dn line but is not "dn:" or "DN:" (LDIF names are case-blind,
# may carry options and may be folded anywhere): its block's entries are counted
# by decoding it.
_ODD_DN = re.compile(rb"\n[dD](?:[nN][;\r\n]|[\r\n])|\ndN:|\nDn:")


def _version_first(block: bytes) -> bool:
    """Whether the file's first line, after any comments, is a ``version:``
    line. It is then accepted or it is an error, before any other block is
    read: either way every later block reads after an accepted version line,
    as exports write it (ldifde, ``ldapsearch -L``). Why: without this, each
    later block is searched for a line that starts with v (two searches of a
    megabyte, ~2 ms a block: ~0.2 s of the parent's CPU at 100,000 people)."""
    pos = 0
    # a comment line, and the lines folded into it (they start with a space)
    while block[pos : pos + 1] == b"#" or (pos and block[pos : pos + 1] == b" "):
        pos = block.find(b"\n", pos) + 1
        if not pos:
            return False
    return (block[pos : pos + 8].lower() == b"version:"
            and block[pos + 8 : pos + 9] not in (b":", b"<"))


def _stamp(fd: int) -> tuple[int, ...]:
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
