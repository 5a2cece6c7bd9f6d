"""Configuration profiles: TOML ``[profiles.NAME]`` tables of long option names.

A profile supplies any option the command line leaves unset; the command line
always wins. A key that is no command's option is an error (a typo such as
``ldap-uri`` must not quietly run with a default). Secrets never live here
(they live in the OS keyring).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import InputError

SECRET_KEYS = frozenset({"password", "ldap-password", "exchange-password", "secret"})


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "ccmig" / "config.toml"


@dataclass
class Profile:
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the config file it came from (relative paths resolve there)


def config_source(config: str | None) -> tuple[Path, str | None]:
    """The configuration file in use and what chose it (``--config``,
    ``$CCMIG_CONFIG``, or None for the default path)."""
    if config:
        return Path(config), "--config"
    env = os.environ.get("CCMIG_CONFIG")
    if env:
        return Path(env), "$CCMIG_CONFIG"
    return default_config_path(), None


def _not_found(name: str, path: Path, chosen_by: str | None, known: list[str]) -> InputError:
    """Name the profiles there are, and what chose the file: a forgotten
    ``export CCMIG_CONFIG=demo.toml`` is the usual reason a profile is missing."""
    names = ", ".join(repr(k) for k in sorted(known)) or "none"
    by = f" (chosen by {chosen_by})" if chosen_by else ""
    return InputError(f"profile {name!r} not found in {path}{by}; its profiles: {names}",
                      "--profile")


def load_profile(config: str | None, profile: str | None,
                 must_exist: bool | str = True) -> Profile:
    """The named profile (``default`` if none) from ``--config`` or the default file.

    ``must_exist``: True, a profile named with ``--profile``/``$CCMIG_PROFILE``
    must be in the file; ``"if-file"`` (``ccmig creds``, ``config show``) the
    same, except that with no configuration file at all any name is accepted
    (secrets may be stored before the file is written); False, never checked.
    """
    path, chosen_by = config_source(config)
    name = profile or os.environ.get("CCMIG_PROFILE") or "default"
    named = bool(profile or os.environ.get("CCMIG_PROFILE"))
    if not path.exists():
        if chosen_by:
            raise InputError(f"configuration file not found (chosen by {chosen_by})", str(path))
        if named and must_exist is True:
            raise InputError(f"profile {name!r} not found: no configuration file ({path})",
                             "--profile")
        return Profile(name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read configuration: {exc}", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"bad TOML: {exc}", str(path)) from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise InputError("'profiles' must be a table of [profiles.NAME] tables", str(path))
    values = profiles.get(name)
    if values is None:
        if named and must_exist:
            raise _not_found(name, path, chosen_by, list(profiles))
        return Profile(name, {}, path)
    if not isinstance(values, dict):
        raise InputError(f"[profiles.{name}] must be a table", str(path))
    for key in values:
        if key.lower() in SECRET_KEYS:
            raise InputError(
                f"[profiles.{name}] holds {key!r}: secrets belong in the keyring "
                "(ccmig creds set)", str(path))
    return Profile(name, dict(values), path)


EXAMPLE = """\
# ccmig configuration. Each [profiles.NAME] table holds long option names
# (without the leading --); the command line overrides them. Profile
# "default" is used when --profile / CCMIG_PROFILE name none.
# Secrets never go here: store them with `ccmig creds set --for ldap`.

[profiles.default]
# ldap-url = "ldaps://dc01.corp.example"
# base-dn = "DC=corp,DC=example"
# bind-dn = "CORP\\\\svc-ccmig"
# timeout = 30                       # seconds; bounds connecting and every wait for data
# retries = 2                        # re-try connecting (never a started search)
# dialect = "ad"                     # or "exchange55"
# exchange-po = ["EXCH"]             # the Exchange sites' cc:Mail PO names
# ccmail-dir = ["HUBPO=exports/hubpo.txt", "exports/po1.txt"]
# mailbox-stats = "stats.csv"
# exchange-uri = "https://exch01.corp.example/PowerShell"
# exchange-auth = "kerberos"
"""
