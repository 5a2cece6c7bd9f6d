"""Renderers for ``ccmig proxies``: audit rows and type rows as table, json,
jsonl and csv (spec: ``ccmig proxies types`` / ``audit``).

JSON carries values unchanged; CSV cells get the audit's spreadsheet-safety
prefix; the table (for people) replaces control characters.

The audit is written in parts (:class:`AuditPart`: a run of rows' text and
their counts) framed by :func:`write_audit_parts`, so that runs rendered in
another process (``ccmig proxies audit`` on two cores,
:func:`write_audit_ranges`) make the same bytes as the rows written here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any, NamedTuple, TextIO

from toolkit.errors import InputError
from toolkit.render.csvout import csv_cell, write_lines, write_table_csv
from toolkit.render.jsonout import dumps, write_json_list, write_json_texts
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


_BATCH = 64  # rows a part (write_audit): fewer writes, no big buffer
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


def audit_csv(rows: Iterable[Any], out: TextIO, header: bool = True) -> None:
    """The bytes of ``write_table_csv(AUDIT_COLUMNS, audit_csv_lines(rows))``,
    made as ``csvout.write_csv`` makes the audit's (and by its loop,
    :func:`~toolkit.render.csvout.write_lines`): each row's six leading cells
    are joined once for all its findings' lines, the few-valued cells (kind,
    status, code, severity, action) are quoted once per distinct value, the
    rest go through :func:`~toolkit.render.csvout.csv_cell`, and lines are
    written in batches. A row holding anything else (no rule makes one) is
    written the general way. ``tests/test_proxies_fast.py`` holds it to
    csv.writer. ``header``: False for a part of the file (:func:`audit_part`)."""
    few = _Texts(lambda value: "" if value is None else csv_cell(str(value)))
    write_lines(out, ",".join(AUDIT_COLUMNS) + "\r\n" if header else "", rows, _add_csv_lines,
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


class AuditPart(NamedTuple):
    """A run of rows as :func:`write_audit_parts` writes them: the text between
    the format's framing, and what the table's summary and the exit code need.
    Small and made of strings, so it crosses between processes cheaply."""

    text: str
    rows: int
    removes: int  # values a plan would remove, summed over the rows
    findings: tuple[tuple[Any, Any, int], ...]  # (code, severity, how many), as first met


def audit_part(rows: Sequence[Any], fmt: str) -> AuditPart:
    """``rows`` rendered in ``fmt`` (any of :data:`FORMATS`), without the
    framing (JSON's brackets and separators between parts, the CSV header,
    the table's header and summary)."""
    if fmt == "json":
        text = ",\n  ".join(audit_json(rows))
    elif fmt in ("jsonl", "ndjson"):
        text = "".join([t + "\n" for t in audit_json(rows)])
    elif fmt == "csv":
        texts: list[str] = []
        audit_csv(rows, _Collect(texts), header=False)
        text = "".join(texts)
    else:
        text = "".join([_table_line(row) for row in rows])
    found = Counter((f.code, f.severity) for row in rows for f in row.findings)
    return AuditPart(text, len(rows), sum(len(row.remove) for row in rows),
                     tuple((code, severity, n) for (code, severity), n in found.items()))


class _Collect:
    """A text file that keeps what is written (``io.StringIO`` copies)."""

    def __init__(self, texts: list[str]) -> None:
        self.write = texts.append


def _table_line(row: Any) -> str:
    status = row.status + (f" +{len(row.findings) - 1}" if len(row.findings) > 1 else "")
    return (f"{fit(status, 24):<24} {row.kind.value:<16} {row.values:>6} "
            f"{len(row.remove):>6}  {clean(row.dn)}\n")


@dataclass
class AuditTotals:
    """What :func:`write_audit_parts` wrote, summed: the exit code's input
    (``toolkit.cli.common.exit_code`` reads ``severities``)."""

    rows: int = 0
    removes: int = 0
    by_code: Counter[Any] = field(default_factory=Counter)  # code -> findings, as first met
    severities: set[Any] = field(default_factory=set)

    def add(self, part: AuditPart) -> None:
        self.rows += part.rows
        self.removes += part.removes
        for code, severity, n in part.findings:
            self.by_code[code] += n
            self.severities.add(severity)


def write_audit_parts(parts: Iterable[AuditPart], fmt: str, out: TextIO) -> AuditTotals:
    """The parts, in order, framed as one ``fmt`` output: the bytes
    :func:`write_audit` writes for all their rows (it writes through here)."""
    _check(fmt)
    write = out.write
    if fmt == "csv":
        write(",".join(AUDIT_COLUMNS) + "\r\n")
    elif fmt == "table":
        write(f"{'STATUS':<24} {'KIND':<16} {'VALUES':>6} {'REMOVE':>6}  DN\n")
    totals = AuditTotals()

    def texts() -> Iterator[str]:
        for part in parts:
            totals.add(part)
            if part.rows:
                yield part.text

    if fmt == "json":  # a part's text is its rows' items, joined as the list joins them
        write_json_texts(texts(), out)
    else:
        for text in texts():
            write(text)
    if fmt == "table":
        write(f"\n{totals.rows} object(s) with findings; findings by code:\n")
        for code, n in sorted(totals.by_code.items()):
            write(f"  {code:<28}{n:>8}\n")
        write(f"\n{totals.removes} value(s) a plan would remove.\n")
    return totals


def write_audit(rows: Sequence[Any], fmt: str, out: TextIO) -> AuditTotals:
    """``rows`` in ``fmt``, written ``_BATCH`` rows a part (~125 MB of JSON at
    100,000 people: ~1,500 writes, no text of the whole)."""
    _check(fmt)
    return write_audit_parts((audit_part(rows[n:n + _BATCH], fmt)
                              for n in range(0, len(rows), _BATCH)), fmt, out)


def write_audit_ranges(audit: Any, fmt: str, out: TextIO) -> AuditTotals:
    """A :class:`~toolkit.proxies.run.PreparedAudit`'s rows in ``fmt``: made
    and rendered a range at a time, on two cores where
    :func:`toolkit.parallel.ordered_map` may fork (each range's
    :class:`AuditPart` is the only thing that crosses), the same bytes as
    :func:`write_audit` of ``audit.rows()``."""
    _check(fmt)
    return write_audit_parts(audit.map_ranges(lambda rows: audit_part(rows, fmt)), fmt, out)


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
