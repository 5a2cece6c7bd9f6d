"""Apply a plan against the *current* state, journalled.

Preconditions are re-checked by planning again from a fresh read, made after
the lock is taken: an action of the plan file is made only if the same action
(same kind and target) is still derived, unblocked, from what the directories
hold now. So a plan reviewed on Monday cannot delete an entry on Friday that has
since changed, and two applies cannot both act on one read.

A dry run goes through the same selection and the same checks as ``--yes``
(where a record is, whether an Exchange change can be written), so it shows
exactly what ``--yes`` would do, skips included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from toolkit.errors import CcmigError, ConnectionFailure, InputError
from toolkit.progress import counting
from toolkit.remediation import ccmail_files as cf
from toolkit.remediation.journal import Entry, Journal, exclusive_lock, read_journal
from toolkit.remediation.plan import ADVICE, KIND_ORDER, Action, entry_key
from toolkit.remediation.replace import REPLACES, counterpart, moved
from toolkit.remediation.settle import (
    ExchangeWriter,
    Outcome,
    settle,
    settled_state,
    unknown,
)
from toolkit.remediation.undo import undo_journal

__all__ = ["ExchangeWriter", "Outcome", "action_key", "apply_plan", "describe", "undo_journal"]

Chosen = tuple[dict[str, Any], Action]
Current = Iterable[Action] | Callable[[], Iterable[Action]]


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
        if t.get(REPLACES):
            return f"replace '{t[REPLACES]}' with '{t['address']}' on {t['dn']}"
        return f"add '{t['address']}' to {t['dn']}"
    if d["kind"] == "remove-custom-recipient":
        return f"remove custom recipient {t['dn']}"
    return f"{d['kind']}: {d['precondition']}"


# --------------------------------------------------------------------------- choosing


def _applicable(current: dict[tuple, Action], planned: list[dict[str, Any]], only: set[str] | None,
                confirm: set[str], done_actions: set[str]) -> tuple[list[Chosen], list[Outcome]]:
    go: list[Chosen] = []
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
        elif kind == "add-primary-address" and (why := moved(p["target"], now.target)):
            out.append(Outcome(p["id"], kind, "skipped", f"{describe(p)}: state moved: {why}"))
        else:
            go.append((p, now))
    return go, out


def _whole_groups(go: list[Chosen], out: list[Outcome],
                  current: dict[tuple, Action]) -> list[Chosen]:
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
    return kept


class Located:
    """Where each chosen cc:Mail removal's record is now: one read of each file."""

    def __init__(self) -> None:
        self.spans: dict[str, tuple[int, int]] = {}  # action id -> line span
        self.sha: dict[str, str | None] = {}  # file -> hash when it was read
        self._removed: dict[tuple[str, tuple[int, int]], list[str]] = {}
        self._file: dict[str, str] = {}  # action id -> file

    def removed_lines(self, file: str, span: tuple[int, int], encoding: str | None) -> list[str]:
        """The lines the removal at ``span`` takes out (all of a file's planned at once)."""
        if (file, span) not in self._removed:
            spans = sorted({s for key, s in self.spans.items() if self._file.get(key) == file})
            removals, _ = cf.plan_removals(file, spans, encoding)
            for s, r in zip(sorted(spans, reverse=True), removals, strict=True):
                self._removed[(file, s)] = r.lines
        return self._removed[(file, span)]

    def find(self, chosen: list[Chosen], encoding: str | None) -> dict[str, str]:
        """Locate every removal; the ones that cannot be made, with why (skipped: ...)."""
        by_file: dict[str, list[Chosen]] = defaultdict(list)
        problems: dict[str, str] = {}
        for p, a in chosen:
            if a.kind != "remove-ccmail-entry":
                continue
            if not a.target.get("file"):
                problems[p["id"]] = "skipped: the directory is not an export file"
            else:
                by_file[a.target["file"]].append((p, a))
        for file, items in by_file.items():
            self.sha[file] = cf.current_sha(file)
            try:
                found = cf.find_records(file, items[0][1].target["post_office"],
                                        [a.target for _, a in items], encoding)
            except CcmigError as exc:
                problems.update({p["id"]: f"failed: {exc}" for p, _ in items})
                continue
            if cf.current_sha(file) != self.sha[file]:
                problems.update({p["id"]: f"failed: {file}: changed while it was read"
                                 for p, _ in items})
                continue
            for (p, _), hit in zip(items, found, strict=True):
                if isinstance(hit, str):
                    problems[p["id"]] = f"failed: {file}: {hit}"
                elif hit is None:
                    problems[p["id"]] = "skipped: record not found"
                else:
                    self.spans[p["id"]] = hit
                    self._file[p["id"]] = file
        return problems


def _choose(plan: dict[str, Any], current: dict[tuple, Action], only: set[str] | None,
            confirm: set[str], done: set[str], exchange: ExchangeWriter | None,
            encoding: str | None) -> tuple[list[Chosen], list[Outcome], Located]:
    """What ``--yes`` makes, and the outcome of everything else: the same for a dry run."""
    go, out = _applicable(current, plan["actions"], only, confirm, done)
    located = Located()
    problems = located.find(go, encoding)
    kept: list[Chosen] = []
    for p, a in go:
        if a.kind != "remove-ccmail-entry" and exchange is None:
            problems[p["id"]] = ("skipped: Exchange-side change needs --exchange-uri "
                                 "(or run the plan's ps1/ldif output)")
        if p["id"] in problems:
            status, _, why = problems[p["id"]].partition(": ")
            out.append(Outcome(p["id"], p["kind"], status, f"{describe(p)}: {why}"))
        else:
            kept.append((p, a))
    kept = _whole_groups(kept, out, current)
    kept.sort(key=lambda pa: (KIND_ORDER[pa[0]["kind"]], pa[0]["id"]))
    return kept, out, located


def apply_plan(plan: dict[str, Any], current_actions: Current, *, yes: bool,
               journal_path: str, only: set[str] | None = None, confirm: Iterable[str] = (),
               exchange: ExchangeWriter | None = None, encoding: str | None = None,
               plan_path: str | None = None) -> list[Outcome]:
    """Apply (or, without ``yes``, dry-run) ``plan``.

    ``current_actions`` is what planning from a fresh read derives, or a callable
    that reads and derives it: with ``yes`` it is called only once the lock is
    held, so the actions are chosen from a state no other apply is changing.
    """
    confirm = set(confirm)
    known = {a["id"] for a in plan["actions"]}
    unknown_ids = sorted(confirm - known)
    if unknown_ids:
        raise InputError(f"no action with id {', '.join(unknown_ids)} in the plan", "--confirm")

    def derive() -> dict[tuple, Action]:
        actions = current_actions() if callable(current_actions) else current_actions
        return {action_key(a.kind, a.target): a for a in actions}

    if not yes:
        entries = read_journal(journal_path).entries
        states = settled_state(entries, exchange)  # what settle would decide
        done = {e.action for e in entries if states[e.seq] == "done"}
        go, out, located = _choose(plan, derive(), only, confirm, done, exchange, encoding)
        out += [Outcome(p["id"], p["kind"], "would-apply", describe(p) + _diff(p, a, located, encoding))
                for p, a in go]
        return _sorted(out)
    with exclusive_lock(journal_path), Journal(journal_path) as journal:
        settle(journal, exchange)
        # after settle: a change a killed run made is 'done' now, so it reads as
        # already-done instead of 'skipped' (its record is gone from the fresh read)
        done = {e.action for e in journal.state.entries if e.state == "done"}
        go, out, located = _choose(plan, derive(), only, confirm, done, exchange, encoding)
        journal.run("apply", plan=plan_path, actions=len(go))
        out += _make_all(journal, go, located, exchange, encoding, journal_path)
    return _sorted(out)


def _diff(p: dict[str, Any], a: Action, located: Located, encoding: str | None) -> str:
    """For a dry run: the exact lines a cc:Mail removal would take out."""
    t = a.target
    span = located.spans.get(p["id"])
    if a.kind != "remove-ccmail-entry" or span is None:
        return ""
    lines = located.removed_lines(t["file"], span, encoding)
    shown = " | ".join(f"-{line.rstrip()}" for line in lines if line.strip())
    return f" in {t['file']}:{span[0]}: {shown}"


def _sorted(out: list[Outcome]) -> list[Outcome]:
    return sorted(out, key=lambda o: o.action)


# --------------------------------------------------------------------------- making


def _make_all(journal: Journal, go: list[Chosen], located: Located,
              exchange: ExchangeWriter | None, encoding: str | None,
              journal_path: str) -> list[Outcome]:
    """Exchange-side changes one by one, then each cc:Mail file rewritten once."""
    out: list[Outcome] = []
    by_file: dict[str, list[Chosen]] = defaultdict(list)
    for p, a in counting(go, "actions applied"):
        if p["kind"] == "remove-ccmail-entry":
            by_file[a.target["file"]].append((p, a))
            continue
        assert exchange is not None  # _choose skips Exchange-side actions without it
        try:
            out.append(_exchange_one(journal, p, a.target, exchange))
        except ConnectionFailure as exc:
            made = sum(1 for o in out if o.status == "applied")
            raise ConnectionFailure(
                f"apply stopped at action {p['id']} ({describe(p)}): {exc}; {made} change(s) "
                f"made before it are journalled in {journal_path}") from None
    for file, items in by_file.items():
        out += _remove_from_file(journal, file, items, located, encoding)
    return out


def _remove_from_file(journal: Journal, file: str, items: list[Chosen], located: Located,
                      encoding: str | None) -> list[Outcome]:
    """All of a wave's removals from one file: every one journalled (one fsync),
    then the file rewritten once. A kill leaves the file as it was or with all of
    them made, and the journal's chain says which (:func:`settle`)."""
    spans = [located.spans[p["id"]] for p, _ in items]
    try:
        removals, data = cf.plan_removals(file, spans, encoding)
        if removals[0].sha_before != located.sha[file]:
            raise InputError("file changed since it was read", file)
    except CcmigError as exc:
        return [Outcome(p["id"], p["kind"], "failed", f"{describe(p)}: {exc}") for p, _ in items]
    # plan_removals works bottom-up: pair each removal with its action by span
    by_start = {span: pa for span, pa in zip(spans, items, strict=True)}
    ordered = [by_start[span] for span in sorted(spans, reverse=True)]
    entries = journal.intents([
        (p["id"], p["kind"], {"type": "ccmail-remove", "name": a.target["name"],
                              "locn": a.target["locn"], "addr": a.target.get("addr") or "",
                              "mailbox": a.mailbox, **removal.__dict__})
        for (p, a), removal in zip(ordered, removals, strict=True)])
    try:
        cf.apply_removals(removals, data)
    except CcmigError as exc:
        journal.mark_all(entries, "failed", str(exc))
        return [Outcome(p["id"], p["kind"], "failed", f"{describe(p)}: {exc}") for p, _ in items]
    journal.mark_all(entries, "done")
    return [Outcome(p["id"], p["kind"], "applied", describe(p)) for p, _ in items]


def _exchange_one(journal: Journal, p: dict[str, Any], t: dict[str, Any],
                  exchange: ExchangeWriter) -> Outcome:
    kind = p["kind"]
    try:
        if kind in ("add-primary-address", "add-secondary-address"):
            before = exchange.get_addresses(t["dn"])
            there, old = counterpart(before or [], t["address"])
            why = ("it is on the object already (Exchange); nothing to add" if there
                   else moved(t, {REPLACES: old} if old else {}))
            if why and before is not None:  # (not found: the write says so, as before)
                return Outcome(p["id"], kind, "skipped", f"{describe(p)}: state moved: {why}")
            change = {"type": "add-address", "dn": t["dn"], "address": t["address"],
                      "before": before, "mailbox": p.get("mailbox")}
            if old is not None:  # the exact value, as Exchange returned it just now
                change[REPLACES] = old
            entry = journal.intent(p["id"], kind, change)
            # one call: the value equal but for case goes as the primary comes
            _make(journal, entry, lambda: exchange.edit_addresses(
                t["dn"], add=[t["address"]], remove=[old] if old else []))
        else:
            record = exchange.get_contact(t["dn"])
            if record is None:
                raise InputError("custom recipient not found in Exchange", t["dn"])
            entry = journal.intent(p["id"], kind, {"type": "remove-contact", "dn": t["dn"],
                                                   "record": record, "mailbox": p.get("mailbox")})
            _make(journal, entry, lambda: exchange.remove_contact(t["dn"]))
    except ConnectionFailure:
        raise  # Exchange unreachable (reads already retried) or a write's outcome unknown: stop
    except CcmigError as exc:
        return Outcome(p["id"], kind, "failed", f"{describe(p)}: {exc}")
    journal.mark(entry, "done")
    return Outcome(p["id"], kind, "applied", describe(p))


def _make(journal: Journal, entry: Entry, change: Callable[[], None]) -> None:
    """Make a journalled change; a refusal is journalled as failed, then raised.

    A connection failure during an Exchange write is NOT a refusal: the change
    may have been made. It is never retried here; an ``unknown`` record with
    the reason goes to the journal (readers keep the entry an ``intent``), and
    the next apply or undo settles it from the current state (:func:`settle`).
    """
    try:
        change()
    except ConnectionFailure as exc:
        unknown(journal, entry, "apply", exc)
        raise ConnectionFailure(f"outcome unknown, journalled as seq {entry.seq}; run apply or "
                                f"undo again to settle it from the current state: {exc}") from None
    except CcmigError as exc:
        journal.mark(entry, "failed", str(exc))
        raise

