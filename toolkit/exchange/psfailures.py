"""How the PowerShell adapter's failures look: records, exceptions, one-line messages.

Kept at the bottom of the adapter's layers so the session, the pipeline,
the reads and the writes all describe a failure the same way: a transport
or library exception becomes one :class:`~toolkit.errors.ConnectionFailure`
line without the password (exit 3), and :func:`retryable` decides - in one
place - which failures another attempt may not meet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from toolkit.errors import ConnectionFailure
from toolkit.exchange import psinternals, psobjects
from toolkit.exchange.pssettings import ExchangeSettings
from toolkit.text import one_line as one_line_text


class CommandFailed(ConnectionFailure):
    """Exchange ended a command with a terminating error (its outcome is known: not made)."""


class OutcomeUnknown(ConnectionFailure):
    """A write was sent but its answer was lost: Exchange may or may not have made it."""


class Throttled(ConnectionFailure):
    """Exchange refused a request by throttling: it was NOT run.

    The one failed write a caller may send again - after ``wait`` seconds
    (what the refusal names; None when it names none: the caller picks, the
    spec says 30 s), re-reading the object first. Still a ConnectionFailure
    (exit 3) for a caller that does not retry.
    """

    def __init__(self, message: str, wait: float | None) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(slots=True)
class ErrorInfo:
    """One error record, reduced to what a report needs."""

    message: str
    target: str | None = None
    fqid: str | None = None
    reason: str | None = None


class Failed(Exception):
    """The pipeline ended in the Failed state (a terminating error)."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


class Lost(Exception):
    """The transport failed while a pipeline ran; ``failure`` says how, on one line.

    ``refused`` is set when the server refused the pipeline's very first
    request (the Command) by throttling: then nothing ran.
    """

    def __init__(self, failure: ConnectionFailure, retryable: bool,
                 refused: bool = False) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.retryable = retryable
        self.refused = refused


def one_line(message: str, secret: str | None = None) -> str:
    """A message on one line, at most 600 characters, without ``secret``."""
    return one_line_text(str(message), (secret,), 600)


def is_missing_select(info: ErrorInfo) -> bool:
    """Is this the error of an endpoint that does not offer Select-Object?"""
    return "select-object" in info.message.lower() and (
        "CommandNotFound" in (info.fqid or "") or "CommandNotFound" in (info.reason or "")
        or "not recognized" in info.message)


# Exchange's throttling refusals (the request was not run):
# - WinRM, Exchange's PowerShellMaxCmdlets quota: "... The user load quota of N requests
#   per M seconds has been exceeded. ... The next request from this user will not be
#   approved for at least X milliseconds."
# - the destructive-cmdlet budget (PowerShellMaxDestructiveCmdlets), an
#   OverBudgetException: "This operation exceeds the throttling budget for policy part
#   '...' ... Suggested backoff time X ms."
# - "This user is allowed a maximum of 18 concurrent shells, which has been exceeded."
_THROTTLED = re.compile(r"user load quota|exceeds the throttling budget|OverBudgetException|"
                        r"concurrent shells, which has been exceeded", re.I)
_WAIT = re.compile(r"(?:at least|backoff time|retry after)\s+(\d+)\s*(milliseconds|ms|"
                   r"seconds|s)\b", re.I)


def is_throttling(*texts: str | None) -> bool:
    """Does any of these (message, reason, FQID) say Exchange refused by throttling?"""
    return any(t and _THROTTLED.search(t) for t in texts)


def throttle_wait(text: str) -> float | None:
    """Seconds a throttling refusal says to wait, or None when it names none."""
    m = _WAIT.search(text)
    if not m:
        return None
    value = int(m.group(1))
    return value / 1000 if m.group(2).lower() in ("milliseconds", "ms") else float(value)


def retryable(exc: BaseException) -> bool:
    """A failure another attempt may not meet: 5xx, reset, timeout, WSMan fault.

    Authentication and TLS failures are never retried: waiting fixes nothing,
    and repeating a wrong password can lock the account.
    """
    import requests.exceptions as rex
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    if isinstance(exc, AuthenticationError | rex.SSLError):
        return False
    if isinstance(exc, WSManFaultError):
        return True
    if isinstance(exc, WinRMTransportError):
        return int(exc.code or 0) >= 500
    return isinstance(exc, rex.ConnectionError | rex.Timeout)


def failure(settings: ExchangeSettings, exc: BaseException) -> ConnectionFailure:
    """Any library or transport exception as one clean line (exit 3)."""
    import requests.exceptions as rex
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    s, uri = settings, settings.uri
    if isinstance(exc, ConnectionFailure):
        return exc
    if isinstance(exc, AuthenticationError):
        msg = f"authentication failed at {uri} for user {s.username!r} (auth {s.auth})"
    elif isinstance(exc, WSManFaultError):
        msg = f"WSMan fault from {uri}: {exc.reason or 'no reason given'} (code {exc.code})"
    elif isinstance(exc, WinRMTransportError):
        body = re.sub(r"<[^>]+>", " ", str(exc.response_text or ""))
        msg = f"HTTP {exc.code} from {uri}" + (f": {body}" if body.strip() else "")
    elif isinstance(exc, rex.SSLError):
        reason = re.search(r"certificate verify failed[^'\")]*", str(exc))
        msg = (f"TLS with {uri} failed: {reason.group(0) if reason else 'handshake error'}; "
               "give the server's CA with --ca-file (or --insecure-skip-verify)")
    elif isinstance(exc, rex.Timeout):
        msg = f"timed out talking to {uri}"
    elif isinstance(exc, rex.ConnectionError):
        text = str(exc)
        reason = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
        lost = next((m for p in ("Connection reset by peer", "Broken pipe", "Remote end "
                                 "closed connection without response", "Connection aborted")
                     if (m := re.search(p, text))), None)
        if lost:
            msg = f"connection to {uri} lost: {reason.group(0) if reason else lost.group(0)}"
        else:
            msg = f"cannot connect to {uri}: {reason.group(0) if reason else exc}"
    else:
        msg = f"PowerShell session with {uri} failed: {type(exc).__name__}: {exc}"
    return ConnectionFailure(one_line(msg, s.password))


def error_info(record: Any, secret: str | None) -> ErrorInfo:
    """A deserialized pypsrp error record as an :class:`ErrorInfo` (message on one line)."""
    message = str(record) if psinternals.has_display_string(record) else ""
    if not message:
        exc = getattr(record, "exception", None)
        message = psobjects.text(psobjects.prop(exc, "Message")) or "" if exc is not None else ""
    if not message:
        message = getattr(record, "message", None) or "unknown error"
    target = getattr(record, "target_object", None)
    return ErrorInfo(one_line(message, secret), target if isinstance(target, str) else None,
                     getattr(record, "fq_error", None), getattr(record, "reason", None))
