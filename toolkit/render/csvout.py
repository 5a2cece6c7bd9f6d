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
    """:func:`write_table_csv` of :func:`csv_lines`, with each row's seven
    leading cells made safe once for all its findings' lines (same bytes)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writerow = writer.writerow
    for row in rows:
        base = [safe_cell(v) for v in (row.key, row.dn, row.kind.value, row.ccmail_name,
                                        row.old_post_office, row.route, row.status)]
        if not row.findings:
            writerow([*base, "", "", "", ""])
        for f in row.findings:
            writerow([*base, safe_cell(f.code), safe_cell(f.severity), safe_cell(f.message),
                      safe_cell(f.action)])


def write_fields(rows: Iterable[Row], fields: Sequence[str], fmt: str, out: TextIO) -> None:
    """Chosen columns, one line per (row, finding), as csv or an aligned table."""
    index = [COLUMNS.index(f) for f in fields]
    lines = [[line[i] for i in index] for line in csv_lines(rows)]
    if fmt == "csv":
        write_table_csv(fields, lines, out)
        return
    from toolkit.render.table import clean

    cells = [[clean(v) for v in line] for line in lines]
    widths = [min(60, max([len(f)] + [len(c[n]) for c in cells])) for n, f in enumerate(fields)]
    for line in [[f.upper() for f in fields], *cells]:
        out.write("  ".join(c[:w].ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                  + "\n")
