"""Renderer for ``ccmig recipients``: each Exchange object's cc:Mail values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from toolkit.model import Recipient
from toolkit.render.csvout import write_table_csv
from toolkit.render.jsonout import dumps, write_json_list
from toolkit.render.table import clean, fit

COLUMNS = ("dn", "kind", "value", "type", "name", "post_office", "source", "valid", "error")


def as_dict(r: Recipient) -> dict[str, Any]:
    return {
        "dn": r.dn,
        "kind": r.kind.value,
        "values": [
            {"value": v.raw, "type": v.prefix, "name": v.name, "post_office": v.po,
             "source": v.source, "valid": v.valid, "error": v.error}
            for v in r.values
        ],
    }


def _lines(found: Iterable[Recipient]) -> Iterable[list[object]]:
    for r in found:
        for v in r.values:
            yield [r.dn, r.kind.value, v.raw, v.prefix, v.name, v.po, v.source,
                   "true" if v.valid else "false", v.error]


def write_recipients(found: Sequence[Recipient], fmt: str, out: TextIO) -> None:
    found = sorted((r for r in found if r.values), key=lambda r: r.dn.casefold())
    if fmt == "json":
        write_json_list((as_dict(r) for r in found), out)
    elif fmt in ("jsonl", "ndjson"):
        for r in found:
            out.write(dumps(as_dict(r)) + "\n")
    elif fmt == "csv":
        write_table_csv(COLUMNS, _lines(found), out)
    else:
        for r in found:
            out.write(f"{clean(r.kind.value)}  {fit(clean(r.dn), 66)}\n")
            for v in r.values:
                mark = "  " if v.valid else "! "
                out.write(f"    {mark}{fit(clean(v.raw), 56)}  {v.source}"
                          f"{'  ' + v.error if v.error else ''}\n")
        out.write(f"\n{len(found)} recipient(s) with cc:Mail values\n")
