"""The KB Q253306 lifecycle on the bundled demo organisation, plan formats, waves,
and resuming an apply that was killed."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from toolkit.mocks.ccmail import main as dirsync_main

from tests.orgkit import ccmig

DEMO = Path(__file__).resolve().parent.parent / "mocks" / "demo"


@pytest.fixture
def demo(tmp_path):
    """A private copy of the demo organisation (apply edits its cc:Mail files)."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    dirs = sorted((root / "ccmail").glob("*.txt"))
    args = ["--ldif", str(root / "org.ldif"), "--exchange-po", "EXCH",
            *[a for p in dirs for a in ("--ccmail-dir", str(p))]]
    return root, args, dirs


def rows(args, *extra) -> dict[str, dict]:
    code, out, err = ccmig("audit", *args, *extra, "--format", "json", "--fail-on", "never")
    assert code == 0, err
    return {r["key"]: r for r in json.loads(out)}


def files(dirs) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in dirs}


def test_demo_lifecycle(demo, tmp_path):
    root, args, dirs = demo
    stats = ["--mailbox-stats", str(root / "stats.csv")]
    plan_path = tmp_path / "plan.json"
    assert ccmig("plan", *args, *stats, "-o", str(plan_path))[0] == 0
    plan = json.loads(plan_path.read_text())
    removable = [a for a in plan["actions"] if a["kind"] == "remove-ccmail-entry"]
    auto_ok = {a["mailbox"] for a in removable if not a["blocked"] and not a["manual"]}
    start_files = files(dirs)
    before = rows(args, *stats)

    code, out, _ = ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    applied = [line.split()[0] for line in out.splitlines() if " applied " in line]
    assert applied
    after = rows(args, *stats)
    cleared = {r["dn"] for k, r in after.items() if r["dn"] in auto_ok
               and "stale-ccmail-mailbox" not in [f["code"] for f in r["findings"]]}
    assert cleared, "some mailboxes must be fixed"
    for r in after.values():
        if r["dn"] in cleared:
            assert r["route"] == "undeliverable"
            assert [f["code"] for f in r["findings"]][-1] == "awaiting-dirsync"
    # Nothing else moved: rows that had no removal keep their findings.
    touched = {a["mailbox"] for a in removable}
    for key, r in before.items():
        if r["dn"] not in touched and r["kind"] == "mailbox":
            assert after[key]["findings"] == r["findings"], key
    # Only the applied entries left the files: every other record is still there.
    removed_names = {a["target"]["name"] for a in removable if a["id"] in applied}
    for p in dirs:
        old = start_files[p.name].decode("cp850").split("\r\n\r\n" if b"\r\n" in
                                                         start_files[p.name] else "\n\n")
        new = p.read_bytes().decode("cp850")
        for record in old:
            name = next((line[6:] for line in record.splitlines() if line.startswith("Name: ")),
                        None)
            if name and name not in removed_names:
                assert record.strip() in new, (p.name, name)

    code, out, _ = ccmig("undo", f"{plan_path}.journal", "--yes")
    assert code == 0 and files(dirs) == start_files
    assert rows(args, *stats) == before

    ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry",
          "--journal", str(tmp_path / "second.journal"))
    assert dirsync_main(["dirsync", *[a for p in dirs for a in ("--ccmail-dir", str(p))],
                         "--ldif", str(root / "org.ldif"), "--exchange-po", "EXCH",
                         "--connector-po", "HUBPO"]) == 0
    final = rows(args, *stats)
    for r in final.values():
        if r["dn"] in cleared:
            assert r["route"] == "exchange", r


def test_no_counts_no_removal(demo, tmp_path):
    root, args, dirs = demo
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "-o", str(plan_path))
    start = files(dirs)
    code, out, _ = ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    assert code == 1 and " applied " not in out and "item count" in out
    assert files(dirs) == start


def test_plan_formats(demo):
    root, args, _ = demo
    stats = ["--mailbox-stats", str(root / "stats.csv")]
    code, ps1, _ = ccmig("plan", *args, *stats, "--format", "ps1")
    assert code == 0 and "Set-Mailbox -Identity '" in ps1 and "Remove-MailContact" in ps1
    assert ps1.startswith("\ufeff")  # a BOM: Windows PowerShell 5.1 reads it as UTF-8
    for line in ps1.lstrip("\ufeff").splitlines():
        if line and not line.startswith("#") and "$ErrorActionPreference" not in line:
            assert line.startswith(("Set-Mailbox -Identity '", "Remove-MailContact -Identity '"))
    code, ldif, _ = ccmig("plan", *args, *stats, "--format", "ldif")
    assert "changetype: modify" in ldif and "add: proxyAddresses" in ldif
    code, cc, _ = ccmig("plan", *args, *stats, "--format", "ccmail")
    assert cc.startswith("Post office: ") and "Locn: " in cc
    code, csv_text, _ = ccmig("plan", *args, *stats, "--format", "csv")
    assert csv_text.splitlines()[0].startswith("id,kind,target,reason,precondition,blocked")


def test_waves_limit_and_post_office(demo):
    root, args, _ = demo
    stats = ["--mailbox-stats", str(root / "stats.csv")]
    code, out, _ = ccmig("plan", *args, *stats, "--post-office", "PO1", "--limit", "5")
    plan = json.loads(out)
    mailboxes = {a["mailbox"] or a["target"].get("dn") for a in plan["actions"]
                 if a["kind"] != "run-dirsync"}
    assert 0 < len(mailboxes) <= 5
    all_rows = rows(args, *stats)
    by_dn = {r["dn"]: r for r in all_rows.values() if r["dn"]}
    assert all(by_dn[m]["old_post_office"].casefold() == "po1" for m in mailboxes)


def test_resume_after_kill_reaches_the_uninterrupted_result(demo, tmp_path):
    root, args, dirs = demo
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(root / "stats.csv"), "-o", str(plan_path))
    start = files(dirs)
    ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    reference = files(dirs)
    ccmig("undo", f"{plan_path}.journal", "--yes")
    assert files(dirs) == start
    Path(f"{plan_path}.journal").unlink()
    for delay in (0.6, 0.9, 1.2):
        proc = subprocess.Popen([sys.executable, "-m", "toolkit", "apply", str(plan_path),
                                 "--yes", "--only", "remove-ccmail-entry"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")  # resume
        assert files(dirs) == reference, delay
        ccmig("undo", f"{plan_path}.journal", "--yes")
        assert files(dirs) == start, delay
        Path(f"{plan_path}.journal").unlink()


# --------------------------------------------------------------------------- issue 16


def outcomes(out: str) -> dict[str, str]:
    """id -> status from apply/undo's table output."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\d{4})\s+\S+\s+(\S+)", out, re.M)}


def dirsync(root: Path, dirs) -> None:
    assert dirsync_main(["dirsync", *[a for p in dirs for a in ("--ccmail-dir", str(p))],
                         "--ldif", str(root / "org.ldif"), "--exchange-po", "EXCH",
                         "--connector-po", "HUBPO"]) == 0


def test_demo_copy_is_the_demo_and_refuses_a_used_folder(tmp_path):
    code, out, err = ccmig("demo", "copy", str(tmp_path / "lab"))
    assert code == 0, err
    lab = tmp_path / "lab"
    assert sorted(p.name for p in (lab / "ccmail").iterdir()) == sorted(
        p.name for p in (DEMO / "ccmail").glob("*.txt"))
    for name in ("org.ldif", "stats.csv", "ccmail/PO1.txt"):
        assert (lab / name).read_bytes() == (DEMO / name).read_bytes()
    code, out, err = ccmig("--config", str(lab / "ccmig.toml"), "--profile", "demo", "audit",
                           "--format", "json", "--fail-on", "never")
    assert code == 0, err
    dirs = sorted((DEMO / "ccmail").glob("*.txt"))
    code, bundled, _ = ccmig("audit", "--ldif", str(DEMO / "org.ldif"), "--exchange-po", "EXCH",
                             "--mailbox-stats", str(DEMO / "stats.csv"),
                             *[a for p in dirs for a in ("--ccmail-dir", str(p))],
                             "--format", "json", "--fail-on", "never")
    strip = [{k: v for k, v in r.items() if k != "findings"} for r in json.loads(bundled)]
    assert [{k: v for k, v in r.items() if k != "findings"} for r in json.loads(out)] == strip
    code, _, err = ccmig("demo", "copy", str(lab))  # not empty now
    assert code == 2 and "not an empty directory" in err and str(lab) in err
    assert len(err.strip().splitlines()) == 1


def test_dirsync_waits_for_the_primaries_and_never_sends_the_admin_in_a_circle(demo, tmp_path):
    root, args, dirs = demo
    stats = ["--mailbox-stats", str(root / "stats.csv")]
    code, out, err = ccmig("plan", *args, *stats)
    assert code == 0, err
    plan = json.loads(out)
    adds = {a["mailbox"]: a["id"] for a in plan["actions"] if a["kind"] == "add-primary-address"}
    run = next(a for a in plan["actions"] if a["kind"] == "run-dirsync")
    at_risk = [dn for dn in adds if "Bailey" in dn or "Stewart" in dn]
    assert len(at_risk) == 2 and run["blocked"]
    for dn in at_risk:
        assert f"{adds[dn]} ({dn})" in run["blocked_reason"]
        assert dn not in run["target"]["mailboxes"]
    assert max(adds.values()) < run["id"]  # the primaries come first in the plan's order

    # An admin who runs dirsync anyway: the two lose their entry (route undeliverable) ...
    dirsync(root, dirs)
    after = {r["dn"]: r for r in rows(args, *stats).values() if r["dn"]}
    for dn in at_risk:
        row = after[dn]
        assert row["route"] == "undeliverable"
        codes = {f["code"]: f for f in row["findings"]}
        assert {"missing-primary-address", "awaiting-dirsync"} <= set(codes)
        # ... and are told to add the primary first, not to run dirsync again
        assert codes["awaiting-dirsync"]["action"].startswith("First add the primary")
    plan = json.loads(ccmig("plan", *args, *stats)[1])
    run = next(a for a in plan["actions"] if a["kind"] == "run-dirsync")
    assert not set(at_risk) & set(run["target"]["mailboxes"])
    adds = [a for a in plan["actions"] if a["kind"] == "add-primary-address"
            and a["mailbox"] in at_risk]
    assert len(adds) == 2 and all("before the next dirsync" in a["precondition"] for a in adds)


def test_a_wave_plan_names_only_the_wave(demo):
    root, args, _ = demo
    stats = ["--mailbox-stats", str(root / "stats.csv")]
    po = {r["dn"]: r["old_post_office"] for r in rows(args, *stats).values() if r["dn"]}
    plan = json.loads(ccmig("plan", *args, *stats, "--post-office", "PO1")[1])
    run = next(a for a in plan["actions"] if a["kind"] == "run-dirsync")
    assert run["target"]["mailboxes"]
    named = {dn for a in plan["actions"] for dn in
             [a["mailbox"], a["target"].get("dn"), *a["target"].get("mailboxes", [])] if dn}
    assert {po[dn] for dn in named if dn in po} == {"PO1"}
    assert all(dn in po for dn in named if "OU=Staff" in dn)
    # dirsync is blocked by PO2's mailboxes too, but the wave's plan only counts them
    assert "2 mailbox(es) outside this wave" in run["blocked_reason"]
    assert "OU=PO2" not in json.dumps(run)


def test_apply_dry_run_shows_exactly_what_yes_does(demo, tmp_path):
    """An LDIF source: the Exchange-side actions are skipped by the dry run too."""
    root, args, dirs = demo
    plan_path = tmp_path / "plan.json"
    assert ccmig("plan", *args, "--mailbox-stats", str(root / "stats.csv"),
                 "-o", str(plan_path))[0] == 0
    dry_code, dry, _ = ccmig("apply", str(plan_path))
    yes_code, yes, _ = ccmig("apply", str(plan_path), "--yes")
    assert dry_code == yes_code == 1
    want = {i: {"would-apply": "applied"}.get(s, s) for i, s in outcomes(dry).items()}
    assert want == outcomes(yes)
    assert "applied" in want.values()
    kinds = {a["id"]: a["kind"] for a in json.loads(plan_path.read_text())["actions"]}
    exchange_side = [i for i, k in kinds.items() if k in ("add-primary-address",
                                                         "remove-custom-recipient")]
    for out in (dry, yes):
        for line in out.splitlines():
            if line[:4] in exchange_side and "manual action" not in line:
                assert " skipped " in line and "needs --exchange-uri" in line, line


def planned_and_applied(demo, tmp_path, *plan_args: str) -> tuple[Path, dict[str, bytes]]:
    """Plan (with the item counts) and apply the cc:Mail removals: (plan, files before)."""
    root, args, dirs = demo
    plan_path = tmp_path / "plan.json"
    code, _, err = ccmig("plan", *args, "--mailbox-stats", str(root / "stats.csv"), *plan_args,
                         "-o", str(plan_path))
    assert code == 0, err
    start = files(dirs)
    ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    return plan_path, start


def test_undo_before_dirsync_is_clean_and_its_dry_run_says_so(demo, tmp_path):
    root, _, dirs = demo
    plan_path, start = planned_and_applied(demo, tmp_path)
    journal = f"{plan_path}.journal"
    dry_code, dry, _ = ccmig("undo", journal)
    yes_code, yes, err = ccmig("undo", journal, "--yes")
    assert dry_code == yes_code == 0, err
    assert set(outcomes(dry).values()) == {"would-revert"}
    assert {i: "reverted" for i in outcomes(dry)} == outcomes(yes)
    assert files(dirs) == start
    assert not list(tmp_path.glob("*.lock")) and not list(root.rglob("*.lock"))


def journal_names(journal: Path) -> dict[str, list[dict]]:
    from toolkit.remediation.journal import read_journal

    out: dict[str, list[dict]] = {}
    for e in read_journal(journal).entries:
        out.setdefault(e.change["name"], []).append(e.change)
    return out


def present(change: dict) -> bool:
    """Is the journalled record in its file now?"""
    text = Path(change["file"]).read_bytes().decode("cp850")
    return "".join(change["lines"]).strip() in text.replace("\r\n", "\n")


def test_undo_holds_back_whole_people_when_a_file_changed(demo, tmp_path):
    """A hand edit of one file: what undo can revert it reverts person by person;
    nobody is left half reverted; the dry run says the same first."""
    root = demo[0]
    plan_path, _ = planned_and_applied(demo, tmp_path, "--post-office", "PO1")
    journal = Path(f"{plan_path}.journal")
    people = journal_names(journal)
    assert any(c["file"].endswith("PO4.txt") for cs in people.values() for c in cs)
    assert all(not present(c) for cs in people.values() for c in cs)
    po4 = root / "ccmail" / "PO4.txt"
    edited = po4.read_bytes() + b"\r\nName: Hand, Edit\r\nLocn: L\r\n"
    po4.write_bytes(edited)
    dry_code, dry, dry_err = ccmig("undo", str(journal))
    detail = {o["id"]: o["detail"] for o in json.loads(ccmig("undo", str(journal), "--format",
                                                               "json")[1])}
    yes_code, yes, yes_err = ccmig("undo", str(journal), "--yes")
    assert outcomes(dry) == {i: ("would-revert" if s == "reverted" else s)
                             for i, s in outcomes(yes).items()}
    assert dry_code == yes_code == 1
    assert "held-back" in outcomes(yes).values() and "reverted" in outcomes(yes).values()
    assert any("PO4.txt has changed since apply" in d for d in detail.values())
    assert "undo holds back" in yes_err and "undo holds back" in dry_err
    assert po4.read_bytes() == edited  # never touched
    for name, changes in people.items():
        back = [present(c) for c in changes]
        assert all(back) or not any(back), (name, back)
    assert any(all(present(c) for c in cs) for cs in people.values())


def test_apply_reads_and_chooses_under_its_lock(tmp_path):
    from toolkit.errors import InputError
    from toolkit.remediation.apply import apply_plan
    from toolkit.remediation.journal import exclusive_lock

    journal = tmp_path / "plan.json.journal"
    seen = []

    def current():
        with pytest.raises(InputError, match="holds the lock"), exclusive_lock(journal):
            pass
        seen.append(True)
        return []

    apply_plan({"inputs": {}, "actions": []}, current, yes=True, journal_path=str(journal))
    assert seen == [True]
    assert not Path(f"{journal}.lock").exists()


def test_apply_rewrites_each_file_once(demo, tmp_path, monkeypatch):
    from toolkit.remediation import ccmail_files as cf

    root, args, dirs = demo
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(root / "stats.csv"), "-o", str(plan_path))
    writes: list[str] = []
    real = cf.atomic_write
    monkeypatch.setattr(cf, "atomic_write", lambda path, data: (writes.append(Path(path).name),
                                                                real(path, data)))
    code, out, _ = ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    applied = [line for line in out.splitlines() if " applied " in line]
    assert len(applied) > 2 * len(set(writes))
    assert sorted(writes) == sorted(set(writes))  # one write per file
    journal = journal_names(Path(f"{plan_path}.journal"))
    assert sum(len(v) for v in journal.values()) == len(applied)
