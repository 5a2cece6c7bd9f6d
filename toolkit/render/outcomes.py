"""What ``apply`` and ``undo`` did, action by action: a table or JSON."""

from __future__ import annotations

import json
from typing import TextIO

from toolkit.remediation.settle import Outcome
from toolkit.render.table import clean, fit


def write_outcomes(outcomes: list[Outcome], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump([o.as_dict() for o in outcomes], out, ensure_ascii=False, indent=1)
        out.write("\n")
        return
    for o in outcomes:
        out.write(f"{o.action:<6}{o.kind:<25}{o.status:<14}{fit(clean(o.detail), 200)}\n")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    out.write("\n" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "\n")
