"""``ccmig addresses`` and ``ccmig stats`` output: what Exchange answered for
each identity, as a table, JSON, JSON lines or CSV (``stats --format csv`` is
a ``--mailbox-stats`` file)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from toolkit.render.csvout import write_table_csv
from toolkit.render.jsonout import dumps, write_json_list
from toolkit.render.table import clean, fit


def write_addresses(results: Sequence[Any], fmt: str, out: TextIO) -> None:
    """EmailAddresses results (``.identity``, ``.dn``, ``.found``, ``.addresses``)."""
    if fmt == "json":
        write_json_list((r.as_dict() for r in results), out)
    elif fmt in ("jsonl", "ndjson"):
        for r in results:
            out.write(dumps(r.as_dict()) + "\n")
    elif fmt == "csv":
        write_table_csv(("identity", "dn", "found", "address"),
                        ([r.identity, r.dn, "true" if r.found else "false", a]
                         for r in results for a in (r.addresses or [None])), out)
    else:
        for r in results:
            out.write(f"{fit(clean(r.identity), 30)}  {clean(r.dn) if r.found else 'NOT FOUND'}\n")
            for a in r.addresses:
                out.write(f"    {clean(a)}\n")


def write_mailbox_stats(results: Sequence[Any], fmt: str, out: TextIO) -> None:
    """Get-MailboxStatistics results (``.identity``, ``.dn``, ``.found``, ``.item_count``)."""
    rows = [{"identity": r.identity, "dn": r.dn, "found": r.found, "item_count": r.item_count}
            for r in results]
    if fmt == "json":
        write_json_list(rows, out)
    elif fmt in ("jsonl", "ndjson"):
        for row in rows:
            out.write(dumps(row) + "\n")
    elif fmt == "csv":  # the --mailbox-stats format: DN identities resolve exactly
        write_table_csv(("identity", "item_count"),
                        ([r.dn, r.item_count] for r in results
                         if r.found and r.item_count is not None), out)
    else:
        for r in results:
            count = r.item_count if r.item_count is not None else "-"
            out.write(f"{fit(clean(r.identity), 40):<40}  {count!s:>10}  {clean(r.dn)}\n")
