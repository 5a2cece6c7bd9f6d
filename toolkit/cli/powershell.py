"""``ccmig addresses`` and ``ccmig stats``: read Exchange through remote PowerShell."""

from __future__ import annotations

import click

from toolkit.cli.common import CcmigCommand, global_options, open_output, profile_of
from toolkit.cli.inputs import exchange_options, powershell_session
from toolkit.errors import InputError
from toolkit.identity import read_identity_file
from toolkit.render.csvout import write_table_csv
from toolkit.render.jsonout import dumps, write_json_list
from toolkit.render.table import clean, fit

FORMATS = ("table", "json", "jsonl", "ndjson", "csv")
output_option = click.option("--output", "-o", metavar="FILE",
                             help="Write to FILE instead of stdout.")


def identity_inputs(f):
    """IDENTITY... arguments, --from-file, and the Exchange connection options."""
    f = exchange_options(f)
    f = click.option("--from-file", metavar="FILE", help="Identities from a CSV with an "
                     "'identity' column, or one per line ('-' = stdin).")(f)
    return click.argument("identities", nargs=-1)(f)


def _identities(identities: tuple[str, ...], from_file: str | None) -> list[str]:
    wanted = list(identities) + (read_identity_file(from_file) if from_file else [])
    if not wanted:
        raise InputError("no identity given (arguments or --from-file)", "IDENTITY")
    return wanted


def _session(params: dict, ctx: click.Context):
    if not params["exchange_uri"]:
        raise InputError("--exchange-uri is required (or set exchange-uri in the profile)",
                         "--exchange-uri")
    return powershell_session(params, profile_of(ctx).name)


def _report_missing(results) -> int:
    for r in results:
        if not r.found:
            click.echo(f"ccmig: {r.identity!r}: {r.error or 'not found'}", err=True)
    if not any(r.found for r in results):
        raise InputError("no identity was found in Exchange", "IDENTITY")
    return 0


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig addresses --exchange-uri https://exch01/PowerShell jsmith 'Doe, Jane'
  ccmig addresses --profile prod --from-file wave3.csv --format csv -o addresses.csv
""")
@identity_inputs
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@output_option
@global_options
@click.pass_context
def addresses(ctx: click.Context, identities: tuple[str, ...], from_file: str | None, fmt: str,
              output: str | None, **params) -> int:
    """EmailAddresses of each identity as Exchange returns them (batched)."""
    wanted = _identities(identities, from_file)
    with _session(params, ctx) as session:
        results = session.email_addresses(wanted)
    with open_output(output) as out:
        if fmt == "json":
            write_json_list((r.as_dict() for r in results), out)
        elif fmt in ("jsonl", "ndjson"):
            for r in results:
                out.write(dumps(r.as_dict()) + "\n")
        elif fmt == "csv":
            write_table_csv(("identity", "dn", "found", "address"),
                            ([r.identity, r.dn, "true" if r.found else "false", a]
                             for r in results for a in (r.addresses or [None])), out)
        else:
            for r in results:
                out.write(f"{fit(clean(r.identity), 30)}  {clean(r.dn) if r.found else 'NOT FOUND'}\n")
                for a in r.addresses:
                    out.write(f"    {clean(a)}\n")
    return _report_missing(results)


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig stats --exchange-uri https://exch01/PowerShell jsmith
  ccmig stats --profile prod --from-file wave3.csv --format csv -o stats.csv
""")
@identity_inputs
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@output_option
@global_options
@click.pass_context
def stats(ctx: click.Context, identities: tuple[str, ...], from_file: str | None, fmt: str,
          output: str | None, **params) -> int:
    """Mailbox item counts (Get-MailboxStatistics); csv is a --mailbox-stats file."""
    wanted = _identities(identities, from_file)
    with _session(params, ctx) as session:
        results = session.mailbox_stats(wanted)
    rows = [{"identity": r.identity, "dn": r.dn, "found": r.found, "item_count": r.item_count}
            for r in results]
    with open_output(output) as out:
        if fmt == "json":
            write_json_list(rows, out)
        elif fmt in ("jsonl", "ndjson"):
            for row in rows:
                out.write(dumps(row) + "\n")
        elif fmt == "csv":  # the --mailbox-stats format: DN identities resolve exactly
            write_table_csv(("identity", "item_count"),
                            ([r.dn, r.item_count] for r in results
                             if r.found and r.item_count is not None), out)
        else:
            for r in results:
                count = r.item_count if r.item_count is not None else "-"
                out.write(f"{fit(clean(r.identity), 40):<40}  {count!s:>10}  {clean(r.dn)}\n")
    return _report_missing(results)
