"""``ccmig apply`` / ``ccmig undo`` of a proxy plan through remote PowerShell,
against the mock Exchange: plan -> dry run -> apply -> audit -> undo gives
every object its values back; re-stamping policies are reported; only throttled
writes are sent again, after the wait Exchange names; hostile values go whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toolkit.mocks.exchange import MockExchangeServer

from tests.orgkit import ccmig
from tests.pxkill import as_same, kill_loop
from tests.pxorg import CCMAIL_POLICY, HOSTILE, PASSWORD, dn, settings_for, start, write_org
from tests.pxorg import write_policies as policies_file
from toolkit.exchange.powershell import ExchangeSession
from toolkit.proxies import apply as pxapply

RETIRE = ["--retire", "MS", "--retire", "CCMAIL", "--ccmail-decommissioned"]


def remote(srv: MockExchangeServer, monkeypatch) -> list[str]:
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    return ["--exchange-uri", srv.uri, "--exchange-auth", "basic", "--exchange-user",
            srv.core.username, "--allow-unencrypted"]


def addresses(srv: MockExchangeServer) -> dict[str, list[str]]:
    """Every recipient's EmailAddresses as Exchange holds them now."""
    with ExchangeSession(settings_for(srv)) as s:
        return {e.dn: list(e.get("proxyaddresses")) for e in s.iter_recipients()}


def make_plan(tmp_path: Path, ldif: Path, conn: list[str], *extra: str) -> Path:
    plan = tmp_path / "plan.json"
    code, out, err = ccmig("proxies", "plan", "--ldif", str(ldif), *RETIRE, *conn, *extra,
                           "-o", str(plan))
    assert code == 0, err
    return plan


def outcomes(*args: str, code: int = 0) -> dict[str, dict]:
    got, out, err = ccmig(*args, "--format", "json")
    assert got == code, (out, err)
    return {o["id"]: o for o in json.loads(out)}


@pytest.fixture
def org(tmp_path: Path, monkeypatch):
    ldif = write_org(tmp_path / "org")
    srv = start(ldif)
    yield srv, ldif, remote(srv, monkeypatch)
    srv.stop()


def test_lifecycle_plan_dry_run_apply_audit_undo(org, tmp_path):
    srv, ldif, conn = org
    before = addresses(srv)
    plan = make_plan(tmp_path, ldif, conn)
    actions = {a["id"]: a for a in json.loads(plan.read_text())["actions"]}
    dry = outcomes("apply", str(plan), *conn)
    assert {o["status"] for o in dry.values()} == {"would-apply"}
    assert set(dry) == set(actions)
    assert addresses(srv) == before  # a dry run changes nothing
    assert not Path(f"{plan}.journal").exists()
    writes = srv.core.cmdlets.copy()
    done = outcomes("apply", str(plan), *conn, "--yes", "--only", "remove-proxy-addresses")
    assert {o["status"] for o in done.values()} == {"applied"}
    after = addresses(srv)
    for a in actions.values():
        assert not set(a["values"]) & set(after[a["dn"]]), a
        assert [v for v in before[a["dn"]] if v not in a["values"]] == after[a["dn"]]
    used = {k: v - writes.get(k, 0) for k, v in srv.core.cmdlets.items() if k.startswith("Set-")}
    assert used == {c: sum(1 for a in actions.values() if a["cmdlet"] == c)
                    for c in {a["cmdlet"] for a in actions.values()}}  # one call per object
    # the audit finds no retired-address any more
    code, out, err = ccmig("proxies", "audit", "--source", "powershell", *conn, *RETIRE,
                           "--format", "json", "--fail-on", "never")
    assert code == 0, err
    assert not any(f["code"] == "retired-address" for r in json.loads(out)
                   for f in r["findings"])
    # applying again: everything already done
    again = outcomes("apply", str(plan), *conn, "--yes")
    assert {o["status"] for o in again.values()} == {"already-done"}
    # undo: dry run first, then every object's values as before (as the same)
    dry_undo = outcomes("undo", f"{plan}.journal", *conn)
    assert {o["status"] for o in dry_undo.values()} == {"would-revert"}
    assert addresses(srv) == after
    outcomes("undo", f"{plan}.journal", *conn, "--yes")
    # as *the same*: Exchange keeps one primary per type, so of two CCMAIL: primaries
    # added back together one comes back as a secondary (ccmail:), the address whole
    assert as_same(addresses(srv)) == as_same(before)




def test_hostile_values_are_removed_whole(org, tmp_path):
    srv, ldif, conn = org
    plan = make_plan(tmp_path, ldif, conn)
    harry = next(a for a in json.loads(plan.read_text())["actions"]
                 if a["dn"] == dn("Hostile, Harry"))
    hostile_retired = [v for v in HOSTILE if v.split(":")[0].upper() in ("MS", "CCMAIL")]
    assert set(hostile_retired) <= set(harry["values"])
    outcomes("apply", str(plan), *conn, "--yes")
    left = addresses(srv)[dn("Hostile, Harry")]
    assert not set(hostile_retired) & set(left)
    kept = [v for v in HOSTILE if v not in hostile_retired]
    assert [v for v in left if v in kept] == kept  # never rewritten, still whole
    outcomes("undo", f"{plan}.journal", *conn, "--yes")
    harry_now = addresses(srv)[dn("Hostile, Harry")]
    assert as_same({"h": harry_now}) == as_same({"h": ["SMTP:harry@corp.example", *HOSTILE]})
    assert {v.casefold() for v in harry_now} == {v.casefold() for v in
                                                  ["SMTP:harry@corp.example", *HOSTILE]}


def test_a_policy_that_stamps_a_value_back_is_reported(tmp_path, monkeypatch):
    ldif = write_org(tmp_path / "org")
    srv = start(ldif, policies_file(tmp_path / "p.json", CCMAIL_POLICY))
    try:
        conn = remote(srv, monkeypatch)
        plan = make_plan(tmp_path, ldif, conn)
        data = json.loads(plan.read_text())
        smith = next(a for a in data["actions"] if a["dn"] == dn("Smith, John"))
        assert smith["blocked"]  # the plan knew; unblock it as an admin who edits the file would
        smith["blocked"], smith["blocked_reason"] = False, None
        plan.write_text(json.dumps(data))
        done = outcomes("apply", str(plan), *conn, "--yes")
        assert "reappeared" in done[smith["id"]]["detail"]
        assert "CCMAIL:Smith, John at EXCH" in done[smith["id"]]["detail"]
        records = [json.loads(line) for line in Path(f"{plan}.journal").read_text().splitlines()]
        after = [r for r in records if r["type"] == "done" and r.get("reappeared")]
        assert after and "CCMAIL:Smith, John at EXCH" in after[0]["after"]
    finally:
        srv.stop()


def test_blocked_actions_are_never_written(tmp_path, monkeypatch):
    ldif = write_org(tmp_path / "org")
    srv = start(ldif, policies_file(tmp_path / "p.json", CCMAIL_POLICY))
    try:
        conn = remote(srv, monkeypatch)
        before = addresses(srv)
        plan = make_plan(tmp_path, ldif, conn)
        got = outcomes("apply", str(plan), *conn, "--yes", code=1)
        smith = next(o for o in got.values() if dn("Smith, John") in o["detail"])
        assert smith["status"] == "blocked"
        assert addresses(srv)[dn("Smith, John")] == before[dn("Smith, John")]
    finally:
        srv.stop()


@pytest.mark.parametrize("kind", ["throttle-winrm", "throttle-cmdlet"])
def test_throttled_writes_are_sent_again_after_the_named_wait(org, tmp_path, monkeypatch, kind):
    srv, ldif, conn = org
    waits: list[float] = []
    monkeypatch.setattr(pxapply, "_sleep", waits.append)
    plan = make_plan(tmp_path, ldif, conn)
    fault = srv.core.inject(kind, "Command", cmdlet="Set-MailUser", wait_ms=1500, count=2)
    done = outcomes("apply", str(plan), *conn, "--yes")
    assert {o["status"] for o in done.values()} == {"applied"}
    assert len(fault.hits) == 2
    assert waits == [1.5, 1.5]
    assert not set(addresses(srv)[dn("Mail, User")]) & {"MS:CORP/HQ/MU"}


def test_throttling_gives_up_after_write_retries(org, tmp_path, monkeypatch):
    srv, ldif, conn = org
    waits: list[float] = []
    monkeypatch.setattr(pxapply, "_sleep", waits.append)
    plan = make_plan(tmp_path, ldif, conn)
    srv.core.inject("throttle-cmdlet", "Command", cmdlet="Set-MailUser", wait_ms=100, count=5)
    done = outcomes("apply", str(plan), *conn, "--yes", "--write-retries", "1", code=1)
    mu = next(o for o in done.values() if dn("Mail, User") in o["detail"])
    assert mu["status"] == "failed" and "--write-retries 1" in mu["detail"]
    assert waits == [0.1]
    assert "MS:CORP/HQ/MU" in addresses(srv)[dn("Mail, User")]
    assert {o["status"] for o in done.values() if o is not mu} == {"applied"}


def test_undo_sends_throttled_add_backs_again_up_to_write_retries(org, tmp_path, monkeypatch):
    """undo takes apply's --write-retries: a throttled add-back (not run) is sent
    again after the named wait, and given up after N retries, saying so."""
    srv, ldif, conn = org
    before = addresses(srv)
    plan = make_plan(tmp_path, ldif, conn)
    outcomes("apply", str(plan), *conn, "--yes")
    waits: list[float] = []
    monkeypatch.setattr(pxapply, "_sleep", waits.append)
    fault = srv.core.inject("throttle-cmdlet", "Command", cmdlet="Set-MailUser", wait_ms=700,
                            count=5)
    got = outcomes("undo", f"{plan}.journal", *conn, "--yes", "--write-retries", "2", code=1)
    mu = next(o for o in got.values() if dn("Mail, User") in o["detail"])
    assert mu["status"] == "failed" and "--write-retries 2" in mu["detail"], mu
    assert len(fault.hits) == 3 and waits == [0.7, 0.7]
    assert {o["status"] for o in got.values() if o is not mu} == {"reverted"}
    assert addresses(srv)[dn("Mail, User")] != before[dn("Mail, User")]
    # the default (3) outlasts the two refusals left: everything back as it was
    waits.clear()
    got = outcomes("undo", f"{plan}.journal", *conn, "--yes")
    assert len(fault.hits) == 5 and waits == [0.7, 0.7]
    assert as_same(addresses(srv)) == as_same(before)


def test_undo_spreads_writes_with_max_writes_per_minute(org, tmp_path, monkeypatch):
    srv, ldif, conn = org
    before = addresses(srv)
    plan = make_plan(tmp_path, ldif, conn)
    applied = outcomes("apply", str(plan), *conn, "--yes")
    waits: list[float] = []
    monkeypatch.setattr(pxapply, "_sleep", waits.append)
    got = outcomes("undo", f"{plan}.journal", *conn, "--yes", "--max-writes-per-minute", "20")
    assert {o["status"] for o in got.values()} == {"reverted"}
    # one wait before every write but the first, each up to 60/20 = 3 s after the last
    assert len(waits) == len(applied) - 1 and all(0 < w <= 3.0 for w in waits), waits
    assert as_same(addresses(srv)) == as_same(before)
    outcomes("apply", str(plan), *conn, "--yes")
    waits.clear()
    outcomes("undo", f"{plan}.journal", *conn, "--yes")
    assert waits == []  # no spacing unless asked


@pytest.mark.parametrize("option", [("--write-retries", "-1"), ("--write-retries", "101"),
                                    ("--max-writes-per-minute", "0"),
                                    ("--max-writes-per-minute", "x")])
def test_undo_pacing_options_are_validated_as_applys(tmp_path, option):
    journal = tmp_path / "j.journal"
    journal.write_text("", encoding="utf-8")
    for command in (("apply", str(journal)), ("undo", str(journal))):
        code, _, err = ccmig(*command, *option)
        assert code == 2 and option[0] in err and "Traceback" not in err, (command, err)


def test_other_failed_writes_are_never_sent_again(org, tmp_path):
    srv, ldif, conn = org
    plan = make_plan(tmp_path, ldif, conn)
    fault = srv.core.inject("http-500", "Command", cmdlet="Set-MailUser")
    code, out, err = ccmig("apply", str(plan), *conn, "--yes")
    assert code == 3, (out, err)
    assert "outcome unknown" in err and "Traceback" not in err
    assert len(fault.hits) == 1  # sent once
    # the next run settles it from the current state and goes on
    done = outcomes("apply", str(plan), *conn, "--yes")
    mu = next(o for o in done.values() if dn("Mail, User") in o["detail"])
    assert mu["status"] == "applied"  # the lost write had not been made: made now, once
    assert {o["status"] for o in done.values()} == {"applied", "already-done"}
    assert len(fault.hits) == 1
    assert "MS:CORP/HQ/MU" not in addresses(srv)[dn("Mail, User")]


def test_state_moved_skips_and_ldif_cannot_be_written(org, tmp_path):
    srv, ldif, conn = org
    plan = make_plan(tmp_path, ldif, conn)
    with ExchangeSession(settings_for(srv)) as s:
        s.edit_email_addresses("Set-DistributionGroup", dn("Sales"), remove=["MS:CORP/HQ/SALES"])
    got = outcomes("apply", str(plan), *conn, "--yes", code=1)
    sales = next(o for o in got.values() if dn("Sales") in o["detail"])
    assert sales["status"] == "skipped" and "no longer on the object" in sales["detail"]
    code, out, err = ccmig("apply", str(plan), "--ldif", str(ldif), "--exchange-uri", "")
    assert code == 2 and "plan --format ldif" in err, err


def test_pacing_spreads_writes_and_waits_30s_when_none_is_named():
    clock = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    pacing = pxapply.Pacing(per_minute=30, sleep=sleep, clock=lambda: clock[0])
    pacing.before_write()
    clock[0] += 0.5
    pacing.before_write()
    assert slept == [1.5]  # 2 s apart at 30 a minute
    pacing.wait(pxapply.DEFAULT_THROTTLE_WAIT)
    assert slept[-1] == 30.0


def test_apply_reads_the_plans_exports_again(org, tmp_path):
    """A name cc:Mail takes up again after the plan keeps its value: skipped."""
    from tests.orgkit import entry, podir

    srv, ldif, conn = org
    po = tmp_path / "EXCH.txt"
    po.write_text(podir("EXCH", entry("Someone, Else", "L")), encoding="utf-8")
    plan = tmp_path / "plan.json"
    code, _, err = ccmig("proxies", "plan", "--ldif", str(ldif), "--retire", "CCMAIL",
                         "--ccmail-dir", f"EXCH={po}", *conn, "-o", str(plan))
    assert code == 0, err
    smith = next(a for a in json.loads(plan.read_text())["actions"]
                 if a["dn"] == dn("Smith, John"))
    assert "CCMAIL:Smith, John at EXCH" in smith["values"]
    po.write_text(podir("EXCH", entry("Someone, Else", "L"), entry("Smith, John", "L")),
                  encoding="utf-8")
    got = outcomes("apply", str(plan), *conn, code=1)
    assert got[smith["id"]]["status"] == "skipped"
    assert "retired-in-use" in got[smith["id"]]["detail"]


def test_docs_apply_and_undo_examples_run_as_shown(org, tmp_path, monkeypatch):
    """docs/proxies.md's apply/undo commands over remote PowerShell, in the
    order shown, with its example endpoint pointed at the mock Exchange."""
    import shlex

    srv, ldif, conn = org
    before = addresses(srv)
    make_plan(tmp_path, ldif, conn)
    monkeypatch.chdir(tmp_path)
    text = (Path(__file__).parent.parent / "docs" / "proxies.md").read_text(encoding="utf-8")
    section = text.split("### Apply: `ccmig apply PLAN`")[1].split("## The runbook")[0]
    blocks = [b.split("```")[0] for b in section.split("```sh\n")[1:]]
    lines = [shlex.split(line) for b in blocks for line in b.replace("\\\n", " ").splitlines()]
    shown = "https://ex01.corp.example/PowerShell"
    ran = []
    for argv in lines:
        assert argv[0] == "ccmig"
        if shown not in argv:
            continue  # the LDAP example: tests/test_proxies_apply_ldap.py
        argv = [a for a in argv if a != shown]
        argv[argv.index("--exchange-uri"):argv.index("--exchange-uri") + 1] = conn
        code, out, err = ccmig(*argv[1:])
        assert code == 0, (argv, err)
        ran.append(argv[1])
    assert ran == ["apply", "apply", "undo", "undo", "undo"]  # the last one paced
    assert as_same(addresses(srv)) == as_same(before)


def test_kill_9_during_apply_then_resume_or_undo(org, tmp_path):
    srv, ldif, conn = org
    plan = make_plan(tmp_path, ldif, conn)
    wanted = {a["dn"]: a["values"] for a in json.loads(plan.read_text())["actions"]}
    kill_loop(plan, wanted, lambda: addresses(srv), ["--allow-unencrypted"], runs=4,
              per_minute=240)


def test_no_cmdlet_or_not_returned_by_get_recipient_is_skipped_saying_so(org, tmp_path):
    srv, ldif, conn = org
    before = addresses(srv)
    plan = make_plan(tmp_path, ldif, conn)
    data = json.loads(plan.read_text())
    first, second = data["actions"][:2]
    first["cmdlet"] = None
    second["dn"] = "CN=Nobody,OU=Staff,DC=corp,DC=example"
    plan.write_text(json.dumps(data))
    got = outcomes("apply", str(plan), *conn, "--yes", code=1)
    assert got[first["id"]]["status"] == "skipped" and "no cmdlet" in got[first["id"]]["detail"]
    assert got[second["id"]]["status"] == "skipped" and "not found" in got[second["id"]]["detail"]
    after = addresses(srv)
    assert after[first["dn"]] == before[first["dn"]]
