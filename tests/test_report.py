"""``ccmig report``: one self-contained HTML page (and Markdown) whose charts
say what the audit says, with every directory value escaped."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from html.parser import HTMLParser
from typing import ClassVar

import pytest

from tests.orgkit import CONNECTOR, Org, ccmig, entry, mailbox, podir
from toolkit.history import safe_inputs

EVIL_PO = 'P"O<b>&x'
SCRIPT_NAME = "<script>alert('x')</script> O\"Brien"
CONTROL_NAME = "Ctrl\x1b[31mRed\x07 | `tick`"
IMG_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TEXTS = (SCRIPT_NAME, IMG_NAME)


def hostile_org(org: Org) -> list[str]:
    """Stale, complete, awaiting-dirsync and not-migrated rows over three POs,
    with markup, quotes, pipes, backticks and control characters in names."""
    org.objects = [
        mailbox("Smith, John", "CCMAIL:Smith, John at EXCH", "ccmail:Smith, John at PO1"),
        mailbox("Doe, Jane", "CCMAIL:Doe, Jane at EXCH", "ccmail:Doe, Jane at PO1"),
        mailbox("Img", f"CCMAIL:{IMG_NAME} at EXCH", f"ccmail:{IMG_NAME} at PO1"),
    ]
    org.dirs = {
        "HUBPO": podir("HUBPO", CONNECTOR, entry("Doe, Jane", "R", addr="EXCH")),
        "PO1": podir("PO1", entry("Smith, John", messages=3), entry("Lee, Ann")),
        "EVIL": podir(EVIL_PO, entry(SCRIPT_NAME), entry(CONTROL_NAME)),
    }
    return [*org.write(), "--exchange-po", "EXCH"]


def shown(value: str) -> str:
    return re.sub("[\x00-\x1f\x7f-\x9f]", "\ufffd", value)


def audit_rows(args: list[str]) -> list[dict]:
    code, out, err = ccmig("audit", *args, "--format", "json", "--fail-on", "never")
    assert code == 0, err
    return json.loads(out)


class Page(HTMLParser):
    """Elements with their attributes and the text inside each, plus checks
    that every element is closed where it was opened."""

    VOID: ClassVar = {"meta", "br", "hr", "img", "input", "link", "rect", "circle", "line", "polyline"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.stack: list[tuple[str, list[str]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {[t for t, _ in self.stack]}")

    def handle_starttag(self, tag, attrs):
        texts: list[str] = []
        self.elements.append((tag, dict(attrs), texts))
        if tag not in self.VOID:
            self.stack.append((tag, texts))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), []))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else None}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        for _, texts in self.stack:
            texts.append(data)

    def find(self, tag: str, **attrs: str) -> list[tuple[dict[str, str | None], str]]:
        return [(a, "".join(t)) for name, a, t in self.elements if name == tag
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def chart(self, name: str) -> dict[str, int]:
        """{data-label: data-count} of the chart's categories, in order."""
        inside = False
        out: dict[str, int] = {}
        for tag, a, _ in self.elements:
            if tag == "svg":
                inside = a.get("data-chart") == name
            elif inside and tag == "g" and "data-label" in a:
                out[a["data-label"]] = int(a["data-count"])
        return out


def expected_charts(rows: list[dict]) -> tuple[Counter, Counter]:
    return (Counter(r["status"] for r in rows),
            Counter(r["old_post_office"] or "(none)" for r in rows))


@pytest.fixture
def made(org, tmp_path):
    args = hostile_org(org)
    target = tmp_path / "report.html"
    code, out, err = ccmig("report", *args, "-o", str(target))
    assert code == 1, err  # findings at or above --fail-on warning, as audit
    stale = 2  # Smith, John and the <img> mailbox: errors; the rest below warning
    assert out == "" and err == (f"ccmig: wrote {target}; exit 1: {stale} row(s) have a finding "
                                 "at or above --fail-on warning (--fail-on never exits 0)\n")
    return args, target.read_text(encoding="utf-8"), audit_rows(args)


def test_html_charts_equal_the_audit_counts(made):
    args, text, rows = made
    page = Page(text)
    assert page.errors == []
    by_status, by_po = expected_charts(rows)
    status_chart = page.chart("status")
    assert status_chart == dict(by_status)
    assert set(status_chart) >= {"stale-ccmail-mailbox", "complete", "awaiting-dirsync",
                                 "not-migrated"}
    # In the table's order: most severe first, complete last.
    assert list(status_chart)[-1] == "complete"
    assert page.chart("post-office") == dict(by_po)
    assert EVIL_PO in page.chart("post-office")  # escaped in the attribute, read back intact
    # The stacked parts of a PO bar add up to its total.
    for a, _ in page.find("rect"):
        if a.get("data-severity"):
            assert int(a["data-count"]) > 0


def test_html_structure_title_date_inputs_groups_and_rows(made, org):
    args, text, rows = made
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>")
    title = page.find("title")[0][1]  # the head's; SVG titles follow
    assert title.startswith("cc:Mail → Exchange migration audit — ")
    assert len(page.find("h1")) == 1
    assert re.search(r"Generated <time datetime=\"\d{4}-\d\d-\d\dT", text)
    for section in ("summary", "actions", "rows", "inputs"):
        assert page.find("section", id=section), section
    assert not page.find("section", id="trend")  # only with --record
    inputs = dict(zip([t for _, t in page.find("dt")], [t for _, t in page.find("dd")],
                      strict=True))
    assert inputs["--ldif"] == str(org.root / "org.ldif")
    assert str(org.root / "PO1.txt") in inputs["--ccmail-dir"]
    assert inputs["Exchange post office(s) used"] == "EXCH"
    # People needing action, one group per status with what to do, complete excluded.
    groups = {a["data-status"]: (int(a["data-count"]), t) for a, t in page.find("section")
              if a.get("data-status")}
    needing = Counter(r["status"] for r in rows if r["status"] != "complete")
    assert {k: v[0] for k, v in groups.items()} == dict(needing)
    stale_text = groups["stale-ccmail-mailbox"][1]
    assert "Do: Confirm the migration" in stale_text and "Smith, John" in stale_text
    assert "Doe, Jane" not in stale_text
    # Every row once in the rows table, keyed and with its status.
    table_rows = [a for a, _ in page.find("tr") if a.get("data-status") and a.get("data-key")]
    keys = {shown(r["key"]): r["status"] for r in rows}  # control characters shown as U+FFFD
    assert sorted(a["data-key"] for a in table_rows) == sorted(keys)
    assert {a["data-key"]: a["data-status"] for a in table_rows} == keys


def test_html_escapes_hostile_directory_values(made):
    _, text, _ = made
    assert "<script" not in text.lower()
    assert "<img" not in text.lower()
    assert "\x1b" not in text and "\x07" not in text
    page = Page(text)
    visible = "".join(page.text)
    for value in HOSTILE_TEXTS:
        assert value in visible  # escaped, so the browser shows it as text
    assert "Ctrl\ufffd[31mRed\ufffd | `tick`" in visible
    # No element or attribute came from the data: only what the renderer writes.
    assert {tag for tag, _, _ in page.elements} <= {
        "html", "head", "meta", "title", "style", "body", "header", "p", "time", "nav", "ul",
        "li", "a", "section", "h1", "h2", "h3", "div", "strong", "figure", "figcaption",
        "svg", "g", "text", "rect", "line", "span", "table", "thead", "tbody", "tr",
        "th", "td", "code", "bdi", "dl", "dt", "dd", "footer", "polyline", "circle"}
    assert not any(k.startswith("on") for _, a, _ in page.elements for k in a)


def test_html_is_self_contained(made):
    _, text, _ = made
    low = text.lower()
    assert "http://" not in low and "https://" not in low
    assert "<script" not in low and "<link" not in low and "<iframe" not in low
    assert "@import" not in low and "url(" not in low
    page = Page(text)
    for tag, a, _ in page.elements:
        assert "src" not in a, tag
        assert (a.get("href") or "#").startswith("#"), a
    (csp, _), = page.find("meta", http_equiv="Content-Security-Policy")
    assert "default-src 'none'" in csp["content"]


def test_markdown_report_escapes_pipes_backticks_and_markup(org, tmp_path):
    args = hostile_org(org)
    target = tmp_path / "ticket.md"
    code, _, err = ccmig("report", *args, "-o", str(target), "--fail-on", "never")
    assert code == 0, err  # format from the extension
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# cc:Mail → Exchange migration audit\n")
    assert not re.search(r"(?<!\\)<", text), "a '<' from the data is not escaped"
    assert "\x1b" not in text and "\x07" not in text
    assert r"\<script\>alert('x')\</script\> O\"Brien" not in text  # " is not special
    assert r"\<script\>alert('x')\</script\> O" in text
    assert "Ctrl\ufffd\\[31mRed\ufffd \\| \\`tick\\`" in text
    rows = audit_rows(args)
    # Every table line has as many cell separators as its header.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
            width = len(re.findall(r"(?<!\\)\|", line))
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                assert len(re.findall(r"(?<!\\)\|", lines[j])) == width, lines[j]
                j += 1
    by_status, _ = expected_charts(rows)
    for status, n in by_status.items():
        assert f"| `{status}` | " in text and re.search(
            rf"\| `{re.escape(status)}` \| \w+ \| {n} \|", text), status
    assert "### `stale-ccmail-mailbox` (error) — 1 row" in text
    assert "**Do:** Confirm the migration" in text


def test_format_option_wins_and_stdout(org):
    args = hostile_org(org)
    code, out, _ = ccmig("report", *args, "--format", "md", "--fail-on", "never")
    assert code == 0 and out.startswith("# ")
    code, out, _ = ccmig("report", *args, "--fail-on", "never", "--title", "Wave <3>")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and "<h1>Wave &lt;3&gt;</h1>" in out


def test_a_failed_report_leaves_no_file(org, tmp_path):
    args = hostile_org(org)
    target = tmp_path / "report.html"
    code, _, err = ccmig("report", *args, "--mailbox-stats", str(tmp_path / "missing.csv"),
                         "-o", str(target))
    assert code == 2 and "missing.csv" in err
    assert not target.exists() and list(tmp_path.glob("*.tmp")) == []


def test_inputs_never_hold_secrets():
    inputs = safe_inputs({"ldap_url": "ldaps://svc:hunter2@dc01.corp.example",
                          "exchange_uri": "https://u:p4ss@ex01/PowerShell",
                          "password": "x", "ldap_password": "x", "bind_dn": "CORP\\svc",
                          "ccmail_dirs": ["PO1=po1.txt"]})
    assert inputs == {"ldap_url": "ldaps://dc01.corp.example",
                      "exchange_uri": "https://ex01/PowerShell", "bind_dn": "CORP\\svc",
                      "ccmail_dirs": ["PO1=po1.txt"]}


def test_needing_action_leaves_out_the_accepted_not_migrated(made):
    _, text, rows = made
    page = Page(text)
    totals = {a["data-total"]: int(t.split(a["data-total"])[0]) for a, t in page.find("div")
              if a.get("data-total")}
    assert totals["not migrated (accepted)"] == sum(r["status"] == "not-migrated" for r in rows)
    assert totals["needing action"] == sum(r["status"] not in ("complete", "not-migrated")
                                           for r in rows)
    assert totals["rows"] == sum(v for k, v in totals.items() if k != "rows")
    assert "Accepted: users staying on cc:Mail" in text
    assert text.index("Accepted: users staying") < text.index('id="status-not-migrated"')


def test_what_to_do_tables_hold_the_finding_text(made):
    _, text, rows = made
    page = Page(text)
    for r in rows:
        if r["status"] == "complete":
            continue
        (tr, shown_text), = [(a, t) for a, t in page.find("tr") if a.get("data-key") ==
                             shown(r["key"]) and not a.get("data-status")]
        assert shown(r["findings"][0]["message"]) in shown_text, r["key"]


def test_none_post_office_is_explained_where_it_appears(org, tmp_path):
    from tests.orgkit import group

    args = hostile_org(org)
    code, text, _ = ccmig("report", *args)
    assert "(none)" not in Page(text).chart("post-office")
    assert 'id="no-post-office"' not in text  # no (none) row: no note
    org.objects.append(group("Team", "CCMAIL:Team at EXCH"))
    code, text, _ = ccmig("report", *[*org.write(), "--exchange-po", "EXCH"])
    assert "(none)" in Page(text).chart("post-office")
    (note, words), = Page(text).find("p", id="no-post-office")
    assert words.startswith("(none): rows with no old cc:Mail post office")
    code, md_text, _ = ccmig("report", *[*org.write(), "--exchange-po", "EXCH"], "--format", "md")
    assert "(none): rows with no old cc:Mail post office" in md_text
    assert "not migrated (staying on cc:Mail: accepted" in md_text
    assert "| Finding |" in md_text


def test_trend_chart_axis_ticks_and_distinct_colours():
    from toolkit.history import STATUSES, Run
    from toolkit.render.html import DASHES, STATUS_COLOURS, trend_chart
    from toolkit.render.report import severity_of

    series = [Run(timestamp=f"2026-05-0{d}T09:30:00.000000Z", total=300,
                  counts={"stale-ccmail-mailbox": 60 - 10 * d, "complete": 100 + 10 * d,
                          "awaiting-dirsync": 7})
              for d in range(1, 6)]
    svg = Page(trend_chart(series, ["stale-ccmail-mailbox", "awaiting-dirsync", "complete"]))
    ticks = [int(a["data-tick"]) for a, _ in svg.find("text") if a.get("data-tick")]
    assert ticks[0] == 0 and ticks[-1] >= 150 and len(ticks) >= 4
    assert len({b - a for a, b in itertools.pairwise(ticks)}) == 1  # even steps
    labels = [t for a, t in svg.find("text") if a.get("class") == "when"]
    assert labels == [f"05-0{d} 09:30" for d in range(1, 6)]
    # Every status has its own colour, far from every other (RGB distance), and a
    # dash pattern per severity.
    rgb = {s: tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for s, c in STATUS_COLOURS.items()}
    assert set(rgb) == set(STATUSES)
    for a in rgb:
        for b in rgb:
            if a < b:
                distance = sum((x - y) ** 2 for x, y in zip(rgb[a], rgb[b], strict=True)) ** .5
                assert distance > 80, (a, b)
    lines = {a.get("stroke"): a.get("stroke-dasharray") for a, _ in svg.find("polyline")}
    assert lines[STATUS_COLOURS["awaiting-dirsync"]] == DASHES[severity_of("awaiting-dirsync")]
    assert lines[STATUS_COLOURS["complete"]] is None
