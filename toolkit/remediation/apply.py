"""Apply a plan against the *current* state, journalled; undo from the journal.

Preconditions are re-checked by planning again from a fresh read: an action of
the plan file is made only if the same action (same kind and target) is still
derived, unblocked, from what the directories hold now. So a plan reviewed
on Monday cannot delete an entry on Friday that has since changed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from toolkit.errors import CcmigError, ConnectionFailure, InputError
from toolkit.progress import counting
from toolkit.remediation import ccmail_files as cf
from toolkit.remediation.journal import Entry, Journal, exclusive_lock, now, read_journal
from toolkit.remediation.plan import ADVICE, Action, entry_key

log = logging.getLogger(__name__)


class ExchangeWriter(Protocol):
    """The Exchange-side changes apply and undo make (PowerShell adapter)."""

    def get_addresses(self, dn: str) -> list[str] | None: ...
    def add_address(self, dn: str, address: str) -> None: ...
    def remove_address(self, dn: str, address: str) -> None: ...
    def get_contact(self, dn: str) -> dict[str, Any] | None: ...
    def remove_contact(self, dn: str) -> None: ...
    def new_contact(self, record: dict[str, Any]) -> None: ...


@dataclass
class Outcome:
    action: str
    kind: str
    status: str  # applied | would-apply | already-done | skipped | blocked | advice | failed
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.action, "kind": self.kind, "status": self.status, "detail": self.detail}


def action_key(kind: str, target: dict[str, Any]) -> tuple:
    if kind in ("remove-ccmail-entry", "review-alias"):
        return (kind, *entry_key(target))
    return (kind, (target.get("dn") or "").casefold(), (target.get("address") or "").casefold())


def describe(a: dict[str, Any] | Action) -> str:
    d = a.as_dict() if isinstance(a, Action) else a
    t = d["target"]
    if d["kind"] == "remove-ccmail-entry":
        return f"remove {t['locn']} entry '{t['name']}' from {t['post_office']}'s directory"
    if d["kind"] in ("add-primary-address", "add-secondary-address"):
        return f"add '{t['address']}' to {t['dn']}"
    if d["kind"] == "remove-custom-recipient":
        return f"remove custom recipient {t['dn']}"
    return f"{d['kind']}: {d['precondition']}"


# --------------------------------------------------------------------------- settle


def settle(journal: Journal, exchange: ExchangeWriter | None) -> None:
    """Decide the outcome of intents left by a killed run, from the current state."""
    for entry in journal.state.entries:
        if entry.state != "intent":
            continue
        outcome = _observe(entry, exchange)
        if outcome == "made":
            journal.mark(entry, "done")
        elif outcome == "not-made":
            journal.mark(entry, "failed", "interrupted before the change was made")
        else:
            log.warning("journal seq %d (%s): outcome unknown: %s", entry.seq, entry.action,
                        outcome)


def _observe(entry: Entry, exchange: ExchangeWriter | None) -> str:
    c = entry.change
    if c["type"] == "ccmail-remove":
        cf.discard_temp(c["file"])  # a kill during atomic_write leaves it; the file itself is whole
        sha = cf.current_sha(c["file"])
        return ("made" if sha == c["sha_after"] else "not-made" if sha == c["sha_before"]
                else f"{c['file']} changed by someone else")
    if exchange is None:
        return "needs --exchange-uri to look"
    if c["type"] == "add-address":
        return "made" if _carries(exchange.get_addresses(c["dn"]), c["address"]) else "not-made"
    if c["type"] == "remove-contact":
        return "made" if exchange.get_contact(c["dn"]) is None else "not-made"
    return "unknown change type"


def _carries(addresses: list[str] | None, address: str) -> bool:
    """Is ``address`` on the object? The type prefix compares exactly - its case says
    primary or not, and adding ``CCMAIL:X`` to an object with ``ccmail:X`` is a
    change - the address after it case-insensitively, as Exchange compares them."""
    prefix, _, rest = address.partition(":")
    return any(p == prefix and r.casefold() == rest.casefold()
               for p, _, r in (a.partition(":") for a in addresses or []))


# --------------------------------------------------------------------------- apply


def _applicable(current: dict[tuple, Action], planned: list[dict[str, Any]], only: set[str] | None,
                confirm: set[str], done_actions: set[str]) -> tuple[list[tuple[dict, Action]],
                                                                    list[Outcome]]:
    go: list[tuple[dict, Action]] = []
    out: list[Outcome] = []
    for p in planned:
        kind = p["kind"]
        if only and kind not in only:
            continue
        if kind in ADVICE:
            out.append(Outcome(p["id"], kind, "advice", describe(p)))
            continue
        now = current.get(action_key(kind, p["target"]))
        if now is None:
            status = "already-done" if p["id"] in done_actions else "skipped"
            detail = ("done in an earlier run" if status == "already-done"
                      else "no longer needed or the state moved: not derived from the current state")
            out.append(Outcome(p["id"], kind, status, f"{describe(p)}: {detail}"))
        elif now.blocked:
            out.append(Outcome(p["id"], kind, "blocked", f"{describe(p)}: {now.blocked_reason}"))
        elif (now.manual or p.get("manual")) and p["id"] not in confirm:
            out.append(Outcome(p["id"], kind, "skipped",
                               f"{describe(p)}: manual action, name it with --confirm {p['id']}"))
        else:
            go.append((p, now))
    return _whole_groups(go, out, current)


def _whole_groups(go: list[tuple[dict, Action]], out: list[Outcome],
                  current: dict[tuple, Action]) -> tuple[list[tuple[dict, Action]], list[Outcome]]:
    """Removals of one cc:Mail name go together or not at all (dirsync refuses a
    name that still exists anywhere)."""
    going = {action_key(p["kind"], p["target"]) for p, _ in go}
    members: dict[str, list[tuple]] = defaultdict(list)
    for key, a in current.items():
        if a.kind == "remove-ccmail-entry" and a.group:
            members[a.group].append(key)
    kept = []
    for p, a in go:
        missing = [k for k in members.get(a.group or "", []) if k not in going]
        if a.kind == "remove-ccmail-entry" and missing:
            names = "; ".join(f"{current[k].target['name']} in {current[k].target['post_office']}"
                              for k in missing)
            out.append(Outcome(p["id"], a.kind, "skipped",
                               f"{describe(p)}: other entries of this name are not going in this "
                               f"run ({names})"))
        else:
            kept.append((p, a))
    return kept, out


def apply_plan(plan: dict[str, Any], current_actions: Iterable[Action], *, yes: bool,
               journal_path: str, only: set[str] | None = None, confirm: Iterable[str] = (),
               exchange: ExchangeWriter | None = None, encoding: str | None = None,
               plan_path: str | None = None) -> list[Outcome]:
    current = {action_key(a.kind, a.target): a for a in current_actions}
    confirm = set(confirm)
    known = {a["id"] for a in plan["actions"]}
    unknown = sorted(confirm - known)
    if unknown:
        raise InputError(f"no action with id {', '.join(unknown)} in the plan", "--confirm")
    order = {"add-secondary-address": 0, "add-primary-address": 1,
             "remove-custom-recipient": 2, "remove-ccmail-entry": 3}

    def select(entries: Iterable[Entry]) -> tuple[list[tuple[dict, Action]], list[Outcome]]:
        done = {e.action for e in entries if e.state == "done"}
        go, out = _applicable(current, plan["actions"], only, confirm, done)
        go.sort(key=lambda pa: (order[pa[0]["kind"]], pa[0]["id"]))
        return go, out

    if not yes:
        go, out = select(read_journal(journal_path).entries)
        out += [Outcome(p["id"], p["kind"], "would-apply", describe(p) + _diff(a, encoding))
                for p, a in go]
        return _sorted(out)
    with exclusive_lock(journal_path), Journal(journal_path) as journal:
        settle(journal, exchange)
        # after settle: a change a killed run made is 'done' now, so it reads as
        # already-done instead of 'skipped' (its record is gone from the fresh read)
        go, out = select(journal.state.entries)
        journal.run("apply", plan=plan_path, actions=len(go))
        for p, a in counting(go, "actions applied"):
            try:
                out.append(_apply_one(journal, p, a, exchange, encoding))
            except ConnectionFailure as exc:
                made = sum(1 for o in out if o.status == "applied")
                raise ConnectionFailure(
                    f"apply stopped at action {p['id']} ({describe(p)}): {exc}; {made} change(s) "
                    f"made before it are journalled in {journal_path}") from None
    return _sorted(out)


def _diff(a: Action, encoding: str | None) -> str:
    """For a dry run: the exact lines a cc:Mail removal would take out."""
    t = a.target
    if a.kind != "remove-ccmail-entry" or not t.get("file"):
        return ""
    try:
        span = cf.find_record(t["file"], t["post_office"], t["name"], t["locn"],
                              t.get("addr") or "", encoding)
    except CcmigError as exc:
        return f" (cannot read: {exc})"
    if span is None:
        return " (record not found)"
    lines = cf.plan_removal(t["file"], span, encoding).lines
    shown = " | ".join(f"-{line.rstrip()}" for line in lines if line.strip())
    return f" in {t['file']}:{span[0]}: {shown}"


def _sorted(out: list[Outcome]) -> list[Outcome]:
    return sorted(out, key=lambda o: o.action)


def _apply_one(journal: Journal, p: dict[str, Any], a: Action, exchange: ExchangeWriter | None,
               encoding: str | None) -> Outcome:
    kind, t = p["kind"], a.target
    try:
        if kind == "remove-ccmail-entry":
            if not t.get("file"):
                return Outcome(p["id"], kind, "skipped",
                               f"{describe(p)}: the directory is not an export file")
            span = cf.find_record(t["file"], t["post_office"], t["name"], t["locn"],
                                  t.get("addr") or "", encoding)
            if span is None:
                return Outcome(p["id"], kind, "skipped", f"{describe(p)}: record not found")
            removal = cf.plan_removal(t["file"], span, encoding)
            entry = journal.intent(p["id"], kind, {"type": "ccmail-remove", **removal.__dict__})
            _make(journal, entry, lambda: cf.apply_removal(removal))
        else:
            if exchange is None:
                return Outcome(p["id"], kind, "skipped",
                               f"{describe(p)}: Exchange-side change needs --exchange-uri "
                               "(or run the plan's ps1/ldif output)")
            entry = _exchange_change(journal, p, t, exchange)
    except ConnectionFailure:
        raise  # Exchange unreachable (reads already retried) or a write's outcome unknown: stop
    except CcmigError as exc:
        return Outcome(p["id"], kind, "failed", f"{describe(p)}: {exc}")
    journal.mark(entry, "done")
    return Outcome(p["id"], kind, "applied", describe(p))


def _exchange_change(journal: Journal, p: dict[str, Any], t: dict[str, Any],
                     exchange: ExchangeWriter) -> Entry:
    kind = p["kind"]
    if kind in ("add-primary-address", "add-secondary-address"):
        before = exchange.get_addresses(t["dn"])
        entry = journal.intent(p["id"], kind, {"type": "add-address", "dn": t["dn"],
                                               "address": t["address"], "before": before})
        _make(journal, entry, lambda: exchange.add_address(t["dn"], t["address"]))
        return entry
    record = exchange.get_contact(t["dn"])
    if record is None:
        raise InputError("custom recipient not found in Exchange", t["dn"])
    entry = journal.intent(p["id"], kind, {"type": "remove-contact", "dn": t["dn"],
                                           "record": record})
    _make(journal, entry, lambda: exchange.remove_contact(t["dn"]))
    return entry


def _make(journal: Journal, entry: Entry, change) -> None:
    """Make a journalled change; a refusal is journalled as failed, then raised.

    A connection failure during an Exchange write is NOT a refusal: the change
    may have been made. It is never retried here; an ``unknown`` record with
    the reason goes to the journal (readers keep the entry an ``intent``), and
    the next apply or undo settles it from the current state (:func:`settle`).
    """
    try:
        change()
    except ConnectionFailure as exc:
        _unknown(journal, entry, "apply", exc)
        raise ConnectionFailure(f"outcome unknown, journalled as seq {entry.seq}; run apply or "
                                f"undo again to settle it from the current state: {exc}") from None
    except CcmigError as exc:
        journal.mark(entry, "failed", str(exc))
        raise


def _unknown(journal: Journal, entry: Entry, during: str, exc: BaseException) -> None:
    """Journal that the outcome of a change (or of its revert) is not known."""
    journal.write({"type": "unknown", "seq": entry.seq, "during": during, "time": now(),
                   "error": " ".join(str(exc).split())})


# --------------------------------------------------------------------------- undo


def undo_journal(journal_path: str, *, yes: bool, exchange: ExchangeWriter | None = None
                 ) -> list[Outcome]:
    state = read_journal(journal_path)
    out: list[Outcome] = []
    if not state.entries:  # e.g. an apply killed before its first change
        log.info("%s: the journal records no change; nothing to revert", journal_path)
        return out
    if not yes:
        for e in reversed(state.entries):
            if e.state in ("done", "intent"):
                out.append(Outcome(e.action, e.kind, "would-revert", _change_text(e)))
        return out
    with exclusive_lock(journal_path), Journal(journal_path) as journal:
        settle(journal, exchange)
        journal.run("undo")
        for e in reversed(journal.state.entries):
            if e.state != "done":
                continue
            try:
                _revert(e, exchange)
            except ConnectionFailure as exc:
                _unknown(journal, e, "undo", exc)  # the entry stays done: undo again settles it
                raise ConnectionFailure(
                    f"undo stopped at seq {e.seq} ({_change_text(e)}): outcome unknown; run undo "
                    f"again to settle it from the current state: {exc}") from None
            except CcmigError as exc:
                out.append(Outcome(e.action, e.kind, "failed", f"{_change_text(e)}: {exc}"))
                continue
            journal.mark(e, "undone")
            out.append(Outcome(e.action, e.kind, "reverted", _change_text(e)))
    return out


def _change_text(e: Entry) -> str:
    c = e.change
    if c["type"] == "ccmail-remove":
        return f"re-insert {len(c['lines'])} line(s) into {c['file']}"
    if c["type"] == "add-address":
        return f"remove '{c['address']}' from {c['dn']}"
    return f"re-create custom recipient {c['dn']}"


def _revert(e: Entry, exchange: ExchangeWriter | None) -> None:
    c = e.change
    if c["type"] == "ccmail-remove":
        cf.revert_removal(cf.Removal(**{k: c[k] for k in cf.Removal.__dataclass_fields__}))
        return
    if exchange is None:
        raise InputError("reverting an Exchange-side change needs --exchange-uri", "--exchange-uri")
    if c["type"] == "add-address":
        # Look before writing: an earlier undo whose answer was lost may have removed it.
        have = exchange.get_addresses(c["dn"])
        if have is not None and not _carries(have, c["address"]):
            log.info("journal seq %d: '%s' is no longer on %s; nothing to revert", e.seq,
                     c["address"], c["dn"])
            return
        exchange.remove_address(c["dn"], c["address"])
    else:
        exchange.new_contact(c["record"])  # the writer looks first, too
