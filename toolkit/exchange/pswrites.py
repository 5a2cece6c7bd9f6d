"""Writes over remote PowerShell: sent once, never retried here.

Why never: when the transport fails after a write was sent, Exchange may or
may not have made the change, and sending it again could make it twice (or
fail confusingly on the second try). So a lost answer is an
:class:`~toolkit.exchange.psfailures.OutcomeUnknown` (exit 3) that the
caller - apply/undo - journals and settles later by reading the current
state; pypsrp's own reconnection retries stay off (its default, checked by
tests/test_psinternals.py) for the same reason.

The one exception is a refusal by throttling: Exchange did not run the
request, so it is raised as :class:`~toolkit.exchange.psfailures.Throttled`
(with the wait the server names) for the caller to send again after that
wait - the caller decides, this layer still sends once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit.errors import InputError
from toolkit.exchange.psfailures import (
    CommandFailed,
    Failed,
    Lost,
    OutcomeUnknown,
    Throttled,
    is_throttling,
    throttle_wait,
)
from toolkit.exchange.pspipeline import Invocation, collect
from toolkit.exchange.pssession import Commands, Session


def write(session: Session, commands: Commands, input: Sequence[Any] | None = None,
          select: Sequence[str] | None = None) -> Invocation:
    """One write: errors are returned; a lost answer is an :class:`OutcomeUnknown`,
    a terminating error a :class:`CommandFailed` (the change was not made)."""
    session.recover()  # a failure here is before anything was sent: plainly exit 3
    session.ensure_open()
    name, uri = commands[0][0], session.settings.uri
    try:
        return collect(session, commands, input, select)
    except Lost as lost:
        session.suspect = True
        if lost.refused:
            raise Throttled(f"{name} on {uri} was refused by throttling (not run): "
                            f"{lost.failure}", throttle_wait(str(lost.failure))) from None
        raise OutcomeUnknown(
            f"{name} on {uri}: the answer was lost ({lost.failure}); "
            "Exchange may or may not have made the change") from None
    except Failed as failed:
        info = failed.info
        if is_throttling(info.message, info.reason, info.fqid):
            raise Throttled(f"{name} on {uri} was refused by throttling (not run): "
                            f"{info.message}", throttle_wait(info.message)) from None
        raise CommandFailed(f"{name} failed on {uri}: {info.message}") from None


def email_address_change(add: Sequence[str] = (), remove: Sequence[str] = ()) -> dict[str, list[str]]:
    """The ``-EmailAddresses @{Add=...; Remove=...}`` value (a Hashtable on the wire)."""
    change: dict[str, list[str]] = {}
    if add:
        change["Add"] = list(add)
    if remove:
        change["Remove"] = list(remove)
    return change


# The cmdlets that edit a recipient's EmailAddresses, one per recipient type
# (spec: ``ccmig proxies plan``, ``cmdlet``); nothing else is written by
# :func:`edit_email_addresses`.
PROXY_CMDLETS = ("Set-Mailbox", "Set-RemoteMailbox", "Set-MailUser", "Set-MailContact",
                 "Set-DistributionGroup", "Set-DynamicDistributionGroup", "Set-MailPublicFolder")


def edit_email_addresses(session: Session, cmdlet: str, identity: str, *,
                         add: Sequence[str] = (), remove: Sequence[str] = ()) -> Invocation:
    """THE proxy write: ``<cmdlet> -Identity X -EmailAddresses @{Add=[...]; Remove=[...]}``.

    Contract (apply/undo of proxy plans build on it):

    - ``cmdlet`` is one of :data:`PROXY_CMDLETS` (any case), else InputError;
      ``identity`` one value (a DN is exact); at least one value to add or
      remove. Values travel as typed PSRP strings in a Hashtable, never as
      script text, exactly as given (never rewritten).
    - One call, sent once. Returns the :class:`Invocation`: ``errors`` holds
      Exchange's non-terminating errors (the identity not found - also what
      the wrong cmdlet for the recipient type gets -, an added address
      another object has); ``warnings`` e.g. "The command completed
      successfully but no settings of 'X' have been modified." (nothing to
      remove was there). An empty ``errors`` does NOT prove the values are
      gone: a policy may stamp them straight back. Read the object again.
    - Raises :class:`Throttled` (``.wait``: seconds named, or None) when
      Exchange refused by throttling - not run, safe to send again after the
      wait; :class:`OutcomeUnknown` when the answer was lost (never resend:
      re-read); :class:`CommandFailed` for any other terminating error.
    """
    known = {c.lower(): c for c in PROXY_CMDLETS}
    name = known.get(cmdlet.lower())
    if name is None:
        raise InputError(f"{cmdlet!r} does not edit EmailAddresses; use one of "
                         f"{', '.join(PROXY_CMDLETS)}", "cmdlet")
    if not identity or not (add or remove):
        raise InputError("an EmailAddresses edit needs an identity and a value to add or remove",
                         "cmdlet")
    change = email_address_change(add, remove)
    return write(session, [(name, [("Identity", identity), ("EmailAddresses", change)])])
