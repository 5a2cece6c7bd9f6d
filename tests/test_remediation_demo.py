"""The KB Q253306 lifecycle on the bundled demo organisation, plan formats, waves,
and resuming an apply that was killed."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mocks.ccmail import main as dirsync_main
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
