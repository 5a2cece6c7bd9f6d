"""``ccmig apply`` / ``ccmig undo`` for proxy plans: choosing the write path.

:mod:`toolkit.cli.remediate` hands over here when a plan holds
``remove-proxy-addresses`` actions or a journal records their writes, so the
cc:Mail apply stays exactly as it was. The rules live in
:mod:`toolkit.proxies.apply`; this module only turns options into a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from toolkit.cli.inputs import ldap_settings, powershell_session, resolve_source
from toolkit.errors import InputError
from toolkit.proxies.apply import (
    Pacing,
    ProxyWriter,
    apply_proxy_plan,
    undo_proxy_journal,
)
from toolkit.proxies.plan import KIND
from toolkit.remediation.journal import read_journal
from toolkit.remediation.settle import Outcome

LDIF_CANNOT_WRITE = ("an LDIF export cannot be written: give --exchange-uri (remote PowerShell) or "
                     "a live --ldap-url, or make an LDIF change file to review and import with "
                     "`ccmig proxies plan --format ldif`")


def is_proxy_plan(data: dict[str, Any]) -> bool:
    return any(a.get("kind") == KIND for a in data["actions"])


@contextmanager
def proxy_writer(params: dict[str, Any], profile: str, path: str | None = None
                 ) -> Iterator[ProxyWriter]:
    """The write path the options choose (``path``: the one a journal names).

    Remote PowerShell when ``--exchange-uri`` is given, else the live LDAP
    source; an LDIF source cannot be written (exit 2).
    """
    from toolkit.proxies.writers import LdapProxyWriter, PowerShellProxyWriter

    want_ps = bool(params.get("exchange_uri")) if path is None else path == "powershell"
    if want_ps:
        if not params.get("exchange_uri"):
            raise InputError("these changes were written through remote PowerShell: give "
                             "--exchange-uri", "--exchange-uri")
        with powershell_session(params, profile) as session:
            yield PowerShellProxyWriter(session)
        return
    if path is None and resolve_source(params) != "ldap":
        raise InputError(LDIF_CANNOT_WRITE, "--ldif" if params.get("ldif") else "--source")
    if not params.get("ldap_url") or not params.get("base_dn"):
        raise InputError("these changes were written over LDAP: give --ldap-url and --base-dn",
                         "--ldap-url")
    writer = LdapProxyWriter(ldap_settings(params, profile))
    try:
        yield writer
    finally:
        writer.close()


def apply_proxies(data: dict[str, Any], params: dict[str, Any], profile: str, *, yes: bool,
                  journal: str, plan_path: str, only: tuple[str, ...],
                  write_retries: int, per_minute: int | None) -> list[Outcome]:
    if only and KIND not in only:
        return []
    from toolkit.ccmail.directory import Directory

    if params.get("dialect", "ad") != "ad":
        raise InputError("the Exchange 5.5 dialect has no proxies plan", "--dialect")
    dirs = params.get("ccmail_dirs") or ()
    entries = (list(Directory.from_args(dirs, params.get("ccmail_encoding")).entries())
               if dirs else None)
    with proxy_writer(params, profile) as writer:
        return apply_proxy_plan(data, writer, yes=yes, journal_path=journal, entries=entries,
                                pacing=Pacing(write_retries, per_minute), plan_path=plan_path)


def is_proxy_journal(path: str) -> bool:
    return any(e.kind == KIND for e in read_journal(path).entries)


def recorded_of(path: str) -> dict[str, Any]:
    """The plan inputs the journal's last apply recorded (never a secret)."""
    runs = [r for r in read_journal(path).runs if r.get("what") == "apply" and r.get("inputs")]
    return runs[-1]["inputs"] if runs else {}


def undo_proxies(journal: str, params: dict[str, Any], profile: str, *, yes: bool,
                 write_retries: int = 3, per_minute: int | None = None) -> list[Outcome]:
    with ExitStack() as stack:
        writers: dict[str, ProxyWriter] = {}

        def writer_for(path: str) -> ProxyWriter:
            if path not in writers:
                writers[path] = stack.enter_context(proxy_writer(params, profile, path))
            return writers[path]

        return undo_proxy_journal(journal, writer_for, yes=yes,
                                  pacing=Pacing(write_retries, per_minute))
