"""Remediation files are real AD input: the `ccmig plan --format ldif` change
file, made from the live DC, is accepted by Samba AD DC through `ldapmodify`
(as an administrator runs `ldifde -i`), and the next audit and plan show it."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess

import ldap3
import pytest
from toolkit.mocks.samba import server as samba

from tests.ad_dc import DEMO, org_args
from tests.orgkit import ccmig

pytestmark = pytest.mark.samba


def live(demo_dc, command: str, *extra: str) -> tuple[int, str, str]:
    return ccmig(command, "--ldap-url", demo_dc.ldaps_url, "--ca-file", demo_dc.ca_file, "--base-dn",
                 demo_dc.base_dn, "--bind-dn", demo_dc.bind_dn, *org_args(DEMO, report=False),
                 *extra)  # fmt: skip


def ldif_actions(text: str) -> dict[str, str]:
    """dn -> kind, from the plan's '# id kind' comment before each record."""
    out, kind = {}, None
    for line in text.replace("\n ", "").splitlines():  # unfold continuation lines first
        if line.startswith("# ") and line[2:6].isdigit():
            kind = line.split()[2]
        elif line.startswith("dn: ") and kind:
            out[line[4:]] = kind
        elif line.startswith("dn:: ") and kind:  # a non-ASCII DN, base64 (RFC 2849)
            out[base64.b64decode(line[5:]).decode("utf-8")] = kind
    return out


def test_plan_ldif_is_written_in_the_dns_the_dc_returns(demo_dc, tmp_path, monkeypatch):
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", demo_dc.password)
    plan = tmp_path / "plan.ldif"
    code, _, err = live(demo_dc, "plan", "--format", "ldif", "-o", str(plan))
    assert code == 0, err
    offline = tmp_path / "offline.ldif"
    code, _, err = ccmig("plan", "--ldif", str(DEMO / "org.ldif"), *org_args(DEMO, report=False),
                         "--format", "ldif", "-o", str(offline))  # fmt: skip
    assert code == 0, err
    assert ldif_actions(plan.read_text()) == ldif_actions(offline.read_text())
    assert len(ldif_actions(plan.read_text())) >= 5


def test_plan_ldif_applied_with_ldapmodify_is_accepted_and_shows(ad_controller, demo_dc, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", demo_dc.password)
    plan = tmp_path / "plan.ldif"
    code, _, err = live(demo_dc, "plan", "--format", "ldif", "-o", str(plan))
    assert code == 0, err
    actions = ldif_actions(plan.read_text())
    kinds = set(actions.values())
    assert {"add-primary-address", "remove-custom-recipient"} <= kinds, kinds

    ad_controller.dirty.add("demo")  # the next user gets the demo org freshly loaded
    secret = tmp_path / "admin.pw"
    secret.touch(mode=0o600)
    secret.write_text(demo_dc.admin_password)
    env = dict(os.environ, LDAPTLS_CACERT=demo_dc.ca_file)
    done = subprocess.run([samba.find_tool("ldapmodify"), "-H", demo_dc.ldaps_url, "-x", "-D",
                           demo_dc.admin_dn, "-y", str(secret), "-f", str(plan)],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("modifying entry") + done.stdout.count("deleting entry") == len(actions)

    code, out, err = live(demo_dc, "audit", "--format", "json", "--fail-on", "never")
    assert code == 0, err
    rows = {r["dn"]: r for r in json.loads(out) if r.get("dn")}
    for dn, kind in actions.items():
        if kind == "remove-custom-recipient":
            assert dn not in rows, dn
        else:
            assert dn in rows
    again = tmp_path / "again.ldif"
    code, _, err = live(demo_dc, "plan", "--format", "ldif", "-o", str(again))
    assert code == 0, err
    assert ldif_actions(again.read_text()) == {}  # nothing left to do


def test_plan_ldif_replaces_a_value_equal_but_for_case(ad_controller, demo_dc, tmp_path,
                                                       monkeypatch):
    """AD compares proxyAddresses case-insensitively: adding CCMAIL:X to a mailbox
    carrying ccMail:X is refused ("attribute or value exists"), so the plan's ldif
    deletes that value and adds the primary in one modify, which the DC accepts,
    leaving exactly the primary in place of the old value.

    (Samba itself, unlike AD, stores a second value equal but for case - a plain
    add is accepted here - so the refusal is shown against slapd, whose schema
    says caseIgnoreMatch: tests/test_remediation_replace.py.)"""
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", demo_dc.password)
    code, out, err = live(demo_dc, "plan", "--format", "json")
    assert code == 0, err
    replacing = {a["target"]["dn"]: a["target"] for a in json.loads(out)["actions"]
                 if a["target"].get("replaces") and not a["blocked"] and not a["manual"]}
    assert replacing
    code, text, err = live(demo_dc, "plan", "--format", "ldif")
    assert code == 0, err
    records = [r for r in text.split("\n\n") if "\ndelete: proxyAddresses\n" in r]
    assert len(records) == len(replacing)

    ad_controller.dirty.add("demo")
    secret = tmp_path / "admin.pw"
    secret.touch(mode=0o600)
    secret.write_text(demo_dc.admin_password)

    def modify(ldif: str) -> subprocess.CompletedProcess:
        (tmp_path / "change.ldf").write_text(ldif, encoding="utf-8")
        return subprocess.run([samba.find_tool("ldapmodify"), "-H", demo_dc.ldaps_url, "-x",
                               "-D", demo_dc.admin_dn, "-y", str(secret), "-f",
                               str(tmp_path / "change.ldf")], capture_output=True, text=True,
                              env=dict(os.environ, LDAPTLS_CACERT=demo_dc.ca_file), timeout=60)

    before = dc_values(demo_dc)
    done = modify("version: 1\n\n" + "\n\n".join(records) + "\n")
    assert done.returncode == 0, done.stderr
    after = dc_values(demo_dc)
    for dn, target in replacing.items():
        assert after[dn.casefold()] == sorted(
            [v for v in before[dn.casefold()] if v != target["replaces"]] + [target["address"]])


# ---------------------------------------------------------------- ccmig proxies against a real AD

RETIRE = ("--retire", "CCMAIL", "--ccmail-decommissioned")


def proxies(demo_dc, command: str, *extra: str) -> tuple[int, str, str]:
    return ccmig("proxies", command, "--ldap-url", demo_dc.ldaps_url, "--ca-file", demo_dc.ca_file,
                 "--base-dn", demo_dc.base_dn, "--bind-dn", demo_dc.bind_dn, *RETIRE, *extra)  # fmt: skip


def type_counts(demo_dc) -> dict[str, int]:
    code, out, err = ccmig("proxies", "types", "--ldap-url", demo_dc.ldaps_url, "--ca-file", demo_dc.ca_file,
                           "--base-dn", demo_dc.base_dn, "--bind-dn", demo_dc.bind_dn, "--format", "json")
    assert code == 0, err
    return {r["type"]: r["values"] for r in json.loads(out)}


def test_proxies_plan_applied_by_the_delegated_account(ad_controller, demo_dc, tmp_path, monkeypatch):
    """`proxies plan --format ldif` made from the DC, applied with ldapmodify by the
    service account itself: its one delegated right (write proxyAddresses) is enough,
    AD accepts every value as written, and the next audit has nothing left to remove."""
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", demo_dc.password)
    code, before, err = proxies(demo_dc, "audit", "--format", "json", "--fail-on", "never")
    assert code == 0, err
    offline = ccmig("proxies", "audit", "--ldif", str(DEMO / "org.ldif"), *RETIRE, "--format", "json",
                    "--fail-on", "never")[1]  # fmt: skip
    key = [("key", "kind", "values", "remove", "status")]
    assert [tuple(r[k] for k in key[0]) for r in json.loads(before)] == \
        [tuple(r[k] for k in key[0]) for r in json.loads(offline)]  # fmt: skip
    to_remove = sum(len(r["remove"]) for r in json.loads(before))
    assert to_remove > 200

    counts_before = type_counts(demo_dc)
    code, plan, err = proxies(demo_dc, "plan", "--format", "ldif")
    assert code == 0, err
    ad_controller.dirty.add("demo")
    (tmp_path / "plan.ldf").write_text(plan, encoding="utf-8")
    secret = tmp_path / "svc.pw"
    secret.touch(mode=0o600)
    secret.write_text(demo_dc.password)
    done = subprocess.run([samba.find_tool("ldapmodify"), "-H", demo_dc.ldaps_url, "-x", "-D",
                           demo_dc.bind_dn, "-y", str(secret), "-f", str(tmp_path / "plan.ldf")],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, LDAPTLS_CACERT=demo_dc.ca_file))  # fmt: skip
    assert done.returncode == 0, done.stderr
    code, after, err = proxies(demo_dc, "audit", "--format", "json", "--fail-on", "never")
    assert code == 0, err
    assert all(not r["remove"] for r in json.loads(after))
    counts_after = type_counts(demo_dc)
    # exactly the planned values gone (cc:Mail ones the rules keep stay), nothing else touched
    assert counts_after == {**counts_before, "CCMAIL": counts_before["CCMAIL"] - to_remove}


def dc_values(demo_dc) -> dict[str, list[str]]:
    """Every object's proxyAddresses as the DC holds them, read over LDAPS
    (certificate verified) by the administrator, not through ccmig."""
    tls = ldap3.Tls(ca_certs_file=demo_dc.ca_file, validate=ssl.CERT_REQUIRED)
    host = demo_dc.ldaps_url.split("//", 1)[1]
    name, _, port = host.partition(":")
    server = ldap3.Server(name, port=int(port or 636), use_ssl=True, tls=tls,
                          get_info=ldap3.NONE)
    conn = ldap3.Connection(server, demo_dc.admin_dn, demo_dc.admin_password, auto_bind=True)
    entries = conn.extend.standard.paged_search(demo_dc.base_dn, "(proxyAddresses=*)",
                                                attributes=["proxyAddresses"], paged_size=500,
                                                generator=True)
    out = {e["dn"].casefold(): sorted(v.decode("utf-8") for v in
                                      e["raw_attributes"]["proxyAddresses"])
           for e in entries if e.get("type") == "searchResEntry"}
    conn.unbind()
    return out


def test_proxies_apply_and_undo_over_ldaps_on_the_dc(ad_controller, demo_dc, tmp_path,
                                                      monkeypatch):
    """The whole LDAP write lifecycle against a real AD: plan -> dry run ->
    apply --yes over LDAPS (--ca-file) as the delegated service account ->
    no retired-address left -> undo --yes -> every object's values as before."""
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", demo_dc.password)
    ad_controller.dirty.add("demo")  # changed here: the next user gets it freshly loaded
    before = dc_values(demo_dc)
    plan = tmp_path / "plan.json"
    code, _, err = proxies(demo_dc, "plan", "-o", str(plan))
    assert code == 0, err
    actions = json.loads(plan.read_text(encoding="utf-8"))["actions"]
    assert len(actions) > 50 and not any(a["blocked"] for a in actions)

    def run(*args: str) -> dict[str, str]:
        code, out, err = ccmig(*args, "--ca-file", demo_dc.ca_file, "--format", "json")
        assert code == 0, (out[-2000:], err[-2000:])
        assert demo_dc.password not in out + err
        return {o["id"]: o["status"] for o in json.loads(out)}

    assert set(run("apply", str(plan)).values()) == {"would-apply"}
    assert dc_values(demo_dc) == before  # a dry run writes nothing
    assert set(run("apply", str(plan), "--yes").values()) == {"applied"}
    after = dc_values(demo_dc)
    for a in actions:
        dn = a["dn"].casefold()
        assert after[dn] == sorted(v for v in before[dn] if v not in a["values"]), dn
    untouched = set(before) - {a["dn"].casefold() for a in actions}
    assert all(after[dn] == before[dn] for dn in untouched)

    code, out, err = proxies(demo_dc, "audit", "--format", "json", "--fail-on", "never")
    assert code == 0, err
    codes = {f["code"] for r in json.loads(out) for f in r["findings"]}
    assert "retired-address" not in codes
    journal = f"{plan}.journal"
    # the change board's page: what the journal says went, per object, from the DC's answers
    code, page, err = proxies(demo_dc, "report", "--journal", journal)
    assert code == 0, err
    assert page.count("data-state=\"done\"") == len(actions)
    removed = sum(len(a["values"]) for a in actions)
    assert "data-type=\"CCMAIL\" data-before=\"" in page
    assert f"data-removed=\"{removed}\" data-reappeared=\"0\"" in page
    assert set(run("undo", journal, "--yes").values()) == {"reverted"}
    assert dc_values(demo_dc) == before
