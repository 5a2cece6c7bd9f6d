"""``ccmig addresses`` and ``ccmig stats``: read Exchange through remote PowerShell."""

from __future__ import annotations

import click

from toolkit.cli.common import CcmigCommand, global_options, open_output, profile_of
from toolkit.cli.inputs import exchange_options, powershell_session
from toolkit.errors import InputError
from toolkit.identity import identities_given
from toolkit.render.exchange import write_addresses, write_mailbox_stats

FORMATS = ("table", "json", "jsonl", "ndjson", "csv")
output_option = click.option("--output", "-o", metavar="FILE",
                             help="Write to FILE instead of stdout.")


def identity_inputs(f):
    """IDENTITY... arguments, --from-file, and the Exchange connection options."""
    f = exchange_options(f)
    f = click.option("--from-file", metavar="FILE", help="Identities from a CSV with an "
                     "'identity' column, or one per line ('-' = stdin).")(f)
    return click.argument("identities", nargs=-1)(f)


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
    wanted = identities_given(identities, from_file)
    with _session(params, ctx) as session:
        results = session.email_addresses(wanted)
    with open_output(output) as out:
        write_addresses(results, fmt, out)
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
    wanted = identities_given(identities, from_file)
    with _session(params, ctx) as session:
        results = session.mailbox_stats(wanted)
    with open_output(output) as out:
        write_mailbox_stats(results, fmt, out)
    return _report_missing(results)
