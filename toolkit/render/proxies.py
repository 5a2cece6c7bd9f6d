"""Renderers for ``ccmig proxies``: audit rows and type rows as table, json,
jsonl and csv (spec: ``ccmig proxies types`` / ``audit``).

JSON carries values unchanged; CSV cells get the audit's spreadsheet-safety
prefix; the table (for people) replaces control characters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any, TextIO

from toolkit.errors import InputError
from toolkit.render.csvout import csv_cell, write_lines, write_table_csv
from toolkit.render.jsonout import dumps, write_json_list
from toolkit.render.table import clean, fit

AUDIT_COLUMNS = ("key", "dn", "kind", "values", "remove", "status", "code", "severity",
                 "message", "action")
TYPE_COLUMNS = ("type", "objects", "values", "primaries", "retired", "policies")
FORMATS = ("table", "json", "jsonl", "ndjson", "csv")


def _write_dicts(items: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> bool:
    """json/jsonl; False for the other formats."""
    if fmt == "json":
        write_json_list(items, out)
    elif fmt in ("jsonl", "ndjson"):
        for item in items:
            out.write(dumps(item) + "\n")
    else:
        return False
    return True


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", "--format")


# --------------------------------------------------------------------------- audit


def audit_csv_lines(rows: Iterable[Any]) -> Iterable[list[object]]:
    """One line per (row, finding); ``remove`` as a JSON array."""
    for row in rows:
        base = [row.key, row.dn, row.kind.value, row.values, dumps(list(row.remove)), row.status]
        if not row.findings:
            yield [*base, None, None, None, None]
        for f in row.findings:
            yield [*base, f.code, f.severity, f.message, f.action]


_BATCH = 64  # rows (json) or lines (csv) joined per write: fewer calls, no big buffer
_LIMIT = 4096  # distinct values a cache below keeps (hostile input cannot grow it)


class _Texts(dict[object, str]):
    """Text made once per distinct value of a few-valued field (kind, status,
    a finding's code, severity and action), by ``make``; bounded. Only
    strings, enum members and tuples of strings are kept (values that are
    equal but print differently, such as 1 and True, are made each time)."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, value: object) -> str:
        text: str = self._make(value)
        if len(self) < _LIMIT and (isinstance(value, str) or (
                value.__class__ is tuple and all(x.__class__ is str for x in value))):
            self[value] = text
        return text


def _finding_parts(key: tuple[str, str, str]) -> tuple[str, str]:
    """A finding's JSON before and after its message, from (code, severity, action)."""
    code, severity, action = key
    enc = encode_basestring
    return (f'{{"code": {enc(code)}, "severity": {enc(severity)}, "message": ',
            f', "action": {enc(action)}}}')


def audit_json(rows: Iterable[Any]) -> Iterator[str]:
    """Each row's ``dumps(row.as_dict())``, made without the dicts.

    At 100,000 people the dicts and the general encoder took ~0.9 s of a
    ~9 s ``proxies audit``; a template filled with strings encoded by the
    encoder's own string function (the one ``ensure_ascii=False`` uses) gives
    the same text. Now also (as ``jsonout.json_batches``): kind and status
    are encoded once per distinct value, and a finding's code, severity and
    long action once per distinct triple, so only key, DN, the values to
    remove and each message are encoded per row; the template is an f-string
    (``%`` parses its format every row). ``tests/test_proxies_cli.py`` and
    ``tests/test_proxies_fast.py`` hold it to ``dumps``. A row holding
    anything but strings where strings belong takes the general encoder.
    """
    enc = encode_basestring
    kinds = _Texts(lambda kind: enc(kind.value))
    statuses = _Texts(enc)
    parts = _Texts(_finding_parts)
    for row in rows:
        try:
            texts = []
            for f in row.findings:
                head, tail = parts[(f.code, f.severity, f.action)]
                texts.append(head + enc(f.message) + tail)
            remove = row.remove
            yield (f'{{"key": {enc(row.key)}, "dn": {enc(row.dn)}, "kind": {kinds[row.kind]}, '
                   f'"values": {_count(row.values)}, '
                   f'"remove": [{", ".join([enc(v) for v in remove]) if remove else ""}], '
                   f'"status": {statuses[row.status]}, "findings": [{", ".join(texts)}]}}')
        except TypeError:
            yield dumps(row.as_dict())


def _count(n: object) -> str:
    """An int as JSON writes it (``%d`` did: a non-int raises TypeError)."""
    if n.__class__ is not int:
        raise TypeError(n)
    return str(n)


def _audit_json_file(rows: Iterable[Any], out: TextIO) -> None:
    """:func:`write_json_texts` of :func:`audit_json`, ``_BATCH`` rows a write
    (~125 MB at 100,000 people: ~2,000 writes instead of ~100,000)."""
    write = out.write
    separator = "[\n  "
    batch: list[str] = []
    for text in audit_json(rows):
        batch.append(text)
        if len(batch) >= _BATCH:
            write(separator + ",\n  ".join(batch))
            separator = ",\n  "
            batch.clear()
    if batch:
        write(separator + ",\n  ".join(batch))
        separator = ",\n  "
    write("[]\n" if separator == "[\n  " else "\n]\n")


def audit_csv(rows: Iterable[Any], out: TextIO) -> None:
    """The bytes of ``write_table_csv(AUDIT_COLUMNS, audit_csv_lines(rows))``,
    made as ``csvout.write_csv`` makes the audit's (and by its loop,
    :func:`~toolkit.render.csvout.write_lines`): each row's six leading cells
    are joined once for all its findings' lines, the few-valued cells (kind,
    status, code, severity, action) are quoted once per distinct value, the
    rest go through :func:`~toolkit.render.csvout.csv_cell`, and lines are
    written in batches. A row holding anything else (no rule makes one) is
    written the general way. ``tests/test_proxies_fast.py`` holds it to
    csv.writer."""
    few = _Texts(lambda value: "" if value is None else csv_cell(str(value)))
    write_lines(out, ",".join(AUDIT_COLUMNS) + "\r\n", rows, _add_csv_lines,
                _general_csv_lines, few)


def _add_csv_lines(row: Any, few: _Texts, lines: list[str]) -> None:
    """``row``'s CSV lines (no terminators) appended to ``lines``."""
    cell = csv_cell
    remove = row.remove
    removed = ("[]" if not remove else
               cell("[" + ", ".join([encode_basestring(v) for v in remove]) + "]"))
    base = (f"{cell(row.key)},{cell(row.dn)},{few[row.kind]},{_count(row.values)},{removed},"
            f"{few[row.status]}")
    findings = row.findings
    if not findings:
        lines.append(base + ",,,,")
    for f in findings:
        lines.append(f"{base},{few[f.code]},{few[f.severity]},{cell(f.message)},{few[f.action]}")


def _general_csv_lines(row: Any) -> list[str]:
    """``row``'s lines as csv.writer writes any values (the slow, general way)."""
    import io

    buf = io.StringIO()
    write_table_csv(AUDIT_COLUMNS, audit_csv_lines([row]), buf)
    return buf.getvalue().split("\r\n")[1:-1]


def write_audit(rows: Sequence[Any], fmt: str, out: TextIO) -> None:
    _check(fmt)
    if fmt == "json":
        _audit_json_file(rows, out)
        return
    if fmt in ("jsonl", "ndjson"):
        for text in audit_json(rows):
            out.write(text + "\n")
        return
    if fmt == "csv":
        audit_csv(rows, out)
        return
    out.write(f"{'STATUS':<24} {'KIND':<16} {'VALUES':>6} {'REMOVE':>6}  DN\n")
    for row in rows:
        status = row.status + (f" +{len(row.findings) - 1}" if len(row.findings) > 1 else "")
        out.write(f"{fit(status, 24):<24} {row.kind.value:<16} {row.values:>6} "
                  f"{len(row.remove):>6}  {clean(row.dn)}\n")
    counts = Counter(f.code for row in rows for f in row.findings)
    out.write(f"\n{len(rows)} object(s) with findings; findings by code:\n")
    for code, n in sorted(counts.items()):
        out.write(f"  {code:<28}{n:>8}\n")
    total = sum(len(row.remove) for row in rows)
    out.write(f"\n{total} value(s) a plan would remove.\n")


# --------------------------------------------------------------------------- types


def _type_cells(row: Any) -> list[object]:
    return [row.type, row.objects, row.values, row.primaries,
            "true" if row.retired else "false",
            None if row.policies is None else "; ".join(row.policies)]


def write_types(rows: Sequence[Any], fmt: str, out: TextIO) -> None:
    _check(fmt)
    if _write_dicts((r.as_dict() for r in rows), fmt, out):
        return
    lines = [_type_cells(r) for r in rows]
    if fmt == "csv":
        write_table_csv(TYPE_COLUMNS, lines, out)
        return
    cells = [[clean(line[0]) or '""', *(clean(v) for v in line[1:])] for line in lines]
    header = [c.upper() for c in TYPE_COLUMNS]
    widths = [min(40, max([len(h)] + [len(c[n]) for c in cells])) for n, h in enumerate(header)]
    for line in [header, *cells]:
        out.write("  ".join(fit(c, w).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                  + "\n")


# --------------------------------------------------------------------------- plan

PLAN_FORMATS = ("json", "csv", "ps1", "ldif")
PLAN_COLUMNS = ("id", "kind", "target", "dn", "cmdlet", "values", "reason", "precondition",
                "blocked", "blocked_reason")


_UNCHECKED = ("# Email address policies were not checked (no --exchange-uri): run "
              "Get-EmailAddressPolicy first;\n# a policy that still generates a removed type "
              "stamps the address again.\n")


def _comment(text: str) -> str:
    """One comment line: no line break, no block-comment end."""
    return clean(" ".join(text.replace("#>", "# >").split()))


def write_proxy_plan(plan: Any, fmt: str, out: TextIO) -> None:
    """json/csv plan, or a reviewable script: ps1 (Exchange Management Shell,
    one ``Set-...`` line per action) or ldif (``ldifde -i``). Every value is a
    quoted literal (ps1) or a SAFE-STRING/base64 value (ldif): a hostile
    address can never become code or another LDIF line."""
    if fmt == "json":
        import json

        json.dump(plan.as_dict(), out, ensure_ascii=False, indent=1)
        out.write("\n")
    elif fmt == "csv":
        write_table_csv(PLAN_COLUMNS, (
            [a.id, a.kind, a.target, a.dn, a.cmdlet, dumps(a.values), " ".join(a.reason),
             a.precondition, "true" if a.blocked else "false", a.blocked_reason]
            for a in plan.actions), out)
    elif fmt == "ps1":
        _plan_ps1(plan, out)
    elif fmt == "ldif":
        _plan_ldif(plan, out)
    else:
        raise InputError(f"unknown plan format {fmt!r}", "--format")


def _plan_ps1(plan: Any, out: TextIO) -> None:
    from toolkit.render.plan import ps_quote

    # A BOM: Windows PowerShell 5.1 reads a BOM-less script as ANSI (see render.plan).
    out.write("\ufeff# ccmig proxies plan: remove retired proxy addresses. Review before running\n"
              "# in the Exchange Management Shell. Blocked actions are commented out.\n")
    if not plan.inputs.get("policies_checked"):
        out.write(_UNCHECKED)
    out.write("$ErrorActionPreference = 'Stop'\n\n")
    for a in plan.actions:
        out.write(f"# {a.id} {a.kind} ({', '.join(a.reason)}): {_comment(a.precondition)}\n")
        if a.cmdlet is None:
            out.write(f"# {_comment(a.dn)} is no Exchange recipient: no cmdlet edits it; use "
                      "the ldif plan\n\n")
            continue
        values = ",".join(ps_quote(v) for v in a.values)
        cmd = f"{a.cmdlet} -Identity {ps_quote(a.dn)} -EmailAddresses @{{Remove={values}}}"
        if a.blocked:
            out.write(f"# {_comment('BLOCKED: ' + (a.blocked_reason or ''))}\n# {cmd}\n\n")
        else:
            out.write(f"{cmd}\n\n")


def _plan_ldif(plan: Any, out: TextIO) -> None:
    from toolkit.exchange.ldif_write import ldif_line

    out.write("# ccmig proxies plan: remove retired proxy addresses with ldifde -i.\n"
              "# Blocked actions are left out.\n")
    if not plan.inputs.get("policies_checked"):
        out.write(_UNCHECKED)
    out.write("version: 1\n\n")
    for a in plan.actions:
        if a.blocked:
            continue
        lines = "".join(ldif_line("proxyAddresses", v) + "\n" for v in a.values)
        out.write(f"# {a.id} {a.kind}\n{ldif_line('dn', a.dn)}\nchangetype: modify\n"
                  f"delete: proxyAddresses\n{lines}-\n\n")
