"""Benchmark ``ccmig audit`` at scale against a throwaway slapd (issue 6).

Builds a synthetic organisation of N people (``mocks/orggen``), loads it
into a private slapd (``mocks/slapd/server.py``) and measures, alternating
the measurements round by round and taking medians:

  (a) ``ldapsearch`` paged dump (``-E pr=1000/noprompt``) of the audit's
      filter and attributes, written to a file as (c) writes its report;
      and, reported only, the same dump through a pipe that this script reads
      (sessions 1-7's (a): the reading process shares the two cores with
      slapd and ldapsearch, which made (a) 1.5-4.3 s against 1.2-1.7 s to a
      file, so the ratio to (c) looked up to 1.7 x better than it is),
  (b) a bare ldap3 ``paged_search(generator=True)`` dump of the same search,
  (c) ``ccmig audit`` over LDAP to JSON, end to end, as a subprocess,
  (d) ``ccmig audit --ldif`` of the same organisation,
  (e) cc:Mail directory parsing alone (``Directory.from_args``),
  (g) ``ccmig proxies audit`` over LDAP of the same organisation (MS and X400
      retired, the same exports): no slower than (c),

peak RSS of (b), (c) and (d) (``wait4`` of the child, plus a sampled sum over
its process tree; the tree's PSS in one more, untimed, run each: sampling PSS
costs the machine up to a second of wall a run, see ``run``), optionally the
2N/N time ratio of (c) and (d) (``--linearity``: 2N in the same rounds, each
run right after its N run), and remote PowerShell: WSMan requests and wall time to
read EmailAddresses and item counts of many identities from the mock
Exchange endpoint, batched versus one request per identity. Before every
timed run a fixed loop is timed in this process (``speed_probe``): the
report says how fast the machine was around each number and how far its
speed moved during the run; no number is corrected by it.

The audit runs with ``--mailbox-stats`` (so the search asks for every
mailbox too): the heaviest case. Everything runs on 127.0.0.1 in a
temporary directory that is removed afterwards (``--keep`` keeps it).

    scripts/bench                      # N=100000, 3 rounds
    scripts/bench -n 20000 --repeat 5 --json bench.json
    scripts/bench --quick              # small N for CI
    scripts/bench --linearity          # also 2N, in the same rounds (a second org and slapd)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.mocks import orggen  # noqa: E402
from toolkit.mocks.slapd import server as slapd  # noqa: E402

from toolkit.exchange.dialects import AD_ATTRIBUTES  # noqa: E402
from toolkit.exchange.ldap import recipient_filter  # noqa: E402

TARGETS = {
    "audit_ldap / ldap3_bare": 1.25,
    # issue 13: the audit over LDAP within 4 x ldapsearch (moonshot 3 x), --ldif no slower
    "audit_ldap / ldapsearch": 4.0,
    "audit_ldap / ldapsearch (moonshot)": 3.0,
    "audit_ldif / audit_ldap": 1.0,
    # issue 15: `ccmig proxies audit` no slower than `ccmig audit` on the same organisation
    "proxies_audit_ldap / audit_ldap": 1.0,
    "peak_rss_mb": 150.0,
    "linearity_2n_over_n": 2.1,
    "directory_parse_s_per_100k": 1.0,
    # WSMan requests per 1,000 identities for EmailAddresses + item counts, projected, at
    # --ps-identities (10,000 in a full run; fixed costs weigh more at --quick's 200), with
    # --ps-batch (ccmig's default --batch-size, the unit of retry) and with 2000
    "powershell_requests_per_1000": 10.0,
    "powershell_requests_per_1000_batch_2000": 10.0,
}

BARE_LDAP3 = r"""
import json, sys, ldap3
cfg = json.loads(sys.argv[1])
host, port = cfg["url"].rsplit(":", 1)
server = ldap3.Server(host.split("//")[1], port=int(port), get_info=ldap3.NONE)
conn = ldap3.Connection(server, cfg["bind_dn"], cfg["password"], auto_bind=True, read_only=True)
count = 0
for item in conn.extend.standard.paged_search(cfg["base_dn"], cfg["filter"],
                                              attributes=cfg["attributes"], paged_size=1000,
                                              generator=True):
    if item["type"] == "searchResEntry":
        count += 1
result = conn.result["result"]
conn.unbind()
print(json.dumps({"entries": count, "result": result}))
"""

# `proxies audit` retires legacy types the generated organisation carries. Not
# CCMAIL: the generated exports still hold the connector's P entry, and ccmig
# refuses to retire CCMAIL while the connector runs dirsync.
PROXY_RETIRE = ("MS", "X400")

# ccmig's own LDAP reader (toolkit.exchange.ldap.read_ldap) over one filter,
# entries only counted: the reading cost without the audit.
READER = r"""
import json, sys
from toolkit.exchange.ldap import LdapSettings, read_ldap
cfg = json.loads(sys.argv[1])
settings = LdapSettings(cfg["url"], cfg["base_dn"], cfg["bind_dn"], cfg["password"],
                        allow_unencrypted=True)
print(json.dumps({"entries": sum(1 for _ in read_ldap(settings, cfg["filter"],
                                                       cfg["attributes"]))}))
"""

# Two disjoint, complete halves of any filter: cn starting a-m, and the rest
# (substring matching is case-insensitive for cn in AD and OpenLDAP alike).
FIRST_HALF = "(|" + "".join(f"(cn={c}*)" for c in "abcdefghijklm") + ")"


DIRECTORY_PARSE = r"""
import json, sys, time
from toolkit.ccmail.directory import Directory
files = json.loads(sys.argv[1])
start = time.perf_counter()
d = Directory.from_args(files)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "entries": sum(1 for _ in d.entries())}))
"""


# ---------------------------------------------------------------- processes


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


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- the organisation


@dataclasses.dataclass
class Setup:
    people: int
    org: Path
    info: Any  # slapd ServerInfo
    ccmail: list[str]
    seconds: dict[str, float]


def build(work: Path, people: int, seed: int, stack: list[Any]) -> Setup:
    org = work / f"org-{people}"
    t = time.perf_counter()
    orggen.generate(orggen.Settings(people=people, seed=seed), org)
    generated = time.perf_counter() - t
    base = "DC=" + ",DC=".join(orggen.Settings().domain.split("."))
    t = time.perf_counter()
    server = slapd.SlapdServer(work / f"slapd-{people}", base, org / "org.ldif")
    info = server.__enter__()
    stack.append(server)
    loaded = time.perf_counter() - t
    ccmail = sorted(str(p) for p in (org / "ccmail").glob("*.txt"))
    return Setup(people, org, info, ccmail, {"generate": generated, "slapd_load": loaded})


def compile_toolkit() -> None:
    """Compile ccmig's modules before anything is timed, as ``pip install``
    does for an installed package: with PYTHONDONTWRITEBYTECODE set (or a
    fresh checkout) every timed run would otherwise compile the whole
    toolkit again (~0.15 s, measured in session 7)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "toolkit")],
                   env=env, check=True, stdout=subprocess.DEVNULL)


def ccmig_env(work: Path, password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CCMIG_CONFIG", "CCMIG_PROFILE", "CCMIG_EXCHANGE_PASSWORD")}
    env.update(CCMIG_LDAP_PASSWORD=password, XDG_CONFIG_HOME=str(work / "config-home"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def measurements(s: Setup, work: Path) -> dict[str, Callable[..., dict[str, Any]]]:
    """name -> one timed run returning its numbers."""
    info = s.info
    search_filter = recipient_filter("ad", all_mailboxes=True)
    attributes = list(AD_ATTRIBUTES)
    password_file = work / f"ldap-password-{s.people}"
    password_file.write_text(info.password)
    password_file.chmod(0o600)
    env = ccmig_env(work, info.password)
    common = [a for path in s.ccmail for a in ("--ccmail-dir", path)]
    common += ["--exchange-po", "EXCH", "--mailbox-stats", str(s.org / "stats.csv"),
               "--format", "json", "--fail-on", "never"]
    ldap_args = ["--ldap-url", info.url, "--base-dn", info.base_dn, "--bind-dn", info.bind_dn,
                 "--allow-unencrypted"]
    py = sys.executable

    dump = [shutil.which("ldapsearch") or "ldapsearch", "-x", "-LLL", "-H", info.url,
            "-D", info.bind_dn, "-y", str(password_file), "-b", info.base_dn,
            "-E", "pr=1000/noprompt", search_filter, *attributes]

    def ldapsearch(piped: bool) -> Callable[..., dict[str, Any]]:
        """(a): to a file, as ccmig writes its report; ``piped``: through a
        pipe this process reads and counts while it runs (sessions 1-7)."""
        output = None if piped else work / f"ldapsearch-{s.people}.ldif"

        def go(pss: bool = False) -> dict[str, Any]:
            r = run(dump, count=b"\ndn:", stdout=output, pss=pss)
            if output is not None:
                output.unlink()
            # -LLL: the first "dn:" opens the output, every other one follows a line break
            return {"seconds": r.seconds, "entries": int(r.stdout) + 1,
                    "peak_rss_mb": r.peak_rss_mb}

        return go

    def bare(pss: bool = False) -> dict[str, Any]:
        cfg = {"url": info.url, "bind_dn": info.bind_dn, "password": info.password,
               "base_dn": info.base_dn, "filter": search_filter, "attributes": attributes}
        r = run([py, "-c", BARE_LDAP3, json.dumps(cfg)], pss=pss)
        out = json.loads(r.stdout)
        if out["result"] != 0:
            raise SystemExit(f"bench: bare ldap3 search ended with result {out['result']}")
        return {"seconds": r.seconds, "entries": out["entries"], "peak_rss_mb": r.peak_rss_mb,
                "tree_rss_mb": r.tree_rss_mb, "tree_pss_mb": r.tree_pss_mb}

    def audit(kind: str, jobs: str | None = None) -> Callable[..., dict[str, Any]]:
        """``ccmig audit`` over LDAP or from the LDIF; ``jobs``: CCMIG_JOBS
        (None: ccmig's default, a forked worker where it can)."""
        output = work / f"audit-{kind}-{s.people}{'-jobs' + jobs if jobs else ''}.json"
        source = ldap_args if kind == "ldap" else ["--ldif", str(s.org / "org.ldif")]
        run_env = env if jobs is None else {**env, "CCMIG_JOBS": jobs}

        def go(pss: bool = False) -> dict[str, Any]:
            r = run([py, "-m", "toolkit", "-q", "audit", *source, *common, "-o", str(output)],
                    env=run_env, pss=pss)
            return {"seconds": r.seconds, "exit_code": r.code, "peak_rss_mb": r.peak_rss_mb,
                    "tree_rss_mb": r.tree_rss_mb, "tree_pss_mb": r.tree_pss_mb,
                    "output": str(output)}

        return go

    def proxies_audit(pss: bool = False) -> dict[str, Any]:
        """``ccmig proxies audit`` over LDAP with the same exports (read and
        indexed as the audit reads them); X400, on nearly every person, retired."""
        output = work / f"proxies-audit-ldap-{s.people}.json"
        retire = [a for t in PROXY_RETIRE for a in ("--retire", t)]
        exports = [a for path in s.ccmail for a in ("--ccmail-dir", path)]
        r = run([py, "-m", "toolkit", "-q", "proxies", "audit", *ldap_args, *exports, *retire,
                 "--format", "json", "--fail-on", "never", "-o", str(output)], env=env, pss=pss)
        with open(output, encoding="utf-8") as fh:
            rows = len(json.load(fh))
        return {"seconds": r.seconds, "exit_code": r.code, "peak_rss_mb": r.peak_rss_mb,
                "tree_rss_mb": r.tree_rss_mb, "tree_pss_mb": r.tree_pss_mb, "rows": rows}

    def partitions(parts: int) -> Callable[[], dict[str, Any]]:
        """ccmig's reader over the filter in 1 process, or 2 disjoint halves
        read at once by 2 processes (wall time until both are done)."""
        if parts == 1:
            filters = [search_filter]
        else:
            filters = [f"(&{search_filter}{FIRST_HALF})", f"(&{search_filter}(!{FIRST_HALF}))"]

        def go() -> dict[str, Any]:
            start = time.perf_counter()
            procs = [subprocess.Popen(
                [py, "-c", READER, json.dumps({
                    "url": info.url, "base_dn": info.base_dn, "bind_dn": info.bind_dn,
                    "password": info.password, "filter": f, "attributes": attributes})],
                stdout=subprocess.PIPE, env=env, text=True) for f in filters]
            outs = [p.communicate()[0] for p in procs]
            seconds = time.perf_counter() - start
            if any(p.returncode for p in procs):
                raise SystemExit("bench: the partitioned reader failed")
            return {"seconds": seconds, "entries": sum(json.loads(o)["entries"] for o in outs)}

        return go

    def directory() -> dict[str, Any]:
        r = run([py, "-c", DIRECTORY_PARSE, json.dumps(s.ccmail)], env=env)
        out = json.loads(r.stdout)
        return {"seconds": out["seconds"], "entries": out["entries"],
                "seconds_per_100k": out["seconds"] * 100_000 / max(out["entries"], 1)}

    return {"ldapsearch": ldapsearch(piped=False), "ldapsearch_piped": ldapsearch(piped=True),
            "ldap3_bare": bare, "audit_ldap": audit("ldap"),
            "audit_ldap_1job": audit("ldap", "1"),
            "audit_ldif": audit("ldif"), "proxies_audit_ldap": proxies_audit,
            "directory_parse": directory,
            "reader_1": partitions(1), "reader_2x": partitions(2)}


PROBE_LOOPS = 1_500_000  # ~0.1 s of one core on this project's machines


def speed_probe(loops: int = PROBE_LOOPS) -> float:
    """Wall seconds a fixed pure-Python loop takes in this process now.

    Why: this project's machines are shared. On session 14's, each of the
    two cores ran at about half speed for stretches of seconds, in turns
    (docs/performance.md, *Session 14*: this loop pinned to one core took
    0.074-0.08 s or 0.12-0.14 s; the same audit 3.97-5.76 s in one
    sequence). :func:`rounds` runs this before every timed run, so a report
    says how fast the machine was around each number instead of leaving a
    reader to guess. It measures, it corrects nothing: no median is divided
    by it."""
    start = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i * i
    return time.perf_counter() - start


def rounds(tasks: dict[str, Callable[..., dict[str, Any]]], repeat: int,
           log: Callable[[str], None] = print,
           probe: Callable[[], float] = speed_probe) -> dict[str, list[dict[str, Any]]]:
    """Every task ``repeat`` times, interleaved, the order rotated each round;
    each run's result has ``probe_s``, :func:`speed_probe` just before it."""
    names = list(tasks)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(repeat):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            before = probe()
            result = tasks[name]()
            result["probe_s"] = before
            results[name].append(result)
            log(f"  round {r + 1}/{repeat} {name:16s} {result['seconds']:8.2f} s"
                + (f"  {result['peak_rss_mb']:6.0f} MB" if "peak_rss_mb" in result else "")
                + f"  (probe {before:.3f} s)")
    return results


def machine_speed(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The spread of every timed run's :func:`speed_probe`: slowest over fastest
    says how far the machine's speed moved during the measurements."""
    probes = sorted(r["probe_s"] for runs in results.values() for r in runs)
    return {"loops": PROBE_LOOPS, "runs": len(probes), "min_s": round(probes[0], 4),
            "median_s": round(median(probes), 4), "max_s": round(probes[-1], 4),
            "max_over_min": round(probes[-1] / probes[0], 3)}


TWICE = "_2n"  # a measurement's name at 2N people, in the rounds (--linearity)

# The measurements whose process trees' PSS is reported (see run(): sampled
# in one untimed run each, after the timed rounds).
MEMORY = ("ldap3_bare", "audit_ldap", "audit_ldap_1job", "audit_ldif", "proxies_audit_ldap")


def memory_pass(tasks: dict[str, Callable[..., dict[str, Any]]],
                log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """One more run of each of :data:`MEMORY`'s measurements, with PSS sampled;
    its time is kept apart (``memory_run_s``), never in the medians."""
    out = {}
    for name in MEMORY:
        if name in tasks:
            result = tasks[name](pss=True)
            out[name] = result
            log(f"  memory    {name:16s} {result['seconds']:8.2f} s"
                f"  {result['tree_pss_mb']:6.0f} MB PSS")
    return out


def with_memory(summary: dict[str, Any], mem: dict[str, Any] | None) -> dict[str, Any]:
    """``summary`` with the PSS of its memory run (and that run's own peaks)."""
    if mem is None:
        return summary
    summary["tree_pss_mb"] = round(mem["tree_pss_mb"], 1)
    summary["memory_run_s"] = round(mem["seconds"], 4)
    for key in ("peak_rss_mb", "tree_rss_mb"):
        if key in summary:
            summary[key] = round(max(summary[key], mem[key]), 1)
    return summary


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs_s": [round(r["seconds"], 4) for r in runs],
                           "median_s": round(median([r["seconds"] for r in runs]), 4)}
    if runs and "probe_s" in runs[0]:
        out["probe_s_runs"] = [round(r["probe_s"], 4) for r in runs]
    for key in ("peak_rss_mb", "tree_rss_mb"):  # (PSS: from the memory run, with_memory)
        if runs and key in runs[0]:
            out[key + "_runs"] = [round(r[key], 1) for r in runs]
            out[key] = round(max(r[key] for r in runs), 1)
    for key in ("entries", "exit_code", "rows"):
        if runs and key in runs[0]:
            out[key] = runs[-1][key]
    if runs and "seconds_per_100k" in runs[0]:
        out["median_s_per_100k"] = round(median([r["seconds_per_100k"] for r in runs]), 4)
    return out


def same_rows(ldap_json: str, ldif_json: str) -> tuple[int, bool]:
    """(rows, equal): the LDAP and LDIF audits agree on everything but the DN's
    spelling (the spec keeps the DN as the server returns it)."""
    def rows(path: str) -> list[tuple[Any, ...]]:
        with open(path, encoding="utf-8") as fh:
            return [(r["key"], r["kind"], r["ccmail_name"], r["old_post_office"], r["route"],
                     r["status"], [(f["code"], f["severity"]) for f in r["findings"]])
                    for r in json.load(fh)]
    a, b = rows(ldap_json), rows(ldif_json)
    return len(a), a == b


# ---------------------------------------------------------------- PowerShell


def powershell(s: Setup, audit_json: str, identities: int, single: int, batches: list[int],
               log: Callable[[str], None]) -> dict[str, Any]:
    """WSMan requests, bytes and time to read EmailAddresses and item counts of
    mailboxes (DNs from an audit's rows) through ccmig's session - one streamed,
    projected pipeline per read, at each ``batches`` size (``--batch-size``: the
    unit a failed read is retried in) - versus one invocation per identity and
    read (``one_by_one``, extrapolated), and versus whole objects from an
    endpoint without Select-Object (``unprojected``, on ``single`` identities).
    The mock's objects carry Exchange 2010's full property sets (about 100 for
    Get-Recipient, 45 for Get-MailboxStatistics): projection keeps them off the wire.
    """
    from toolkit.mocks.exchange import MockExchange, MockExchangeServer, Organisation
    from toolkit.mocks.exchange.cmdlets import IMPLEMENTATIONS

    from toolkit.exchange import psobjects as pso
    from toolkit.exchange.powershell import (
        ADDRESS_PROPERTIES,
        STATS_PROPERTIES,
        ExchangeSession,
        ExchangeSettings,
    )

    with open(audit_json, encoding="utf-8") as fh:
        dns = [r["dn"] for r in json.load(fh) if r["kind"] == "mailbox"]
    ids = dns[:identities]
    single_ids = dns[:single]
    t = time.perf_counter()
    # Item counts are set directly (a stats file would be matched line by line).
    org = Organisation.from_files(s.org / "org.ldif")
    wanted = set(ids)
    for n, entry in enumerate(e for e in org.entries if e.dn in wanted):
        entry.item_count = 100 + n
    core = MockExchange(org, password="bench-pw")
    bare = MockExchange(org, password="bench-pw",
                        commands=[c for c in IMPLEMENTATIONS if c != "select-object"])
    load = time.perf_counter() - t
    out: dict[str, Any] = {"mock_load_s": round(load, 2)}

    def batched(session: ExchangeSession, chosen: list[str]) -> tuple[int, int]:
        addresses = session.email_addresses(chosen)
        stats = session.mailbox_stats(chosen)
        return (sum(1 for a in addresses if a.found),
                sum(1 for x in stats if x.item_count is not None))

    def one_by_one(session: ExchangeSession, chosen: list[str]) -> tuple[int, int]:
        found = counted = 0
        for dn in chosen:  # what a naive client does: one invocation per identity and read
            got = session.run("Get-Recipient", {"Identity": dn}, select=ADDRESS_PROPERTIES)
            found += len(got.output) == 1 and pso.prop(got.output[0], "EmailAddresses") is not None
            got = session.run("Get-MailboxStatistics", {"Identity": dn}, select=STATS_PROPERTIES)
            counted += bool(got.output and pso.integer(pso.prop(got.output[0], "ItemCount"))
                            is not None)
        return found, counted

    plan = [(f"batch_{size}", core, size, ids, batched) for size in batches]
    plan += [("one_by_one", core, 500, single_ids, one_by_one),
             ("unprojected", bare, 500, single_ids, batched)]
    for label, mock, size, chosen, read in plan:
        with MockExchangeServer(mock) as srv:
            settings = ExchangeSettings(srv.uri, auth="basic", username=mock.username,
                                        password="bench-pw", allow_unencrypted=True,
                                        timeout=600, batch_size=size)
            with ExchangeSession(settings) as session:
                mock.actions.clear()
                before, sent = srv.requests, mock.bytes_out
                t = time.perf_counter()
                found, counted = read(session, chosen)
                seconds = time.perf_counter() - t
                requests = srv.requests - before
                wire = mock.bytes_out - sent
                actions = dict(mock.actions)
        out[label] = {
            "identities": len(chosen), "batch_size": size,
            "requests": requests, "seconds": round(seconds, 3),
            "requests_per_1000": round(requests * 1000 / max(len(chosen), 1), 2),
            "response_bytes_per_identity": round(wire / max(len(chosen), 1)),
            "addresses_found": found, "item_counts": counted, "wsman_actions": actions,
        }
        log(f"  powershell {label:11s} {len(chosen):6d} identities  {requests:6d} requests "
            f"{seconds:8.2f} s  {actions}")
    single_run = out["one_by_one"]
    scale = len(ids) / max(single_run["identities"], 1)
    single_run["extrapolated_to"] = len(ids)
    single_run["extrapolated_requests"] = round(single_run["requests"] * scale)
    single_run["extrapolated_seconds"] = round(single_run["seconds"] * scale, 1)
    return out


# ---------------------------------------------------------------- report


def table(report: dict[str, Any]) -> str:
    m = report["measurements"]
    rows = [("(a) ldapsearch paged dump", m["ldapsearch"]),
            ("(a) ldapsearch, piped (s. 1-7)", m["ldapsearch_piped"]),
            ("(b) ldap3 paged generator", m["ldap3_bare"]),
            ("(c) ccmig audit over LDAP", m["audit_ldap"]),
            ("(c1) the same, CCMIG_JOBS=1", m["audit_ldap_1job"]),
            ("(d) ccmig audit --ldif", m["audit_ldif"]),
            ("(g) ccmig proxies audit over LDAP", m["proxies_audit_ldap"]),
            ("(e) cc:Mail directory parse", m["directory_parse"]),
            ("(f) ccmig LDAP reader, 1 stream", m["reader_1"]),
            ("(f) ccmig LDAP reader, 2 halves", m["reader_2x"])]
    lines = [f"N = {report['params']['people']} people, {report['org']['ldap_entries']} entries "
             f"read, {report['org']['rows']} rows, {report['org']['directory_entries']} cc:Mail "
             f"entries; median of {report['params']['repeat']}",
             f"{'measurement':32s}{'median s':>10s}{'peak RSS MB':>13s}{'tree PSS MB':>13s}"]
    speed = report["machine"].get("speed_probe")
    if speed:
        lines.insert(1, f"machine speed: a fixed loop took {speed['min_s']:.3f}-"
                        f"{speed['max_s']:.3f} s before the {speed['runs']} timed runs "
                        f"(slowest / fastest {speed['max_over_min']:.2f})")
    for label, v in rows:
        rss = f"{v['peak_rss_mb']:.0f}" if "peak_rss_mb" in v else "-"
        pss = f"{v['tree_pss_mb']:.0f}" if v.get("tree_pss_mb") else "-"
        lines.append(f"{label:32s}{v['median_s']:10.2f}{rss:>13s}{pss:>13s}")
    lines.append("")
    for name, value in report["ratios"].items():
        lines.append(f"{name:32s}{value:10.2f}")
    if "linearity" in report:
        lin = report["linearity"]
        lines.append(f"{'2N/N audit over LDAP':32s}{lin['audit_ldap_ratio']:10.2f}")
        lines.append(f"{'2N/N audit --ldif':32s}{lin['audit_ldif_ratio']:10.2f}")
        for name in ("audit_ldap", "audit_ldif"):
            pairs = ", ".join(f"{r:.2f}" for r in lin[f"{name}_pairs"])
            lines.append(f"{'  round by round, ' + name:32s}  {pairs}")
    if "powershell" in report:
        ps = report["powershell"]
        for label, p in ps.items():
            if not isinstance(p, dict):
                continue
            lines.append(f"PowerShell {label:12s}{p['identities']:6d} ids {p['requests']:6d} "
                         f"requests ({p['requests_per_1000']:7.1f}/1000) "
                         f"{p.get('response_bytes_per_identity', 0):6d} B/id {p['seconds']:8.2f} s")
        o = ps["one_by_one"]
        lines.append(f"  one by one, extrapolated to {o['extrapolated_to']}: "
                     f"{o['extrapolated_requests']} requests, {o['extrapolated_seconds']} s")
    lines.append("")
    for name, t in report["targets"].items():
        state = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT met")
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        lines.append(f"target {name:34s} {value:>8s} <= {t['limit']:<7g} {state}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--people", type=int, default=None, help="organisation size (100000)")
    ap.add_argument("--repeat", type=int, default=None, help="rounds; medians are reported (3)")
    ap.add_argument("--quick", action="store_true",
                    help="small and fast (N=2000, 1 round, few PowerShell identities) for CI")
    ap.add_argument("--linearity", action="store_true", help="also run (c) and (d) at 2N")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--ps-identities", type=int, default=None,
                    help="identities read through PowerShell, batched (10000)")
    ap.add_argument("--ps-single", type=int, default=None,
                    help="identities read one request each (500), extrapolated")
    ap.add_argument("--ps-batch", type=int, default=500,
                    help="ccmig's --batch-size for the batched read (500, its default); "
                         "2000 is measured too")
    ap.add_argument("--no-powershell", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="write every number to FILE")
    ap.add_argument("--workdir", metavar="DIR", help="work here (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    people = args.people or (2000 if args.quick else 100_000)
    repeat = args.repeat or (1 if args.quick else 3)
    ps_ids = args.ps_identities or (200 if args.quick else 10_000)
    ps_single = args.ps_single or (20 if args.quick else 500)
    for tool in ("ldapsearch",):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} not found (apt-get install ldap-utils)")
    slapd.find_tool("slapd")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ccmig-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    stack: list[Any] = []
    report: dict[str, Any] = {
        "params": {"people": people, "repeat": repeat, "seed": args.seed, "quick": args.quick},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "python_executable": os.path.realpath(sys.executable),
                    "platform": platform.platform(), "load_before": os.getloadavg()},
    }
    try:
        compile_toolkit()
        log(f"bench: generating {people} people and loading slapd in {work}")
        s = build(work, people, args.seed, stack)
        tasks = measurements(s, work)
        twice: dict[str, Callable[..., dict[str, Any]]] = {}
        if args.linearity:
            # 2N is measured in the same rounds, each run right after its N run:
            # the machine's speed drifts by up to a third within an hour, and
            # 2N's rounds run after all of N's would put that drift into the ratio
            log(f"bench: linearity: generating {2 * people} people and loading slapd")
            tasks2 = measurements(build(work, 2 * people, args.seed, stack), work)
            twice = {"audit_ldap": tasks2["audit_ldap"], "audit_ldif": tasks2["audit_ldif"]}
            paired: dict[str, Callable[..., dict[str, Any]]] = {}
            for name, task in tasks.items():
                paired[name] = task
                if name in twice:
                    paired[name + TWICE] = twice[name]
            tasks = paired
        log("bench: measuring")
        results = rounds(tasks, repeat, log=log)
        report["machine"]["speed_probe"] = machine_speed(results)
        memory = memory_pass(tasks, log=log)
        memory2 = memory_pass(twice, log=log)
        m2 = {name: with_memory(summarise(results.pop(name + TWICE)), memory2.get(name))
              for name in twice}
        m = {name: with_memory(summarise(runs), memory.get(name))
             for name, runs in results.items()}
        ldif_output = results["audit_ldif"][-1]["output"]
        rows, equal = same_rows(results["audit_ldap"][-1]["output"], ldif_output)
        if not equal:
            raise SystemExit("bench: the LDAP and LDIF audits disagree")
        if (Path(results["audit_ldap"][-1]["output"]).read_bytes()
                != Path(results["audit_ldap_1job"][-1]["output"]).read_bytes()):
            raise SystemExit("bench: the audit with a worker and in one process differ")
        if not m["ldapsearch"]["entries"] == m["ldapsearch_piped"]["entries"] \
                == m["ldap3_bare"]["entries"] \
                == m["reader_1"]["entries"] == m["reader_2x"]["entries"]:
            raise SystemExit("bench: ldapsearch and ldap3 read different numbers of entries")
        report["org"] = {"ldap_entries": m["ldap3_bare"]["entries"], "rows": rows,
                         "directory_entries": m["directory_parse"]["entries"],
                         "ldif_bytes": (s.org / "org.ldif").stat().st_size,
                         **{f"{k}_s": round(v, 2) for k, v in s.seconds.items()}}
        report["measurements"] = m
        c, a, b, d = (m[k]["median_s"] for k in ("audit_ldap", "ldapsearch", "ldap3_bare",
                                                  "audit_ldif"))
        report["ratios"] = {"audit_ldap / ldapsearch": round(c / a, 3),
                            "audit_ldap / ldapsearch_piped":
                                round(c / m["ldapsearch_piped"]["median_s"], 3),
                            "audit_ldap / ldap3_bare": round(c / b, 3),
                            "audit_ldap, 1 job / ldapsearch":
                                round(m["audit_ldap_1job"]["median_s"] / a, 3),
                            "audit_ldif / audit_ldap": round(d / c, 3),
                            "proxies_audit_ldap / audit_ldap":
                                round(m["proxies_audit_ldap"]["median_s"] / c, 3),
                            "reader_2x / reader_1": round(m["reader_2x"]["median_s"]
                                                          / m["reader_1"]["median_s"], 3),
                            "reader_1 / ldap3_bare": round(m["reader_1"]["median_s"] / b, 3)}
        if args.linearity:
            report["linearity"] = {
                "people": 2 * people, "measurements": m2,
                "audit_ldap_ratio": round(m2["audit_ldap"]["median_s"] / c, 3),
                "audit_ldif_ratio": round(m2["audit_ldif"]["median_s"] / d, 3),
                # each round's 2N run over the N run just before it: the drift left out
                **{f"{name}_pairs": [round(b2 / b1, 3) for b1, b2 in zip(
                    m[name]["runs_s"], m2[name]["runs_s"], strict=True)] for name in m2},
            }
        if not args.no_powershell:
            log("bench: PowerShell")
            report["powershell"] = powershell(s, ldif_output, ps_ids, ps_single,
                                              sorted({args.ps_batch, 2000}), log)
        # each process's own peak, and the peak of what the process tree holds
        # together (PSS: a forked worker's shared pages are not counted twice)
        rss = max(m["audit_ldap"]["peak_rss_mb"], m["audit_ldif"]["peak_rss_mb"],
                  m["audit_ldap"].get("tree_pss_mb", 0), m["audit_ldif"].get("tree_pss_mb", 0))
        lin = report.get("linearity")
        ps = report.get("powershell")
        values = {
            "audit_ldap / ldap3_bare": report["ratios"]["audit_ldap / ldap3_bare"],
            "audit_ldap / ldapsearch": report["ratios"]["audit_ldap / ldapsearch"],
            "audit_ldap / ldapsearch (moonshot)": report["ratios"]["audit_ldap / ldapsearch"],
            "audit_ldif / audit_ldap": report["ratios"]["audit_ldif / audit_ldap"],
            "proxies_audit_ldap / audit_ldap":
                report["ratios"]["proxies_audit_ldap / audit_ldap"],
            "peak_rss_mb": rss,
            "linearity_2n_over_n": max(lin["audit_ldap_ratio"], lin["audit_ldif_ratio"])
            if lin else None,
            "directory_parse_s_per_100k": m["directory_parse"]["median_s_per_100k"],
            "powershell_requests_per_1000": ps[f"batch_{args.ps_batch}"]["requests_per_1000"]
            if ps else None,
            "powershell_requests_per_1000_batch_2000": ps["batch_2000"]["requests_per_1000"]
            if ps else None,
        }
        scale_note = "targets are stated for N=100000" if people != 100_000 else None
        report["targets"] = {name: {"value": values[name], "limit": limit,
                                    "met": None if values[name] is None else values[name] <= limit}
                             for name, limit in TARGETS.items()}
        if scale_note:
            report["targets_note"] = scale_note
        report["machine"]["load_after"] = os.getloadavg()
        print(table(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    finally:
        for server in reversed(stack):
            server.__exit__(None, None, None)
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
