"""The audit's start-up does less in the parent, with the same outcome.

- ``$PYTHON_KEYRING_BACKEND`` naming keyring's fail or null backend: ccmig
  does not import keyring to learn there is no keyring, and the lookup order
  (keyring, environment, prompt) is unchanged (:func:`toolkit.credentials._keyring`);
- a forked worker reads the ``--mailbox-stats`` file and the last cc:Mail
  exports while the parent reads the first ones
  (:func:`toolkit.cli.prefetch.prefetched`): the same directory and lines,
  the same first error, the worker reaped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.orgkit import ccmig
from toolkit import stats as stats_module
from toolkit.ccmail.directory import Directory
from toolkit.cli import prefetch
from toolkit.credentials import get_secret
from toolkit.errors import InputError
from toolkit.parallel import jobs
from toolkit.stats import StatsMatcher

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mocks" / "demo"
NO_KEYRING = ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"]


def _python(code: str, env: dict[str, str], tmp_path: Path) -> str:
    """``code``'s output in a fresh interpreter (nothing imported yet)."""
    full = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    full.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
                XDG_DATA_HOME=str(tmp_path / "data"), CCMIG_LDAP_PASSWORD="from-env", **env)
    done = subprocess.run([sys.executable, "-c", code], env=full, cwd=ROOT, text=True,
                          capture_output=True, timeout=120, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize("backend", NO_KEYRING)
def test_no_keyring_named_in_the_environment_is_not_imported(tmp_path, backend):
    """The secret comes from the environment, keyring unimported; and
    keyring itself, imported afterwards, loads exactly that backend (the
    answer the shortcut gives without asking it)."""
    code = ("import sys\n"
            "from toolkit.credentials import _keyring, get_secret\n"
            "print(get_secret('default', 'ldap'), _keyring(), 'keyring' in sys.modules)\n"
            "import keyring\n"
            "from keyring.backends import fail, null\n"
            "print(isinstance(keyring.get_keyring(), fail.Keyring | null.Keyring))\n")
    assert _python(code, {"PYTHON_KEYRING_BACKEND": backend}, tmp_path).splitlines() == [
        "from-env None False", "True"]


def test_any_other_keyring_is_still_asked_first(tmp_path):
    """Without the variable (or naming another backend) keyring is imported
    and asked before the environment, as before."""
    code = ("import sys\n"
            "from toolkit.credentials import get_secret\n"
            "print(get_secret('default', 'ldap'), 'keyring' in sys.modules)\n")
    assert _python(code, {}, tmp_path) == "from-env True"
    plaintext = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    assert _python(code, plaintext, tmp_path) == "from-env True"


@pytest.mark.parametrize("backend", NO_KEYRING)
def test_a_keyring_set_in_this_process_wins_over_the_variable(isolated, monkeypatch, backend):
    """Code that imported keyring may have set another backend: then the
    variable says nothing, and the keyring's secret comes first."""
    isolated.set_password("ccmig", "default:ldap", "from-keyring")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", "from-env")
    assert get_secret("default", "ldap") == "from-keyring"


def _matcher(matcher: StatsMatcher) -> tuple:
    error = matcher.error
    return (list(matcher.line_numbers), list(matcher.counts), matcher.identities, list(matcher.keys),
            list(matcher.wanted.items()), matcher.dn_named, matcher.smtp_named,
            (type(error), str(error), getattr(error, "where", None)) if error else None)


def _directory(directory: Directory) -> list[tuple]:
    return [(f.path, f.po, f.encoding, f.newline, list(f.spans), list(f.entries))
            for f in directory.files]


def _children() -> set[str]:
    """This process's child processes (every thread's)."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    return {pid for task in tasks.iterdir()
            for pid in (task / "children").read_text().split()}


STATS = {
    "good": (DEMO / "stats.csv").read_text(encoding="utf-8")
    + '"CN=Dup\\, A,DC=x",3\n" cn=dup\\, a,dc=x ",4\nStra\xdfe,5\nSTRASSE,6\n\n,\n',
    "bad count": "identity,item_count\njsmith,4\nbob,four\n",
    "bad header": "who,what\n",
    "bad csv": 'identity,item_count\n"a,1\n',
    "missing": None,
}
EXPORTS = sorted(str(p) for p in (DEMO / "ccmail").glob("*.txt"))
BAD_EXPORT = "Post office: PO9\n\nName: X\nLocn: Q\n"  # line 4: a bad Locn


def _everything_ahead(monkeypatch) -> None:
    """The cost model made to give the worker every export but the first."""
    for cost in ("CCMAIL_S_PER_BYTE", "UNPICKLE_S_PER_BYTE", "STATS_S_PER_BYTE"):
        monkeypatch.setattr(prefetch, cost, 0.0)  # the worker's estimate never exceeds


def _lines(ahead: prefetch.Prefetch) -> stats_module.Lines | None:
    """The stats lines the worker read, as ``run_audit`` asks for them."""
    return ahead.stats_lines() if ahead.stats_lines is not None else None


def _read(args: list[str], stats: Path | None, ldap: bool) -> tuple:
    """The directory (or its error) and the stats matcher of one start-up."""
    with prefetch.prefetched(args, None, stats, ldap) as ahead:
        try:
            got: object = _directory(ahead.directory())
        except InputError as exc:
            got = str(exc)
        return got, _matcher(StatsMatcher(stats, _lines(ahead))) if stats is not None else None


@pytest.mark.parametrize("kind", list(STATS))
@pytest.mark.parametrize("bad", [None, 0, 2, 3])
def test_the_worker_reads_the_same_directory_and_lines_or_errors(tmp_path, monkeypatch,
                                                                 kind, bad):
    """With the worker reading the stats file and the last exports, the
    directory and the matcher are what one process reads, or the same
    first error; the parent reads no export the worker read well, and no
    worker is left."""
    assert threading.active_count() == 1 and jobs() == 2
    stats = tmp_path / "stats.csv"
    if STATS[kind] is not None:
        stats.write_text(STATS[kind], encoding="utf-8")
    args = list(EXPORTS)
    if bad is not None:
        wrong = tmp_path / "PO9.txt"
        wrong.write_text(BAD_EXPORT, encoding="utf-8")
        args.insert(bad, str(wrong))
    with monkeypatch.context() as m:
        m.setenv("CCMIG_JOBS", "1")
        alone = _read(args, stats, False)
    _everything_ahead(monkeypatch)
    assert prefetch._tail(args, stats, False) == len(args) - 1
    before = _children()
    read: list[str] = []
    reader = prefetch.read_directory_file

    def parent_reads(arg, encoding):
        read.append(arg)
        return reader(arg, encoding)

    with prefetch.prefetched(args, None, stats, True) as ahead:
        assert len(_children()) == len(before) + 1
        monkeypatch.setattr(prefetch, "read_directory_file", parent_reads)  # the worker has its own
        iter_stats = stats_module.iter_stats
        monkeypatch.setattr(stats_module, "iter_stats",
                            lambda p: read.append(str(p)) or iter_stats(p))
        try:
            got: object = _directory(ahead.directory())
        except InputError as exc:
            got = str(exc)
        assert (got, _matcher(StatsMatcher(stats, _lines(ahead)))) == alone
    assert _children() == before
    assert ahead.stats_lines is not None and ahead.stats_lines() is None  # handed out once
    wanted = [args[0]] if bad in (None, 0) else [args[0], args[bad]]  # read again: its error
    if kind != "good":
        wanted.append(str(stats))
    assert read == wanted
    if bad is not None:
        assert got == f"{tmp_path / 'PO9.txt'}:4: 'Locn' must be one of P p L l R r A a, found 'Q'"
    assert (alone[1][-1] is None) == (kind == "good")


def test_a_worker_nobody_asks_is_waited_for_and_reaped(monkeypatch):
    _everything_ahead(monkeypatch)
    before = _children()
    with pytest.raises(KeyError), prefetch.prefetched(EXPORTS, None, DEMO / "stats.csv", False):
        assert len(_children()) == len(before) + 1
        raise KeyError("an error before anything is read")
    assert _children() == before


def test_one_process_or_nothing_to_share_forks_nothing(monkeypatch):
    before = _children()
    with prefetch.prefetched(EXPORTS[:1], None, None, True) as ahead:
        assert _children() == before  # one export, no stats file: nothing for a worker
        assert len(ahead.directory().files) == 1 and ahead.stats_lines is None
    monkeypatch.setenv("CCMIG_JOBS", "1")
    with prefetch.prefetched(EXPORTS, None, DEMO / "stats.csv", True) as ahead:
        assert _children() == before and ahead.stats_lines is None  # the matcher reads it
        assert len(ahead.directory().files) == len(EXPORTS)


def test_the_audit_takes_the_lines_read_ahead_and_reads_no_stats_file(monkeypatch):
    """``AuditInputs.stats_lines`` reaches the matcher: with the lines given,
    the audit reads no stats file and applies the same counts as one that
    reads it; without them (or None from them) it reads the file."""
    from toolkit.audit import AuditInputs, file_directory, ldif_source, run_audit

    stats = DEMO / "stats.csv"
    lines = stats_module.stats_lines(stats)
    assert lines is not None

    def audit(stats_lines) -> list:
        inputs = AuditInputs(source=ldif_source(DEMO / "org.ldif"),
                             directory=file_directory(EXPORTS), exchange_pos=["EXCH"],
                             mailbox_stats=stats, stats_lines=stats_lines)
        result = run_audit(inputs)
        return [result.recipients.item_count(i) for i in range(len(result.recipients))]

    read = []
    iter_stats = stats_module.iter_stats
    monkeypatch.setattr(stats_module, "iter_stats", lambda p: read.append(p) or iter_stats(p))
    assert audit(lambda: lines) == audit(None) == audit(lambda: None)
    assert read == [stats, stats]  # by the two audits given no lines
    assert any(c is not None for c in audit(None))


def test_the_split_keeps_the_worker_less_busy_than_the_parent(tmp_path):
    """The worker takes the last exports while its estimate stays within
    MARGIN of the parent's; never the first; more while the parent imports
    the LDAP client."""
    files = []
    for n, size in enumerate([5_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000]):
        files.append(tmp_path / f"PO{n}.txt")
        files[-1].write_bytes(b"x" * size)
    stats = tmp_path / "stats.csv"
    stats.write_bytes(b"x" * 2_000_000)
    args = [str(f) for f in files]
    assert prefetch._tail(args, None, False) == 3
    assert prefetch._tail(args, stats, False) == 1
    assert prefetch._tail(args, stats, True) == 2
    assert prefetch._tail(args[:1], stats, True) == 0
    assert prefetch._tail([f"PO0={args[0]}", *args[1:]], stats, True) == 2  # PO=FILE: its size
    assert prefetch._tail([*args, str(tmp_path / "missing.txt")], None, False) == 4


def test_an_audit_with_bad_inputs_says_the_same_first_error_with_the_worker(tmp_path,
                                                                          monkeypatch):
    """A bad stats file reports after the directory read, a bad cc:Mail
    export before it: both bad, the cc:Mail error, as with one process;
    the same whichever process reads the bad export."""
    _everything_ahead(monkeypatch)
    bad_stats = tmp_path / "stats.csv"
    bad_stats.write_text(STATS["bad count"], encoding="utf-8")
    bad_po = tmp_path / "PO9.txt"
    bad_po.write_text(BAD_EXPORT, encoding="utf-8")
    exports = [a for p in EXPORTS for a in ("--ccmail-dir", p)]
    base = ["audit", "--ldif", str(DEMO / "org.ldif"), "--exchange-po", "EXCH", "-v",
            "--format", "json"]
    runs = {
        "good": [*base, *exports, "--mailbox-stats", str(DEMO / "stats.csv")],
        "stats": [*base, *exports, "--mailbox-stats", str(bad_stats)],
        "both": [*base, *exports, "--ccmail-dir", str(bad_po), "--mailbox-stats", str(bad_stats)],
        "first": [*base, "--ccmail-dir", str(bad_po), *exports],
    }
    seen = {}
    for name, args in runs.items():
        monkeypatch.setenv("CCMIG_JOBS", "1")
        seen[name] = ccmig(*args)
        monkeypatch.delenv("CCMIG_JOBS")
        assert ccmig(*args) == seen[name], name
    assert seen["good"][0] in (0, 1) and "mailbox stats: " in seen["good"][2]
    assert seen["stats"][0] == 2 and f"{bad_stats}:3: item_count" in seen["stats"][2]
    assert "directory object(s) from" in seen["stats"][2]  # after the read
    for name in ("both", "first"):
        assert seen[name][0] == 2 and f"{bad_po}:4: 'Locn'" in seen[name][2]
        assert "item_count" not in seen[name][2] and "cc:Mail entr" not in seen[name][2]


def test_each_part_of_the_workers_result_is_handed_out_once():
    """What the worker read is not kept once taken: the matcher frees the
    stats lines after applying them, and nothing here may hold them on."""
    waited = []
    parts = prefetch._Parts(lambda: waited.append(1) or (["files"], ["lines"]), 2)
    assert parts.take(1) == ["lines"] and parts.take(1) is None
    assert parts.take(0) == ["files"] and parts._parts == [None, None] and waited == [1]
    failed = prefetch._Parts(lambda: 1 / 0, 2)
    failed.wait()
    assert failed.take(0) is None and failed.take(1) is None
