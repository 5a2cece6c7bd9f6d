"""The one way ccmig replaces a file the user keeps.

Reports and ``-o`` outputs, plans, run records, a rewritten cc:Mail file, an
example configuration: each is written to a temporary file beside its target
(same directory, so the rename never crosses a file system), the file is
fsynced, renamed over the target with ``os.replace``, and on POSIX the
directory is fsynced too, so after a crash or a power cut the target is either
the old file or the whole new one -- never empty, never half written, and a
rename that was reported done stays done. A failure before the rename removes
the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

POSIX = os.name == "posix"


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; Windows cannot open a
    directory, and its ``os.replace`` is already journalled by NTFS)."""
    if not POSIX:
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_temp(target: Path, temp: Path | None = None) -> tuple[int, Path]:
    """Open the temporary file for ``target``: a fixed name ``temp`` (one a
    recovery knows how to find) or a fresh private name beside the target.
    Raises ``OSError`` when the directory cannot take it: callers say where."""
    if temp is not None:
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), temp
    directory = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    return fd, Path(name)


def ordinary_mode() -> int:
    """The mode a new file gets from ``open()`` under the current umask (a
    report is an ordinary file, not mkstemp's private 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def replacing(target: str | Path, fd: int, temp: Path, *, mode: int | None = None,
              **open_args: Any) -> Iterator[IO[Any]]:
    """Yield the temporary file opened on ``fd`` (``open_args`` as for
    ``open``: binary when none are given); when the block ends normally, fsync
    it, give it ``mode`` (None: keep the target's mode if it exists), rename it
    over ``target`` and fsync the directory. On any failure the temporary file
    is removed and the target left alone."""
    target = Path(target)
    try:
        with os.fdopen(fd, "w" if open_args else "wb", **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None:
            try:
                mode = target.stat().st_mode & 0o7777
            except OSError:
                mode = None
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent if str(target.parent) else Path("."))


def write_bytes(target: str | Path, data: bytes, temp: Path | None = None) -> None:
    """Replace ``target`` with ``data`` atomically and durably, keeping its mode."""
    target = Path(target)
    fd, tmp = new_temp(target, temp)
    with replacing(target, fd, tmp) as fh:
        fh.write(data)
