"""The HTML report in a real browser: headless Chromium loads the file, the DOM
it builds holds both charts with their categories and the tables, and the
console stays silent (no script error, no blocked fetch).

Chromium is a test dependency (Debian package ``chromium``, installed by
``scripts/test``); without it this test fails rather than skips, so a missing
browser can never pass for a working report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.orgkit import Org, ccmig
from tests.test_report import HOSTILE_TEXTS, Page, audit_rows, hostile_org

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Chromium logs every console message (errors, CSP violations, uncaught
# exceptions) as "...:CONSOLE(...)..." or "...:CONSOLE:..." with --enable-logging.
CONSOLE = re.compile(r":CONSOLE\b|Uncaught", re.IGNORECASE)


def chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is needed for this test: apt-get install --no-install-recommends "
                "chromium (scripts/test installs it)")


def load(page: Path, profile: Path, window: str | None = None) -> tuple[str, list[str]]:
    """The DOM Chromium built from ``page``, and its console lines."""
    command = [
        chromium(), *([f"--window-size={window}"] if window else []), "--headless",
        "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # even a stray fetch could not leave
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--dump-dom", page.resolve().as_uri(),
    ]
    env = {**os.environ, "HOME": str(profile)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.lstrip().lower().startswith("<!doctype html>"), done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if CONSOLE.search(line)]


def test_console_errors_are_seen(tmp_path):
    """The check below is not vacuous: a page with a script error and a blocked
    fetch does produce console lines that it catches."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta "
                   "http-equiv=\"Content-Security-Policy\" content=\"img-src 'none'\">"
                   "<title>bad</title></head><body><img src=\"x.png\">"
                   "<script>nope();</script></body></html>", encoding="utf-8")
    _, console = load(bad, tmp_path / "profile")
    assert console, "Chromium's console output is no longer recognised"


def test_report_renders_in_chromium(org: Org, tmp_path):
    args = hostile_org(org)
    runs = tmp_path / "runs"
    ccmig("audit", *args, "--record", str(runs), "-o", str(tmp_path / "audit.txt"))
    report = tmp_path / "report.html"
    code, _, err = ccmig("report", *args, "--record", str(runs), "-o", str(report))
    assert code == 1, err
    dom, console = load(report, tmp_path / "profile")
    assert console == [], console

    page = Page(dom)
    rows = audit_rows(args)
    assert page.chart("status") == dict(Counter(r["status"] for r in rows))
    assert page.chart("post-office") == dict(
        Counter(r["old_post_office"] or "(none)" for r in rows))
    assert set(page.chart("trend")) == set(page.chart("status"))
    # Every chart category is drawn: a label, and a bar of non-zero width.
    for a, _ in page.find("rect"):
        assert float(a["width"]) > 0, a
    assert len(page.find("g")) >= len(page.chart("status")) + len(page.chart("post-office"))

    for table in ("status-table", "post-office-table", "rows-table", "trend-table"):
        assert page.find("table", id=table), table
    keyed = [a for a, _ in page.find("tr") if a.get("data-key") and a.get("data-status")]
    assert len(keyed) == len(rows)
    groups = {a["data-status"] for a, _ in page.find("section") if a.get("data-status")}
    assert groups == {r["status"] for r in rows} - {"complete"}

    # The browser built no element from directory data: names stay text.
    assert not page.find("script") and not page.find("img")
    visible = "".join(page.text)
    for value in HOSTILE_TEXTS:
        assert value in visible


DEMO = Path(__file__).resolve().parent.parent / "mocks" / "demo"
LAPTOP = "1366,768"
# Measures the laid-out page and writes the result into <title>, which
# --dump-dom then shows. Only in a test copy of the report: the report itself
# holds no script and its CSP would refuse one.
PROBE = """<script>
const out = {overflow: document.documentElement.scrollWidth - window.innerWidth, split: []};
for (const td of document.querySelectorAll("#rows-table td:not(.msg)")) {
  const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (tops.size > 1) out.split.push(m[0]);
    }
  }
}
document.title = "PROBE " + JSON.stringify(out);
</script>"""


def demo_report(tmp_path: Path) -> Path:
    """The demo's report with a trend of three recorded runs that differ."""
    runs = tmp_path / "runs"
    base = ["--ldif", str(DEMO / "org.ldif"), "--exchange-po", "EXCH"]
    files = sorted((DEMO / "ccmail").glob("*.txt"))
    for n in (2, 3, len(files)):
        dirs = [a for f in files[:n] for a in ("--ccmail-dir", str(f))]
        assert ccmig("audit", *base, *dirs, "--record", str(runs), "-q",
                     "-o", str(tmp_path / "a.txt"))[0] == 1
    report = tmp_path / "report.html"
    code, _, err = ccmig("report", *base, "--ccmail-dir", str(DEMO / "ccmail" / "*.txt"),
                         "--mailbox-stats", str(DEMO / "stats.csv"), "--record", str(runs),
                         "-o", str(report))
    assert code == 1 and "exit 1:" in err, err
    return report


def test_report_layout_at_laptop_width(tmp_path):
    """At 1366x768 nothing overflows sideways and no word of the "All rows"
    table (status, name, PO, route, kind, DN part) is broken across lines."""
    import json

    report = demo_report(tmp_path)
    probe = tmp_path / "probe.html"
    text = re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "",
                  report.read_text(encoding="utf-8"))
    probe.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, console = load(probe, tmp_path / "profile", window=LAPTOP)
    assert console == [], console
    found = re.search(r"<title>PROBE (.*?)</title>", dom)
    assert found, "the probe did not run"
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result["overflow"] <= 0, result
    assert result["split"] == [], result["split"][:20]
    # The probe sees a break when there is one: a cell far too narrow for its word.
    narrow = tmp_path / "narrow.html"
    narrow.write_text("<!DOCTYPE html><html><head><title>x</title></head><body>"
                      "<table id=\"rows-table\"><tr><td style=\"width:2px;"
                      "overflow-wrap:anywhere\">exchange</td></tr></table>"
                      + PROBE + "</body></html>", encoding="utf-8")
    dom, _ = load(narrow, tmp_path / "profile2", window=LAPTOP)
    assert "exchange" in re.search(r"<title>PROBE (.*?)</title>", dom).group(1)


def test_report_screenshot_at_laptop_width(tmp_path):
    """The picture an admin sees first: taken at 1366x768 (and looked at when
    the report changes; see docs/tutorial.md)."""
    report = demo_report(tmp_path)
    shot = tmp_path / "report.png"
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--window-size={LAPTOP}", f"--user-data-dir={tmp_path / 'profile'}",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--screenshot={shot}",
               report.resolve().as_uri()]
    subprocess.run(command, capture_output=True, timeout=60, check=False,
                   env={**os.environ, "HOME": str(tmp_path)})
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1366, 768)
    assert len(data) > 20000  # text and charts, not a blank page
