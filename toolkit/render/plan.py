"""Plan renderers: json, csv, and the reviewable scripts admins run by hand
(ps1 for Exchange Management Shell, ldif for ``ldifde -i``, ccmail for cc:Mail
Admin)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TextIO

from toolkit.exchange.ldif_write import ldif_line
from toolkit.remediation.plan import Plan
from toolkit.remediation.replace import REPLACES
from toolkit.render.csvout import write_table_csv
from toolkit.text import has_control

PLAN_FORMATS = ("json", "csv", "ps1", "ldif", "ccmail")
# PowerShell treats these as single quotes too: all are doubled inside '...'.
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def _breaks(c: str) -> bool:
    """A control character, or the line or paragraph separator (categories Zl, Zp)."""
    return has_control(c) or c in "\u2028\u2029"


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted literal: no expansion of $, `, or subexpressions.

    Quote characters (ASCII and the typographic ones PowerShell also accepts)
    are doubled. Control and line-break characters never appear raw: they are
    spliced in as ``[char]N`` so a value cannot end a line or a comment.
    """
    if not any(_breaks(c) for c in value):
        return "'" + "".join(c * 2 if c in _PS_QUOTES else c for c in value) + "'"
    parts: list[str] = []
    run: list[str] = []
    for c in value:
        if _breaks(c):
            if run:
                parts.append(ps_quote("".join(run)))
                run = []
            parts.append(f"[char]{ord(c)}")
        else:
            run.append(c)
    parts.append(ps_quote("".join(run)))  # end on a literal, so ')' stands alone
    return "(" + " + ".join(["''", *parts]) + ")"


def _comment(text: str) -> str:
    return " ".join(text.replace("#>", "# >").split())


def write_plan(plan: Plan, fmt: str, out: TextIO) -> None:
    {"json": _json, "csv": _csv, "ps1": _ps1, "ldif": _ldif, "ccmail": _ccmail}[fmt](plan, out)


def _json(plan: Plan, out: TextIO) -> None:
    json.dump(plan.as_dict(), out, ensure_ascii=False, indent=1)
    out.write("\n")


def _csv(plan: Plan, out: TextIO) -> None:
    header = ("id", "kind", "target", "reason", "precondition", "blocked", "blocked_reason",
              "manual", "mailbox")
    lines = ([a.id, a.kind, json.dumps(a.target, ensure_ascii=False), " ".join(a.reason),
              a.precondition, "true" if a.blocked else "false", a.blocked_reason,
              "true" if a.manual else "false", a.mailbox] for a in plan.actions)
    write_table_csv(header, lines, out)


def _ps1(plan: Plan, out: TextIO) -> None:
    # A BOM: Windows PowerShell 5.1 reads a BOM-less script as ANSI, where the UTF-8
    # bytes of some letters turn into typographic quotes that close a literal.
    out.write("\ufeff# ccmig remediation plan: Exchange-side changes. Review before running in the\n"
              "# Exchange Management Shell. Blocked and manual actions are commented out.\n"
              "# Email address policies may re-stamp addresses: check EmailAddressPolicyEnabled.\n")
    out.write("$ErrorActionPreference = 'Stop'\n\n")
    for a in plan.actions:
        t = a.target
        if a.kind in ("add-primary-address", "add-secondary-address"):
            # a replacement is one call: Exchange refuses to add a value it holds in another case
            change = (f"Remove={ps_quote(t[REPLACES])}; " if t.get(REPLACES) else "")
            cmd = (f"Set-Mailbox -Identity {ps_quote(t['dn'])} -EmailAddresses "
                   f"@{{{change}Add={ps_quote(t['address'])}}}")
        elif a.kind == "remove-custom-recipient":
            cmd = f"Remove-MailContact -Identity {ps_quote(t['dn'])} -Confirm:$false"
        else:
            continue
        out.write(f"# {a.id} {a.kind} ({', '.join(a.reason)}): {_comment(a.precondition)}\n")
        if a.blocked or a.manual:
            why = f"BLOCKED: {a.blocked_reason}" if a.blocked else "MANUAL: decide, then uncomment"
            out.write(f"# {_comment(why)}\n# {cmd}\n\n")
        else:
            out.write(f"{cmd}\n\n")


def _ldif(plan: Plan, out: TextIO) -> None:
    out.write("# ccmig remediation plan: Exchange-side changes for ldifde -i.\n"
              "# Blocked and manual actions are left out.\nversion: 1\n\n")
    for a in plan.actions:
        if a.blocked or a.manual:
            continue
        t = a.target
        if a.kind in ("add-primary-address", "add-secondary-address"):
            # One modify: the directory applies its parts atomically, in order, so the
            # value equal but for case is gone before the add (else "value exists").
            delete = (f"delete: proxyAddresses\n{ldif_line('proxyAddresses', t[REPLACES])}\n-\n"
                      if t.get(REPLACES) else "")
            out.write(f"# {a.id} {a.kind}\n{ldif_line('dn', t['dn'])}\nchangetype: modify\n"
                      f"{delete}add: proxyAddresses\n{ldif_line('proxyAddresses', t['address'])}"
                      "\n-\n\n")
        elif a.kind == "remove-custom-recipient":
            out.write(f"# {a.id} {a.kind}\n{ldif_line('dn', t['dn'])}\nchangetype: delete\n\n")


def _ccmail(plan: Plan, out: TextIO) -> None:
    by_po: dict[str, list] = defaultdict(list)
    for a in plan.actions:
        if a.kind == "remove-ccmail-entry" and not a.blocked and not a.manual:
            by_po[a.target["post_office"]].append(a)
    # The same keyword format ccmig reads, one block per PO (no comment syntax
    # exists in it): the entries to delete with cc:Mail Admin.
    for n, po in enumerate(sorted(by_po, key=str.casefold)):
        out.write(f"{chr(10) if n else ''}Post office: {po}\n")
        for a in by_po[po]:
            t = a.target
            out.write(f"\nName: {t['name']}\nLocn: {t['locn']}\n")
            if t.get("addr"):
                out.write(f"Addr: {t['addr']}\n")
            out.write(f"Comments: ccmig action {a.id}\n")
