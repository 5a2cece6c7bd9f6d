"""Runspace pool and pipelines on psrpcore's server side.

One :class:`Shell` per WSMan shell. Incoming fragments go to psrpcore's
``ServerRunspacePool``; outgoing PSRP data is cut into fragments and kept
per target (pool or pipeline) until a Receive asks for it. A pipeline runs
lazily: each Receive pumps the cmdlet generators just far enough to fill the
client's envelope, so a 100,000-object ``Get-Recipient`` streams instead of
being built in memory, and a Ctrl+C really stops the work. A pipeline starts
as soon as it can (at its Command, or at its end of input), as on a real
server: a write is made even when the client never receives its answer.

psrpcore quirks handled here: ``ServerPipeline.start()`` would emit a
Running state that a real server does not send (so the state is set without
emitting), and there is no public call to fail a pipeline (so the Failed
state is set through ``_change_state`` with the error record).
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    GetAvailableRunspacesEvent,
    GetCommandMetadataEvent,
    PipelineInputEvent,
    PSRPPayload,
    ResetRunspaceStateEvent,
    ServerPipeline,
    ServerRunspacePool,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
    PSRPMessageType,
)
from toolkit.mocks.exchange.cmdlets import CommandCall, Engine
from toolkit.mocks.exchange.errors import ErrorSpec, Terminating
from toolkit.mocks.exchange.objects import clixml_text, to_clixml

log = logging.getLogger(__name__)

FRAGMENT_SIZE = 32 * 1024  # PSRP fragment size used when cutting outgoing data


def _exception(spec: ErrorSpec) -> NETException:
    exc = NETException(Message=spec.message, HResult=-2146233088)
    exc.PSObject.type_names = list(spec.exception_types)
    return exc


def _category(spec: ErrorSpec) -> ErrorCategoryInfo:
    return ErrorCategoryInfo(
        Category=ErrorCategory[spec.category], Activity=spec.activity or "",
        Reason=spec.reason, TargetName=spec.target_name, TargetType=spec.target_type)


def error_record(spec: ErrorSpec) -> ErrorRecord:
    """The record as PowerShell sends it; its ToString (the message) escaped as CLIXML."""
    record = ErrorRecord(Exception=_exception(spec), CategoryInfo=_category(spec),
                         TargetObject=spec.target, FullyQualifiedErrorId=spec.fqid)
    record.PSObject.to_string = clixml_text(str(record))
    return record


@dataclass
class _Run:
    """Server-side state of one pipeline."""

    server: ServerPipeline
    statements: list[list[CommandCall]] = field(default_factory=list)
    inputs: list[Any] | None = None
    generator: Any = None
    started: bool = False

    @property
    def finished(self) -> bool:
        return self.server.state in (PSInvocationState.Completed, PSInvocationState.Failed,
                                     PSInvocationState.Stopped)


class _Sink:
    """Writes a running pipeline's streams into psrpcore messages."""

    def __init__(self, server: ServerPipeline) -> None:
        self.server = server

    def output(self, value: Any) -> None:
        self.server.write_output(to_clixml(value))

    def error(self, spec: ErrorSpec) -> None:
        # What ServerPipeline.write_error does, with the record's ToString escaped.
        self.server.prepare_message(error_record(spec), message_type=PSRPMessageType.ErrorRecord)

    def warning(self, message: str) -> None:
        self.server.write_warning(message)


def _statements(metadata: Any) -> list[list[CommandCall]]:
    """psrpcore's PowerShell object -> statements of :class:`CommandCall`."""
    statements: list[list[CommandCall]] = [[]]
    for command in metadata.commands:
        statements[-1].append(CommandCall(
            str(command.command_text), tuple((None if n is None else str(n), v)
                                             for n, v in command.parameters),
            bool(command.is_script)))
        if command.end_of_statement:
            statements.append([])
    return [s for s in statements if s]


class Shell:
    """One runspace pool (WSMan shell) and its pipelines."""

    def __init__(self, shell_id: str, engine: Engine, fragment_size: int = FRAGMENT_SIZE) -> None:
        self.id = shell_id
        self.fragment_size = fragment_size
        self.engine = engine
        self.pool = ServerRunspacePool()
        self.runs: dict[uuid.UUID, _Run] = {}
        self.outbox: dict[uuid.UUID | None, deque[bytes]] = {None: deque()}
        self.queued: dict[uuid.UUID | None, int] = {}  # bytes waiting in each outbox
        self.stopped: list[str] = []  # command ids stopped by Ctrl+C, for tests

    # -- input -------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Process PSRP fragments from the client (creationXml, Command, Send)."""
        self.pool.receive_data(PSRPPayload(data, StreamType.default, None))
        while (event := self.pool.next_event()) is not None:
            self._on_event(event)
        self._drain()

    def new_pipeline(self, command_id: str) -> None:
        pid = uuid.UUID(command_id)
        if pid not in self.runs:
            self.runs[pid] = _Run(ServerPipeline(self.pool, pid))
            self.outbox[pid] = deque()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, CreatePipelineEvent):
            run = self.runs[event.pipeline_id]
            run.statements = _statements(event.pipeline)
            if event.pipeline.no_input:
                self._start(run)
            else:
                run.inputs = []
        elif isinstance(event, PipelineInputEvent):
            run = self.runs[event.pipeline_id]
            run.inputs = (run.inputs or []) + [event.data]
        elif isinstance(event, EndOfPipelineInputEvent):
            self._start(self.runs[event.pipeline_id])
        elif isinstance(event, GetCommandMetadataEvent):
            run = self.runs[event.pipeline_id]
            run.server._change_state(PSInvocationState.Running, emit=False)
            self._fail(run, ErrorSpec("Command metadata is not supported by the mock.",
                                      ("System.NotSupportedException", "System.Exception"),
                                      "NotImplemented", "NotSupportedException",
                                      "NotSupported"))
        elif isinstance(event, SetMaxRunspacesEvent | SetMinRunspacesEvent
                        | ResetRunspaceStateEvent):
            self.pool.runspace_availability_response(event.ci, True)
        elif isinstance(event, GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, 1)

    def _start(self, run: _Run) -> None:
        # Not run.server.start(): that emits a Running state a real server never sends.
        run.server._change_state(PSInvocationState.Running, emit=False)
        run.started = True
        run.generator = self.engine.run(run.statements, run.inputs, _Sink(run.server))
        # A real server starts work when the command (or its last input) arrives, not
        # when the client first asks for output: a write is made even if no Receive follows.
        self._pump(run, self.fragment_size)

    # -- output ------------------------------------------------------------

    def _drain(self) -> None:
        while (payload := self.pool.data_to_send(self.fragment_size)) is not None:
            self.outbox.setdefault(payload.pipeline_id, deque()).append(payload.data)
            self.queued[payload.pipeline_id] = (self.queued.get(payload.pipeline_id, 0)
                                                + len(payload.data))

    def _queued(self, target: uuid.UUID | None) -> int:
        return self.queued.get(target, 0)

    def _fail(self, run: _Run, spec: ErrorSpec) -> None:
        run.server._change_state(PSInvocationState.Failed, error=error_record(spec))
        run.generator = None

    def _pump(self, run: _Run, budget: int) -> None:
        """Run the pipeline until ``budget`` bytes are queued or it ends."""
        while run.generator is not None and self._queued(run.server.pipeline_id) < budget:
            try:
                next(run.generator)
            except StopIteration:
                run.generator = None
                run.server.complete()
            except Terminating as exc:
                self._fail(run, exc.spec)
            except Exception as exc:  # a mock bug must fail the pipeline, not hang it
                log.exception("mock pipeline crashed")
                self._fail(run, ErrorSpec(f"Mock Exchange internal error: {exc}",
                                          ("System.InvalidOperationException", "System.Exception"),
                                          "NotSpecified", "InvalidOperationException",
                                          "MockInternalError"))
            self._drain()

    def receive(self, command_id: str | None, budget: int) -> tuple[list[bytes], bool]:
        """(chunks of at most ``budget`` bytes, whether the command is done).

        A chunk larger than ``budget`` stays queued and nothing is returned
        (the caller answers with the envelope-size fault).
        """
        target = uuid.UUID(command_id) if command_id else None
        run = self.runs.get(target) if target else None
        if run is not None:
            self._pump(run, budget)
        box = self.outbox.get(target, deque())
        chunks: list[bytes] = []
        size = 0
        while box and size + len(box[0]) <= budget:
            size += len(box[0])
            chunks.append(box.popleft())
        if size:
            self.queued[target] = self.queued.get(target, 0) - size
        done = run is not None and run.finished and not box
        return chunks, done

    def too_big(self, command_id: str | None, budget: int) -> int:
        """Size of the next chunk when it cannot fit ``budget`` bytes, else 0."""
        box = self.outbox.get(uuid.UUID(command_id) if command_id else None)
        return len(box[0]) if box and len(box[0]) > budget else 0

    def has_pending(self, command_id: str | None) -> bool:
        """True if a Receive would return something now (data or a state change)."""
        target = uuid.UUID(command_id) if command_id else None
        run = self.runs.get(target) if target else None
        if self.outbox.get(target):
            return True
        return run is not None and (run.generator is not None or run.finished)

    # -- signals -------------------------------------------------------------

    def stop(self, command_id: str) -> None:
        """Ctrl+C: stop the pipeline, drop what the client will never read."""
        pid = uuid.UUID(command_id)
        run = self.runs.get(pid)
        self.stopped.append(command_id.upper())
        if run is None:
            return
        if run.generator is not None:
            run.generator.close()
            run.generator = None
        if run.server.state in (PSInvocationState.Running, PSInvocationState.Stopping):
            run.server.stop()
        elif not run.started:
            run.server.state = PSInvocationState.Stopped
        self._drain()
        self.outbox[pid] = deque()
        self.queued[pid] = 0

    def terminate(self, command_id: str) -> None:
        """Signal terminate: the client is done with the command."""
        pid = uuid.UUID(command_id)
        run = self.runs.pop(pid, None)
        if run is not None:
            if run.generator is not None:
                run.generator.close()
            if not run.finished:
                run.server.state = PSInvocationState.Stopped
            run.server.close()
        self._drain()
        self.outbox.pop(pid, None)
        self.queued.pop(pid, None)
