"""``audit`` and ``proxies audit`` end ccmig's own process without freeing
their heap (``toolkit.cli.common.finished``): same bytes, same exit code, the
log file complete; a runbook's or a test's process goes on as before.

The wrapper below registers an ``atexit`` function before it calls
``toolkit.cli.main.main`` (the console script's entry): it runs at a normal
exit only, so it tells which way the process ended.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.orgkit import ccmig

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "mocks" / "demo"
SOURCE = ["--ldif", str(DEMO / "org.ldif"),
          *[a for p in sorted((DEMO / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]]
AUDIT = ["audit", *SOURCE, "--exchange-po", "EXCH", "--mailbox-stats", str(DEMO / "stats.csv"),
         "--format", "json", "--fail-on", "warning"]
PROXIES = ["proxies", "audit", *SOURCE, "--retire", "MS", "--format", "json",
           "--fail-on", "warning"]

WRAPPER = """
import atexit, sys, threading, time
marker = sys.argv.pop(1)
atexit.register(lambda: open(marker, "w").write("normal exit"))
if sys.argv.pop(1) == "thread":  # another thread alive: the process ends as usual
    threading.Thread(target=time.sleep, args=(0.5,)).start()
from toolkit.cli.main import main
main(sys.argv[1:])
"""


def _run(tmp_path: Path, args: list[str], thread: bool = False) -> tuple[int, bytes, Path, Path]:
    marker, log = tmp_path / "marker", tmp_path / "ccmig.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCMIG_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(marker), "thread" if thread else "-",
         "-v", "--log-file", str(log), *args],
        capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.returncode, proc.stdout, marker, log


def test_audit_ends_its_own_process_with_the_same_output_code_and_log(tmp_path):
    code, out, marker, log = _run(tmp_path, AUDIT)
    expected_code, expected_out, _ = ccmig(*AUDIT)  # in-process: returns as before
    assert code == expected_code == 1  # the demo has warnings
    assert out.decode("utf-8") == expected_out and out.startswith(b"[\n")
    assert not marker.exists()  # ended in finished(): no normal exit
    lines = log.read_text(encoding="utf-8").splitlines()
    # -v's lines reached the file, up to the last one the audit logs
    assert '"mailbox stats: 203 mailbox(es) matched"' in lines[-1], lines[-3:]


def test_proxies_audit_ends_its_own_process_the_same_way(tmp_path):
    code, out, marker, _ = _run(tmp_path, PROXIES)
    expected_code, expected_out, _ = ccmig(*PROXIES)
    assert code == expected_code
    assert out.decode("utf-8") == expected_out and out.startswith(b"[\n")
    assert not marker.exists()


def test_with_another_thread_alive_the_process_ends_as_usual(tmp_path):
    code, out, marker, _ = _run(tmp_path, AUDIT, thread=True)
    assert code == 1 and out.startswith(b"[\n")
    assert marker.read_text() == "normal exit"
