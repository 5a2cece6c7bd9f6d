"""``ccmig plan``, ``ccmig apply``, ``ccmig undo``: the KB Q253306 fix, safely."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from toolkit.audit import run_audit
from toolkit.cli.common import CcmigCommand, global_options, open_output, profile_of
from toolkit.cli.inputs import (
    SOURCE_OPTIONS,
    audit_inputs,
    exchange_options,
    input_options,
    powershell_session,
)
from toolkit.errors import InputError
from toolkit.identity import read_identity_file
from toolkit.proxies.plan import KIND as PROXY_KIND
from toolkit.recorded import merge_recorded, recorded_inputs
from toolkit.remediation.apply import apply_plan, undo_journal
from toolkit.remediation.plan import APPLIABLE, make_plan
from toolkit.remediation.wave import select_wave
from toolkit.render.outcomes import write_outcomes
from toolkit.render.plan import PLAN_FORMATS, write_plan


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig plan --profile prod --mailbox-stats stats.csv -o plan.json
  ccmig plan --profile prod --post-office PO1 --limit 50 -o wave1.json
  ccmig plan --profile prod --format ps1 -o exchange-fixes.ps1
""")
@input_options
@click.option("--format", "fmt", type=click.Choice(PLAN_FORMATS), default="json",
              show_default=True, help="json/csv plan, or a reviewable ps1/ldif/ccmail script.")
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--post-office", "post_offices", multiple=True, metavar="PO",
              help="Plan only for mailboxes whose old post office is PO.")
@click.option("--from-file", metavar="FILE", help="Plan only for these identities (a wave).")
@click.option("--limit", type=click.IntRange(1), help="At most N people in this wave.")
@click.option("--assume-migrated", is_flag=True,
              help="Treat every migration as confirmed (no item counts needed). Careful.")
@global_options
@click.pass_context
def plan(ctx: click.Context, fmt: str, output: str | None, post_offices: tuple[str, ...],
         from_file: str | None, limit: int | None, assume_migrated: bool, **params) -> int:
    """Derive the actions that fix the findings, each with its reason,
    precondition and whether it is blocked. Changes nothing."""
    with audit_inputs(params, profile_of(ctx).name) as inputs:
        result = run_audit(inputs)
    record = {**recorded_inputs(params), "assume_migrated": assume_migrated}
    the_plan = make_plan(result.analysis, result.exchange_pos, record, assume_migrated)
    ids = read_identity_file(from_file) if from_file else []
    if post_offices or ids or limit:
        select_wave(the_plan, result.rows, post_offices, ids, limit)
    with open_output(output) as out:
        write_plan(the_plan, fmt, out)
    return 0


def read_plan(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        assert isinstance(data["actions"], list) and isinstance(data["inputs"], dict)
        for a in data["actions"]:
            assert {"id", "kind", "target"} <= set(a)
    except OSError as exc:
        raise InputError(f"cannot read plan: {exc.strerror}", path) from None
    except (ValueError, AssertionError, KeyError, TypeError):
        raise InputError("not a ccmig JSON plan (make one with `ccmig plan`)", path) from None
    return data


def merged_params(ctx: click.Context, params: dict[str, Any], recorded: dict[str, Any]
                  ) -> dict[str, Any]:
    """Options not given on the command line come from the plan's recorded inputs."""
    from click.core import ParameterSource

    return merge_recorded(params, recorded, lambda key: ctx.get_parameter_source(key)
                          in (ParameterSource.DEFAULT, None))


def write_pacing_options(f):
    """How proxy writes are paced, the same for apply and undo (undo's add-backs
    count against the same throttling budgets as apply's removals)."""
    f = click.option("--max-writes-per-minute", type=click.IntRange(1), metavar="N",
                     help="Proxy plans and journals: at most N writes a minute (a "
                          "destructive-cmdlet budget).")(f)
    return click.option("--write-retries", type=click.IntRange(0, 100), default=3,
                        show_default=True, metavar="N",
                        help="Proxy plans and journals: send a write Exchange refused by "
                             "throttling (not run) again up to N times, after the wait it names "
                             "(else 30 s). No other failed write is ever retried.")(f)


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig apply plan.json                         (dry run: what would change)
  ccmig apply plan.json --yes --only remove-ccmail-entry
  ccmig apply plan.json --yes --confirm 0004 --confirm 0007 --journal wave1.journal
  ccmig apply proxies.json --yes --exchange-uri https://ex01/PowerShell --max-writes-per-minute 30
""")
@click.argument("plan_file", metavar="PLAN")
@input_options
@click.option("--only", multiple=True, type=click.Choice((*APPLIABLE, PROXY_KIND)),
              help="Apply only actions of this kind (repeatable).")
@click.option("--confirm", multiple=True, metavar="ID", help="Apply this manual action too.")
@click.option("--yes", is_flag=True, help="Make the changes (default: dry run).")
@click.option("--journal", metavar="FILE", help="Journal file (default: PLAN.journal).")
@click.option("--assume-migrated", is_flag=True, help="Treat every migration as confirmed.")
@write_pacing_options
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True)
@global_options
@click.pass_context
def apply(ctx: click.Context, plan_file: str, only: tuple[str, ...], confirm: tuple[str, ...],
          yes: bool, journal: str | None, assume_migrated: bool, write_retries: int,
          max_writes_per_minute: int | None, fmt: str, **params) -> int:
    """Apply a plan against the current state: re-checks every action, journals
    each change before making it, holds a lock. A dry run unless --yes.
    Proxy plans write through remote PowerShell (--exchange-uri) or live LDAP."""
    data = read_plan(plan_file)
    params = merged_params(ctx, params, data["inputs"])
    from toolkit.cli.proxy_apply import apply_proxies, is_proxy_plan

    if is_proxy_plan(data):
        outcomes = apply_proxies(
            data, params, profile_of(ctx).name, yes=yes, journal=journal or f"{plan_file}.journal",
            plan_path=os.path.abspath(plan_file), only=only, write_retries=write_retries,
            per_minute=max_writes_per_minute)
        write_outcomes(outcomes, fmt, sys.stdout)
        return 1 if any(o.status in ("skipped", "blocked", "failed") for o in outcomes) else 0
    assume = assume_migrated or bool(data["inputs"].get("assume_migrated"))
    with audit_inputs(params, profile_of(ctx).name) as inputs:

        def current() -> list:
            """Read the current state and plan from it (apply calls this under its lock)."""
            result = run_audit(inputs)
            return make_plan(result.analysis, result.exchange_pos, {}, assume).actions

        outcomes = apply_plan(
            data, current, yes=yes, journal_path=journal or f"{plan_file}.journal",
            only=set(only) or None, confirm=confirm, exchange=_writer(inputs.powershell),
            encoding=params.get("ccmail_encoding"), plan_path=os.path.abspath(plan_file))
    write_outcomes(outcomes, fmt, sys.stdout)
    bad = [o for o in outcomes if o.status in ("skipped", "blocked", "failed")]
    return 1 if bad else 0


def source_options(f):
    """The source options of ``proxies audit`` (proxy journals written over LDAP;
    by default those the apply recorded)."""
    for option in reversed(SOURCE_OPTIONS):
        f = option(f)
    return f


def _writer(session):
    if session is None:
        return None
    from toolkit.exchange.writer import PowerShellWriter

    return PowerShellWriter(session)


@click.command(cls=CcmigCommand, epilog="""\b
Examples:
  ccmig undo plan.json.journal                  (dry run)
  ccmig undo plan.json.journal --yes
  ccmig undo proxies.json.journal --yes --exchange-uri https://ex01/PowerShell --max-writes-per-minute 30
""")
@click.argument("journal_file", metavar="JOURNAL")
@click.option("--yes", is_flag=True, help="Revert (default: dry run).")
@exchange_options
@source_options
@write_pacing_options
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
@global_options
@click.pass_context
def undo(ctx: click.Context, journal_file: str, yes: bool, write_retries: int,
         max_writes_per_minute: int | None, fmt: str, **params) -> int:
    """Revert the changes a journal records, newest first (only those). Checks
    every change first: one it cannot revert (its file changed since, e.g. by
    dirsync) holds back every change of the same person. A dry run unless --yes."""
    if not Path(journal_file).exists():
        raise InputError("journal not found", journal_file)
    from toolkit.cli.proxy_apply import is_proxy_journal, recorded_of, undo_proxies

    if is_proxy_journal(journal_file):
        params = merged_params(ctx, params, recorded_of(journal_file))
        outcomes = undo_proxies(journal_file, params, profile_of(ctx).name, yes=yes,
                                write_retries=write_retries, per_minute=max_writes_per_minute)
        write_outcomes(outcomes, fmt, sys.stdout)
        return 1 if any(o.status in ("failed", "held-back") for o in outcomes) else 0
    def notify(text: str) -> None:
        click.echo(f"ccmig: {text}", err=True)

    if params["exchange_uri"]:
        with powershell_session(params, profile_of(ctx).name) as s:
            outcomes = undo_journal(journal_file, yes=yes, exchange=_writer(s), notify=notify)
    else:
        outcomes = undo_journal(journal_file, yes=yes, notify=notify)
    write_outcomes(outcomes, fmt, sys.stdout)
    return 1 if any(o.status in ("failed", "held-back") for o in outcomes) else 0
