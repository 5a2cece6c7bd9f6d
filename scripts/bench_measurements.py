"""What ``scripts/bench`` measures, and how: the organisation, the timed
runs over it, the rounds, the memory pass and the summaries.

Why together: a measurement is a function that runs one command
(``bench_process.run``) and returns its numbers; the rounds interleave those
functions, probe the machine's speed before each, and the summaries turn
their results into the report's medians and peaks. ``scripts/bench.py``
keeps the command line, the targets and the report, and puts the checkout
first on ``sys.path`` before importing this (so ``toolkit`` is the
checkout's), along with this folder (``scripts/`` is not a package).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_process import process_cpu_s, run
from toolkit.mocks import orggen
from toolkit.mocks.slapd import server as slapd

from toolkit.exchange.dialects import AD_ATTRIBUTES
from toolkit.exchange.ldap import recipient_filter

ROOT = Path(__file__).resolve().parent.parent

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


def with_server_cpu(task: Callable[..., dict[str, Any]], pid: int
                    ) -> Callable[..., dict[str, Any]]:
    """``task`` whose result also says what CPU time slapd (``pid``) spent
    during it (``server_cpu_s``).

    Why: on a small machine slapd shares the cores with what reads from it;
    over LDAP three processes are busy on two vCPUs (the audit's two and
    slapd), and slapd spends more the slower its reader takes what it sends
    (docs/performance.md, *Session 19*: 2.3 times more at 200,000 people than
    at 100,000 beside the audit, ~2.05 times beside ``ldapsearch``). The
    report shows it beside every LDAP measurement instead of leaving it to
    be measured by hand; it corrects nothing."""
    def go(*args: Any, **kwargs: Any) -> dict[str, Any]:
        before = process_cpu_s(pid)
        result = task(*args, **kwargs)
        after = process_cpu_s(pid)
        if before is not None and after is not None:
            result["server_cpu_s"] = after - before
        return result

    return go


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

    tasks = {"ldapsearch": ldapsearch(piped=False), "ldapsearch_piped": ldapsearch(piped=True),
             "ldap3_bare": bare, "audit_ldap": audit("ldap"),
             "audit_ldap_1job": audit("ldap", "1"),
             "audit_ldif": audit("ldif"), "proxies_audit_ldap": proxies_audit,
             "directory_parse": directory,
             "reader_1": partitions(1), "reader_2x": partitions(2)}
    # every measurement that reads from slapd says what slapd spent meanwhile
    return {name: task if name in ("audit_ldif", "directory_parse")
            else with_server_cpu(task, info.pid) for name, task in tasks.items()}


# ---------------------------------------------------------------- rounds and summaries


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


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
    if runs and all("server_cpu_s" in r for r in runs):
        out["server_cpu_s_runs"] = [round(r["server_cpu_s"], 2) for r in runs]
        out["server_cpu_s"] = round(median([r["server_cpu_s"] for r in runs]), 3)
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
