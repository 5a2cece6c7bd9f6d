"""``ccmig proxies types|audit|plan`` through remote PowerShell, against the mock
Exchange loaded with the same LDIF: the same rows as from the file; email
address policies read with ``--exchange-uri`` fill ``types.policies`` and block
plan actions a policy would undo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toolkit.mocks.exchange import MockExchange, MockExchangeServer
from toolkit.mocks.exchange.cmdlets import IMPLEMENTATIONS

from tests.orgkit import ccmig
from tests.pxorg import (
    CCMAIL_POLICY,
    HOSTILE,
    PASSWORD,
    dn,
    settings_for,
    start,
    write_org,
    write_policies,
)
from toolkit.exchange.powershell import ExchangeSession
from toolkit.proxies.inventory import policy_types

RETIRE = ["--retire", "MS", "--retire", "CCMAIL", "--ccmail-decommissioned"]


@pytest.fixture
def ldif(tmp_path: Path) -> Path:
    return write_org(tmp_path / "org")


def connect(srv, monkeypatch) -> list[str]:
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    return ["--exchange-uri", srv.uri, "--exchange-auth", "basic", "--exchange-user",
            srv.core.username, "--allow-unencrypted"]


@pytest.fixture
def mock(ldif, monkeypatch):
    srv = start(ldif)
    yield srv, connect(srv, monkeypatch)
    srv.stop()


def run_json(*args: str, code: int = 0):
    got, out, err = ccmig(*args, "--format", "json")
    assert got == code, err
    return json.loads(out)


@pytest.mark.parametrize("command", ["types", "audit"])
def test_powershell_rows_equal_ldif_rows(ldif, mock, command):
    srv, remote = mock
    code = 1 if command == "audit" else 0
    from_file = run_json("proxies", command, "--ldif", str(ldif), *RETIRE, code=code)
    over_ps = run_json("proxies", command, "--source", "powershell", *remote, *RETIRE, code=code)
    if command == "types":  # --exchange-uri also reads the policies: only that column differs
        assert all(r["policies"] is None for r in from_file)
        for row in over_ps:
            row["policies"] = None
    assert over_ps == from_file
    assert srv.core.cmdlets["Get-Recipient"] == 1  # one streamed read, not one per object
    if command == "audit":
        assert {r["dn"] for r in over_ps} >= {dn("Smith, John"), dn("Remote, Rita")}


def test_powershell_plan_equals_ldif_plan_and_picks_each_cmdlet(ldif, mock, tmp_path):
    _, remote = mock
    code, out, err = ccmig("proxies", "plan", "--ldif", str(ldif), *RETIRE, *remote)
    assert code == 0, err
    from_file = json.loads(out)
    code, out, err = ccmig("proxies", "plan", "--source", "powershell", *RETIRE, *remote)
    assert code == 0, err
    over_ps = json.loads(out)
    assert over_ps["actions"] == from_file["actions"]
    cmdlets = {a["dn"]: a["cmdlet"] for a in from_file["actions"]}
    assert cmdlets[dn("Smith, John")] == "Set-Mailbox"
    assert cmdlets[dn("Room, One")] == "Set-Mailbox"
    assert cmdlets[dn("Remote, Rita")] == "Set-RemoteMailbox"
    assert cmdlets[dn("Mail, User")] == "Set-MailUser"
    assert cmdlets[dn("Old, Contact")] == "Set-MailContact"
    assert cmdlets[dn("Sales")] == "Set-DistributionGroup"
    # the default policy generates SMTP only: nothing is blocked, and the plan says it checked
    assert not any(a["blocked"] for a in from_file["actions"])
    assert from_file["inputs"]["policies_checked"] is True
    excluded = {dn(cn) for cn in ("Lee, Ann", "Shared, Box", "Remote, Rita", "Hostile, Harry")}
    for a in from_file["actions"]:
        said = ("the object does not follow email address policies" if a["dn"] in excluded
                else "no enabled email address policy generates these types")
        assert said in a["precondition"], a


def test_policies_column_and_blocked_actions(ldif, tmp_path, monkeypatch):
    policies = write_policies(tmp_path / "p.json", CCMAIL_POLICY,
                              {"name": "Old MS", "priority": 2, "enabled": ["ms:CORP/HQ/%s"],
                               "recipients": [dn("Sales")]})
    srv = start(ldif, policies)
    try:
        remote = connect(srv, monkeypatch)
        types = {r["type"]: r for r in run_json("proxies", "types", "--ldif", str(ldif),
                                                *RETIRE, *remote)}
        assert types["CCMAIL"]["policies"] == ["Legacy cc:Mail"]
        assert types["MS"]["policies"] == ["Old MS"]  # a disabled template generates nothing
        assert types["SMTP"]["policies"] == ["Default Policy", "Legacy cc:Mail"]
        assert types["X400"]["policies"] == []
        code, out, err = ccmig("proxies", "types", "--ldif", str(ldif), *RETIRE, *remote,
                               "--format", "csv")
        assert code == 0 and "Default Policy; Legacy cc:Mail" in out
        code, out, err = ccmig("proxies", "plan", "--ldif", str(ldif), *RETIRE, *remote)
        assert code == 0, err
        actions = {a["dn"]: a for a in json.loads(out)["actions"]}
        smith = actions[dn("Smith, John")]
        assert smith["blocked"] is True
        assert "Legacy cc:Mail" in smith["blocked_reason"]
        assert "Old MS" in smith["blocked_reason"]
        # Lee does not follow policies (msExchPoliciesExcluded): never blocked
        lee = actions[dn("Lee, Ann")]
        assert lee["blocked"] is False and lee["blocked_reason"] is None
        assert "does not follow email address policies" in lee["precondition"]
        # the same over PowerShell (EmailAddressPolicyEnabled)
        code, out, err = ccmig("proxies", "plan", "--source", "powershell", *RETIRE, *remote)
        assert code == 0, err
        assert {a["dn"]: (a["blocked"], a["blocked_reason"])
                for a in json.loads(out)["actions"]} == {
            d: (a["blocked"], a["blocked_reason"]) for d, a in actions.items()}
    finally:
        srv.stop()


def test_without_exchange_uri_policies_are_null_and_unchecked(ldif):
    types = run_json("proxies", "types", "--ldif", str(ldif), *RETIRE)
    assert all(r["policies"] is None for r in types)
    code, out, err = ccmig("proxies", "plan", "--ldif", str(ldif), *RETIRE)
    assert code == 0, err
    plan = json.loads(out)
    assert plan["inputs"]["policies_checked"] is False
    assert all(not a["blocked"] for a in plan["actions"])


def test_source_powershell_refusals(ldif):
    code, _, err = ccmig("proxies", "audit", "--source", "powershell", *RETIRE)
    assert code == 2 and "--source powershell needs --exchange-uri" in err
    code, _, err = ccmig("proxies", "types", "--source", "powershell", "--dialect",
                         "exchange55", "--exchange-uri", "https://ex01/PowerShell",
                         "--exchange-auth", "kerberos")
    assert code == 2 and "AD dialect only" in err
    # inputs are checked before anything connects: exit 2, not 3
    code, _, err = ccmig("proxies", "audit", "--source", "powershell", "--exchange-uri",
                         "https://127.0.0.1:9/PowerShell", "--exchange-auth", "kerberos",
                         "--retire", "SMTP")
    assert code == 2 and "never retired" in err


def test_unreachable_exchange_is_exit_3(ldif):
    code, _, err = ccmig("proxies", "types", "--ldif", str(ldif), "--exchange-uri",
                         "https://127.0.0.1:9/PowerShell", "--exchange-auth", "kerberos",
                         "--timeout", "2")
    assert code == 3, err
    assert "Traceback" not in err


def test_policy_types_reads_types_like_values():
    got = policy_types([("A", ["SMTP:@corp.example", "ccmail:%s at PO1", "no-type"]),
                        ("B", [])])
    assert got == {"A": ("CCMAIL", "SMTP"), "B": ()}


def test_whole_objects_without_select_object_give_the_same_rows(ldif, monkeypatch):
    """An endpoint that does not offer Select-Object sends whole objects: the
    same RecipientTypeDetails, EmailAddressPolicyEnabled and addresses arrive."""
    core = MockExchange.from_files(ldif, password=PASSWORD,
                                   commands=[c for c in IMPLEMENTATIONS if c != "select-object"])
    with MockExchangeServer(core) as srv:
        remote = connect(srv, monkeypatch)
        code, out, err = ccmig("proxies", "plan", "--source", "powershell", *RETIRE, *remote)
        assert code == 0, err
        code, from_file, _ = ccmig("proxies", "plan", "--ldif", str(ldif), *RETIRE, *remote)
    assert json.loads(out)["actions"] == json.loads(from_file)["actions"]


def test_hostile_values_arrive_whole_and_go_whole(ldif, mock):
    srv, remote = mock
    rows = {r["dn"]: r for r in run_json("proxies", "audit", "--source", "powershell",
                                         *remote, *RETIRE, code=1)}
    harry = rows[dn("Hostile, Harry")]
    assert harry["values"] == 1 + len(HOSTILE)
    assert harry["remove"] == [v for v in HOSTILE if v.startswith(("CCMAIL:", "MS:"))]
    with ExchangeSession(settings_for(srv)) as session:
        inv = session.edit_email_addresses("Set-Mailbox", dn("Hostile, Harry"),
                                           remove=harry["remove"])
        assert not inv.errors and not inv.warnings
        (left,) = session.email_addresses([dn("Hostile, Harry")])
    assert left.addresses == ["SMTP:harry@corp.example",
                              *(v for v in HOSTILE if v not in harry["remove"])]
