"""Recorded audit runs: ``ccmig audit --record DIR`` writes one JSON file a run;
``ccmig history``, ``ccmig diff`` and ``ccmig report --record DIR`` read them.

A run file holds what is needed to follow the clean-up over time and nothing
secret: when it ran, the inputs it read (paths, URLs without user info, bind
identity — never a password), the count of rows per status, and per row its
key, name, old post office, route, status and finding codes (not the
messages, which may be long and change wording between versions)::

    {"format": "ccmig-run", "version": 1, "timestamp": "2026-05-01T09:30:00.123456Z",
     "ccmig_version": "0.1.0", "inputs": {...}, "total": 350,
     "counts": {"invalid-address": 10, ..., "complete": 141},
     "rows": [{"key": "dn:...", "kind": "mailbox", "ccmail_name": "Smith, John",
               "old_post_office": "PO1", "route": "exchange", "status": "complete",
               "findings": []}]}

Files are named ``ccmig-run-<UTC timestamp>.json`` and written atomically, so a
directory of runs sorts in time order and never holds a half-written run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from toolkit import __version__, atomic
from toolkit.errors import InputError
from toolkit.model import Row
from toolkit.rules import STATUSES

FORMAT = "ccmig-run"
VERSION = 1
PREFIX = "ccmig-run-"
_SECRET = re.compile(r"pass(word)?|secret|token|credential|api[-_]?key", re.IGNORECASE)


# --------------------------------------------------------------------------- recording


def row_record(row: Row) -> dict[str, Any]:
    """The part of a row a run file keeps."""
    return {
        "key": row.key,
        "kind": row.kind.value,
        "ccmail_name": row.ccmail_name,
        "old_post_office": row.old_post_office,
        "route": row.route,
        "status": row.status,
        "findings": [f.code for f in row.findings],
    }


def count_statuses(statuses: Iterable[str]) -> dict[str, int]:
    """Rows per status, every status present (0 when none), in the table's order."""
    counts = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def _strip_userinfo(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return value


def safe_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs fit to be written down: secret-looking keys dropped, no user info in URLs."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if _SECRET.search(str(key)):
            continue
        if isinstance(value, str):
            value = _strip_userinfo(value)
        elif isinstance(value, list | tuple):
            value = [_strip_userinfo(v) if isinstance(v, str) else v for v in value]
        out[str(key)] = value
    return out


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_run(directory: str | Path, rows: Sequence[Row], inputs: Mapping[str, Any],
               when: datetime | None = None) -> Path:
    """Write one run file into ``directory`` (created if missing); return its path.

    ``rows`` should be the whole audit, not a filtered view: history and diff
    compare runs person by person.
    """
    when = when or datetime.now(UTC)
    timestamp = _stamp(when)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "timestamp": timestamp,
        "ccmig_version": __version__,
        "inputs": safe_inputs(inputs),
        "total": len(rows),
        "counts": count_statuses(r.status for r in rows),
        "rows": [row_record(r) for r in rows],
    }
    target_dir = Path(directory)
    base = PREFIX + timestamp.replace(":", "").replace("-", "")
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        while True:
            target = target_dir / f"{base}{f'-{n}' if n else ''}.json"
            if not target.exists():
                break
            n += 1
        fd, tmp = atomic.new_temp(target)
    except OSError as exc:
        raise InputError(f"cannot write run record: {exc.strerror}", str(directory)) from None
    with atomic.replacing(target, fd, tmp, encoding="utf-8", newline="\n") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=0)
        fh.write("\n")
    return target


# --------------------------------------------------------------------------- reading


@dataclass
class Run:
    """One recorded run (``path`` is None for the current, unrecorded audit)."""

    timestamp: str
    counts: dict[str, int]
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.path.name if self.path else "(this report)"

    def by_key(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: r for r in self.rows}


def current_run(rows: Sequence[Row], inputs: Mapping[str, Any] | None = None,
                when: datetime | None = None) -> Run:
    """The audit just made, as a :class:`Run` (for comparison with records)."""
    return Run(_stamp(when or datetime.now(UTC)), count_statuses(r.status for r in rows),
               len(rows), [row_record(r) for r in rows], safe_inputs(inputs or {}))


def load_run(path: str | Path) -> Run:
    """Read and check one run file (exit 2 naming the file when it is not one)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read run record: {exc.strerror}", str(p)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not a ccmig run record (bad JSON: {exc})", str(p)) from None
    try:
        assert isinstance(data, dict) and data.get("format") == FORMAT
        if not isinstance(data.get("version"), int) or data["version"] > VERSION:
            raise InputError(f"run record version {data.get('version')!r} is newer than this "
                             "ccmig understands", str(p))
        timestamp = data["timestamp"]
        rows = data["rows"]
        assert isinstance(timestamp, str) and isinstance(rows, list)
        for r in rows:
            assert isinstance(r, dict) and isinstance(r["key"], str)
            assert isinstance(r["status"], str) and isinstance(r["findings"], list)
        counts = data.get("counts") or count_statuses(r["status"] for r in rows)
        assert isinstance(counts, dict)
        counts = {str(k): int(v) for k, v in counts.items()}
        inputs = data.get("inputs") or {}
        assert isinstance(inputs, dict)
    except (AssertionError, KeyError, TypeError, ValueError):
        raise InputError("not a ccmig run record (written by `ccmig audit --record DIR`)",
                         str(p)) from None
    return Run(timestamp, counts, int(data.get("total", len(rows))), rows, inputs, p)


def run_files(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise InputError("no such run record directory", str(directory))
    return sorted(d.glob(f"{PREFIX}*.json"))


def load_runs(directory: str | Path) -> list[Run]:
    """Every run in ``directory``, oldest first."""
    runs = [load_run(p) for p in run_files(directory)]
    return sorted(runs, key=lambda r: (r.timestamp, r.name))


def resolve_run(ref: str, directory: str | Path | None) -> Run:
    """``latest``, ``previous`` (with a record directory), a run file's path, or a
    run file's name inside the record directory."""
    if ref in ("latest", "previous"):
        if directory is None:
            raise InputError(f"'{ref}' needs --record DIR", ref)
        runs = load_runs(directory)
        need = 1 if ref == "latest" else 2
        if len(runs) < need:
            raise InputError(f"'{ref}': the directory holds {len(runs)} run(s)", str(directory))
        return runs[-need]
    path = Path(ref)
    if not path.exists() and directory is not None and (Path(directory) / ref).exists():
        path = Path(directory) / ref
    return load_run(path)


# --------------------------------------------------------------------------- comparing


@dataclass
class Change:
    """What changed for one person (row key) between two runs."""

    key: str
    change: str  # "added" | "removed" | "changed"
    ccmail_name: str | None
    old_post_office: str | None
    status: tuple[str | None, str | None]
    route: tuple[str | None, str | None]
    findings_added: list[str]
    findings_removed: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "change": self.change,
            "ccmail_name": self.ccmail_name,
            "old_post_office": self.old_post_office,
            "status_before": self.status[0],
            "status_after": self.status[1],
            "route_before": self.route[0],
            "route_after": self.route[1],
            "findings_added": self.findings_added,
            "findings_removed": self.findings_removed,
        }


def diff_runs(before: Run, after: Run) -> list[Change]:
    """Person by person, in key order: rows added, removed, or whose status,
    route or finding codes changed."""
    old, new = before.by_key(), after.by_key()
    out: list[Change] = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        fa = list(a["findings"]) if a else []
        fb = list(b["findings"]) if b else []
        status = (a["status"] if a else None, b["status"] if b else None)
        route = (a.get("route") if a else None, b.get("route") if b else None)
        if a is not None and b is not None and status[0] == status[1] and route[0] == route[1] \
                and fa == fb:
            continue
        either = b or a or {}
        out.append(Change(
            key=key,
            change="added" if a is None else "removed" if b is None else "changed",
            ccmail_name=either.get("ccmail_name"),
            old_post_office=either.get("old_post_office"),
            status=status,
            route=route,
            findings_added=[c for c in fb if c not in fa],
            findings_removed=[c for c in fa if c not in fb],
        ))
    return out


def count_delta(before: Run, after: Run) -> list[tuple[str, int, int]]:
    """(status, before, after) for every status that either run has."""
    names = [s for s in STATUSES if before.counts.get(s) or after.counts.get(s)]
    names += sorted((set(before.counts) | set(after.counts)) - set(STATUSES))
    return [(s, before.counts.get(s, 0), after.counts.get(s, 0)) for s in names
            if before.counts.get(s, 0) or after.counts.get(s, 0)]


def trend_statuses(runs: Sequence[Run]) -> list[str]:
    """The statuses that occur in at least one run, in the table's order."""
    seen = {s for r in runs for s, n in r.counts.items() if n}
    return [s for s in STATUSES if s in seen] + sorted(seen - set(STATUSES))
