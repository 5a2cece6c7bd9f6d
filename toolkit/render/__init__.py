"""Renderers: rows -> table, json, jsonl, csv (spec: Output)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from toolkit.errors import InputError
from toolkit.model import Row
from toolkit.render.csvout import write_csv, write_fields
from toolkit.render.jsonout import write_json, write_jsonl
from toolkit.render.ranges import write_ranges
from toolkit.render.table import write_table

FORMATS = ("table", "json", "jsonl", "ndjson", "csv")


def write_rows(rows: Sequence[Row], fmt: str, out: TextIO,
               fields: Sequence[str] | None = None, details: bool = False) -> None:
    """``details``: the table (check) shows each finding's message and action."""
    if fields:
        if fmt not in ("table", "csv"):
            raise InputError("--fields applies to --format table and csv", "--fields")
        write_fields(rows, fields, fmt, out)
        return
    if write_ranges(rows, fmt, out):  # an analysis's rows, made by two processes
        return
    if fmt == "json":
        write_json(rows, out)
    elif fmt in ("jsonl", "ndjson"):
        write_jsonl(rows, out)
    elif fmt == "csv":
        write_csv(rows, out)
    else:
        write_table(rows, out, details)
