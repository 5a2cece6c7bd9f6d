"""The audit's start-up does less in the parent, with the same outcome.

- ``$PYTHON_KEYRING_BACKEND`` naming keyring's fail or null backend: ccmig
  does not import keyring to learn there is no keyring, and the lookup order
  (keyring, environment, prompt) is unchanged (:func:`toolkit.credentials._keyring`);
- the ``--mailbox-stats`` file is parsed by a forked worker while the parent
  parses the cc:Mail exports (:func:`toolkit.stats.prefetched`): the same
  lines, the same error at the same turn, the worker reaped.
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
from toolkit.credentials import get_secret
from toolkit.parallel import jobs
from toolkit.stats import StatsMatcher, prefetched

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


def _state(matcher: StatsMatcher) -> tuple:
    error = matcher.error
    return (list(matcher.line_numbers), list(matcher.counts), matcher.identities, matcher.keys,
            list(matcher.wanted.items()), matcher.dn_named, matcher.smtp_named,
            (type(error), str(error), getattr(error, "where", None)) if error else None)


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


@pytest.mark.parametrize("kind", list(STATS))
def test_prefetched_lines_are_the_files_lines_or_its_error(tmp_path, monkeypatch, kind):
    """The worker's lines make the same matcher as reading the file here,
    or the same error; the parent did not read a good file itself."""
    assert threading.active_count() == 1 and jobs() == 2
    path = tmp_path / "stats.csv"
    if STATS[kind] is not None:
        path.write_text(STATS[kind], encoding="utf-8")
    plain = _state(StatsMatcher(path))
    before = _children()
    with prefetched(path):
        read = []
        iter_stats = stats_module.iter_stats
        monkeypatch.setattr(stats_module, "iter_stats",
                            lambda p: read.append(p) or iter_stats(p))  # the parent's reads
        assert _state(StatsMatcher(path)) == plain
        assert read == ([] if kind == "good" else [path])  # an error: read again here
        assert _state(StatsMatcher(path)) == plain  # taken once: a second matcher reads
    assert stats_module._PREFETCHED == {} and _children() == before
    assert (plain[-1] is None) == (kind == "good")


def test_lines_no_matcher_takes_are_waited_for_and_the_worker_reaped(tmp_path):
    assert jobs() == 2
    before = _children()
    with pytest.raises(KeyError), prefetched(DEMO / "stats.csv"):
        assert len(_children()) == len(before) + 1
        raise KeyError("an error before the matcher is made")
    assert stats_module._PREFETCHED == {} and _children() == before


def test_one_process_prefetches_nothing(monkeypatch):
    monkeypatch.setenv("CCMIG_JOBS", "1")
    with prefetched(DEMO / "stats.csv"):
        assert stats_module._PREFETCHED == {}
    with prefetched(None):
        assert stats_module._PREFETCHED == {}


def test_an_audit_with_bad_inputs_says_the_same_first_error_with_the_worker(tmp_path,
                                                                          monkeypatch):
    """A bad stats file reports after the directory read, a bad cc:Mail
    export before it: both bad, the cc:Mail error, as with one process."""
    bad_stats = tmp_path / "stats.csv"
    bad_stats.write_text(STATS["bad count"], encoding="utf-8")
    bad_po = tmp_path / "PO9.txt"
    bad_po.write_text("Post office: PO9\n\nName: X\nLocn: Q\n", encoding="utf-8")
    exports = [a for p in sorted((DEMO / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    base = ["audit", "--ldif", str(DEMO / "org.ldif"), "--exchange-po", "EXCH", "-v",
            "--format", "json"]
    runs = {
        "good": [*base, *exports, "--mailbox-stats", str(DEMO / "stats.csv")],
        "stats": [*base, *exports, "--mailbox-stats", str(bad_stats)],
        "both": [*base, *exports, "--ccmail-dir", str(bad_po), "--mailbox-stats", str(bad_stats)],
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
    assert seen["both"][0] == 2 and f"{bad_po}:4: 'Locn'" in seen["both"][2]
    assert "item_count" not in seen["both"][2]
