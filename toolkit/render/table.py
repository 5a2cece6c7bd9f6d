"""Human table: one line a row at 80 columns, then counts per status and PO.

Values from the directory are untrusted: control characters (terminal escape
sequences) are replaced before anything reaches the terminal.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from toolkit.model import Row
from toolkit.rules import STATUSES
from toolkit.text import printable


def clean(text: object) -> str:
    """Printable form: control characters become U+FFFD."""
    if text is None:
        return "-"
    return printable(str(text))


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_columns(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = [fit(c, w).ljust(w) for c, w in zip(cells[:-1], widths, strict=False)]
    return " ".join([*parts, fit(cells[-1], widths[-1])]).rstrip()


WIDTHS = (28, 24, 10, 14)
HEADER = ("STATUS", "CC:MAIL NAME", "OLD PO", "ROUTE")


COLOURS = {"error": "31", "warning": "33", "info": "36", "complete": "32"}


def use_colour(out: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def write_table(rows: Sequence[Row], out: TextIO) -> None:
    colour = use_colour(out)
    out.write(format_columns(HEADER, WIDTHS) + "\n")
    for row in rows:
        status = row.status + (f" +{len(row.findings) - 1}" if len(row.findings) > 1 else "")
        cells = (status, clean(row.ccmail_name), clean(row.old_post_office), clean(row.route))
        line = format_columns(cells, WIDTHS)
        if colour:  # colour the padded status cell, so columns stay aligned
            code = COLOURS[row.findings[0].severity if row.findings else "complete"]
            width = WIDTHS[0]
            line = f"\x1b[{code}m{line[:width]}\x1b[0m{line[width:]}"
        out.write(line + "\n")
    write_summary(rows, out)


def write_summary(rows: Sequence[Row], out: TextIO) -> None:
    by_status = Counter(row.status for row in rows)
    out.write(f"\n{len(rows)} row(s) by status:\n")
    for code in STATUSES:
        if by_status[code]:
            out.write(f"  {code:<28}{by_status[code]:>8}\n")
    per_po: dict[str, Counter[str]] = {}
    for row in rows:
        po = clean(row.old_post_office) if row.old_post_office else "(none)"
        c = per_po.setdefault(po, Counter())
        c["rows"] += 1
        c[row.findings[0].severity if row.findings else "complete"] += 1
    out.write("\nBy old post office:\n")
    out.write(f"  {'PO':<20}{'rows':>8}{'errors':>8}{'warnings':>10}{'info':>8}{'complete':>10}\n")
    for po in sorted(per_po, key=str.casefold):
        c = per_po[po]
        out.write(f"  {fit(po, 19):<20}{c['rows']:>8}{c['error']:>8}{c['warning']:>10}"
                  f"{c['info']:>8}{c['complete']:>10}\n")
