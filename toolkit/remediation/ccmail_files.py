"""Edit cc:Mail directory export files without disturbing anything else.

A removal deletes one record's lines (and one blank separator) and nothing
more: encoding, BOM, line endings and every other byte stay as they were. The
change is described by (lines removed, where) plus the file's hash before and
after, which is exactly what the journal needs to undo it byte for byte.
"""

from __future__ import annotations

import codecs
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import atomic
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
    hit = find_records(path, post_office, [{"name": name, "locn": locn, "addr": addr}],
                       encoding)[0]
    if isinstance(hit, str):
        raise InputError(hit, str(path))
    return hit


def find_records(path: str | Path, post_office: str, targets: list[dict[str, Any]],
                 encoding: str | None = None) -> list[tuple[int, int] | str | None]:
    """For each target (name, locn, addr), the line span of its one record in the
    file, None when there is none, or why it cannot be told (several match).
    The file is parsed once, however many targets."""
    f = read_directory_file(Path(path), encoding, po=post_office)
    index: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for e, span in zip(f.entries, f.spans, strict=True):
        index[(fold(e.name), e.locn, fold(e.addr))].append(span)
    out: list[tuple[int, int] | str | None] = []
    for t in targets:
        hits = index.get((fold(t["name"]), t["locn"], fold(t.get("addr") or "")), [])
        if len(hits) > 1:
            out.append(f"{len(hits)} identical records for '{t['name']}' ({t['locn']}); "
                       "edit by hand")
        else:
            out.append(hits[0] if hits else None)
    return out


def plan_removal(path: str | Path, span: tuple[int, int], encoding: str | None = None) -> Removal:
    """The removal of the record at ``span`` and one blank-line separator.

    A record followed by another loses the blank lines after it; the last
    record loses the blank lines before it, so the file keeps its shape.
    """
    return plan_removals(path, [span], encoding)[0][0]


def plan_removals(path: str | Path, spans: list[tuple[int, int]], encoding: str | None = None
                  ) -> tuple[list[Removal], bytes]:
    """The removals of several records of one file, and the file's bytes after all.

    They are planned bottom-up, so each span (numbered in the file as it is now)
    still points at its record when its turn comes, and chained: each removal's
    ``sha_before`` is the state the previous one leaves. Apply writes the file
    once with the last state; undo can still revert them one by one, newest
    first, byte for byte.
    """
    ft = FileText.read(path, encoding)
    data = ft.encode()
    # Each state is hashed, so each must be built: from the lines encoded once
    # (a stateless codec encodes a text as the sum of its lines), else whole.
    encoded: list[bytes] | None = [line.encode(ft.encoding) for line in ft.lines]
    if ft.bom + b"".join(encoded) != data:
        encoded = None
    sha = sha256(data)
    out: list[Removal] = []
    lines = ft.lines
    for span in sorted(spans, reverse=True):
        start, end = span[0] - 1, span[1]  # the record is lines[start:end]
        while end < len(lines) and not lines[end].strip():
            end += 1
        if end == len(lines):
            while start > 0 and not lines[start - 1].strip():
                start -= 1
        removed = lines[start:end]
        del lines[start:end]
        if encoded is not None:
            del encoded[start:end]
            data = ft.bom + b"".join(encoded)
        else:
            data = ft.encode()
        after = sha256(data)
        out.append(Removal(str(path), start, removed, sha, after, ft.encoding))
        sha = after
    return out, data


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.ccmig-tmp")


def discard_temp(path: str | Path) -> None:
    """Remove the temporary file a killed :func:`atomic_write` left beside ``path``."""
    _temp_name(Path(path)).unlink(missing_ok=True)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Replace a cc:Mail file through :mod:`toolkit.atomic`, by a temporary file
    of a fixed name that a resumed or undone run knows to discard."""
    atomic.write_bytes(path, data, _temp_name(Path(path)))


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


def apply_removals(removals: list[Removal], data: bytes) -> None:
    """Make chained removals of one file (:func:`plan_removals`) in one write."""
    first, last = removals[0], removals[-1]
    if current_sha(first.file) != first.sha_before:
        raise InputError("file changed since the removal was planned", first.file)
    if sha256(data) != last.sha_after:
        raise InputError("removal would not give the planned result", first.file)
    atomic_write(first.file, data)


def revert_removal(r: Removal) -> None:
    """Put the removed lines back; a file already back at ``sha_before`` is left as
    it is (an undo killed after its write but before journalling it is re-run)."""
    revert_removals([r])


def revert_removals(removals: list[Removal]) -> None:
    """Put back removals of one file that follow each other in its chain, newest
    first, in one write. The file must be as the newest left it; removals an undo
    killed after its write but before journalling it already put back are skipped
    (the file's hash says how many), and a file already back is left as it is."""
    file = removals[0].file
    cur = current_sha(file)
    first = next((i for i, r in enumerate(removals) if cur == r.sha_after), None)
    if first is None:
        if cur == removals[-1].sha_before:
            discard_temp(file)
            return
        raise InputError("file changed since the journalled removal; not reverted", file)
    todo = removals[first:]
    ft = FileText.read(file, todo[0].encoding if todo[0].encoding != "utf-8" else None)
    if sha256(ft.encode()) != todo[0].sha_after:
        raise InputError("file changed since the journalled removal; not reverted", file)
    for r in todo:
        ft.lines[r.start:r.start] = r.lines
    data = ft.encode()
    if sha256(data) != todo[-1].sha_before:
        raise InputError("re-inserting the record would not restore the file", file)
    atomic_write(file, data)
