"""``ccmig proxies`` over live LDAP (the private slapd, mocks/slapd) gives the
same bytes as over LDIF from the same file, in both dialects: the server-side
filter, the attributes asked for and paging never change what the rules see.
Nothing is skipped: without slapd these tests fail (scripts/test installs it)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from toolkit.mocks import orggen
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import attr_line, ccmig

pytestmark = pytest.mark.slapd
DATA = Path(__file__).parent / "data" / "ldap"

AD_OBJECTS = [
    ("CN=Smith\\, John,OU=Staff,DC=corp,DC=example",
     [("objectClass", "top"), ("objectClass", "person"), ("objectClass", "organizationalPerson"),
      ("objectClass", "user"), ("cn", "Smith, John"), ("sn", "Smith"), ("homeMDB", "CN=DB1,CN=EX1"),
      ("msExchRecipientTypeDetails", "1"),
      ("msExchPoliciesExcluded", "{26491cfc-9e50-4857-861b-0cb8df22b5d7}"),
      ("proxyAddresses", "SMTP:john@corp.example"), ("proxyAddresses", "MS:CORP/HQ/JSMITH"),
      ("proxyAddresses", "CCMAIL:Smith, John at EXCH"),
      ("proxyAddresses", 'ccmail:Smith, "J" [x]\t at PO1'),
      ("proxyAddresses", " smtp:lead@corp.example"), ("proxyAddresses", "SMTP:two@at@corp.example"),
      ("proxyAddresses", "X400:c=US;a= ;p=Corp;s=Smith;")]),
    ("CN=Old,OU=Staff,DC=corp,DC=example",
     [("objectClass", "top"), ("objectClass", "person"), ("objectClass", "organizationalPerson"),
      ("objectClass", "contact"), ("cn", "Old"), ("sn", "Old"), ("targetAddress", "MS:CORP/HQ/OLD"),
      ("proxyAddresses", "smtp:john@corp.example")]),
    ("CN=Plain User,OU=Staff,DC=corp,DC=example",
     [("objectClass", "top"), ("objectClass", "person"), ("objectClass", "organizationalPerson"),
      ("objectClass", "user"), ("cn", "Plain User"), ("sn", "User"), ("proxyAddresses", "gwise:plain.po.dom"),
      ("proxyAddresses", "=cmd|' /C calc'!A0")]),
    ("CN=WS01,OU=Computers,DC=corp,DC=example",
     [("objectClass", "top"), ("objectClass", "person"), ("objectClass", "organizationalPerson"),
      ("objectClass", "user"), ("objectClass", "computer"), ("cn", "WS01"),
      ("proxyAddresses", "MS:CORP/HQ/WS01")]),
    ("CN=Sales,OU=Groups,DC=corp,DC=example",
     [("objectClass", "top"), ("objectClass", "group"), ("cn", "Sales"),
      ("msExchRecipientTypeDetails", "256"), ("proxyAddresses", "SMTP:sales@corp.example"),
      ("proxyAddresses", "ms:CORP/HQ/SALES")]),
]


def write_ldif(path: Path) -> Path:
    blocks = ["\n".join([attr_line("dn", dn)] + [attr_line(k, v) for k, v in attrs])
              for dn, attrs in AD_OBJECTS]
    path.write_text("version: 1\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def same_rows(text: str) -> list:
    """Rows as compared across sources: the DN is as each source gives it
    (slapd writes ``cn=`` where the LDIF says ``CN=``), the key is not."""
    rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")] or json.loads(text)
    return [(r["key"], r["dn"].casefold(), r["kind"], r["values"], r["remove"], r["status"],
             [(f["code"], f["severity"], f["message"].casefold(), f["action"])
              for f in r["findings"]]) for r in rows]


def both(tmp_path: Path, monkeypatch, ldif: Path, base: str, *args: str) -> tuple[str, str]:
    code, offline, err = ccmig(*args, "--ldif", str(ldif))
    assert code in (0, 1), err
    with slapd.SlapdServer(Path(tempfile.mkdtemp(dir=tmp_path)) / "slapd", base, ldif) as info:
        monkeypatch.setenv("CCMIG_LDAP_PASSWORD", info.password)
        live = []
        for page in ("2", "1000"):
            code2, out, err = ccmig(*args, "--allow-unencrypted", "--ldap-url", info.url,
                                    "--base-dn", info.base_dn, "--bind-dn", info.bind_dn,
                                    "--page-size", page)
            assert code2 == code, err
            assert info.password not in out + err
            live.append(out)
    assert live[0] == live[1]
    return offline, live[0]


def test_ad_audit_and_types_over_ldap_equal_ldif(tmp_path, monkeypatch):
    ldif = write_ldif(tmp_path / "org.ldif")
    retire = ["--retire", "MS", "--retire", "GWISE", "--retire", "CCMAIL",
              "--ccmail-decommissioned"]
    offline, live = both(tmp_path, monkeypatch, ldif, "DC=corp,DC=example", "proxies", "audit",
                         *retire, "--format", "json", "--max-values", "5")
    assert same_rows(live) == same_rows(offline)
    rows = {r["key"]: r for r in json.loads(live)}
    assert "dn:cn=ws01,ou=computers,dc=corp,dc=example" not in rows
    smith = rows["dn:cn=smith\\, john,ou=staff,dc=corp,dc=example"]
    assert smith["remove"] == ["MS:CORP/HQ/JSMITH", "CCMAIL:Smith, John at EXCH",
                               'ccmail:Smith, "J" [x]\t at PO1']  # hostile value as read
    assert [f["code"] for f in smith["findings"]] == [
        "malformed-proxy", "duplicate-proxy", "retired-address", "too-many-values"]
    assert rows["dn:cn=plain user,ou=staff,dc=corp,dc=example"]["kind"] == "user"
    assert [f["code"] for f in rows["dn:cn=old,ou=staff,dc=corp,dc=example"]["findings"]] == [
        "duplicate-proxy", "retired-target"]
    offline, live = both(tmp_path, monkeypatch, ldif, "DC=corp,DC=example", "proxies", "types",
                         "--retire", "MS", "--format", "csv")
    assert live == offline and "MS,2,2,1,true," in live


def test_generated_org_over_ldap_equals_ldif(tmp_path, monkeypatch):
    org = tmp_path / "org"
    orggen.generate(orggen.Settings(people=400, seed=11), org)
    offline, live = both(tmp_path, monkeypatch, org / "org.ldif", "DC=corp,DC=example",
                         "proxies", "audit", "--retire", "X400", "--retire", "CCMAIL",
                         "--ccmail-decommissioned", "--format", "jsonl", "--fail-on", "never")
    assert same_rows(live) == same_rows(offline)
    assert len(offline.splitlines()) > 100


def test_exchange55_over_ldap_equals_ldif(tmp_path, monkeypatch):
    ldif = DATA / "exchange55.ldif"
    offline, live = both(tmp_path, monkeypatch, ldif, "o=Org", "proxies", "audit", "--dialect",
                         "exchange55", "--retire", "MS", "--retire", "CCMAIL",
                         "--ccmail-decommissioned", "--format", "json")
    assert same_rows(live) == same_rows(offline)
    rows = {r["dn"].split(",")[0]: r for r in json.loads(live)}
    assert rows["cn=jsmith"]["remove"] == ["MS:ORG/SITE/JSMITH", "CCMAIL:Smith, John at PO1",
                                           "CCMAIL:Smith, John at EXSITE"]
    offline, live = both(tmp_path, monkeypatch, ldif, "o=Org", "proxies", "types", "--dialect",
                         "exchange55", "--format", "json")
    assert live == offline
    assert {r["type"]: r["primaries"] for r in json.loads(live)}.get("SMTP", "absent") is None


def test_ldif_plan_applied_with_ldapmodify_removes_exactly_the_values(tmp_path, monkeypatch):
    """The ldif plan is what ``ldifde -i`` / ``ldapmodify`` apply: every value,
    hostile ones included, is deleted whole, and nothing else changes."""
    import subprocess

    ldif = write_ldif(tmp_path / "org.ldif")
    retire = ["--retire", "MS", "--retire", "CCMAIL", "--retire", "GWISE", "--ccmail-decommissioned"]
    code, plan_text, err = ccmig("proxies", "plan", "--ldif", str(ldif), *retire, "--format", "ldif")
    assert code == 0, err
    (tmp_path / "plan.ldf").write_text(plan_text, encoding="utf-8")
    plan = json.loads(ccmig("proxies", "plan", "--ldif", str(ldif), *retire)[1])
    removed = {a["target"]: a["values"] for a in plan["actions"]}
    assert 'ccmail:Smith, "J" [x]\t at PO1' in removed["dn:cn=smith\\, john,ou=staff,dc=corp,dc=example"]
    with slapd.SlapdServer(tmp_path / "slapd", "DC=corp,DC=example", ldif, admin=True) as info:
        secret = tmp_path / "admin.pw"
        secret.write_text(info.admin_password)
        secret.chmod(0o600)
        done = subprocess.run(["ldapmodify", "-x", "-H", info.url, "-D", info.admin_dn, "-y",
                               str(secret), "-f", str(tmp_path / "plan.ldf")],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        monkeypatch.setenv("CCMIG_LDAP_PASSWORD", info.password)
        live = ["--allow-unencrypted", "--ldap-url", info.url, "--base-dn", info.base_dn,
                "--bind-dn", info.bind_dn]
        code, after, err = ccmig("proxies", "audit", *live, *retire, "--format", "json")
        code, types, _ = ccmig("proxies", "types", *live, "--format", "json")
    assert all(not r["remove"] for r in json.loads(after))
    assert "retired-address" not in after
    counts = {r["type"]: r["values"] for r in json.loads(types)}
    assert "MS" not in counts and "GWISE" not in counts and "CCMAIL" not in counts
    assert counts["SMTP"] == 4 and counts["X400"] == 1  # everything else stays
