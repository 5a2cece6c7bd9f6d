"""An analysis's rows written as JSON, JSON lines or CSV by two processes.

Why: at 100,000 people, making the rows and writing them took 2.55 s of a
7.2 s audit in one process, and the rows are independent of each other. An
analysis's :class:`~toolkit.rules.rows.Rows` renders ranges of rows through
:func:`toolkit.parallel.ordered_map` (:meth:`~toolkit.rules.rows.Rows.rendered`);
here each format's text of a range, and the framing around the ranges, give
exactly the bytes of :func:`~toolkit.render.jsonout.write_json`,
:func:`~toolkit.render.jsonout.write_jsonl` and
:func:`~toolkit.render.csvout.write_csv` (the same row writers, so the same
text; the tests compare both ways byte for byte).

Only where a second process can help: an analysis's rows (filtered lists,
``--record``'s list and ``check``'s rows are written as before), at least
:data:`LEAST` of them, and a worker allowed (:func:`toolkit.parallel.jobs`).

Memory, measured at 100,000 people over LDAP: the worker is forked after the
analysis and its RSS stays ~136 MB, ~72 MB of it its own (pages of the
analysis it reads, copied on write as their reference counts change; the
rest shared with the parent); the parent's peak RSS moves by 0-2 MB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TextIO

from toolkit.model import Row
from toolkit.parallel import jobs
from toolkit.render.csvout import HEADER, csv_text
from toolkit.render.jsonout import json_text, jsonl_text, write_json_texts

# Rows per range. Measured at 100,000 people (rows stage alone, 113 ranges,
# CPU of each process): 1,000 gives the parent ~1.4 s and the worker ~1.3 s
# where one process took 2.4-2.6 s; a range's text is ~600 KB of JSON, which
# fits the worker's answer pipe (1 MB: toolkit.parallel), so the worker never
# waits for the parent to read it (2,000 did not fit: the worker waited and
# the parent's peak RSS grew 6-9 MB). 500 was no faster.
SIZE = 1000
LEAST = 2 * SIZE  # fewer rows than this: forking costs more than it saves

_RENDER: dict[str, Callable[[Iterable[Row]], str]] = {
    "json": json_text, "jsonl": jsonl_text, "ndjson": jsonl_text, "csv": csv_text}


def write_ranges(rows: Sequence[Row], fmt: str, out: TextIO) -> bool:
    """Writes ``rows`` in ``fmt`` by ranges made in two processes and says
    True, or says False (nothing written) where that cannot help: ``rows``
    is not an analysis's, ``fmt`` is a table, too few rows, no worker."""
    rendered = getattr(rows, "rendered", None)
    if (rendered is None or fmt not in _RENDER or len(rows) < LEAST or jobs() < 2):
        return False
    texts: Iterator[str] = rendered(_RENDER[fmt], SIZE)
    if fmt == "json":  # a range's text is its rows' items, joined as the list joins them
        write_json_texts(texts, out)
        return True
    write = out.write
    if fmt == "csv":
        write(HEADER)
    for text in texts:
        write(text)
    return True
