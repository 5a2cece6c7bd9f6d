"""The apply journal: every change written down, fsynced, *before* it is made.

JSON lines. ``intent`` records carry what undo needs (the state before and
after); ``done``/``failed``/``undone`` records follow. A run killed between an
intent and its done leaves an intent whose outcome apply/undo settle by
looking at the current state (file hash, addresses), never by guessing.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from toolkit.errors import InputError


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def operator() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


@dataclass
class Entry:
    """The fate of one journalled change (folded from its records)."""

    seq: int
    action: str
    kind: str
    change: dict[str, Any]
    state: str = "intent"  # intent | done | failed | undone
    error: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)  # the done record (proxy: ``after``)


@dataclass
class JournalState:
    entries: list[Entry] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def by_action(self) -> dict[str, Entry]:
        return {e.action: e for e in self.entries}


def _record(line: bytes) -> dict[str, Any] | None:
    """The record on one line, or None for a line that is not one (torn, garbage)."""
    try:
        rec = json.loads(line.decode("utf-8"))  # UnicodeDecodeError is a ValueError
    except ValueError:
        return None
    return rec if isinstance(rec, dict) and "type" in rec else None


def _last_line(lines: list[bytes]) -> int:
    """The index of the last line that is not blank (-1 if none)."""
    return max((i for i, line in enumerate(lines) if line.strip()), default=-1)


def read_journal(path: str | Path) -> JournalState:
    path = Path(path)
    state = JournalState()
    if not path.exists():
        return state
    by_seq: dict[int, Entry] = {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read journal: {exc}", str(path)) from None
    # Split at LF only (str.splitlines() would also split a record at a U+2028 or
    # U+0085 that json.dumps(ensure_ascii=False) leaves in a cc:Mail value), and
    # decode line by line (a record torn inside a UTF-8 sequence is still torn).
    lines = data.split(b"\n")
    last = _last_line(lines)
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        rec = _record(line)
        if rec is None:
            if index == last:  # a record torn by a crash: the change never started
                break
            raise InputError("not a journal record", f"{path}:{index + 1}") from None
        kind = rec["type"]
        if kind == "run":
            state.runs.append(rec)
        elif kind == "intent":
            entry = Entry(rec["seq"], rec["action"], rec["kind"], rec["change"])
            by_seq[entry.seq] = entry
            state.entries.append(entry)
        elif kind in ("done", "failed", "undone") and rec.get("seq") in by_seq:
            by_seq[rec["seq"]].state = kind
            by_seq[rec["seq"]].error = rec.get("error")
            if kind == "done":
                by_seq[rec["seq"]].outcome = rec
    return state


def _mend_tail(path: Path) -> None:
    """Make the journal end with a whole record and a line break before appending.

    A crash (power loss, a full disk) can leave the last record torn or without
    its line break. Appending to it would glue the next record onto that line
    and make the journal unreadable (a bad line that is no longer the last).
    The tail is mended as :func:`read_journal` reads it: a whole record gets its
    line break; a torn one, which was never acted on (a change waits for its
    intent's fsync), is cut off.
    """
    try:
        fh = open(path, "rb+")  # noqa: SIM115
    except FileNotFoundError:
        return
    with fh:
        data = fh.read()
        lines = data.split(b"\n")
        last = _last_line(lines)
        if last >= 0 and _record(lines[last]) is None:
            fh.truncate(sum(len(line) + 1 for line in lines[:last]))
        elif data and not data.endswith(b"\n"):
            fh.write(b"\n")
        else:
            return
        fh.flush()
        os.fsync(fh.fileno())


class Journal:
    """Append-only writer; each record is flushed and fsynced before returning."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.state = read_journal(self.path)
        self.seq = max((e.seq for e in self.state.entries), default=0)
        self.fh: TextIO | None = None

    def __enter__(self) -> Journal:
        _mend_tail(self.path)
        self.fh = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh:
            self.fh.close()

    def write(self, *records: dict[str, Any]) -> None:
        """Append records and fsync once: all of them are on disk when this returns
        (a crash before that leaves at most the last one torn, never acted on)."""
        assert self.fh is not None
        self.fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def run(self, what: str, **info: Any) -> None:
        self.write({"type": "run", "what": what, "time": now(), "operator": operator(),
                    "host": socket.gethostname(), "pid": os.getpid(), **info})

    def intent(self, action: str, kind: str, change: dict[str, Any]) -> Entry:
        return self.intents([(action, kind, change)])[0]

    def intents(self, changes: list[tuple[str, str, dict[str, Any]]]) -> list[Entry]:
        """Journal several changes at once (one fsync), before any of them is made."""
        entries = []
        for action, kind, change in changes:
            self.seq += 1
            entries.append(Entry(self.seq, action, kind, change))
        self.write(*({"type": "intent", "seq": e.seq, "action": e.action, "kind": e.kind,
                      "change": e.change, "time": now()} for e in entries))
        self.state.entries.extend(entries)
        return entries

    def mark(self, entry: Entry, state: str, error: str | None = None) -> None:
        self.mark_all([entry], state, error)

    def mark_all(self, entries: list[Entry], state: str, error: str | None = None) -> None:
        stamp = now()
        records = []
        for entry in entries:
            record: dict[str, Any] = {"type": state, "seq": entry.seq, "time": stamp}
            if error:
                record["error"] = error
            records.append(record)
            entry.state, entry.error = state, error
        self.write(*records)


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """A non-blocking OS lock on ``PATH.lock``, removed again when released.

    The OS releases the lock if the process dies (kill -9); only then is the lock
    file left behind, and the next run takes it over. Removing the file on
    release races with a process that opened it just before: that process then
    holds a lock on a file no longer in the directory, so after locking it checks
    that the path still names the file it locked, and starts again if not.
    """
    lock_path = Path(f"{path}.lock")
    while True:
        fh = open(lock_path, "a+")  # noqa: SIM115
        try:
            _lock(fh, lock_path)
        except BaseException:
            fh.close()
            raise
        if _same_file(fh, lock_path):
            break
        fh.close()  # removed (or replaced) by the holder we waited for: take the new one
    try:
        yield
    finally:
        if sys.platform != "win32":
            lock_path.unlink(missing_ok=True)  # while still holding it: see above
        fh.close()
        if sys.platform == "win32":
            with contextlib.suppress(OSError):  # another process has it open; it removes it
                lock_path.unlink()


def _lock(fh: TextIO, lock_path: Path) -> None:
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise InputError("another ccmig apply/undo holds the lock", str(lock_path)) from None


def _same_file(fh: TextIO, lock_path: Path) -> bool:
    if sys.platform == "win32":  # an open file cannot be removed there
        return True
    try:
        return os.path.samestat(os.fstat(fh.fileno()), os.stat(lock_path))
    except FileNotFoundError:
        return False
