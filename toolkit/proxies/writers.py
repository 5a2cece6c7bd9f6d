"""The two write paths of proxy apply/undo (spec: ``ccmig apply PLAN``).

- Remote PowerShell: the action's cmdlet, ``-EmailAddresses @{Remove=...}``
  (or ``@{Add=...}`` for undo), through THE EmailAddresses write primitive
  (:func:`toolkit.exchange.pswrites.edit_email_addresses`); the object is
  read with ``Get-Recipient``.
- LDAP: one modify per object deleting (or adding) exactly those
  ``proxyAddresses`` values: one LDAP operation is atomic per entry, so a
  half-written object cannot happen.

Each path reads the object the way it writes it, so apply's re-check sees
what the write will act on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException

from toolkit.errors import CcmigError, ConnectionFailure
from toolkit.exchange import psobjects as pso
from toolkit.exchange.ldap import LdapSettings, connect
from toolkit.exchange.powershell import CommandFailed, ExchangeSession
from toolkit.exchange.psfailures import Throttled
from toolkit.exchange.writer import ExchangeRefused

# busy (51) and unavailable (52): the server did not perform the operation
# and says so; like Exchange's throttling refusal it may be sent again.
_NOT_PERFORMED = (51, 52)


class PowerShellProxyWriter:
    path = "powershell"

    def __init__(self, session: ExchangeSession) -> None:
        self.session = session

    def read(self, dn: str) -> list[str] | None:
        """``Get-Recipient -Identity DN`` asked now (never an answer kept from
        before: apply re-reads to see what a write will act on)."""
        result = self.session.run("Get-Recipient", {"Identity": dn})
        if result.errors or len(result.output) != 1:
            return None
        try:
            return pso.addresses(pso.prop(result.output[0], "EmailAddresses"))
        except pso.WireFormatError as exc:
            raise ConnectionFailure(f"unexpected answer to Get-Recipient {dn}: {exc}") from None

    def can_write(self, action: dict[str, Any]) -> str | None:
        if not action.get("cmdlet"):
            return ("no cmdlet: not an Exchange recipient (kind user), remote PowerShell cannot "
                    "edit it; apply over LDAP (without --exchange-uri)")
        return None

    def edit(self, dn: str, cmdlet: str | None, *, remove: Sequence[str] = (),
             add: Sequence[str] = ()) -> None:
        assert cmdlet
        try:
            result = self.session.edit_email_addresses(cmdlet, dn, add=add, remove=remove)
        except Throttled:
            raise
        except CommandFailed as failed:  # terminating: Exchange did not make the change
            raise ExchangeRefused(str(failed)) from None
        if result.errors:
            raise ExchangeRefused(" ".join(result.errors[0].message.split()))


class LdapProxyWriter:
    path = "ldap"

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self._conn: ldap3.Connection | None = None

    def _connection(self) -> ldap3.Connection:
        if self._conn is None:
            self._conn = connect(self.settings, writable=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # a broken socket must not mask the real error
                self._conn.unbind()
            self._conn = None

    def can_write(self, action: dict[str, Any]) -> str | None:
        return None

    def read(self, dn: str) -> list[str] | None:
        conn = self._connection()
        try:
            ok = conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["proxyAddresses"])
        except LDAPException as exc:
            raise ConnectionFailure(f"{self.settings.url}: reading {dn} failed: {exc}") from None
        result = conn.result or {}
        if not ok:
            if result.get("result") == 32:  # noSuchObject
                return None
            raise ConnectionFailure(f"{self.settings.url}: reading {dn} failed: "
                                    f"{result.get('description')} {result.get('message', '')}")
        entries = [r for r in conn.response or [] if r.get("type") == "searchResEntry"]
        if not entries:
            return None
        raw = entries[0].get("raw_attributes", {})
        values = next((v for k, v in raw.items() if k.lower() == "proxyaddresses"), [])
        return [v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v
                for v in values]

    def edit(self, dn: str, cmdlet: str | None, *, remove: Sequence[str] = (),
             add: Sequence[str] = ()) -> None:
        conn = self._connection()
        change = [(ldap3.MODIFY_DELETE, list(remove))] if remove else []
        change += [(ldap3.MODIFY_ADD, list(add))] if add else []
        try:
            ok = conn.modify(dn, {"proxyAddresses": change})
        except LDAPException as exc:
            raise ConnectionFailure(f"{self.settings.url}: modify of {dn} sent, answer lost "
                                    f"({exc}); it may or may not have been made") from None
        if ok:
            return
        result = conn.result or {}
        text = f"{result.get('description')} {result.get('message') or ''}".strip()
        if result.get("result") in _NOT_PERFORMED:
            raise Throttled(f"{self.settings.url}: modify of {dn} not performed: {text}", None)
        raise CcmigRefused(f"{self.settings.url}: modify of {dn} refused: {text}")


class CcmigRefused(CcmigError):
    """The directory refused one write (nothing changed); the run goes on (exit 1)."""

    exit_code = 1
