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


def load(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from ``page``, and its console lines."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
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
