"""Entry point: the ``ccmig`` group, command registration, and the error
boundary that turns every failure into one line and the spec's exit code."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from toolkit import __version__
from toolkit.cli import common
from toolkit.cli.common import CcmigGroup, global_options
from toolkit.errors import CcmigError
from toolkit.parallel import jobs, keep_large_blocks_mapped
from toolkit.text import one_line, printable

#: Every top-level command: its name -> the module and the click object that
#: define it. A command's module is imported when the command is asked for
#: (run, ``--help``, the generated reference), not at start-up: a runbook that
#: calls ``ccmig check`` does not import the proxies, remediation and
#: settings code (~45 ms of start-up on this machine; see `docs/performance.md`).
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("toolkit.cli.audit", "audit"),
    "check": ("toolkit.cli.audit", "check"),
    "recipients": ("toolkit.cli.audit", "recipients"),
    "addresses": ("toolkit.cli.powershell", "addresses"),
    "stats": ("toolkit.cli.powershell", "stats"),
    "plan": ("toolkit.cli.remediate", "plan"),
    "apply": ("toolkit.cli.remediate", "apply"),
    "undo": ("toolkit.cli.remediate", "undo"),
    "config": ("toolkit.cli.settings", "config_group"),
    "creds": ("toolkit.cli.settings", "creds_group"),
    "report": ("toolkit.cli.report", "report"),
    "history": ("toolkit.cli.history", "history"),
    "diff": ("toolkit.cli.history", "diff"),
    "proxies": ("toolkit.cli.proxies", "proxies_group"),
    "demo": ("toolkit.cli.demo", "demo_group"),
}


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

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported on first use (see :data:`COMMANDS`)."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""\b
Examples:
  ccmig audit --ldif org.ldif --ccmail-dir HUBPO.txt --exchange-po EXCH
  ccmig check --profile prod 'Smith, John'
  ccmig creds set --profile prod --for ldap

\b
Environment:
  CCMIG_JOBS=1  everything in one process (default on Linux: audits read
                and write in two, a worker forked for the CPU-bound stages;
                the same output either way)
""")
@click.version_option(__version__, prog_name="ccmig")
@global_options
def cli() -> None:
    """ccmig: finish a cc:Mail -> Exchange migration (KB Q253306).

    Finds every user in every state, says what to do, and proves the result.
    """
    jobs()  # a bad CCMIG_JOBS is one line and exit 2 before anything is read


def main(argv: list[str] | None = None) -> None:
    """The console script and ``python -m toolkit``: the process is ccmig's."""
    keep_large_blocks_mapped()
    common.OWN_PROCESS = True  # commands may end the process when done (common.finished)
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
        message = exc.format_message()
        takes_dirs = exc.ctx is not None and any(
            p.name == "ccmail_dirs" for p in exc.ctx.command.params)
        if takes_dirs and message.startswith("Got unexpected extra argument"):
            hint = (" (an unquoted glob such as --ccmail-dir exports/*.txt becomes several "
                    "words: quote it, --ccmail-dir 'exports/*.txt', or repeat --ccmail-dir "
                    "for each file)")
        click.echo(f"ccmig: error: {_one_line(message)}{hint.replace('  ', ' ')}", err=True)
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
