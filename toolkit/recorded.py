"""The audit inputs a run or a plan records, and how a later command merges them.

``audit --record``, ``report`` and ``plan`` record the inputs they were run
with (never a secret); ``apply`` takes back those not given again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolkit.history import record_run
from toolkit.model import Row

log = logging.getLogger(__name__)

# Never recorded: secrets, and --insecure-skip-verify / --allow-unencrypted,
# which an apply must be given again on purpose.
RECORDED = ("ldif", "ldap_url", "base_dn", "bind_dn", "starttls", "ldap_auth", "dialect",
            "source", "ccmail_dirs", "ccmail_encoding", "exchange_pos", "mailbox_stats",
            "exchange_uri", "exchange_auth", "exchange_user", "ca_file", "page_size")
PATHS = ("ldif", "mailbox_stats", "ca_file")


def _abs(value: str) -> str:
    po, sep, rest = value.partition("=")
    if sep and not os.path.exists(value):
        return f"{po}={os.path.abspath(rest)}"
    return os.path.abspath(value)


def recorded_inputs(params: dict[str, Any]) -> dict[str, Any]:
    """The audit inputs a plan was made from (paths absolute; never a secret)."""
    out: dict[str, Any] = {}
    for key in RECORDED:
        value = params.get(key)
        if key in PATHS and value:
            value = os.path.abspath(value)
        elif key == "ccmail_dirs":
            value = [_abs(v) for v in value or ()]
        elif isinstance(value, tuple):
            value = list(value)
        elif key in ("exchange_uri", "ldap_url") and isinstance(value, str) and "@" in value:
            value = None  # a URL with user info may hold a secret: never recorded
        out[key] = value
    return out


def record_inputs(params: dict[str, Any], profile: str | None = None) -> dict[str, Any]:
    """The audit inputs of a run as recorded (paths absolute; never a secret)."""
    inputs = recorded_inputs(params)
    return {"profile": profile, **inputs} if profile else inputs


def merge_recorded(params: dict[str, Any], recorded: dict[str, Any],
                   is_default: Callable[[str], bool]) -> dict[str, Any]:
    """Options not given on the command line (``is_default``) come from the
    plan's recorded inputs; a source given again replaces the recorded one."""
    given_source = params.get("ldif") or params.get("ldap_url")
    out = dict(params)
    for key, value in recorded.items():
        if key not in out or value in (None, [], ()):
            continue
        if given_source and key in ("ldif", "ldap_url", "source"):
            continue
        if is_default(key):
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


def record_audit(directory: str, rows: Sequence[Row], params: dict[str, Any],
                 profile: str | None = None) -> Path:
    """``audit --record DIR``: record the whole (unfiltered) audit in DIR."""
    path = record_run(directory, rows, record_inputs(params, profile))
    log.info("recorded this run: %s", path)
    return path
