"""add-primary-address when the mailbox already carries the address in another case.

AD compares proxyAddresses case-insensitively and Exchange refuses an Add of a
value its collection holds in another case, so the plan replaces that value
(one Set-Mailbox call, one LDAP modify), apply re-reads and replaces it in one
call, and undo puts back exactly what was there. Mailboxes without such a
value keep the plain add, byte for byte.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from toolkit.mocks.exchange import MockExchange, MockExchangeServer
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import CONNECTOR, Org, ccmig, mailbox, podir
from tests.pxorg import PASSWORD, settings_for
from toolkit.exchange.powershell import ExchangeSession
from toolkit.remediation.journal import read_journal

SMITH = "CN=Smith\\, John,OU=Staff,DC=corp,DC=example"
DOE = "CN=Doe\\, Jane,OU=Staff,DC=corp,DC=example"
COOPER = "CN=Cooper\\, Grover,OU=Staff,DC=corp,DC=example"
SMITH_VALUES = ["SMTP:john.smith@corp.example", "ccmail:Smith, John at PO1",
                "ccmail:smith, john at exch", "X400:c=US;a= ;p=Corp;o=EXCH;s=Smith;g=John;"]


@pytest.fixture
def site(org: Org):
    """Smith carries his Exchange cc:Mail address as a lower-case secondary (in
    another case too); Doe has none at X (the plain add); Cooper's primary is at
    his old PO (Exchange demotes it when the new primary comes)."""
    org.objects = [mailbox("Smith, John", *SMITH_VALUES, nick="smith", sn="Smith"),
                   mailbox("Doe, Jane", "SMTP:jane.doe@corp.example", "ccmail:Doe, Jane at PO2",
                           nick="doe", sn="Doe"),
                   mailbox("Cooper, Grover", "SMTP:grover@corp.example",
                           "CCMAIL:Cooper, Grover at PO1", nick="cooper", sn="Cooper")]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR)}
    return org, [*org.write(), "--exchange-po", "EXCH"]


def plan_text(args: list[str], fmt: str) -> str:
    code, out, err = ccmig("plan", *args, "--format", fmt)
    assert code == 0, err
    return out


def adds(args: list[str]) -> dict[str, dict]:
    plan = json.loads(plan_text(args, "json"))
    return {a["target"]["dn"]: a for a in plan["actions"] if a["kind"] == "add-primary-address"}


def test_plan_json_names_the_value_it_replaces_exactly_as_on_the_object(site):
    _, args = site
    by_dn = adds(args)
    smith = by_dn[SMITH]
    assert smith["target"] == {"dn": SMITH, "address": "CCMAIL:Smith, John at EXCH",
                               "replaces": "ccmail:smith, john at exch"}
    assert not smith["blocked"] and not smith["manual"]
    assert "'ccmail:smith, john at exch' is the same address in another case" in \
        smith["precondition"]
    # no such value: the target is as before, without the key
    assert by_dn[DOE]["target"] == {"dn": DOE, "address": "CCMAIL:Doe, Jane at EXCH"}
    assert by_dn[COOPER]["target"] == {"dn": COOPER, "address": "CCMAIL:Cooper, Grover at EXCH"}


def test_plan_ps1_is_one_set_mailbox_call_removing_and_adding(site):
    _, args = site
    lines = [line for line in plan_text(args, "ps1").splitlines()
             if line.startswith("Set-Mailbox")]
    assert ("Set-Mailbox -Identity 'CN=Smith\\, John,OU=Staff,DC=corp,DC=example' "
            "-EmailAddresses @{Remove='ccmail:smith, john at exch'; "
            "Add='CCMAIL:Smith, John at EXCH'}") in lines
    assert ("Set-Mailbox -Identity 'CN=Doe\\, Jane,OU=Staff,DC=corp,DC=example' "
            "-EmailAddresses @{Add='CCMAIL:Doe, Jane at EXCH'}") in lines
    assert len(lines) == 3


def test_plan_ldif_is_one_modify_deleting_then_adding(site):
    _, args = site
    text = plan_text(args, "ldif")
    records = {r.split("\n")[1]: r for r in text.split("\n\n") if r.startswith("# 0")}
    assert records[f"dn: {SMITH}"].split("\n")[2:] == [
        "changetype: modify", "delete: proxyAddresses",
        "proxyAddresses: ccmail:smith, john at exch", "-", "add: proxyAddresses",
        "proxyAddresses: CCMAIL:Smith, John at EXCH", "-"]
    assert records[f"dn: {DOE}"].split("\n")[2:] == [
        "changetype: modify", "add: proxyAddresses", "proxyAddresses: CCMAIL:Doe, Jane at EXCH",
        "-"]


def test_ldif_plan_is_accepted_by_slapd_and_a_plain_add_is_not(site, tmp_path):
    """slapd's proxyAddresses has EQUALITY caseIgnoreMatch (mocks/slapd), as AD
    compares: the old plain add is refused ("Type or value exists"), the
    replacement is accepted and leaves exactly the new value."""
    org, args = site
    (tmp_path / "plan.ldf").write_text(plan_text(args, "ldif"), encoding="utf-8")
    (tmp_path / "plain.ldf").write_text(
        f"dn: {SMITH}\nchangetype: modify\nadd: proxyAddresses\n"
        "proxyAddresses: CCMAIL:Smith, John at EXCH\n-\n", encoding="utf-8")
    with slapd.SlapdServer(tmp_path / "slapd", "DC=corp,DC=example", org.root / "org.ldif",
                           admin=True) as info:
        secret = tmp_path / "admin.pw"
        secret.write_text(info.admin_password)
        secret.chmod(0o600)

        def modify(name: str) -> subprocess.CompletedProcess:
            return subprocess.run(["ldapmodify", "-x", "-H", info.url, "-D", info.admin_dn, "-y",
                                   str(secret), "-f", str(tmp_path / name)],
                                  capture_output=True, text=True, check=False)

        plain = modify("plain.ldf")
        assert plain.returncode == 20, plain.stderr  # LDAP_TYPE_OR_VALUE_EXISTS
        done = modify("plan.ldf")
        assert done.returncode == 0, done.stderr
        found = subprocess.run(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", info.url,
                                "-D", info.admin_dn, "-y", str(secret), "-b", SMITH, "-s",
                                "base", "proxyAddresses"],
                               capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr
    values = [line.split(": ", 1)[1] for line in found.stdout.splitlines()
              if line.startswith("proxyAddresses: ")]
    assert sorted(values) == sorted([*(v for v in SMITH_VALUES if "exch" not in v),
                                     "CCMAIL:Smith, John at EXCH"])


# ------------------------------------------------------------------ over the mock Exchange


@pytest.fixture
def exchange(site, monkeypatch):
    org, args = site
    core = MockExchange.from_files(org.root / "org.ldif", password=PASSWORD)
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    with MockExchangeServer(core) as srv:
        conn = ["--exchange-uri", srv.uri, "--exchange-auth", "basic", "--exchange-user",
                core.username, "--allow-unencrypted"]
        yield srv, args, conn


def proxies(srv: MockExchangeServer, dn: str) -> list[str]:
    [entry] = [e for e in srv.core.org.entries if e.dn.casefold() == dn.casefold()]
    return list(entry.texts("proxyaddresses"))


def outcomes(*args: str) -> tuple[int, dict[str, dict]]:
    code, out, err = ccmig(*args, "--format", "json")
    assert code in (0, 1), err
    return code, {o["id"]: o for o in json.loads(out)}


def test_mock_refuses_an_add_equal_but_for_case_and_accepts_remove_and_add(exchange):
    srv, _, _ = exchange
    with ExchangeSession(settings_for(srv)) as s:
        error = s.update_email_addresses(SMITH, add=["CCMAIL:Smith, John at EXCH"])
        assert error is not None
        assert error.message == ('The value "CCMAIL:Smith, John at EXCH" is already present '
                                 "in the collection.")
        assert proxies(srv, SMITH) == SMITH_VALUES  # nothing changed
        error = s.update_email_addresses(SMITH, add=["ccmail:Smith, John at PO1"])
        assert error is not None and "already present" in error.message  # the same value too
        assert s.update_email_addresses(SMITH, add=["CCMAIL:Smith, John at EXCH"],
                                         remove=["ccmail:smith, john at exch"]) is None
    # the new primary stands where the value it replaced stood
    assert proxies(srv, SMITH) == [*SMITH_VALUES[:2], "CCMAIL:Smith, John at EXCH",
                                   SMITH_VALUES[3]]


def test_apply_replaces_in_one_call_and_undo_restores_byte_exact(exchange, tmp_path):
    srv, args, conn = exchange
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_text(args, "json"), encoding="utf-8")
    before = {dn: proxies(srv, dn) for dn in (SMITH, DOE, COOPER)}
    calls = srv.core.cmdlets.get("Set-Mailbox", 0)
    code, dry = outcomes("apply", str(plan_path), *args, *conn)
    assert {o["status"] for o in dry.values()} == {"would-apply"}
    assert any("replace 'ccmail:smith, john at exch' with 'CCMAIL:Smith, John at EXCH'"
               in o["detail"] for o in dry.values())
    assert {dn: proxies(srv, dn) for dn in before} == before

    code, done = outcomes("apply", str(plan_path), *args, *conn, "--yes")
    assert code == 0 and {o["status"] for o in done.values()} == {"applied"}, done
    assert srv.core.cmdlets.get("Set-Mailbox", 0) - calls == 3  # one call per mailbox
    assert proxies(srv, SMITH) == [*SMITH_VALUES[:2], "CCMAIL:Smith, John at EXCH",
                                   SMITH_VALUES[3]]
    assert proxies(srv, DOE)[-1] == "CCMAIL:Doe, Jane at EXCH"
    # Exchange keeps one primary per type: Cooper's old primary became a secondary
    assert "ccmail:Cooper, Grover at PO1" in proxies(srv, COOPER)
    journal = {e.change["dn"]: e.change for e in read_journal(f"{plan_path}.journal").entries}
    assert journal[SMITH]["replaces"] == "ccmail:smith, john at exch"
    assert journal[SMITH]["before"] == SMITH_VALUES
    assert "replaces" not in journal[DOE]

    code, undone = outcomes("undo", f"{plan_path}.journal", *conn, "--yes")
    assert code == 0 and {o["status"] for o in undone.values()} == {"reverted"}, undone
    assert any(o["detail"].startswith("put back 'ccmail:smith, john at exch' in place of")
               for o in undone.values())
    assert {dn: proxies(srv, dn) for dn in before} == before  # byte-exact, order included


def test_apply_skips_when_the_value_to_replace_is_gone(exchange, tmp_path):
    """The plan was reviewed as a replacement; Exchange no longer has the value:
    nothing is written, and the outcome says to plan again."""
    srv, args, conn = exchange
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_text(args, "json"), encoding="utf-8")
    with ExchangeSession(settings_for(srv)) as s:
        assert s.update_email_addresses(SMITH, remove=["ccmail:smith, john at exch"]) is None
    gone = proxies(srv, SMITH)
    code, out = outcomes("apply", str(plan_path), *args, *conn, "--yes")
    smith = next(o for o in out.values() if SMITH in o["detail"])
    assert code == 1 and smith["status"] == "skipped"
    assert "'ccmail:smith, john at exch', which it replaces, is no longer on the object" in \
        smith["detail"]
    assert proxies(srv, SMITH) == gone
    assert SMITH not in {e.change["dn"] for e in read_journal(f"{plan_path}.journal").entries}


def test_apply_skips_when_the_primary_is_already_there(exchange, tmp_path):
    srv, args, conn = exchange
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_text(args, "json"), encoding="utf-8")
    with ExchangeSession(settings_for(srv)) as s:
        assert s.update_email_addresses(SMITH, add=["CCMAIL:Smith, John at EXCH"],
                                        remove=["ccmail:smith, john at exch"]) is None
    now = proxies(srv, SMITH)
    code, out = outcomes("apply", str(plan_path), *args, *conn, "--yes")
    smith = next(o for o in out.values() if SMITH in o["detail"])
    assert code == 1 and smith["status"] == "skipped"
    assert "on the object already" in smith["detail"]
    assert proxies(srv, SMITH) == now


def test_an_older_plan_without_the_key_still_applies_and_is_never_a_blind_write(exchange,
                                                                                tmp_path):
    """Plans made before ``replaces`` existed: a plain add still applies where
    nothing collides; where the object now needs a replacement, the action is
    skipped (the reviewed add would be refused) instead of written."""
    srv, args, conn = exchange
    plan = json.loads(plan_text(args, "json"))
    for a in plan["actions"]:
        a["target"].pop("replaces", None)
    plan_path = tmp_path / "old.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    code, out = outcomes("apply", str(plan_path), *args, *conn, "--yes")
    by_dn = {dn: o for o in out.values() for dn in (SMITH, DOE, COOPER) if dn in o["detail"]}
    assert code == 1
    assert by_dn[DOE]["status"] == by_dn[COOPER]["status"] == "applied"
    assert by_dn[SMITH]["status"] == "skipped"
    assert "now carries this address in another case" in by_dn[SMITH]["detail"]
    assert proxies(srv, SMITH) == SMITH_VALUES


def test_undo_reverts_only_what_the_journal_changed(exchange, tmp_path):
    """A value added by someone else after apply stays; the replaced one comes
    back in its case and place."""
    srv, args, conn = exchange
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_text(args, "json"), encoding="utf-8")
    ccmig("apply", str(plan_path), *args, *conn, "--yes", "--only", "add-primary-address")
    with ExchangeSession(settings_for(srv)) as s:
        assert s.update_email_addresses(SMITH, add=["smtp:js@corp.example"]) is None
    code, out = outcomes("undo", f"{plan_path}.journal", *conn, "--yes")
    assert code == 0, out
    assert proxies(srv, SMITH) == [*SMITH_VALUES, "smtp:js@corp.example"]


def test_no_such_value_plan_outputs_are_unchanged(org: Org):
    """The old behaviour, byte for byte: a plain add in every format."""
    org.objects = [mailbox("Doe, Jane", "ccmail:Doe, Jane at PO2", nick="doe")]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR)}
    args = [*org.write(), "--exchange-po", "EXCH"]
    assert "replaces" not in plan_text(args, "json")
    assert "Remove=" not in plan_text(args, "ps1")
    assert "delete:" not in plan_text(args, "ldif")
    assert "@{Add='CCMAIL:Doe, Jane at EXCH'}" in plan_text(args, "ps1")


def test_demo_org_shows_the_case(tmp_path):
    """The demo organisation carries the case (a ccMail: secondary at EXCH)."""
    root = Path(__file__).resolve().parent.parent / "mocks" / "demo"
    dirs = [a for p in sorted((root / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    plan = json.loads(plan_text(["--ldif", str(root / "org.ldif"), *dirs, "--exchange-po",
                                 "EXCH"], "json"))
    replacing = [a for a in plan["actions"] if a["target"].get("replaces")]
    assert replacing and all(a["kind"] == "add-primary-address" for a in replacing)
    for a in replacing:
        assert a["target"]["replaces"].casefold() == a["target"]["address"].casefold()


def test_lab_ldifde_applies_the_replacement_and_refuses_the_plain_add(site, tmp_path):
    """The lab's stand-in for ``ldifde -i`` behaves as AD: delete-then-add in one
    modify is made; an add of a value equal but for case is refused."""
    from toolkit.mocks import ldifde

    org, args = site
    change = tmp_path / "fix.ldif"
    change.write_text(plan_text(args, "ldif"), encoding="utf-8")
    plain = tmp_path / "plain.ldif"
    plain.write_text(f"dn: {SMITH}\nchangetype: modify\nadd: proxyAddresses\n"
                     "proxyAddresses: CCMAIL:Smith, John at EXCH\n-\n", encoding="utf-8")
    ldif = org.root / "org.ldif"
    start = ldif.read_bytes()
    with pytest.raises(SystemExit, match="Attribute Or Value Exists"):
        ldifde.import_ldif(ldif, plain)
    assert ldif.read_bytes() == start
    done = ldifde.import_ldif(ldif, change)
    smith = SMITH.casefold()
    at = done.index(f"deleted proxyaddresses: ccmail:smith, john at exch from {smith}")
    assert done[at + 1] == f"added proxyaddresses: CCMAIL:Smith, John at EXCH to {smith}"
    assert adds(args) == {}  # every mailbox has its primary now
