"""``ccmig history`` and ``ccmig diff`` output: the trend table and the
person-by-person changes, as a table, JSON or CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from toolkit.history import STATUSES, Change, Run, count_delta, trend_statuses
from toolkit.render.csvout import write_table_csv
from toolkit.render.jsonout import dumps
from toolkit.render.table import clean


def when(run: Run) -> str:
    """A run's timestamp for people: ``2026-05-01 09:30:00``."""
    return clean(run.timestamp[:19].replace("T", " "))


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
