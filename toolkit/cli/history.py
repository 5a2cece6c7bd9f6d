"""``ccmig history`` and ``ccmig diff``: follow the clean-up over recorded runs.

Runs are recorded opt-in by ``ccmig audit --record DIR`` (one JSON file a run,
see :mod:`toolkit.history`); these commands only read them, so they need no
directory access and no secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from toolkit.cli.common import CcmigCommand, global_options, open_output
from toolkit.errors import InputError
from toolkit.history import (
    STATUSES,
    Change,
    Run,
    count_delta,
    diff_runs,
    load_runs,
    record_run,
    resolve_run,
    trend_statuses,
)
from toolkit.model import Row
from toolkit.render.csvout import write_table_csv
from toolkit.render.jsonout import dumps
from toolkit.render.table import clean

log = logging.getLogger(__name__)
FORMATS = ("table", "json", "csv")


def record_inputs(params: dict[str, Any], profile: str | None = None) -> dict[str, Any]:
    """The audit inputs of a run as recorded (paths absolute; never a secret)."""
    from toolkit.cli.remediate import recorded_inputs

    inputs = recorded_inputs(params)
    return {"profile": profile, **inputs} if profile else inputs


def record_audit(directory: str, rows: Sequence[Row], params: dict[str, Any],
                 profile: str | None = None) -> Path:
    """``audit --record DIR``: record the whole (unfiltered) audit in DIR."""
    path = record_run(directory, rows, record_inputs(params, profile))
    log.info("recorded this run: %s", path)
    return path


def _need_record(record: str | None) -> str:
    if not record:
        raise InputError("give the run record directory (--record DIR, or 'record' in the "
                         "profile)", "--record")
    return record


def when(run: Run) -> str:
    """A run's timestamp for people: ``2026-05-01 09:30:00``."""
    return clean(run.timestamp[:19].replace("T", " "))


# --------------------------------------------------------------------------- history


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig audit --profile prod --record runs/ -o audit.csv --format csv
  ccmig history --record runs/
  ccmig history --record runs/ --last 10 --format csv -o trend.csv
""")
@click.option("--record", metavar="DIR",
              help="The run record directory that `ccmig audit --record DIR` writes.")
@click.option("--last", type=click.IntRange(1), metavar="N", help="Only the last N runs.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="Output format.")
@click.option("--output", "-o", metavar="FILE",
              help="Write to FILE (atomically) instead of stdout.")
@global_options
def history(record: str | None, last: int | None, fmt: str, output: str | None) -> int:
    """Show how the count of each status changed over the recorded runs,
    one line per run, oldest first."""
    runs = load_runs(_need_record(record))
    if last:
        runs = runs[-last:]
    if not runs and fmt == "table":
        click.echo(f"ccmig: no runs recorded in {record} (ccmig audit --record DIR records "
                   "one)", err=True)
    with open_output(output) as out:
        write_history(runs, fmt, out)
    return 0


def write_history(runs: Sequence[Run], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write("[" + ",".join(
            "\n  " + dumps({"timestamp": r.timestamp, "record": r.name, "total": r.total,
                            "counts": {s: r.counts.get(s, 0) for s in STATUSES}})
            for r in runs) + ("\n]\n" if runs else "]\n"))
    elif fmt == "csv":
        write_table_csv(("timestamp", "record", "total", *STATUSES),
                        ([r.timestamp, r.name, r.total, *(r.counts.get(s, 0) for s in STATUSES)]
                         for r in runs), out)
    elif runs:
        statuses = trend_statuses(runs)
        header = ["RUN (UTC)", "ROWS", *statuses]
        lines = [[when(r), str(r.total), *(str(r.counts.get(s, 0)) for s in statuses)]
                 for r in runs]
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
        for line in [header, *lines]:
            cells = [line[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
            out.write("  ".join(cells).rstrip() + "\n")


# --------------------------------------------------------------------------- diff


@click.command(cls=CcmigCommand, epilog="""\b
RUN is a run file's path, its name inside --record DIR, or 'latest' / 'previous'
(with --record DIR). Without RUN1 RUN2: previous -> latest.

\b
Examples:
  ccmig diff --record runs/
  ccmig diff --record runs/ previous latest --format csv -o changes.csv
  ccmig diff runs/ccmig-run-20260501T093000.000000Z.json \\
      runs/ccmig-run-20260508T093000.000000Z.json
""")
@click.argument("runs", nargs=-1, metavar="[RUN1 RUN2]")
@click.option("--record", metavar="DIR",
              help="The run record directory that `ccmig audit --record DIR` writes.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="Output format.")
@click.option("--output", "-o", metavar="FILE",
              help="Write to FILE (atomically) instead of stdout.")
@global_options
def diff(runs: tuple[str, ...], record: str | None, fmt: str, output: str | None) -> int:
    """Person by person, what changed between two recorded runs: status, route,
    findings added or removed, people added or gone."""
    if not runs:
        refs = ("previous", "latest")
        _need_record(record)
    elif len(runs) == 2:
        refs = (runs[0], runs[1])
    else:
        raise InputError("give two runs (RUN1 RUN2), or none and --record DIR for "
                         "previous -> latest", "RUN")
    before, after = (resolve_run(ref, record) for ref in refs)
    changes = diff_runs(before, after)
    with open_output(output) as out:
        write_diff(before, after, changes, fmt, out)
    return 0


DIFF_COLUMNS = ("key", "change", "ccmail_name", "old_post_office", "status_before",
                "status_after", "route_before", "route_after", "findings_added",
                "findings_removed")


def _run_ref(run: Run) -> dict[str, Any]:
    return {"timestamp": run.timestamp, "record": str(run.path) if run.path else None}


def write_diff(before: Run, after: Run, changes: Sequence[Change], fmt: str,
               out: TextIO) -> None:
    if fmt == "json":
        data = {"before": _run_ref(before), "after": _run_ref(after),
                "counts": [{"status": s, "before": a, "after": b}
                           for s, a, b in count_delta(before, after)],
                "changes": [c.as_dict() for c in changes]}
        out.write(dumps(data) + "\n")
        return
    if fmt == "csv":
        write_table_csv(DIFF_COLUMNS, (
            [c.key, c.change, c.ccmail_name, c.old_post_office, c.status[0], c.status[1],
             c.route[0], c.route[1], " ".join(c.findings_added), " ".join(c.findings_removed)]
            for c in changes), out)
        return
    out.write(f"From {when(before)} ({clean(before.name)}) to {when(after)} "
              f"({clean(after.name)}):\n\n")
    mark = {"changed": "~", "added": "+", "removed": "-"}
    for c in changes:
        po = f"  ({clean(c.old_post_office)})" if c.old_post_office else ""
        out.write(f"{mark[c.change]} {clean(c.ccmail_name or c.key)}{po}\n")
        out.write(f"    key       {clean(c.key)}\n")
        out.write(f"    status    {_pair(c.status)}\n")
        if c.route[0] != c.route[1]:
            out.write(f"    route     {_pair(c.route)}\n")
        moved = [f"+{x}" for x in c.findings_added] + [f"-{x}" for x in c.findings_removed]
        if moved and c.change == "changed":
            out.write(f"    findings  {' '.join(clean(m) for m in moved)}\n")
    counts = {k: sum(1 for c in changes if c.change == k) for k in ("changed", "added", "removed")}
    if changes:
        out.write("\n")
    out.write(f"{counts['changed']} changed, {counts['added']} added, {counts['removed']} "
              f"removed ({before.total} -> {after.total} rows).\n")
    delta = count_delta(before, after)
    if delta:
        width = max(len(s) for s, _, _ in delta) + 2
        out.write(f"\n  {'STATUS':<{width}}{'BEFORE':>8}{'AFTER':>8}{'CHANGE':>8}\n")
        for s, a, b in delta:
            change = f"{b - a:+d}" if b != a else ""
            out.write(f"  {clean(s):<{width}}{a:>8}{b:>8}{change:>8}\n")


def _pair(pair: tuple[str | None, str | None]) -> str:
    a, b = pair
    if a == b:
        return clean(a)
    return f"{clean(a)} -> {clean(b)}"

