"""`ccmig audit` against a real Active Directory (Samba AD DC): the same rows as
the organisation's own LDIF, over LDAPS and StartTLS with the server's
certificate verified (--ca-file), on the demo org and a generated org of
>= 2,000 recipients; a page size above AD's MaxPageSize still reads everything.

Nothing is skipped: without Samba these fail (scripts/test installs it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from toolkit.mocks.samba import server as samba

from tests.ad_dc import DEMO, ROOT, live_audit, offline_audit, rows_of
from toolkit.exchange.dialects import to_recipient
from toolkit.exchange.ldif import read_ldif
from toolkit.model import Dialect

pytestmark = pytest.mark.samba


TRANSPORTS = {
    "ldaps": lambda info: ("--ldap-url", info.ldaps_url),
    "starttls": lambda info: ("--ldap-url", info.url, "--starttls"),
}


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_demo_org_rows_equal_its_ldif(demo_dc, monkeypatch, transport):
    live = live_audit(demo_dc, monkeypatch, DEMO, *TRANSPORTS[transport](demo_dc))
    offline = offline_audit(DEMO)
    assert len(json.loads(offline)) > 300
    assert rows_of(live) == rows_of(offline)


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_generated_org_of_2000_recipients_rows_equal_its_ldif(big_dc, big_org, monkeypatch, transport):
    live = live_audit(big_dc, monkeypatch, big_org, *TRANSPORTS[transport](big_dc))
    recipients = [e for e in read_ldif(big_org / "org.ldif") if to_recipient(e, Dialect.AD)]
    assert len(recipients) >= 2000
    rows = rows_of(live)
    assert sum(1 for r in rows if r[0].startswith("dn:")) > 1000  # more than one of AD's pages
    assert rows == rows_of(offline_audit(big_org))


def test_page_size_above_max_page_size_still_reads_everything(big_dc, big_org, monkeypatch):
    # AD caps a page at MaxPageSize (1000) without saying so; paging must go on.
    live = live_audit(big_dc, monkeypatch, big_org, "--ldap-url", big_dc.ldaps_url, "--page-size", "5000")
    assert rows_of(live) == rows_of(offline_audit(big_org))


def test_load_report_lists_what_ad_refused(demo_dc):
    skipped = demo_dc.skipped
    assert demo_dc.loaded == 332
    dropped = {s["attribute"]: s["values"] for s in skipped if "attribute" in s}
    assert dropped == {"objectguid": 334}  # AD owns objectGUID
    reasons = {s["dn"]: s["reason"] for s in skipped if "dn" in s}
    assert reasons["DC=corp,DC=example"].startswith("the domain itself")
    assert reasons["CN=Users,DC=corp,DC=example"] == "already exists"
    created = [dn for dn, why in reasons.items() if why.startswith("created")]
    assert any(dn.startswith("CN=Mailbox Store (EXSRV01),") for dn in created)  # homeMDB's target


def test_ad_test_server_script_prints_one_json_line(ad_controller, demo_dc):
    directory = ad_controller.root / "demo"
    ad_controller.stop()
    script = ROOT / "scripts" / "ad-test-server"
    try:
        done = subprocess.run([str(script), "start", "--dir", str(directory)], capture_output=True,
                              text=True, timeout=120, env={"PATH": "/usr/bin:/bin:/usr/sbin",
                                                           "PYTHON": sys.executable})  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 1
        info = json.loads(lines[0])
        for key in ("url", "ldaps_url", "kerberos_url", "base_dn", "bind_dn", "password", "ca_file",
                    "realm", "krb5_config", "principal", "keytab", "pid", "loaded", "skipped"):
            assert key in info, key
        assert info["realm"] == "CORP.EXAMPLE" and info["base_dn"] == "DC=corp,DC=example"
        assert samba.running_pid(directory) == info["pid"]
        # A second start of the same directory is refused while it runs.
        again = subprocess.run([str(script), "start", "--dir", str(directory)], capture_output=True,
                               text=True, timeout=60)  # fmt: skip
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        stopped = subprocess.run([str(script), "stop", "--dir", str(directory)], capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
    assert json.loads(stopped.stdout) == {"stopped": True}
    assert samba.running_pid(directory) is None
