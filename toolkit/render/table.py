"""Human table: one line a row at 80 columns, then counts per status and PO.

For people, so ordered for people (spec: Output): most severe first, then by
name, so the first screen shows what needs doing rather than 71
``not-migrated`` rows that happen to sort first by key. JSON, JSONL and CSV
keep key order for scripts.

Widths are terminal cells, not characters: a CJK character takes two, a
combining accent (a name typed with decomposed accents, ``e`` + U+0301)
takes none, so columns line up whatever the names hold.

Values from the directory are untrusted: control characters (terminal escape
sequences) are replaced before anything reaches the terminal.
"""

from __future__ import annotations

import os
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from toolkit.model import Row
from toolkit.rules import STATUSES
from toolkit.rules.codes import SEVERITY_RANK
from toolkit.text import fold, printable


def clean(text: object) -> str:
    """Printable form: control characters become U+FFFD."""
    if text is None:
        return "-"
    return printable(str(text))


def char_cells(c: str) -> int:
    """Terminal cells of one character: 2 wide (East Asian W/F), 0 combining or
    format (accents, zero-width joiners), else 1."""
    if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def cells(text: str) -> int:
    """Terminal cells ``text`` takes.

    Every ASCII character takes one cell (:func:`char_cells`), so ASCII text
    - most values - is measured by its length: asking unicodedata three
    questions per character made the table of 100,000 rows take 18 s.
    """
    if text.isascii():
        return len(text)
    known = _CHAR_CELLS
    n = 0
    for c in text:
        w = known.get(c)
        if w is None:
            w = known[c] = char_cells(c)
        n += w
    return n


_CHAR_CELLS: dict[str, int] = {}  # char_cells of each character met (a few hundred)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, ending in ``…`` when cut (no half-wide character)."""
    if cells(text) <= width:
        return text
    if text.isascii():  # one cell a character (see cells)
        return text[:max(width - 1, 0)] + "…"
    out, used = [], 0
    for c in text:
        w = char_cells(c)
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def pad(text: str, width: int) -> str:
    """``text`` fitted and padded to exactly ``width`` cells."""
    text = fit(text, width)
    return text + " " * (width - cells(text))


def format_columns(cells_: Sequence[str], widths: Sequence[int]) -> str:
    parts = [pad(c, w) for c, w in zip(cells_[:-1], widths, strict=False)]
    return " ".join([*parts, fit(cells_[-1], widths[-1])]).rstrip()


# 25 + 7 + 22 + 8 + 14 + four spaces = 80 cells.
WIDTHS = (25, 7, 22, 8, 14)
HEADER = ("STATUS", "KIND", "CC:MAIL NAME", "OLD PO", "ROUTE")
# Short kind labels that fit the table; the summary spells them out.
KIND_LABELS = {"mailbox": "mailbox", "custom-recipient": "contact", "group": "group",
               "ccmail-user": "cc:Mail"}
NO_PO_NOTE = ("(none): rows with no old cc:Mail post office: groups, mailboxes without an "
              "old cc:Mail address, contacts whose cc:Mail address is at an Exchange post "
              "office or is missing.")
KIND_LEGEND = ("KIND: mailbox; contact = custom-recipient (the person's mail contact); "
               "group; cc:Mail = ccmail-user (only in cc:Mail).")

COLOURS = {"error": "31", "warning": "33", "info": "36", "complete": "32"}


def use_colour(out: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def severity(row: Row) -> str:
    return row.findings[0].severity if row.findings else "complete"


class Tally:
    """What the summary needs, counted in the same pass that orders the rows."""

    def __init__(self) -> None:
        self.total = 0
        self.by_status: Counter[str] = Counter()
        self.per_po: dict[str, Counter[str]] = {}
        self.more = False  # some row has more than one finding ("+N")

    def add(self, row: Row) -> None:
        self.total += 1
        self.by_status[row.status] += 1
        po = clean(row.old_post_office) if row.old_post_office else NO_PO
        c = self.per_po.setdefault(po, Counter())
        c["rows"] += 1
        c[severity(row)] += 1
        self.more = self.more or len(row.findings) > 1


NO_PO = "(none)"


def base_letters(name: str) -> str:
    """Sort key for people: case and accents ignored (Ángel among the A's, not
    after Z), so a name is where a reader looks for it."""
    if name.isascii():  # its own NFKD, nothing combining: most names
        return name.casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", name)
                   if not unicodedata.combining(c)).casefold()


def people_order(rows: Sequence[Row], tally: Tally) -> list[int]:
    """Row positions, most severe first, then by folded name (then key).

    Positions, not rows: at 100,000 rows the rows are made again when written
    rather than all held at once (an analysis's rows are made when read).
    """
    keys = []
    for i, r in enumerate(rows):
        tally.add(r)
        name = r.ccmail_name or ""
        keys.append((-SEVERITY_RANK.get(severity(r), 0), base_letters(name), fold(name), name,
                     r.key, i))
    keys.sort()
    return [k[-1] for k in keys]


def row_line(row: Row) -> str:
    more = len(row.findings) - 1
    status = row.status + (f" +{more}" if more > 0 else "")
    kind = KIND_LABELS.get(str(row.kind), str(row.kind))
    return format_columns((status, kind, clean(row.ccmail_name), clean(row.old_post_office),
                           clean(row.route)), WIDTHS)


def write_table(rows: Sequence[Row], out: TextIO, details: bool = False) -> None:
    """The rows by severity then name; ``details`` (``ccmig check``): in the
    order given, each followed by its findings' messages and actions."""
    colour = use_colour(out)
    tally = Tally()
    out.write(format_columns(HEADER, WIDTHS) + "\n")
    if details:
        order: Sequence[int] = range(len(rows))
    else:
        order = people_order(rows, tally)
    for i in order:
        row = rows[i]
        if details:
            tally.add(row)
            tally.more = False  # every finding is shown under its row
        line = row_line(row)
        if colour:  # colour the padded status cell, so columns stay aligned
            width = WIDTHS[0]
            line = f"\x1b[{COLOURS[severity(row)]}m{line[:width]}\x1b[0m{line[width:]}"
        out.write(line + "\n")
        if details:
            write_findings(row, out)
    write_summary(tally, out, gap=not details)


def _wrap(text: str, first: str, rest: str) -> str:
    return textwrap.fill(clean(text), 80, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False, break_long_words=False) + "\n"


def write_findings(row: Row, out: TextIO) -> None:
    """Each finding's message and action, wrapped at 80 columns under the row."""
    if not row.findings:
        out.write("  complete: nothing to do.\n")
    for f in row.findings:
        out.write(_wrap(f"{f.code} ({f.severity}): {f.message}", "  ", "    "))
        out.write(_wrap(f"Do: {f.action}", "    ", "      "))
    out.write("\n")


def _note(text: str, out: TextIO) -> None:
    out.write(_wrap(text, "", "  "))


def write_summary(tally: Tally, out: TextIO, gap: bool = True) -> None:
    if gap:
        out.write("\n")
    if tally.more:
        _note("+N after a status: the row has N more findings (ccmig check NAME, or "
              "--format json, shows every finding with its action).", out)
    _note(KIND_LEGEND, out)
    out.write(f"\n{tally.total} row(s) by status:\n")
    for code in STATUSES:
        if tally.by_status[code]:
            out.write(f"  {code:<28}{tally.by_status[code]:>8}\n")
    out.write("\nBy old post office:\n")
    out.write(f"  {'PO':<20}{'rows':>8}{'errors':>8}{'warnings':>10}{'info':>8}{'complete':>10}\n")
    for po in sorted(tally.per_po, key=str.casefold):
        c = tally.per_po[po]
        out.write(f"  {pad(po, 19)} {c['rows']:>8}{c['error']:>8}{c['warning']:>10}"
                  f"{c['info']:>8}{c['complete']:>10}\n")
    if NO_PO in tally.per_po:
        _note(NO_PO_NOTE, out)
