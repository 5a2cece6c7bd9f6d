"""Renderers: rows -> table, json, jsonl, csv (spec: Output)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from toolkit.model import Row
from toolkit.render.csvout import write_csv
from toolkit.render.jsonout import write_json, write_jsonl
from toolkit.render.table import write_table

FORMATS = ("table", "json", "jsonl", "ndjson", "csv")


def write_rows(rows: Sequence[Row], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        write_json(rows, out)
    elif fmt in ("jsonl", "ndjson"):
        write_jsonl(rows, out)
    elif fmt == "csv":
        write_csv(rows, out)
    else:
        write_table(rows, out)
