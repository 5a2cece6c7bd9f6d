"""The finding codes of spec.md, declared once: code, severity, the object
kinds each applies to, in the table's order (most severe first).

Everything that lists codes or statuses - the rules, the renderers, the run
records, ``--status`` and ``--fail-on`` - reads them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.model import Kind


@dataclass(frozen=True, slots=True)
class Code:
    """One row of the spec's finding table."""

    code: str
    severity: str  # "error" | "warning" | "info"
    kinds: frozenset[Kind]  # the rows it can appear on


_EXCHANGE = frozenset({Kind.MAILBOX, Kind.CUSTOM_RECIPIENT, Kind.GROUP})
_MAILBOX = frozenset({Kind.MAILBOX})

# Spec, "Finding codes": the first three rows and multiple-primaries apply to
# every Exchange object; the others to mailboxes, except
# orphan-custom-recipient (both rows of the pair) and not-migrated.
TABLE: tuple[Code, ...] = (
    Code("invalid-address", "error", _EXCHANGE),
    Code("duplicate-address", "error", _EXCHANGE),
    Code("name-conflict", "error", _EXCHANGE),
    Code("stale-ccmail-mailbox", "error", _MAILBOX),
    Code("orphan-custom-recipient", "error", frozenset({Kind.MAILBOX, Kind.CUSTOM_RECIPIENT})),
    Code("missing-primary-address", "warning", _MAILBOX),
    Code("multiple-primaries", "warning", _EXCHANGE),
    Code("missing-secondary-address", "warning", _MAILBOX),
    Code("unconfirmed-migration", "warning", _MAILBOX),
    Code("awaiting-dirsync", "warning", _MAILBOX),
    Code("source-mismatch", "warning", _MAILBOX),
    Code("not-migrated", "info", frozenset({Kind.CCMAIL_USER})),
)

SEVERITY: dict[str, str] = {c.code: c.severity for c in TABLE}
CODES: tuple[str, ...] = tuple(SEVERITY)
STATUSES: tuple[str, ...] = (*CODES, "complete")  # a row's status: its first code, or complete
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
