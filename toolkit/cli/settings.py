"""``ccmig config`` and ``ccmig creds``: profiles and keyring secrets."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from toolkit import atomic, credentials
from toolkit.cli.common import CcmigGroup, LenientProfileCommand, global_options, profile_of
from toolkit.config import EXAMPLE, default_config_path
from toolkit.errors import InputError


@click.group("config", cls=CcmigGroup)
@global_options
def config_group() -> None:
    """Show or create the configuration file of profiles."""


@config_group.command("show", cls=LenientProfileCommand, epilog="""\b
Examples:
  ccmig config show
  ccmig config show --profile prod --config ./ccmig.toml
""")
@global_options
@click.pass_context
def config_show(ctx: click.Context) -> int:
    """Print the active profile's settings (secrets are never stored there)."""
    profile = profile_of(ctx)
    click.echo(f"# profile: {profile.name}")
    click.echo(f"# file: {profile.path or '(none)'}")
    for key, value in sorted(profile.values.items()):
        click.echo(f"{key} = {value!r}")
    for purpose in credentials.PURPOSES:
        click.echo(f"# {purpose} secret: {credentials.describe_secret(profile.name, purpose)}")
    return 0


@config_group.command("init", cls=LenientProfileCommand, epilog="""\b
Examples:
  ccmig config init
  ccmig config init --path ./ccmig.toml
""")
@click.option("--path", metavar="FILE", help="Where to write (default ~/.config/ccmig/config.toml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@global_options
def config_init(path: str | None, force: bool) -> int:
    """Write a commented example configuration file."""
    target = Path(path) if path else default_config_path()
    if target.exists() and not force:
        raise InputError("file exists (use --force to overwrite)", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = None if target.exists() else atomic.ordinary_mode()  # --force keeps the file's mode
    fd, tmp = atomic.new_temp(target)
    with atomic.replacing(target, fd, tmp, mode=mode, encoding="utf-8") as fh:
        fh.write(EXAMPLE)
    click.echo(f"wrote {target}")
    return 0


PURPOSE = click.option("--for", "purpose", type=click.Choice(credentials.PURPOSES),
                       default="ldap", show_default=True, help="Which secret.")


@click.group("creds", cls=CcmigGroup)
@global_options
def creds_group() -> None:
    """Store, inspect or delete secrets in the OS keyring (service 'ccmig')."""


@creds_group.command("set", cls=LenientProfileCommand, epilog="""\b
Examples:
  ccmig creds set --profile prod --for ldap          (prompts)
  pass show svc-ccmig | ccmig creds set --for exchange
""")
@PURPOSE
@global_options
@click.pass_context
def creds_set(ctx: click.Context, purpose: str) -> int:
    """Store a secret: read from a prompt, or from stdin when it is not a terminal."""
    profile = profile_of(ctx).name
    if sys.stdin.isatty():
        secret = click.prompt(f"{purpose} secret for profile {profile}", hide_input=True,
                              confirmation_prompt=True, err=True)
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    backend = credentials.set_secret(profile, purpose, secret)
    click.echo(f"stored {purpose} secret for profile {profile!r} in {backend} "
               f"(service {credentials.SERVICE!r}, username "
               f"{credentials.username(profile, purpose)!r})")
    return 0


@creds_group.command("get", cls=LenientProfileCommand, epilog="""\b
Examples:
  ccmig creds get --profile prod --for ldap
""")
@PURPOSE
@global_options
@click.pass_context
def creds_get(ctx: click.Context, purpose: str) -> int:
    """Say whether and where a secret is stored; never print it."""
    profile = profile_of(ctx).name
    click.echo(f"{purpose} secret for profile {profile!r}: "
               f"{credentials.describe_secret(profile, purpose)}")
    return 0


@creds_group.command("delete", cls=LenientProfileCommand, epilog="""\b
Examples:
  ccmig creds delete --profile prod --for exchange
""")
@PURPOSE
@global_options
@click.pass_context
def creds_delete(ctx: click.Context, purpose: str) -> int:
    """Delete a stored secret from the keyring."""
    profile = profile_of(ctx).name
    if credentials.delete_secret(profile, purpose):
        click.echo(f"deleted {purpose} secret for profile {profile!r}")
        return 0
    raise InputError(f"no {purpose} secret stored for profile {profile!r}", "--profile")
