"""``ccmig report --format html``: one self-contained HTML file.

No script, no external style sheet, font or image: everything is inline, and a
Content-Security-Policy meta tag forbids the browser any fetch, so the file
can be mailed, archived and opened offline. Charts are inline SVG; each
category is a ``<g data-label=... data-count=...>`` so tools (and tests) can
read the numbers back.

Directory data is hostile (names may hold markup, quotes, control characters):
every value goes through :func:`esc` — control characters and lone
surrogates become U+FFFD, then ``& < > " '`` are escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO

from toolkit.history import STATUSES, Change, Run, current_run, trend_statuses
from toolkit.model import Row
from toolkit.render.report import (
    NO_PO,
    NO_PO_NOTE,
    SEVERITIES,
    Group,
    Report,
    input_items,
    severity_of,
)
from toolkit.text import printable

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")
COLOURS = {"error": "#b03a2e", "warning": "#b9770e", "info": "#2471a3", "complete": "#1e8449"}
# One colour per status for the trend lines, far apart in hue and lightness
# (errors warm, warnings earthy/blue, not-migrated grey, complete green), and
# a dash pattern per severity so lines stay apart in grey print too.
STATUS_COLOURS = {
    "invalid-address": "#7f0000", "duplicate-address": "#9e1fb4", "name-conflict": "#e7298a",
    "stale-ccmail-mailbox": "#d62728", "orphan-custom-recipient": "#f28e00",
    "missing-primary-address": "#8c564b", "multiple-primaries": "#7a7a00",
    "missing-secondary-address": "#000000", "unconfirmed-migration": "#1a237e",
    "awaiting-dirsync": "#1f77b4", "source-mismatch": "#00c49a", "not-migrated": "#a0a0a0",
    "complete": "#2ca02c",
}
DASHES = {"error": "", "warning": "7 4", "info": "2 4", "complete": ""}
LINE_STYLE = {"error": ", solid", "warning": ", dashed", "info": ", dotted", "complete": ", solid"}
assert set(STATUS_COLOURS) == set(STATUSES)

STYLE = """
:root { color-scheme: light; --border: #d5d8dc; --muted: #566573; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 0 auto; padding: 1.5rem; max-width: 78rem; color: #1c2833; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--border); }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .25rem; }
p.meta, .muted { color: var(--muted); }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; padding: 0; }
dl.inputs { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.inputs dt { font-family: ui-monospace, Consolas, monospace; }
dl.inputs dd { margin: 0; overflow-wrap: anywhere; }
.totals { display: flex; gap: 1rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
.totals div { border: 1px solid var(--border); border-radius: 6px; padding: .4rem .8rem; }
.totals strong { display: block; font-size: 1.4rem; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
           fill: #1c2833; }
svg .axis { stroke: #aab7b8; stroke-width: 1; }
svg .sev-error, .sw-error { fill: #b03a2e; background: #b03a2e; }
svg .sev-warning, .sw-warning { fill: #b9770e; background: #b9770e; }
svg .sev-info, .sw-info { fill: #2471a3; background: #2471a3; }
svg .sev-complete, .sw-complete { fill: #1e8449; background: #1e8449; }
svg polyline { fill: none; stroke-width: 2; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .2rem 1rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px;
          margin-right: .3rem; vertical-align: -1px; }
.sw-error, .sw-warning, .sw-info, .sw-complete { display: inline-block; width: .8rem;
          height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--border); padding: .25rem .45rem; text-align: left;
         vertical-align: top; }
td { overflow-wrap: break-word; }
td.n, td.t { overflow-wrap: normal; white-space: nowrap; }
td.dn { min-width: 12rem; }
td.dn .rdn { display: inline-block; }  /* a DN wraps between its parts, not inside one */
th { white-space: nowrap; }
#status-table, #post-office-table { width: auto; min-width: 28rem; }
td.msg { min-width: 16rem; overflow-wrap: anywhere; }  /* prose; only a DN inside may split */
svg .grid { stroke: #e5e8e8; stroke-width: 1; }
p.note { color: var(--muted); font-size: .9rem; margin: .25rem 0 1rem; }
.scroll { overflow-x: auto; }
th { background: #f2f4f4; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, Consolas, monospace; font-size: .92em; }
.badge { font-size: .75rem; border-radius: 3px; padding: .05rem .4rem; color: #fff;
         vertical-align: 1px; }
.badge.error { background: #b03a2e; } .badge.warning { background: #b9770e; }
.badge.info { background: #2471a3; } .badge.complete { background: #1e8449; }
.do { border-left: 4px solid var(--border); padding: .25rem .75rem; background: #fbfcfc; }
.do p { margin: .2rem 0; }
section.group.error .do { border-color: #b03a2e; }
section.group.warning .do { border-color: #b9770e; }
section.group.info .do { border-color: #2471a3; }
ul.findings { margin: 0; padding-left: 1rem; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
@media print { nav { display: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def esc(value: object) -> str:
    """Text or attribute value: control characters neutralised, then escaped."""
    if value is None:
        return ""
    return html.escape(printable(str(value), surrogates=True), quote=True)


def cell(value: object, cls: str | None = None) -> str:
    """A table cell: ``t`` a token never wrapped (status, route, kind, PO),
    ``dn`` a DN that may wrap anywhere, ``msg`` a message wrapped between words."""
    shown = "—" if value is None or value == "" else f"<bdi>{esc(value)}</bdi>"
    return f"<td class=\"{cls}\">{shown}</td>" if cls else f"<td>{shown}</td>"


_RDN_END = re.compile(r"(?<!\\),")


def dn_cell(value: str) -> str:
    """A DN (or key) cell that wraps only after a separating comma: each RDN is an
    inline block, so ``OU=Sites`` never becomes ``OU=Si`` / ``tes``."""
    parts = _RDN_END.split(value)
    shown = "".join(f"<span class=\"rdn\">{esc(p)}{',' if i < len(parts) - 1 else ''}</span>"
                    for i, p in enumerate(parts))
    return f"<td class=\"dn\"><bdi>{shown}</bdi></td>"


def code(value: object) -> str:
    return "—" if value is None else f"<code>{esc(value)}</code>"


def when(run: Run) -> str:
    """A run's time for people: ``2026-05-01 09:30``."""
    return run.timestamp[:16].replace("T", " ")


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def write_html(report: Report, out: TextIO) -> None:
    title = report.title
    stamp = report.generated.strftime("%Y-%m-%d %H:%M UTC")
    w = out.write
    page_head(w, f"{title} — {stamp}", report.version)
    w(f"<header>\n<h1>{esc(title)}</h1>\n<p class=\"meta\">Generated "
      f"<time datetime=\"{esc(report.generated.isoformat(timespec='seconds'))}\">{esc(stamp)}"
      f"</time> by ccmig {esc(report.version)}.</p>\n</header>\n")
    sections = [("summary", "Summary"), ("actions", "What to do"), ("rows", "All rows"),
                ("inputs", "Inputs")]
    if report.runs is not None:
        sections.insert(2, ("trend", "Trend"))
    w("<nav><ul>" + "".join(f"<li><a href=\"#{k}\">{v}</a></li>" for k, v in sections)
      + "</ul></nav>\n")
    _summary(report, w)
    _actions(report, w)
    if report.runs is not None:
        _trend(report, w)
    _all_rows(report.rows, w)
    _inputs(report, w)
    w("<footer>Each finding code is explained in docs/findings.md (what it means for mail "
      "flow and what to do); the exact rules are in the specification. Route: where mail "
      "from cc:Mail users to the person goes today.</footer>\n</body>\n</html>\n")


def page_head(w, title: str, version: str) -> None:
    """Everything up to ``<body>``: the CSP that forbids any fetch, and the inline style.
    Shared by every ccmig HTML report so they look and stay offline alike."""
    w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
    w(f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(CSP)}\">\n")
    w("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
    w("<meta name=\"referrer\" content=\"no-referrer\">\n")
    w(f"<meta name=\"generator\" content=\"ccmig {esc(version)}\">\n")
    w(f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n")


# --------------------------------------------------------------------------- sections


def _summary(report: Report, w) -> None:
    rows = report.rows
    complete = sum(1 for r in rows if not r.findings)
    w("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"totals\">")
    for label, n in (("rows", len(rows)), ("needing action", report.needing_action),
                     ("not migrated (accepted)", report.accepted), ("complete", complete)):
        w(f"<div data-total=\"{esc(label)}\"><strong>{n}</strong>{esc(label)}</div>")
    w("</div>\n<p class=\"note\">Needing action: every row with a finding, except "
      "<code>not-migrated</code> cc:Mail users who stay on cc:Mail — an accepted end state "
      "(docs/runbook.md), counted apart so that this number reaches 0 when the clean-up is "
      "done.</p>\n<div class=\"charts\">\n")
    w("<figure>\n<figcaption id=\"chart-status-caption\">Rows per status</figcaption>\n")
    w(status_chart(report.by_status()))
    w("</figure>\n<figure>\n<figcaption id=\"chart-po-caption\">Rows per old post office"
      "</figcaption>\n")
    w(post_office_chart(report.by_post_office()))
    w("<ul class=\"legend\">" + "".join(
        f"<li><span class=\"sw-{s}\"></span>{s}</li>" for s in SEVERITIES) + "</ul>\n")
    w("</figure>\n</div>\n")
    w("<table id=\"status-table\"><thead><tr><th>Status</th><th>Severity</th>"
      "<th class=\"n\">Rows</th></tr></thead><tbody>\n")
    for status, n in report.by_status():
        w(f"<tr data-status=\"{esc(status)}\"><td>{code(status)}</td>"
          f"<td>{esc(severity_of(status))}</td><td class=\"n\">{n}</td></tr>\n")
    w("</tbody></table>\n")
    w("<table id=\"post-office-table\"><thead><tr><th>Old post office</th>"
      "<th class=\"n\">Rows</th>" + "".join(f"<th class=\"n\">{s}</th>" for s in SEVERITIES)
      + "</tr></thead><tbody>\n")
    per_po = report.by_post_office()
    for po, c in per_po:
        w(f"<tr data-post-office=\"{esc(po)}\">{cell(po, 't')}<td class=\"n\">{c['rows']}</td>"
          + "".join(f"<td class=\"n\">{c[s]}</td>" for s in SEVERITIES) + "</tr>\n")
    w("</tbody></table>\n")
    if any(po == NO_PO for po, _ in per_po):
        w(f"<p class=\"note\" id=\"no-post-office\">{esc(NO_PO_NOTE)}</p>\n")
    w("</section>\n")


def _actions(report: Report, w) -> None:
    groups = report.groups()
    w("<section id=\"actions\">\n<h2>What to do</h2>\n")
    if not groups:
        w("<p>Nothing to do: every row is complete or an accepted <code>not-migrated</code> "
          "cc:Mail user.</p>\n")
    for g in groups:
        _group(g, w)
    accepted = report.groups(accepted=True)
    if accepted:
        w("<h3>Accepted: users staying on cc:Mail</h3>\n<p class=\"note\">Not counted as "
          "needing action. Migrate them when their turn comes; until then nothing is wrong "
          "with their mail.</p>\n")
        for g in accepted:
            _group(g, w)
    w("</section>\n")


def _group(g: Group, w) -> None:
    n = len(g.rows)
    w(f"<section class=\"group {g.severity}\" id=\"status-{esc(g.status)}\" "
      f"data-status=\"{esc(g.status)}\" data-count=\"{n}\">\n"
      f"<h3>{code(g.status)} <span class=\"badge {g.severity}\">{g.severity}</span> "
      f"— {n} {'row' if n == 1 else 'rows'}</h3>\n<div class=\"do\">")
    for action in g.actions:
        w(f"<p><strong>Do:</strong> {esc(action)}</p>")
    # The finding's message names the object (its DN), the value and any other
    # object involved: what the admin needs to act, so no separate DN column.
    w("</div>\n<div class=\"scroll\"><table class=\"people\"><thead><tr><th>cc:Mail name</th>"
      "<th>Old PO</th><th>Route</th><th>Kind</th><th>Finding</th>"
      "<th>Other findings</th></tr></thead><tbody>\n")
    for r in g.rows:
        others = ", ".join(f.code for f in r.findings[1:])
        w(f"<tr data-key=\"{esc(r.key)}\">{cell(r.ccmail_name)}{cell(r.old_post_office, 't')}"
          f"{cell(r.route, 't')}{cell(r.kind.value, 't')}{cell(r.findings[0].message, 'msg')}"
          f"{cell(others)}</tr>\n")
    w("</tbody></table></div>\n</section>\n")


def _all_rows(rows: Sequence[Row], w) -> None:
    w("<section id=\"rows\">\n<h2>All rows</h2>\n<div class=\"scroll\"><table id=\"rows-table\">"
      "<thead><tr><th>Status</th><th>cc:Mail name</th><th>Old PO</th><th>Route</th>"
      "<th>Kind</th><th>DN or key</th><th>Findings</th></tr></thead><tbody>\n")
    for r in rows:
        if r.findings:
            findings = "<ul class=\"findings\">" + "".join(
                f"<li>{code(f.code)}: <bdi>{esc(f.message)}</bdi></li>" for f in r.findings
            ) + "</ul>"
        else:
            findings = "—"
        w(f"<tr data-key=\"{esc(r.key)}\" data-status=\"{esc(r.status)}\">"
          f"<td class=\"t\">{code(r.status)}</td>{cell(r.ccmail_name)}"
          f"{cell(r.old_post_office, 't')}{cell(r.route, 't')}{cell(r.kind.value, 't')}"
          f"{dn_cell(r.dn) if r.dn else cell(r.key)}<td class=\"msg\">{findings}</td></tr>\n")
    w("</tbody></table></div>\n</section>\n")


def _inputs(report: Report, w) -> None:
    w("<section id=\"inputs\">\n<h2>Inputs</h2>\n<dl class=\"inputs\">\n")
    items = input_items(report.inputs)
    if report.exchange_pos:
        items.append(("Exchange post office(s) used", ", ".join(report.exchange_pos)))
    for key, value in items:
        w(f"<dt>{esc(key)}</dt><dd>{esc(value)}</dd>\n")
    w("</dl>\n<p class=\"muted\">Secrets are never written into a report.</p>\n</section>\n")


def _trend(report: Report, w) -> None:
    runs = list(report.runs or [])
    now = current_run(report.rows, when=report.generated)
    w("<section id=\"trend\">\n<h2>Trend</h2>\n")
    if not runs:
        w("<p>No recorded runs yet: record runs with <code>ccmig audit --record DIR</code>."
          "</p>\n</section>\n")
        return
    series = [*runs, now]
    statuses = trend_statuses(series)
    w(f"<p>{len(runs)} recorded run(s), then this report.</p>\n<figure>\n"
      "<figcaption id=\"chart-trend-caption\">Rows per status, run by run</figcaption>\n")
    w(trend_chart(series, statuses))
    w("<ul class=\"legend\">" + "".join(
        f"<li data-status=\"{esc(s)}\"><span class=\"swatch\" "
        f"style=\"background:{STATUS_COLOURS.get(s, '#555')}\"></span>{esc(s)} "
        f"<span class=\"muted\">({severity_of(s)}{LINE_STYLE[severity_of(s)]})</span></li>"
        for s in statuses)
      + "</ul>\n</figure>\n")
    w("<div class=\"scroll\"><table id=\"trend-table\"><thead><tr><th>Run (UTC)</th><th>Record</th>"
      "<th class=\"n\">Rows</th>" + "".join(f"<th class=\"n\">{esc(s)}</th>" for s in statuses)
      + "</tr></thead><tbody>\n")
    for run in series:
        w(f"<tr>{cell(when(run), 't')}{cell(run.name)}<td class=\"n\">{run.total}</td>"
          + "".join(f"<td class=\"n\">{run.counts.get(s, 0)}</td>" for s in statuses)
          + "</tr>\n")
    w("</tbody></table></div>\n")
    changes = report.changes_since_latest()
    w(f"<h3>Changes since the latest recorded run ({esc(runs[-1].timestamp)})</h3>\n")
    if not changes:
        w("<p>No person's status, route or findings changed.</p>\n")
    else:
        _changes_table(changes, w)
    w("</section>\n")


def _changes_table(changes: Iterable[Change], w) -> None:
    w("<table id=\"changes-table\"><thead><tr><th>Change</th><th>cc:Mail name</th>"
      "<th>Old PO</th><th>Status</th><th>Route</th><th>Findings added</th>"
      "<th>Findings removed</th></tr></thead><tbody>\n")
    for c in changes:
        w(f"<tr data-key=\"{esc(c.key)}\" data-change=\"{esc(c.change)}\">{cell(c.change)}"
          f"{cell(c.ccmail_name or c.key)}{cell(c.old_post_office)}"
          f"<td>{_arrow(c.status)}</td><td>{_arrow(c.route)}</td>"
          f"{cell(', '.join(c.findings_added))}{cell(', '.join(c.findings_removed))}</tr>\n")
    w("</tbody></table>\n")


def _arrow(pair: tuple[str | None, str | None]) -> str:
    a, b = pair
    if a == b:
        return esc(a) if a else "—"
    return f"{esc(a or '—')} → {esc(b or '—')}"


# --------------------------------------------------------------------------- charts


def _bar_width(n: int, top: int, full: int) -> float:
    return 0.0 if not top else max(round(full * n / top, 1), 1.0 if n else 0.0)


def status_chart(counts: Sequence[tuple[str, int]], chart: str = "status",
                 severity: Callable[[str], str] = severity_of) -> str:
    """Horizontal bars, one ``<g data-label data-count>`` per status (or, named
    ``chart`` with its own ``severity`` colouring, per any label)."""
    label_w, bar_w, row_h = 190, 300, 24
    width = label_w + bar_w + 60
    height = max(row_h * len(counts), row_h) + 8
    top = max((n for _, n in counts), default=0)
    out = [f"<svg data-chart=\"{esc(chart)}\" role=\"img\" "
           f"aria-labelledby=\"chart-{esc(chart)}-caption\" "
           f"width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"]
    for i, (status, n) in enumerate(counts):
        y = 4 + i * row_h
        bw = _bar_width(n, top, bar_w)
        out.append(
            f"<g data-label=\"{esc(status)}\" data-count=\"{n}\" "
            f"class=\"sev-{severity(status)}\"><title>{esc(status)}: {n}</title>"
            f"<text x=\"{label_w - 6}\" y=\"{y + 15}\" text-anchor=\"end\">{esc(status)}</text>"
            f"<rect x=\"{label_w}\" y=\"{y + 3}\" width=\"{bw}\" height=\"16\" rx=\"2\"/>"
            f"<text x=\"{label_w + bw + 6}\" y=\"{y + 15}\">{n}</text></g>")
    out.append(f"<line class=\"axis\" x1=\"{label_w}\" y1=\"2\" x2=\"{label_w}\" "
               f"y2=\"{height - 2}\"/></svg>\n")
    return "".join(out)


def post_office_chart(per_po: Sequence[tuple[str, dict]]) -> str:
    """Stacked horizontal bars per old PO (by severity), one ``<g data-label
    data-count>`` per PO holding one ``<rect data-severity data-count>`` per part."""
    label_w, bar_w, row_h = 150, 300, 24
    width = label_w + bar_w + 60
    height = max(row_h * len(per_po), row_h) + 8
    top = max((c["rows"] for _, c in per_po), default=0)
    out = [f"<svg data-chart=\"post-office\" role=\"img\" "
           f"aria-labelledby=\"chart-po-caption\" width=\"{width}\" height=\"{height}\" "
           f"viewBox=\"0 0 {width} {height}\">"]
    for i, (po, c) in enumerate(per_po):
        y = 4 + i * row_h
        total = c["rows"]
        parts = []
        x = float(label_w)
        for sev in SEVERITIES:
            if not c[sev]:
                continue
            pw = round(bar_w * c[sev] / top, 1) if top else 0.0
            parts.append(f"<rect class=\"sev-{sev}\" data-severity=\"{sev}\" "
                         f"data-count=\"{c[sev]}\" x=\"{round(x, 1)}\" y=\"{y + 3}\" "
                         f"width=\"{pw}\" height=\"16\"><title>{esc(po)}: {c[sev]} {sev}"
                         f"</title></rect>")
            x += pw
        out.append(
            f"<g data-label=\"{esc(po)}\" data-count=\"{total}\"><title>{esc(po)}: {total} "
            f"rows</title><text x=\"{label_w - 6}\" y=\"{y + 15}\" text-anchor=\"end\">"
            f"{esc(fit(po, 20))}</text>{''.join(parts)}"
            f"<text x=\"{round(x, 1) + 6}\" y=\"{y + 15}\">{total}</text></g>")
    out.append(f"<line class=\"axis\" x1=\"{label_w}\" y1=\"2\" x2=\"{label_w}\" "
               f"y2=\"{height - 2}\"/></svg>\n")
    return "".join(out)


def nice_step(top: int, ticks: int = 5) -> int:
    """A round step (1, 2, 5 x 10^k) giving about ``ticks`` intervals up to ``top``."""
    raw = max(top / ticks, 1)
    base = 10 ** (len(str(int(raw))) - 1)
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


def short_when(run: Run) -> str:
    """A run's time on the axis: ``05-01 09:30`` (the table below has the year)."""
    return run.timestamp[5:16].replace("T", " ")


def trend_chart(series: Sequence[Run], statuses: Sequence[str]) -> str:
    """One line per status over the runs; each point a ``<circle data-run data-count>``.

    The y axis has round ticks with grid lines, the x axis each run's time
    (thinned so labels never overlap); each status has its own colour and its
    severity's dash pattern, named in the legend below the chart.
    """
    width, height, left, right, top_pad, bottom = 720, 300, 56, 56, 12, 46
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    peak = max((run.counts.get(s, 0) for run in series for s in statuses), default=0)
    step = nice_step(peak)
    top = max(step * -(-peak // step), step)
    x_step = plot_w / max(len(series) - 1, 1)

    def xy(i: int, n: int) -> tuple[float, float]:
        x = left + (i * x_step if len(series) > 1 else plot_w / 2)
        return round(x, 1), round(top_pad + plot_h - plot_h * n / top, 1)

    base = top_pad + plot_h
    out = [f"<svg data-chart=\"trend\" role=\"img\" aria-labelledby=\"chart-trend-caption\" "
           f"width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"]
    for tick in range(0, top + 1, step):
        y = round(base - plot_h * tick / top, 1)
        out.append(f"<line class=\"grid\" x1=\"{left}\" y1=\"{y}\" x2=\"{width - right}\" "
                   f"y2=\"{y}\"/><text class=\"tick\" data-tick=\"{tick}\" x=\"{left - 6}\" "
                   f"y=\"{y + 4}\" text-anchor=\"end\">{tick}</text>")
    out.append(f"<line class=\"axis\" x1=\"{left}\" y1=\"{base}\" x2=\"{width - right}\" "
               f"y2=\"{base}\"/><line class=\"axis\" x1=\"{left}\" y1=\"{top_pad}\" "
               f"x2=\"{left}\" y2=\"{base}\"/>")
    every = max(1, -(-len(series) * 84 // plot_w))  # a label needs about 84 px
    for i, run in enumerate(series):
        if i % every and i != len(series) - 1:
            continue
        x, _ = xy(i, 0)
        out.append(f"<text class=\"when\" x=\"{x}\" y=\"{base + 16}\" text-anchor=\"middle\">"
                   f"{esc(short_when(run))}</text>")
    out.append(f"<text x=\"{left + plot_w / 2}\" y=\"{height - 6}\" text-anchor=\"middle\">"
               "run (UTC)</text><text x=\"14\" y=\"{0}\" text-anchor=\"middle\" "
               "transform=\"rotate(-90 14 {0})\">rows</text>".format(round(top_pad + plot_h / 2)))
    for s in statuses:
        colour = STATUS_COLOURS.get(s, "#555")
        dash = DASHES[severity_of(s)]
        points = [xy(i, run.counts.get(s, 0)) for i, run in enumerate(series)]
        out.append(f"<g data-label=\"{esc(s)}\" data-count=\"{series[-1].counts.get(s, 0)}\">"
                   f"<title>{esc(s)}</title>"
                   f"<polyline stroke=\"{colour}\""
                   + (f" stroke-dasharray=\"{dash}\"" if dash else "") + " points=\""
                   + " ".join(f"{x},{y}" for x, y in points) + "\"/>")
        for run, (x, y) in zip(series, points, strict=True):
            n = run.counts.get(s, 0)
            out.append(f"<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\" "
                       f"data-run=\"{esc(run.timestamp)}\" data-count=\"{n}\">"
                       f"<title>{esc(run.timestamp)} {esc(s)}: {n}</title></circle>")
        out.append("</g>")
    out.append("</svg>\n")
    return "".join(out)
