"""JSON renderers: values unchanged (no spreadsheet escaping), UTF-8, streamed row by row."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from toolkit.model import Row

# One encoder for every row: json.dumps(value, ensure_ascii=False) builds a new
# one per call. Same output.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def dumps(value: Any) -> str:
    return _encode(value)


def write_json(rows: Iterable[Row], out: TextIO) -> None:
    write_json_list((row.as_dict() for row in rows), out)


def write_json_list(items: Iterable[Any], out: TextIO) -> None:
    write = out.write
    write("[")
    separator = None
    for item in items:
        if separator is None:
            write("\n  " + _encode(item))
            separator = ",\n  "
        else:
            write(separator + _encode(item))
    write("\n]\n" if separator is not None else "]\n")


def write_jsonl(rows: Iterable[Row], out: TextIO) -> None:
    write = out.write
    for row in rows:
        write(_encode(row.as_dict()) + "\n")
