"""Entry point: the ``ccmig`` group, command registration, and the error
boundary that turns every failure into one line and the spec's exit code."""

from __future__ import annotations

import logging
import sys

import click

from toolkit import __version__
from toolkit.cli.audit import audit, check, recipients
from toolkit.cli.common import CcmigGroup, global_options
from toolkit.cli.demo import demo_group
from toolkit.cli.history import diff, history
from toolkit.cli.powershell import addresses, stats
from toolkit.cli.proxies import proxies_group
from toolkit.cli.remediate import apply, plan, undo
from toolkit.cli.report import report
from toolkit.cli.settings import config_group, creds_group
from toolkit.errors import CcmigError
from toolkit.text import one_line, printable


class RootGroup(CcmigGroup):
    """The error boundary: every failure becomes one line and the spec's exit code.

    Living in ``main`` (not a wrapper script) means click's CliRunner, the
    console script and ``python -m toolkit`` all behave the same.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):  # type: ignore[override]
        code = boundary(lambda: super(RootGroup, self).main(
            args, prog_name or "ccmig", complete_var, standalone_mode=False, **extra))
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""\b
Examples:
  ccmig audit --ldif org.ldif --ccmail-dir HUBPO.txt --exchange-po EXCH
  ccmig check --profile prod 'Smith, John'
  ccmig creds set --profile prod --for ldap
""")
@click.version_option(__version__, prog_name="ccmig")
@global_options
def cli() -> None:
    """ccmig: finish a cc:Mail -> Exchange migration (KB Q253306).

    Finds every user in every state, says what to do, and proves the result.
    """


for command in (audit, check, recipients, addresses, stats, plan, apply, undo, config_group,
                creds_group, report, history, diff, proxies_group, demo_group):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="ccmig")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (for runbooks)."""
    return cli.main(args=argv, prog_name="ccmig", standalone_mode=False)


def boundary(call) -> int:
    """Call the CLI; map every outcome to an exit code (spec: Exit codes)."""
    try:
        rv = call()
    except CcmigError as exc:
        click.echo(f"ccmig: error: {_one_line(str(exc))}", err=True)
        return exc.exit_code
    except click.UsageError as exc:
        hint = f" (see 'ccmig {exc.ctx.info_name if exc.ctx and exc.ctx.parent else ''} --help')"
        click.echo(f"ccmig: error: {_one_line(exc.format_message())}{hint.replace('  ', ' ')}",
                   err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"ccmig: error: {_one_line(exc.format_message())}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("ccmig: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("ccmig: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"ccmig: error: {where}{exc.strerror or exc}", err=True)
        return 2
    except Exception as exc:  # a bug: still one line, details only at -vv
        logging.getLogger("ccmig").debug("internal error", exc_info=True)
        click.echo(f"ccmig: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                   "(run with -vv for details)", err=True)
        return 3
    return rv if isinstance(rv, int) else 0


def _one_line(text: str) -> str:
    """One line, with control characters (terminal escapes from hostile data) defused."""
    return printable(one_line(text))
