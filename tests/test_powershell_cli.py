"""The PowerShell bridge through the CLI, against the mock Exchange endpoint:
addresses, stats, audit --exchange-uri, audit --source powershell, and the
Exchange-side actions of apply/undo."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from toolkit.mocks.exchange.server import MockExchange, MockExchangeServer

from tests.orgkit import ccmig

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mocks" / "demo"
PASSWORD = "Mock-Pa55-word"
DIRS = [a for p in sorted((DEMO / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]


@pytest.fixture
def exch(monkeypatch):
    core = MockExchange.from_files(DEMO / "org.ldif", DEMO / "stats.csv", password=PASSWORD)
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    with MockExchangeServer(core) as srv:
        yield srv, ["--exchange-uri", srv.uri, "--exchange-auth", "basic", "--exchange-user",
                    core.username, "--allow-unencrypted"]


def audit_rows(*args: str) -> list[dict]:
    code, out, err = ccmig("audit", "--exchange-po", "EXCH", *DIRS, *args, "--format", "json",
                           "--fail-on", "never")
    assert code == 0, err
    return json.loads(out)


def strip(rows: list[dict]) -> list[tuple]:
    return [(r["key"], r["route"], r["status"], r["ccmail_name"], r["old_post_office"],
             [f["code"] for f in r["findings"]]) for r in rows]


def test_addresses_exact_unicode_and_commas(exch):
    srv, conn = exch
    ldif = (DEMO / "org.ldif").read_text(encoding="utf-8")
    assert "proxyAddresses" in ldif
    rows = audit_rows("--ldif", str(DEMO / "org.ldif"))
    wanted = [r["dn"] for r in rows if r["kind"] == "mailbox"][:40]
    code, out, err = ccmig("addresses", *conn, *wanted, "nobody-at-all", "--format", "json")
    assert code == 0
    assert err.strip().splitlines() == [err.strip().splitlines()[0]]
    assert "nobody-at-all" in err
    got = json.loads(out)
    assert [g["identity"] for g in got] == [*wanted, "nobody-at-all"]
    assert got[-1] == {"identity": "nobody-at-all", "dn": None, "found": False, "addresses": []}
    from toolkit.exchange.ldif import read_ldif

    proxies = {e.dn: e.texts("proxyaddresses") for e in read_ldif(DEMO / "org.ldif")}
    for g in got[:-1]:
        assert g["found"] and g["dn"] == g["identity"]
        assert sorted(g["addresses"]) == sorted(proxies[g["dn"]])
    assert any("," in a and not a.isascii() for g in got for a in g["addresses"])


def test_addresses_nothing_found_exits_2(exch):
    _, conn = exch
    code, _, err = ccmig("addresses", *conn, "ghost1", "ghost2")
    assert code == 2 and "ghost1" in err


def test_basic_over_http_needs_allow_unencrypted(exch):
    _, conn = exch
    code, _, err = ccmig("addresses", *conn[:-1], "x")
    assert code == 2 and "--allow-unencrypted" in err
    assert PASSWORD not in err


def test_audit_with_exchange_uri_reads_item_counts(exch):
    _, conn = exch
    offline = audit_rows("--ldif", str(DEMO / "org.ldif"), "--mailbox-stats",
                         str(DEMO / "stats.csv"))
    live = audit_rows("--ldif", str(DEMO / "org.ldif"), *conn)
    assert any("unconfirmed-migration" in r[5] for r in strip(live))
    assert strip(live) == strip(offline)  # same counts, no source-mismatch on equal data


def test_source_mismatch_when_exchange_differs(exch):
    srv, conn = exch
    rows = audit_rows("--ldif", str(DEMO / "org.ldif"))
    target = next(r for r in rows if r["kind"] == "mailbox" and r["status"] == "complete")
    from toolkit.exchange.powershell import ExchangeSession, ExchangeSettings

    settings = ExchangeSettings(srv.uri, auth="basic", username=srv.core.username,
                                password=PASSWORD, allow_unencrypted=True)
    with ExchangeSession(settings) as s:
        assert s.update_email_addresses(target["dn"], add=["ccmail:Extra, Ex at PO9"]) is None
    live = {r["key"]: r for r in audit_rows("--ldif", str(DEMO / "org.ldif"), *conn)}
    codes = [f["code"] for f in live[target["key"]]["findings"]]
    assert codes == ["source-mismatch"]
    assert "Extra, Ex at PO9" in live[target["key"]]["findings"][0]["message"]
    others = [r for k, r in live.items() if k != target["key"]]
    assert not any(f["code"] == "source-mismatch" for r in others for f in r["findings"])


def test_source_powershell_equals_ldif(exch):
    _, conn = exch
    offline = audit_rows("--ldif", str(DEMO / "org.ldif"), "--mailbox-stats",
                         str(DEMO / "stats.csv"))
    live = audit_rows("--source", "powershell", *conn)
    assert strip(live) == strip(offline)


def test_stats_csv_feeds_mailbox_stats(exch, tmp_path):
    _, conn = exch
    rows = audit_rows("--ldif", str(DEMO / "org.ldif"))
    dns = [r["dn"] for r in rows if r["kind"] == "mailbox"]
    code, out, _ = ccmig("stats", *conn, *dns, "--format", "csv")
    assert code == 0
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == ["identity", "item_count"] and len(lines) > 10
    (tmp_path / "s.csv").write_text(out)
    a = audit_rows("--ldif", str(DEMO / "org.ldif"), "--mailbox-stats", str(tmp_path / "s.csv"))
    b = audit_rows("--ldif", str(DEMO / "org.ldif"), *conn)
    assert strip(a) == strip(b)


def test_exchange_side_apply_and_undo(exch, tmp_path):
    _, conn = exch
    plan_path = tmp_path / "plan.json"
    code, _, err = ccmig("plan", "--ldif", str(DEMO / "org.ldif"), *DIRS, "--exchange-po", "EXCH",
                         "--mailbox-stats", str(DEMO / "stats.csv"), "-o", str(plan_path))
    assert code == 0, err
    plan = json.loads(plan_path.read_text())
    primaries = [a for a in plan["actions"]
                 if a["kind"] == "add-primary-address" and not a["blocked"] and not a["manual"]]
    contacts = [a for a in plan["actions"]
                if a["kind"] == "remove-custom-recipient" and not a["blocked"] and not a["manual"]]
    assert primaries and contacts
    code, out, err = ccmig("apply", str(plan_path), *conn, "--yes", "--source", "powershell",
                           "--only", "add-primary-address", "--only", "remove-custom-recipient")
    assert out.count(" applied ") == len(primaries) + len(contacts), out + err
    after = {r["dn"]: r for r in audit_rows("--source", "powershell", *conn)}
    for a in primaries:
        assert "missing-primary-address" not in [f["code"] for f in after[a["mailbox"]]["findings"]]
    for a in contacts:
        assert a["target"]["dn"] not in after
    code, out, err = ccmig("undo", f"{plan_path}.journal", "--yes", *conn)
    assert out.count(" reverted ") >= len(primaries), out
    restored = {r["dn"]: r for r in audit_rows("--source", "powershell", *conn)}
    for a in primaries:
        assert "missing-primary-address" in [f["code"] for f in restored[a["mailbox"]]["findings"]]
    # Re-creating an orphan contact collides with the mailbox's secondary (Exchange keeps
    # proxies unique): undo says so, per contact, and exits 1.
    assert code == 1 and out.count(" failed ") == len(contacts)
    assert "already being used" in out
