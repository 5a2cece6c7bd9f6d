"""What ``ccmig proxies report`` shows, independent of HTML or Markdown: values
per type, objects per finding, the policies that still generate retired
types, and - from an apply's journal - what went and what came back.

The change board asks two questions: "what will go?" (the audit as it stands)
and "what went?" (the journal: each object's values before the write and as
read back after it). Both come from recorded data only, so the same inputs
give the same bytes: no clock is read here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit import __version__
from toolkit.errors import InputError
from toolkit.proxies.inventory import type_rows
from toolkit.proxies.model import ProxyRow, TypeRow, value_type
from toolkit.proxies.plan import KIND
from toolkit.proxies.read import AD
from toolkit.proxies.rules import evaluate
from toolkit.proxies.run import ProxyInputs
from toolkit.remediation.journal import read_journal

DEFAULT_TITLE = "Legacy proxy addresses"
NO_TYPE = "(no type)"


@dataclass(frozen=True)
class ObjectChange:
    """One object an apply wrote: its values before, what was removed, as read
    back after, and what reappeared (a policy stamped it again). ``state`` is
    the journal's: ``done``, or ``undone`` when undo put the values back."""

    dn: str
    before: tuple[str, ...]
    removed: tuple[str, ...]
    after: tuple[str, ...]
    reappeared: tuple[str, ...]
    state: str


@dataclass(frozen=True)
class TypeChange:
    """Per address type over a journal: values before, removed, reappeared, after."""

    type: str
    before: int
    removed: int
    reappeared: int
    after: int


def type_label(kind: str | None) -> str:
    """A type as shown: ``(no type)`` for none, quoted when spaces lead or
    trail (``' SMTP'`` must not look like ``SMTP`` on a chart)."""
    if not kind:
        return NO_TYPE
    return f"'{kind}'" if kind != kind.strip() else kind


def _type(text: str) -> str:
    return type_label(value_type(text))


def journal_changes(path: str) -> list[ObjectChange]:
    """The proxy removals a journal records as made, in journal order.

    Only made writes count (``done``; ``undone`` ones are shown as such):
    a failed or unsettled intent removed nothing the journal can vouch for.
    """
    if not Path(path).is_file():
        raise InputError("no such journal file", "--journal")
    out = []
    for e in read_journal(path).entries:
        if e.kind != KIND or e.state not in ("done", "undone"):
            continue
        c = e.change
        after = e.outcome.get("after", []) if e.state == "done" else list(c.get("before", []))
        out.append(ObjectChange(c["dn"], tuple(c.get("before", ())), tuple(c["remove"]),
                                tuple(after), tuple(e.outcome.get("reappeared", ())), e.state))
    return out


def type_changes(changes: Iterable[ObjectChange]) -> list[TypeChange]:
    """Sum of :class:`ObjectChange` per type, sorted by type."""
    counts: dict[str, Counter[str]] = {}
    for ch in changes:
        for name, values in (("before", ch.before), ("removed", ch.removed),
                             ("reappeared", ch.reappeared), ("after", ch.after)):
            for v in values:
                counts.setdefault(_type(v), Counter())[name] += 1
    return [TypeChange(t, c["before"], c["removed"], c["reappeared"], c["after"])
            for t, c in sorted(counts.items())]


@dataclass
class ProxyReport:
    """Everything the page shows. ``policies`` is None when the email address
    policies were not read (no ``--exchange-uri``); ``changes`` None without
    ``--journal``."""

    types: list[TypeRow]
    rows: list[ProxyRow]
    policies: dict[str, tuple[str, ...]] | None = None
    changes: list[ObjectChange] | None = None
    journal: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    title: str = DEFAULT_TITLE
    version: str = __version__

    def values_per_type(self) -> list[tuple[str, int]]:
        return [(type_label(t.type), t.values) for t in self.types if t.values]

    def by_finding(self) -> list[tuple[str, str, int]]:
        """(code, severity, objects with that finding), most objects first, then by code."""
        counts: Counter[tuple[str, str]] = Counter()
        for row in self.rows:
            for f in {(f.code, f.severity) for f in row.findings}:
                counts[f] += 1
        return [(c, s, n) for (c, s), n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]

    def retired_policies(self) -> list[tuple[str, tuple[str, ...]]]:
        """Policies whose enabled templates still generate a retired type."""
        retired = {t.type for t in self.types if t.retired}
        return [(name, tuple(k for k in kinds if k in retired))
                for name, kinds in sorted((self.policies or {}).items())
                if any(k in retired for k in kinds)]

    def per_type_change(self) -> list[TypeChange]:
        return type_changes(self.changes or [])


def proxies_report(inputs: ProxyInputs, record: dict[str, Any], journal: str | None = None,
                   title: str = DEFAULT_TITLE) -> ProxyReport:
    """``ccmig proxies report``: the directory is read once for the types and
    the audit; the journal (read first, so a bad path fails before the
    directory is read) adds before/after."""
    changes = journal_changes(journal) if journal else None
    settings = inputs.settings(need_evidence=True)
    policies = dict(inputs.policies()) if inputs.policies is not None else None
    objects = inputs.objects()
    types = type_rows(objects, settings.retired, inputs.dialect == AD, policies)
    rows = evaluate(objects, settings)
    return ProxyReport(types, rows, {k: tuple(v) for k, v in policies.items()}
                       if policies is not None else None, changes, journal, record, title)
