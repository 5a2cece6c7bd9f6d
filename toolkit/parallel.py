"""A second core for CPU-bound stages: :func:`ordered_map`.

Why: an audit is CPU-bound Python in one process, and a Python process uses
one core, while the machines admins run ccmig on have two or more (slapd's
share of a read is under a core-second at 100,000 people). The stages that
dominate - decoding the directory, making and writing the rows - are
independent per chunk (a page of entries, a run of records, a range of rows)
and pure, so half of their chunks can be computed by a second process with
no change to any result.

How: :func:`ordered_map` forks ONE worker when it is called, so the worker
inherits everything the caller has built (the analysis, compiled patterns,
caches) and nothing big crosses between the processes except the chunks and
their results, pickled through two pipes. The parent computes chunks itself
while the worker computes one at a time, handing the worker its next chunk
before it answers (so a faster side simply takes more chunks), and
yields the results in chunk order. Exceptions and log records travel with
their chunk's result and surface at that chunk's turn, so the caller sees
what one process would have shown, in the same order: the same bytes.

Where forking is not safe or not possible, everything runs in the calling
process: on any system but Linux (``fork`` is missing on Windows and unsafe
with macOS's system frameworks), when another thread runs (a forked child
would inherit its locks held), inside a worker, or when ``CCMIG_JOBS=1``.
If the worker dies, the parent computes its chunk itself and carries on
alone. Results never depend on which process computed what (the tests run
both ways and compare).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any, TypeVar

from toolkit.errors import InputError

C = TypeVar("C")
R = TypeVar("R")

ENV = "CCMIG_JOBS"
_IN_WORKER = False


def keep_large_blocks_mapped() -> None:
    """glibc's ``malloc`` told to keep its mmap threshold fixed at 1 MB
    instead of raising it each time a large mapped block is freed (up to
    32 MB). Why: once raised, large blocks (a read part's records, a dict's
    table, a page of LDAP messages, a range of rendered rows) come from the
    heap, where each long-lived one pins the holes that freed ones leave
    around it, and every page of those holes is one more page a forked
    worker shares and then copies.

    Why 1 MB and not glibc's 128 KB default: every mapped block is zero-filled
    page by page when made and unmapped when freed, and the audit makes and
    frees many blocks between 128 KB and 1 MB (pickled chunks, joined parts).
    Measured at 100,000 people over LDAP, two processes, alternating runs on
    a quiet machine (tree PSS peak; system CPU; wall):

    ==========  =========  ==========  ===============
    threshold   tree PSS   system CPU  wall (median)
    ==========  =========  ==========  ===============
    raised      168-170    ~0.5 s      (session 10)
    128 KB      153-155    0.77-0.93   4.63 s (6 runs)
    512 KB      156-160    0.67-0.87   4.52 s (3 runs)
    1 MB        164        0.49-0.65   4.44 s (6 runs)
    ==========  =========  ==========  ===============

    Elsewhere (not glibc) nothing is done. Process-wide, so only the command
    line calls it (:func:`toolkit.cli.main.main`, which owns its process):
    importing the library changes nothing in a runbook's process."""
    if not sys.platform.startswith("linux"):
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        import ctypes

        ctypes.CDLL(None).mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
    except (ValueError, OSError, AttributeError):  # no such name, no such library
        return


MMAP_THRESHOLD = 1 << 20


def jobs() -> int:
    """How many processes a stage may use: ``CCMIG_JOBS`` (1 or 2), else 2
    where a worker can be forked safely, else 1."""
    given = os.environ.get(ENV, "").strip()
    if given and given not in ("1", "2"):
        raise InputError(f"must be 1 or 2, not {given!r}", ENV)
    if given == "1" or _IN_WORKER:
        return 1
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    if threading.active_count() > 1:
        return 1
    return 2


def ordered_map(func: Callable[[C], R], chunks: Iterable[C]) -> Iterator[R]:
    """``func(chunk)`` for each chunk, in order, using a forked worker when
    :func:`jobs` allows. ``func`` must be pure (its result depends on its
    chunk and on state that existed when this was called) and chunks and
    results must pickle; ``func`` itself need not (the worker inherits it).
    An exception ``func`` raises is raised here at that chunk's turn, after
    every earlier chunk's result; log records it emits are handled here at
    that turn too. So is an exception ``chunks`` raises (a read failing
    mid-way): after the results of every chunk it gave before."""
    if jobs() < 2:
        return map(func, chunks)
    return _Pair(func, iter(chunks)).results()


def background(func: Callable[[], R]) -> Callable[[], R]:
    """``func()`` computed by a forked worker while the caller goes on; the
    function returned waits for its result (call it exactly once). Without a
    worker (:func:`jobs`), ``func`` runs here and now, before the caller goes
    on (what it holds while running stays out of the caller's later peak).
    Its exception comes when the result is asked for; with a worker, so do
    its log records, and a worker that died leaves the work to this process.
    The result must pickle.

    The worker writes its result to an anonymous file (:func:`_scratch`) and
    leaves at once, not when the result is asked for. Why: a forked worker
    keeps the old copy of every shared page the caller writes meanwhile; the
    audit's sort worker lived through the whole index pass and so held ~40
    MB at 100,000 people, at the audit's peak, for 0.2 s of work. Until
    session 16 the result went through the ordered_map's 1 MB pipe, so a
    larger one (the sort's past ~131,000 recipients with cc:Mail values)
    kept the worker waiting, and alive, until it was read."""
    fd = _scratch() if jobs() >= 2 else None
    pid = -1
    if fd is not None:
        try:
            pid = os.fork()
        except OSError:  # no process to spare: done here, as with one job
            os.close(fd)
    if pid < 0:
        ok, value = _outcome(lambda _chunk: func(), None)

        def now() -> R:
            if not ok:
                raise value
            return value  # type: ignore[no-any-return]

        return now
    assert fd is not None
    if pid == 0:  # the worker: never returns into the caller's code
        code = 0
        try:
            _leave_after(func, fd)
        except BaseException:  # the parent finds no result and computes it itself
            code = 1
        finally:
            os._exit(code)  # no atexit, no flushing the parent's buffers twice
    reaped = False

    def result() -> R:
        nonlocal reaped
        got = None
        try:
            status = os.waitpid(pid, 0)[1]
            reaped = True
            if os.waitstatus_to_exitcode(status) == 0:
                os.lseek(fd, 0, os.SEEK_SET)
                got = _recv(fd)
        except (EOFError, OSError, pickle.UnpicklingError):  # the worker died mid-way
            got = None
        finally:
            os.close(fd)
            if not reaped:  # interrupted while waiting: the worker goes too
                with suppress(ProcessLookupError, ChildProcessError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
        if got is None:  # the worker has gone without a result: computed here
            got = _captured(lambda _chunk: func(), None)
        return _unwrap([True, *got, None])  # type: ignore[no-any-return]

    return result


def _scratch() -> int | None:
    """A file descriptor of an anonymous file (Linux: ``memfd_create``, in
    memory; elsewhere an unlinked temporary file), for a result of any size;
    None when neither can be made (the work is then done in this process)."""
    if hasattr(os, "memfd_create"):
        with suppress(OSError):
            return os.memfd_create("ccmig-result", os.MFD_CLOEXEC)
    import tempfile

    try:
        with tempfile.TemporaryFile() as fh:
            return os.dup(fh.fileno())
    except OSError:
        return None


def _leave_after(func: Callable[[], Any], fd: int) -> None:
    """The background worker's work: ``func()`` with its log records, written
    to ``fd`` as :func:`_recv` reads it."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and ends us
    ok, value, records = _captured(lambda _chunk: func(), None)
    try:
        data = pickle.dumps((ok, value, records), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # a result that does not pickle: say so, when asked
        data = pickle.dumps((False, RuntimeError(f"result does not pickle: {exc}"), records))
    _write(fd, data)


# ------------------------------------------------------------------ the worker

def _write(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def _recv(fd: int) -> Any:
    """One message; EOFError if the other side has gone."""
    head = _read_exactly(fd, 8)
    return pickle.loads(_read_exactly(fd, int.from_bytes(head, "little")))


def _read_exactly(fd: int, n: int) -> bytes:
    parts, left = [], n
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class _Captured(logging.Handler):
    """Keeps the worker's log records (message formatted, no args or
    traceback objects: they may not pickle) to be handled by the parent."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[tuple[str, logging.LogRecord]] = []

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append((record.name, record))
        return True


def _outcome(func: Callable[[C], R], chunk: C) -> tuple[bool, Any]:
    """(True, result) or (False, the exception), as the parent will get it."""
    try:
        return True, func(chunk)
    except Exception as exc:  # re-raised by the parent at this chunk's turn
        return False, exc


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling unchanged in kind and text, else a
    RuntimeError that says what it was."""
    try:
        back = pickle.loads(pickle.dumps(exc, pickle.HIGHEST_PROTOCOL))
        if type(back) is type(exc) and str(back) == str(exc):
            return exc
    except Exception:  # any failure to pickle means: describe it
        pass
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def _captured(func: Callable[[C], R], chunk: C) -> tuple[bool, Any, list[Any]]:
    """:func:`_outcome`, with the log records ``func`` emits kept (they are
    handled at the chunk's turn: a chunk computed ahead of an earlier one
    must not log first). Only used while one thread runs."""
    captured = _Captured()
    call_handlers = logging.Logger.callHandlers

    def capture(self: logging.Logger, record: logging.LogRecord) -> None:
        captured.handle(record)

    logging.Logger.callHandlers = capture  # type: ignore[method-assign]
    try:
        ok, value = _outcome(func, chunk)
    finally:
        logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]
    # the same exception whichever process computed the chunk
    return ok, value if ok else _portable(value), captured.records


def _serve(func: Callable[[Any], Any], tasks: int, answers: int) -> None:
    """The worker's loop: a chunk in, (ok, result or exception, log records) out."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and ends us
    while True:
        chunk = _recv(tasks)
        if chunk is None:
            return
        ok, value, records = _captured(func, chunk[0])
        try:
            data = pickle.dumps((ok, value, records), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a result that does not pickle: say so, at its turn
            data = pickle.dumps((False, RuntimeError(f"result does not pickle: {exc}"), records))
        _write(answers, data)


def _fork_worker(func: Callable[[Any], Any]) -> tuple[int, int, int]:
    """(pid, task fd, answer fd) of a new worker running :func:`_serve`."""
    task_r, task_w = os.pipe()
    answer_r, answer_w = os.pipe()
    for fd in (task_w, answer_w):
        with suppress(AttributeError, OSError):  # Linux's default is 64 KB
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE)
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code
        code = 0
        try:
            os.close(task_w)
            os.close(answer_r)
            _serve(func, task_r, answer_w)
        except BaseException:  # the parent notices EOF and works alone
            code = 1
        finally:
            os._exit(code)  # no atexit, no flushing the parent's buffers twice
    os.close(task_r)
    os.close(answer_w)
    return pid, task_w, answer_r


# ------------------------------------------------------------------ the parent

# The worker is handed its next chunk before it answers (_AHEAD chunks away),
# and its pipes hold up to _PIPE bytes: the parent reads answers and hands out
# chunks only between computing its own, so without these the worker waited
# up to a chunk's time for each (audit rows at 100,000, 1,000 a chunk: the
# worker sat ~1 s of the stage's ~1.6 s blocked writing answers, computing
# 45% of the chunks). A chunk is handed ahead only if it fits in the task
# pipe (:func:`_room`): the parent never waits writing a chunk while the
# worker waits for the parent to read its answer.
_AHEAD = 2
_PIPE = 1 << 20
# At most this many results wait in the parent for the worker's (each a
# chunk's worth: ~600 KB of text for 1,000 audit rows). On a busy machine the
# worker may not run for a while and the parent went on alone: up to 9 were
# seen, +4 MB at the audit's peak; without the bound nothing limited them.
_QUEUE = 6


def _room(fd: int) -> int:
    """What pipe ``fd`` holds (a write of this much to it empty never waits)."""
    try:
        import fcntl

        return int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))
    except (AttributeError, OSError):
        return 4096  # PIPE_BUF on Linux: always held


class _Pair:
    """The parent's side: computes chunks itself, keeps the worker fed with
    its next chunk, yields every result in chunk order."""

    def __init__(self, func: Callable[[C], R], chunks: Iterator[C]) -> None:
        self.func, self.chunks = func, chunks
        # in chunk order: [done?, ok, value, records, chunk]
        self.queue: deque[list[Any]] = deque()
        self.away: deque[list[Any]] = deque()  # the entries the worker has, in order
        self.pid = 0
        self.tasks = self.answers = -1
        self.room = 0  # what the task pipe holds

    def results(self) -> Iterator[R]:
        self.pid, self.tasks, self.answers = _fork_worker(self.func)
        self.room = _room(self.tasks)
        try:
            yield from self._run()
        finally:
            self._stop()

    def _run(self) -> Iterator[R]:
        queue = self.queue
        more = True
        while more or queue:
            if more and len(self.away) < _AHEAD and self.pid:
                more = self._give()  # keep the worker fed: hand it the next chunk
                continue
            if queue and queue[0][0]:
                yield _unwrap(queue.popleft())
                continue
            if self.away and (not more or self._ready()):
                self._take()
                continue
            if more and len(queue) < _QUEUE:
                chunk = self._next()
                if chunk is _END:
                    more = False
                    continue
                queue.append([True, *_captured(self.func, chunk), None])
                continue
            # the head is the worker's chunk: the worker has gone, or the
            # parent is _QUEUE chunks ahead of it and waits for its answer
            self._take()

    def _next(self) -> Any:
        """The next chunk, or _END. An exception the chunks raise (a reader
        failing mid-way) is queued as a result: it is raised at its turn, after
        every earlier chunk's result, as ``map`` raises it."""
        try:
            return next(self.chunks, _END)
        except Exception as exc:
            self.queue.append([True, False, exc, (), None])
            return _END

    def _give(self) -> bool:
        chunk = self._next()
        if chunk is _END:
            return False
        data = pickle.dumps((chunk,), pickle.HIGHEST_PROTOCOL)
        if self.away and len(data) > self.room:  # might wait for a busy worker: done here
            self.queue.append([True, *_captured(self.func, chunk), None])
            return True
        entry = [False, False, None, (), chunk]
        self.queue.append(entry)
        self.away.append(entry)
        try:
            _write(self.tasks, data)
        except OSError:  # the worker has gone: this chunk is computed here
            self._alone()
        return True

    def _ready(self) -> bool:
        import select

        return bool(select.select([self.answers], [], [], 0)[0])

    def _take(self) -> None:
        entry = self.away[0]
        try:
            entry[1], entry[2], entry[3] = _recv(self.answers)
        except (EOFError, OSError):
            self._alone()
            return
        self.away.popleft()
        entry[0], entry[4] = True, None

    def _alone(self) -> None:
        """The worker died (killed, out of memory): go on in this process."""
        while self.away:
            entry = self.away.popleft()
            entry[1], entry[2], entry[3] = _captured(self.func, entry[4])
            entry[0], entry[4] = True, None
        self._stop()

    def _stop(self) -> None:
        if not self.pid:
            return
        pid, self.pid = self.pid, 0
        for fd in (self.tasks, self.answers):
            with suppress(OSError):
                os.close(fd)  # the worker reads EOF and leaves
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # if it is still computing
        os.waitpid(pid, 0)


_END: Any = object()


def _unwrap(entry: list[Any]) -> Any:
    _done, ok, value, records, _chunk = entry
    for name, record in records:
        logging.getLogger(name).handle(record)
    if not ok:
        raise value
    return value
