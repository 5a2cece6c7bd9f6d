"""LDAP fault injection (issue 7): a real slapd killed, restarted, slowed, stalled, reset.

Every fault is placed deterministically: the proxy in front of slapd
(:mod:`toolkit.mocks.faultproxy`) acts when the client sends its n-th search request
(the client asks for page n only after page n-1 has fully arrived), or after
an exact number of server bytes - never after a sleep. What each test proves:

* a run that cannot read the whole directory exits 3 with one line saying
  how far it got, writes no report (an ``-o`` file keeps its old content) and
  never re-runs a search; after a restart a new run gives the same report as
  a run that never saw a fault;
* ``--retries`` re-tries connecting only, with exponential backoff;
* ``--timeout`` bounds a connect that hangs, a server that never answers and a
  reply that stalls half-way; a slow but working link still gives the
  complete, correct result;
* no message carries the password.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from toolkit.mocks import orggen
from toolkit.mocks.faultproxy import FaultProxy, SynBlackhole, blackhole_port, ldap_operation
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import ccmig
from toolkit.cli import inputs as cli_inputs
from toolkit.errors import InputError
from toolkit.exchange import ldap as ldapmod

pytestmark = pytest.mark.slapd

ROOT = Path(__file__).resolve().parent.parent
BASE = "DC=corp,DC=example"
PEOPLE = 3000
PAGE = 500
ERROR_LINE = re.compile(r"^ccmig: error: [^\n]+$")


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def org(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "org"
    orggen.generate(orggen.Settings(people=PEOPLE, seed=11), out)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory, org) -> Iterator[slapd.ServerInfo]:
    """A slapd the tests may slow down or cut off through a proxy, never kill."""
    slapd.find_tool("slapd")  # fail, do not skip, without slapd
    with slapd.SlapdServer(tmp_path_factory.mktemp("slapd") / "srv", BASE, org / "org.ldif") as info:
        yield info


@pytest.fixture(scope="module")
def reference(org, server) -> str:
    """The report of a run that met no fault (JSON text)."""
    env = {"CCMIG_LDAP_PASSWORD": server.password}
    code, out, err = _run_inprocess(env, "audit", *_ldap_args(server.url, server), *_audit_args(org))
    assert code == 1, err  # the generated organisation has findings
    rows = json.loads(out)
    assert len(rows) > PEOPLE  # cc:Mail-only users make rows too
    return out


@pytest.fixture
def password_env(monkeypatch, server):
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", server.password)


def _run_inprocess(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return ccmig(*args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _ldap_args(url: str, info: slapd.ServerInfo, *, page: int = PAGE, timeout: float = 2) -> list[str]:
    return ["--ldap-url", url, "--base-dn", info.base_dn, "--bind-dn", info.bind_dn,
            "--allow-unencrypted", "--page-size", str(page), "--timeout", str(timeout)]


def _audit_args(org: Path) -> list[str]:
    dirs = [a for p in sorted((org / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    # --mailbox-stats makes the audit read every mailbox too: 6 pages of 500.
    return [*dirs, "--exchange-po", "EXCH", "--mailbox-stats", str(org / "stats.csv"), "--format", "json"]


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert ERROR_LINE.match(lines[0]), err
    return lines[0]


def _no_secret(info: slapd.ServerInfo, *texts: str) -> None:
    for text in texts:
        assert info.password not in text


def _kill_on_search(number: int, pid: int, killed: list[int]):
    """on_request hook: SIGKILL slapd when the client sends search request ``number``."""
    searches = 0

    def hook(n: int, message: bytes) -> None:
        nonlocal searches
        if ldap_operation(message) != "searchRequest":
            return
        searches += 1
        if searches == number:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while slapd._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            killed.append(pid)

    return hook


def _restart(info: slapd.ServerInfo) -> int:
    """Start slapd again on the same data, configuration and port; its PID."""
    directory = info.directory
    with (directory / "slapd.log").open("ab") as log:
        proc = subprocess.Popen(
            [slapd.find_tool("slapd"), "-F", str(directory / "slapd.d"), "-h", info.url + "/", "-d", "0"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=slapd._die_with_parent,
        )  # fmt: skip
    (directory / "run" / "ccmig-slapd.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 15
    while not slapd._answers("127.0.0.1", _port(info.url)):
        assert proc.poll() is None, (directory / "slapd.log").read_text(errors="replace")[-500:]
        assert time.monotonic() < deadline, "restarted slapd does not answer"
        time.sleep(0.05)
    return proc.pid


def _ccmig_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The real console program in its own process (as an admin or a script runs it)."""
    full = {**os.environ, **env, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    return subprocess.run([sys.executable, "-m", "toolkit", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


# ---------------------------------------------------------------- 1. server killed mid-search


def test_slapd_killed_mid_search_writes_nothing_and_a_restart_recovers(tmp_path, org, reference):
    """SIGKILL slapd while the paged search runs: exit 3, 'after N entries (P pages)',
    no report; restart on the same data: the next run's report equals a clean run's."""
    outdir = tmp_path / "out"
    outdir.mkdir()
    report = outdir / "audit.json"
    with slapd.SlapdServer(tmp_path / "srv", BASE, org / "org.ldif") as info:
        env = {"CCMIG_LDAP_PASSWORD": info.password}
        killed: list[int] = []
        with FaultProxy(_port(info.url), on_request=_kill_on_search(3, info.pid, killed)) as proxy:
            args = ["audit", *_ldap_args(proxy.url, info), *_audit_args(org), "-o", str(report)]
            # Killed when the client asks for page 3: pages 1 and 2 had arrived.
            done = _ccmig_process(env, *args)
            assert killed == [info.pid]
            assert done.returncode == 3, done.stderr
            line = _one_error_line(done.stderr)
            assert re.search(r"search failed after 1,000 entries \(2 pages\): (the server closed the "
                             r"connection|the connection was reset); the read is incomplete", line), line
            assert done.stdout == ""
            assert not report.exists()  # no report, not even a partial one
            assert sorted(outdir.iterdir()) == []  # and no temporary file left behind
            _no_secret(info, done.stdout, done.stderr)

            # Restart on the same data; an old report must survive a second kill (after page 1).
            pid = _restart(info)
            report.write_text("previous report\n")
            proxy.set_faults(on_request=_kill_on_search(2, pid, killed))
            done = _ccmig_process(env, *args)
            assert killed == [info.pid, pid]
            assert done.returncode == 3, done.stderr
            assert "search failed after 500 entries (1 page):" in _one_error_line(done.stderr)
            assert report.read_text() == "previous report\n"
            assert sorted(outdir.iterdir()) == [report]

            # Restart again: a run without faults is complete and exactly a clean run's report.
            _restart(info)
            proxy.set_faults()
            done = _ccmig_process(env, *args)
            assert done.returncode == 1, done.stderr  # findings: exit 1 as normal
            assert done.stderr == ""
            assert report.read_text() == reference
            # 3 + 2 requests (the last of each met a dead server) + 6 pages; never a re-run.
            assert [op for _, op in proxy.requests].count("searchRequest") == 3 + 2 + 6
            _no_secret(info, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def wire(org, server, reference) -> int:
    """Bytes slapd sends for a whole clean run (through a proxy without faults)."""
    env = {"CCMIG_LDAP_PASSWORD": server.password}
    with FaultProxy(_port(server.url)) as probe:
        code, out, err = _run_inprocess(env, "audit", *_ldap_args(probe.url, server), *_audit_args(org))
    assert code == 1 and out == reference, err
    assert probe.down_bytes > 100_000
    return probe.down_bytes


def test_connection_reset_mid_page_counts_only_whole_pages(org, server, wire, password_env):
    """Cut the reply inside a page (a byte count, not a request): what was read of
    that page is neither counted nor reported."""
    for fault in ("reset_after", "close_after"):
        with FaultProxy(_port(server.url), **{fault: int(wire * 0.55)}) as proxy:
            code, out, err = ccmig("audit", *_ldap_args(proxy.url, server), *_audit_args(org))
        assert code == 3 and out == ""
        line = _one_error_line(err)
        m = re.search(r"search failed after ([\d,]+) entries \((\d+) pages?\): (.*); the read", line)
        assert m, line
        entries, pages = int(m[1].replace(",", "")), int(m[2])
        assert 0 < pages < 6 and entries == pages * PAGE
        reason = "the connection was reset" if fault == "reset_after" else "the server closed the connection"
        assert m[3] == reason
        _no_secret(server, out, err)


# ---------------------------------------------------------------- 2. --retries


def _anonymous_args(url: str, *, page: int = PAGE, timeout: float = 2) -> list[str]:
    return ["--ldap-url", url, "--base-dn", BASE, "--page-size", str(page), "--timeout", str(timeout)]


def test_retries_wait_for_a_server_that_starts_during_the_backoff(tmp_path, org, reference, monkeypatch):
    """Nothing listens at first: exit 3 without --retries. With --retries 3 the server
    is started during the first backoff (1 s, really slept) and the run succeeds.
    (Anonymous reads: the server's service password does not exist before it does.)"""
    port = slapd.free_port()
    url = f"ldap://127.0.0.1:{port}"
    report = tmp_path / "audit.json"
    code, out, err = ccmig("audit", *_anonymous_args(url), *_audit_args(org), "-o", str(report))
    assert code == 3 and out == ""
    line = _one_error_line(err)
    assert f"{url}: connect failed: connection refused" in line and "attempts" not in line
    assert not report.exists()

    started: list[slapd.ServerInfo] = []
    delays: list[float] = []

    def backoff(seconds: float) -> None:
        delays.append(seconds)
        if not started:
            started.append(slapd.start(tmp_path / "srv", port, BASE, org / "org.ldif", anonymous_read=True))
        time.sleep(seconds)

    monkeypatch.setattr(ldapmod, "_sleep", backoff)
    try:
        t0 = time.monotonic()
        code, out, err = ccmig("audit", *_anonymous_args(url), *_audit_args(org), "-o", str(report),
                               "--retries", "3")  # fmt: skip
        elapsed = time.monotonic() - t0
    finally:
        for info in started:
            slapd.stop(info.directory)
    assert delays == [1.0] and len(started) == 1
    assert code == 1, err
    assert elapsed >= 1.0
    assert report.read_text() == reference
    (warning,) = err.strip().splitlines()  # the retry is announced; nothing else is said
    assert warning.endswith(f"{url}: connect failed: connection refused (is the server running, is the "
                            "port right?); retry 1 of 3 in 1 s")


def test_retries_back_off_exponentially_then_give_up(tmp_path, org, monkeypatch):
    url = f"ldap://127.0.0.1:{slapd.free_port()}"
    delays: list[float] = []
    monkeypatch.setattr(ldapmod, "_sleep", delays.append)
    code, out, err = ccmig("audit", *_anonymous_args(url), *_audit_args(org), "--retries", "4")
    assert code == 3 and out == ""
    assert delays == [1.0, 2.0, 4.0, 8.0]
    *warnings, last = err.strip().splitlines()
    assert len(warnings) == 4 and "Traceback" not in err
    assert ERROR_LINE.match(last)
    assert "connect failed: connection refused" in last and "gave up after 5 attempts" in last
    assert [ldapmod.retry_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_retries_come_from_the_profile(tmp_path, org, monkeypatch):
    url = f"ldap://127.0.0.1:{slapd.free_port()}"
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.lab]\nldap-url = "{url}"\nbase-dn = "{BASE}"\nretries = 2\n'
                      'timeout = 2\n')  # fmt: skip
    delays: list[float] = []
    monkeypatch.setattr(ldapmod, "_sleep", delays.append)
    code, _, err = ccmig("--config", str(config), "--profile", "lab", "audit", *_audit_args(org))
    assert code == 3 and delays == [1.0, 2.0], err
    assert "gave up after 3 attempts" in err
    delays.clear()
    code, _, err = ccmig("--config", str(config), "--profile", "lab", "audit", *_audit_args(org),
                         "--retries", "0")  # the command line wins
    assert code == 3 and delays == [], err


def test_retries_out_of_range_is_a_usage_error(org):
    code, out, err = ccmig("audit", *_anonymous_args("ldap://127.0.0.1:1"), *_audit_args(org),
                           "--retries", "11")  # fmt: skip
    assert code == 2 and out == "" and "--retries" in _one_error_line(err)
    assert cli_inputs.MAX_RETRIES == ldapmod.MAX_RETRIES
    with pytest.raises(InputError, match="retries"):
        ldapmod.connect(ldapmod.LdapSettings("ldap://127.0.0.1:1", BASE, retries=-1))


def test_a_server_answering_unavailable_to_the_bind_is_retried(org, monkeypatch):
    """A directory still starting answers binds with 'unavailable' (52): that is
    retried like a refused connect. (A tiny raw-BER server: slapd cannot be made to.)"""
    listener, port = blackhole_port()
    answered: list[int] = []

    stop = threading.Event()
    listener.settimeout(0.05)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            with conn:
                request = conn.recv(4096)
                if not request:
                    continue
                assert ldap_operation(request) == "bindRequest"
                # messageID: an INTEGER of 1 or 2 octets (ldap3 numbers messages
                # process-wide, so after other tests it is past 127)
                assert request[2] == 0x02 and request[3] in (1, 2)
                message_id = request[2 : 4 + request[3]]
                # BindResponse, same messageID, resultCode unavailable (52), no DN, no message
                body = message_id + bytes.fromhex("61070a013404000400")
                conn.sendall(bytes([0x30, len(body)]) + body)
                answered.append(52)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    delays: list[float] = []
    monkeypatch.setattr(ldapmod, "_sleep", delays.append)
    try:
        code, out, err = ccmig("audit", *_anonymous_args(f"ldap://127.0.0.1:{port}"), *_audit_args(org),
                               "--retries", "2")  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
    assert code == 3 and out == ""
    assert answered == [52, 52, 52] and delays == [1.0, 2.0]
    last = err.strip().splitlines()[-1]
    assert "bind as anonymous failed: unavailable" in last and "gave up after 3 attempts" in last


def test_a_refused_bind_and_a_tls_failure_are_not_retried(org, server, monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(ldapmod, "_sleep", delays.append)
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", "Wrong-" + server.password[::-1])
    code, out, err = ccmig("audit", *_ldap_args(server.url, server), *_audit_args(org), "--retries", "3")
    assert code == 3 and "invalidCredentials" in _one_error_line(err)
    _no_secret(server, out, err)
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", server.password)
    code, out, err = ccmig("audit", *_ldap_args(server.url, server), *_audit_args(org), "--retries", "3",
                           "--starttls")  # this server has no TLS  # fmt: skip
    assert code == 3 and "TLS failed" in _one_error_line(err)
    assert delays == []


def test_a_search_that_started_is_never_retried(org, server, password_env, monkeypatch):
    """The connection closes when page 2 is asked for: one connection, no second search."""
    delays: list[float] = []
    monkeypatch.setattr(ldapmod, "_sleep", delays.append)
    searches = []

    def close_on_page_2(n: int, message: bytes) -> str | None:
        if ldap_operation(message) == "searchRequest":
            searches.append(n)
            if len(searches) == 2:
                return "close"
        return None

    with FaultProxy(_port(server.url), on_request=close_on_page_2) as proxy:
        code, out, err = ccmig("audit", *_ldap_args(proxy.url, server), *_audit_args(org),
                               "--retries", "3")  # fmt: skip
    assert code == 3 and out == ""
    line = _one_error_line(err)
    assert "search failed after 500 entries (1 page): the server closed the connection" in line
    assert delays == [] and proxy.connections == 1 and len(searches) == 2


# ---------------------------------------------------------------- 3. timeouts, slow and stalled servers


def test_connect_that_hangs_is_bounded_by_the_timeout(org):
    """The TCP connect itself never completes (SYNs dropped, as behind a firewall)."""
    hole = SynBlackhole()
    try:
        assert hole.connect_times_out(), "the kernel answered: this test would not test a hanging connect"
        url = f"ldap://127.0.0.1:{hole.port}"
        t0 = time.monotonic()
        code, out, err = ccmig("audit", *_anonymous_args(url, timeout=2), *_audit_args(org))
        elapsed = time.monotonic() - t0
    finally:
        hole.close()
    assert code == 3 and out == ""
    assert 1.5 <= elapsed < 15
    line = _one_error_line(err)
    assert f"{url}: connect failed: timed out: no reply from the server within 2 s (--timeout)" in line


def test_server_that_accepts_but_never_answers_is_bounded(org, server):
    """TCP connects; the bind is never answered. Checked in a real process."""
    listener, port = blackhole_port()
    try:
        url = f"ldap://127.0.0.1:{port}"
        t0 = time.monotonic()
        done = _ccmig_process({"CCMIG_LDAP_PASSWORD": server.password}, "audit",
                              *_ldap_args(url, server, timeout=2), *_audit_args(org))  # fmt: skip
        elapsed = time.monotonic() - t0
    finally:
        listener.close()
    assert done.returncode == 3 and done.stdout == ""
    assert 1.5 <= elapsed < 15
    line = _one_error_line(done.stderr)
    assert f"{url}: bind failed: timed out: no reply from the server within 2 s (--timeout)" in line
    _no_secret(server, done.stdout, done.stderr)


def test_reply_that_stalls_after_page_2_is_bounded_and_says_how_far(org, server, password_env):
    searches = []

    def stall_on_page_3(n: int, message: bytes) -> str | None:
        if ldap_operation(message) == "searchRequest":
            searches.append(n)
            if len(searches) == 3:
                return "stall"
        return None

    with FaultProxy(_port(server.url), on_request=stall_on_page_3) as proxy:
        t0 = time.monotonic()
        code, out, err = ccmig("audit", *_ldap_args(proxy.url, server, timeout=2), *_audit_args(org))
        elapsed = time.monotonic() - t0
    assert code == 3 and out == ""
    assert 1.5 <= elapsed < 15
    line = _one_error_line(err)
    assert ("search failed after 1,000 entries (2 pages): timed out: no reply from the server "
            "within 2 s (--timeout); the read is incomplete") in line
    _no_secret(server, out, err)


def test_reply_that_stalls_inside_a_page_is_bounded(org, server, wire, password_env):
    with FaultProxy(_port(server.url), stall_after=int(wire * 0.7)) as proxy:
        t0 = time.monotonic()
        code, out, err = ccmig("audit", *_ldap_args(proxy.url, server, timeout=2), *_audit_args(org))
        elapsed = time.monotonic() - t0
        assert proxy.down_bytes == int(wire * 0.7)
    assert code == 3 and out == ""
    assert 1.5 <= elapsed < 15
    m = re.search(r"search failed after ([\d,]+) entries \((\d+) pages?\): timed out", _one_error_line(err))
    assert m and 0 < int(m[2]) < 6 and int(m[1].replace(",", "")) == int(m[2]) * PAGE


def test_slow_link_gives_the_complete_result(org, server, reference, password_env):
    """Every chunk, both ways, 20 ms late: slower, but complete and identical."""
    with FaultProxy(_port(server.url), delay=0.02) as proxy:
        t0 = time.monotonic()
        code, out, err = ccmig("audit", *_ldap_args(proxy.url, server, timeout=2), *_audit_args(org))
        elapsed = time.monotonic() - t0
    assert code == 1, err
    assert err == ""
    assert out == reference
    assert proxy.down_chunks >= 8 and elapsed >= proxy.down_chunks * 0.02  # the delay was really there
    assert [op for _, op in proxy.requests].count("searchRequest") == 6
