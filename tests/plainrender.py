"""The renderers written the plain way, for the fast-path tests of both rule
families (tests/test_render_fast.py, tests/test_proxies_fast.py): the csv
module over the given columns and cells, json.dumps of each row's as_dict."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from toolkit.render.csvout import safe_cell


def plain_csv(rows: Any, columns: Sequence[str],
              lines: Callable[[Any], Iterable[Sequence[Any]]]) -> str:
    """The CSV of ``rows``: a header of ``columns``, then each of ``lines(rows)``
    with every cell through ``safe_cell``, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for line in lines(rows):
        writer.writerow([safe_cell(v) for v in line])
    return out.getvalue()


def plain_json(rows: Iterable[Any]) -> str:
    """The JSON list of ``rows``' ``as_dict()``, one item a line, as the
    writers lay it out."""
    items = [json.dumps(r.as_dict(), ensure_ascii=False) for r in rows]
    return "[" + "".join(("\n  " if n == 0 else ",\n  ") + s for n, s in enumerate(items)) + (
        "\n]\n" if items else "]\n")
