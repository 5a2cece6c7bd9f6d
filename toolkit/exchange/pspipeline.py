"""One remote pipeline, streamed: the adapter's single receive loop.

Why one loop: a read that collects, a read that streams and a write all
receive the same way - Command, input packed into as few Send messages as
the envelope allows (pypsrp fills each to the negotiated size), Receives
that hand over output, errors and warnings as the server makes them, one
Signal - and fail the same way. :func:`run` is that loop; callers differ
only in what they do with each item it yields.

How a pipeline ends:

- completed: the generator returns (errors were yielded; a not-found identity
  is a *non-terminating* error, so it is only in the error stream);
- failed (a terminating error): :class:`~toolkit.exchange.psfailures.Failed`
  with the last error record;
- transport broken: :class:`~toolkit.exchange.psfailures.Lost`, after a
  best-effort release of the pipeline on the server (the session is marked
  suspect when that fails too, or when message encryption tied the security
  context to the broken connection);
- abandoned by the consumer (Ctrl+C, a generator closed early, a value that
  cannot be read): the server is told to stop the pipeline, then the
  interrupt goes on.

No retries here: that policy belongs to the reads (:mod:`.psreads`), and
writes are never retried (:mod:`.pswrites`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from toolkit.exchange import psinternals
from toolkit.exchange.psfailures import (
    ErrorInfo,
    Failed,
    Lost,
    error_info,
    failure,
    is_missing_select,
    is_throttling,
    one_line,
    retryable,
)
from toolkit.exchange.psobjects import WireFormatError
from toolkit.exchange.pssession import Commands, Session

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WarningText:
    """A warning record's text (Exchange writes e.g. "no statistics" as a warning)."""

    text: str


Item = Any  # an output object, an ErrorInfo or a WarningText


@dataclass(slots=True)
class Invocation:
    """What one pipeline produced (it completed: terminating errors raise)."""

    output: list[Any]
    errors: list[ErrorInfo]
    warnings: list[str]


def collect(session: Session, commands: Commands, input: Sequence[Any] | None = None,
            select: Sequence[str] | None = None,
            convert: Callable[[Any], Any] = lambda obj: obj,
            into: Invocation | None = None) -> Invocation:
    """Run one pipeline to its end, each output object reduced by ``convert`` as it arrives.

    Raises like :func:`run`; a value ``convert`` cannot read stops the
    pipeline. What arrived before a failure is in ``into`` (a read keeps
    the answers it can place).
    """
    result = into if into is not None else Invocation([], [], [])
    with closing(run(session, commands, input, select)) as items:
        for item in items:
            if isinstance(item, ErrorInfo):
                result.errors.append(item)
            elif isinstance(item, WarningText):
                result.warnings.append(item.text)
            else:
                result.output.append(convert(item))
    return result


def run(session: Session, commands: Commands, input: Sequence[Any] | None = None,
        select: Sequence[str] | None = None) -> Iterator[Item]:
    """Run one pipeline; yield output objects, :class:`ErrorInfo` and :class:`WarningText` in order.

    All ``input`` goes in after the Command. Raises :class:`Failed` or
    :class:`Lost` (see the module docstring); a failure to release the
    finished pipeline is only logged (everything was received: the answer
    stands), and marks the session suspect.
    """
    session.recover()
    ps = session.powershell(commands, select)
    secret = session.settings.password
    held: ErrorInfo | None = None  # the terminating error, once the pipeline failed
    started = False  # the server accepted the Command: from now on it may have run
    try:
        ps.begin_invoke(input=(whole for whole in [list(input)]) if input else None)
        started = True
        while True:
            running = ps.state == psinternals.RUNNING
            errors, ps.streams.error = ps.streams.error, []
            infos = [error_info(e, secret) for e in errors]
            if ps.state == psinternals.FAILED and infos:
                held = infos.pop()
            yield from infos
            warnings, ps.streams.warning = ps.streams.warning, []
            for w in warnings:
                text = one_line(str(getattr(w, "message", w)))
                log.info("Exchange warning: %s", text)
                yield WarningText(text)
            output, ps.output = ps.output, []
            yield from output
            if not running:
                break
            ps.poll_invoke()
    except (KeyboardInterrupt, GeneratorExit, WireFormatError):
        _stop(ps)
        raise
    except Exception as exc:
        _abandon(session, ps)
        lost = failure(session.settings, exc)
        refused = not started and not input and is_throttling(str(lost))
        raise Lost(lost, retryable(exc), refused) from None
    try:
        ps.close()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # everything was received: the answer stands
        session.suspect = True
        log.warning("releasing a finished pipeline failed: %s",
                    one_line(str(failure(session.settings, exc)), secret))
    if ps.state == psinternals.FAILED:
        raise Failed(held or ErrorInfo("the pipeline failed"))


def without_select_object(session: Session, failed: Failed, select: Sequence[str] | None) -> bool:
    """After a terminating error: was it a missing Select-Object? Then remember that
    (the session reads whole objects from now on) and say so once."""
    if select and session.select is not False and is_missing_select(failed.info):
        log.warning("%s does not offer Select-Object; reading whole objects",
                    session.settings.uri)
        session.select = False
        return True
    return False


def _stop(ps: Any) -> None:
    """Best effort: tell the server to stop the pipeline (Ctrl+C)."""
    try:
        if ps.state == psinternals.RUNNING:
            ps.stop()
    except Exception as exc:  # the interrupt matters more than this failure
        log.debug("stopping the remote pipeline failed: %s", exc)


def _abandon(session: Session, ps: Any) -> None:
    """After a transport failure: best effort, release the pipeline on the server.

    If even that fails, the pool is suspect and is replaced before the
    next use (the shell may be gone, or the connection state lost).
    """
    if psinternals.encrypts_messages(session.wsman):
        # NTLM/Kerberos message encryption: the security context belonged to the
        # connection that broke; a new session (new handshake) is needed anyway.
        session.suspect = True
        psinternals.forget(ps)
        return
    try:
        psinternals.terminate(ps)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        session.suspect = True
        log.debug("releasing a broken pipeline failed: %s", exc)
    finally:
        psinternals.forget(ps)
