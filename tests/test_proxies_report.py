"""``ccmig proxies report``: the page's numbers agree with ``proxies types`` and
``proxies audit`` on the same organisation, the policies section says whether
policies were checked, ``--journal`` shows what an apply removed and what
reappeared, hostile values stay text, and the same inputs give the same bytes.
One test renders the page in headless Chromium and takes a screenshot."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.orgkit import ccmig
from tests.pxorg import CCMAIL_POLICY, HOSTILE, PASSWORD, start, write_org, write_policies
from tests.test_report import Page
from tests.test_report_browser import load
from toolkit.proxies.apply import apply_proxy_plan
from toolkit.proxies.report import type_label

RETIRE = ("--retire", "MS", "--retire", "CCMAIL", "--ccmail-decommissioned")


@pytest.fixture
def ldif(tmp_path: Path) -> Path:
    return write_org(tmp_path / "org")


def report(*args: str) -> tuple[int, str, str]:
    return ccmig("proxies", "report", *args)


def cli_json(command: str, ldif: Path, *extra: str) -> list[dict]:
    code, out, err = ccmig("proxies", command, "--ldif", str(ldif), *RETIRE, *extra,
                           "--format", "json")
    assert code in (0, 1), err
    return json.loads(out)


def test_page_agrees_with_types_and_audit(ldif, tmp_path):
    page_file = tmp_path / "r.html"
    code, _, err = report("--ldif", str(ldif), *RETIRE, "-o", str(page_file))
    assert code == 0, err
    text = page_file.read_text(encoding="utf-8")
    page = Page(text)
    assert page.errors == []
    types = cli_json("types", ldif)
    assert page.chart("types") == {type_label(t["type"]): t["values"] for t in types
                                   if t["values"]}
    assert "' SMTP'" in page.chart("types")  # a leading space stays visible
    # retired types are drawn in the warning colour, the others not
    classes = {a["data-label"]: a["class"] for a, _ in page.find("g") if a.get("data-label")}
    assert classes["MS"] == classes["CCMAIL"] == "sev-error" and classes["SMTP"] == "sev-info"
    rows = cli_json("audit", ldif)
    per_finding = Counter(code for r in rows for code in {f["code"] for f in r["findings"]})
    shown = {a["data-code"]: int(a["data-count"]) for a, _ in page.find("tr")
             if a.get("data-code")}
    assert shown == dict(per_finding) and shown["retired-address"] >= 1
    keyed = [a["data-key"] for a, _ in page.find("tr") if a.get("data-key")]
    assert keyed == [r["key"] for r in rows]
    assert page.find("p", data_policies="not-checked")
    assert not page.find("section", id="changes")
    visible = "".join(page.text)
    for value in HOSTILE:
        assert value.replace("\t", "\ufffd") in visible
    # self-contained: nothing fetched, nothing run
    assert "<script" not in text and "src=" not in text and "http://" not in text
    assert "Content-Security-Policy" in text


def test_same_inputs_same_bytes_and_markdown(ldif, tmp_path):
    outs = []
    for name in ("a.html", "b.html"):
        code, _, err = report("--ldif", str(ldif), *RETIRE, "-o", str(tmp_path / name))
        assert code == 0, err
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    code, md, err = report("--ldif", str(ldif), *RETIRE, "--format", "md")
    assert code == 0, err
    assert md.startswith("# Legacy proxy addresses\n")
    assert "| `retired-address` | warning |" in md
    assert "Not checked: the email address policies" in md
    assert "- \\-\\-ccmail-decommissioned: yes" in md or "- --ccmail-decommissioned: yes" in md
    assert "<" not in md.replace("\\<", "")  # no tag survives from a directory value
    code, md2, _ = report("--ldif", str(ldif), *RETIRE, "-o", str(tmp_path / "t.md"))
    assert (tmp_path / "t.md").read_text(encoding="utf-8") == md


def test_policies_that_still_generate_retired_types(ldif, tmp_path, monkeypatch):
    srv = start(ldif, write_policies(tmp_path / "policies.json", CCMAIL_POLICY))
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    try:
        code, out, err = report("--ldif", str(ldif), *RETIRE, "--exchange-uri", srv.uri,
                                "--exchange-auth", "basic", "--exchange-user",
                                srv.core.username, "--allow-unencrypted")
    finally:
        srv.stop()
    assert code == 0, err
    page = Page(out)
    (row,) = [t for a, t in page.find("tr") if a.get("data-policy")]
    assert "Legacy cc:Mail" in row and "CCMAIL" in row and "MS" not in row  # MS: disabled
    assert not page.find("p", data_policies="not-checked")


class Store:
    """An in-memory write path whose policy stamps one MS value back."""

    path = "ldap"

    def __init__(self, values: dict[str, list[str]], stamps: dict[str, str]) -> None:
        self.values, self.stamps = values, stamps

    def can_write(self, action):
        return None

    def read(self, dn: str) -> list[str] | None:
        return list(self.values[dn]) if dn in self.values else None

    def edit(self, dn: str, cmdlet, *, remove: Sequence[str] = (), add: Sequence[str] = ()):
        kept = [v for v in self.values[dn] if v not in remove] + list(add)
        if dn in self.stamps and self.stamps[dn] in remove:
            kept.append(self.stamps[dn])
        self.values[dn] = kept


def applied_journal(ldif: Path, tmp_path: Path) -> tuple[Path, dict]:
    """Plan the organisation, apply it to a store that re-stamps Smith's MS value."""
    code, out, err = ccmig("proxies", "plan", "--ldif", str(ldif), *RETIRE)
    assert code == 0, err
    plan = json.loads(out)
    from toolkit.exchange.ldif import read_ldif
    from toolkit.proxies.read import LDIF_ATTRIBUTES, read_objects

    objects = {o.dn: [v.text for v in o.values]
               for o in read_objects(read_ldif(str(ldif), LDIF_ATTRIBUTES), "ad")}
    smith = next(dn for dn in objects if dn.startswith("CN=Smith"))
    store = Store(objects, {smith: "MS:CORP/HQ/JSMITH"})
    journal = tmp_path / "proxies.journal"
    outcomes = apply_proxy_plan(plan, store, yes=True, journal_path=str(journal))
    assert {o.status for o in outcomes} <= {"applied", "blocked", "skipped"}
    return journal, plan


def test_journal_before_and_after(ldif, tmp_path):
    journal, plan = applied_journal(ldif, tmp_path)
    code, out, err = report("--ldif", str(ldif), *RETIRE, "--journal", str(journal))
    assert code == 0, err
    page = Page(out)
    assert page.errors == []
    written = [a for a, _ in page.find("tr") if a.get("data-dn")]
    assert len(written) == sum(1 for a in plan["actions"] if not a["blocked"]) > 0
    removed = Counter(v.split(":", 1)[0].upper() for a in plan["actions"] if not a["blocked"]
                      for v in a["values"])
    per_type = {a["data-type"]: a for a, _ in page.find("tr") if a.get("data-removed")}
    assert {t: int(a["data-removed"]) for t, a in per_type.items() if int(a["data-removed"])} \
        == dict(removed)
    ms = per_type["MS"]
    assert (ms["data-reappeared"], ms["data-after"]) == ("1", "1")  # only the re-stamped one
    assert per_type["CCMAIL"]["data-reappeared"] == "0"
    assert int(per_type["SMTP"]["data-before"]) == int(per_type["SMTP"]["data-after"]) > 0
    smith = next(t for a, t in page.find("tr") if a.get("data-dn", "").startswith("CN=Smith"))
    assert "MS:CORP/HQ/JSMITH" in smith
    code, md, err = report("--ldif", str(ldif), *RETIRE, "--journal", str(journal),
                           "--format", "md")
    assert code == 0 and "## Before and after" in md, err


def test_bad_journal_is_one_line_exit_2(ldif, tmp_path):
    code, out, err = report("--ldif", str(ldif), *RETIRE, "--journal",
                            str(tmp_path / "missing"))
    assert code == 2 and "--journal" in err and "Traceback" not in err
    bad = tmp_path / "bad.journal"
    bad.write_text("garbage\n{}\n", encoding="utf-8")
    code, _, err = report("--ldif", str(ldif), *RETIRE, "--journal", str(bad))
    assert code == 2 and "Traceback" not in err


def test_report_renders_in_chromium_with_a_screenshot(ldif, tmp_path):
    journal, _ = applied_journal(ldif, tmp_path)
    page_file = tmp_path / "proxies.html"
    code, _, err = report("--ldif", str(ldif), *RETIRE, "--journal", str(journal),
                          "-o", str(page_file))
    assert code == 0, err
    dom, console = load(page_file, tmp_path / "profile")
    assert console == [], console
    page = Page(dom)
    assert page.chart("types")["MS"] > 0
    for a, _ in page.find("rect"):
        assert float(a["width"]) > 0, a
    for table in ("types-table", "findings-table", "change-types-table", "changes-table",
                  "objects-table"):
        assert page.find("table", id=table), table
    shot = screenshot(page_file, tmp_path / "shot-profile", tmp_path / "proxies.png")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 1600)
    assert len(png) > 20_000  # a drawn page, not a blank one (a blank one is ~5 kB)


def screenshot(page: Path, profile: Path, png: Path) -> Path:
    import os
    import subprocess

    from tests.test_report_browser import chromium

    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
               "--window-size=1200,1600", f"--screenshot={png}", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(profile)}, check=False)
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    return png
