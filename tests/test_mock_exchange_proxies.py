"""The mock Exchange grown for proxy hygiene, seen through the real pypsrp client
and the toolkit's write primitive: RecipientTypeDetails and
EmailAddressPolicyEnabled on every recipient, one Set-* cmdlet per recipient
type, Exchange's answers to a value that is not there and to the wrong
cmdlet, email address policies and re-stamping, throttling refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from toolkit.mocks.exchange.policies import load_policies

from tests.pxorg import CCMAIL_POLICY, dn, settings_for, start, write_org, write_policies
from toolkit.errors import InputError
from toolkit.exchange import psobjects as pso
from toolkit.exchange.powershell import (
    PROXY_CMDLETS,
    CommandFailed,
    ExchangeSession,
    OutcomeUnknown,
    Throttled,
)
from toolkit.exchange.psfailures import is_throttling, throttle_wait

ROOT = Path(__file__).resolve().parent.parent
SMITH, LEE = dn("Smith, John"), dn("Lee, Ann")


@pytest.fixture
def ldif(tmp_path: Path) -> Path:
    return write_org(tmp_path / "org")


@pytest.fixture
def server(ldif):
    srv = start(ldif)
    yield srv
    srv.stop()


@pytest.fixture
def session(server):
    with ExchangeSession(settings_for(server)) as s:
        yield s


def recipient(session: ExchangeSession, identity: str) -> dict:
    inv = session.run("Get-Recipient", {"Identity": identity})
    assert not inv.errors, inv.errors
    obj = inv.output[0]
    return {"details": pso.text(pso.prop(obj, "RecipientTypeDetails")),
            "type": pso.text(pso.prop(obj, "RecipientType")),
            "policy": pso.prop(obj, "EmailAddressPolicyEnabled"),
            "addresses": pso.addresses(pso.prop(obj, "EmailAddresses"))}


TYPES = {
    "Smith, John": ("UserMailbox", "UserMailbox", True, "Set-Mailbox"),
    "Lee, Ann": ("UserMailbox", "UserMailbox", False, "Set-Mailbox"),
    "Room, One": ("RoomMailbox", "UserMailbox", True, "Set-Mailbox"),
    "Shared, Box": ("SharedMailbox", "UserMailbox", False, "Set-Mailbox"),
    "Remote, Rita": ("RemoteUserMailbox", "MailUser", False, "Set-RemoteMailbox"),
    "Mail, User": ("MailUser", "MailUser", True, "Set-MailUser"),
    "Old, Contact": ("MailContact", "MailContact", True, "Set-MailContact"),
    "Sales": ("MailUniversalDistributionGroup", "MailUniversalDistributionGroup", True,
              "Set-DistributionGroup"),
    "Dyn Staff": ("DynamicDistributionGroup", "DynamicDistributionGroup", True,
                  "Set-DynamicDistributionGroup"),
    "Folder, Public": ("PublicFolder", "PublicFolder", True, "Set-MailPublicFolder"),
}


def test_every_recipient_carries_type_details_and_policy_flag_from_the_ldif(session):
    for cn, (details, kind, policy, _) in TYPES.items():
        got = recipient(session, dn(cn))
        assert (got["details"], got["type"], got["policy"]) == (details, kind, policy), cn


@pytest.mark.parametrize("cn", sorted(TYPES))
def test_each_set_cmdlet_edits_its_own_type_and_later_reads_see_it(session, cn):
    cmdlet = TYPES[cn][3]
    ms = next(v for v in recipient(session, dn(cn))["addresses"] if v.startswith("MS:"))
    inv = session.edit_email_addresses(cmdlet, dn(cn), remove=[ms.lower()])  # any case
    assert not inv.errors and not inv.warnings
    assert ms not in recipient(session, dn(cn))["addresses"]
    session.edit_email_addresses(cmdlet, dn(cn), add=[ms])
    assert recipient(session, dn(cn))["addresses"][-1] == ms
    # every other cmdlet: Exchange's own not-found, nothing changes
    before = recipient(session, dn(cn))["addresses"]
    for other in PROXY_CMDLETS:
        if other != cmdlet:
            inv = session.edit_email_addresses(other, dn(cn), remove=[ms])
            assert len(inv.errors) == 1, other
            assert (f"The operation couldn't be performed because object '{dn(cn)}' couldn't "
                    "be found on 'DC01.corp.example'.") == inv.errors[0].message
    assert recipient(session, dn(cn))["addresses"] == before


def test_removing_a_value_that_is_not_there(session):
    before = recipient(session, LEE)["addresses"]
    inv = session.edit_email_addresses("Set-Mailbox", LEE, remove=["MS:CORP/HQ/NOBODY"])
    assert not inv.errors
    assert inv.warnings == ["The command completed successfully but no settings of "
                            "'corp.example/Staff/Lee, Ann' have been modified."]
    assert recipient(session, LEE)["addresses"] == before
    # one there, one not: the one there goes, silently (MultiValuedProperty.Remove)
    inv = session.edit_email_addresses("Set-Mailbox", LEE,
                                       remove=["MS:CORP/HQ/NOBODY", "ms:corp/hq/alee"])
    assert not inv.errors and not inv.warnings
    assert recipient(session, LEE)["addresses"] == [v for v in before if v != "MS:CORP/HQ/ALEE"]


def test_the_write_primitive_refuses_other_cmdlets_and_empty_edits(session):
    with pytest.raises(InputError):
        session.edit_email_addresses("Remove-MailContact", SMITH, remove=["MS:x"])
    with pytest.raises(InputError):
        session.edit_email_addresses("Set-Mailbox", SMITH)


def test_default_policy_generates_smtp_only_and_does_not_restamp_legacy_types(session):
    inv = session.run("Get-EmailAddressPolicy")
    assert [pso.text(pso.prop(p, "Name")) for p in inv.output] == ["Default Policy"]
    policy = inv.output[0]
    assert pso.texts(pso.prop(policy, "EnabledEmailAddressTemplates")) == ["SMTP:@corp.example"]
    assert pso.texts(pso.prop(policy, "DisabledEmailAddressTemplates")) == []
    assert pso.text(pso.prop(policy, "Priority")) == "Lowest"
    session.edit_email_addresses("Set-Mailbox", SMITH, remove=["CCMAIL:Smith, John at EXCH"])
    assert "CCMAIL:Smith, John at EXCH" not in recipient(session, SMITH)["addresses"]


def test_a_policy_that_generates_ccmail_stamps_it_back(tmp_path, ldif):
    policies = write_policies(tmp_path / "p.json", CCMAIL_POLICY)
    srv = start(ldif, policies)
    try:
        with ExchangeSession(settings_for(srv)) as s:
            got = s.run("Get-EmailAddressPolicy").output
            assert [pso.text(pso.prop(p, "Name")) for p in got] == ["Legacy cc:Mail",
                                                                   "Default Policy"]
            assert pso.texts(pso.prop(got[0], "DisabledEmailAddressTemplates")) == [
                "MS:CORP/HQ/%g%s"]
            removed = ["CCMAIL:Smith, John at EXCH", "MS:CORP/HQ/JSMITH"]
            inv = s.edit_email_addresses("Set-Mailbox", SMITH, remove=removed)
            assert not inv.errors and not inv.warnings  # Exchange says nothing
            after = recipient(s, SMITH)["addresses"]
            assert "CCMAIL:Smith, John at EXCH" in after  # stamped straight back
            assert "MS:CORP/HQ/JSMITH" not in after  # a disabled template stamps nothing
            # Lee does not follow policies: the removal holds
            s.edit_email_addresses("Set-Mailbox", LEE, remove=["CCMAIL:Lee, Ann at EXCH"])
            assert "CCMAIL:Lee, Ann at EXCH" not in recipient(s, LEE)["addresses"]
    finally:
        srv.stop()


def test_policies_file_is_checked(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x", "enabled": ["no-colon"]}]), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_policies(bad)
    assert info.value.where == f"{bad}: policy 1"
    scoped = write_policies(tmp_path / "ok.json", {**CCMAIL_POLICY, "recipients": [LEE]})
    (policy,) = load_policies(scoped)
    assert policy.includes(LEE.upper()) and not policy.includes(SMITH)


@pytest.mark.parametrize("kind", ["throttle-winrm", "throttle-cmdlet"])
def test_a_throttled_write_is_refused_unrun_and_names_its_wait(server, session, kind):
    fault = server.core.inject(kind, "Command", cmdlet="Set-Mailbox", wait_ms=250)
    before = recipient(session, LEE)["addresses"]
    with pytest.raises(Throttled) as info:
        session.edit_email_addresses("Set-Mailbox", LEE, remove=["MS:CORP/HQ/ALEE"])
    assert info.value.wait == 0.25
    assert fault.hits == [("Command", "Set-Mailbox")]
    assert recipient(session, LEE)["addresses"] == before  # nothing ran
    text = str(info.value)
    assert ("user load quota" in text) if kind == "throttle-winrm" else (
        "exceeds the throttling budget" in text)
    # the same write, sent again, is made
    inv = session.edit_email_addresses("Set-Mailbox", LEE, remove=["MS:CORP/HQ/ALEE"])
    assert not inv.errors
    assert "MS:CORP/HQ/ALEE" not in recipient(session, LEE)["addresses"]


def test_other_failed_writes_are_not_throttling(server, session):
    server.core.inject("http-500", "Command", cmdlet="Set-Mailbox", after=True)
    with pytest.raises(OutcomeUnknown) as info:
        session.edit_email_addresses("Set-Mailbox", LEE, remove=["MS:CORP/HQ/ALEE"])
    assert not isinstance(info.value, Throttled)
    assert "MS:CORP/HQ/ALEE" not in recipient(session, LEE)["addresses"]  # it was made
    server.core.inject("wsman-fault", "Command", cmdlet="Set-Mailbox")
    with pytest.raises(OutcomeUnknown) as info:
        session.edit_email_addresses("Set-Mailbox", LEE, add=["MS:CORP/HQ/ALEE"])
    assert not isinstance(info.value, Throttled)
    with pytest.raises(CommandFailed) as failed:  # a terminating error that is not throttling
        session.run("Set-Mailbox", {"Identity": LEE, "EmailAddresses": {"Nope": "x"}})
    assert not isinstance(failed.value, Throttled)


def test_script_takes_policies_and_throttle_faults(tmp_path, ldif):
    policies = write_policies(tmp_path / "p.json", CCMAIL_POLICY)
    env = {**os.environ, "MOCK_EXCHANGE_PASSWORD": "pw-1234"}
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "mock-exchange"), "--ldif", str(ldif), "--policies",
         str(policies), "--fault", "throttle-cmdlet:Command:Set-Mailbox,wait=100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = json.loads(proc.stdout.readline())
        settings = settings_for(type("S", (), {"uri": line["uri"], "core": type(
            "C", (), {"username": line["username"]})})(), password="pw-1234")
        with ExchangeSession(settings) as s:
            names = [pso.text(pso.prop(p, "Name")) for p in s.run("Get-EmailAddressPolicy").output]
            assert names == ["Legacy cc:Mail", "Default Policy"]
            with pytest.raises(Throttled) as info:
                s.edit_email_addresses("Set-Mailbox", LEE, remove=["MS:CORP/HQ/ALEE"])
            assert info.value.wait == 0.1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    bad = subprocess.run([sys.executable, "-m", "toolkit.mocks.exchange", "--ldif", str(ldif),
                          "--policies", str(tmp_path / "missing.json")],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "cannot read policies" in bad.stderr


def test_a_throttled_read_is_asked_again_after_the_wait(server, session):
    fault = server.core.inject("throttle-winrm", "Command", cmdlet="Get-Recipient", wait_ms=400)
    started = time.monotonic()
    (got,) = session.email_addresses([LEE])
    assert got.found and "MS:CORP/HQ/ALEE" in got.addresses
    assert time.monotonic() - started >= 0.4
    assert fault.hits == [("Command", "Get-Recipient")] and session.retries == 1


@pytest.mark.parametrize(("text", "throttled", "wait"), [
    ("The WS-Management service cannot process the request. The user load quota of 5000 "
     "requests per 2 seconds has been exceeded. Send future requests at a slower rate or "
     "raise the quota for this user. The next request from this user will not be approved "
     "for at least 29 milliseconds.", True, 0.029),
    ("This operation exceeds the throttling budget for policy part "
     "'PowerShellMaxDestructiveCmdlets', policy value '30', Budget type: 'PowerShell'. "
     "Suggested backoff time 5000 ms.", True, 5.0),
    ("This user is allowed a maximum of 18 concurrent shells, which has been exceeded.",
     True, None),
    ("The operation couldn't be performed because object 'x' couldn't be found on 'dc'.",
     False, None),
    ("HTTP 500 from https://ex01/PowerShell: 500 Internal Server Error", False, None),
])
def test_throttling_is_recognised_by_its_wording_with_its_wait(text, throttled, wait):
    assert bool(is_throttling(text)) is throttled
    assert throttle_wait(text) == wait
