"""WinRM faults (issue 7): the real pypsrp client against the mock over HTTP.

The mock fails chosen requests the way a network and a server do (an HTTP
500 that is not a WSMan fault, a WSMan fault, a TCP reset), either *before*
handling the request (nothing happened) or *after* (the change was made and
only the answer is lost). What is proved here:

- reads: a batch whose transport fails is asked again, once, and the result
  equals a run without faults (each identity answered exactly once); a batch
  that fails twice is exit 3 with one line; a failure another attempt cannot
  cure (authentication) is not retried;
- writes (Set-Mailbox add/remove, Remove-MailContact, New-MailContact) are
  never sent twice: a lost answer is ``OutcomeUnknown`` (exit 3);
- apply journals such a change as unknown, with the reason, and the next
  apply or undo settles it by reading Exchange, end to end through the CLI.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from toolkit.mocks.exchange import MockExchange, MockExchangeServer, Organisation
from toolkit.mocks.exchange.server import InjectedFault

from tests.orgkit import ccmig
from toolkit.errors import ConnectionFailure
from toolkit.exchange.powershell import ExchangeSession, ExchangeSettings, OutcomeUnknown
from toolkit.exchange.writer import PowerShellWriter
from toolkit.model import RawEntry
from toolkit.remediation.apply import undo_journal
from toolkit.remediation.journal import Journal, read_journal

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mocks" / "demo"
DATA = Path(__file__).parent / "data" / "exchange"
PASSWORD = "Fault-Pa55-word!"
DIRS = [a for p in sorted((DEMO / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
KINDS = ("http-500", "wsman-fault", "reset")
N = 700  # identities per read: two batches of 500, several Receives


def dn(i: int) -> str:
    return f"CN=User{i:04d}\\, Bulk,OU=Bulk,DC=corp,DC=example"


def bulk(n: int) -> Organisation:
    entries = []
    for i in range(n):
        cn = f"User{i:04d}, Bulk"
        entries.append(RawEntry(dn(i), {
            "objectclass": ["top", "person", "organizationalPerson", "user"],
            "cn": [cn], "mailnickname": [f"u{i:04d}"], "samaccountname": [f"u{i:04d}"],
            "mail": [f"u{i:04d}@corp.example"], "homemdb": ["CN=DB01,DC=corp,DC=example"],
            "legacyexchangedn": [f"/o=Corp/ou=Site/cn=Recipients/cn=u{i:04d}"],
            "proxyaddresses": [f"SMTP:u{i:04d}@corp.example", f"ccmail:{cn} at PO{i % 5}",
                               f"CCMAIL:{cn} at EXCH"],
        }))
    org = Organisation(entries)
    for i, entry in enumerate(org.entries):
        entry.item_count = None if i % 97 == 5 else 10 + i  # a few never logged on
    return org


def settings_for(srv: MockExchangeServer, **kw) -> ExchangeSettings:
    base = dict(auth="basic", username=srv.core.username, password=PASSWORD,
                allow_unencrypted=True, timeout=20)
    return ExchangeSettings(srv.uri, **(base | kw))


@pytest.fixture(scope="module")
def reference() -> tuple[list, list]:
    """Addresses and item counts of N identities, read without any fault."""
    core = MockExchange(bulk(N), password=PASSWORD)
    with MockExchangeServer(core) as srv, ExchangeSession(settings_for(srv)) as s:
        ids = [dn(i) for i in range(N)]
        return ([r.as_dict() for r in s.email_addresses(ids)],
                [(r.identity, r.dn, r.found, r.item_count, r.total_bytes)
                 for r in s.mailbox_stats(ids)])


@pytest.fixture
def big():
    core = MockExchange(bulk(N), password=PASSWORD)
    with MockExchangeServer(core) as srv:
        yield srv, core


def read_both(srv: MockExchangeServer, *faults: dict, **kw) -> tuple[list, list, int]:
    """Both reads of N identities; ``faults`` are armed once the session is open."""
    ids = [dn(i) for i in range(N)]
    with ExchangeSession(settings_for(srv, **kw)) as s:
        for fault in faults:
            srv.core.inject(**fault)
        addresses = [r.as_dict() for r in s.email_addresses(ids)]
        stats = [(r.identity, r.dn, r.found, r.item_count, r.total_bytes)
                 for r in s.mailbox_stats(ids)]
        return addresses, stats, s.retries


# -- reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("action", "skip", "after"), [
    ("Command", 0, False), ("Command", 0, True), ("Send", 0, False), ("Send", 0, True),
    ("Receive", 0, False), ("Receive", 1, True),  # mid-batch: after some output arrived
])
def test_a_read_is_retried_once_and_equals_a_run_without_faults(big, reference, kind, action,
                                                                skip, after, caplog):
    srv, core = big
    fault = dict(kind=kind, action=action, skip=skip, after=after,
                 cmdlet="Get-Recipient" if action == "Command" else None)
    with caplog.at_level(logging.WARNING, logger="toolkit.exchange.psreads"):
        addresses, stats, retries = read_both(srv, fault)
    assert len(core.faults[0].hits) == 1 and retries == 1
    assert (addresses, stats) == reference  # every identity answered, once, correctly
    assert "asking again" in caplog.text and PASSWORD not in caplog.text


def test_statistics_read_is_retried_too(big, reference):
    srv, core = big
    ids = [dn(i) for i in range(N)]
    with ExchangeSession(settings_for(srv)) as s:
        s.email_addresses(ids)
        core.inject("reset", "Receive", after=True)  # its output made, then lost
        before = dict(core.cmdlets)
        stats = [(r.identity, r.dn, r.found, r.item_count, r.total_bytes)
                 for r in s.mailbox_stats(ids)]
        assert s.retries == 1
    assert stats == reference[1]
    assert core.cmdlets["Get-MailboxStatistics"] - before.get("Get-MailboxStatistics", 0) == 2
    assert core.cmdlets["Get-Recipient"] == before["Get-Recipient"]  # answers reused


def test_each_batch_is_retried_once_so_failures_in_two_batches_are_survived(big, reference):
    srv, _ = big
    addresses, stats, retries = read_both(
        srv, dict(kind="reset", action="Receive", skip=1, after=True),  # 2nd of the first try
        dict(kind="http-500", action="Receive", skip=3),  # 2nd of the retry: a later batch
        batch_size=100)
    assert retries == 2 and (addresses, stats) == reference


def test_the_same_batch_failing_twice_is_exit_3_in_one_line(big):
    srv, core = big
    with ExchangeSession(settings_for(srv)) as s, pytest.raises(ConnectionFailure) as info:
        core.inject("http-500", "Receive", count=2)  # the first answer of both attempts
        s.email_addresses([dn(i) for i in range(N)])
    message = str(info.value)
    assert info.value.exit_code == 3 and "\n" not in message and PASSWORD not in message
    assert message.startswith("Get-Recipient failed again for identities 1-500 (batch 1): HTTP 500")
    assert core.cmdlets["Get-Recipient"] == 2  # asked twice, never a third time


def test_through_the_cli_a_read_failing_twice_is_exit_3_and_one_error_line(big, monkeypatch):
    srv, core = big
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    core.inject("http-500", "Command", cmdlet="Get-Recipient", count=2)
    code, out, err = ccmig("addresses", "--exchange-uri", srv.uri, "--exchange-auth", "basic",
                           "--exchange-user", core.username, "--allow-unencrypted",
                           *(dn(i) for i in range(3)))
    lines = err.strip().splitlines()
    assert code == 3 and out == "" and "Traceback" not in err and PASSWORD not in err
    assert "Failed to parse" not in err  # pypsrp's own report of the HTTP error is ours
    assert lines[-1].startswith("ccmig: error: Get-Recipient failed again for identities 1-500")
    assert "HTTP 500" in lines[-1]
    assert [line for line in lines[:-1] if "asking again" not in line] == []  # the one retry
    core.inject("http-500", "Command", cmdlet="Get-Recipient")
    code, out, err = ccmig("addresses", "--exchange-uri", srv.uri, "--exchange-auth", "basic",
                           "--exchange-user", core.username, "--allow-unencrypted", "-q", dn(1))
    assert code == 0 and err == "" and json.loads(out)[0]["found"]  # retried once, quietly


def test_a_failure_a_retry_cannot_cure_is_not_retried(big):
    srv, core = big
    with ExchangeSession(settings_for(srv)) as s:
        s.email_addresses([dn(0)])
        core.password = "changed-" + PASSWORD  # the account's password changed mid-run
        with pytest.raises(ConnectionFailure, match="authentication failed") as info:
            s.email_addresses([dn(1), dn(2)])
        assert s.retries == 0 and PASSWORD not in str(info.value)


def test_iter_recipients_retries_before_the_first_object_and_fails_after(big):
    srv, core = big
    core.inject("reset", "Command", cmdlet="Get-Recipient", after=True)
    with ExchangeSession(settings_for(srv)) as s:
        assert len(list(s.iter_recipients())) == N and s.retries == 1
        core.inject("reset", "Receive", skip=1)
        with pytest.raises(ConnectionFailure, match=r"failed after \d+ object\(s\), so the "
                                                    r"result is incomplete: connection .* lost"):
            list(s.iter_recipients())


def test_a_dead_shell_is_replaced_before_the_retry(big, reference):
    srv, core = big
    ids = [dn(i) for i in range(N)]
    with ExchangeSession(settings_for(srv)) as s:
        s.email_addresses(ids[:1])
        core.service.shells.clear()  # the server restarted: the shell is gone
        results = [r.as_dict() for r in s.email_addresses(ids)]
        assert s.retries == 1
    assert results == reference[0]
    assert core.actions["Create"] == 2  # a new runspace pool was opened


def test_with_ntlm_message_encryption_a_reset_needs_and_gets_a_new_session(monkeypatch):
    """The security context dies with the connection: the retry opens a new session."""
    monkeypatch.setenv("NTLM_USER_FILE", "")  # the mock points it at its own user file
    core = MockExchange(bulk(N), password=PASSWORD, auth_methods=("basic", "ntlm"))
    with MockExchangeServer(core) as srv:
        settings = ExchangeSettings(srv.uri, auth="ntlm", username=core.username,
                                    password=PASSWORD)
        with ExchangeSession(settings) as s:
            core.inject("reset", "Receive", skip=1, after=True)
            results = s.email_addresses([dn(i) for i in range(N)])
            assert [r.dn for r in results] == [dn(i) for i in range(N)] and s.retries == 1
            core.inject("reset", "Command", cmdlet="Set-Mailbox", after=True)
            with pytest.raises(OutcomeUnknown):
                PowerShellWriter(s).add_address(dn(3), "ccmail:Lost, Answer at PO1")
            assert "ccmail:Lost, Answer at PO1" in PowerShellWriter(s).get_addresses(dn(3))
        assert core.actions["Create"] == 3 and core.cmdlets["Set-Mailbox"] == 1


# -- writes --------------------------------------------------------------------------


SMITH = "CN=Smith\\, John,OU=Staff,DC=corp,DC=example"
NEW = "ccmail:Smith, J. at PO3"


@pytest.fixture
def small():
    core = MockExchange.from_files(DATA / "org.ldif", DATA / "stats.csv", password=PASSWORD)
    with MockExchangeServer(core) as srv, ExchangeSession(settings_for(srv)) as s:
        yield core, s


def proxies(core: MockExchange, dn_: str) -> list[str]:
    return next(e for e in core.org.entries if e.dn == dn_).texts("proxyaddresses")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("action", "after", "made"), [
    ("Command", False, False),  # refused before it ran
    ("Command", True, True),  # ran, the answer lost
    ("Receive", False, True),  # ran at Command; the request for its answer failed
])
def test_a_write_is_never_retried_its_outcome_is_unknown(small, kind, action, after, made):
    core, s = small
    writer = PowerShellWriter(s)
    core.inject(kind, action, cmdlet="Set-Mailbox" if action == "Command" else None,
                after=after)
    before = core.cmdlets["Set-Mailbox"]
    with pytest.raises(OutcomeUnknown) as info:
        writer.add_address(SMITH, NEW)
    assert info.value.exit_code == 3 and "may or may not have made the change" in str(info.value)
    assert core.cmdlets["Set-Mailbox"] - before == 1  # sent once, never again
    assert (NEW in proxies(core, SMITH)) is made
    assert (NEW in (writer.get_addresses(SMITH) or [])) is made  # the session still reads


def test_remove_and_new_mail_contact_are_not_retried_and_new_looks_first(small):
    core, s = small
    writer = PowerShellWriter(s)
    s.run("New-MailContact", {"Name": "Fault Test", "ExternalEmailAddress": "SMTP:ft@ext.example",
                              "OrganizationalUnit": "corp.example/cc:Mail"})
    contact = "CN=Fault Test,OU=cc:Mail,DC=corp,DC=example"
    s.update_email_addresses(contact, add=["ccmail:Fault, Test at PO1"], cmdlet="Set-MailContact")
    record = writer.get_contact(contact)
    assert record is not None and "ccmail:Fault, Test at PO1" in record["EmailAddresses"]
    core.inject("reset", "Command", cmdlet="Remove-MailContact", after=True)
    with pytest.raises(OutcomeUnknown):
        writer.remove_contact(contact)
    assert core.cmdlets["Remove-MailContact"] == 1 and writer.get_contact(contact) is None
    core.inject("http-500", "Command", cmdlet="New-MailContact", after=True)
    with pytest.raises(OutcomeUnknown):
        writer.new_contact(record)
    assert core.cmdlets["New-MailContact"] == 2  # the set-up's and the one that was lost
    writer.new_contact(record)  # again: it exists, so only its missing addresses are added
    assert core.cmdlets["New-MailContact"] == 2
    again = writer.get_contact(contact)
    assert again is not None
    assert "ccmail:Fault, Test at PO1" in again["EmailAddresses"]
    assert f"X500:{record['LegacyExchangeDN']}" in again["EmailAddresses"]


def test_undo_of_a_contact_removal_settles_a_lost_re_creation(small, tmp_path):
    core, s = small
    writer = PowerShellWriter(s)
    s.run("New-MailContact", {"Name": "Undo Test", "ExternalEmailAddress": "SMTP:ut@ext.example",
                              "OrganizationalUnit": "corp.example/cc:Mail"})
    contact = "CN=Undo Test,OU=cc:Mail,DC=corp,DC=example"
    record = writer.get_contact(contact)
    journal_path = tmp_path / "plan.json.journal"
    with Journal(journal_path) as journal:  # what apply writes for remove-custom-recipient
        entry = journal.intent("0001", "remove-custom-recipient",
                               {"type": "remove-contact", "dn": contact, "record": record})
        writer.remove_contact(contact)
        journal.mark(entry, "done")
    # New-MailContact goes through; the Set-MailContact that adds its other addresses is
    # made but its answer is lost.
    fault = core.inject("reset", "Command", cmdlet="Set-MailContact", after=True)
    with pytest.raises(ConnectionFailure, match=r"undo stopped at seq 1 .* outcome unknown"):
        undo_journal(str(journal_path), yes=True, exchange=writer)
    assert fault.hits and core.cmdlets["New-MailContact"] == 2
    records = [json.loads(line) for line in journal_path.read_text().splitlines()]
    assert records[-1]["type"] == "unknown" and records[-1]["during"] == "undo"
    assert read_journal(journal_path).entries[0].state == "done"
    outcomes = undo_journal(str(journal_path), yes=True, exchange=writer)
    assert [o.status for o in outcomes] == ["reverted"]
    assert core.cmdlets["New-MailContact"] == 2  # the set-up's and one re-creation, not two
    assert f"X500:{record['LegacyExchangeDN']}" in writer.get_contact(contact)["EmailAddresses"]
    assert read_journal(journal_path).entries[0].state == "undone"


# -- apply and undo through the CLI ------------------------------------------------------


@pytest.fixture
def demo(monkeypatch, tmp_path):
    core = MockExchange.from_files(DEMO / "org.ldif", DEMO / "stats.csv", password=PASSWORD)
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    with MockExchangeServer(core) as srv:
        conn = ["--exchange-uri", srv.uri, "--exchange-auth", "basic", "--exchange-user",
                core.username, "--allow-unencrypted"]
        plan = tmp_path / "plan.json"
        code, _, err = ccmig("plan", "--ldif", str(DEMO / "org.ldif"), *DIRS, "--exchange-po",
                             "EXCH", "--mailbox-stats", str(DEMO / "stats.csv"), "-o", str(plan))
        assert code == 0, err
        code, out, err = ccmig("apply", str(plan), *conn, "--source", "powershell",
                               "--only", "add-primary-address", "--format", "json")  # dry run
        going = {o["id"] for o in json.loads(out) if o["status"] == "would-apply"}
        actions = [a for a in json.loads(plan.read_text())["actions"] if a["id"] in going]
        assert len(actions) >= 2 and core.cmdlets["Set-Mailbox"] == 0
        yield core, conn, plan, actions


def apply(conn: list[str], plan: Path) -> tuple[int, str, str]:
    return ccmig("apply", str(plan), *conn, "--yes", "--source", "powershell",
                 "--only", "add-primary-address", "--format", "json")


def journal_records(plan: Path) -> list[dict]:
    return [json.loads(line) for line in Path(f"{plan}.journal").read_text().splitlines()]


def address_count(core: MockExchange, action: dict) -> int:
    """How often the action's address is on its mailbox, exactly (the upper-case primary
    replaces a lower-case value of the same address)."""
    return proxies(core, action["target"]["dn"]).count(action["target"]["address"])


@pytest.mark.parametrize("after", [True, False], ids=["made-answer-lost", "not-made"])
def test_apply_journals_an_unknown_write_and_the_next_apply_settles_it(demo, after):
    core, conn, plan, actions = demo
    fault = core.inject("reset", "Command", cmdlet="Set-Mailbox", after=after)
    code, out, err = apply(conn, plan)
    assert code == 3 and out == ""
    assert len(err.strip().splitlines()) == 1 and "outcome unknown" in err and PASSWORD not in err
    first = actions[0]  # apply goes in id order
    assert f"apply stopped at action {first['id']}" in err
    assert core.cmdlets["Set-Mailbox"] == 1 and len(fault.hits) == 1
    records = journal_records(plan)
    intent = next(r for r in records if r["type"] == "intent")
    unknown = next(r for r in records if r["type"] == "unknown")
    assert intent["action"] == first["id"] and unknown["seq"] == intent["seq"]
    assert unknown["during"] == "apply" and "lost" in unknown["error"]
    assert [e.state for e in read_journal(f"{plan}.journal").entries] == ["intent"]
    assert address_count(core, first) == (1 if after else 0)

    code, out, err = apply(conn, plan)  # settles from the current state, then goes on
    assert code in (0, 1), err
    status = {o["id"]: o["status"] for o in json.loads(out)}
    entries = read_journal(f"{plan}.journal").entries
    if after:  # made: settled as done, not written again
        assert entries[0].state == "done"
        assert status[first["id"]] == "already-done"  # settled before selection
        assert core.cmdlets["Set-Mailbox"] == len(actions)
    else:  # not made: settled as failed, then applied now
        assert (entries[0].state, entries[0].error) == (
            "failed", "interrupted before the change was made")
        assert status[first["id"]] == "applied"
        assert core.cmdlets["Set-Mailbox"] == 1 + len(actions)
    assert all(status[a["id"]] == "applied" for a in actions[1:])
    assert all(address_count(core, a) == 1 for a in actions)  # each address exactly once


def test_undo_settles_an_unknown_apply_write_then_reverts_it(demo):
    core, conn, plan, actions = demo
    core.inject("http-500", "Command", cmdlet="Set-Mailbox", after=True)
    code, _, err = apply(conn, plan)
    assert code == 3 and "outcome unknown" in err
    first = actions[0]
    assert address_count(core, first) == 1
    code, out, err = ccmig("undo", f"{plan}.journal", "--yes", *conn, "--format", "json")
    assert code == 0, err
    assert [o["status"] for o in json.loads(out)] == ["reverted"]
    assert address_count(core, first) == 0
    assert [e.state for e in read_journal(f"{plan}.journal").entries] == ["undone"]


def test_undo_whose_answer_was_lost_does_not_revert_twice(demo):
    core, conn, plan, actions = demo
    code, out, err = apply(conn, plan)
    assert code in (0, 1), err
    assert core.cmdlets["Set-Mailbox"] == len(actions)
    core.inject("reset", "Command", cmdlet="Set-Mailbox", after=True)  # the first revert
    code, out, err = ccmig("undo", f"{plan}.journal", "--yes", *conn)
    assert code == 3 and "undo stopped at seq" in err and "outcome unknown" in err
    assert len(err.strip().splitlines()) == 1
    last = actions[-1]  # undo goes newest first
    assert address_count(core, last) == 0  # the revert was made; its answer was lost
    records = journal_records(plan)
    assert records[-1]["type"] == "unknown" and records[-1]["during"] == "undo"
    code, out, err = ccmig("undo", f"{plan}.journal", "--yes", *conn, "--format", "json")
    assert code == 0, err
    assert len(json.loads(out)) == len(actions)
    # the revert already made is seen, not sent again: one Set-Mailbox per other action
    assert core.cmdlets["Set-Mailbox"] == len(actions) + 1 + (len(actions) - 1)
    assert all(address_count(core, a) == 0 for a in actions)
    assert {e.state for e in read_journal(f"{plan}.journal").entries} == {"undone"}


def test_fault_specification_for_the_mock_script():
    fault = InjectedFault.parse("reset:Command:Set-Mailbox,after,skip=2")
    assert (fault.kind, fault.action, fault.cmdlet, fault.after, fault.skip, fault.count) == (
        "reset", "Command", "Set-Mailbox", True, 2, 1)
    assert InjectedFault.parse("http-500").action is None
    with pytest.raises(ValueError):
        InjectedFault.parse("explode:Receive")
