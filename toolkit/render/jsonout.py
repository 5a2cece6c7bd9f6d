"""JSON renderers: values unchanged (no spreadsheet escaping), UTF-8, streamed row by row."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from toolkit.model import Row


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_json(rows: Iterable[Row], out: TextIO) -> None:
    write_json_list((row.as_dict() for row in rows), out)


def write_json_list(items: Iterable[Any], out: TextIO) -> None:
    out.write("[")
    first = True
    for item in items:
        out.write("\n  " if first else ",\n  ")
        out.write(dumps(item))
        first = False
    out.write("\n]\n" if not first else "]\n")


def write_jsonl(rows: Iterable[Row], out: TextIO) -> None:
    for row in rows:
        out.write(dumps(row.as_dict()))
        out.write("\n")
