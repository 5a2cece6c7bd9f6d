"""Remediation plans: findings -> reviewable actions (spec: Remediation).

The plan is derived from the same analysis the audit prints, so every action
cites the finding codes it answers. Safety rules live here, in one place:
never remove an old (secondary) address; never delete a cc:Mail entry unless
the migration is confirmed, the mailbox owns that exact address, dirsync can
point cc:Mail at the mailbox afterwards, and every stale entry of that name
goes in the same run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from toolkit.ccmail.directory import CONNECTOR_COMMENT, connector_entries
from toolkit.model import DirEntry, Kind
from toolkit.remediation.replace import REPLACES, counterpart
from toolkit.rules import Analysis, Facts
from toolkit.text import fold

# Kinds that change something, in the order apply makes them.
APPLIABLE = ("add-secondary-address", "add-primary-address", "remove-custom-recipient",
             "remove-ccmail-entry")
ADVICE = ("manual", "review-alias", "run-dirsync")
KINDS = APPLIABLE + ADVICE
# A plan lists its actions, and apply makes them, in this order (appliable kinds first).
KIND_ORDER = {k: n for n, k in enumerate(KINDS)}


@dataclass
class Action:
    id: str
    kind: str
    target: dict[str, Any]
    reason: list[str]
    precondition: str
    blocked: bool = False
    blocked_reason: str | None = None
    manual: bool = False
    mailbox: str | None = None  # DN of the mailbox the action is for
    group: str | None = None  # all-or-none group (folded cc:Mail name)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def block(self, why: str) -> None:
        if not self.blocked:
            self.blocked, self.blocked_reason = True, why
        elif why not in (self.blocked_reason or ""):
            self.blocked_reason = f"{self.blocked_reason}; {why}"


@dataclass
class Plan:
    inputs: dict[str, Any]
    actions: list[Action] = field(default_factory=list)
    # mailboxes that would lose their cc:Mail entry to dirsync (see gate_dirsync);
    # not written out: a wave narrows it
    at_risk: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "actions": [a.as_dict() for a in self.actions]}


def entry_target(e: DirEntry) -> dict[str, Any]:
    """How apply finds the entry again: its PO's file, name, code and Addr."""
    return {"post_office": e.file_po, "name": e.name, "locn": e.locn, "addr": e.addr,
            "routes_to": e.po, "messages": e.messages, "file": e.path}


def entry_key(target: dict[str, Any]) -> tuple[str, str, str, str]:
    return (fold(target["post_office"]), fold(target["name"]), target["locn"],
            fold(target.get("addr") or ""))


class Planner:
    at_risk: list[str]

    def __init__(self, analysis: Analysis, exchange_pos: list[str], assume_migrated: bool):
        self.a = analysis
        self.ctx = analysis.ctx
        self.x_first = exchange_pos[0]
        self.assume = assume_migrated
        self.actions: list[Action] = []
        self.connector = next(connector_entries(analysis.entries), None) is not None
        self.mailbox_keys: dict[tuple[str, str], list[int]] = defaultdict(list)
        x_names: set[str] = set()  # names dirsync keeps pointing at Exchange
        no_primary: dict[str, list[str]] = defaultdict(list)  # cc:Mail name -> mailbox DNs
        for i, f in enumerate(self.ctx.facts):
            if f.r.kind is Kind.MAILBOX:
                for key in f.keys:
                    self.mailbox_keys[key].append(i)
                if f.primary is not None and self.ctx.at_x(f.primary.po):
                    x_names.add(fold(f.primary.name or ""))
                elif f.valid and f.ccmail_name:
                    no_primary[fold(f.ccmail_name)].append(f.r.dn)
        # Dirsync deletes every entry pointing at Exchange whose name is no mailbox's
        # primary there: a mailbox without that primary loses its entry, and mail
        # from cc:Mail to it becomes undeliverable. These must get it first.
        entries = analysis.entries  # read by position: no entry made
        self.at_risk = sorted({dn for j in entries.having("LlRr")
                               if self.ctx.routes_to_exchange(j)
                               and fold(entries.names[j]) not in x_names
                               for dn in no_primary.get(fold(entries.names[j]), [])},
                              key=str.casefold)

    def add(self, kind: str, target: dict[str, Any], reason: list[str], precondition: str,
            **kw: Any) -> Action:
        action = Action("", kind, target, reason, precondition, **kw)
        self.actions.append(action)
        return action

    # ------------------------------------------------------------ per mailbox

    def stale(self, i: int, f: Facts, codes: list[str]) -> None:
        removes: list[Action] = []
        for e in f.stale_entries:
            key = (fold(e.name), fold(e.po))
            own = key in f.keys
            others = [j for j in self.mailbox_keys.get(key, []) if j != i]
            reason = ["stale-ccmail-mailbox"]
            manual = False
            if not own:
                reason.append("missing-secondary-address")
                manual = True
                self.add(
                    "add-secondary-address",
                    {"dn": f.r.dn, "address": f"ccmail:{e.name} at {e.po}"},
                    ["missing-secondary-address"],
                    f"the cc:Mail entry '{e.name}' at {e.po} is the same person as {f.r.dn} "
                    "(a name match only: check before confirming)",
                    manual=True, mailbox=f.r.dn,
                )
            if others:
                reason.append("duplicate-address")
                manual = True
            action = self.add(
                "remove-ccmail-entry", entry_target(e), reason,
                f"entry still in {e.file_po}'s directory unchanged; mailbox {f.r.dn} holds "
                f"'{e.name} at {e.po}'" + ("" if own else " after its secondary is added"),
                manual=manual, mailbox=f.r.dn, group=fold(e.name),
            )
            if others:
                action.precondition += "; the address is also on " + ", ".join(
                    self.ctx.facts[j].r.dn for j in others)
            if f.primary is None or not self.ctx.at_x(f.primary.po):
                action.block("the mailbox has no primary cc:Mail address at an Exchange PO: "
                             "dirsync could never point cc:Mail at it")
            if not self.connector:
                action.block(f"no connector 'P' entry (comment '{CONNECTOR_COMMENT} ...') "
                             "in the cc:Mail directory: dirsync would fail")
            removes.append(action)
        self._confirm(f, removes)

    def _confirm(self, f: Facts, removes: list[Action]) -> None:
        if self.assume or not removes:
            return
        known = [a.target["messages"] for a in removes if a.target["messages"] is not None]
        count = f.r.item_count
        if count is None:
            why = ("migration unconfirmed: no Exchange item count (give --mailbox-stats or "
                   "--exchange-uri, or --assume-migrated)")
        elif known and count < sum(known):
            why = (f"migration unconfirmed: Exchange holds {count} items, the cc:Mail "
                   f"mailbox(es) {sum(known)} messages")
        else:
            return
        for a in removes:
            a.block(why)

    def mailbox_actions(self, i: int, f: Facts, codes: list[str]) -> None:
        if "missing-primary-address" in codes:
            name = f.ccmail_name
            action = self.add(
                "add-primary-address",
                {"dn": f.r.dn, "address": f"CCMAIL:{name} at {self.x_first}"},
                ["missing-primary-address"],
                f"{f.r.dn} still has no primary cc:Mail address at an Exchange PO; if its "
                "EmailAddressPolicyEnabled is True an email address policy may re-stamp the "
                "addresses: add the cc:Mail template to the policy or turn it off first. "
                "Apply this before the next dirsync: dirsync deletes the cc:Mail entries "
                "pointing at Exchange of a mailbox without this primary, and creates its "
                "entry only once the primary is there",
                mailbox=f.r.dn,
            )
            if name is None:
                action.block("no cc:Mail name to build the address from")
            else:
                self._replacing(f, action)
                # the mailbox's own primary (an upper-case CCMAIL: at an old PO) is no conflict
                others = [self.ctx.facts[j].r.dn for j in self.ctx.by_primary_name[fold(name)]
                          if j != i]
                if others:
                    action.block(f"the name is already a primary of {', '.join(others)}")
        if f.stale_entries:
            self.stale(i, f, codes)

    @staticmethod
    def _replacing(f: Facts, action: Action) -> None:
        """The mailbox carries the address already, in another case (``ccmail:`` at
        X): AD and Exchange refuse a second value equal but for case, so the
        action replaces that value (see :mod:`toolkit.remediation.replace`)."""
        _, old = counterpart((v.raw for v in f.values if v.source == "proxy"),
                             action.target["address"])
        if old is not None:
            action.target[REPLACES] = old
            action.precondition += (f"; '{old}' is the same address in another case: it is "
                                    "replaced (removed, and the primary added, in one change), "
                                    "as AD and Exchange refuse a second value equal but for case")

    def orphans(self, i: int, f: Facts, done: set[int]) -> None:
        for j, v in self.ctx.orphans.get(i, []):
            if j in done:
                continue
            done.add(j)
            cr = self.ctx.facts[j].r
            action = self.add(
                "remove-custom-recipient", {"dn": cr.dn, "address": v.address},
                ["orphan-custom-recipient"],
                f"{cr.dn} still exists and carries '{v.address}', which mailbox {f.r.dn} "
                "keeps as its secondary address",
                mailbox=f.r.dn,
            )
            if cr.subtype != "contact":
                action.manual = True
                action.precondition += (f"; {cr.dn} is a mail-enabled {cr.subtype}, not a "
                                        "contact: decide how to retire it")
            assert v.key is not None
            if [k for k in self.ctx.by_address.get(v.key, []) if k not in (i, j)]:
                action.manual = True
                action.reason.append("duplicate-address")

    # ------------------------------------------------------------ whole plan

    def build(self) -> list[Action]:
        done_crs: set[int] = set()
        awaiting: list[str] = []
        rows = self.a.rows
        for k, row in enumerate(rows):
            i = rows.position(k)
            if i is None:
                continue
            f = self.ctx.facts[i]
            codes = [fd.code for fd in row.findings]
            if f.r.kind is Kind.MAILBOX:
                self.mailbox_actions(i, f, codes)
                if "orphan-custom-recipient" in codes:
                    self.orphans(i, f, done_crs)
                if "awaiting-dirsync" in codes and "missing-primary-address" not in codes:
                    awaiting.append(f.r.dn)  # (without a primary, dirsync cannot help yet)
            for fd in row.findings:
                if fd.code in ("invalid-address", "duplicate-address", "name-conflict"):
                    self.add("manual", {"dn": f.r.dn}, [fd.code], fd.message, manual=True)
        self._groups()
        self._aliases()
        removing = [a for a in self.actions if a.kind == "remove-ccmail-entry"]
        if awaiting or removing:
            self.add("run-dirsync", {"mailboxes": awaiting},
                     ["awaiting-dirsync"] if awaiting else ["stale-ccmail-mailbox"],
                     DIRSYNC_PRECONDITION)
        self.actions.sort(key=lambda a: (KIND_ORDER[a.kind], a.mailbox or "", str(a.target)))
        for n, a in enumerate(self.actions, 1):
            a.id = f"{n:04d}"
        self._note_group_partners()
        gate_dirsync(self.actions, self.at_risk)
        return self.actions

    def _note_group_partners(self) -> None:
        groups: dict[str, list[Action]] = defaultdict(list)
        for a in self.actions:
            if a.kind == "remove-ccmail-entry" and a.group:
                groups[a.group].append(a)
        for members in groups.values():
            if len(members) > 1:
                for a in members:
                    others = [b.id for b in members if b is not a]
                    a.precondition += f"; goes together with {', '.join(others)} in one run"

    def _groups(self) -> None:
        """Every stale entry of one name must go in the same run (dirsync refuses
        a name that still exists), and one entry is removed once."""
        by_entry: dict[tuple, list[Action]] = defaultdict(list)
        for a in self.actions:
            if a.kind == "remove-ccmail-entry":
                by_entry[entry_key(a.target)].append(a)
        for dupes in by_entry.values():
            if len(dupes) > 1:
                claimants = ", ".join(a.mailbox or "" for a in dupes)
                for extra in dupes[1:]:
                    self.actions.remove(extra)
                dupes[0].manual = True
                dupes[0].block(f"entry claimed by several mailboxes: {claimants}")
        groups: dict[str, list[Action]] = defaultdict(list)
        for a in self.actions:
            if a.kind == "remove-ccmail-entry" and a.group:
                groups[a.group].append(a)
        for members in groups.values():
            blocked = [a for a in members if a.blocked]
            for a in members:
                if blocked and not a.blocked:
                    a.block("another stale entry of the same name cannot go in this run: "
                            + "; ".join(f"{b.target['name']} in {b.target['post_office']}"
                                        for b in blocked))

    def _aliases(self) -> None:
        names = {fold(a.target["name"]): a.mailbox for a in self.actions
                 if a.kind == "remove-ccmail-entry"}
        if not names:
            return
        entries = self.a.entries
        for j in entries.having("Aa"):
            if fold(entries.addr(j)) in names:
                e = entries[j]
                self.add("review-alias", entry_target(e), ["stale-ccmail-mailbox"],
                         f"alias '{e.name}' points at '{e.addr}', whose entry is removed",
                         manual=True, mailbox=names[fold(e.addr)])


DIRSYNC_PRECONDITION = ("after the cc:Mail entries are removed, run directory synchronisation "
                        "so cc:Mail points at Exchange")


def gate_dirsync(actions: list[Action], at_risk: list[str], outside: int = 0) -> None:
    """Block the run-dirsync advice while a mailbox would lose its cc:Mail entry to it.

    ``at_risk`` are the plan's mailboxes without a primary at an Exchange PO whose
    entry pointing at Exchange dirsync would delete; ``outside`` counts such
    mailboxes a wave leaves out (dirsync is not limited to a wave). The reason
    names the add-primary-address actions to apply first, never a mailbox
    outside the plan.
    """
    run = next((a for a in actions if a.kind == "run-dirsync"), None)
    if run is None:
        return
    run.blocked, run.blocked_reason, run.precondition = False, None, DIRSYNC_PRECONDITION
    if not at_risk and not outside:
        return
    adds = {(a.mailbox or "").casefold(): a.id for a in actions
            if a.kind == "add-primary-address"}
    first = [f"{adds[dn.casefold()]} ({dn})" if dn.casefold() in adds else dn for dn in at_risk]
    why = ("dirsync would delete the cc:Mail entry pointing at Exchange of mailboxes without a "
           "primary cc:Mail address at an Exchange PO, and mail from cc:Mail to them would be "
           "undeliverable: first add their primary")
    if first:
        why += ": " + ", ".join(first)
    if outside:
        why += (f"{'; and of' if first else ' (of'} {outside} mailbox(es) outside this wave"
                f"{'' if first else ')'}: `ccmig audit --status missing-primary-address`")
    run.block(why)
    run.precondition = ("once every mailbox has its primary cc:Mail address at an Exchange PO, "
                        + DIRSYNC_PRECONDITION)


def make_plan(analysis: Analysis, exchange_pos: list[str], inputs: dict[str, Any],
              assume_migrated: bool = False) -> Plan:
    planner = Planner(analysis, exchange_pos, assume_migrated)
    return Plan(inputs, planner.build(), planner.at_risk)
