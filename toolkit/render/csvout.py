"""CSV renderer: one line per (row, finding), spreadsheet-safe cells."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import TextIO

from toolkit.model import Row

COLUMNS = ("key", "dn", "kind", "ccmail_name", "old_post_office", "route", "status",
           "code", "severity", "message", "action")
_FORMULA = ("=", "+", "-", "@")


def safe_cell(value: object) -> str:
    """Empty for null; a leading = + - @ gets a ``'`` so spreadsheets show text."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_lines(rows: Iterable[Row]) -> Iterable[list[object]]:
    for row in rows:
        base = [row.key, row.dn, row.kind.value, row.ccmail_name, row.old_post_office,
                row.route, row.status]
        if not row.findings:
            yield [*base, None, None, None, None]
        for f in row.findings:
            yield [*base, f.code, f.severity, f.message, f.action]


def write_table_csv(header: Sequence[str], lines: Iterable[Sequence[object]], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for line in lines:
        writer.writerow([safe_cell(v) for v in line])


def write_csv(rows: Iterable[Row], out: TextIO) -> None:
    write_table_csv(COLUMNS, csv_lines(rows), out)
