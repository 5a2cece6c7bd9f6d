"""Exchange-side changes of apply/undo, over an open PowerShell session.

Each change is one cmdlet with parameters. A refusal (a non-terminating error
such as "already being used", or a terminating one) becomes an
``ExchangeRefused`` with Exchange's own words, so the journal and the report
say exactly why a change was not made.

Writes are never retried. When the connection fails after a change was sent
the session raises :class:`~toolkit.exchange.powershell.OutcomeUnknown` (a
ConnectionFailure, exit 3): apply/undo journal the change as unknown and the
next run settles it by reading the current state. Re-creating a contact is
idempotent by observation: a contact that already exists (a re-creation whose
answer was lost) is not created again, only its missing addresses are added.
"""

from __future__ import annotations

from typing import Any

from toolkit.errors import CcmigError
from toolkit.exchange import psobjects as pso
from toolkit.exchange.powershell import CommandFailed, ErrorInfo, ExchangeSession

CONTACT_PROPERTIES = ("DistinguishedName", "Name", "Alias", "DisplayName", "ExternalEmailAddress",
                      "EmailAddresses", "LegacyExchangeDN", "OrganizationalUnit")


class ExchangeRefused(CcmigError):
    """Exchange refused one change; the run goes on with the others (exit 1)."""

    exit_code = 1


def _check(error: ErrorInfo | None) -> None:
    if error is not None:
        raise ExchangeRefused(" ".join(error.message.split()))


def _refused(failed: CommandFailed) -> ExchangeRefused:
    """A terminating error: Exchange refused the command, nothing was changed."""
    return ExchangeRefused(str(failed))


class PowerShellWriter:
    """:class:`toolkit.remediation.apply.ExchangeWriter` over remote PowerShell."""

    def __init__(self, session: ExchangeSession) -> None:
        self.session = session

    def get_addresses(self, dn: str) -> list[str] | None:
        [result] = self.session.email_addresses([dn])
        return list(result.addresses) if result.found else None

    def add_address(self, dn: str, address: str) -> None:
        self.edit_addresses(dn, add=[address], remove=[])

    def remove_address(self, dn: str, address: str) -> None:
        self.edit_addresses(dn, add=[], remove=[address])

    def edit_addresses(self, dn: str, *, add: list[str], remove: list[str]) -> None:
        """Remove and add in ONE ``Set-Mailbox`` call: Exchange applies both or
        neither, and refuses an add of a value the object holds in another case
        unless that value goes in the same call."""
        try:
            _check(self.session.update_email_addresses(dn, add=add, remove=remove))
        except CommandFailed as failed:
            raise _refused(failed) from None

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
        try:
            _check(self.session.remove_mail_contact(dn))
        except CommandFailed as failed:
            raise _refused(failed) from None

    def new_contact(self, record: dict[str, Any]) -> None:
        """Re-create a removed contact with its recorded attributes, plus an X500
        proxy of its old LegacyExchangeDN so replies to old mail still arrive.

        Looks first: a contact already there (an earlier re-creation whose
        answer was lost) is not created twice; only the addresses it lacks
        are added.
        """
        ident = record.get("DistinguishedName") or record["Name"]
        existing = self.get_contact(ident)
        try:
            if existing is None:
                params = {"Name": record["Name"],
                          "ExternalEmailAddress": record["ExternalEmailAddress"]}
                for key in ("Alias", "DisplayName", "OrganizationalUnit"):
                    if record.get(key):
                        params[key] = record[key]
                created = self.session.run("New-MailContact", params)
                _check(created.errors[0] if created.errors else None)
            have = {a.casefold() for a in (existing or {}).get("EmailAddresses") or []}
            have.add((record["ExternalEmailAddress"] or "").casefold())
            extra = [a for a in record.get("EmailAddresses") or [] if a.casefold() not in have]
            legacy = f"X500:{record['LegacyExchangeDN']}" if record.get("LegacyExchangeDN") else None
            if legacy and legacy.casefold() not in have:
                extra.append(legacy)
            if extra:
                _check(self.session.update_email_addresses(ident, add=extra,
                                                           cmdlet="Set-MailContact"))
        except CommandFailed as failed:
            raise _refused(failed) from None
