"""kill -9 during ``ccmig apply --yes`` of a proxy plan, then resume or undo:
one loop for every write path (tests/test_proxies_apply_ldap.py,
tests/test_proxies_apply_powershell.py).

An uninterrupted run, spread by ``--max-writes-per-minute``, times the range
the kills are drawn from (seeded: ``CCMIG_KILL_SEED``); after each kill every
object holds all of its action's values or none (one write per object), the
journal reads, and either a resumed apply finishes with each write made exactly
once (``already-done`` for what the killed run made) or undo gives every
object its values back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.orgkit import ccmig
from toolkit.proxies.model import ProxyValue
from toolkit.remediation.journal import read_journal

REPO = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("CCMIG_KILL_SEED", "20261205"))
Values = Callable[[], dict[str, list[str]]]


def as_same(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each object's values as *the same* compares them (sorted)."""
    return {k: sorted(str(ProxyValue.parse(v).same_key or v) for v in vs)
            for k, vs in values.items()}


def _start(plan: Path, args: list[str], per_minute: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit", "apply", str(plan), *args, "--yes",
         "--max-writes-per-minute", str(per_minute), "--format", "json"],
        cwd=REPO, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(*argv: str) -> dict[str, dict]:
    code, out, err = ccmig(*argv, "--format", "json")
    assert code == 0, (argv, out, err)
    return {o["id"]: o for o in json.loads(out)}


def kill_loop(plan: Path, wanted: dict[str, list[str]], values: Values, args: list[str],
              runs: int = 6, per_minute: int = 60) -> list[tuple[str, ...]]:
    """``wanted``: object key (as ``values()`` keys them) -> the action's values."""
    before = values()
    journal = Path(f"{plan}.journal")
    started = time.monotonic()
    _, err = _start(plan, args, per_minute).communicate()
    took = time.monotonic() - started
    assert len([e for e in read_journal(journal).entries if e.state == "done"]) == len(wanted), err
    _run("undo", str(journal), *args, "--yes")
    writing = (len(wanted) - 1) * 60 / per_minute  # how long the paced writes take
    rng = random.Random(SEED)
    kinds: list[tuple[str, ...]] = []
    for n in range(runs):
        journal.unlink(missing_ok=True)
        proc = _start(plan, args, per_minute)
        delay = rng.uniform(max(0.0, took - writing - 0.5), took)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        now = values()
        for key, gone in wanted.items():  # one write per object: all of them or none
            left = {ProxyValue.parse(v).same_key for v in now[key]} & {
                ProxyValue.parse(v).same_key for v in gone}
            assert len(left) in (0, len(set(ProxyValue.parse(v).same_key for v in gone))), (
                SEED, n, delay, key)
        states = [e.state for e in read_journal(journal).entries] if journal.exists() else []
        kinds.append(tuple(states))  # the journal reads, whatever the kill left
        if n % 2 == 0:
            got = _run("apply", str(plan), *args, "--yes")
            assert {o["status"] for o in got.values()} <= {"applied", "already-done"}
            done = [e for e in read_journal(journal).entries if e.state == "done"]
            assert len(done) == len(wanted)  # each object's write made exactly once
        if journal.exists():  # else: killed before its first record, nothing was written
            _run("undo", str(journal), *args, "--yes")
        assert as_same(values()) == as_same(before), (SEED, n, delay)
    # the kills landed mid-apply: some runs left part of the writes made
    assert any(0 < k.count("done") < len(wanted) or "intent" in k for k in kinds), kinds
    return kinds
