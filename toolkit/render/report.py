"""What ``ccmig report`` shows, independent of HTML or Markdown: counts per status
and per old post office, the people needing action grouped by what to do, and
the trend of recorded runs. The renderers (``html.py``, ``markdown.py``) only
lay this out and escape it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from toolkit import __version__
from toolkit.history import Change, Run, current_run, diff_runs
from toolkit.model import Row
from toolkit.rules import CODES, SEVERITY, STATUSES

NO_PO = "(none)"
SEVERITIES = ("error", "warning", "info", "complete")
DEFAULT_TITLE = "cc:Mail → Exchange migration audit"


def severity_of(status: str) -> str:
    return SEVERITY.get(status, "complete")


@dataclass
class Group:
    """The rows of one status, and what to do about them (their findings' actions)."""

    status: str
    severity: str
    actions: list[str]
    rows: list[Row]


@dataclass
class Report:
    rows: list[Row]
    inputs: dict[str, Any] = field(default_factory=dict)
    exchange_pos: list[str] = field(default_factory=list)
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))
    title: str = DEFAULT_TITLE
    version: str = __version__
    runs: list[Run] | None = None  # recorded runs (None: no --record given)

    def by_status(self) -> list[tuple[str, int]]:
        counts = Counter(r.status for r in self.rows)
        return [(s, counts[s]) for s in STATUSES if counts[s]]

    def by_post_office(self) -> list[tuple[str, Counter[str]]]:
        """Per old PO (``(none)`` for rows without one): rows, and rows per
        severity of their status (``complete`` for none)."""
        per: dict[str, Counter[str]] = {}
        for row in self.rows:
            c = per.setdefault(row.old_post_office or NO_PO, Counter())
            c["rows"] += 1
            c[severity_of(row.status)] += 1
        return [(po, per[po]) for po in sorted(per, key=str.casefold)]

    def groups(self) -> list[Group]:
        """People needing action, one group per status, most severe first."""
        out = []
        for status in CODES:
            rows = [r for r in self.rows if r.status == status]
            if not rows:
                continue
            actions: list[str] = []
            for r in rows:
                action = r.findings[0].action
                if action not in actions:
                    actions.append(action)
            out.append(Group(status, severity_of(status), actions, rows))
        return out

    @property
    def needing_action(self) -> int:
        return sum(1 for r in self.rows if r.findings)

    @property
    def latest_run(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    def changes_since_latest(self) -> list[Change]:
        """Person by person, what changed since the latest recorded run."""
        latest = self.latest_run
        if latest is None:
            return []
        return diff_runs(latest, current_run(self.rows, when=self.generated))


OPTION_NAMES = {"ccmail_dirs": "--ccmail-dir", "exchange_pos": "--exchange-po",
                "profile": "profile"}


def input_items(inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """The inputs worth showing, as (option, value) pairs in a stable order."""
    out = []
    for key, value in inputs.items():
        if value in (None, "", [], (), False):
            continue
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif value is True:
            value = "yes"
        out.append((OPTION_NAMES.get(key, "--" + key.replace("_", "-")), str(value)))
    return out
