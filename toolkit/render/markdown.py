"""``ccmig report --format md``: the report as Markdown, to paste into a ticket.

Directory values are escaped for Markdown *and* for the HTML that ticket
systems let through: control characters (line breaks included, which would
break a table) become U+FFFD, and ``\\ ` * _ [ ] < > | & # ~ !`` get a
backslash, so a name can neither end a table cell, open a code span, nor
smuggle in a link or a tag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TextIO

from toolkit.history import current_run, trend_statuses
from toolkit.render.report import SEVERITIES, Report, input_items, severity_of
from toolkit.text import printable

_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#~!])")


def md(value: object) -> str:
    """A Markdown-inert rendering of a directory value (``—`` for none)."""
    if value is None or value == "":
        return "—"
    return _SPECIAL.sub(r"\\\1", printable(str(value), surrogates=True))


def code(value: str) -> str:
    """A known-safe token (status, severity) as a code span."""
    return f"`{value.replace('`', '')}`"


def table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]],
          right: Sequence[int] = ()) -> None:
    out.write("| " + " | ".join(header) + " |\n")
    out.write("|" + "|".join("---:" if i in right else "---" for i in range(len(header)))
              + "|\n")
    for r in rows:
        out.write("| " + " | ".join(r) + " |\n")
    out.write("\n")


def write_markdown(report: Report, out: TextIO) -> None:
    stamp = report.generated.strftime("%Y-%m-%d %H:%M UTC")
    rows = report.rows
    out.write(f"# {md(report.title)}\n\nGenerated {stamp} by ccmig {md(report.version)}: "
              f"{len(rows)} rows, {report.needing_action} needing action, "
              f"{len(rows) - report.needing_action} complete.\n\n")

    out.write("## Rows per status\n\n")
    table(out, ("Status", "Severity", "Rows"),
          [(code(s), severity_of(s), str(n)) for s, n in report.by_status()], right=(2,))

    out.write("## Rows per old post office\n\n")
    table(out, ("Old post office", "Rows", *SEVERITIES),
          [(md(po), str(c["rows"]), *(str(c[s]) for s in SEVERITIES))
           for po, c in report.by_post_office()], right=range(1, 2 + len(SEVERITIES)))

    out.write("## What to do\n\n")
    groups = report.groups()
    if not groups:
        out.write("Nothing to do: every row is complete.\n\n")
    for g in groups:
        n = len(g.rows)
        out.write(f"### {code(g.status)} ({g.severity}) — {n} {'row' if n == 1 else 'rows'}\n\n")
        for action in g.actions:
            out.write(f"**Do:** {md(action)}\n\n")
        table(out, ("cc:Mail name", "Old PO", "Route", "DN or key", "Other findings"),
              [(md(r.ccmail_name), md(r.old_post_office), md(r.route), md(r.dn or r.key),
                md(", ".join(f.code for f in r.findings[1:]))) for r in g.rows])

    if report.runs is not None:
        _trend(report, out)

    out.write("## Inputs\n\n")
    items = input_items(report.inputs)
    if report.exchange_pos:
        items.append(("Exchange post office(s) used", ", ".join(report.exchange_pos)))
    for key, value in items:
        out.write(f"- {md(key)}: {md(value)}\n")
    out.write("\nFinding codes are explained in docs/findings.md. Secrets are never written "
              "into a report.\n")


def _trend(report: Report, out: TextIO) -> None:
    runs = list(report.runs or [])
    out.write("## Trend\n\n")
    if not runs:
        out.write("No recorded runs yet: record runs with `ccmig audit --record DIR`.\n\n")
        return
    series = [*runs, current_run(report.rows, when=report.generated)]
    statuses = trend_statuses(series)
    table(out, ("Run (UTC)", "Rows", *(code(s) for s in statuses)),
          [(md(r.timestamp) + ("" if r.path else " (this report)"), str(r.total),
            *(str(r.counts.get(s, 0)) for s in statuses)) for r in series],
          right=range(1, 2 + len(statuses)))
    changes = report.changes_since_latest()
    out.write(f"### Changes since the latest recorded run ({md(runs[-1].timestamp)})\n\n")
    if not changes:
        out.write("No person's status, route or findings changed.\n\n")
        return
    table(out, ("Change", "cc:Mail name", "Old PO", "Status", "Route", "Findings +", "Findings −"),
          [(c.change, md(c.ccmail_name or c.key), md(c.old_post_office),
            f"{md(c.status[0])} → {md(c.status[1])}", f"{md(c.route[0])} → {md(c.route[1])}",
            md(", ".join(c.findings_added)), md(", ".join(c.findings_removed)))
           for c in changes])
