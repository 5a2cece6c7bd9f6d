"""The fast JSON and CSV writers give the bytes of the general ones.

``write_json``/``write_jsonl`` fill a template instead of encoding
``row.as_dict()``; ``write_csv`` quotes cells itself instead of csv.writer.
These tests hold both to the general encoders (``json.dumps`` and
``csv.writer`` after ``safe_cell``) over every kind of value a cell can hold.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.plainrender import plain_csv, plain_json
from toolkit.model import Finding, Kind, Row
from toolkit.render import write_rows
from toolkit.render.csvout import COLUMNS, csv_cell, csv_lines, safe_cell
from toolkit.render.jsonout import _BATCH

# Every character class csv.writer or JSON treats specially, at the start,
# middle and end of a value, plus the spreadsheet formula starts.
ODD = [",", '"', "\r", "\n", "\r\n", "\t", "\x00", "\x1c", "\x85", "\u2028", "\\", "'", " ",
       "=", "+", "-", "@", "é", "Þ", "\u4e2d", "\U0001f600", "\ud800"]
VALUES = ["", "plain", "Smith, John"] + [v for c in ODD for v in (c, c + "x", "x" + c + "y",
                                                                   "y" + c)]


def general_csv(rows: list[Row]) -> str:
    return plain_csv(rows, COLUMNS, csv_lines)


general_json = plain_json


def rows_of(values: list[object]) -> list[Row]:
    """Rows whose every cell takes each value in turn, with 0, 1 and 2 findings
    and every kind; nullable cells are also None."""
    rows = []
    kinds = list(Kind)
    for n, v in enumerate(values):
        f1 = Finding(v, v, v, v)  # type: ignore[arg-type]
        f2 = Finding("stale-ccmail-mailbox", "error", f"m {v}", "a")  # type: ignore[str-format]
        findings = [(), (f1,), (f2, f1)][n % 3]
        rows.append(Row(v, v, kinds[n % len(kinds)], v, v, v, findings))  # type: ignore[arg-type]
        rows.append(Row(f"k{n}", None, kinds[n % len(kinds)], None, None, None, findings))
    return rows


@pytest.mark.parametrize("value", VALUES)
def test_csv_cell_is_safe_cell_then_csv_writer(value):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([safe_cell(value), "x"])
    assert csv_cell(value) + ",x\r\n" == out.getvalue()


def test_csv_is_the_general_writers_bytes():
    rows = rows_of(VALUES)
    out = io.StringIO()
    write_rows(rows, "csv", out)
    assert out.getvalue() == general_csv(rows)
    assert out.getvalue().count("\r\n") > len(rows)  # lines were written, not dropped


def test_json_and_jsonl_are_the_general_encoders_bytes():
    rows = rows_of([v for v in VALUES if "\ud800" not in v])
    for fmt in ("json", "jsonl", "ndjson"):
        out = io.StringIO()
        write_rows(rows, fmt, out)
        want = (general_json(rows) if fmt == "json" else
                "".join(json.dumps(r.as_dict(), ensure_ascii=False) + "\n" for r in rows))
        assert out.getvalue() == want, fmt
    assert len(json.loads(general_json(rows))) == len(rows)


def test_lone_surrogates_encode_as_json_dumps_does():
    rows = rows_of(["\ud800", "a\udfffb"])
    out = io.StringIO()
    write_rows(rows, "json", out)
    assert out.getvalue() == general_json(rows)


@pytest.mark.parametrize("count", [0, 1, _BATCH - 1, _BATCH, _BATCH + 1, 2 * _BATCH + 3])
def test_every_batch_size_gives_the_same_bytes(count):
    rows = [Row(f"k{n}", f"CN=u{n},DC=x", Kind.MAILBOX, f"U{n}, A", "PO1", "exchange",
                (Finding("stale-ccmail-mailbox", "error", f"m{n}", "a"),) * (n % 3))
            for n in range(count)]
    for fmt, want in (("json", general_json(rows)), ("csv", general_csv(rows)),
                      ("jsonl", "".join(json.dumps(r.as_dict(), ensure_ascii=False) + "\n"
                                        for r in rows))):
        out = io.StringIO()
        write_rows(rows, fmt, out)
        assert out.getvalue() == want, (fmt, count)
    if count == 0:
        out = io.StringIO()
        write_rows(rows, "json", out)
        assert out.getvalue() == "[]\n"


def test_a_value_that_is_not_a_string_takes_the_general_way():
    """No rule makes one, but a runbook can build a Row by hand: an int in a
    cell is written as the general encoders write it, rows around it unchanged."""
    plain = Row("k1", "CN=a,DC=x", Kind.MAILBOX, "A, B", "PO1", "exchange", ())
    odd = Row("k2", "CN=b,DC=x", Kind.MAILBOX, 42, 7, "exchange",  # type: ignore[arg-type]
              (Finding("stale-ccmail-mailbox", "error", "m", "a"),
               Finding("missing-secondary-address", "warning", 3, "a")))  # type: ignore[arg-type]
    rows = [plain, odd, plain]
    out = io.StringIO()
    write_rows(rows, "csv", out)
    assert out.getvalue() == general_csv(rows)
    assert out.getvalue().count("\r\n") == 5
    out = io.StringIO()
    write_rows(rows, "json", out)
    assert out.getvalue() == general_json(rows)
    assert json.loads(out.getvalue())[1]["ccmail_name"] == 42


def test_table_cells_and_fit_of_ascii_text_are_counted_char_by_char():
    """``cells``/``fit``/``base_letters`` take a short cut for ASCII text
    (one cell a character, its own NFKD): the same answers as the long way,
    control characters and every width included."""
    import random
    import unicodedata

    from toolkit.render.table import base_letters, cells, char_cells, fit

    def fit_long(text: str, width: int) -> str:
        if sum(char_cells(c) for c in text) <= width:
            return text
        out, used = [], 0
        for c in text:
            if used + char_cells(c) > width - 1:
                break
            out.append(c)
            used += char_cells(c)
        return "".join(out) + "…"

    rng = random.Random(4)
    alphabet = [chr(n) for n in range(128)] + ["é", "e\u0301", "\u4e2d", "\u200d", "Þ"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        width = rng.randrange(0, 32)
        assert cells(text) == sum(char_cells(c) for c in text), text
        assert fit(text, width) == fit_long(text, width), (text, width)
        assert base_letters(text) == "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        ).casefold()
    assert cells("A\u4e2de\u0301") == 4 and fit("abcdef", 4) == "abc…"


def test_cached_cells_give_the_same_bytes_past_the_cache_bound():
    """The writers encode few-valued cells (post office, route, status and a
    finding's code, severity and action) once per distinct value, up to a
    bound: a column that takes more values than the bound, and one code with
    several severities and actions, still give the general encoders' bytes."""
    from toolkit.render.jsonout import _Encoded

    many = 4 * _Encoded.LIMIT
    rows = []
    for n in range(many):
        code = ("stale-ccmail-mailbox", "awaiting-dirsync", f"c{n}")[n % 3]
        findings = (Finding(code, ("error", "warning")[n % 2], f"m{n}, \"q\"", f"act {n % 7}"),
                    Finding(code, "info", "m", f"=act {n}"))[: n % 3]
        rows.append(Row(f"k{n}", f"CN=u{n},DC=x", Kind.MAILBOX, f"U{n}, A", f"PO{n}",
                        ("exchange", f"r{n}", None)[n % 3], findings))
    for fmt, want in (("json", general_json(rows)), ("csv", general_csv(rows))):
        out = io.StringIO()
        write_rows(rows, fmt, out)
        assert out.getvalue() == want, fmt
    assert f'"old_post_office": "PO{many - 1}"' in general_json(rows)
