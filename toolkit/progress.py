"""A progress counter on stderr for long runs, shown only on a terminal.

Scripts and CI (stderr not a TTY) see nothing; ``-q`` silences it too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO, TypeVar

if TYPE_CHECKING:
    from toolkit.exchange.dialects import Chunked

T = TypeVar("T")
ENABLED = True  # the CLI turns it off for -q


def counting(items: Iterable[T], label: str, every: float = 0.25) -> Iterator[T]:
    """Yield ``items`` unchanged, redrawing ``label: N`` at most every ``every`` s.

    Without a terminal (or with ``-q``) the items' own iterator is returned:
    a generator around it would add a resumption per item (100,000 directory
    objects) for nothing.
    """
    stream = sys.stderr
    if not (ENABLED and stream.isatty()):
        return iter(items)
    return _counted(items, label, every, stream)


def _counted(items: Iterable[T], label: str, every: float, stream: TextIO) -> Iterator[T]:
    n, last = 0, 0.0
    try:
        for item in items:
            n += 1
            now = time.monotonic()
            if now - last >= every:
                stream.write(f"\r{label}: {n}")
                stream.flush()
                last = now
            yield item
    finally:
        stream.write(f"\r{label}: {n}\n")
        stream.flush()


def counting_source(source: Iterable[T], label: str) -> Iterable[T]:
    """:func:`counting_chunks` for a source read in chunks (it stays one,
    for a reader that decodes chunks in two processes), else :func:`counting`."""
    from toolkit.exchange.dialects import Chunked

    if isinstance(source, Chunked):
        return counting_chunks(source, label)  # type: ignore[return-value]
    return counting(source, label)


def counting_chunks(source: Chunked, label: str, every: float = 0.25) -> Chunked:
    """:func:`counting` for a source read in chunks: the count grows by a
    chunk's entries as the chunk is read (in this process; whichever process
    decodes it), so the source stays chunked for
    :func:`toolkit.exchange.dialects.read_table`."""
    stream = sys.stderr
    if not (ENABLED and stream.isatty()):
        return source
    from toolkit.exchange.dialects import Watched

    state = [0, 0.0]  # entries, last redrawn

    def seen(n: int) -> None:
        state[0] += n
        now = time.monotonic()
        if now - state[1] >= every:
            stream.write(f"\r{label}: {state[0]}")
            stream.flush()
            state[1] = now

    def done(complete: bool) -> None:
        stream.write(f"\r{label}: {state[0]}\n")
        stream.flush()

    return Watched(source, seen, done)
