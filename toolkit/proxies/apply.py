"""``ccmig apply`` / ``ccmig undo`` of ``remove-proxy-addresses`` actions
(spec: Legacy proxy hygiene, ``ccmig apply PLAN`` / ``ccmig undo JOURNAL``).

Why it looks the way it does:

- Each object is read again through the path that writes it, just before the
  write, and ``retired-in-use`` is evaluated again against the plan's exports:
  a plan reviewed on Monday must not remove on Friday a value cc:Mail has
  started to use again, nor "remove" a value someone already took away.
- Values compare as *the same*, but what is written is the value exactly as
  the object holds it now: a delete must name the stored value, and a hostile
  value is removed (or kept) whole, never rewritten.
- The journal is write-ahead (fsynced before the write): a run killed between
  the intent and its outcome leaves an intent that the next run settles by
  reading the object (values gone: made; all there: not made).
- Only a write Exchange refused by throttling is sent again (it was not run);
  every other failure is reported and never retried, because a lost answer
  may hide a change that was made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolkit.errors import CcmigError, ConnectionFailure
from toolkit.exchange.psfailures import Throttled
from toolkit.model import DirEntry
from toolkit.proxies.model import ProxyKind, ProxyObject, ProxyValue
from toolkit.proxies.plan import KIND
from toolkit.proxies.rules import Context, kept_values
from toolkit.proxies.settings import make_settings
from toolkit.remediation.journal import Entry, Journal, exclusive_lock, now, read_journal
from toolkit.remediation.settle import Outcome

DEFAULT_THROTTLE_WAIT = 30.0  # seconds, when a throttling refusal names no wait
_sleep = time.sleep  # tests replace it (or give Pacing a sleep) to prove the waits


class ProxyWriter(Protocol):
    """One write path: remote PowerShell (the action's cmdlet) or LDAP."""

    path: str  # "powershell" | "ldap": recorded in the journal; undo goes the same way

    def read(self, dn: str) -> list[str] | None:
        """The object's address values as stored now, in order; None: not found."""

    def edit(self, dn: str, cmdlet: str | None, *, remove: Sequence[str] = (),
             add: Sequence[str] = ()) -> None:
        """One write. Raises Throttled (not run), ConnectionFailure (outcome
        unknown: never resent), CcmigError (refused: nothing changed)."""

    def can_write(self, action: dict[str, Any]) -> str | None:
        """Why this path cannot write the action (None: it can)."""


@dataclass
class Pacing:
    """Waits, injectable so tests prove them without sleeping.

    ``per_minute`` spreads writes (a destructive-cmdlet budget such as
    ``PowerShellMaxDestructiveCmdlets``): each write starts at least 60/N s
    after the one before it.
    """

    retries: int = 3
    per_minute: int | None = None
    sleep: Callable[[float], None] | None = None  # None: the module's _sleep
    clock: Callable[[], float] = time.monotonic
    last: float | None = None
    waited: list[float] = field(default_factory=list)

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited.append(seconds)
            (self.sleep or _sleep)(seconds)

    def before_write(self) -> None:
        if self.per_minute and self.last is not None:
            self.wait(self.last + 60.0 / self.per_minute - self.clock())
        self.last = self.clock()


def same_keys(values: Iterable[str]) -> set[tuple[str, str]]:
    return {k for k in (ProxyValue.parse(v).same_key for v in values) if k is not None}


def matching(current: Sequence[str], wanted: Iterable[str]) -> list[str]:
    """The values of ``current`` (as stored) that are *the same* as one of ``wanted``."""
    keys = same_keys(wanted)
    return [v for v in current if ProxyValue.parse(v).same_key in keys]


def missing(current: Sequence[str], wanted: Iterable[str]) -> list[str]:
    """The values of ``wanted`` that nothing in ``current`` is *the same* as."""
    have = same_keys(current)
    return [v for v in wanted if ProxyValue.parse(v).same_key not in have]


class Rules:
    """``retired-in-use`` again, from the plan's recorded rule inputs."""

    def __init__(self, inputs: dict[str, Any], entries: Iterable[DirEntry] | None) -> None:
        self.settings = make_settings(inputs.get("retire") or (), entries,
                                      bool(inputs.get("ccmail_decommissioned")), None,
                                      need_evidence=False)

    def kept(self, dn: str, values: Sequence[str]) -> list[str]:
        obj = ProxyObject("dn:", dn, ProxyKind.MAILBOX, tuple(ProxyValue.parse(v) for v in values))
        return [v.text for _, v, _ in kept_values(Context.build([obj], self.settings), obj)]


def describe(p: dict[str, Any]) -> str:
    return f"remove {len(p['values'])} value(s) from {p['dn']}"


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(repr(v) for v in values)


# --------------------------------------------------------------------------- apply


@dataclass
class _Run:
    writer: ProxyWriter
    rules: Rules
    pacing: Pacing
    journal: Journal | None  # None: dry run
    done: dict[str, Entry]  # action id -> its settled, made entry


def apply_proxy_plan(plan: dict[str, Any], writer: ProxyWriter, *, yes: bool, journal_path: str,
                     entries: Iterable[DirEntry] | None = None, pacing: Pacing | None = None,
                     plan_path: str | None = None) -> list[Outcome]:
    """Apply (or, without ``yes``, dry-run with the same checks) a proxy plan's actions."""
    rules = Rules(plan["inputs"], entries)
    pacing = pacing or Pacing()
    actions = [a for a in plan["actions"] if a["kind"] == KIND]
    if not yes:
        state = read_journal(journal_path)
        done = {e.action: e for e in state.entries if e.kind == KIND and e.state in ("done", "intent")}
        run = _Run(writer, rules, pacing, None, done)
        return [_one(run, p) for p in actions]
    with exclusive_lock(journal_path), Journal(journal_path) as journal:
        _settle(journal, writer)
        done = {e.action: e for e in journal.state.entries if e.kind == KIND and e.state == "done"}
        journal.run("apply", plan=plan_path, actions=len(actions), path=writer.path,
                    inputs=plan["inputs"])
        run = _Run(writer, rules, pacing, journal, done)
        return [_one(run, p) for p in actions]


def _settle(journal: Journal, writer: ProxyWriter) -> None:
    """An intent without outcome (a killed run): read the object and record what happened."""
    for e in journal.state.entries:
        if e.kind != KIND or e.state != "intent":
            continue
        current = writer.read(e.change["dn"])
        if current is None:
            continue  # cannot tell: left pending, this plan's action is then skipped
        gone = not matching(current, e.change["remove"])
        if gone:
            _record_done(journal, e, current)
        else:
            journal.mark(e, "failed", "interrupted before the change was made")


def _record_done(journal: Journal, e: Entry, after: list[str]) -> list[str]:
    """The ``done`` record with the values as read back; returns those that reappeared."""
    back = matching(after, e.change["remove"])
    journal.write({"type": "done", "seq": e.seq, "time": now(), "after": after,
                   "reappeared": back})
    e.state = "done"
    return back


def _one(run: _Run, p: dict[str, Any]) -> Outcome:
    def out(status: str, why: str) -> Outcome:
        return Outcome(p["id"], KIND, status, f"{describe(p)}: {why}")

    if p.get("blocked"):
        return out("blocked", p.get("blocked_reason") or "blocked in the plan")
    why_not = run.writer.can_write(p)
    if why_not:
        return out("skipped", why_not)
    attempt = 0
    while True:
        current = run.writer.read(p["dn"])
        if current is None:
            return out("skipped", f"not found through {run.writer.path} (Get-Recipient / the "
                                  "directory does not return it)")
        there = matching(current, p["values"])
        gone = missing(current, p["values"])
        kept = same_keys(run.rules.kept(p["dn"], current)) & same_keys(p["values"])
        if not there and _removed_here(run.done.get(p["id"]), p):
            return out("already-done", "done in an earlier run")
        if gone:
            return out("skipped", f"no longer on the object: {_quoted(gone)} (the state moved; "
                                  "plan again)")
        if kept:
            return out("skipped", "retired-in-use keeps a value now (cc:Mail still knows the "
                                  "name): plan again")
        if run.journal is None:
            return out("would-apply", f"remove {_quoted(there)} through {run.writer.path}")
        try:
            return _write(run, p, current, there, out)
        except Throttled as exc:
            attempt += 1
            if attempt > run.pacing.retries:
                return out("failed", f"refused by throttling {attempt} time(s), gave up "
                                     f"(--write-retries {run.pacing.retries}): {exc}")
            run.pacing.wait(exc.wait if exc.wait is not None else DEFAULT_THROTTLE_WAIT)


def _removed_here(entry: Entry | None, p: dict[str, Any]) -> bool:
    """The journal shows this plan's action removed these values from this object."""
    return (entry is not None and entry.change["dn"].casefold() == p["dn"].casefold()
            and not missing(entry.change["remove"], p["values"]))


def _write(run: _Run, p: dict[str, Any], before: list[str], there: list[str],
           out: Callable[[str, str], Outcome]) -> Outcome:
    journal = run.journal
    assert journal is not None
    entry = journal.intent(p["id"], KIND, {"type": "proxy-remove", "path": run.writer.path,
                                          "dn": p["dn"], "cmdlet": p.get("cmdlet"),
                                          "remove": there, "before": before})
    run.pacing.before_write()
    try:
        run.writer.edit(p["dn"], p.get("cmdlet"), remove=there)
    except Throttled:
        journal.mark(entry, "failed", "refused by throttling (not run)")
        raise
    except ConnectionFailure as exc:
        raise ConnectionFailure(f"action {p['id']} ({describe(p)}): outcome unknown, journalled "
                                f"as seq {entry.seq}; run apply or undo again to settle it from "
                                f"the current state: {exc}") from None
    except CcmigError as exc:
        journal.mark(entry, "failed", str(exc))
        return out("failed", str(exc))
    after = run.writer.read(p["dn"]) or []
    back = _record_done(journal, entry, after)
    if back:
        return out("applied", f"removed {_quoted(there)}; reappeared after the write (an email "
                              f"address policy stamps it again): {_quoted(back)}")
    return out("applied", f"removed {_quoted(there)}")


# --------------------------------------------------------------------------- undo


def undo_proxy_journal(journal_path: str, writer_for: Callable[[str], ProxyWriter], *,
                       yes: bool, pacing: Pacing | None = None) -> list[Outcome]:
    """Add back, newest first, exactly the values journalled writes removed that
    are still absent (as *the same*), through the path that removed them.

    ``writer_for(path)`` gives the writer of a journalled path (InputError when
    its options were not given).
    """
    pacing = pacing or Pacing()
    state = read_journal(journal_path)
    todo = [e for e in reversed(state.entries) if e.kind == KIND and e.state in ("done", "intent")]
    if not yes:
        return [_undo_one(None, e, writer_for(e.change["path"]), pacing) for e in todo]
    with exclusive_lock(journal_path), Journal(journal_path) as journal:
        entries = {e.seq: e for e in journal.state.entries}
        journal.run("undo")
        return [_undo_one(journal, entries[e.seq], writer_for(e.change["path"]), pacing)
                for e in todo]


def _undo_one(journal: Journal | None, e: Entry, writer: ProxyWriter, pacing: Pacing) -> Outcome:
    """One object's values back; a throttled add is sent again as apply's writes are."""
    for attempt in range(pacing.retries + 1):
        try:
            return _undo_try(journal, e, writer, pacing)
        except Throttled as exc:
            if attempt == pacing.retries:
                return Outcome(e.action, KIND, "failed", f"add back to {e.change['dn']}: refused "
                               f"by throttling {attempt + 1} time(s), gave up "
                               f"(--write-retries {pacing.retries}): {exc}")
            pacing.wait(exc.wait if exc.wait is not None else DEFAULT_THROTTLE_WAIT)
    raise AssertionError("unreachable")  # pragma: no cover


def _undo_try(journal: Journal | None, e: Entry, writer: ProxyWriter, pacing: Pacing) -> Outcome:
    c = e.change
    head = f"add back to {c['dn']}"
    current = writer.read(c["dn"])
    if current is None:
        return Outcome(e.action, KIND, "held-back", f"{head}: object not found")
    absent = missing(current, c["remove"])
    if not absent:
        if journal is not None:
            journal.mark(e, "undone", "nothing absent")
        return Outcome(e.action, KIND, "reverted" if journal else "would-revert",
                       f"{head}: nothing to add, every removed value is there")
    if journal is None:
        return Outcome(e.action, KIND, "would-revert", f"{head}: {_quoted(absent)}")
    pacing.before_write()
    try:
        writer.edit(c["dn"], c.get("cmdlet"), add=absent)
    except ConnectionFailure:  # Throttled (sent again by the caller) or outcome unknown: exit 3
        raise
    except CcmigError as exc:
        return Outcome(e.action, KIND, "failed", f"{head}: {exc}")
    journal.mark(e, "undone")
    return Outcome(e.action, KIND, "reverted", f"{head}: {_quoted(absent)}")
