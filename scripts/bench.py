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
speed moved during the run; no number is corrected by it. Every
measurement that reads from slapd also says what CPU time slapd spent
during it (``server_cpu_s``; with ``--linearity`` its 2N/N beside (c)):
over LDAP slapd shares the cores with what reads from it.

The audit runs with ``--mailbox-stats`` (so the search asks for every
mailbox too): the heaviest case. Everything runs on 127.0.0.1 in a
temporary directory that is removed afterwards (``--keep`` keeps it).

    scripts/bench                      # N=100000, 3 rounds
    scripts/bench -n 20000 --repeat 5 --json bench.json
    scripts/bench --quick              # small N for CI
    scripts/bench --linearity          # also 2N, in the same rounds (a second org and slapd)

The parts sit next to this file (``scripts/`` is not a package): one
command's process tree measured in ``bench_process.py``, the organisation,
the measurements, the rounds and the summaries in
``bench_measurements.py``, remote PowerShell in ``bench_powershell.py``;
this file keeps the command line, the targets and the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The parts beside this file are imported from its folder, which is on sys.path
# when it runs as a script but not when it is loaded by its path (tests/test_bench.py).
sys.path.insert(1, str(Path(__file__).resolve().parent))

from bench_measurements import (  # noqa: E402
    TWICE,
    build,
    compile_toolkit,
    machine_speed,
    measurements,
    memory_pass,
    rounds,
    same_rows,
    summarise,
    with_memory,
)
from bench_measurements import speed_probe as speed_probe  # noqa: E402 - for tests/test_bench.py
from bench_powershell import powershell  # noqa: E402
from toolkit.mocks.slapd import server as slapd  # noqa: E402

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
             f"{'measurement':32s}{'median s':>10s}{'peak RSS MB':>13s}{'tree PSS MB':>13s}"
             f"{'slapd CPU s':>13s}"]
    speed = report["machine"].get("speed_probe")
    if speed:
        lines.insert(1, f"machine speed: a fixed loop took {speed['min_s']:.3f}-"
                        f"{speed['max_s']:.3f} s before the {speed['runs']} timed runs "
                        f"(slowest / fastest {speed['max_over_min']:.2f})")
    for label, v in rows:
        rss = f"{v['peak_rss_mb']:.0f}" if "peak_rss_mb" in v else "-"
        pss = f"{v['tree_pss_mb']:.0f}" if v.get("tree_pss_mb") else "-"
        server = f"{v['server_cpu_s']:.2f}" if "server_cpu_s" in v else "-"
        lines.append(f"{label:32s}{v['median_s']:10.2f}{rss:>13s}{pss:>13s}{server:>13s}")
    lines.append("")
    for name, value in report["ratios"].items():
        lines.append(f"{name:32s}{value:10.2f}")
    if "linearity" in report:
        lin = report["linearity"]
        lines.append(f"{'2N/N audit over LDAP':32s}{lin['audit_ldap_ratio']:10.2f}")
        lines.append(f"{'2N/N audit --ldif':32s}{lin['audit_ldif_ratio']:10.2f}")
        if "audit_ldap_server_cpu_ratio" in lin:
            lines.append(f"{'2N/N slapd CPU, audit over LDAP':32s}"
                         f"{lin['audit_ldap_server_cpu_ratio']:10.2f}")
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
                # slapd's CPU beside the audit over LDAP, 2N over N (reported, no target)
                **({"audit_ldap_server_cpu_ratio": round(
                    m2["audit_ldap"]["server_cpu_s"] / m["audit_ldap"]["server_cpu_s"], 3)}
                   if m["audit_ldap"].get("server_cpu_s") and "server_cpu_s" in m2["audit_ldap"]
                   else {}),
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
