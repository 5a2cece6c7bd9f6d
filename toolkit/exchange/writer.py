"""Exchange-side changes of apply/undo, over an open PowerShell session.

Each method is one cmdlet with parameters. A refusal (a non-terminating error
such as "already being used") becomes an ``ExchangeRefused`` with Exchange's
own words, so the journal and the report say exactly why a change was not made.
"""

from __future__ import annotations

from typing import Any

from toolkit.errors import CcmigError
from toolkit.exchange import psobjects as pso
from toolkit.exchange.powershell import ErrorInfo, ExchangeSession

CONTACT_PROPERTIES = ("DistinguishedName", "Name", "Alias", "DisplayName", "ExternalEmailAddress",
                      "EmailAddresses", "LegacyExchangeDN", "OrganizationalUnit")


class ExchangeRefused(CcmigError):
    """Exchange refused one change; the run goes on with the others (exit 1)."""

    exit_code = 1


def _check(error: ErrorInfo | None) -> None:
    if error is not None:
        raise ExchangeRefused(" ".join(error.message.split()))


class PowerShellWriter:
    """:class:`toolkit.remediation.apply.ExchangeWriter` over remote PowerShell."""

    def __init__(self, session: ExchangeSession) -> None:
        self.session = session

    def get_addresses(self, dn: str) -> list[str] | None:
        [result] = self.session.email_addresses([dn])
        return list(result.addresses) if result.found else None

    def add_address(self, dn: str, address: str) -> None:
        _check(self.session.update_email_addresses(dn, add=[address]))

    def remove_address(self, dn: str, address: str) -> None:
        _check(self.session.update_email_addresses(dn, remove=[address]))

    def get_contact(self, dn: str) -> dict[str, Any] | None:
        result = self.session.run("Get-MailContact", {"Identity": dn})
        if not result.output:
            return None
        obj = result.output[0]
        record: dict[str, Any] = {}
        for name in CONTACT_PROPERTIES:
            value = pso.prop(obj, name)
            record[name] = pso.addresses(value) if name == "EmailAddresses" else pso.text(value)
        return record

    def remove_contact(self, dn: str) -> None:
        _check(self.session.remove_mail_contact(dn))

    def new_contact(self, record: dict[str, Any]) -> None:
        """Re-create a removed contact with its recorded attributes, plus an X500
        proxy of its old LegacyExchangeDN so replies to old mail still arrive."""
        params = {"Name": record["Name"], "ExternalEmailAddress": record["ExternalEmailAddress"]}
        for key in ("Alias", "DisplayName", "OrganizationalUnit"):
            if record.get(key):
                params[key] = record[key]
        created = self.session.run("New-MailContact", params)
        _check(created.errors[0] if created.errors else None)
        extra = [a for a in record.get("EmailAddresses") or []
                 if a.casefold() != (record["ExternalEmailAddress"] or "").casefold()]
        if record.get("LegacyExchangeDN"):
            extra.append(f"X500:{record['LegacyExchangeDN']}")
        if extra:
            ident = record.get("DistinguishedName") or record["Name"]
            _check(self.session.update_email_addresses(ident, add=extra, cmdlet="Set-MailContact"))
