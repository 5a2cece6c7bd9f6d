"""What apply and undo share: their outcome records, the Exchange writer they
use, and settling the changes a killed run left journalled but unconfirmed.

Settling never guesses: the outcome of an ``intent`` without its ``done`` is
read from the current state (a file's hash, an object's addresses). A dry run
asks the same question without writing the answer, so it reports what ``--yes``
will find.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from toolkit.remediation import ccmail_files as cf
from toolkit.remediation.journal import Entry, Journal, now

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted before the change was made"


class ExchangeWriter(Protocol):
    """The Exchange-side changes apply and undo make (PowerShell adapter)."""

    def get_addresses(self, dn: str) -> list[str] | None: ...
    def add_address(self, dn: str, address: str) -> None: ...
    def remove_address(self, dn: str, address: str) -> None: ...
    def edit_addresses(self, dn: str, *, add: list[str], remove: list[str]) -> None: ...
    def get_contact(self, dn: str) -> dict[str, Any] | None: ...
    def remove_contact(self, dn: str) -> None: ...
    def new_contact(self, record: dict[str, Any]) -> None: ...


@dataclass
class Outcome:
    action: str
    kind: str
    # applied | would-apply | already-done | skipped | blocked | advice | failed
    # reverted | would-revert | held-back
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.action, "kind": self.kind, "status": self.status, "detail": self.detail}


def observe(entries: Iterable[Entry], exchange: ExchangeWriter | None) -> dict[int, str]:
    """The outcome of every pending intent, by seq: ``made``, ``not-made`` or why unknown.

    The removals of one file that apply wrote in one go are pending together;
    they chain (each one's ``sha_before`` is the previous one's ``sha_after``),
    so the file's hash says how many of them were made: none, or all up to one.
    """
    out: dict[int, str] = {}
    chains: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        if e.state != "intent":
            continue
        if e.change["type"] == "ccmail-remove":
            chains[e.change["file"]].append(e)
        else:
            out[e.seq] = _observe_exchange(e, exchange)
    for file, chain in chains.items():
        sha = cf.current_sha(file)
        made = next((k for k in range(len(chain), -1, -1)
                     if sha == (chain[k - 1].change["sha_after"] if k
                                else chain[0].change["sha_before"])), None)
        for k, e in enumerate(chain):
            out[e.seq] = (f"{file} changed by someone else" if made is None
                          else "made" if k < made else "not-made")
    return out


def _observe_exchange(entry: Entry, exchange: ExchangeWriter | None) -> str:
    c = entry.change
    if exchange is None:
        return "needs --exchange-uri to look"
    if c["type"] == "add-address":
        return "made" if carries(exchange.get_addresses(c["dn"]), c["address"]) else "not-made"
    if c["type"] == "remove-contact":
        return "made" if exchange.get_contact(c["dn"]) is None else "not-made"
    return "unknown change type"


def settle(journal: Journal, exchange: ExchangeWriter | None) -> None:
    """Decide the outcome of intents left by a killed run, from the current state."""
    for e in journal.state.entries:
        if e.state == "intent" and e.change["type"] == "ccmail-remove":
            cf.discard_temp(e.change["file"])  # a kill in atomic_write; the file is whole
    seen = observe(journal.state.entries, exchange)
    made = [e for e in journal.state.entries if seen.get(e.seq) == "made"]
    not_made = [e for e in journal.state.entries if seen.get(e.seq) == "not-made"]
    if made:
        journal.mark_all(made, "done")
    if not_made:
        journal.mark_all(not_made, "failed", INTERRUPTED)
    for e in journal.state.entries:
        if e.state == "intent":
            log.warning("journal seq %d (%s): outcome unknown: %s", e.seq, e.action, seen[e.seq])


def settled_state(entries: Iterable[Entry], exchange: ExchangeWriter | None) -> dict[int, str]:
    """Each entry's state as :func:`settle` would leave it, without writing anything."""
    entries = list(entries)
    seen = observe(entries, exchange)
    return {e.seq: {"made": "done", "not-made": "failed"}.get(seen.get(e.seq, ""), e.state)
            for e in entries}


def carries(addresses: list[str] | None, address: str) -> bool:
    """Is ``address`` on the object? The type prefix compares exactly - its case says
    primary or not, and adding ``CCMAIL:X`` to an object with ``ccmail:X`` is a
    change - the address after it case-insensitively, as Exchange compares them."""
    prefix, _, rest = address.partition(":")
    return any(p == prefix and r.casefold() == rest.casefold()
               for p, _, r in (a.partition(":") for a in addresses or []))


def unknown(journal: Journal, entry: Entry, during: str, exc: BaseException) -> None:
    """Journal that the outcome of a change (or of its revert) is not known."""
    journal.write({"type": "unknown", "seq": entry.seq, "during": during, "time": now(),
                   "error": " ".join(str(exc).split())})
