"""Edit cc:Mail directory export files without disturbing anything else.

A removal deletes one record's lines (and one blank separator) and nothing
more: encoding, BOM, line endings and every other byte stay as they were. The
change is described by (lines removed, where) plus the file's hash before and
after, which is exactly what the journal needs to undo it byte for byte.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from toolkit.ccmail.directory import decode, read_directory_file
from toolkit.errors import InputError
from toolkit.text import fold


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FileText:
    """A directory file as (encoding, BOM, lines with their endings)."""

    path: Path
    encoding: str
    bom: bytes
    lines: list[str]

    @classmethod
    def read(cls, path: str | Path, encoding: str | None = None) -> FileText:
        path = Path(path)
        data = path.read_bytes()
        text, used = decode(data, encoding, str(path))
        bom = codecs.BOM_UTF8 if used == "utf-8-sig" else b""
        lines = [line + "\n" for line in text.split("\n")]
        lines[-1] = lines[-1][:-1]
        if not lines[-1]:
            lines.pop()
        return cls(path, "utf-8" if bom else used, bom, lines)

    def encode(self) -> bytes:
        return self.bom + "".join(self.lines).encode(self.encoding)


@dataclass
class Removal:
    """One record removed: ``lines`` were at index ``start`` (0-based)."""

    file: str
    start: int
    lines: list[str]
    sha_before: str
    sha_after: str
    encoding: str


def find_record(path: str | Path, post_office: str, name: str, locn: str, addr: str,
                encoding: str | None = None) -> tuple[int, int] | None:
    """The (first, last) 1-based line span of the one matching record, if any."""
    f = read_directory_file(Path(path), encoding, po=post_office)
    hits = [
        span for e, span in zip(f.entries, f.spans, strict=True)
        if fold(e.name) == fold(name) and e.locn == locn and fold(e.addr) == fold(addr)
    ]
    if len(hits) > 1:
        raise InputError(f"{len(hits)} identical records for '{name}' ({locn}); edit by hand",
                         str(path))
    return hits[0] if hits else None


def plan_removal(path: str | Path, span: tuple[int, int], encoding: str | None = None) -> Removal:
    """The removal of the record at ``span`` and one blank-line separator.

    A record followed by another loses the blank lines after it; the last
    record loses the blank lines before it, so the file keeps its shape.
    """
    ft = FileText.read(path, encoding)
    before = ft.encode()
    lines = ft.lines
    start, end = span[0] - 1, span[1]  # the record is lines[start:end]
    while end < len(lines) and not lines[end].strip():
        end += 1
    if end == len(lines):
        while start > 0 and not lines[start - 1].strip():
            start -= 1
    removed = lines[start:end]
    ft.lines = lines[:start] + lines[end:]
    return Removal(str(path), start, removed, sha256(before), sha256(ft.encode()), ft.encoding)


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.ccmig-tmp")


def discard_temp(path: str | Path) -> None:
    """Remove the temporary file a killed :func:`atomic_write` left beside ``path``."""
    _temp_name(Path(path)).unlink(missing_ok=True)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    tmp = _temp_name(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        mode = path.stat().st_mode
        os.chmod(tmp, mode & 0o7777)
    except OSError:
        pass
    os.replace(tmp, path)
    _fsync_dir(path.parent)


POSIX = os.name == "posix"


def _fsync_dir(directory: Path) -> None:
    if not POSIX:  # Windows has no directory fsync; os.replace is atomic there
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_sha(path: str | Path) -> str | None:
    try:
        return sha256(Path(path).read_bytes())
    except FileNotFoundError:
        return None


def apply_removal(r: Removal) -> None:
    ft = FileText.read(r.file, r.encoding if r.encoding != "utf-8" else None)
    if sha256(ft.encode()) != r.sha_before:
        raise InputError("file changed since the removal was planned", r.file)
    if ft.lines[r.start:r.start + len(r.lines)] != r.lines:
        raise InputError("record not where it was planned", r.file)
    ft.lines = ft.lines[:r.start] + ft.lines[r.start + len(r.lines):]
    data = ft.encode()
    if sha256(data) != r.sha_after:
        raise InputError("removal would not give the planned result", r.file)
    atomic_write(r.file, data)


def revert_removal(r: Removal) -> None:
    """Put the removed lines back; a file already back at ``sha_before`` is left as
    it is (an undo killed after its write but before journalling it is re-run)."""
    if current_sha(r.file) == r.sha_before:
        discard_temp(r.file)
        return
    ft = FileText.read(r.file, r.encoding if r.encoding != "utf-8" else None)
    if sha256(ft.encode()) != r.sha_after:
        raise InputError("file changed since the journalled removal; not reverted", r.file)
    ft.lines = ft.lines[:r.start] + r.lines + ft.lines[r.start:]
    data = ft.encode()
    if sha256(data) != r.sha_before:
        raise InputError("re-inserting the record would not restore the file", r.file)
    atomic_write(r.file, data)
