"""Which rows a user asked for: by identity (``check``, ``plan --from-file``,
``addresses``, ``stats``) or by post office and status (``audit``).

Library code, not CLI code, so the plan's wave selection and the commands share
one matching rule without importing each other.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence

from toolkit.errors import InputError
from toolkit.model import Row
from toolkit.text import fold


def filter_rows(rows: Sequence[Row], post_offices: Iterable[str],
                statuses: Iterable[str]) -> Sequence[Row]:
    pos = {fold(p) for p in post_offices}
    wanted = set(statuses)
    if not pos and not wanted:
        return rows  # an analysis's rows are made as they are written: no list of them all
    return [
        r for r in rows
        if (not pos or (r.old_post_office is not None and fold(r.old_post_office) in pos))
        and (not wanted or r.status in wanted)
    ]


def identities_given(identities: Sequence[str], from_file: str | None) -> list[str]:
    """The identities of IDENTITY... arguments and ``--from-file``; none is bad input."""
    wanted = list(identities) + (read_identity_file(from_file) if from_file else [])
    if not wanted:
        raise InputError("no identity given (arguments or --from-file)", "IDENTITY")
    return wanted


def read_identity_file(path: str) -> list[str]:
    """A CSV with an ``identity`` column, else one identity per line."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read identities: {exc.strerror}", path) from None
    except UnicodeDecodeError:
        raise InputError("identity file must be UTF-8 text", path) from None
    lines = text.splitlines()
    if not lines:
        return []
    try:
        header = next(csv.reader([lines[0]]))
    except csv.Error:
        header = []
    names = [h.strip().lower() for h in header]
    if "identity" in names:
        col = names.index("identity")
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        next(reader)
        try:
            return [row[col].strip() for row in reader if len(row) > col and row[col].strip()]
        except csv.Error as exc:
            raise InputError(f"bad CSV: {exc}", f"{path}:{reader.line_num}") from None
    return [line.strip() for line in lines if line.strip()]


def match_rows(rows: list[Row], identities: list[str]) -> tuple[list[Row], list[str]]:
    """Rows matching the identities, identity by identity, each row once."""
    index: dict[str, set[int]] = defaultdict(set)
    for i, row in enumerate(rows):
        for ident in (row.key, *row.identities):
            if ident:
                index[fold(ident)].add(i)
    shown: set[int] = set()
    out: list[Row] = []
    unmatched: list[str] = []
    for ident in identities:
        hits = index.get(fold(ident))
        if not hits:
            unmatched.append(ident)
            continue
        for i in sorted(hits, key=lambda k: rows[k].key):
            if i not in shown:
                shown.add(i)
                out.append(rows[i])
    return out, unmatched
