"""One command's process tree, measured: wall time, exit code, peak RSS, PSS.

Why a module of its own: this is the part of ``scripts/bench`` that knows
``/proc`` and GNU ``time`` (how a process's memory is read, and what reading
it costs the measured run); the measurements (``bench_measurements.py``) only
say what to run. Imported by ``bench_measurements.py`` beside it
(``scripts/`` is not a package: ``scripts/bench.py`` puts this folder on
``sys.path``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path


@dataclasses.dataclass
class Run:
    seconds: float
    code: int
    peak_rss_mb: float  # the command's own peak (GNU time %M)
    tree_rss_mb: float  # sampled: peak of the summed RSS of the command and its descendants
    stdout: bytes
    tree_pss_mb: float = 0.0  # sampled: peak of their summed PSS (shared pages counted once)


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """A process's proportional set size: each page shared by k processes
    counts 1/k (a forked worker shares its parent's pages until either
    writes them, so summed RSS would count them twice)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_cpu_s(pid: int) -> float | None:
    """User and system CPU seconds process ``pid`` has used so far
    (``/proc/PID/stat``), or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()  # the name may hold blanks
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time: an exact peak RSS


def run(argv: list[str], env: dict[str, str] | None = None, count: bytes | None = None,
        stdout: Path | None = None, pss: bool = False) -> Run:
    """Run ``argv``; wall time, exit code, peak RSS. ``count``: count this byte
    string in stdout (streamed, so a large output never sits in memory).
    ``stdout``: the command writes its output to this file instead (nothing
    is read while it runs; ``count`` is then counted in the file afterwards,
    outside the timed span).

    Peak RSS: a child's ``ru_maxrss`` starts at its parent's RSS at fork
    (exec does not reset it), so the command runs under GNU ``time``, which
    is small, and ``%M`` is the command's own peak. Without GNU time, the
    peak of ``VmHWM`` sampled every 50 ms. ``tree_rss_mb``: the peak of the
    summed RSS of the command and its descendants, sampled every 50 ms;
    ``tree_pss_mb`` (only with ``pss``) the same for their PSS, the memory
    the tree really holds (ccmig's forked worker shares its parent's pages:
    RSS counts them twice).

    Why PSS only when asked: the kernel makes a process's PSS by walking
    every page it maps (``smaps_rollup``). Sampled every 50 ms beside a
    100,000-people audit (~120 MB a process, three processes), that took
    ~0.6-1.1 s of wall and 0.35-0.6 s of system CPU per run (session 13),
    taken from the two cores the audit is bound by; reading ``VmRSS`` and
    ``VmHWM`` costs ~0.04 s a run. So the timed rounds sample RSS only, and
    :func:`memory_pass` runs each measurement once more, untimed, for PSS.
    """
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    rss_file = tempfile.NamedTemporaryFile(suffix=".rss", delete=False)  # noqa: SIM115
    rss_file.close()
    wrapped = [TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv] if TIME else argv
    start = time.perf_counter()
    sink = open(stdout, "wb") if stdout else subprocess.PIPE  # noqa: SIM115 - closed below
    proc = subprocess.Popen(wrapped, env=env, stdin=subprocess.DEVNULL,
                            stdout=sink, stderr=err)
    tree_peak = hwm_peak = pss_peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal tree_peak, hwm_peak, pss_peak
        while not done.is_set():
            pids = _descendants(proc.pid)
            if TIME:
                pids = pids[1:]  # not GNU time itself
            tree_peak = max(tree_peak, sum(_status_kb(p, "VmRSS:") for p in pids))
            hwm_peak = max([hwm_peak, *(_status_kb(p, "VmHWM:") for p in pids)])
            if pss:
                pss_peak = max(pss_peak, sum(_pss_kb(p) for p in pids))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    captured = b""
    counted = 0
    tail = b""

    def take(chunk: bytes) -> None:
        nonlocal counted, tail, captured
        if count is not None:
            counted += (tail + chunk).count(count) - tail.count(count)
            tail = chunk[-len(count):]
        if len(captured) < 1 << 16:
            captured += chunk[: (1 << 16) - len(captured)]

    if stdout is None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            take(chunk)
        proc.stdout.close()
    code = proc.wait()
    seconds = time.perf_counter() - start
    if stdout is not None:
        sink.close()  # type: ignore[union-attr]
        with open(stdout, "rb") as fh:
            while chunk := fh.read(1 << 20):
                take(chunk)
    done.set()
    sampler.join()
    err.seek(0)
    message = err.read().decode(errors="replace").strip()
    err.close()
    peak_kb = hwm_peak
    if TIME:
        with open(rss_file.name) as fh:
            lines = fh.read().split()
        peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else hwm_peak
    os.unlink(rss_file.name)
    if code not in (0, 1):
        raise SystemExit(f"bench: {argv[0]} ... exited {code}: {message[-2000:]}")
    if count is not None:
        captured = str(counted).encode()
    return Run(seconds, code, peak_kb / 1024, tree_peak / 1024, captured, pss_peak / 1024)
