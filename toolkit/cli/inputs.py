"""The audit inputs every audit-like command takes (spec: Inputs).

Declared once here, so ``audit``, ``check``, ``recipients``, ``plan`` and
``apply`` accept exactly the same options and read the organisation the same
way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from toolkit.audit import AuditInputs, EntrySource, file_directory, ldif_source
from toolkit.cli.prefetch import prefetched
from toolkit.errors import InputError
from toolkit.exchange import ldapoptions, pssettings
from toolkit.exchange.ldapoptions import AUTH_METHODS as LDAP_AUTH_METHODS
from toolkit.exchange.ldapoptions import MAX_RETRIES
from toolkit.exchange.pssettings import AUTH_METHODS as EXCHANGE_AUTH_METHODS
from toolkit.model import Dialect

SOURCES = ("auto", "ldif", "ldap", "powershell")


def _finite(value: float) -> float:
    if value != value:  # NaN passes FloatRange's comparisons
        raise click.BadParameter("must be a number of seconds")
    return value


SOURCE_OPTIONS = [
    click.option("--ldif", metavar="FILE", help="Read Exchange recipients from an LDIF export."),
    click.option("--ldap-url", metavar="URL", help="ldap[s]://host[:port] of a live directory."),
    click.option("--base-dn", metavar="DN", help="Search base (the whole subtree is read)."),
    click.option("--bind-dn", metavar="DN",
                 help="Bind identity; password from keyring, $CCMIG_LDAP_PASSWORD or prompt."),
    click.option("--starttls", is_flag=True, default=False, help="Upgrade ldap:// with StartTLS."),
    click.option("--ldap-auth", type=click.Choice(LDAP_AUTH_METHODS),
                 default=None, help="LDAP authentication (default: simple with --bind-dn)."),
    click.option("--page-size", type=click.IntRange(1, 100000), default=1000,
                 show_default=True, help="LDAP paged-search page size."),
    click.option("--retries", type=click.IntRange(0, MAX_RETRIES), default=0, show_default=True,
                 metavar="N",
                 help="Retry a failed LDAP connect N times, waiting 1 s, 2 s, 4 s, ... (at most "
                      "30 s). Only connecting is retried, never a refused bind, a TLS error or "
                      "a search that has started: a search cut short fails (exit 3)."),
    click.option("--dialect", type=click.Choice([d.value for d in Dialect]), default="ad",
                 show_default=True, help="Directory schema: Active Directory or Exchange 5.5."),
    click.option("--source", type=click.Choice(SOURCES), default="auto", show_default=True,
                 help="Where recipients come from (auto: --ldif, else --ldap-url)."),
]
CCMAIL_OPTIONS = [
    click.option("--ccmail-dir", "ccmail_dirs", multiple=True, metavar="[PO=]FILE",
                 help="A cc:Mail PO directory export (repeat: one per PO), or a quoted "
                      "glob such as 'exports/*.txt' that ccmig expands."),
    click.option("--ccmail-encoding", metavar="ENC",
                 help="Encoding of the cc:Mail files (default: UTF-8 if valid, else cp850)."),
]
AUDIT_ONLY_OPTIONS = [
    click.option("--exchange-po", "exchange_pos", multiple=True, metavar="NAME",
                 help="An Exchange site's cc:Mail PO name (repeatable)."),
    click.option("--mailbox-stats", metavar="FILE",
                 help="CSV 'identity,item_count' of Exchange item counts."),
]


def input_options(f: Callable) -> Callable:
    for option in reversed([*SOURCE_OPTIONS, *CCMAIL_OPTIONS, *AUDIT_ONLY_OPTIONS,
                            *TRANSPORT_OPTIONS, *EXCHANGE_OPTIONS]):
        f = option(f)
    return f


TRANSPORT_OPTIONS = [
    click.option("--ca-file", metavar="FILE", help="CA bundle for LDAPS/StartTLS/HTTPS."),
    click.option("--insecure-skip-verify", is_flag=True, default=False,
                 help="Do not verify TLS certificates (warned; for labs only)."),
    click.option("--allow-unencrypted", is_flag=True, default=False,
                 help="Allow a password to cross the network in clear."),
    click.option("--timeout", type=click.FloatRange(0.1, 86400), default=30.0, show_default=True,
                 callback=lambda ctx, param, v: _finite(v), help="Network timeout in seconds."),
]
EXCHANGE_OPTIONS = [
    click.option("--exchange-uri", metavar="URI",
                 help="Remote PowerShell endpoint, http(s)://server/PowerShell."),
    click.option("--exchange-auth",
                 type=click.Choice(EXCHANGE_AUTH_METHODS),
                 default="negotiate", show_default=True, help="Remote PowerShell auth."),
    click.option("--exchange-user", metavar="USER", help="Remote PowerShell user name."),
    click.option("--batch-size", type=click.IntRange(1, 100000), default=500,
                 show_default=True, help="Identities per retry batch: a read streams all its identities "
                 "through one invocation; a batch hit by a transport failure is asked "
                 "again once."),
]


def exchange_options(f: Callable) -> Callable:
    """Connection options for commands that talk only to Exchange."""
    for option in reversed([*TRANSPORT_OPTIONS, *EXCHANGE_OPTIONS]):
        f = option(f)
    return f


def ldap_settings(params: dict[str, Any], profile: str):
    """:class:`~toolkit.exchange.ldap.LdapSettings` from the options (password
    from keyring, environment or prompt)."""
    from toolkit.credentials import get_secret
    from toolkit.exchange.ldap import LdapSettings

    if not params["base_dn"]:
        raise InputError("--base-dn is required with --ldap-url", "--base-dn")
    auth = params["ldap_auth"] or ("simple" if params["bind_dn"] else "anonymous")
    password = None
    if auth in ldapoptions.PASSWORD_AUTH and params["bind_dn"]:
        password = get_secret(profile, "ldap", prompt=f"LDAP password for {params['bind_dn']}: ")
        if password is None:
            raise InputError(
                "no LDAP password: store one with `ccmig creds set --for ldap`, set "
                "$CCMIG_LDAP_PASSWORD, or run on a terminal to be prompted", "--bind-dn")
    settings = LdapSettings(
        url=params["ldap_url"], base_dn=params["base_dn"], bind_dn=params["bind_dn"],
        password=password, starttls=params["starttls"], ca_file=params["ca_file"],
        insecure_skip_verify=params["insecure_skip_verify"],
        allow_unencrypted=params["allow_unencrypted"], auth=auth,
        page_size=params["page_size"], timeout=params["timeout"], retries=params["retries"],
    )
    return settings


def _ldap_source(params: dict[str, Any], profile: str) -> EntrySource:
    from toolkit.exchange.dialects import AD_ATTRIBUTES, CLASSIFY_ATTRIBUTES, EX55_ATTRIBUTES
    from toolkit.exchange.ldap import read_ldap_chunks, recipient_filter

    settings = ldap_settings(params, profile)
    dialect = Dialect(params["dialect"])
    attributes = AD_ATTRIBUTES if dialect is Dialect.AD else EX55_ATTRIBUTES

    def source(all_mailboxes: bool):  # chunks a second process can decode (read_table)
        # (the attributes classification reads: the others are checked, not decoded)
        return read_ldap_chunks(settings, recipient_filter(dialect, all_mailboxes), attributes,
                                CLASSIFY_ATTRIBUTES)

    return source


def powershell_session(params: dict[str, Any], profile: str):
    """An open-able PowerShell session for ``--exchange-uri`` (context manager)."""
    from toolkit.credentials import get_secret
    from toolkit.exchange.powershell import ExchangeSession, ExchangeSettings

    password = None
    if params["exchange_auth"] in pssettings.PASSWORD_USED and params["exchange_user"]:
        password = get_secret(profile, "exchange",
                              prompt=f"Exchange password for {params['exchange_user']}: ")
    settings = ExchangeSettings(
        uri=params["exchange_uri"], auth=params["exchange_auth"],
        username=params["exchange_user"], password=password, ca_file=params["ca_file"],
        insecure_skip_verify=params["insecure_skip_verify"],
        allow_unencrypted=params["allow_unencrypted"], batch_size=params["batch_size"],
        timeout=params["timeout"],
    )
    return ExchangeSession(settings)


def clean(value: object) -> str:
    from toolkit.render.table import clean as printable  # control characters defused

    return printable(value)


def told(source: EntrySource, what: str) -> EntrySource:
    """``source`` that says at ``-v`` what it read and how many objects: the
    first thing to check when a number looks wrong is which server answered."""
    import logging

    from toolkit.exchange.dialects import Chunked, Watched

    log = logging.getLogger("toolkit.audit")

    def read(all_mailboxes: bool):
        entries = source(all_mailboxes)  # (a reader starts when first asked for an entry)
        if isinstance(entries, Chunked):  # stays chunked (read_table); the same count
            if not log.isEnabledFor(logging.INFO):
                # nobody will read the count: an LDIF block is not scanned for it
                # (~0.2 s of the parent's CPU at 100,000 people)
                return entries
            total = [0]

            def seen(n: int) -> None:
                total[0] += n

            def done(complete: bool) -> None:
                if complete:
                    log.info("read %d directory object(s) from %s", total[0], clean(what))

            return Watched(entries, seen, done)
        return entries_told(entries)

    def entries_told(entries):
        n = 0
        try:
            for entry in entries:
                n += 1
                yield entry
        finally:  # stopped early: let the source stop too (PowerShell signals the pipeline)
            close = getattr(entries, "close", None)
            if close is not None:
                close()
        log.info("read %d directory object(s) from %s", n, clean(what))

    return read


def _describe_source(kind: str, params: dict[str, Any]) -> str:
    if kind == "ldif":
        return f"LDIF file {params['ldif']}"
    if kind == "ldap":
        return f"LDAP server {params['ldap_url']} (base {params['base_dn']})"
    return f"Exchange remote PowerShell {params['exchange_uri']}"


def _tell_directory(directory: Any) -> None:
    import logging

    log = logging.getLogger("toolkit.audit")
    for f in getattr(directory, "files", []):
        log.info("read %d cc:Mail entr%s of post office %s from %s", len(f.entries),
                 "y" if len(f.entries) == 1 else "ies", clean(f.po), clean(f.path))


def resolve_source(params: dict[str, Any]) -> str:
    """``--source``, with ``auto`` resolved: ldif, ldap or powershell (exit 2 for none)."""
    source_kind = params["source"]
    if source_kind == "auto":
        if params["ldif"] and params["ldap_url"]:
            raise InputError("give either --ldif or --ldap-url, not both", "--ldif")
        source_kind = "ldif" if params["ldif"] else "ldap" if params["ldap_url"] else None
    if source_kind is None:
        raise InputError("no Exchange source: give --ldif FILE or --ldap-url URL", "--ldif")
    if source_kind == "ldif" and not params["ldif"]:
        raise InputError("--source ldif needs --ldif FILE", "--source")
    if source_kind == "ldap" and not params["ldap_url"]:
        raise InputError("--source ldap needs --ldap-url URL", "--source")
    return source_kind


@contextmanager
def audit_inputs(params: dict[str, Any], profile: str) -> Iterator[AuditInputs]:
    """Build :class:`AuditInputs` from the options; opens PowerShell if asked."""
    source_kind = resolve_source(params)
    stats = Path(params["mailbox_stats"]) if params["mailbox_stats"] else None
    with ExitStack() as stack:
        stats_lines = None
        if params["ccmail_dirs"]:  # a worker reads some of it meanwhile
            ahead = stack.enter_context(prefetched(
                params["ccmail_dirs"], params["ccmail_encoding"], stats, source_kind == "ldap"))
            directory, stats_lines = ahead.directory(), ahead.stats_lines
        else:
            directory = file_directory(params["ccmail_dirs"], params["ccmail_encoding"])
        _tell_directory(directory)
        session = None
        if params["exchange_uri"]:
            session = stack.enter_context(powershell_session(params, profile))
        if source_kind == "ldif":
            source = ldif_source(params["ldif"])
        elif source_kind == "ldap":
            source = _ldap_source(params, profile)
        else:
            if session is None:
                raise InputError("--source powershell needs --exchange-uri URI", "--source")
            if params["dialect"] != "ad":
                raise InputError("--source powershell reads the AD dialect only", "--dialect")
            source = lambda all_mailboxes: session.iter_recipients()  # noqa: E731
        yield AuditInputs(
            source=told(source, _describe_source(source_kind, params)),
            directory=directory,
            dialect=Dialect(params["dialect"]),
            exchange_pos=list(params["exchange_pos"]),
            mailbox_stats=stats,
            powershell=session,
            compare_addresses=source_kind != "powershell",  # never compare Exchange with itself
            stats_lines=stats_lines,
        )
