"""Undo a journal: revert its changes newest first, all of a person's or none.

Every check is made before anything is touched, and a dry run makes the same
checks as ``--yes`` (on the state ``--yes`` would settle to), so both report the
same outcome. A cc:Mail removal is reverted byte for byte, so only into a file
that is as apply left it. When one change cannot be reverted - its file changed
since (dirsync, another wave, a hand edit), its name is in cc:Mail again
(dirsync added an entry pointing at Exchange), or it needs an Exchange
connection - every change of the same person (same cc:Mail name or mailbox) is
held back with it, and so is every older change of the same file (byte-exact
reverts go newest first). Nobody ends up half reverted: a person is either as
before apply or as now.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.ccmail.directory import read_directory_file, split_po_arg
from toolkit.errors import CcmigError, ConnectionFailure, InputError
from toolkit.remediation import ccmail_files as cf
from toolkit.remediation.journal import Entry, Journal, exclusive_lock, read_journal
from toolkit.remediation.replace import REPLACES, address_key
from toolkit.remediation.settle import (
    ExchangeWriter,
    Outcome,
    carries,
    settle,
    settled_state,
    unknown,
)
from toolkit.text import fold

log = logging.getLogger(__name__)

RECOVERY = ("Those people are left exactly as they are now, in one state each. If dirsync "
            "ran since the apply, they already route to Exchange and undo is no longer the "
            "way back: see docs/runbook.md section 5 (re-audit, then plan). If a file was "
            "edited by hand or by another wave, undo that first, or restore the file as apply "
            "left it, and run undo again.")


NEEDS_EXCHANGE = "reverting an Exchange-side change needs --exchange-uri"


@dataclass
class UndoDecision:
    """What undo reverts (newest first) and what it holds back, with why."""

    revert: list[Entry] = field(default_factory=list)
    held: dict[int, tuple[Entry, str]] = field(default_factory=dict)  # seq -> (entry, why)
    names: list[str] = field(default_factory=list)  # people held back, for the summary

    def summary(self, journal_path: str) -> str | None:
        if not self.held:
            return None
        return (f"{journal_path}: undo holds back {len(self.held)} change(s) of "
                f"{len(self.names)} person(s) ({'; '.join(self.names[:10])}"
                f"{'; ...' if len(self.names) > 10 else ''}); nothing of theirs is reverted. "
                + RECOVERY
                + (" Exchange-side changes are reverted only with --exchange-uri."
                   if any(why == NEEDS_EXCHANGE for _, why in self.held.values()) else ""))


def undo_journal(journal_path: str, *, yes: bool, exchange: ExchangeWriter | None = None,
                 notify: Callable[[str], None] | None = None) -> list[Outcome]:
    """Revert (or, without ``yes``, say what would be reverted) a journal's changes.

    ``notify`` gets the held-back summary, if any, before anything is touched.
    """
    state = read_journal(journal_path)
    if not state.entries:  # e.g. an apply killed before its first change
        log.info("%s: the journal records no change; nothing to revert", journal_path)
        return []
    if not yes:
        states = settled_state(state.entries, exchange)
        decision = decide(state.entries, states, exchange, PlanFacts.of(state.runs))
        _tell(decision, journal_path, notify)
        return _newest_first(_held(decision) + [(e.seq, Outcome(e.action, e.kind, "would-revert",
                                                                 change_text(e)))
                                                for e in decision.revert])
    out: list[tuple[int, Outcome]] = []
    with exclusive_lock(journal_path), Journal(journal_path) as journal:
        settle(journal, exchange)
        entries = journal.state.entries
        states = {e.seq: e.state for e in entries}
        decision = decide(entries, states, exchange, PlanFacts.of(journal.state.runs))
        _tell(decision, journal_path, notify)
        journal.run("undo")
        for batch in _batches(decision.revert):
            e = batch[0]
            try:
                _revert(batch, exchange)
            except ConnectionFailure as exc:
                unknown(journal, e, "undo", exc)  # the entry stays done: undo again settles it
                raise ConnectionFailure(
                    f"undo stopped at seq {e.seq} ({change_text(e)}): outcome unknown; run undo "
                    f"again to settle it from the current state: {exc}") from None
            except CcmigError as exc:
                out += [(b.seq, Outcome(b.action, b.kind, "failed", f"{change_text(b)}: {exc}"))
                        for b in batch]
                continue
            journal.mark_all(batch, "undone")
            out += [(b.seq, Outcome(b.action, b.kind, "reverted", change_text(b))) for b in batch]
    return _newest_first(out + _held(decision))


def _batches(entries: list[Entry]) -> list[list[Entry]]:
    """Newest first, each run of removals from one file together (one write; a
    kill leaves the file as before or after the whole run), any other change alone."""
    out: list[list[Entry]] = []
    for e in entries:
        prev = out[-1][-1] if out else None
        if (prev is not None and e.change["type"] == prev.change["type"] == "ccmail-remove"
                and e.change["file"] == prev.change["file"]):
            out[-1].append(e)
        else:
            out.append([e])
    return out


def _newest_first(pairs: list[tuple[int, Outcome]]) -> list[Outcome]:
    return [o for _, o in sorted(pairs, key=lambda p: -p[0])]


def _held(decision: UndoDecision) -> list[tuple[int, Outcome]]:
    return [(e.seq, Outcome(e.action, e.kind, "held-back", f"{change_text(e)}: {why}"))
            for e, why in decision.held.values()]


def _tell(decision: UndoDecision, journal_path: str,
          notify: Callable[[str], None] | None) -> None:
    text = decision.summary(journal_path)
    if text:
        (notify or log.warning)(text)


# --------------------------------------------------------------------------- deciding


def _field(change: dict, key: str) -> str:
    """A field of a journalled removal's record (older journals: from its lines)."""
    if change.get(key) is not None:
        return change[key]
    for line in change.get("lines", []):
        k, sep, value = line.partition(":")
        if sep and k.strip().casefold() == key:
            return value.strip()
    return ""


def removed_name(change: dict) -> str:
    """The cc:Mail name of a journalled removal."""
    return _field(change, "name")


def _record_key(path: str, locn: str, addr: str) -> tuple[str, str, str]:
    return (str(Path(path).resolve()), locn, fold(addr))


def _person(e: Entry) -> list[str]:
    """The keys that tie an entry to a person: cc:Mail name, mailbox DN."""
    c = e.change
    keys = []
    if c["type"] == "ccmail-remove":
        keys.append("name:" + fold(removed_name(c)))
    if c.get("mailbox"):
        keys.append("dn:" + c["mailbox"].casefold())
    elif c["type"] in ("add-address", "remove-contact"):
        keys.append("dn:" + c["dn"].casefold())
    return keys


def decide(entries: list[Entry], states: dict[int, str], exchange: ExchangeWriter | None,
           plans: PlanFacts) -> UndoDecision:
    """Which of the ``done`` entries can be reverted, person by person; see the module doc."""
    todo = [e for e in reversed(entries) if states[e.seq] == "done"]  # newest first
    held: dict[int, str] = {}
    # 1. each change on its own
    by_file: dict[str, list[Entry]] = defaultdict(list)
    for e in todo:
        if e.change["type"] == "ccmail-remove":
            by_file[e.change["file"]].append(e)
        elif exchange is None:
            held[e.seq] = NEEDS_EXCHANGE
    for file, chain in by_file.items():
        cur, i = cf.current_sha(file), 0
        while i < len(chain):
            if cur == chain[i].change["sha_after"]:
                cur, i = chain[i].change["sha_before"], i + 1
                continue
            # an undo killed after its write, before its records, put back a run of them
            back = next((j for j in range(i, len(chain)) if chain[j].change["sha_before"] == cur),
                        None)
            if back is not None:
                i = back + 1
                continue
            held[chain[i].seq] = (f"{file} has changed since apply removed the record "
                                  "(dirsync, another wave or an edit); undo only reverts into "
                                  "a file as apply left it")
            break
    names = _names_now([*plans.files, *((None, f, None) for f in by_file)])
    # records this journal removed, or its plans meant to (a run killed between two
    # files leaves a person's other entries in place: they are no stranger's)
    ours: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for name, keys in plans.targets.items():
        ours[name] |= keys
    for e in entries:
        if e.change["type"] == "ccmail-remove":
            ours[fold(removed_name(e.change))].add(_record_key(
                e.change["file"], _field(e.change, "locn"), _field(e.change, "addr")))
    for e in todo:
        if e.change["type"] != "ccmail-remove" or e.seq in held:
            continue
        name = fold(removed_name(e.change))
        foreign = [where for key, where in names.get(name, []) if key not in ours[name]]
        if foreign:
            held[e.seq] = (f"'{removed_name(e.change)}' is in cc:Mail again ({'; '.join(foreign)}); "
                           "dirsync adds such an entry for a migrated mailbox, and re-inserting "
                           "would give the name two entries")
    # 2. all of a person or none; and a file's older changes wait for its newer ones
    people: dict[str, list[Entry]] = defaultdict(list)
    for e in todo:
        for key in _person(e):
            people[key].append(e)
    changed = True
    while changed:
        changed = False
        for e in todo:
            if e.seq not in held:
                continue
            for key in _person(e):
                for other in people[key]:
                    if other.seq not in held:
                        held[other.seq] = (f"held back with action {e.action} of the same "
                                           "person, which cannot be reverted")
                        changed = True
            if e.change["type"] == "ccmail-remove":
                chain = by_file[e.change["file"]]
                for other in chain[chain.index(e) + 1:]:
                    if other.seq not in held:
                        held[other.seq] = (f"held back: the newer change {e.action} of the same "
                                           "file cannot be reverted, and reverts go newest first")
                        changed = True
    people_held = sorted({removed_name(e.change) or e.change.get("dn", "")
                          for e in todo if e.seq in held}, key=str.casefold)
    return UndoDecision([e for e in todo if e.seq not in held],
                        {e.seq: (e, held[e.seq]) for e in todo if e.seq in held}, people_held)


@dataclass
class PlanFacts:
    """What the plans this journal applied say: the cc:Mail files they read, as
    (PO, file, encoding), and the records their removals target, by folded name."""

    files: list[tuple[str | None, str, str | None]] = field(default_factory=list)
    targets: dict[str, set[tuple[str, str, str]]] = field(
        default_factory=lambda: defaultdict(set))

    @classmethod
    def of(cls, runs: list[dict]) -> PlanFacts:
        facts = cls()
        for plan in dict.fromkeys(run.get("plan") for run in runs if run.get("plan")):
            try:
                data = json.loads(Path(plan).read_text(encoding="utf-8"))
                inputs, actions = data["inputs"], data["actions"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # the plan moved: the journal's own files and records still count
            for arg in inputs.get("ccmail_dirs") or []:
                po, path = split_po_arg(arg)
                facts.files.append((po, str(path), inputs.get("ccmail_encoding")))
            for a in actions:
                t = a.get("target") or {}
                if a.get("kind") == "remove-ccmail-entry" and t.get("file"):
                    facts.targets[fold(t["name"])].add(
                        _record_key(t["file"], t["locn"], t.get("addr") or ""))
        return facts


def _names_now(files: list[tuple[str | None, str, str | None]]
               ) -> dict[str, list[tuple[tuple[str, str, str], str]]]:
    """Folded name -> its entries now, over every readable cc:Mail file:
    (record key, where to see it)."""
    out: dict[str, list[tuple[tuple[str, str, str], str]]] = defaultdict(list)
    seen: set[str] = set()
    for po, path, encoding in files:
        resolved = str(Path(path).resolve())
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            f = read_directory_file(Path(path), encoding, po=po)
        except (CcmigError, OSError):
            continue  # e.g. a file without a header named only in the journal
        for e, span in zip(f.entries, f.spans, strict=True):
            where = f"{Path(path).name}:{span[0]} {e.locn} {e.addr}".rstrip()
            out[fold(e.name)].append((_record_key(path, e.locn, e.addr), where))
    return out


# --------------------------------------------------------------------------- reverting


def change_text(e: Entry) -> str:
    c = e.change
    if c["type"] == "ccmail-remove":
        return f"re-insert {len(c['lines'])} line(s) into {c['file']}"
    if c["type"] == "add-address" and c.get(REPLACES):
        return f"put back '{c[REPLACES]}' in place of '{c['address']}' on {c['dn']}"
    if c["type"] == "add-address":
        return f"remove '{c['address']}' from {c['dn']}"
    return f"re-create custom recipient {c['dn']}"


def restoring(change: dict, have: list[str]) -> tuple[list[str], list[str]]:
    """What else reverting an add-address puts back, besides removing the added
    value: (values to add, values to remove), all in the same call.

    - the value the add replaced (``replaces``), exactly as it was, unless the
      object carries that address again in another form;
    - a primary Exchange demoted when the add made a new primary of its type
      (``CCMAIL:Smith, John at PO1`` became ``ccmail:...``): promoted again,
      as it was before (``before`` is the exact list apply journalled).
    """
    added = change["address"]
    others = [v for v in have if v != added]
    add: list[str] = []
    remove: list[str] = []
    old = change.get(REPLACES)
    if old is not None and not any(address_key(v) == address_key(old) for v in others):
        add.append(old)
    kind = added.partition(":")[0]
    for was in change.get("before") or []:
        prefix, _, rest = was.partition(":")
        demoted = f"{prefix.lower()}:{rest}"
        if (kind.isupper() and prefix == kind and was not in have and demoted in others
                and was != old):
            add.append(was)
            remove.append(demoted)
    return add, remove


def _revert(batch: list[Entry], exchange: ExchangeWriter | None) -> None:
    e, c = batch[0], batch[0].change
    if c["type"] == "ccmail-remove":
        cf.revert_removals([cf.Removal(**{k: b.change[k] for k in cf.Removal.__dataclass_fields__})
                            for b in batch])
        return
    if exchange is None:
        raise InputError(NEEDS_EXCHANGE, "--exchange-uri")
    if c["type"] == "add-address":
        # Look before writing: an earlier undo whose answer was lost may have removed it.
        have = exchange.get_addresses(c["dn"])
        if have is not None and not carries(have, c["address"]):
            log.info("journal seq %d: '%s' is no longer on %s; nothing to revert", e.seq,
                     c["address"], c["dn"])
            return
        add, remove = restoring(c, have or [])
        exchange.edit_addresses(c["dn"], add=add, remove=[c["address"], *remove])
    else:
        exchange.new_contact(c["record"])  # the writer looks first, too
