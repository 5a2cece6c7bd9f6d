"""``ccmig audit``, ``ccmig check`` and ``ccmig recipients``: thin wrappers
over :func:`toolkit.audit.run_audit` and the renderers."""

from __future__ import annotations

from collections.abc import Sequence

import click

from toolkit.audit import read_recipients, run_audit
from toolkit.cli.common import (
    CcmigCommand,
    exit_code,
    finished,
    global_options,
    open_output,
    output_options,
    profile_of,
)
from toolkit.cli.inputs import audit_inputs, input_options
from toolkit.errors import InputError
from toolkit.identity import filter_rows, identities_given, match_rows
from toolkit.model import Row
from toolkit.recorded import record_audit
from toolkit.render import write_rows
from toolkit.rules import STATUSES
from toolkit.text import fold, printable


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig audit --ldif org.ldif --ccmail-dir HUBPO.txt --ccmail-dir PO1.txt \\
      --exchange-po EXCH
  ccmig audit --ldap-url ldaps://dc01 --base-dn DC=corp,DC=example \\
      --bind-dn 'CORP\\svc' --ccmail-dir PO1=po1.txt --format json -o audit.json
  ccmig audit --profile prod --status stale-ccmail-mailbox --format csv
""")
@input_options
@output_options
@click.option("--post-office", "post_offices", multiple=True, metavar="PO",
              help="Show only rows whose old post office is PO (repeatable).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Show only rows with this status (repeatable).")
@click.option("--record", metavar="DIR",
              help="Also record this run in DIR (the whole audit; for history, diff, report).")
@global_options
@click.pass_context
def audit(ctx: click.Context, fmt: str, output: str | None, fail_on: str,
          fields: list[str] | None, post_offices: tuple[str, ...], statuses: tuple[str, ...],
          record: str | None, **params) -> int:
    """Audit every Exchange recipient and cc:Mail user: where mail from cc:Mail
    users goes today, and what to do about it.

    Filters (--post-office, --status) change what is shown, never what the
    rules see: the whole directory is always read.
    """
    with audit_inputs(params, profile_of(ctx).name) as inputs:
        rows = run_audit(inputs).rows
    if record:
        rows = list(rows)  # made once: the record, the output and the exit code reuse them
        record_audit(record, rows, params, profile_of(ctx).name)
    rows = filter_rows(rows, post_offices, statuses)
    with open_output(output) as out:
        write_rows(rows, fmt, out, fields)
    return finished(exit_code(rows, fail_on))  # (the analysis is not freed object by object)


def suggest(rows: Sequence[Row], ident: str, most: int = 3) -> str:
    """``'Wood, Ursula'`` (up to ``most`` whole names holding ``ident``): identities
    match whole values only, and a first-day admin types ``Wood``."""
    part = fold(ident)
    if len(part) < 2:
        return ""
    names = sorted({r.ccmail_name for r in rows if r.ccmail_name and part in fold(r.ccmail_name)},
                   key=lambda n: (fold(n), n))
    if not names:
        return ""
    shown = " or ".join(repr(printable(n)) for n in names[:most])
    return shown + (" or ..." if len(names) > most else "")


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig check --ldif org.ldif --ccmail-dir PO1.txt --exchange-po EXCH \\
      'Smith, John' jsmith@corp.example
  ccmig check --profile prod --from-file wave3.csv --format csv
  echo 'Doe, Jane at PO2' | ccmig check --profile prod --from-file -
""")
@click.argument("identities", nargs=-1)
@click.option("--from-file", metavar="FILE",
              help="Identities from a CSV with an 'identity' column, or one per line ('-' = stdin).")
@input_options
@output_options
@global_options
@click.pass_context
def check(ctx: click.Context, identities: tuple[str, ...], from_file: str | None, fmt: str,
          output: str | None, fail_on: str, fields: list[str] | None, **params) -> int:
    """Show the rows of particular people: DN, alias, sAMAccountName, UPN, SMTP
    address, cc:Mail name or 'name at PO'."""
    wanted = identities_given(identities, from_file)
    with audit_inputs(params, profile_of(ctx).name) as inputs:
        rows = run_audit(inputs).rows
    shown, unmatched = match_rows(rows, wanted)
    for ident in unmatched:
        click.echo(f"ccmig: no row matches identity {ident!r}", err=True)
    for ident in unmatched:  # after the list of misses, which scripts may read line by line
        hint = suggest(rows, ident)
        if hint:
            click.echo(f"ccmig: for {printable(repr(ident))}, did you mean {hint}?", err=True)
    if not shown:
        raise InputError("no identity matched any row", "IDENTITY")
    with open_output(output) as out:
        write_rows(shown, fmt, out, fields, details=True)
    return exit_code(shown, fail_on)


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig recipients --ldif org.ldif
  ccmig recipients --ldap-url ldaps://dc01 --base-dn DC=corp,DC=example --format json
""")
@input_options
@click.option("--format", "fmt", type=click.Choice(("table", "json", "jsonl", "ndjson", "csv")),
              default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.")
@global_options
@click.pass_context
def recipients(ctx: click.Context, fmt: str, output: str | None, **params) -> int:
    """List the Exchange objects that carry cc:Mail addresses, value by value."""
    from toolkit.render.recipients import write_recipients

    params = {**params, "ccmail_dirs": ()}
    with audit_inputs(params, profile_of(ctx).name) as inputs:
        found = read_recipients(inputs)
    with open_output(output) as out:
        write_recipients(found, fmt, out)
    return 0
