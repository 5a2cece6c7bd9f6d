"""The terminal table (issue 16, points 12 and 13): ordered for people, a KIND
column, "+N" explained, widths in terminal cells; `check` shows what to do."""

from __future__ import annotations

import io
import json
import unicodedata
from pathlib import Path

from tests.orgkit import ccmig
from toolkit.model import Finding, Kind, Row
from toolkit.render.table import HEADER, KIND_LABELS, cells, fit, write_table

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mocks" / "demo"
ARGS = ["--ldif", str(DEMO / "org.ldif"), "--ccmail-dir", str(DEMO / "ccmail" / "*.txt"),
        "--exchange-po", "EXCH", "--mailbox-stats", str(DEMO / "stats.csv")]
RANK = {"error": 0, "warning": 1, "info": 2, "complete": 3}


def body(out: str) -> list[str]:
    """The row lines of a table: from after the header to the first blank line."""
    lines = out.splitlines()
    return lines[1:lines.index("")]


def test_demo_table_is_by_severity_then_name_json_keeps_key_order():
    code, out, _ = ccmig("audit", *ARGS)
    assert code == 1
    code, js, _ = ccmig("audit", *ARGS, "--format", "json")
    rows = json.loads(js)
    assert [r["key"] for r in rows] == sorted(r["key"] for r in rows)  # contract: key order
    lines = body(out)
    assert len(lines) == len(rows) == 350
    severity = {r["status"]: (r["findings"][0]["severity"] if r["findings"] else "complete")
                for r in rows}
    statuses = [line[:25].split()[0] for line in lines]
    ranks = [RANK[severity[s]] for s in statuses]
    assert ranks == sorted(ranks)  # errors first, complete last
    assert statuses[0] != "not-migrated" and statuses[-1] == "complete"
    # Within one severity, by name ignoring case and accents.
    def base(name: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", name)
                       if not unicodedata.combining(c)).casefold()
    errors = [line[34:56].rstrip() for line, r in zip(lines, ranks, strict=True) if r == 0]
    assert [base(n) for n in errors] == sorted(base(n) for n in errors)
    # Every row of the JSON is in the table once, with its kind's label.
    expected = sorted((r["status"], KIND_LABELS[r["kind"]], fit(r["ccmail_name"] or "-", 22))
                      for r in rows)
    got = sorted((s, line[26:33].strip(), line[34:56].rstrip())
                 for s, line in zip(statuses, lines, strict=True))
    assert got == expected


def test_kind_column_tells_a_person_from_their_contact():
    code, out, _ = ccmig("check", *ARGS, "Betty Howard")
    assert out.splitlines()[0].split() == " ".join(HEADER).split()
    rows = [line for line in out.splitlines()[1:] if line[:1].isalpha() and "Betty" in line]
    kinds = {line.split()[1] for line in rows}
    assert kinds == {"mailbox", "contact"}
    assert "contact = custom-recipient" in out


def test_plus_n_is_explained_only_when_shown():
    code, out, _ = ccmig("audit", *ARGS)
    assert any(" +1 " in line for line in body(out))
    assert "+N after a status: the row has N more findings" in out
    code, out, _ = ccmig("audit", *ARGS, "--status", "not-migrated")
    assert " +" not in "".join(body(out)) and "+N after a status" not in out


def test_none_post_office_is_explained():
    code, out, _ = ccmig("audit", *ARGS)
    assert "  (none)  " in out and "(none): rows with no old cc:Mail post office" in out


def make(name: str, po: str = "PO1", n: int = 1) -> Row:
    findings = [Finding("stale-ccmail-mailbox", "error", "m", "a"),
                Finding("missing-secondary-address", "warning", "m2", "a2")][:n]
    return Row(f"k:{name}", "dn", Kind.MAILBOX, name, po, "ccmail-mailbox", findings)


def test_widths_are_terminal_cells_wide_and_combining_characters():
    names = ["Smith, John", "山田, 太郎", "Re\u0301ne\u0301e Weiss", "Renée Weiss",
             "Ｆｕｌｌ　Ｗｉｄｔｈ", "長い名前の人がここにいますとても長い名前です"]
    out = io.StringIO()
    write_table([make(n) for n in names], out)
    lines = body(out.getvalue())
    assert len(lines) == len(names)
    for line in lines:
        # The ROUTE column starts at the same terminal cell on every line.
        route = line.rindex("ccmail-mailbox")
        assert cells(line[:route]) == 25 + 1 + 7 + 1 + 22 + 1 + 8 + 1, line
        assert cells(line) <= 80
    assert cells(fit("長い名前", 5)) <= 5 and fit("長い名前", 5).endswith("…")
    assert cells("e\u0301") == 1 and cells("山") == 2


def test_every_line_fits_80_cells_on_the_demo():
    for command in (["audit"], ["check", "Wood, Ursula", "Brigitte Krüger"]):
        code, out, _ = ccmig(*command, *ARGS)
        assert max(cells(line) for line in out.splitlines()) <= 80, command


def test_check_table_shows_each_finding_message_and_action():
    code, js, _ = ccmig("check", *ARGS, "Brigitte Krüger", "--format", "json")
    row = json.loads(js)[0]
    assert len(row["findings"]) == 2
    code, out, _ = ccmig("check", *ARGS, "Brigitte Krüger")
    assert code == 1
    flat = " ".join(out.split())
    for f in row["findings"]:
        assert f"{f['code']} ({f['severity']}): {' '.join(f['message'].split())}" in flat
        assert f"Do: {' '.join(f['action'].split())}" in flat
    # check keeps the identities' order (spec), the audit table is by severity.
    code, out, _ = ccmig("check", *ARGS, "Wood, Ursula", "Brigitte Krüger")
    names = [line[34:56].rstrip() for line in out.splitlines()[1:] if line[:1].isalpha()]
    assert names[:2] == ["Wood, Ursula", "Brigitte Krüger"]
