"""``proxies audit``'s rows made and rendered range by range on two cores
(``PreparedAudit.map_ranges``, ``render.proxies.write_audit_ranges``): the
same bytes, exit codes and errors as in one process (``CCMIG_JOBS=1``) and as
the rows' own writer, on generated organisations cut at every kind of range
boundary; and the worker really computes ranges."""

from __future__ import annotations

import io
import json
import os
import random
import threading
from pathlib import Path

import pytest

from tests.orgkit import Org, ccmig, contact, entry, group, mail_user, mailbox, podir
from tests.plainrender import plain_csv, plain_json
from toolkit.cli.common import exit_code
from toolkit.exchange.ldif import read_ldif
from toolkit.proxies import PreparedAudit, ProxyInputs, prepare_audit, proxies_audit
from toolkit.proxies import run as proxies_run
from toolkit.proxies.read import LDIF_ATTRIBUTES
from toolkit.render import proxies as render_proxies
from toolkit.render.proxies import AUDIT_COLUMNS, FORMATS, audit_csv_lines, write_audit, write_audit_ranges

PARENT = os.getpid()
SMALL = 5  # objects a range in most tests here: many ranges from small organisations
HOSTILE = ['CCMAIL:Smith, "Jo" [x] at PO1', "CCMAIL:Tab\tName at PO1", "SMTP:two@at@corp.example",
           " smtp:lead@corp.example", "smtp:trail@corp.example ", "MS:=HYPERLINK(1)",
           "MS:O'Brien; $(calc) `n @{x=1}", "X400:c=US;a= ;p=Ünï;s=\U0001f600;"]
RETIRE = ("--retire", "MS", "--retire", "X400", "--retire", "CCMAIL")
PLAIN = {"json": plain_json, "csv": lambda rows: plain_csv(rows, AUDIT_COLUMNS, audit_csv_lines)}


def generated(root: Path, n: int, seed: int = 0) -> Org:
    """``n`` objects of every kind, sorted by name as the audit sorts them;
    every third block of :data:`SMALL` objects (the first among them) is
    clean, so some ranges have no row at all, the first one included."""
    rnd = random.Random(seed * 100_003 + n)
    shared = [f"smtp:shared{k}@corp.example" for k in range(3)]
    objects = []
    for i in range(n):
        cn = f"Person {i:05d}"
        own = f"SMTP:p{i}@corp.example"
        clean = (i // SMALL) % 3 == 0
        if clean:
            proxies = [own]
        else:
            proxies = [own, f"MS:CORP/HQ/P{i}"]
            proxies += rnd.sample(HOSTILE, rnd.choice([0, 0, 1, 2]))
            proxies += rnd.sample(shared, rnd.choice([0, 0, 0, 1]))
            proxies += [f"CCMAIL:Person {i:05d} at PO1"] * rnd.choice([0, 1])
            proxies += [f"x400:c=US;s=P{k};" for k in range(rnd.choice([0, 0, 4]))]
        kind = rnd.choice(["mailbox", "mailbox", "contact", "mail_user", "group"])
        if kind == "mailbox":
            objects.append(mailbox(cn, *proxies))
        elif kind == "contact":
            targets = [None, "SMTP:t@else.example"] + ([] if clean else ["MS:CORP/HQ/T"])
            objects.append(contact(cn, rnd.choice(targets), *proxies))
        elif kind == "mail_user":
            objects.append(mail_user(cn, f"SMTP:p{i}@else.example", *proxies))
        else:
            objects.append(group(cn, *proxies))
    org = Org(root)
    org.objects = objects
    org.dirs = {"PO1": podir("PO1", *(entry(f"Person {i:05d}") for i in range(0, n, 2)))}
    return org


def inputs_of(org: Org) -> ProxyInputs:
    """The CLI's inputs for ``generated`` orgs, as a library caller gives them."""
    from toolkit.ccmail.directory import Directory

    org.write()
    ldif = org.root / "org.ldif"
    return ProxyInputs(source=lambda: read_ldif(ldif, LDIF_ATTRIBUTES),
                       directory=Directory.from_args([str(org.root / "PO1.txt")], "cp1252"),
                       retire=("MS", "X400", "CCMAIL"), max_values=4)


@pytest.fixture
def two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCMIG_JOBS", raising=False)
    if proxies_run.parallel.jobs() != 2:
        pytest.fail(f"a worker cannot be forked here (threads: {threading.active_count()})")


@pytest.fixture
def pids(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A file each range's rendering appends its process id to (the worker,
    forked after this patch, writes there too)."""
    path = tmp_path / "pids"
    path.write_text("")
    plain = render_proxies.audit_part

    def traced(rows, fmt):
        with open(path, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return plain(rows, fmt)

    monkeypatch.setattr(render_proxies, "audit_part", traced)
    return path


def by_process(path: Path) -> tuple[int, int]:
    """(ranges the parent rendered, ranges another process did); emptied."""
    ids = [int(p) for p in path.read_text().split()]
    path.write_text("")
    return ids.count(PARENT), len(ids) - ids.count(PARENT)


def written(audit: PreparedAudit, fmt: str) -> tuple[str, set]:
    out = io.StringIO()
    totals = write_audit_ranges(audit, fmt, out)
    return out.getvalue(), totals.severities


# ------------------------------------------------------------------ library


@pytest.mark.parametrize("n", [0, 1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL, 4 * SMALL + 3, 47])
def test_ranges_give_the_rows_writers_bytes_in_both_processes(
        n, tmp_path, monkeypatch, two, pids):
    monkeypatch.setattr(proxies_run, "RANGE", SMALL)
    inputs = inputs_of(generated(tmp_path / "org", n))
    rows = proxies_audit(inputs)
    assert len(rows) < n or n < SMALL  # clean objects: ranges with no row
    audit = prepare_audit(inputs)
    assert audit.rows() == rows
    for fmt in FORMATS:
        expected = io.StringIO()
        write_audit(rows, fmt, expected)
        by_process(pids)  # the rows' writer renders through audit_part too
        text, severities = written(audit, fmt)  # with the worker
        assert text == expected.getvalue(), fmt
        if fmt in PLAIN:  # and the plain writers' (json.dumps, csv.writer)
            assert text == PLAIN[fmt](rows)
        assert severities == {f.severity for r in rows for f in r.findings}
        parent, worker = by_process(pids)
        assert parent + worker == max(1, -(-n // SMALL))
        if n > SMALL:
            assert worker, f"the worker rendered no range of {parent}"
        else:
            assert worker == 0  # one range: no worker forked for it
        monkeypatch.setenv("CCMIG_JOBS", "1")
        assert written(audit, fmt) == (text, severities)
        assert by_process(pids)[1] == 0  # one process
        monkeypatch.delenv("CCMIG_JOBS")


def test_the_default_range_over_several_ranges(tmp_path, two, pids):
    n = 2 * proxies_run.RANGE + 17
    inputs = inputs_of(generated(tmp_path / "org", n, seed=7))
    rows = proxies_audit(inputs)
    audit = prepare_audit(inputs)
    expected = io.StringIO()
    write_audit(rows, "json", expected)
    by_process(pids)
    assert written(audit, "json")[0] == expected.getvalue()
    parent, worker = by_process(pids)
    assert (parent + worker, worker > 0) == (3, True)


def test_map_ranges_in_order_with_the_worker(tmp_path, monkeypatch, two):
    monkeypatch.setattr(proxies_run, "RANGE", 3)
    audit = prepare_audit(inputs_of(generated(tmp_path / "org", 40)))
    got = list(audit.map_ranges(lambda rows: (os.getpid(), [r.dn for r in rows])))
    assert [dn for _, dns in got for dn in dns] == [r.dn for r in audit.rows()]
    assert {pid for pid, _ in got} - {PARENT}, "no range computed by the worker"


def _failing_at(index: int, tmp_path: Path):
    """A rule that raises at the object ``index`` (sorted order), noting
    which process raised."""
    def rule(ctx, i):
        if i == index:
            (tmp_path / "raised").write_text(str(os.getpid()))
            raise ValueError(f"object {i} is odd: {ctx.objects[i].dn}")
    return rule


@pytest.mark.parametrize("index", [0, 7, 38])
def test_an_exception_in_a_rule_surfaces_alike(index, tmp_path, monkeypatch, two):
    monkeypatch.setattr(proxies_run, "RANGE", SMALL)
    audit = prepare_audit(inputs_of(generated(tmp_path / "org", 40)))
    bad = PreparedAudit(audit.context, (*audit.rules, _failing_at(index, tmp_path)))
    seen = []
    for jobs in ("2", "1"):
        monkeypatch.setenv("CCMIG_JOBS", jobs)
        out = io.StringIO()
        with pytest.raises(ValueError) as err:
            write_audit_ranges(bad, "json", out)
        seen.append((str(err.value), out.getvalue(), int((tmp_path / "raised").read_text())))
    (message, text, raiser), (message1, text1, raiser1) = seen
    assert (message, text) == (message1, text1)
    assert f"object {index} is odd: CN=Person {index:05d}" in message
    assert raiser1 == PARENT
    if index == 0:  # the first range is always the worker's first
        assert raiser != PARENT


# ------------------------------------------------------------------ the CLI


@pytest.mark.parametrize("n", [0, 1, SMALL, 3 * SMALL + 2])
def test_cli_bytes_and_exit_codes_with_and_without_the_worker(
        n, tmp_path, monkeypatch, two, pids):
    monkeypatch.setattr(proxies_run, "RANGE", SMALL)
    args = generated(tmp_path / "org", n, seed=3).write()
    for fmt in FORMATS:
        for fail_on in ("error", "warning", "never"):
            cmd = ["proxies", "audit", *args, *RETIRE, "--max-values", "3", "--format", fmt,
                   "--fail-on", fail_on]
            monkeypatch.delenv("CCMIG_JOBS", raising=False)
            two_processes = ccmig(*cmd)
            parent, worker = by_process(pids)
            assert worker or n <= SMALL
            monkeypatch.setenv("CCMIG_JOBS", "1")
            assert ccmig(*cmd) == two_processes, (fmt, fail_on)
            assert by_process(pids)[1] == 0
            code, out, err = two_processes
            assert err == ""
            assert code == (0 if fail_on == "never" or n <= SMALL else 1)  # first block: clean


def test_cli_exit_code_follows_the_worst_severity(tmp_path, monkeypatch, two):
    """Warnings only (retired-address): ``--fail-on error`` passes, ``warning`` fails."""
    monkeypatch.setattr(proxies_run, "RANGE", 2)
    org = Org(tmp_path / "org")
    org.objects = [mailbox(f"W {i}", f"SMTP:w{i}@corp.example", f"MS:CORP/W{i}")
                   for i in range(9)]
    args = [*org.write(), "--retire", "MS", "--format", "csv"]
    for jobs in ("2", "1"):
        monkeypatch.setenv("CCMIG_JOBS", jobs)
        assert ccmig("proxies", "audit", *args, "--fail-on", "error")[0] == 0
        assert ccmig("proxies", "audit", *args, "--fail-on", "warning")[0] == 1


def test_cli_internal_error_in_a_rule_is_one_line_either_way(tmp_path, monkeypatch, two):
    monkeypatch.setattr(proxies_run, "RANGE", SMALL)
    active = proxies_run.active_rules
    monkeypatch.setattr(proxies_run, "active_rules",
                        lambda settings: (*active(settings), _failing_at(11, tmp_path)))
    args = generated(tmp_path / "org", 30).write()
    output = tmp_path / "out.json"
    results = []
    for jobs in ("2", "1"):
        monkeypatch.setenv("CCMIG_JOBS", jobs)
        results.append(ccmig("proxies", "audit", *args, *RETIRE, "--format", "json",
                             "-o", str(output)))
        assert not output.exists()  # the output file is never left half-written
    assert results[0] == results[1]
    code, out, err = results[0]
    assert code == 3
    assert err.startswith("ccmig: internal error: ValueError: object 11 is odd: CN=Person 00011")
    assert err.count("\n") == 1


def test_exit_code_reads_a_writers_severities():
    from toolkit.render.proxies import AuditTotals

    written = AuditTotals(severities={"warning"})
    assert exit_code(written, "warning") == 1  # type: ignore[arg-type]
    assert exit_code(written, "error") == 0  # type: ignore[arg-type]
    assert exit_code(AuditTotals(), "info") == 0  # type: ignore[arg-type]


# ------------------------------------------------------------------ the read


def test_the_directory_read_in_two_processes_says_and_writes_the_same(tmp_path, monkeypatch,
                                                                      two):
    """``proxies audit --ldif`` with its blocks decoded by the worker too
    (``proxies.read.decoded_parts``): the same bytes, log lines and exit code as
    one process and as ``read_ldif`` (one block); with errors in two blocks,
    or in the last record, the same first error (one line), exit code 2 and
    no output; the worker really decodes blocks."""
    from tests.test_ldif_parallel import _spy, bad_exports, same_every_way
    from toolkit.exchange import ldif

    org = generated(tmp_path / "org", 120)
    org.write()
    bad, last = bad_exports(org.root / "org.ldif", tmp_path)
    pids = _spy(monkeypatch, tmp_path)  # who decoded each block
    monkeypatch.setattr(ldif, "_BLOCK", 4096)
    for export in (org.root / "org.ldif", bad, last):
        alone = same_every_way(monkeypatch, pids, "proxies", "audit", "--ldif", str(export),
                               "-v", *RETIRE, "--format", "json", "--ccmail-dir",
                               str(org.root / "PO1.txt"), "--fail-on", "never")
        if export in (bad, last):
            assert alone[0] == 2 and f"{export}:" in alone[2] and alone[1] == ""
            assert "expected 'attribute: value'" in alone[2] and len(alone[2].splitlines()) == 1
        else:
            assert alone[0] == 0 and len(json.loads(alone[1])) > 50
