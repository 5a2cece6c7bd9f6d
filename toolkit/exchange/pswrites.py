"""Writes over remote PowerShell: sent once, never retried.

Why never: when the transport fails after a write was sent, Exchange may or
may not have made the change, and sending it again could make it twice (or
fail confusingly on the second try). So a lost answer is an
:class:`~toolkit.exchange.psfailures.OutcomeUnknown` (exit 3) that the
caller - apply/undo - journals and settles later by reading the current
state; pypsrp's own reconnection retries stay off (its default, checked by
tests/test_psinternals.py) for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit.exchange.psfailures import CommandFailed, Failed, Lost, OutcomeUnknown
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
        raise OutcomeUnknown(
            f"{name} on {uri}: the answer was lost ({lost.failure}); "
            "Exchange may or may not have made the change") from None
    except Failed as failed:
        raise CommandFailed(f"{name} failed on {uri}: {failed.info.message}") from None


def email_address_change(add: Sequence[str] = (), remove: Sequence[str] = ()) -> dict[str, list[str]]:
    """The ``-EmailAddresses @{Add=...; Remove=...}`` value (a Hashtable on the wire)."""
    change: dict[str, list[str]] = {}
    if add:
        change["Add"] = list(add)
    if remove:
        change["Remove"] = list(remove)
    return change
