"""Acceptance of the live-directory issue: `ccmig audit` over LDAP (the AD-like
service account, paging in play) gives the same rows as `--ldif` on the same file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toolkit.mocks import orggen
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import ccmig


def rows_of(out: str) -> list[tuple]:
    return [(r["key"], r["kind"], r["route"], r["status"], r["ccmail_name"],
             r["old_post_office"], [f["code"] for f in r["findings"]]) for r in json.loads(out)]


@pytest.mark.parametrize(("dialect", "people", "base"), [
    ("ad", 1700, "DC=corp,DC=example"),
    ("exchange55", 1100, "o=Corp"),
])
def test_ldap_audit_equals_ldif_audit(tmp_path, monkeypatch, dialect, people, base):
    org = tmp_path / "org"
    summary = orggen.generate(orggen.Settings(people=people, seed=7, dialect=dialect), org)
    ldif = org / "org.ldif"
    base = _base_of(ldif) or base
    common = [a for p in sorted((org / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    common += ["--exchange-po", "EXCH", "--mailbox-stats", str(org / "stats.csv"),
               "--dialect", dialect, "--format", "json", "--fail-on", "never"]
    code, offline, err = ccmig("audit", "--ldif", str(ldif), *common)
    assert code == 0, err
    with slapd.SlapdServer(tmp_path / "slapd", base, ldif) as info:
        monkeypatch.setenv("CCMIG_LDAP_PASSWORD", info.password)
        code, live, err = ccmig("audit", "--allow-unencrypted", "--ldap-url", info.url,
                                "--base-dn", info.base_dn, "--bind-dn", info.bind_dn, *common)
    assert code == 0, err
    assert info.password not in live and info.password not in err
    assert len(json.loads(offline)) > people // 2
    assert rows_of(live) == rows_of(offline)
    assert summary.people == people if hasattr(summary, "people") else True


def test_keyring_secret_used_and_never_shown(tmp_path, isolated):
    demo = Path(__file__).resolve().parent.parent / "mocks" / "demo"
    dirs = [a for p in sorted((demo / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    with slapd.SlapdServer(tmp_path / "slapd", "DC=corp,DC=example", demo / "org.ldif") as info:
        code, out, _ = ccmig("creds", "set", "--for", "ldap",
                             input=info.password + "\n")
        assert code == 0
        code, live, err = ccmig("-vv", "audit", "--allow-unencrypted",
                                "--ldap-url", info.url, "--base-dn", info.base_dn,
                                "--bind-dn", info.bind_dn, *dirs, "--exchange-po", "EXCH",
                                "--format", "csv")
    assert code == 1, err
    assert "from keyring" in err  # -vv says where the secret came from ...
    assert info.password not in live + err + out  # ... never what it is
    assert live.count("\n") > 300


def _base_of(ldif: Path) -> str | None:
    """The generator's suffix: the DN of the last RDN pair set common to all entries."""
    for line in ldif.read_text(encoding="utf-8").splitlines():
        if line.lower().startswith("dn: "):
            dn = line[4:]
            parts = dn.split(",")
            dcs = [p for p in parts if p.lower().startswith(("dc=", "o="))]
            return ",".join(dcs) if dcs else None
    return None
