"""Remediation files are real AD input: the `ccmig plan --format ldif` change
file, made from the live DC, is accepted by Samba AD DC through `ldapmodify`
(as an administrator runs `ldifde -i`), and the next audit and plan show it."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest

from mocks.samba import server as samba
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
