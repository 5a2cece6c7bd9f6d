"""``ccmig report``: the audit as one self-contained HTML page (or Markdown for a
ticket) — counts and charts, who needs what done, every row, and the trend of
recorded runs."""

from __future__ import annotations

import click

from toolkit.audit import run_audit
from toolkit.cli.common import (
    FAIL_ON,
    CcmigCommand,
    exit_code,
    global_options,
    open_output,
    profile_of,
)
from toolkit.cli.inputs import audit_inputs, input_options
from toolkit.history import load_runs
from toolkit.recorded import record_inputs
from toolkit.render.html import write_html
from toolkit.render.markdown import write_markdown
from toolkit.render.report import DEFAULT_TITLE, Report

REPORT_FORMATS = ("html", "md")


def format_for(fmt: str | None, output: str | None) -> str:
    """--format, else from the output's extension (.md/.markdown: md), else html."""
    if fmt:
        return fmt
    return "md" if output and output.lower().endswith((".md", ".markdown")) else "html"


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig report --ldif org.ldif --ccmail-dir HUBPO.txt --ccmail-dir PO1.txt \\
      --exchange-po EXCH -o report.html
  ccmig report --profile prod --record runs/ -o report.html
  ccmig report --profile prod --format md -o ticket.md
""")
@input_options
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default=None,
              help="html: one self-contained page; md: Markdown for tickets "
                   "[default: md for a .md output, else html].")
@click.option("--output", "-o", metavar="FILE",
              help="Write to FILE (atomically) instead of stdout.")
@click.option("--record", metavar="DIR",
              help="Add the trend of the runs recorded in DIR (by `ccmig audit --record DIR`) "
                   "and what changed since the latest.")
@click.option("--title", default=DEFAULT_TITLE, metavar="TEXT",
              help="The report's title.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="warning", show_default=True,
              help="Exit 1 when a reported finding is this severe.")
@global_options
@click.pass_context
def report(ctx: click.Context, fmt: str | None, output: str | None, record: str | None,
           title: str, fail_on: str, **params) -> int:
    """Write a report of the audit: counts per status and per old post office
    (charts), the people needing action grouped by what to do, every row, the
    inputs it was made from (never a secret), and with --record the trend.

    The HTML page needs no network and no script: mail it, archive it, open it
    offline.
    """
    fmt = format_for(fmt, output)
    runs = load_runs(record) if record else None  # a bad DIR fails before the audit
    profile = profile_of(ctx).name
    with audit_inputs(params, profile) as inputs:
        result = run_audit(inputs)
    rows = list(result.rows)  # made once: every section of the report reads these
    the_report = Report(rows=rows, inputs=record_inputs(params, profile),
                        exchange_pos=result.exchange_pos, title=title, runs=runs)
    with open_output(output) as out:
        (write_markdown if fmt == "md" else write_html)(the_report, out)
    return exit_code(rows, fail_on)
