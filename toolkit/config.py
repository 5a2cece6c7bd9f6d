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


def load_profile(config: str | None, profile: str | None, must_exist: bool = True) -> Profile:
    """The named profile (``default`` if none) from ``--config`` or the default file.

    ``must_exist=False`` (``ccmig creds``) accepts a profile that only names
    keyring entries: its secrets may be stored before any file is written.
    """
    explicit = config or os.environ.get("CCMIG_CONFIG")
    name = profile or os.environ.get("CCMIG_PROFILE") or "default"
    path = Path(explicit) if explicit else default_config_path()
    if not path.exists():
        if explicit:
            raise InputError("configuration file not found", str(path))
        if profile and must_exist:
            raise InputError(f"profile {name!r} not found: no configuration file", "--profile")
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
        if (profile or os.environ.get("CCMIG_PROFILE")) and must_exist:
            raise InputError(f"profile {name!r} not found", str(path))
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
