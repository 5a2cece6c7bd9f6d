"""The audit as a library call: inputs in, rows out.

This is what the CLI's ``audit``/``check``/``recipients`` commands call, and
what a runbook imports. Adapters (LDIF, LDAP, PowerShell, cc:Mail files) are
chosen here; the rules in :mod:`toolkit.rules` never see where data came from.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.ccmail.directory import (
    Directory,
    DirectoryLayer,
    check_not_exchange,
    connector_post_offices,
)
from toolkit.errors import InputError
from toolkit.exchange.dialects import read_table
from toolkit.exchange.tablehooks import MailboxMatcher, PartFeed
from toolkit.model import Dialect, Kind, RawEntry, Row
from toolkit.progress import counting_source
from toolkit.rules import Analysis, IndexFeed, analyse
from toolkit.stats import Lines, StatsMatcher
from toolkit.storage.recipients import RecipientTable

log = logging.getLogger(__name__)

EntrySource = Callable[[bool], Iterable[RawEntry]]
"""Reads the Exchange directory; the flag asks for every mailbox, not only
those with cc:Mail values (needed to resolve ``--mailbox-stats`` identities)."""


@dataclass
class AuditInputs:
    """Everything an audit reads. ``directory`` may be any DirectoryLayer."""

    source: EntrySource
    directory: DirectoryLayer
    dialect: Dialect = Dialect.AD
    exchange_pos: list[str] = field(default_factory=list)
    mailbox_stats: Path | None = None
    powershell: Any = None  # an open toolkit.exchange.powershell session, or None
    compare_addresses: bool = True  # False when the recipients came from PowerShell itself
    # mailbox_stats' lines as a worker read them ahead (toolkit.cli.prefetch),
    # asked for once when the matcher is made; None, or None from it: read then
    stats_lines: Callable[[], Lines | None] | None = None


@dataclass
class AuditResult:
    """``rows`` is a read-only sequence whose rows are made as they are read
    (:class:`toolkit.rules.Rows`: ~100,000 rows cost a few MB); ``list(rows)``
    to keep or change them."""

    rows: Sequence[Row]
    exchange_pos: list[str]
    recipients: RecipientTable  # a Sequence[Recipient]: each made when read
    analysis: Analysis


def ldif_source(path: str | Path) -> EntrySource:
    """Entries of an LDIF export, with the attributes classification reads
    (as the audit's LDAP source keeps: the rest is checked, not kept;
    callgrind, the whole audit at 10,000 people: 1.6% fewer instructions
    than keeping every attribute the dialects name)."""
    from toolkit.exchange.dialects import CLASSIFY_ATTRIBUTES
    from toolkit.exchange.ldif_chunks import ldif_entries

    return lambda all_mailboxes: ldif_entries(path, CLASSIFY_ATTRIBUTES)


def file_directory(args: Iterable[str], encoding: str | None = None) -> Directory:
    return Directory.from_args(args, encoding)


def resolve_exchange_pos(given: Iterable[str], layer: DirectoryLayer) -> list[str]:
    """X: given names, else the connector's ``P`` entries, else an error (exit 2)."""
    names = [p.strip() for p in given if p.strip()]
    if not names:
        names = connector_post_offices(layer.entries())
        if names:
            log.info("Exchange post office(s) inferred from connector entries: %s", names)
    if not names:
        raise InputError(
            "no Exchange post office: pass --exchange-po NAME (none could be inferred from "
            "a 'P' entry with comment 'MSExchangeCCMC ...')",
            "--exchange-po",
        )
    check_not_exchange(layer, names)
    return names


def read_recipients(inputs: AuditInputs,
                    observe: Callable[[RecipientTable, int], None] | None = None,
                    mailboxes: Callable[[int, str, str | None, str | None, str | None], None]
                    | None = None, matcher: MailboxMatcher | None = None,
                    feed: PartFeed | None = None) -> RecipientTable:
    """Every recipient the audit needs, in reading order; ``observe`` sees
    each position of the table as it is read, ``mailboxes`` each mailbox's
    position and identities, ``matcher`` matches each mailbox, ``feed`` is
    fed each part (:func:`toolkit.exchange.dialects.read_table`)."""
    need_all = inputs.mailbox_stats is not None
    source = inputs.source(need_all)
    # a source read in chunks stays one: read_table decodes them in two processes
    entries = counting_source(source, "directory objects read")
    return read_table(entries, inputs.dialect, need_all, observe, mailboxes, matcher, feed)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector off while an audit builds its data.

    An audit allocates well over a million long-lived objects (recipients,
    values, entries, indexes, rows) and makes no reference cycles worth
    collecting; CPython's collector would walk the growing heap again and
    again - a quarter of the run time at 100,000 recipients. Reference
    counting still frees everything as usual; the previous state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_audit(inputs: AuditInputs) -> AuditResult:
    with no_cyclic_gc():
        return _run_audit(inputs)


def _run_audit(inputs: AuditInputs) -> AuditResult:
    exchange_pos = resolve_exchange_pos(inputs.exchange_pos, inputs.directory)
    stats = None
    if inputs.mailbox_stats is not None:
        ahead = inputs.stats_lines
        stats = StatsMatcher(inputs.mailbox_stats, ahead() if ahead is not None else None)
    # the matcher sees each mailbox's identities as classified (none decoded
    # again), and the index pass's recipients' half each part's records, in
    # the process that classifies them
    feed = IndexFeed(exchange_pos, inputs.dialect)
    recipients = read_recipients(inputs, matcher=stats, feed=feed)
    if inputs.powershell is not None:
        enrich_from_powershell(inputs.powershell, recipients, inputs.compare_addresses)
    if stats is not None:
        matched = stats.apply(recipients)
        log.info("mailbox stats: %d mailbox(es) matched", matched)
    analysis = analyse(
        recipients,
        inputs.directory.entries(),
        exchange_pos,
        inputs.dialect,
        powershell=inputs.powershell is not None and inputs.compare_addresses,
        feed=feed,
    )
    return AuditResult(analysis.rows, exchange_pos, recipients, analysis)


def enrich_from_powershell(session: Any, recipients: RecipientTable,
                           compare_addresses: bool = True) -> None:
    """Item counts and EmailAddresses for every mailbox with cc:Mail values
    (set in ``recipients``, by position).

    Batched by the session; identities are DNs, which Exchange resolves
    exactly. Explicit ``--mailbox-stats`` is applied afterwards and wins.
    """
    from toolkit.exchange.dialects import ccmail_value

    kinds = recipients.kinds
    positions = [n for n in range(len(recipients))
                 if kinds[n] is Kind.MAILBOX and recipients.has_values(n)]
    dns = [recipients.dn(n) for n in positions]
    for n, res in zip(positions, session.email_addresses(dns) if compare_addresses else (),
                      strict=compare_addresses):
        if res.found:
            recipients.set_exchange_values(
                n, [a for a in res.addresses if ccmail_value(a, ":", "proxy")])
        else:
            log.info("Exchange did not find %s: %s", recipients.dn(n), res.error)
    for n, res in zip(positions, session.mailbox_stats(dns), strict=True):
        if res.found and res.item_count is not None:
            recipients.set_item_count(n, res.item_count)
