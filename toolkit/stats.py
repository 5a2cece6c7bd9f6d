"""``--mailbox-stats`` CSV: Exchange item counts that confirm a migration.

Identities resolve in the spec's order (DN, primary SMTP, mailNickname,
sAMAccountName), at the first level that matches anything, so an admin's
export from any of those columns works; ambiguity is an error, never a guess,
because these counts decide whether a cc:Mail mailbox may be deleted.
"""

from __future__ import annotations

import csv
import io
import logging
from array import array
from collections.abc import Iterator
from pathlib import Path

from toolkit.errors import InputError
from toolkit.model import Kind
from toolkit.storage.recipients import RecipientTable
from toolkit.text import fold

log = logging.getLogger(__name__)
_MAILBOX = Kind.MAILBOX  # read through the enum's class, ~0.2 µs per recipient observed


def read_stats(path: str | Path) -> list[tuple[int, str, int]]:
    """(line, identity, count) rows of a stats CSV, validated."""
    return list(iter_stats(path))


def iter_stats(path: str | Path) -> Iterator[tuple[int, str, int]]:
    """:func:`read_stats` a row at a time (a file's rows are never all tuples at once)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read mailbox stats: {exc.strerror}", str(path)) from None
    except UnicodeDecodeError:
        raise InputError("mailbox stats must be UTF-8 text", str(path)) from None
    if "\x00" in text:
        raise InputError("NUL character: not a CSV text file", str(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("empty file: expected header 'identity,item_count'", str(path)) from None
    except csv.Error as exc:
        raise InputError(f"bad CSV: {exc}", f"{path}:1") from None
    names = [h.strip().lower() for h in header]
    if "identity" not in names or "item_count" not in names:
        raise InputError("header must name columns 'identity,item_count'", f"{path}:1")
    id_col, count_col = names.index("identity"), names.index("item_count")
    last_col, cells = max(id_col, count_col), len(header)  # asked once, not per row
    try:
        for row in reader:
            line = reader.line_num
            if not "".join(row).strip():  # blank cells only (one C call, not one per cell)
                continue
            if len(row) <= last_col:
                raise InputError("missing column(s)", f"{path}:{line}")
            if len(row) > cells:
                raise InputError("more cells than the header (quote identities that hold commas)",
                                 f"{path}:{line}")
            identity, count = row[id_col].strip(), row[count_col].strip()
            if not (count.isascii() and count.isdigit()) or len(count) > 18:  # 0-9 only
                raise InputError(
                    f"item_count must be a non-negative integer, found {count[:40]!r}", f"{path}:{line}"
                )
            yield line, identity, int(count)
    except csv.Error as exc:
        raise InputError(f"bad CSV: {exc}", f"{path}:{reader.line_num}") from None


Lines = tuple["array[int]", "array[int]", list[str], "array[int]", list[str]]
"""A stats file's line numbers, counts and identities, each line's key (its
folded identity's number, -1 for a blank one) and the folded identities by
number, as :class:`StatsMatcher` keeps them."""

_BLANK = -1  # the key of a line whose identity folds to "" (names no mailbox)


def stats_lines(path: str | Path) -> Lines | None:
    """What :class:`StatsMatcher` reads of ``path`` (for a worker to read
    ahead, :func:`toolkit.cli.prefetch.prefetched`, and hand to the matcher
    as ``lines``); None for a file with an error (the matcher reads it again
    and reports it)."""
    matcher = StatsMatcher.__new__(StatsMatcher)
    matcher._no_lines()
    matcher._read(path)
    if matcher.error is not None:
        return None
    return (matcher.line_numbers, matcher.counts, matcher.identities, matcher.keys,
            matcher.names)


class StatsMatcher:
    """Matches stats lines to mailboxes while the mailboxes are being read.

    Indexing every mailbox by its four folded identities would cost ~80 MB
    at 100,000 mailboxes. This reads the file first, indexes only the
    identities the file names as the mailboxes stream past (:meth:`observe`)
    and applies the counts in :meth:`apply`. A file error is raised by
    :meth:`apply`, after the directory was read, so a bad stats file and a
    bad directory report in the same order whatever the source.

    Lines are kept as arrays; only mailboxes the file names are kept (~30 MB
    less at 100,000). Each distinct folded identity has a number (its
    position among them), and what matched it is kept in four lists by that
    number, one a level: filing what :meth:`match` found for a mailbox takes
    no hash look-up, and :meth:`apply`, going through the lines, reads those lists
    instead of four hash maps of the identities. Why: those maps' look-ups
    are random reads in tables that grow with the file, so their cost grew
    faster than the file. Filing and applying, in one process, alternated
    with the maps: 0.18 -> 0.14 s at 100,000 people, 0.44 -> 0.28 s at
    200,000.
    """

    def __init__(self, path: str | Path, lines: Lines | None = None) -> None:
        """``lines``: :func:`stats_lines` of ``path``, read ahead by a worker
        while this process did other work; None: the file is read here.
        Either way the matcher is the same (:func:`stats_lines` runs the
        matcher's own reading code, and gives None for a file with an error,
        which is then read here and kept for :meth:`apply`)."""
        self.path = path
        self._no_lines()
        self.positions = array("q")  # positions of the mailboxes the file names, in order
        if lines is None:
            self._read(path)
        else:  # read ahead by a worker
            self.line_numbers, self.counts, self.identities, self.keys, self.names = lines
            self.wanted = {name: number for number, name in enumerate(self.names)}
        self.names = []
        # per identity level (DN, primary SMTP, nickname, sAMAccountName), by
        # key: the indexes (in positions) of the mailboxes it names (one bare,
        # several a list; None: none)
        self.levels: list[list[int | list[int] | None]] = [
            [None] * len(self.wanted) for _ in range(4)]
        # Whether a DN or a primary SMTP address can name a line at all (see
        # observe): which characters the file's identities hold, asked once.
        self.dn_named = any("=" in key for key in self.wanted)
        self.smtp_named = any("@" in key for key in self.wanted)

    def _no_lines(self) -> None:
        """What :meth:`_read` fills, empty (also :func:`stats_lines`' start)."""
        self.error: BaseException | None = None
        self.line_numbers = array("q")
        self.counts = array("q")
        self.identities: list[str] = []
        # Each line's key: the number of its folded identity (_BLANK for ""),
        # so apply() folds nothing again.
        self.keys = array("q")
        self.names: list[str] = []  # the folded identities, by number (while reading)
        self.wanted: dict[str, int] = {}  # folded identity -> its number

    def _read(self, path: str | Path) -> None:
        """The file's lines into the arrays and lists; an error is kept for
        :meth:`apply`."""
        wanted, names = self.wanted, self.names
        add_line, add_count = self.line_numbers.append, self.counts.append
        add_key, add_identity = self.keys.append, self.identities.append
        try:
            for line, identity, count in iter_stats(path):
                add_line(line)
                add_count(count)
                key = fold(identity)
                number = wanted.get(key)
                if number is not None:
                    key = names[number]  # one string a folded identity
                elif key:
                    number = wanted[key] = len(names)
                    names.append(key)
                else:
                    number = _BLANK
                add_key(number)
                add_identity(key if key == identity else identity)
        except Exception as exc:
            self.error = exc

    def observe(self, table: RecipientTable, position: int) -> None:
        """Every recipient read, in order, as it is added to ``table`` (only
        mailboxes count): :meth:`observe_mailbox` with the four identities
        asked of the record alone
        (:meth:`~toolkit.storage.recipients.RecipientTable.stats_identities`,
        no other field decoded)."""
        if table.kinds[position] is not _MAILBOX or not self.wanted:
            return
        self.observe_mailbox(position, *table.stats_identities(position))

    def observe_mailbox(self, position: int, dn: str, primary: str | None,
                        nickname: str | None, sam: str | None) -> None:
        """The mailbox at ``position`` of the table being read, by its
        identities (DN, primary SMTP, mailNickname, sAMAccountName):
        :meth:`record` of what :meth:`match` finds. :meth:`observe` asks the
        table for them."""
        found = self.match(dn, primary, nickname, sam)
        if found is not None:
            self.record(position, found)

    def match(self, dn: str, primary: str | None, nickname: str | None, sam: str | None
              ) -> tuple[int | None, int | None, int | None, int | None] | None:
        """The keys (:attr:`wanted`'s numbers) of the folded identities of
        one mailbox that name a line of the file (DN, primary SMTP,
        mailNickname, sAMAccountName; None for one that names none), or None
        when none does. Pure: it reads only what
        ``__init__`` built, so a reader calls it in whichever process
        classifies the mailbox (:func:`toolkit.exchange.dialects.read_table`,
        a forked worker included) and hands the result to :meth:`record` in
        reading order; no record is decoded again.

        Called for each of 100,000 objects while they are read, so it folds
        a ``sAMAccountName`` equal to the nickname once, and folds no DN or
        address that cannot name a line:

        - a DN holding ``=`` (every DN but the root) folds to a string that
          holds ``=``, unless it holds U+0338: NFC composes ``=`` only with a
          following U+0338 (into U+2260), squeezing removes only white space,
          and case folding maps ``=`` to itself. So when no line's folded
          identity holds ``=``, such a DN names no line;
        - likewise ``@``: NFC never composes it (no character's canonical
          decomposition holds U+0040), so an address holding ``@`` names no
          line when no folded identity holds ``@``.

        tests/test_stats_fast.py checks both facts over every code point and
        compares this with folding everything. An export of one column (DNs,
        or addresses, or nicknames) skips one or two of the three folds per
        mailbox. Reading the 10,000-people organisation into a table with
        its stats file (callgrind, classify included): 1,070 M -> 831 M
        instructions; observe alone at 100,000 people 0.40 s -> 0.30 s."""
        wanted = self.wanted
        if not wanted:
            return None
        get = wanted.get
        dn_key = primary_key = nick_key = sam_key = None
        if dn and (self.dn_named or "=" not in dn or "\u0338" in dn):
            dn_key = get(" ".join(dn.split()).casefold() if dn.isascii() else fold(dn))
        if primary and (self.smtp_named or "@" not in primary):
            primary_key = get(" ".join(primary.split()).casefold() if primary.isascii()
                              else fold(primary))
        if nickname:
            nick_key = get(" ".join(nickname.split()).casefold() if nickname.isascii()
                           else fold(nickname))
        if sam == nickname:
            sam_key = nick_key
        elif sam:
            sam_key = get(" ".join(sam.split()).casefold() if sam.isascii() else fold(sam))
        if dn_key is None and primary_key is None and nick_key is None and sam_key is None:
            return None
        return dn_key, primary_key, nick_key, sam_key

    def record(self, position: int,
               found: tuple[int | None, int | None, int | None, int | None]) -> None:
        """Keeps what :meth:`match` found for the mailbox at ``position``
        (called in reading order, in the reading process): its index in
        :attr:`positions`, at each level under the key found there."""
        index = len(self.positions)
        self.positions.append(position)
        for level, key in zip(self.levels, found, strict=True):
            if key is not None:
                have = level[key]
                if have is None:
                    level[key] = index
                elif have.__class__ is list:
                    have.append(index)  # type: ignore[union-attr]
                else:
                    level[key] = [have, index]  # type: ignore[list-item]

    def apply(self, recipients: RecipientTable) -> int:
        """Give the matching mailboxes of ``recipients`` (the table observed)
        their ``item_count``. Returns how many matched."""
        if self.error is not None:
            raise self.error
        path, positions = self.path, self.positions
        lines, identities, counts, keys = self.line_numbers, self.identities, self.counts, self.keys
        # Applied once: what the file held is freed for the analysis that follows.
        self.wanted, self.identities, self.keys = {}, [], array("q")
        self.positions = array("q")
        self.line_numbers, self.counts = array("q"), array("q")
        levels, self.levels = self.levels, [[], [], [], []]
        assigned: dict[int, int] = {}
        for line, identity, key, count in zip(lines, identities, keys, counts, strict=True):
            # the mailbox(es) the line's key names at the first level naming any
            hits = None
            if key != _BLANK:
                for level in levels:
                    hits = level[key]
                    if hits is not None:
                        break
            if hits is None:
                log.info("%s:%d: identity %r matches no mailbox; ignored", path, line, identity)
                continue
            if hits.__class__ is list:
                if len(set(hits)) > 1:  # type: ignore[arg-type]
                    dns = ", ".join(recipients.dn(positions[i])
                                    for i in sorted(set(hits)))  # type: ignore[arg-type]
                    raise InputError(f"identity {identity!r} matches several mailboxes: {dns}",
                                     f"{path}:{line}")
                hits = hits[0]  # type: ignore[index]
            index: int = hits  # type: ignore[assignment]
            if index in assigned:
                raise InputError(
                    f"second line for mailbox {recipients.dn(positions[index])} "
                    f"(first at line {assigned[index]})",
                    f"{path}:{line}",
                )
            assigned[index] = line
            recipients.set_item_count(positions[index], count)
        return len(assigned)
