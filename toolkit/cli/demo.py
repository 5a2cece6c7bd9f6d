"""``ccmig demo``: the bundled demo organisation, for rehearsing the docs."""

from __future__ import annotations

import shlex

import click

from toolkit.cli.common import CcmigGroup, LenientProfileCommand, global_options
from toolkit.demo import PROFILE, copy_demo


@click.group("demo", cls=CcmigGroup)
@global_options
def demo_group() -> None:
    """The bundled demo organisation (300 invented people)."""


@demo_group.command("copy", cls=LenientProfileCommand, epilog="""\b
Examples:
  ccmig demo copy ~/ccmig-lab
  cd ~/ccmig-lab && export CCMIG_CONFIG=$PWD/ccmig.toml CCMIG_PROFILE=demo
""")
@click.argument("directory", metavar="DIR")
@global_options
def demo_copy(directory: str) -> int:
    """Copy the demo into DIR (new or empty) with a profile file naming it, so the
    runbook can change the copy and never the bundled files."""
    config = copy_demo(directory)
    click.echo(f"wrote the demo organisation and {config.name} (profile '{PROFILE}') to "
               f"{config.parent}")
    click.echo("Use it with:")
    click.echo(f"  cd {shlex.quote(str(config.parent))} && export "
               f"CCMIG_CONFIG=$PWD/{config.name} CCMIG_PROFILE={PROFILE}")
    return 0
