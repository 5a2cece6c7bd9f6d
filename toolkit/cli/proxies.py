"""``ccmig proxies``: legacy proxy hygiene (spec: Legacy proxy hygiene).

Thin commands over :mod:`toolkit.proxies`: options in, a library call, a
renderer. Every rule and refusal lives in the library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from toolkit.cli.common import (
    FAIL_ON,
    CcmigCommand,
    CcmigGroup,
    exit_code,
    finished,
    global_options,
    open_output,
    profile_of,
)
from toolkit.cli.inputs import (
    CCMAIL_OPTIONS,
    EXCHANGE_OPTIONS,
    SOURCE_OPTIONS,
    TRANSPORT_OPTIONS,
    ldap_settings,
    powershell_session,
    resolve_source,
)
from toolkit.errors import InputError
from toolkit.progress import counting, counting_source
from toolkit.proxies import ProxyInputs, prepare_audit, proxies_plan, proxies_types
from toolkit.proxies.report import DEFAULT_TITLE
from toolkit.render.proxies import (
    FORMATS,
    PLAN_FORMATS,
    write_audit_ranges,
    write_proxy_plan,
    write_types,
)

PROXY_OPTIONS = [
    click.option("--retire", multiple=True, metavar="TYPE",
                 help="An address type that no longer routes (repeatable; ASCII letters, digits, "
                      "'-'; SMTP, X500, SIP and EUM are refused)."),
    click.option("--ccmail-decommissioned", is_flag=True, default=False,
                 help="cc:Mail is gone: evidence enough to retire CCMAIL without --ccmail-dir."),
]


MAX_VALUES = click.option("--max-values", type=click.IntRange(0), metavar="N",
                          help="Flag objects with more than N address values.")


def _apply(f: Callable, options: list[Callable]) -> Callable:
    for option in reversed(options):
        f = option(f)
    return f


def proxy_input_options(f: Callable) -> Callable:
    """The audit's Exchange-side inputs and ``--ccmail-dir`` (no ``--exchange-po``
    nor ``--mailbox-stats``: proxies need neither), ``--retire``, and the remote
    PowerShell options (``--source powershell``; policies with ``--exchange-uri``)."""
    return _apply(f, [*SOURCE_OPTIONS, *CCMAIL_OPTIONS, *PROXY_OPTIONS, *TRANSPORT_OPTIONS,
                      *EXCHANGE_OPTIONS])


def format_options(f: Callable) -> Callable:
    return _apply(f, [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                     show_default=True, help="Output format (ndjson = jsonl)."),
        click.option("--output", "-o", metavar="FILE",
                     help="Write to FILE (atomically) instead of stdout."),
    ])


@contextmanager
def proxy_inputs(params: dict[str, Any], profile: str,
                 max_values: int | None = None) -> Iterator[ProxyInputs]:
    """:class:`ProxyInputs` from the options. The LDAP and Exchange passwords
    are asked for only when they are used, after the inputs were validated.

    ``--source powershell`` reads every recipient with ``Get-Recipient``
    (streamed, as ``audit --source powershell``); ``--exchange-uri`` with any
    source also reads ``Get-EmailAddressPolicy`` (``types.policies``, plan
    ``blocked``). One session serves both and is closed on the way out.
    """
    from toolkit.cli.prefetch import prefetched
    from toolkit.proxies.inventory import policy_types
    from toolkit.proxies.read import AD, LDAP_ATTRIBUTES, LDAP_FILTERS, LDIF_ATTRIBUTES

    kind = resolve_source(params)
    dialect = params["dialect"]
    remote = bool(params["exchange_uri"])
    opened: list = []  # the one session, opened on first use

    def exchange():
        if not opened:
            opened.append(powershell_session(params, profile).open())
        return opened[0]

    def policies():
        return policy_types((p.name, p.enabled) for p in exchange().email_address_policies())

    # LDIF and LDAP are read in chunks, decoded in two processes (proxies.read.decoded_parts)
    label = "directory objects read"
    if kind == "ldif":
        from toolkit.exchange.ldif_chunks import ldif_entries

        def source():
            return counting_source(ldif_entries(params["ldif"], LDIF_ATTRIBUTES), label)
    elif kind == "ldap":

        def source():  # imported while a worker reads cc:Mail exports (prefetched)
            from toolkit.exchange.ldap import read_ldap_chunks

            settings = ldap_settings(params, profile)
            return counting_source(read_ldap_chunks(settings, LDAP_FILTERS[dialect],
                                                    LDAP_ATTRIBUTES[dialect]), label)
    else:
        if not remote:
            raise InputError("--source powershell needs --exchange-uri URI", "--source")
        if dialect != AD:
            raise InputError("--source powershell reads the AD dialect only", "--dialect")

        def source():
            return counting(exchange().iter_recipients(), "recipients read")
    dirs = params["ccmail_dirs"]
    # the last exports read by a forked worker meanwhile, as the audit's (cli/prefetch)
    with prefetched(dirs, params["ccmail_encoding"], None, kind == "ldap") as ahead:
        directory = ahead.directory() if dirs else None
    try:
        yield ProxyInputs(source=source, dialect=dialect, directory=directory,
                          retire=tuple(params["retire"]),
                          ccmail_decommissioned=params["ccmail_decommissioned"],
                          max_values=max_values,
                          policies=policies if remote else None)
    finally:
        for session in opened:
            session.close()


@click.group("proxies", cls=CcmigGroup, epilog="""\b
Examples:
  ccmig proxies types --ldif org.ldif
  ccmig proxies audit --ldif org.ldif --retire MS --retire CCMAIL --ccmail-dir PO1.txt
  ccmig proxies plan --ldif org.ldif --retire MS -o plan.json
""")
@global_options
def proxies_group() -> None:
    """Legacy proxy hygiene: find the addresses nothing routes any more
    (CCMAIL:, MS:, X400: ...) and every other proxy defect."""


@proxies_group.command("types", cls=CcmigCommand, epilog="""\b
Examples:
  ccmig proxies types --ldif org.ldif --retire MS
  ccmig proxies types --ldap-url ldaps://dc01 --base-dn DC=corp,DC=example --format csv
""")
@proxy_input_options
@format_options
@global_options
@click.pass_context
def proxies_types_command(ctx: click.Context, fmt: str, output: str | None, **params) -> int:
    """Address types in use: objects, values and primaries per type, whether
    --retire names it, and (with --exchange-uri) the email address policies
    whose enabled templates still generate it."""
    with proxy_inputs(params, profile_of(ctx).name) as inputs:
        rows = proxies_types(inputs)
    with open_output(output) as out:
        write_types(rows, fmt, out)
    return 0


@proxies_group.command("audit", cls=CcmigCommand, epilog="""\b
Examples:
  ccmig proxies audit --ldif org.ldif --retire MS --retire CCMAIL \\
      --ccmail-dir PO1.txt --ccmail-dir PO2.txt --format json -o proxies.json
  ccmig proxies audit --ldif org.ldif --retire CCMAIL --ccmail-decommissioned \\
      --max-values 200 --format csv
""")
@proxy_input_options
@MAX_VALUES
@format_options
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="warning", show_default=True,
              help="Exit 1 when a finding is this severe.")
@global_options
@click.pass_context
def proxies_audit_command(ctx: click.Context, fmt: str, output: str | None, fail_on: str,
                          max_values: int | None, **params) -> int:
    """One row per object with a proxy finding: malformed, duplicate and
    retired values, retired targets, values cc:Mail still uses, too many values."""
    with proxy_inputs(params, profile_of(ctx).name, max_values) as inputs:
        audit = prepare_audit(inputs)
    with open_output(output) as out:
        totals = write_audit_ranges(audit, fmt, out)  # the rows made as written, on two cores
    return finished(exit_code(totals, fail_on))  # (the objects are not freed one by one)


@proxies_group.command("plan", cls=CcmigCommand, epilog="""\b
Examples:
  ccmig proxies plan --ldif org.ldif --retire MS --retire X400 -o plan.json
  ccmig proxies plan --ldif org.ldif --retire CCMAIL --ccmail-dir PO1.txt \\
      --format ps1 -o remove.ps1
  ccmig proxies plan --ldif org.ldif --retire MS --format ldif -o remove.ldf
""")
@proxy_input_options
@MAX_VALUES
@click.option("--format", "fmt", type=click.Choice(PLAN_FORMATS), default="json",
              show_default=True, help="json/csv plan, or a reviewable ps1/ldif script.")
@click.option("--output", "-o", metavar="FILE", help="Write to FILE (atomically) instead of stdout.")
@global_options
@click.pass_context
def proxies_plan_command(ctx: click.Context, fmt: str, output: str | None,
                         max_values: int | None, **params) -> int:
    """One remove-proxy-addresses action per object whose retired values can
    go: the exact values, the cmdlet, whether a policy blocks it. Changes nothing."""
    from toolkit.recorded import recorded_inputs

    record = {k: v for k, v in recorded_inputs(params).items() if k in params}
    with proxy_inputs(params, profile_of(ctx).name, max_values) as inputs:
        plan = proxies_plan(inputs, record)
    with open_output(output) as out:
        write_proxy_plan(plan, fmt, out)
    return 0


@proxies_group.command("report", cls=CcmigCommand, epilog="""\b
Examples:
  ccmig proxies report --ldif org.ldif --retire MS --retire CCMAIL \\
      --ccmail-decommissioned -o proxies.html
  ccmig proxies report --ldif org.ldif --retire MS --journal proxies.journal -o after.html
  ccmig proxies report --ldif org.ldif --retire MS --format md -o ticket.md
""")
@proxy_input_options
@MAX_VALUES
@click.option("--journal", metavar="FILE",
              help="Add before and after from what that apply wrote (values removed, "
                   "reappeared, per type).")
@click.option("--format", "fmt", type=click.Choice(("html", "md")), default=None,
              help="html: one self-contained page; md: Markdown for tickets "
                   "[default: md for a .md output, else html].")
@click.option("--output", "-o", metavar="FILE", help="Write to FILE (atomically) instead of stdout.")
@click.option("--title", default=DEFAULT_TITLE, show_default=True, metavar="TEXT",
              help="The report's title.")
@global_options
@click.pass_context
def proxies_report_command(ctx: click.Context, fmt: str | None, output: str | None,
                           journal: str | None, title: str, max_values: int | None,
                           **params) -> int:
    """Write a report for the change board: values per address type (a chart),
    objects per finding, the email address policies that still generate
    retired types (with --exchange-uri), and with --journal what an apply
    removed and what reappeared. Same inputs, same bytes; no network needed
    to open it."""
    from toolkit.cli.remediate import recorded_inputs
    from toolkit.cli.report import format_for
    from toolkit.proxies.report import proxies_report
    from toolkit.render.proxies_report import write_proxy_report_html, write_proxy_report_md

    fmt = format_for(fmt, output)
    profile = profile_of(ctx).name
    record = {k: v for k, v in recorded_inputs(params).items() if k in params}
    record["retire"] = sorted(params["retire"])
    record["max_values"] = max_values
    record["ccmail_decommissioned"] = params["ccmail_decommissioned"]
    with proxy_inputs(params, profile, max_values) as inputs:
        report = proxies_report(inputs, record, journal, title)
    with open_output(output) as out:
        (write_proxy_report_md if fmt == "md" else write_proxy_report_html)(report, out)
    return 0
