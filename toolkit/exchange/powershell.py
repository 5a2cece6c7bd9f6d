"""Exchange remote PowerShell (pypsrp): addresses, item counts, recipients, changes.

:class:`ExchangeSession` is the adapter's one public face. It is thin on
purpose: the work is split by layer, as pypsrp splits its own, and imports
run one way, down this list:

- :mod:`.psreads` - batched reads and the one retry policy (batch, place,
  ask the unplaced alone, retry a batch once or fail);
- :mod:`.pswrites` - writes, sent once and never retried;
- :mod:`.psmatch` - which answer belongs to which identity (pure functions);
- :mod:`.pspipeline` - one streamed pipeline: the single receive loop;
- :mod:`.pssession` - the runspace pool's lifecycle (open, fit the envelope,
  replace after a failure, close);
- :mod:`.psfailures` - error records, exceptions, one-line messages;
- :mod:`.psinternals` - every use of pypsrp beyond its public API;
- :mod:`.psobjects` (normalising wire objects) and :mod:`.pssettings`
  (validated before anything connects).

Only cmdlets and parameters are sent (the endpoint runs in no-language mode,
and user data never becomes script text): values travel as typed PSRP
objects (a dict is a Hashtable, a list an array).

Failures: a read whose transport fails is retried as :mod:`.psreads` says
(a second failure of the same batch is a ConnectionFailure, exit 3); a write
whose answer is lost is an :class:`OutcomeUnknown`; a terminating error is a
:class:`CommandFailed`; authentication and TLS failures are
ConnectionFailure at once, with the server's message on one line, never the
password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from toolkit.errors import InputError
from toolkit.exchange.psfailures import CommandFailed, ErrorInfo, OutcomeUnknown, Throttled
from toolkit.exchange.pspipeline import Invocation
from toolkit.exchange.psreads import (
    ADDRESS_PROPERTIES,
    PIPELINE_IDENTITIES,
    RECIPIENT_PROPERTIES,
    STATS_PROPERTIES,
    AddressPolicy,
    AddressResult,
    Reads,
    StatsResult,
)
from toolkit.exchange.pssession import Session
from toolkit.exchange.pssettings import AUTH_METHODS, ExchangeSettings
from toolkit.exchange.pswrites import PROXY_CMDLETS, edit_email_addresses, email_address_change, write
from toolkit.model import RawEntry

__all__ = ["ADDRESS_PROPERTIES", "AUTH_METHODS", "PIPELINE_IDENTITIES", "PROXY_CMDLETS",
           "RECIPIENT_PROPERTIES", "STATS_PROPERTIES", "AddressPolicy", "AddressResult", "CommandFailed",
           "ErrorInfo", "ExchangeSession", "ExchangeSettings", "Invocation", "OutcomeUnknown",
           "StatsResult", "Throttled"]

_CMDLET = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+$")


class ExchangeSession:
    """One remote PowerShell session to Exchange (context manager).

    ``transport`` replaces pypsrp's HTTP transport (an object with
    ``send(bytes) -> bytes``, ``endpoint`` and ``close()``): tests use it to
    run the full protocol without a socket.
    """

    def __init__(self, settings: ExchangeSettings, *, transport: Any = None) -> None:
        self.settings = settings
        self._session = Session(settings, transport)
        self._reads = Reads(self._session)

    @property
    def retries(self) -> int:
        """Reads asked again after a transport failure (for tests and logs)."""
        return self._session.retries

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> ExchangeSession:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> ExchangeSession:
        self._session.open()
        return self

    def close(self) -> None:
        """Close the runspace pool (WSMan Delete); a failure here loses no data."""
        self._session.close()

    def _ensure_open(self) -> Any:
        """The open pypsrp RunspacePool (tests run their own pipelines on it)."""
        return self._session.ensure_open()

    # -- reads -----------------------------------------------------------------

    def email_addresses(self, identities: Iterable[str]) -> list[AddressResult]:
        """EmailAddresses of each identity, in input order (Get-Recipient)."""
        return self._reads.email_addresses(identities)

    def mailbox_stats(self, identities: Iterable[str]) -> list[StatsResult]:
        """ItemCount (and TotalItemSize) of each identity's mailbox, in input order."""
        return self._reads.mailbox_stats(identities)

    def email_address_policies(self) -> list[AddressPolicy]:
        """Every email address policy with its enabled and disabled templates."""
        return self._reads.email_address_policies()

    def iter_recipients(self) -> Iterator[RawEntry]:
        """Every recipient (``Get-Recipient -ResultSize Unlimited``) as an AD RawEntry, streamed."""
        return self._reads.iter_recipients()

    # -- any cmdlet, and the writes remediation makes ------------------------------

    def run(self, cmdlet: str, parameters: Mapping[str, Any] | None = None, *,
            input: Sequence[Any] | None = None,
            select: Sequence[str] | None = None) -> Invocation:
        """Run one cmdlet with parameters (never script text); errors are returned.

        A ``Get-*`` cmdlet is a read (retried once after a transport failure);
        anything else is a write, never retried: a lost answer raises
        :class:`OutcomeUnknown`. A terminating error raises :class:`CommandFailed`.
        """
        if not _CMDLET.match(cmdlet):
            raise InputError(f"not a cmdlet name: {cmdlet!r}")
        commands = [(cmdlet, list((parameters or {}).items()))]
        if cmdlet.lower().startswith("get-"):
            return self._reads.read_all(commands, input, select, cmdlet)
        self._reads.seen.clear()  # what was looked up may change now
        return write(self._session, commands, input, select)

    def update_email_addresses(self, identity: str, add: Sequence[str] = (),
                               remove: Sequence[str] = (),
                               cmdlet: str = "Set-Mailbox") -> ErrorInfo | None:
        """``Set-Mailbox -Identity X -EmailAddresses @{Add=...; Remove=...}``; the error if any."""
        result = self.run(cmdlet, {"Identity": identity,
                                   "EmailAddresses": email_address_change(add, remove)})
        return result.errors[0] if result.errors else None

    def edit_email_addresses(self, cmdlet: str, identity: str, *, add: Sequence[str] = (),
                             remove: Sequence[str] = ()) -> Invocation:
        """THE proxy write (one call, sent once; see
        :func:`toolkit.exchange.pswrites.edit_email_addresses` for the contract):
        errors and warnings returned; :class:`Throttled` (not run: may be sent
        again after ``.wait``), :class:`OutcomeUnknown`, :class:`CommandFailed` raised."""
        self._reads.seen.clear()  # what was looked up may change now
        return edit_email_addresses(self._session, cmdlet, identity, add=add, remove=remove)

    def remove_mail_contact(self, identity: str) -> ErrorInfo | None:
        """``Remove-MailContact -Identity X -Confirm:$false``; the error if any."""
        result = self.run("Remove-MailContact", {"Identity": identity, "Confirm": False})
        return result.errors[0] if result.errors else None
