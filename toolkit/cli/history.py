"""``ccmig history`` and ``ccmig diff``: follow the clean-up over recorded runs.

Runs are recorded opt-in by ``ccmig audit --record DIR`` (one JSON file a run,
see :mod:`toolkit.history`); these commands only read them, so they need no
directory access and no secrets.
"""

from __future__ import annotations

import click

from toolkit.cli.common import CcmigCommand, global_options, open_output
from toolkit.errors import InputError
from toolkit.history import diff_runs, load_runs, resolve_run
from toolkit.render.history import write_diff, write_history

FORMATS = ("table", "json", "csv")


def _need_record(record: str | None) -> str:
    if not record:
        raise InputError("give the run record directory (--record DIR, or 'record' in the "
                         "profile)", "--record")
    return record


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


