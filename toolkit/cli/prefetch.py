"""The audit's start-up in two processes: a forked worker reads the
``--mailbox-stats`` file and the last cc:Mail exports while this process
reads the first exports (:func:`prefetched`).

Why: until the directory read starts, an audit is one process and the
second core idles. At 100,000 people (the bench's organisation) the parent
spent ~0.26 s of CPU on five cc:Mail exports (7.4 MB), ~0.1 s importing the
LDAP client and ~0.15 s on the stats file (2.2 MB, 67,000 lines), one after
the other. The worker now reads the stats file and as many of the last
exports as keep it less busy than the parent (:func:`_tail`); the
parent reads the others and imports the LDAP client meanwhile, then takes
what the worker read (unpickling: ~0.004 s per MB of export, ~0.035 s for
the stats lines). Measured at 100,000 people over LDAP, start-up only (the
connection refused): the parent's CPU 0.61 -> 0.47 s, the worker's 0.23 s
alongside, against ~0.3 s of the parent's own work before it needs them.
That is wall time saved only while the second core is free: on a machine
busy with other work the worker competes with the parent (+~0.08 s of CPU
for forking and pickling) and the start-up took ~0.1 s longer.

Nothing else changes: the worker runs the same readers; what it hands back
is what this process would have read. A file the worker finds wrong is read
again here, in its turn, so the first error is the one one process reports
(a cc:Mail export's at once, in argument order; the stats file's after the
directory read, by :meth:`toolkit.stats.StatsMatcher.apply`). The readers
log nothing. With one process (:func:`toolkit.parallel.jobs`), everything
is read here, in the old order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

from toolkit.ccmail.directory import Directory, DirectoryFile, read_directory_file, split_po_arg
from toolkit.parallel import background, jobs
from toolkit.stats import Lines, stats_lines

# The cost model that splits the work (it never changes a result), CPU
# seconds a byte measured on the bench's files: reading an export, unpickling
# its entries, reading a stats file (its lines pickled and unpickled
# included); and what the parent does meanwhile: importing the LDAP client.
CCMAIL_S_PER_BYTE = 35e-9
UNPICKLE_S_PER_BYTE = 4e-9
STATS_S_PER_BYTE = 90e-9
LDAP_IMPORT_S = 0.1
# The worker's estimate stays within this share of the parent's: a margin for
# a worker the scheduler starts late (the parent waiting for it loses what
# the split saves; on a busy machine it waited ~0.1 s with no margin).
MARGIN = 0.8


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # the reader names it, in its turn
        return 0


def _tail(args: Sequence[str], stats: Path | None, imports: bool) -> int:
    """How many of the last exports the worker reads: the most that keeps
    the worker's estimated time (the stats file, then those exports) within
    :data:`MARGIN` of the parent's (the other exports, the import)."""
    sizes = [_size(str(split_po_arg(a)[1])) for a in args]
    worker = STATS_S_PER_BYTE * (_size(str(stats)) if stats is not None else 0)
    parent = CCMAIL_S_PER_BYTE * sum(sizes) + (LDAP_IMPORT_S if imports else 0.0)
    tail = 0
    for size in reversed(sizes[1:]):  # the parent reads the first export at least
        worker += (CCMAIL_S_PER_BYTE + UNPICKLE_S_PER_BYTE) * size
        parent -= (CCMAIL_S_PER_BYTE - UNPICKLE_S_PER_BYTE) * size
        if worker > MARGIN * parent:
            break
        tail += 1
    return tail


def _ahead(tail: Sequence[str], encoding: str | None, stats: Path | None
           ) -> tuple[list[DirectoryFile | None], Lines | None]:
    """The worker's part: the tail exports (None from the first wrong one
    on) and the stats file's lines (None: wrong, or not asked)."""
    files: list[DirectoryFile | None] = []
    for arg in tail:
        try:
            files.append(read_directory_file(arg, encoding))
        except Exception:  # read again by the parent, which reports it
            break
    files += [None] * (len(tail) - len(files))
    return files, stats_lines(stats) if stats is not None else None


class _Parts:
    """The worker's result, waited for once; each part handed out once and
    then forgotten (the stats lines kept here would outlive the matcher,
    which frees them: +10 MB at the audit's peak at 100,000 people). A part
    is None if the worker's function failed: it is read here instead."""

    def __init__(self, wait: Callable[[], Any], count: int) -> None:
        self._wait: Callable[[], Any] | None = wait
        self._parts: list[Any] = [None] * count

    def wait(self) -> None:
        if self._wait is not None:
            wait, self._wait = self._wait, None
            with suppress(Exception):  # each part is read here instead
                self._parts = list(wait())

    def take(self, index: int) -> Any:
        self.wait()
        part, self._parts[index] = self._parts[index], None
        return part


class Prefetch(NamedTuple):
    """What :func:`prefetched` gives: ``directory()`` reads the cc:Mail
    exports (with the worker's part); ``stats_lines()`` is the stats file's
    lines the worker read, handed out once (None: not read ahead, or not
    well: the matcher reads the file itself), for
    :class:`~toolkit.audit.AuditInputs` to pass to the matcher."""

    directory: Callable[[], Directory]
    stats_lines: Callable[[], Lines | None] | None = None


@contextmanager
def prefetched(args: Sequence[str], encoding: str | None, stats: Path | None,
               ldap: bool) -> Iterator[Prefetch]:
    """Within: the functions that read the cc:Mail exports ``args`` into a
    :class:`Directory` and hand over the lines of ``stats`` (:class:`Prefetch`),
    with the worker's parts if one was started. ``ldap``: the LDAP client
    is imported meanwhile (the audit reads LDAP). On the way out the worker
    is waited for and reaped, whatever was asked of it."""
    tail = _tail(args, stats, ldap) if jobs() >= 2 else 0
    if not tail and (stats is None or jobs() < 2):
        yield Prefetch(lambda: Directory.from_args(args, encoding))
        return
    parts = _Parts(background(lambda: _ahead(args[len(args) - tail:], encoding, stats)), 2)
    head = args[: len(args) - tail]

    def directory() -> Directory:
        files = [read_directory_file(a, encoding) for a in head]
        if ldap:  # the worker reads on: import what the read will need
            with suppress(ImportError):  # (a broken install fails where it always did)
                import toolkit.exchange.ldap  # noqa: F401
        theirs = parts.take(0) or [None] * tail
        files += [f if f is not None else read_directory_file(a, encoding)
                  for a, f in zip(args[len(args) - tail:], theirs, strict=True)]
        return Directory(files)

    try:
        yield Prefetch(directory, (lambda: parts.take(1)) if stats is not None else None)
    finally:
        parts.wait()  # waited for (and reaped) whatever happens
