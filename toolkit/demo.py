"""The bundled demo organisation, copied where an admin may change it.

The runbook's steps edit cc:Mail export files and LDIF in place. Run on the
bundled files they would change the demo every later ``./scripts/demo`` shows,
so the docs rehearse on a copy: ``ccmig demo copy DIR`` writes the
organisation, its cc:Mail files, the item counts and a profile naming them.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from toolkit.errors import InputError

PROFILE = "demo"
CONFIG = "ccmig.toml"
# What the demo is made of (mocks/demo; expected-codes.json is the tests' answer key).
FILES = ("org.ldif", "stats.csv", "README")


def demo_source() -> Path:
    """Where the bundled demo lives (installed as package data of ``mocks``)."""
    return Path(str(resources.files("toolkit.mocks") / "demo"))


def ccmail_files() -> list[str]:
    """The demo's cc:Mail export files, by name, sorted (one per post office)."""
    return sorted(p.name for p in (demo_source() / "ccmail").glob("*.txt"))


def profile_text() -> str:
    dirs = ", ".join(f'"ccmail/{name}"' for name in ccmail_files())
    return ("# The ccmig demo organisation, copied by `ccmig demo copy`: change it freely.\n"
            "# Paths are relative to this file.\n"
            f"[profiles.{PROFILE}]\n"
            'ldif = "org.ldif"\n'
            f"ccmail-dir = [{dirs}]\n"
            'exchange-po = ["EXCH"]\n'
            'mailbox-stats = "stats.csv"\n')


def copy_demo(target: str | Path) -> Path:
    """Copy the demo into ``target`` (new or empty); returns the profile file written."""
    dest = Path(target)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError("not an empty directory: the demo is copied into a new or empty one",
                         str(dest))
    src = demo_source()
    try:
        (dest / "ccmail").mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(src / name, dest / name)
        for name in ccmail_files():
            shutil.copyfile(src / "ccmail" / name, dest / "ccmail" / name)
        config = dest / CONFIG
        config.write_text(profile_text(), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot copy the demo: {exc.strerror or exc}", str(dest)) from None
    return config
