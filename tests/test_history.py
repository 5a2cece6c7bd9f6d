"""Recorded runs: ``audit --record``, ``history``, ``diff`` and the report's trend,
over an organisation that changes between two runs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.orgkit import CONNECTOR, Org, ccmig, entry, mailbox, podir
from tests.test_report import Page
from toolkit.history import STATUSES, load_run

SMITH_KEY = "dn:cn=smith\\, john,ou=staff,dc=corp,dc=example"


def build(org: Org, smith_entry: bool = True) -> list[str]:
    """Smith is stale while his PO1 entry exists; Doe is complete; Lee not migrated."""
    org.objects = [
        mailbox("Smith, John", "CCMAIL:Smith, John at EXCH", "ccmail:Smith, John at PO1"),
        mailbox("Doe, Jane", "CCMAIL:Doe, Jane at EXCH", "ccmail:Doe, Jane at PO1"),
    ]
    po1 = [entry("Lee, Ann")] + ([entry("Smith, John", messages=3)] if smith_entry else [])
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR, entry("Doe, Jane", "R", addr="EXCH")),
                "PO1": podir("PO1", *po1)}
    return [*org.write(), "--exchange-po", "EXCH"]


@pytest.fixture
def two_runs(org: Org, tmp_path: Path) -> tuple[Path, list[Path]]:
    """Run 1; the cc:Mail admin deletes Smith from PO1; run 2 (filtered view, whole record)."""
    runs = tmp_path / "runs"
    code, _, err = ccmig("audit", *build(org), "--record", str(runs), "-o", str(tmp_path / "a1"))
    assert code == 1, err
    code, out, err = ccmig("audit", *build(org, smith_entry=False), "--record", str(runs),
                           "--status", "complete", "--format", "json")
    assert code == 0, err  # only the complete rows shown ...
    assert {r["ccmail_name"] for r in json.loads(out)} == {"Doe, Jane"}
    files = sorted(runs.glob("ccmig-run-*.json"))
    assert len(files) == 2
    return runs, files


def test_a_run_record_holds_counts_and_rows_but_no_messages_or_secrets(two_runs, org):
    runs, files = two_runs
    first, second = (json.loads(f.read_text(encoding="utf-8")) for f in files)
    assert first["format"] == "ccmig-run" and first["version"] == 1
    assert first["timestamp"] < second["timestamp"]
    assert first["inputs"]["ldif"] == str(org.root / "org.ldif")
    assert first["inputs"]["exchange_pos"] == ["EXCH"]
    assert "password" not in json.dumps(first).lower()
    assert list(first["counts"]) == list(STATUSES)
    assert first["counts"]["stale-ccmail-mailbox"] == 1 and first["total"] == 3
    # ... but the record is the whole audit, not the filtered view.
    assert second["total"] == 3 and second["counts"]["awaiting-dirsync"] == 1
    smith = {r["key"]: r for r in first["rows"]}[SMITH_KEY]
    assert smith == {"key": SMITH_KEY, "kind": "mailbox", "ccmail_name": "Smith, John",
                     "old_post_office": "PO1", "route": "ccmail-mailbox",
                     "status": "stale-ccmail-mailbox", "findings": ["stale-ccmail-mailbox"]}


def test_history_shows_each_run(two_runs):
    runs, files = two_runs
    code, out, err = ccmig("history", "--record", str(runs), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [d["record"] for d in data] == [f.name for f in files]
    assert [d["counts"]["stale-ccmail-mailbox"] for d in data] == [1, 0]
    assert [d["counts"]["awaiting-dirsync"] for d in data] == [0, 1]
    assert [d["counts"]["complete"] for d in data] == [1, 1]

    code, out, _ = ccmig("history", "--record", str(runs))
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].split()[:3] == ["RUN", "(UTC)", "ROWS"]
    header = lines[0].split()[2:]
    assert "stale-ccmail-mailbox" in header and "awaiting-dirsync" in header
    assert "name-conflict" not in header  # only statuses that occur
    cells = [dict(zip(header, line.split()[2:], strict=True)) for line in lines[1:]]
    assert [c["stale-ccmail-mailbox"] for c in cells] == ["1", "0"]

    code, out, _ = ccmig("history", "--record", str(runs), "--format", "csv", "--last", "1")
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 1 and table[0]["record"] == files[1].name
    assert table[0]["awaiting-dirsync"] == "1"


def test_diff_shows_the_person_whose_status_changed(two_runs):
    runs, files = two_runs
    for args in ([], ["previous", "latest"], [str(files[0]), str(files[1])],
                 [files[0].name, "latest"]):
        code, out, err = ccmig("diff", "--record", str(runs), *args, "--format", "json")
        assert code == 0, (args, err)
        data = json.loads(out)
        assert data["changes"] == [{
            "key": SMITH_KEY, "change": "changed", "ccmail_name": "Smith, John",
            "old_post_office": "PO1",
            "status_before": "stale-ccmail-mailbox", "status_after": "awaiting-dirsync",
            "route_before": "ccmail-mailbox", "route_after": "undeliverable",
            "findings_added": ["awaiting-dirsync"],
            "findings_removed": ["stale-ccmail-mailbox"]}], args
        assert {"status": "stale-ccmail-mailbox", "before": 1, "after": 0} in data["counts"]

    code, out, _ = ccmig("diff", "--record", str(runs))
    assert "~ Smith, John  (PO1)" in out
    assert "status    stale-ccmail-mailbox -> awaiting-dirsync" in out
    assert "route     ccmail-mailbox -> undeliverable" in out
    assert "findings  +awaiting-dirsync -stale-ccmail-mailbox" in out
    assert "1 changed, 0 added, 0 removed" in out
    assert "Doe, Jane" not in out and "Lee, Ann" not in out

    code, out, _ = ccmig("diff", "--record", str(runs), "latest", "previous", "--format", "csv")
    (line,) = csv.DictReader(io.StringIO(out))
    assert (line["status_before"], line["status_after"]) == (
        "awaiting-dirsync", "stale-ccmail-mailbox")


def test_diff_added_and_removed_people(org, tmp_path):
    runs = tmp_path / "runs"
    args = build(org)
    ccmig("audit", *args, "--record", str(runs), "-o", str(tmp_path / "out"))
    org.dirs["PO1"] = podir("PO1", entry("Smith, John", messages=3), entry("Kim, Bo"))
    ccmig("audit", *org.write(), "--exchange-po", "EXCH", "--record", str(runs),
          "-o", str(tmp_path / "out"))
    code, out, _ = ccmig("diff", "--record", str(runs), "--format", "json")
    changes = {c["ccmail_name"]: c for c in json.loads(out)["changes"]}
    assert set(changes) == {"Lee, Ann", "Kim, Bo"}
    assert changes["Lee, Ann"]["change"] == "removed"
    assert changes["Lee, Ann"]["status_after"] is None
    assert changes["Kim, Bo"]["change"] == "added"
    assert changes["Kim, Bo"]["findings_added"] == ["not-migrated"]


def test_report_with_record_shows_the_trend_and_the_changes(two_runs, org, tmp_path):
    runs, files = two_runs
    target = tmp_path / "report.html"
    # Smith's entry is back: stale again since the latest run.
    code, _, err = ccmig("report", *build(org), "--record", str(runs), "-o", str(target))
    assert code == 1, err
    page = Page(target.read_text(encoding="utf-8"))
    assert page.errors == []
    assert page.find("section", id="trend")
    assert page.chart("trend")["stale-ccmail-mailbox"] == 1  # the last point: this report
    points = [a for a, _ in page.find("circle") if a.get("data-run")]
    assert len(points) == 3 * len(page.chart("trend"))  # two runs and this report
    (_, table), = page.find("table", id="trend-table")
    assert files[0].name in table and files[1].name in table and "(this report)" in table
    (a, text), = page.find("tr", data_change="changed")
    assert a["data-key"] == SMITH_KEY
    assert "awaiting-dirsync → stale-ccmail-mailbox" in text

    code, out, _ = ccmig("report", *build(org), "--record", str(runs), "--format", "md")
    assert "## Trend" in out and "(this report)" in out
    assert "| changed | Smith, John | PO1 | awaiting\\-dirsync → stale\\-ccmail\\-mailbox" \
        not in out  # '-' is not special in Markdown
    assert "| changed | Smith, John | PO1 | awaiting-dirsync → stale-ccmail-mailbox" in out


def test_empty_and_bad_record_directories(tmp_path):
    code, _, err = ccmig("history", "--record", str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere" in err
    code, _, err = ccmig("history")
    assert code == 2 and "--record" in err
    (tmp_path / "runs").mkdir()
    code, out, err = ccmig("history", "--record", str(tmp_path / "runs"), "--format", "json")
    assert code == 0 and json.loads(out) == []
    code, _, err = ccmig("diff", "--record", str(tmp_path / "runs"))
    assert code == 2 and "holds 0 run(s)" in err
    bad = tmp_path / "runs" / "ccmig-run-20260101T000000.000000Z.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    code, _, err = ccmig("history", "--record", str(tmp_path / "runs"))
    assert code == 2 and bad.name in err and "not a ccmig run record" in err
    code, _, err = ccmig("diff", str(bad))
    assert code == 2 and "RUN1 RUN2" in err
    code, _, err = ccmig("diff", "latest", "previous")
    assert code == 2 and "--record" in err


def test_two_runs_in_the_same_instant_get_two_files(tmp_path):
    from datetime import UTC, datetime

    from toolkit.history import record_run

    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    a = record_run(tmp_path, [], {"ldif": "x"}, when)
    b = record_run(tmp_path, [], {"ldif": "x"}, when)
    assert a != b and a.exists() and b.exists()
    assert load_run(b).timestamp == "2026-05-01T09:30:00.000000Z"
    assert list(tmp_path.glob(".*")) == []
