"""A wave: the part of a plan for some post offices, some people, or the first N.

Wave selection narrows what the plan says; it never adds an action, and keeps
dirsync's gate honest for the people left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.identity import match_rows
from toolkit.model import Row
from toolkit.remediation.plan import Plan, gate_dirsync
from toolkit.text import fold


def select_wave(plan: Plan, rows: Sequence[Row], post_offices: tuple[str, ...], identities: list[str],
                limit: int | None) -> None:
    """Keep the actions of a wave: rows by PO / identity, then the first N."""
    chosen = [r for r in rows if r.dn]
    if post_offices:
        pos = {fold(p) for p in post_offices}
        chosen = [r for r in chosen if r.old_post_office and fold(r.old_post_office) in pos]
    if identities:
        matched, _ = match_rows(chosen, identities)
        chosen = matched
    chosen = [r for r in chosen if r.findings]
    if limit is not None:
        chosen = chosen[:limit]
    dns = {r.dn.casefold() for r in chosen if r.dn}
    kept = [a for a in plan.actions
            if (a.mailbox or a.target.get("dn") or "").casefold() in dns]
    # dirsync serves the whole organisation, but the wave's plan names only its own
    awaiting = [dn for a in plan.actions if a.kind == "run-dirsync"
                for dn in a.target["mailboxes"] if dn.casefold() in dns]
    at_risk = [dn for dn in plan.at_risk if dn.casefold() in dns]
    if awaiting or at_risk or any(a.kind == "remove-ccmail-entry" for a in kept):
        for a in plan.actions:
            if a.kind == "run-dirsync":
                a.target = {**a.target, "mailboxes": awaiting}
                kept.append(a)
    plan.actions = kept
    gate_dirsync(plan.actions, at_risk, len(plan.at_risk) - len(at_risk))
