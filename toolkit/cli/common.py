"""CLI plumbing shared by every command: global flags, profiles, output, exit codes.

Global flags (``--config``, ``--profile``, ``-v``, ``-q``) are accepted before
or after the command name, as kubectl's and az's are: they are declared on
the group and on every command and land in one place (``ctx.meta``). Profile
values fill options the command line left unset, just before the command
runs (:class:`CcmigCommand`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click
from click.core import ParameterSource

from toolkit import atomic, credentials, progress
from toolkit.audit import no_cyclic_gc
from toolkit.config import Profile, load_profile
from toolkit.errors import InputError
from toolkit.model import Row
from toolkit.rules.codes import SEVERITY, SEVERITY_RANK

META = "ccmig.globals"
PATH_OPTIONS = {"ldif", "mailbox-stats", "ca-file", "ccmail-dir", "output", "journal", "record"}
FAIL_ON = ("error", "warning", "info", "never")


def _store_global(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    meta = ctx.find_root().meta.setdefault(META, {"verbose": 0, "quiet": False})
    if param.name == "verbose":
        meta["verbose"] += value or 0
    elif param.name == "quiet":
        meta["quiet"] = meta["quiet"] or bool(value)
    elif value is not None:
        meta[param.name] = value
    return value


def global_options(f: Callable) -> Callable:
    options = [
        click.option("--config", metavar="FILE", expose_value=False, callback=_store_global,
                     help="Configuration file (default ~/.config/ccmig/config.toml)."),
        click.option("--profile", metavar="NAME", expose_value=False, callback=_store_global,
                     help="Profile in the configuration file (default: 'default')."),
        click.option("-v", "--verbose", count=True, expose_value=False, callback=_store_global,
                     help="More detail on stderr (-vv for debug)."),
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_store_global,
                     help="Only errors on stderr."),
        click.option("--log-file", metavar="FILE", expose_value=False, callback=_store_global,
                     help="Also log to FILE as JSON lines (info and up; never secrets)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def globals_of(ctx: click.Context) -> dict[str, Any]:
    return ctx.find_root().meta.setdefault(META, {"verbose": 0, "quiet": False})


class JsonLines(logging.Formatter):
    """One JSON object a record, for ``--log-file`` (structured logs)."""

    def format(self, record: logging.LogRecord) -> str:
        import json
        from datetime import UTC, datetime

        return json.dumps({
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }, ensure_ascii=False)


def setup_logging(verbose: int, quiet: bool, log_file: str | None = None) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)
    ]
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ccmig", False):
            root.removeHandler(handler)
            handler.close()
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ccmig: %(levelname)s: %(message)s"))
    handler.setLevel(level)
    handler._ccmig = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if log_file:
        try:
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write log file: {exc.strerror}", "--log-file") from None
        file_handler.setFormatter(JsonLines())
        file_handler.setLevel(min(level, logging.INFO))
        file_handler._ccmig = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)
    root.setLevel(min(level, logging.INFO) if log_file else level)
    # Library chatter (ldap3, pypsrp, urllib3) only at -vv, never secrets.
    for noisy in ("pypsrp", "urllib3", "requests_credssp", "spnego", "ldap3", "psrpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _resolve_path(value: str, base: Path) -> str:
    po, sep, rest = value.partition("=")
    if sep and po and "/" not in po and "\\" not in po and not Path(value).exists():
        return f"{po}={_resolve_path(rest, base)}"
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else base / p)


GLOB_CHARS = frozenset("*?[")


def expand_ccmail_dirs(values: Sequence[str]) -> list[str]:
    """``--ccmail-dir 'exports/*.txt'``: a quoted glob, expanded by ccmig
    (sorted, so the same files give the same order on every system and shell,
    Windows' cmd and PowerShell included, which expand nothing). A value that
    names an existing file is taken as it is, even with ``*`` or ``[`` in its
    name; a pattern that matches nothing is an error, never zero post offices.
    """
    import glob

    from toolkit.ccmail.directory import split_po_arg

    out: list[str] = []
    for value in values:
        po, path = split_po_arg(value)
        text = str(path)
        if path.exists() or not GLOB_CHARS & set(text):
            out.append(value)
            continue
        matches = sorted(glob.glob(os.path.expanduser(text)))
        if not matches:
            raise InputError(f"no file matches {text!r}", "--ccmail-dir")
        if po and len(matches) > 1:
            raise InputError(f"{po}={text} names one post office but matches {len(matches)} "
                             "files; give PO=FILE once per file", "--ccmail-dir")
        out.extend(f"{po}={m}" if po else m for m in matches)
    return out


def _option_names(command: click.Command, ctx: click.Context) -> set[str]:
    """Every long option name of ``command`` and, for a group, its commands
    (asked through ``get_command``: the root imports a command when asked)."""
    names = {o[2:] for p in command.params if isinstance(p, click.Option)
             for o in p.opts if o.startswith("--")}
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                names |= _option_names(sub, ctx)
    return names


def check_profile_keys(ctx: click.Context, profile: Profile) -> None:
    """A key no command has is a typo: silently ignoring it would run with a default."""
    if not profile.values:
        return
    root = ctx.find_root()
    known = _option_names(root.command, root)
    for key in profile.values:
        if key not in known:
            raise InputError(f"profile {profile.name!r}: unknown key {key!r} (keys are long "
                             "option names without '--', e.g. ldap-url)", str(profile.path))


def apply_profile(ctx: click.Context, profile: Profile) -> None:
    """Fill unset options from the profile (command line > profile > default)."""
    check_profile_keys(ctx, profile)
    base = profile.path.parent if profile.path else Path.cwd()
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or not param.name:
            continue
        longs = [o[2:] for o in param.opts if o.startswith("--")]
        key = next((k for k in longs if k in profile.values), None)
        if key is None:
            continue
        source = ctx.get_parameter_source(param.name)
        if source not in (ParameterSource.DEFAULT, None):
            continue
        value = profile.values[key]
        if param.multiple and not isinstance(value, list):
            value = [value]
        if key in PATH_OPTIONS:
            value = [_resolve_path(str(v), base) for v in value] if isinstance(
                value, list) else _resolve_path(str(value), base)
        try:
            ctx.params[param.name] = param.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise InputError(f"profile {profile.name!r}, key {key!r}: {exc.message}",
                             str(profile.path)) from None


class CcmigCommand(click.Command):
    """A command that reads global flags and its profile before it runs."""

    # True: a named profile must exist; "if-file": unless there is no file at all;
    # False: any name; None: the command reads no profile (``config init``).
    profile_must_exist: bool | str | None = True

    def invoke(self, ctx: click.Context) -> Any:
        g = globals_of(ctx)
        setup_logging(g["verbose"], g["quiet"], g.get("log_file"))
        progress.ENABLED = not g["quiet"]
        if self.profile_must_exist is None:
            profile = Profile(g.get("profile") or "default")
        else:
            profile = load_profile(g.get("config"), g.get("profile"), self.profile_must_exist)
        ctx.meta["ccmig.profile"] = profile
        apply_profile(ctx, profile)
        if ctx.params.get("ccmail_dirs"):  # expanded once: plans and records name the files
            ctx.params["ccmail_dirs"] = tuple(expand_ccmail_dirs(ctx.params["ccmail_dirs"]))
        credentials.profile_opt_in = profile.values.get("allow-plaintext-keyring") is True
        # A command is one short process over one big heap: reading, analysing
        # and rendering 100,000 recipients with the cyclic collector on costs
        # a quarter of the run (see toolkit.audit.no_cyclic_gc).
        with no_cyclic_gc():
            return super().invoke(ctx)


class LenientProfileCommand(CcmigCommand):
    """For ``creds`` and ``config show``: before any configuration file is
    written a profile may exist only as keyring entries; once there is a file,
    a name not in it is a typo (``--profile lba``) and refused as ``audit`` does."""

    profile_must_exist = "if-file"


class AnyProfileCommand(CcmigCommand):
    """``creds delete``: clearing a secret of a profile no longer in the file works."""

    profile_must_exist = False


class NoProfileCommand(CcmigCommand):
    """``config init``: writes the file, so it reads none."""

    profile_must_exist = None


class CcmigGroup(click.Group):
    command_class = CcmigCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_class = CcmigGroup


def profile_of(ctx: click.Context) -> Profile:
    return ctx.meta.get("ccmig.profile") or Profile("default")


# --------------------------------------------------------------------------- output


def output_options(f: Callable) -> Callable:
    from toolkit.render import FORMATS

    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                     show_default=True, help="Output format (ndjson = jsonl)."),
        click.option("--output", "-o", metavar="FILE",
                     help="Write to FILE (atomically) instead of stdout."),
        click.option("--fail-on", type=click.Choice(FAIL_ON), default="warning",
                     show_default=True, help="Exit 1 when a shown finding is this severe."),
        click.option("--fields", metavar="A,B,...", callback=_fields,
                     help="Columns for table/csv, from: " + ", ".join(_columns()) + "."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _columns() -> tuple[str, ...]:
    from toolkit.render.csvout import COLUMNS

    return COLUMNS


def _fields(ctx: click.Context, param: click.Parameter, value: str | None):
    if not value:
        return None
    fields = [f.strip() for f in value.split(",") if f.strip()]
    unknown = [f for f in fields if f not in _columns()]
    if unknown or not fields:
        raise click.BadParameter(f"unknown field(s) {', '.join(unknown) or value!r}; choose from "
                                 + ", ".join(_columns()))
    return fields


@contextmanager
def open_output(path: str | None) -> Iterator[TextIO]:
    """stdout, or FILE written to a temporary name and renamed when complete.

    A run that fails half-way never leaves a report that looks finished.
    """
    if not path:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if target.exists() and not target.is_file():  # /dev/null, a FIFO: never replace those
        try:
            with open(target, "w", encoding="utf-8", newline="") as fh:
                yield fh
        except OSError as exc:
            raise InputError(f"cannot write output: {exc.strerror}", "--output") from None
        return
    try:
        fd, tmp = atomic.new_temp(target)
    except OSError as exc:
        raise InputError(f"cannot write output: {exc.strerror}", "--output") from None
    with atomic.replacing(target, fd, tmp, mode=atomic.ordinary_mode(), encoding="utf-8",
                          newline="") as fh:
        yield fh


def failing_rows(rows: Sequence[Row], fail_on: str) -> int:
    """How many rows have a finding at or above ``fail_on``."""
    if fail_on == "never":
        return 0
    threshold = SEVERITY_RANK[fail_on]
    codes = getattr(rows, "codes", None)
    found = codes() if codes is not None else ([f.code for f in r.findings] for r in rows)
    return sum(1 for cs in found if any(SEVERITY_RANK[SEVERITY[c]] >= threshold for c in cs))


def explain_exit(code: int, rows: Sequence[Row], fail_on: str, written: str | None) -> None:
    """Exit 1 with the output in a file: say why on stderr (unless -q), or the
    admin sees a failed command and a report that looks fine."""
    if code != 1 or not written or logging.getLogger().getEffectiveLevel() > logging.WARNING:
        return
    n = failing_rows(rows, fail_on)
    click.echo(f"ccmig: wrote {written}; exit 1: {n} row(s) have a finding at or above "
               f"--fail-on {fail_on} (--fail-on never exits 0)", err=True)


def exit_code(rows: Sequence[Row], fail_on: str) -> int:
    """1 when a finding is at least ``fail_on`` severe. ``rows``: rows, an
    analysis's Rows (``codes()``), or what a writer reports it wrote
    (``severities``: ``render.proxies.AuditTotals``)."""
    if fail_on == "never":
        return 0
    threshold = SEVERITY_RANK[fail_on]
    codes = getattr(rows, "codes", None)  # an analysis's Rows: no need to make the rows
    severities = getattr(rows, "severities", None)  # rows already written (proxies audit)
    if severities is not None:
        worst = max((SEVERITY_RANK[s] for s in severities), default=0)
    elif codes is not None:
        worst = max((SEVERITY_RANK[SEVERITY[c]] for found in codes() for c in found), default=0)
    else:
        worst = max((SEVERITY_RANK[f.severity] for r in rows for f in r.findings), default=0)
    return 1 if worst >= threshold else 0


#: Set by :func:`toolkit.cli.main.main`: this process is ccmig's own (the
#: console script, ``python -m toolkit``), not a runbook's ``run()`` or a
#: test's CliRunner, which go on after the command.
OWN_PROCESS = False


def finished(code: int) -> int:
    """A command's last step, once all it writes is written and closed: in
    ccmig's own process (:data:`OWN_PROCESS`) with no other thread, the
    process ends here with ``code``, its heap left to the system; else
    ``code`` is returned as usual.

    Why: at 100,000 people the objects an audit still holds are freed one by
    one when the command returns (~0.12 s; ``proxies audit``: ~0.4 s, a
    tenth of its run), to no one's benefit - the process ends right after.
    So, as mypy does (``util.hard_exit``), stdout and stderr are flushed (a
    closed pipe raises here, as at a normal exit), logging is shut down (its
    handlers flushed and closed: ``--log-file``) and ``os._exit`` ends the
    process. Call it with every output closed: no finaliser or ``atexit``
    function runs after it (ccmig registers none; logging's is called here).
    """
    if not OWN_PROCESS or threading.active_count() > 1:
        return code
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # (None: a process started without them)
            stream.flush()
    logging.shutdown()
    os._exit(code)
