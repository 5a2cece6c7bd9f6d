"""The audit's LDAP read in two processes (ldapread.PageChunks through
dialects.read_table and parallel.ordered_map): the same table, the same
bytes, the same first error with and without the forked worker, and the
same as the iterating read every other command keeps.

The worker can only be forked while no other thread runs, so every test of
the two-process path asserts that none does (a fault proxy runs threads: its
tests run ccmig in a process of its own) and that the worker decoded pages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ldap3.core.exceptions import LDAPSessionTerminatedByServerError
from ldap3.operation.search import search_result_entry_response_to_dict_fast
from ldap3.utils.asn1 import decode_message_fast
from toolkit.mocks import orggen
from toolkit.mocks.faultproxy import FaultProxy
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import ccmig
from tests.test_ldap_fastpath import _awkward_messages, _done, _entry_message, serve
from tests.test_ldap_mock import ScriptedConnection, mock_conn  # noqa: F401  (a fixture)
from tests.test_ldap_mock import _done as _result
from toolkit import parallel
from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange import ldapfast, ldapread
from toolkit.exchange.dialects import AD_ATTRIBUTES, CLASSIFY_ATTRIBUTES, READ_ATTRIBUTES, read_table
from toolkit.exchange.ldap import LdapSettings, connect, read_ldap, read_ldap_chunks, recipient_filter
from toolkit.exchange.ldapread import PageChunks, pages, search
from toolkit.exchange.ldif import read_ldif
from toolkit.model import Dialect, RawEntry

ROOT = Path(__file__).resolve().parent.parent
BASE = "DC=corp,DC=example"
PARENT = os.getpid()


# ---------------------------------------------------------------- helpers


@pytest.fixture
def pids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], set[int]]:
    """The processes that decoded undecoded pages: each call of
    ldapread.raw_entries notes its PID in a file (the forked worker inherits
    the patch)."""
    path = tmp_path / "pids"
    real = ldapread.raw_entries

    def recording(messages: Any, entries: Any = None, kept: Any = None) -> list[RawEntry]:
        with path.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return real(messages, entries, kept)

    monkeypatch.setattr(ldapread, "raw_entries", recording)
    return lambda: {int(p) for p in path.read_text().split()} if path.exists() else set()


def _one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.ENV, "1")


def _two_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(parallel.ENV, raising=False)
    assert threading.active_count() == 1, "a thread runs: the worker could not be forked"
    assert parallel.jobs() == 2


def _outcome(entries: Any) -> tuple[Any, ...]:
    """What read_table makes of ``entries`` (with every mailbox and their
    identities), or the first error: its type, text and where."""
    boxes: list[tuple[Any, ...]] = []
    try:
        table = read_table(entries, Dialect.AD, True, None, lambda *box: boxes.append(box))
    except (ConnectionFailure, InputError) as exc:
        return type(exc), str(exc), getattr(exc, "where", None), exc.exit_code
    return table.records, table.kinds, table._subtypes, boxes


def _message(message_id: int, entry: RawEntry) -> bytes:
    """``entry`` as a SearchResultEntry message (text as UTF-8, bytes as they are)."""
    return _entry_message(message_id, entry.dn.encode(), [
        (name.encode(), [v.encode() if isinstance(v, str) else v for v in values])
        for name, values in entry.attrs.items()
    ])


def _as_received(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A run of undecoded entries as the receive path decodes it without
    ``raw``: ldapfast's item, else ldap3's own."""
    out = []
    for message in item.get(ldapfast.RAW, ()):
        fast = ldapfast.decode_search_entry(message)
        if fast is not None:
            out.append(fast[1])
            continue
        decoded = search_result_entry_response_to_dict_fast(
            decode_message_fast(message)["payload"], None, None, False)
        out.append({**decoded, "type": "searchResEntry"})
    return out or [item]


def _decoded(script: list[Any]) -> list[Any]:
    """``script`` (ScriptedConnection's pages) as received without ``raw``."""
    return [page if isinstance(page, Exception) else
            ([x for item in page[0] for x in _as_received(item)], page[1]) for page in script]


def _raw(messages: list[bytes]) -> dict[str, Any]:
    return {"type": ldapfast.RAW, ldapfast.RAW: tuple(messages)}


DEMO = [e for e in read_ldif(ROOT / "mocks" / "demo" / "org.ldif", READ_ATTRIBUTES)
        if "objectclass" in e.attrs]


def _pages_of(entries: list[RawEntry], size: int) -> list[list[bytes]]:
    messages = [_message(3, e) for e in entries]
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def _script(pages_: list[list[Any]], last: Any = None) -> list[Any]:
    """Each page a run of undecoded entries (or the items given), a cookie
    after all but the last; ``last`` replaces the last page's result."""
    out: list[Any] = []
    for n, page in enumerate(pages_):
        items = [_raw(page)] if page and isinstance(page[0], bytes) else page
        final = n == len(pages_) - 1
        out.append((items, (last or _result()) if final else _result(cookie=b"c%d" % n)))
    return out


def _three_ways(script: list[Any], monkeypatch: pytest.MonkeyPatch,
                pids: Callable[[], set[int]]) -> tuple[Any, ...]:
    """read_table's outcome of ``script`` read as today (iterating, decoded
    on receipt), as chunks in one process and as chunks in two, each also
    keeping only the attributes classification reads: all the same."""
    def chunks(kept: frozenset[str] | None = None) -> PageChunks:
        conn = ScriptedConnection(script)
        return PageChunks(lambda: pages(conn, BASE, "(cn=*)", ["cn"], 50, raw=True), kept)

    today = _outcome(search(ScriptedConnection(_decoded(script)), BASE, "(cn=*)", ["cn"], 50))
    _one_process(monkeypatch)
    one = _outcome(chunks())
    one_kept = _outcome(chunks(CLASSIFY_ATTRIBUTES))
    _two_processes(monkeypatch)
    two = _outcome(chunks())
    two_kept = _outcome(chunks(CLASSIFY_ATTRIBUTES))
    assert one == today
    assert two == today
    assert one_kept == two_kept == today
    return today


# ---------------------------------------------------------------- scripted replies, both ways


@pytest.mark.parametrize("piece", [ldapread.PIECE, 3000])
def test_demo_pages_give_the_same_table_and_the_worker_decodes_some(monkeypatch, pids, piece):
    """(a small PIECE: each page cut into several chunks)"""
    monkeypatch.setattr(ldapread, "PIECE", piece)
    assert len(DEMO) > 300
    out = _three_ways(_script(_pages_of(DEMO, 20)), monkeypatch, pids)
    assert len(out[0]) > 100  # recipients classified
    assert len(pids() - {PARENT}) == 2, "a worker decoded no page (one each way)"


@pytest.mark.parametrize("bad", range(8))
def test_an_entry_refused_in_any_page_is_the_first_error_both_ways(monkeypatch, pids, bad):
    """A ranged attribute (ldap3 decodes it, entry() refuses it) in page
    ``bad``, and the connection dropped when the page after it is asked for:
    the refusal is the error, whichever process decoded its page."""
    monkeypatch.setattr(ldapread, "PIECE", 3000)  # pages cut in pieces too
    pages_ = _pages_of(DEMO[:160], 20)
    ranged = _entry_message(3, b"CN=R,DC=corp,DC=example", [(b"member;range=0-1499", [b"CN=B"])])
    pages_[bad].insert(5, ranged)
    script = [*_script(pages_)[: bad + 1], LDAPSessionTerminatedByServerError("terminated")]
    kind, text, _, code = _three_ways(script, monkeypatch, pids)
    assert kind is ConnectionFailure and code == 3 and "ranged retrieval" in text


@pytest.mark.parametrize("piece", [ldapread.PIECE, 3000])
@pytest.mark.parametrize("failure", ["dropped", "size limit", "no result", "referral", "reference",
                                     "no base"])
def test_a_read_failing_after_some_pages_fails_alike_both_ways(monkeypatch, pids, failure, piece):
    """The failures the paging loop sees (test_ldap_mock.py), met after six
    pages of 20: the same error and text, "after 120 entries (6 pages)"
    counted from the pages as today (whole pages, however they are cut)."""
    monkeypatch.setattr(ldapread, "PIECE", piece)
    pages_ = _pages_of(DEMO[:140], 20)
    child = {"type": "searchResRef", "uri": ["ldap://child.corp.example/DC=child,DC=corp,DC=example"]}
    script = _script(pages_[:6])
    script[-1] = (script[-1][0], _result(cookie=b"more"))
    last = {
        "dropped": LDAPSessionTerminatedByServerError("session terminated by server"),
        "size limit": ([_raw(pages_[6])], _result(4, description="sizeLimitExceeded")),
        "no result": ([_raw(pages_[6])], {}),
        "referral": ([], _result(10, description="referral", referrals=["ldap://dc2/DC=x"])),
        "reference": ([_raw(pages_[6][:3]), child, _raw(pages_[6][3:])], _result()),
        "no base": ([], _result(32, description="noSuchObject")),
    }[failure]
    out = _three_ways([*script, last], monkeypatch, pids)
    assert out[0] in (ConnectionFailure, InputError)
    if failure == "dropped":
        assert "search failed after 120 entries (6 pages)" in out[1]
    if failure == "size limit":
        assert "after 140 entries (7 pages)" in out[1]
    if failure == "reference":
        assert "child.corp.example" in out[1] and "after 123 entries (7 pages)" in out[1]
    if failure == "no base":  # entries were read: not "does not exist"
        assert out[0] is ConnectionFailure and "code 32" in out[1]
    assert len(pids() - {PARENT}) == 2, "a worker decoded no page (one each way)"


def test_a_page_with_anything_but_plain_entries_is_decoded_in_the_parent(monkeypatch, pids):
    """Ignored references (AD sends them with every whole-domain search) and
    entries decoded on receipt make a page that comes decoded already."""
    pages_ = _pages_of(DEMO[:100], 20)
    ignored = {"type": "searchResRef", "uri": ["ldap://x/DC=DomainDnsZones,DC=corp,DC=example"]}
    mixed = [_raw(pages_[2][:10]), ignored, *_as_received(_raw(pages_[2][10:]))]
    script = _script([pages_[0], pages_[1], mixed, pages_[3], pages_[4]])
    out = _three_ways(script, monkeypatch, pids)
    assert len(out[0]) > 30


# ---------------------------------------------------------------- the receive path with raw


@pytest.fixture
def strategy() -> Any:
    conn = ldap3.Connection(ldap3.Server("fast-path-test", get_info=ldap3.NONE),
                            client_strategy=ldap3.SYNC, check_names=False)  # as ldap.connect's
    return conn.strategy


@pytest.mark.parametrize("seed", range(3))
def test_raw_runs_decode_to_what_the_receive_path_decodes(strategy, seed):
    """Awkward messages (test_ldap_fastpath.py: long forms, options, controls,
    another message ID, not UTF-8), cut anywhere: kept undecoded where they
    may be, decoded later they are the entries decoded on receipt, in the
    same order among the items ldap3 decodes."""
    messages = [*_awkward_messages(seed, 200), _done(5)]
    done = messages.pop()
    messages.append(_entry_message(5, b"CN=" + b"x" * 200 + b",DC=corp", [(b"cn", [b"x"])]))
    for piece in (5, 1 << 20):
        serve(strategy, [*messages, done], piece)
        plain = ldapfast._fast_get_response(strategy, 5, None)
        serve(strategy, [*messages, done], piece)
        raw = ldapfast._fast_get_response(strategy, 5, None, True)
        assert raw[-2:] == plain[-2:]
        runs = [item for item in raw[:-2] if ldapfast.RAW in item]
        assert runs and sum(len(r[ldapfast.RAW]) for r in runs) > len(messages) // 2
        # a ranged attribute's entry stays ldap3's item (its auto-range reads the rest)
        assert not [m for r in runs for m in r[ldapfast.RAW] if b";range=" in m]
        assert [i for i in raw[:-2] if "proxyAddresses;range=0-*" in i.get("raw_attributes", ())]
        assert [x for item in raw[:-2] for x in _as_received(item)] == plain[:-2]
        entries, stop = ldapread._page_entries(raw[:-2])
        assert (entries, stop) == ldapread._page_entries(plain[:-2])


def test_entry_message_id_reads_the_envelope_decode_search_entry_reads(strategy):
    for message in _awkward_messages(9, 300):
        fast = ldapfast.decode_search_entry(message)
        if fast is not None:
            assert ldapfast.entry_message_id(message) == fast[0]
    assert ldapfast.entry_message_id(_done(5)) is None
    assert ldapfast.entry_message_id(b"\x30\x82") is None


def test_mock_sync_reads_as_before_when_asked_for_raw(monkeypatch, mock_conn):  # noqa: F811
    """ldap3's MOCK_SYNC is left alone (no hook, no raw items): the pages
    come decoded, as without ``raw``."""
    conn = mock_conn
    with ldapfast.fast_entries(conn, True) as raw:
        assert raw is False
    flt = recipient_filter(Dialect.AD, True)
    before = list(pages(conn, BASE, flt, AD_ATTRIBUTES, 3))
    chunks = list(pages(conn, BASE, flt, AD_ATTRIBUTES, 3, raw=True))
    assert chunks == before and all(isinstance(c, list) for c in chunks) and len(chunks) > 2
    _two_processes(monkeypatch)
    assert _outcome(PageChunks(lambda: pages(conn, BASE, flt, AD_ATTRIBUTES, 3, raw=True))) == \
        _outcome(search(conn, BASE, flt, AD_ATTRIBUTES, 3))


# ---------------------------------------------------------------- a real slapd


PEOPLE = 700


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parallel") / "org"
    orggen.generate(orggen.Settings(people=PEOPLE, seed=5), out)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, org: Path) -> Iterator[slapd.ServerInfo]:
    slapd.find_tool("slapd")  # fail, do not skip, without slapd
    with slapd.SlapdServer(tmp_path_factory.mktemp("slapd") / "srv", BASE, org / "org.ldif") as info:
        yield info


def _settings(info: slapd.ServerInfo, page: int = 37) -> LdapSettings:
    return LdapSettings(info.url, info.base_dn, info.bind_dn, info.password,
                        allow_unencrypted=True, page_size=page)


@pytest.mark.slapd
def test_slapd_read_gives_the_same_table_both_ways_and_as_the_iterating_read(server, monkeypatch,
                                                                             pids):
    flt = recipient_filter(Dialect.AD, True)
    today = _outcome(read_ldap(_settings(server), flt, AD_ATTRIBUTES))
    assert len(today[0]) > PEOPLE // 2
    _one_process(monkeypatch)
    assert _outcome(read_ldap_chunks(_settings(server), flt, AD_ATTRIBUTES)) == today
    assert pids() == {PARENT}
    _two_processes(monkeypatch)
    assert _outcome(read_ldap_chunks(_settings(server), flt, AD_ATTRIBUTES)) == today
    assert len(pids() - {PARENT}) == 1, "the worker decoded no page"
    # iterated (what a command that is not the audit would do): the same entries
    whole = list(read_ldap(_settings(server), flt, AD_ATTRIBUTES))
    assert list(read_ldap_chunks(_settings(server), flt, AD_ATTRIBUTES)) == whole
    # the audit's read keeps the attributes classification reads: the same table,
    # and each entry is the whole one with only those attributes
    kept = read_ldap_chunks(_settings(server), flt, AD_ATTRIBUTES, CLASSIFY_ATTRIBUTES)
    assert _outcome(kept) == today
    _one_process(monkeypatch)
    assert _outcome(kept) == today
    assert list(kept) == [RawEntry(e.dn, {n: v for n, v in e.attrs.items()
                                          if n in CLASSIFY_ATTRIBUTES}) for e in whole]
    assert any("cn" in e.attrs for e in whole)


def _audit_args(org: Path, info: slapd.ServerInfo, page: int = 37) -> list[str]:
    dirs = [a for p in sorted((org / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    return ["-v", "audit", "--ldap-url", info.url, "--base-dn", info.base_dn, "--bind-dn",
            info.bind_dn, "--allow-unencrypted", "--page-size", str(page), *dirs,
            "--exchange-po", "EXCH", "--mailbox-stats", str(org / "stats.csv")]


@pytest.mark.slapd
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_slapd_audit_is_byte_identical_both_ways(server, org, monkeypatch, pids, fmt):
    """The whole command, -v log lines included ("read N directory object(s)")."""
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", server.password)
    args = [*_audit_args(org, server), "--format", fmt]
    _one_process(monkeypatch)
    one = ccmig(*args)
    assert pids() == {PARENT}
    _two_processes(monkeypatch)
    two = ccmig(*args)
    assert len(pids() - {PARENT}) == 1, "the worker decoded no page"
    assert one == two
    assert one[0] == 1 and one[1].count("\n") > PEOPLE // 2
    assert re.search(r"read \d+ directory object\(s\) from LDAP server", one[2])


@pytest.mark.slapd
def test_slapd_read_stopped_by_an_error_takes_the_page_asked_for_off_the_line(server, monkeypatch):
    """An error in a page the worker decoded stops the read: the page asked
    for ahead is received and dropped, the connection can search again."""
    real = ldapread.raw_entries
    calls = [0]

    def failing(messages: Any, entries: Any = None, kept: Any = None) -> list[RawEntry]:
        calls[0] += 1  # (each process counts its own calls)
        if calls[0] == 3:
            raise ConnectionFailure("CN=x: refused")
        return real(messages, entries, kept)

    monkeypatch.setattr(ldapread, "raw_entries", failing)
    flt = recipient_filter(Dialect.AD, True)
    for two in (False, True):
        (_two_processes if two else _one_process)(monkeypatch)
        conn = connect(_settings(server))
        try:
            out = _outcome(PageChunks(lambda c=conn: pages(c, BASE, flt, AD_ATTRIBUTES, 37, raw=True)))
            assert out[:2] == (ConnectionFailure, "CN=x: refused")
            assert not conn.strategy._outstanding  # nothing left on the line
            assert conn.search(BASE, "(cn=*)", attributes=["cn"], paged_size=5)
            assert len(conn.response) == 5
        finally:
            conn.unbind()
        calls[0] = 0
    monkeypatch.setattr(ldapread, "raw_entries", real)
    conn = connect(_settings(server))
    try:  # iterated and closed after one entry (as told() closes a source): the same
        entries = iter(PageChunks(lambda: pages(conn, BASE, flt, AD_ATTRIBUTES, 37, raw=True)))
        assert next(entries).dn
        assert conn.strategy._outstanding  # the next page asked for ahead ...
        entries.close()  # type: ignore[attr-defined]
        assert not conn.strategy._outstanding  # ... taken off the line
    finally:
        conn.unbind()


# ---------------------------------------------------------------- faults, ccmig in its own process


_RUN = """
import os, sys
with open(os.environ["PIDS_FILE"], "a") as f:
    f.write(f"ccmig {os.getpid()}\\n")
from toolkit.exchange import ldapread
real = ldapread.raw_entries
def recording(messages, entries=None, kept=None):
    with open(os.environ["PIDS_FILE"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    return real(messages, entries, kept)
ldapread.raw_entries = recording
from toolkit.cli.main import main
sys.argv[0] = "ccmig"
main()
"""


@pytest.mark.slapd
def test_slapd_reset_mid_read_fails_alike_both_ways(server, org, tmp_path):
    """The connection reset inside a page (a fault proxy: threads, so ccmig
    runs in a process of its own): the same exit code and line, counting only
    whole pages, with and without the worker."""
    args = _audit_args(org, server, page=50)[1:]  # without -v
    env = {**os.environ, "CCMIG_LDAP_PASSWORD": server.password,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    port = int(server.url.rsplit(":", 1)[1])
    outcomes = []
    with FaultProxy(port) as proxy:
        run = [a if a != server.url else proxy.url for a in args]
        clean = subprocess.run([sys.executable, "-c", _RUN, *run], cwd=ROOT, capture_output=True,
                               env={**env, "PIDS_FILE": str(tmp_path / "p0")}, timeout=120)
        assert clean.returncode == 1, clean.stderr
        proxy.set_faults(reset_after=int(proxy.down_bytes * 0.6))
        for jobs in ("1", "2", "1", "2"):
            pid_file = tmp_path / f"pids{len(outcomes)}"
            done = subprocess.run([sys.executable, "-c", _RUN, *run], cwd=ROOT, capture_output=True,
                                  env={**env, "CCMIG_JOBS": jobs, "PIDS_FILE": str(pid_file)},
                                  timeout=120, text=True)
            ccmig_line, *decoders = pid_file.read_text().splitlines()
            outcomes.append((done.returncode, done.stdout, done.stderr))
            worker = set(decoders) - {ccmig_line.split()[1]}
            assert len(worker) == (jobs == "2"), (jobs, decoders)  # the worker decoded pages
    assert outcomes[0] == outcomes[1] == outcomes[2] == outcomes[3]
    code, out, err = outcomes[0]
    assert code == 3 and out == ""
    m = re.search(r"search failed after ([\d,]+) entries \((\d+) pages\): the connection was reset",
                  err)
    assert m and int(m[1].replace(",", "")) == int(m[2]) * 50, err


# ---------------------------------------------------------------- parallel.ordered_map


def _slow(n: int) -> tuple[int, int]:
    total = 0
    for i in range(20_000):
        total += i
    return n, os.getpid()


@pytest.mark.parametrize("stop", [1, 2, 3, 4, 7])
def test_an_error_the_chunks_raise_comes_after_every_earlier_result(monkeypatch, stop):
    """A reader failing after ``stop`` chunks (the worker may be computing the
    last of them): every earlier result first, then the error, as ``map``."""
    def chunks() -> Iterator[int]:
        yield from range(stop)
        raise ConnectionFailure("cut")

    for two in (False, True):
        (_two_processes if two else _one_process)(monkeypatch)
        seen = []
        with pytest.raises(ConnectionFailure, match=r"^cut$"):
            for n, pid in parallel.ordered_map(_slow, chunks()):
                seen.append((n, pid))
        assert [n for n, _ in seen] == list(range(stop))
        if two and stop > 1:
            assert {pid for _, pid in seen} - {PARENT}, "the worker computed no chunk"


# ---------------------------------------------------------------- the audit's wrappers keep it chunked


class _Tty:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_and_told_keep_a_chunked_source_chunked(monkeypatch):
    """On a terminal the progress line counts a chunked source's entries as
    its chunks are read (the same final count as counting its entries) and
    the source stays chunked for read_table; -v's count is the same too."""
    from toolkit import progress
    from toolkit.cli.inputs import told
    from toolkit.exchange.dialects import Chunked

    script = _script(_pages_of(DEMO[:90], 20))
    tty = _Tty()
    monkeypatch.setattr(progress.sys, "stderr", tty)
    monkeypatch.setattr(progress, "ENABLED", True)
    source = PageChunks(lambda: pages(ScriptedConnection(script), BASE, "(cn=*)", ["cn"], 20, raw=True))
    counted = progress.counting_chunks(source, "objects")
    assert isinstance(counted, Chunked)
    _two_processes(monkeypatch)
    assert _outcome(counted) == _outcome(search(ScriptedConnection(_decoded(script)), BASE, "(cn=*)",
                                                ["cn"], 20))
    assert tty.text.endswith("\robjects: 90\n")
    logged: list[str] = []
    monkeypatch.setattr("logging.Logger.info", lambda self, msg, *a: logged.append(msg % a))
    read = told(lambda all_mailboxes: PageChunks(
        lambda: pages(ScriptedConnection(script), BASE, "(cn=*)", ["cn"], 20, raw=True)), "here")
    entries = read(True)
    assert isinstance(entries, Chunked)
    assert len(list(entries)) == 90
    assert logged == ["read 90 directory object(s) from here"]


def test_a_page_over_piece_octets_is_cut_into_runs_in_order():
    page = tuple(bytes([n]) * 100 for n in range(25))  # 2,500 octets
    closed = []

    def read() -> Iterator[Any]:
        try:
            yield [RawEntry("CN=x", {})]
            yield page
        finally:
            closed.append(True)

    old, ldapread.PIECE = ldapread.PIECE, 1000
    try:
        chunks = list(ldapread._pieces(read()))  # type: ignore[arg-type]
        assert [len(c) for c in chunks] == [1, 9, 9, 7]  # 3 runs of at most 9 messages
        assert sum(chunks[1:], ()) == page
        it = ldapread._pieces(read())  # type: ignore[arg-type]
        next(it)
        it.close()
        assert closed == [True, True]  # closing the pieces closes the pages
    finally:
        ldapread.PIECE = old
