"""``audit --ldif`` read in chunks by two processes (``toolkit.exchange.ldif_chunks``).

The export's blocks are decoded and classified apart, half of them in a forked
worker (:func:`toolkit.parallel.ordered_map`). Whatever the chunk size and
whichever process reads a chunk, the entries, the table, the log lines and
the FIRST error (text, ``file:line``, exit code) must be those of the one
reader, :func:`toolkit.exchange.ldif.read_ldif`. Awkward exports (folds,
base64, comments, CR LF, BOM, ``version:`` lines anywhere, bad bytes, errors
in several blocks) are read every way and compared; the worker is shown to
have read chunks where it is claimed (a file of the processes' ids).

``parallel.jobs()`` says 1 while another thread runs; no test here starts one.
"""

from __future__ import annotations

import codecs
import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.orgkit import ccmig
from tests.test_ldif_quick import _PIECES, _export
from toolkit.errors import InputError
from toolkit.exchange import ldif
from toolkit.exchange.dialects import READ_ATTRIBUTES, read_table
from toolkit.exchange.ldif import read_ldif
from toolkit.exchange.ldif_chunks import LdifChunks, ldif_entries
from toolkit.model import Dialect
from toolkit.parallel import jobs

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "mocks" / "demo"

# Pieces of bytes the reader must refuse or read oddly, on top of test_ldif_quick's.
_MORE = ["version: 1\n", "Version: 1\n", "version: 2\n", "v-attr: x\n", "VERSION;x: 1\n",
         "ver\n sion: 1\n", "# v\n", "\n", "\r\n", "\t\n", "cn: caf\xe9\n", "dn: CN=v,DC=x\n"]
_BYTES = [b"x\x00y\n", b"\xff\xfe\n", b"cn: caf\xc3\xa9\n", b"mail: a\rb\n", b"cn:: /w==\n"]


def _outcome(entries) -> list[object]:
    out: list[object] = []
    try:
        for e in entries:
            out.append((e.dn, e.attrs, e.where))
    except InputError as exc:
        out.append(("error", str(exc), exc.where))
    return out


@contextmanager
def processes(monkeypatch: pytest.MonkeyPatch, one: bool) -> Iterator[None]:
    """One process (``CCMIG_JOBS=1``) or the worker (the default) inside."""
    with monkeypatch.context() as m:
        if one:
            m.setenv("CCMIG_JOBS", "1")
        else:
            m.delenv("CCMIG_JOBS", raising=False)
        yield


def _random_bytes(rnd: random.Random) -> bytes:
    pieces = [*_PIECES, *_MORE]
    data = b"".join(rnd.choice(_BYTES) if rnd.random() < 0.02 else rnd.choice(pieces).encode()
                    for _ in range(rnd.randrange(0, 60)))
    if rnd.random() < 0.2:
        data = data.replace(b"\n", b"\r\n")
    if rnd.random() < 0.2:
        data = codecs.BOM_UTF8 + data
    return data[:-1] if data and rnd.random() < 0.3 else data


@pytest.mark.parametrize("seed", range(4))
def test_chunks_give_what_read_ldif_gives(tmp_path, monkeypatch, seed):
    """One process, any block size: the chunks' entries (or first error) are
    read_ldif's, ``version:`` lines and line numbers included."""
    rnd = random.Random(seed)
    path = tmp_path / "x.ldif"
    for n in range(250):
        if n % 5 == 0:
            path.write_text(_export(rnd.randrange(10**6), 30), encoding="utf-8", newline="")
        else:
            path.write_bytes(_random_bytes(rnd))
        keep = rnd.choice([None, READ_ATTRIBUTES])
        for size in (1, 7, 64, 1 << 20):
            monkeypatch.setattr(ldif, "_BLOCK", size)
            expected = _outcome(read_ldif(path, keep))
            assert _outcome(LdifChunks(path, keep)) == expected, (size, path.read_bytes())
            assert _outcome(LdifChunks(path, keep, size)) == expected


def test_a_version_line_is_read_as_far_apart_as_read_ldif_reads_it(tmp_path, monkeypatch):
    """``version: 1`` is accepted once, before any record, even in a later
    block; a second one is an error, wherever the first was read."""
    record = "dn: CN=a,DC=x\nvalue: v\n\n"
    cases = [record * 5 + "version: 1\n" + record * 5,  # first one late: accepted
             "version: 1\n" + record * 5 + "version: 1\n" + record,  # a second one: refused
             "v-attr: x\n\n" + record * 3 + "version: 1\n" + record,  # v lines that are no version
             record + "# c\nVersion: 1\n" + record * 4 + "version: 1\n" + record,
             # first, after comments (one folded): later blocks are not searched
             "# a\n# b\n  b2\nversion: 1\n\n" + record * 5 + "version: 1\n" + record,
             "# a\r\nVERSION: 1\r\n\r\n" + record * 5 + "v-attr: x\n\n" + record,
             "version: 2\n\n" + record * 5 + "version: 1\n" + record,  # an error first
             "version:: MQ==\n\n" + record * 5 + "version: 1\n" + record,  # not a version line
             "version:< file:///x\n\n" + record * 3,
             "# a\n\nversion: 1\n\n" + record * 5 + "version: 1\n" + record]
    for text in cases:
        path = tmp_path / "v.ldif"
        path.write_text(text, encoding="utf-8")
        for size in (1, 16, 40):
            monkeypatch.setattr(ldif, "_BLOCK", size)
            expected = _outcome(read_ldif(path))
            assert _outcome(LdifChunks(path)) == expected, (size, text)
    assert _outcome(read_ldif(tmp_path / "v.ldif"))[-1][0] == "error"


def test_a_version_line_first_is_seen_by_every_later_chunk(tmp_path, monkeypatch):
    """A ``version:`` line first in the file (after comments) is accepted or
    refused before any other block is read, so every later chunk says one was
    seen, without searching its block (``_version_first``); a block of any
    other start says nothing until a later block holds a v line (here none does)."""
    record = "dn: CN=a,DC=x\ncn: a\n\n"
    monkeypatch.setattr(ldif, "_BLOCK", 40)
    for head, seen in [("# c\n#  d\n e\nVersion: 1\n\n", True), ("version: 1\n\n", True),
                       ("version:: MQ==\n\n", False), ("# c\n\nversion: 1\n\n", False),
                       ("cn: x\nversion: 1\n\n", False), ("", False)]:
        path = tmp_path / "v.ldif"
        path.write_text(head + record * 6, encoding="utf-8")
        chunks = list(LdifChunks(path).chunks())
        assert len(chunks) > 2
        assert chunks[0][4] is False
        assert all(c[4] is seen for c in chunks[1:]), head

def test_small_and_utf16_files_are_read_as_before(tmp_path, monkeypatch):
    path = tmp_path / "x.ldif"
    path.write_bytes(b"dn: CN=a\ncn: x\n\n" * 10)
    monkeypatch.setattr(ldif, "_BLOCK", 64)
    assert isinstance(ldif_entries(path), LdifChunks)
    monkeypatch.setattr(ldif, "_BLOCK", 1 << 20)
    assert not isinstance(ldif_entries(path), LdifChunks)  # one chunk: nothing to share
    monkeypatch.setattr(ldif, "_BLOCK", 64)
    path.write_bytes(codecs.BOM_UTF16_LE + ("dn: CN=a\ncn: x\n\n" * 10).encode("utf-16-le"))
    assert not isinstance(ldif_entries(path), LdifChunks)
    # (a file that turned UTF-16 after that look: one chunk, read as read_ldif reads it)
    assert _outcome(LdifChunks(path)) == _outcome(read_ldif(path)) != []
    with pytest.raises(InputError, match="cannot read LDIF file"):
        list(ldif_entries(tmp_path / "missing.ldif"))
    fifo = tmp_path / "fifo.ldif"  # a pipe is not opened to be looked at: its bytes would be gone
    os.mkfifo(fifo)
    assert not isinstance(ldif_entries(fifo), LdifChunks)


@pytest.mark.parametrize("seed", range(4))
def test_chunks_count_the_entries_they_give(tmp_path, monkeypatch, seed):
    """``count`` (progress, -v's count) without decoding where every d line is
    a dn line, by decoding where not (a folded dn:, Dn:): the entries given."""
    monkeypatch.setattr(ldif, "_BLOCK", [512, 4096][seed % 2])
    path = tmp_path / "org.ldif"
    path.write_bytes(_awkward((DEMO / "org.ldif").read_text(encoding="utf-8"),
                              random.Random(seed), 0).replace(b"\nDN:", b"\nDn:" if seed > 1 else b"\nDN:"))
    text = path.read_bytes()
    path.write_bytes(text.replace(b"\ncn: ", b"\ndNSHostName: ", 1))
    source = LdifChunks(path)
    counts = [(source.count(c), len(list(source.decode(c)))) for c in source.chunks()]
    assert all(a == b for a, b in counts) and sum(a for a, _ in counts) > 300


def test_a_file_changed_while_read_is_refused_not_misread(tmp_path, monkeypatch):
    """A chunk is a place in the file, read again by whichever process decodes
    it: if the file is no longer the one cut into chunks, that is an error."""
    monkeypatch.setattr(ldif, "_BLOCK", 64)
    path = tmp_path / "x.ldif"
    path.write_bytes(b"dn: CN=a\ncn: x\n\n" * 20)
    source = LdifChunks(path)
    chunks = list(source.chunks())
    assert len(chunks) > 2 and len(list(source.decode(chunks[1]))) > 0
    path.write_bytes(b"dn: CN=b\ncn: y\n\n" * 20)  # same size: another file (inode, mtime)
    os.utime(path, ns=(1, 1))
    with pytest.raises(InputError, match="changed while it was read"):
        list(source.decode(chunks[1]))


# ------------------------------------------------------------ two processes

def _spy(monkeypatch, tmp_path: Path) -> Path:
    """Each chunk decoded appends its process's id to the file returned."""
    pids = tmp_path / "pids"
    decode = LdifChunks.decode

    def spied(self, chunk):
        with pids.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return decode(self, chunk)

    monkeypatch.setattr(LdifChunks, "decode", spied)
    return pids


def _worker_chunks(pids: Path) -> int:
    """Chunks decoded by another process than this one (then forgets them)."""
    if not pids.exists():
        return 0
    ids = pids.read_text().split()
    pids.unlink()
    return sum(1 for p in ids if int(p) != os.getpid())


def _table(source, monkeypatch, one: bool) -> object:
    seen: list[tuple] = []
    with processes(monkeypatch, one):
        try:
            table = read_table(source, Dialect.AD, True, None, lambda *a: seen.append(a))
        except InputError as exc:
            return ("error", str(exc), exc.where)
    return list(table), table.kinds, seen


def _awkward(text: str, rnd: random.Random, errors: int) -> bytes:
    """The demo export, made awkward: folded lines, comments, base64, CR LF,
    a BOM, and ``errors`` bad lines in as many places."""
    lines = text.split("\n")
    out = []
    for line in lines:
        if line.startswith("cn: ") and rnd.random() < 0.3:
            line = "cn:: " + codecs.encode(line[4:].encode(), "base64").decode().replace("\n", "")
        if len(line) > 10 and rnd.random() < 0.2:
            cut = rnd.randrange(1, len(line))
            line = line[:cut] + "\n " + line[cut:]
        if not line and rnd.random() < 0.05:
            line = "\n# a comment\n #  folded"
        out.append(line)
    for _ in range(errors):
        at = rnd.randrange(len(out))
        out.insert(at, rnd.choice(["cn:: !!!", "no colon", "proxyAddresses:< file:///x",
                                   "changetype: modify", "version: 1"]))
    data = "\n".join(out).encode()
    if rnd.random() < 0.5:
        data = data.replace(b"\n", b"\r\n")
    return codecs.BOM_UTF8 + data if rnd.random() < 0.5 else data


@pytest.mark.parametrize("seed", range(6))
def test_the_worker_reads_chunks_into_the_same_table_or_error(tmp_path, monkeypatch, seed):
    """read_table over the chunks, with the worker and without, and over
    read_ldif (the audit before chunks): the same recipients, kinds and
    mailbox identities in the same order, or the same first error when
    several blocks are bad."""
    assert threading.active_count() == 1 and jobs() == 2
    rnd = random.Random(seed)
    path = tmp_path / "org.ldif"
    path.write_bytes(_awkward((DEMO / "org.ldif").read_text(encoding="utf-8"), rnd,
                              [0, 0, 1, 3, 3, 8][seed]))
    pids = _spy(monkeypatch, tmp_path)
    for size in (512, 4096, 65536):
        monkeypatch.setattr(ldif, "_BLOCK", size)
        expected = _table(read_ldif(path, READ_ATTRIBUTES), monkeypatch, True)
        assert (expected[0] == "error") == (seed >= 2)
        chunked = LdifChunks(path, READ_ATTRIBUTES)
        assert _table(chunked, monkeypatch, True) == expected
        assert _worker_chunks(pids) == 0
        assert _table(chunked, monkeypatch, False) == expected
        assert _worker_chunks(pids) > 0  # the worker read some of them


def bad_exports(good: Path, tmp_path: Path) -> tuple[Path, Path]:
    """``good`` with an error in two records far apart (in other blocks at
    4,096 bytes a block), and with an error in its last record (with the
    worker the chunks run out before their results do)."""
    text = good.read_text(encoding="utf-8")
    cut = [i for i in range(len(text)) if text.startswith("\n\ndn:", i)]
    one, two = cut[len(cut) // 3], cut[2 * len(cut) // 3]
    bad = tmp_path / "bad.ldif"
    bad.write_text(text[:one] + "\nno colon" + text[one:two] + "\ncn:: !!" + text[two:],
                   encoding="utf-8")
    last = tmp_path / "last.ldif"
    last.write_text(text.rstrip("\n") + "\nno colon\n", encoding="utf-8")
    return bad, last


def same_every_way(monkeypatch, pids: Path, *args: str) -> tuple[int, str, str]:
    """``ccmig *args`` in one process, with the worker (which must decode
    blocks: ``pids`` from :func:`_spy`) and as one block (read_ldif, no
    chunks): the same exit code, output and log each time; that outcome."""
    monkeypatch.setenv("CCMIG_JOBS", "1")
    alone = ccmig(*args)
    assert _worker_chunks(pids) == 0
    monkeypatch.delenv("CCMIG_JOBS")
    assert ccmig(*args) == alone
    assert _worker_chunks(pids) > 0
    with monkeypatch.context() as m:
        m.setattr(ldif, "_BLOCK", 1 << 20)
        assert ccmig(*args) == alone
        assert not pids.exists()
    return alone


def test_an_audit_says_and_writes_the_same_with_the_worker(tmp_path, monkeypatch):
    """The CLI at -v: same rows, same log lines (the objects read counted
    by both processes), same exit code as with one process and as read_ldif
    before chunks; and with errors in several blocks, the same first error
    and exit code 2; with one in the last record, -v must not say "read N
    objects" before the error."""
    monkeypatch.setattr(ldif, "_BLOCK", 4096)
    pids = _spy(monkeypatch, tmp_path)
    bad, last = bad_exports(DEMO / "org.ldif", tmp_path)
    for export in (DEMO / "org.ldif", bad, last):
        one = same_every_way(
            monkeypatch, pids, "audit", "--ldif", str(export), "--exchange-po", "EXCH", "-v",
            "--mailbox-stats", str(DEMO / "stats.csv"), "--format", "json",
            *[a for p in sorted((DEMO / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))])
        if export != DEMO / "org.ldif":
            assert one[0] == 2 and f"{export}:" in one[2] and "expected 'attribute: value'" in one[2]
            assert "directory object(s) from" not in one[2]  # an incomplete read is not counted
        else:
            assert one[0] in (0, 1) and "read " in one[2] and "directory object(s) from LDIF" in one[2]


def test_blocks_are_counted_only_when_the_count_is_shown(tmp_path, monkeypatch):
    """-v says how many objects were read; without it no block is scanned
    for its dn: lines (the parent's CPU, on the read's critical path)."""
    monkeypatch.setattr(ldif, "_BLOCK", 4096)
    counted: list[int] = []
    count = LdifChunks.count

    def spied(self, chunk):
        counted.append(1)
        return count(self, chunk)

    monkeypatch.setattr(LdifChunks, "count", spied)
    args = ["audit", "--ldif", str(DEMO / "org.ldif"), "--exchange-po", "EXCH",
            "--format", "json",
            *[a for p in sorted((DEMO / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]]
    quiet = ccmig(*args)
    assert counted == []
    verbose = ccmig(*args, "-v")
    assert counted and verbose[:2] == quiet[:2]
    assert "directory object(s) from LDIF" in verbose[2]


class _Matcher:
    """A MailboxMatcher that says which process matched each mailbox."""

    def __init__(self) -> None:
        self.recorded: list[tuple[int, str]] = []
        self.pids: set[int] = set()

    def match(self, dn, primary, nickname, sam):  # type: ignore[no-untyped-def]
        if not nickname or "a" not in nickname.lower():
            return None
        return dn.casefold(), os.getpid()

    def record(self, position, found):  # type: ignore[no-untyped-def]
        self.recorded.append((position, found[0]))
        self.pids.add(found[1])


def test_a_matcher_matches_where_the_mailbox_is_classified(tmp_path, monkeypatch):
    """``--mailbox-stats``' matcher: its pure half runs in the process that
    classifies the mailbox (the worker for its chunks), its record half here,
    in reading order; what is recorded is what one process records, and what
    the stats file gives is the same both ways."""
    from toolkit.stats import StatsMatcher

    assert threading.active_count() == 1 and jobs() == 2
    monkeypatch.setattr(ldif, "_BLOCK", 4096)
    path = DEMO / "org.ldif"
    outcome = {}
    for one in (True, False):
        with processes(monkeypatch, one):
            matcher, stats = _Matcher(), StatsMatcher(DEMO / "stats.csv")
            table = read_table(LdifChunks(path, READ_ATTRIBUTES), Dialect.AD, True,
                               matcher=matcher)
            read_table(LdifChunks(path, READ_ATTRIBUTES), Dialect.AD, True, matcher=stats)
            matched = stats.apply(table)
            outcome[one] = (matcher.recorded, matched,
                            [table.item_count(i) for i in range(len(table))])
            assert (matcher.pids == {os.getpid()}) == one  # the worker matched some
    assert outcome[True] == outcome[False]
    recorded, matched, counts = outcome[True]
    assert len(recorded) > 5 and matched > 5 and counts.count(None) < len(counts)
    plain = StatsMatcher(DEMO / "stats.csv")
    table = read_table(read_ldif(path, READ_ATTRIBUTES), Dialect.AD, True, plain.observe)
    assert plain.apply(table) == matched
    assert [table.item_count(i) for i in range(len(table))] == counts
