"""An analysis's rows written by two processes (``render/ranges.py``,
``Rows.rendered``) give the bytes, codes, errors and exit codes of one.

Each test writes the same analysis both ways - ``CCMIG_JOBS=1`` (the one-
process writers, unchanged) and with the forked worker - and compares. The
renderers are wrapped to note which process rendered each range, so a test
also fails if the worker was not used where it is claimed to be.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from toolkit.mocks import orggen

from tests.orgkit import CONNECTOR, Org, ccmig, entry, mailbox, podir
from toolkit.audit import AuditInputs, file_directory, ldif_source, run_audit
from toolkit.render import ranges, write_rows
from toolkit.rules import rows as rows_module
from toolkit.rules.rows import Rows

FORMATS = ("json", "jsonl", "ndjson", "csv")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A generated organisation: a few hundred rows of every kind and status."""
    out = tmp_path_factory.mktemp("rows-org")
    orggen.generate(orggen.Settings(people=300, seed=5), out)
    return out


def generated_args(org: Path) -> list[str]:
    dirs = [a for p in sorted((org / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    return ["--ldif", str(org / "org.ldif"), *dirs, "--exchange-po", "EXCH",
            "--mailbox-stats", str(org / "stats.csv")]


def analysis_of(org: Path) -> Rows:
    """A fresh analysis (no row made yet, no codes known)."""
    inputs = AuditInputs(source=ldif_source(org / "org.ldif"),
                         directory=file_directory([str(p) for p in
                                                   sorted((org / "ccmail").glob("*.txt"))]),
                         exchange_pos=["EXCH"],
                         mailbox_stats=org / "stats.csv" if (org / "stats.csv").exists() else None)
    rows = run_audit(inputs).rows
    assert isinstance(rows, Rows)
    return rows


def small_org(tmp_path: Path, people: int) -> Path:
    """An organisation of ``people`` rows (0 or 1) in the generated layout."""
    org = Org(tmp_path / f"small-{people}")
    org.objects = [mailbox("Plain, Paul", "SMTP:pp@corp.example")]
    if people:
        org.objects.append(mailbox("Smith, John", "SMTP:js@corp.example",
                                   "ccmail:Smith, John at PO1"))
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR), "PO1": podir("PO1", entry("Other, Olga", "r",
                                                                              "EXCH"))}
    org.write()
    (org.root / "ccmail").mkdir()
    for po in org.dirs:
        (org.root / f"{po}.txt").rename(org.root / "ccmail" / f"{po}.txt")
    return org.root


@pytest.fixture
def chunks(monkeypatch, tmp_path):
    """The renderers wrapped to note the pid of each range they render
    (a file: the worker's notes must outlive it); returns a reader."""
    notes = tmp_path / "chunk-pids"

    def noted(render):
        def wrapper(rows):
            text = render(rows)
            with open(notes, "a", encoding="ascii") as fh:
                fh.write(f"{os.getpid()}\n")
            return text
        return wrapper

    monkeypatch.setattr(ranges, "_RENDER", {f: noted(r) for f, r in ranges._RENDER.items()})
    monkeypatch.setattr(ranges, "LEAST", 0)

    def pids() -> list[int]:
        found = [int(p) for p in notes.read_text().split()] if notes.exists() else []
        notes.unlink(missing_ok=True)
        return found
    return pids


def write_both(monkeypatch, org: Path, fmt: str) -> tuple[str, list, str, list]:
    """(text, codes) of one process, then of two."""
    monkeypatch.setenv("CCMIG_JOBS", "1")
    one = analysis_of(org)
    out = io.StringIO()
    write_rows(one, fmt, out)
    single, single_codes = out.getvalue(), list(one.codes())
    monkeypatch.delenv("CCMIG_JOBS")
    two = analysis_of(org)
    out = io.StringIO()
    write_rows(two, fmt, out)
    # every row's codes are known now: making a row again would fail
    made = rows_module.recipient_row
    monkeypatch.setattr(rows_module, "recipient_row", None)
    codes = list(two.codes())
    monkeypatch.setattr(rows_module, "recipient_row", made)
    return single, single_codes, out.getvalue(), codes


def expect_worker(pids: list[int], ranges_wanted: int) -> None:
    """Every range rendered once, some by the worker (it is handed the first
    two before the parent computes any)."""
    assert len(pids) == ranges_wanted
    assert {p for p in pids if p != os.getpid()}, "no range was rendered by the worker"


@pytest.mark.parametrize("fmt", FORMATS)
def test_several_ranges_are_the_bytes_and_codes_of_one_process(monkeypatch, generated, chunks,
                                                               fmt):
    total = len(analysis_of(generated))
    assert total > 200
    monkeypatch.setattr(ranges, "SIZE", 23)
    single, single_codes, double, codes = write_both(monkeypatch, generated, fmt)
    assert double == single
    assert codes == single_codes
    assert len(codes) == total and {c for found in codes for c in found} >= {"not-migrated"}
    pids = chunks()
    # the single run rendered nothing by ranges; the double run every range
    expect_worker(pids, -(-total // 23))
    if fmt == "json":
        assert len(json.loads(double)) == total
    elif fmt == "csv":
        assert double.startswith("key,dn,kind,") and double.endswith("\r\n")
    else:
        assert double.count("\n") == total


def test_range_boundaries_at_the_end_and_at_the_cc_mail_user_rows(monkeypatch, generated,
                                                                    chunks):
    """One range, one row more, one row fewer; ranges ending just before, at
    and after the last ``ccmail-user`` row (the rows change kind there)."""
    rows = analysis_of(generated)
    total, head = len(rows), len(rows._head)
    assert 2 < head < total - 2
    for size in (total - 1, total, total + 1, head - 1, head, head + 1):
        monkeypatch.setattr(ranges, "SIZE", size)
        for fmt in ("json", "csv"):
            single, single_codes, double, codes = write_both(monkeypatch, generated, fmt)
            assert double == single, (size, fmt)
            assert codes == single_codes, (size, fmt)
            expect_worker(chunks(), -(-total // size))


@pytest.mark.parametrize("people", [0, 1])
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_rows_and_one_row(monkeypatch, tmp_path, chunks, people, fmt):
    org = small_org(tmp_path, people)
    single, single_codes, double, codes = write_both(monkeypatch, org, fmt)
    assert double == single
    assert codes == single_codes
    assert len(codes) == people
    pids = chunks()
    if people:
        expect_worker(pids, 1)  # the worker takes the first range
    else:
        assert pids == []
        assert single == {"json": "[]\n", "csv": ranges.HEADER}.get(fmt, "")


def test_a_row_that_fails_fails_the_same_way_in_either_process(monkeypatch, generated, chunks,
                                                                tmp_path):
    """A row of the first range (always the worker's) and the last row: the
    same exception either way."""
    rows = analysis_of(generated)
    head, order = len(rows._head), rows._order
    monkeypatch.setattr(ranges, "SIZE", head + 5)
    made = rows_module.recipient_row
    raised_in = tmp_path / "raised-in"
    for failing, by_worker in ((2, True), (len(order) - 1, False)):
        bad = order[failing]

        def failing_row(ctx, i, bad=bad):
            if i == bad:
                raised_in.write_text(str(os.getpid()))
                raise ValueError(f"row {i} cannot be made")
            return made(ctx, i)

        monkeypatch.setattr(rows_module, "recipient_row", failing_row)
        seen = []
        for jobs in ("1", "2"):
            monkeypatch.setenv("CCMIG_JOBS", jobs)
            with pytest.raises(ValueError) as caught:
                write_rows(analysis_of(generated), "json", io.StringIO())
            seen.append((type(caught.value), str(caught.value)))
        assert seen[0] == seen[1] == (ValueError, f"row {bad} cannot be made")
        if by_worker:
            assert int(raised_in.read_text()) != os.getpid()
        chunks()


def test_cli_audit_both_ways(monkeypatch, generated, chunks, tmp_path):
    """``ccmig audit`` end to end: same bytes and exit code with ``--fail-on``."""
    monkeypatch.setattr(ranges, "SIZE", 41)
    args = ["audit", *generated_args(generated)]
    for fmt in ("json", "csv", "jsonl"):
        for fail_on in ("never", "warning", "error"):
            results = []
            for jobs in ("1", "2"):
                monkeypatch.setenv("CCMIG_JOBS", jobs)
                out = tmp_path / f"{jobs}.{fmt}"
                code, stdout, err = ccmig(*args, "--format", fmt, "--fail-on", fail_on,
                                          "-o", str(out))
                results.append((code, stdout, err, out.read_bytes()))
                pids = chunks()
                if jobs == "1":
                    assert pids == []
                else:
                    assert {p for p in pids if p != os.getpid()}
            assert results[0] == results[1], (fmt, fail_on)
            assert results[0][3]
            assert results[0][0] == (0 if fail_on == "never" else 1)
    monkeypatch.delenv("CCMIG_JOBS")
    code, stdout, err = ccmig(*args, "--format", "json", "--fail-on", "never")
    assert code == 0 and stdout.encode() == (tmp_path / "1.json").read_bytes()
    assert chunks()


def test_cli_failing_row_same_error_and_exit_code(monkeypatch, generated, chunks, tmp_path):
    monkeypatch.setattr(ranges, "SIZE", 41)
    made = rows_module.recipient_row

    def failing_row(ctx, i):
        if i == 7:
            raise ValueError("row 7 cannot be made")
        return made(ctx, i)

    monkeypatch.setattr(rows_module, "recipient_row", failing_row)
    seen = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("CCMIG_JOBS", jobs)
        out = tmp_path / f"{jobs}.csv"
        code, _stdout, err = ccmig("audit", *generated_args(generated), "--format", "csv",
                                   "-o", str(out))
        seen.append((code, err, out.exists()))
    assert seen[0] == seen[1]
    assert seen[0][0] != 0 and "row 7 cannot be made" in seen[0][1] and not seen[0][2]


def test_lists_fields_and_tables_are_written_by_one_process(monkeypatch, generated, chunks,
                                                             tmp_path):
    """Filters, ``--record``, ``--fields`` and tables keep the one-process writers."""
    args = ["audit", *generated_args(generated), "--fail-on", "never"]
    for extra in (["--format", "json", "--status", "not-migrated"],
                  ["--format", "csv", "--post-office", "PO1"],
                  ["--format", "json", "--record", str(tmp_path / "runs")],
                  ["--format", "csv", "--fields", "key,status"],
                  ["--format", "table"]):
        code, out, err = ccmig(*args, *extra)
        assert code == 0, err
        assert out
        assert chunks() == [], extra
