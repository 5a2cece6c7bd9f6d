"""``ccmig apply`` / ``ccmig undo`` of a proxy plan over live LDAP (the private
slapd): one modify per object deleting exactly the planned values (hostile
ones whole), the audit then finds no ``retired-address`` (``retired-target``
stays), undo gives every object its values back; ``kill -9`` during apply,
then resume (``already-done``) or undo. Nothing is skipped: without slapd these
tests fail (scripts/test installs it)."""

from __future__ import annotations

import json
from pathlib import Path

import ldap3
import pytest
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import ccmig
from tests.pxkill import kill_loop
from tests.test_proxies_live import write_ldif

pytestmark = pytest.mark.slapd
RETIRE = ["--retire", "MS", "--retire", "CCMAIL", "--retire", "GWISE", "--ccmail-decommissioned"]


@pytest.fixture
def site(tmp_path: Path, monkeypatch):
    ldif = write_ldif(tmp_path / "org.ldif")
    with slapd.SlapdServer(tmp_path / "slapd", "DC=corp,DC=example", ldif) as info:
        # the delegated account that may write proxyAddresses (and nothing else)
        monkeypatch.setenv("CCMIG_LDAP_PASSWORD", info.writer_password)
        live = ["--allow-unencrypted", "--ldap-url", info.url, "--base-dn", info.base_dn,
                "--bind-dn", info.writer_dn]
        yield info, live, tmp_path


def values(info) -> dict[str, list[str]]:
    conn = ldap3.Connection(ldap3.Server(info.url, get_info=ldap3.NONE), info.bind_dn,
                            info.password, auto_bind=True)
    conn.search(info.base_dn, "(proxyAddresses=*)", attributes=["proxyAddresses"])
    out = {e.entry_dn.casefold().replace("\\2c", "\\,"):
           [v.decode() for v in e["proxyAddresses"].raw_values]
           for e in conn.entries}
    conn.unbind()
    return out


def plan_for(live: list[str], tmp_path: Path) -> tuple[Path, dict]:
    plan = tmp_path / "plan.json"
    code, out, err = ccmig("proxies", "plan", *live, *RETIRE, "-o", str(plan))
    assert code == 0, err
    return plan, json.loads(plan.read_text())


def run(*args: str, code: int = 0) -> dict[str, dict]:
    """apply/undo: the source comes from the plan (or the journal); a plain
    ldap:// test server must be allowed again on purpose, it is never recorded."""
    got, out, err = ccmig(*args, "--allow-unencrypted", "--format", "json")
    assert got == code, (out, err)
    return {o["id"]: o for o in json.loads(out)}


def test_ldap_lifecycle(site):
    info, live, tmp_path = site
    before = values(info)
    plan, data = plan_for(live, tmp_path)
    by_dn = {a["dn"].casefold(): a for a in data["actions"]}
    smith = by_dn["cn=smith\\, john,ou=staff,dc=corp,dc=example"]
    assert 'ccmail:Smith, "J" [x]\t at PO1' in smith["values"]
    plain = by_dn["cn=plain user,ou=staff,dc=corp,dc=example"]
    assert plain["cmdlet"] is None  # kind user: LDAP only
    dry = run("apply", str(plan))
    assert {o["status"] for o in dry.values()} == {"would-apply"}
    assert values(info) == before
    done = run("apply", str(plan), "--yes", "--only", "remove-proxy-addresses")
    assert {o["status"] for o in done.values()} == {"applied"}
    after = values(info)
    for a in data["actions"]:
        assert after[a["dn"].casefold()] == [v for v in before[a["dn"].casefold()]
                                             if v not in a["values"]]
    code, out, err = ccmig("proxies", "audit", *live, *RETIRE, "--format", "json")
    rows = json.loads(out)
    codes = {f["code"] for r in rows for f in r["findings"]}
    assert "retired-address" not in codes and "retired-target" in codes
    again = run("apply", str(plan), "--yes")
    assert {o["status"] for o in again.values()} == {"already-done"}
    run("undo", f"{plan}.journal")
    assert values(info) == after
    run("undo", f"{plan}.journal", "--yes")
    assert {k: sorted(v) for k, v in values(info).items()} == {
        k: sorted(v) for k, v in before.items()}
    # undo again: nothing is absent any more, nothing added twice
    run("undo", f"{plan}.journal", "--yes")
    assert {k: sorted(v) for k, v in values(info).items()} == {
        k: sorted(v) for k, v in before.items()}


def test_ldif_source_cannot_be_written(tmp_path):
    ldif = write_ldif(tmp_path / "org.ldif")
    code, out, err = ccmig("proxies", "plan", "--ldif", str(ldif), *RETIRE, "-o",
                           str(tmp_path / "p.json"))
    assert code == 0, err
    code, out, err = ccmig("apply", str(tmp_path / "p.json"), "--yes")
    assert code == 2 and "plan --format ldif" in err and "--ldif" in err
    assert not (tmp_path / "p.json.journal").exists()


def test_a_value_gone_or_now_kept_skips_the_action(site):
    info, live, tmp_path = site
    plan, data = plan_for(live, tmp_path)
    sales = next(a for a in data["actions"] if "sales" in a["dn"].casefold())
    conn = ldap3.Connection(ldap3.Server(info.url, get_info=ldap3.NONE), info.writer_dn,
                            info.writer_password, auto_bind=True)
    assert not conn.modify(sales["dn"], {"cn": [(ldap3.MODIFY_REPLACE, ["x"])]})
    assert conn.result["result"] == 50  # the delegated account writes proxyAddresses only
    assert conn.modify(sales["dn"], {"proxyAddresses": [(ldap3.MODIFY_DELETE, sales["values"])]})
    conn.unbind()
    got = run("apply", str(plan), "--yes", code=1)
    assert got[sales["id"]]["status"] == "skipped"
    # not removed by this plan: never reported already-done
    assert "no longer on the object" in got[sales["id"]]["detail"]


def test_kill_9_during_apply_then_resume_or_undo(site):
    info, live, tmp_path = site
    plan, data = plan_for(live, tmp_path)
    wanted = {a["dn"].casefold(): a["values"] for a in data["actions"]}
    kill_loop(plan, wanted, lambda: values(info), ["--allow-unencrypted"])
