"""plan / apply / undo on cc:Mail export files, and the mock dirsync."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from toolkit.mocks.ccmail import main as dirsync_main

from tests.orgkit import CONNECTOR, Org, ccmig, contact, entry, mailbox, podir


def mig(name: str, po: str = "PO1", nick: str | None = None):
    return mailbox(name, f"CCMAIL:{name} at EXCH", f"ccmail:{name} at {po}",
                   nick=nick or name.split(",")[0].lower())


@pytest.fixture
def site(org: Org, tmp_path: Path):
    """Three stale users, one namesake, one orphan contact; stats confirm two."""
    org.objects = [mig("Smith, John"), mig("Doe, Jane", "PO2"), mig("Roe, Rick"),
                   contact("Old Doe", "CCMAIL:Doe, Jane at PO2")]
    org.dirs = {
        "HUBPO": podir("HUBPO", CONNECTOR, entry("Smith, John", "r", "PO1")),
        "PO1": podir("PO1", entry("Smith, John", messages=10), entry("Roe, Rick", messages=9),
                     entry("Keep, Kim", messages=1)),
        "PO2": podir("PO2", entry("Doe, Jane", messages=5), entry("Roe, Rick", "L")),
    }
    args = org.write()
    (tmp_path / "stats.csv").write_text("identity,item_count\nsmith,10\ndoe,5\nroe,100\n")
    for po in org.dirs:  # CRLF + cp850 in PO1, as DOS Export wrote it
        if po == "PO1":
            p = org.root / "PO1.txt"
            p.write_bytes(p.read_text().replace("\n", "\r\n").encode("cp850"))
    return org, [*args, "--exchange-po", "EXCH"], tmp_path / "stats.csv"


def mailbox_rows(args, stats) -> dict[str, dict]:
    out = ccmig("audit", *args, "--mailbox-stats", str(stats), "--format", "json")[1]
    return {r["ccmail_name"]: r for r in json.loads(out) if r["kind"] != "custom-recipient"}


def snapshot(org: Org) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(org.root.glob("*.txt"))}


def make_plan(args, *extra) -> dict:
    code, out, err = ccmig("plan", *args, *extra, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_plan_without_counts_blocks_every_removal(site):
    org, args, _ = site
    plan = make_plan(args)
    removes = [a for a in plan["actions"] if a["kind"] == "remove-ccmail-entry"]
    assert removes and all(a["blocked"] for a in removes)
    assert all("item count" in a["blocked_reason"] for a in removes)
    assert not any("remove" in a["kind"] and "address" in a["kind"] for a in plan["actions"])


def test_plan_records_the_ca_file_but_never_a_security_override(site, tmp_path, monkeypatch):
    """apply re-reads with the plan's inputs: the CA bundle is needed again, but
    --insecure-skip-verify / --allow-unencrypted must be given again on purpose."""
    org, args, stats = site
    (tmp_path / "ca.pem").write_text("not read for an LDIF source\n")
    monkeypatch.chdir(tmp_path)
    plan = make_plan(args, "--ca-file", "ca.pem", "--insecure-skip-verify", "--allow-unencrypted",
                     "--page-size", "250")
    assert plan["inputs"]["ca_file"] == str(tmp_path / "ca.pem")
    assert plan["inputs"]["page_size"] == 250
    assert not {"insecure_skip_verify", "allow_unencrypted"} & set(plan["inputs"])


def test_plan_shape_reasons_and_safety(site):
    org, args, stats = site
    plan = make_plan(args, "--mailbox-stats", str(stats))
    assert set(plan) == {"inputs", "actions"}
    assert plan["inputs"]["exchange_pos"] == ["EXCH"]
    by = {(a["kind"], a["target"].get("name") or a["target"].get("dn"),
           a["target"].get("post_office")): a for a in plan["actions"]}
    smith_l = by[("remove-ccmail-entry", "Smith, John", "PO1")]
    smith_r = by[("remove-ccmail-entry", "Smith, John", "HUBPO")]  # pointer to PO1: own address
    assert not smith_l["blocked"] and not smith_r["blocked"] and not smith_l["manual"]
    assert smith_l["reason"] == ["stale-ccmail-mailbox"]
    # Roe: entry in PO2 matches by name only -> manual, plus an add-secondary proposal.
    roe_po2 = by[("remove-ccmail-entry", "Roe, Rick", "PO2")]
    assert roe_po2["manual"] and "missing-secondary-address" in roe_po2["reason"]
    assert any(a["kind"] == "add-secondary-address" and a["target"]["address"] ==
               "ccmail:Roe, Rick at PO2" for a in plan["actions"])
    assert by[("remove-custom-recipient", "CN=Old Doe,OU=Staff,DC=corp,DC=example", None)]
    assert plan["actions"][-1]["kind"] == "run-dirsync"
    assert [a["id"] for a in plan["actions"]] == sorted(a["id"] for a in plan["actions"])


def test_unconfirmed_count_blocks(site, tmp_path):
    org, args, _ = site
    low = tmp_path / "low.csv"
    low.write_text("identity,item_count\nsmith,3\n")
    plan = make_plan(args, "--mailbox-stats", str(low))
    smith = [a for a in plan["actions"] if a["kind"] == "remove-ccmail-entry"
             and a["target"]["name"] == "Smith, John"]
    assert smith and all(a["blocked"] and "3 items" in a["blocked_reason"] for a in smith)
    assumed = make_plan(args, "--assume-migrated")
    assert not any(a["blocked"] for a in assumed["actions"]
                   if a["kind"] == "remove-ccmail-entry" and a["target"]["name"] == "Smith, John")


def test_apply_dry_run_changes_nothing(site, tmp_path):
    org, args, stats = site
    plan_path = tmp_path / "plan.json"
    assert ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan_path))[0] == 0
    before = snapshot(org)
    code, out, _ = ccmig("apply", str(plan_path))
    assert "would-apply" in out and code == 1  # manual/Exchange-side actions are skipped
    assert snapshot(org) == before
    assert not Path(f"{plan_path}.journal").exists()


def test_kb_lifecycle_apply_audit_undo_apply_dirsync(site, tmp_path):
    org, args, stats = site
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan_path))
    start = snapshot(org)
    code, out, err = ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    assert code == 1  # Roe's removal is manual and drags its name group along
    assert out.count(" applied ") == 3, out  # Smith x2, Doe x1
    rows = mailbox_rows(args, stats)
    assert rows["Smith, John"]["status"] == "awaiting-dirsync"
    assert rows["Doe, Jane"]["status"] == "orphan-custom-recipient"
    assert rows["Roe, Rick"]["status"] == "stale-ccmail-mailbox"
    assert rows["Keep, Kim"]["status"] == "not-migrated"
    after_apply = snapshot(org)
    assert after_apply["PO1.txt"].count(b"\r\n") > 0 and b"Keep, Kim" in after_apply["PO1.txt"]

    code, out, _ = ccmig("undo", f"{plan_path}.journal", "--yes")
    assert code == 0 and out.count(" reverted ") == 3
    assert snapshot(org) == start  # byte for byte

    ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    dirs = [arg for p in sorted(org.root.glob("*.txt")) for arg in ("--ccmail-dir", str(p))]
    assert dirsync_main(["dirsync", *dirs,
                         "--ldif", str(org.root / "org.ldif"), "--exchange-po", "EXCH",
                         "--connector-po", "HUBPO"]) == 0
    rows = mailbox_rows(args, stats)
    assert rows["Smith, John"]["route"] == "exchange" and rows["Smith, John"]["status"] == "complete"
    assert rows["Doe, Jane"]["route"] == "exchange"


def test_manual_needs_confirm_and_group_goes_together(site, tmp_path):
    org, args, stats = site
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan_path))
    plan = json.loads(plan_path.read_text())
    roe = [a for a in plan["actions"] if a["kind"] == "remove-ccmail-entry"
           and a["target"]["name"] == "Roe, Rick"]
    manual = [a["id"] for a in roe if a["manual"]]
    code, out, _ = ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry",
                         "--confirm", *manual)
    assert all(f"{a['id']}  remove-ccmail-entry      applied" in out for a in roe), out
    assert b"Roe, Rick" not in b"".join(snapshot(org).values())
    code, _, err = ccmig("apply", str(plan_path), "--confirm", "9999")
    assert code == 2 and "9999" in err


def test_apply_skips_when_state_moved(site, tmp_path):
    org, args, stats = site
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan_path))
    (tmp_path / "stats.csv").write_text("identity,item_count\nsmith,1\ndoe,5\nroe,100\n")
    code, out, _ = ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    assert "blocked" in out and "Smith" in out and code == 1
    assert b"Smith, John" in snapshot(org)["PO1.txt"]


def test_lock_keeps_two_applies_apart(site, tmp_path):
    from toolkit.remediation.journal import exclusive_lock

    org, args, stats = site
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan_path))
    with exclusive_lock(f"{plan_path}.journal"):
        code, _, err = subprocess_apply(plan_path)
    assert code == 2 and "lock" in err


def subprocess_apply(plan_path: Path, env: dict | None = None):
    proc = subprocess.run([sys.executable, "-m", "toolkit", "apply", str(plan_path), "--yes",
                           "--only", "remove-ccmail-entry"], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_kill_9_mid_apply_then_undo_restores(site, tmp_path):
    """kill -9 at several points: undo always gets back to the start, byte for byte."""
    org, args, stats = site
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan_path))
    start = snapshot(org)
    for delay in (0.05, 0.2, 0.35, 0.5, 0.8):
        proc = subprocess.Popen([sys.executable, "-m", "toolkit", "apply", str(plan_path),
                                 "--yes", "--only", "remove-ccmail-entry"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        journal = Path(f"{plan_path}.journal")
        if journal.exists():
            code, out, err = ccmig("undo", str(journal), "--yes")
            assert code == 0, (delay, out, err)
            journal.unlink()
        assert snapshot(org) == start, delay
        assert not list(org.root.glob(".*ccmig-tmp"))


def test_add_primary_is_not_blocked_by_the_mailboxs_own_old_primary(org: Org):
    """An upper-case CCMAIL: at an old PO is the mailbox's primary (and old
    address): the add-primary-address proposal must not name the mailbox itself
    as the conflict. Another object's primary with the name still blocks it."""
    org.objects = [mailbox("Cooper, Grover", "CCMAIL:Cooper, Grover at PO1"),
                   mailbox("Ames, Ann", "CCMAIL:Ames, Ann at PO1"),
                   mailbox("Ames, Ann (2)", "CCMAIL:Ames, Ann at EXCH", nick="ames2")]
    org.dirs = {"PO1": podir("PO1", entry("Keep, Kim"))}
    args = [*org.write(), "--exchange-po", "EXCH"]
    plan = make_plan(args)
    adds = {a["target"]["dn"]: a for a in plan["actions"] if a["kind"] == "add-primary-address"}
    cooper = next(a for dn, a in adds.items() if "Cooper" in dn)
    assert cooper["target"]["address"] == "CCMAIL:Cooper, Grover at EXCH"
    assert not cooper["blocked"], cooper["blocked_reason"]
    ames = next(a for dn, a in adds.items() if "Ames, Ann," in dn.replace("\\", ""))
    assert ames["blocked"] and "Ann (2),OU=" in ames["blocked_reason"]
    assert "Ann,OU=" not in ames["blocked_reason"]


def test_undo_without_exchange_holds_back_the_whole_person(site, tmp_path):
    """A person's Exchange-side change cannot be reverted without --exchange-uri:
    their cc:Mail removals stay too (never half reverted); others are reverted."""
    from toolkit.remediation.journal import Journal, read_journal

    org, args, stats = site
    plan_path = tmp_path / "plan.json"
    ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan_path))
    start = snapshot(org)
    ccmig("apply", str(plan_path), "--yes", "--only", "remove-ccmail-entry")
    journal_path = Path(f"{plan_path}.journal")
    smith = next(e.change["mailbox"] for e in read_journal(journal_path).entries
                 if e.change["name"] == "Smith, John")
    with Journal(journal_path) as journal:  # as apply journals an add-address it made
        entry = journal.intent("0001", "add-secondary-address", {
            "type": "add-address", "dn": smith, "address": "ccmail:Smith, John at PO9",
            "before": [], "mailbox": smith})
        journal.mark(entry, "done")
    dry_code, dry, dry_err = ccmig("undo", str(journal_path), "--format", "json")
    code, out, err = ccmig("undo", str(journal_path), "--yes", "--format", "json")
    assert dry_code == code == 1
    status = {(o["id"], o["status"]) for o in json.loads(out)}
    assert {(i, {"would-revert": "reverted"}.get(s, s))
            for i, s in {(o["id"], o["status"]) for o in json.loads(dry)}} == status
    held = [o for o in json.loads(out) if o["status"] == "held-back"]
    assert len(held) == 3 and any("needs --exchange-uri" in o["detail"] for o in held)
    assert "--exchange-uri" in err
    after = snapshot(org)
    assert after["PO2.txt"] == start["PO2.txt"]  # Doe reverted
    assert b"Smith, John" not in after["PO1.txt"]  # Smith held back, in PO1 and HUBPO
    assert after["HUBPO.txt"].count(b"Smith, John") == 0
