"""What the proxy rules are told (spec: Legacy proxy hygiene, Inputs):
the retired types, the cc:Mail evidence for retiring ``CCMAIL``, the value limit.

Validation lives here, not in the CLI, so a runbook that calls the library
gets the same refusals (exit 2) as the command line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from toolkit.ccmail.directory import CONNECTOR_COMMENT, connector_entries
from toolkit.errors import InputError
from toolkit.model import DirEntry
from toolkit.multimap import Index
from toolkit.storage.entries import EntryTable
from toolkit.text import fold

# Never retired: they carry mail, replies to old mail (legacyExchangeDN), calls.
NEVER_RETIRED = ("SMTP", "X500", "SIP", "EUM")
CCMAIL = "CCMAIL"
_TYPE_OK = re.compile(r"[A-Za-z0-9-]+")
USER_LOCNS = frozenset("LlRr")  # user entries (spec: Terms); A/a aliases and P/p POs are not


def retired_types(given: Iterable[str]) -> frozenset[str]:
    """``--retire`` values, upper-cased; exit 2 for anything else."""
    out = set()
    for raw in given:
        if not _TYPE_OK.fullmatch(raw):
            raise InputError(f"address type {raw!r} may hold only ASCII letters, digits and '-'",
                             "--retire")
        kind = raw.upper()
        if kind in NEVER_RETIRED:
            raise InputError(f"{kind} addresses are never retired: they carry mail, replies to "
                             "old mail (X500) or calls (SIP, EUM)", "--retire")
        out.add(kind)
    return frozenset(out)


@dataclass(frozen=True)
class ProxySettings:
    """Everything the rules read besides the objects.

    ``user_entries`` maps a folded cc:Mail name to the user entries
    (``L l R r``) of the exports that carry it, each once, in export order.
    """

    retired: frozenset[str] = frozenset()
    user_entries: Mapping[str, tuple[DirEntry, ...]] | None = None
    max_values: int | None = None

    @property
    def retires_ccmail(self) -> bool:
        return CCMAIL in self.retired


class UserEntries(Mapping[str, tuple[DirEntry, ...]]):
    """Folded cc:Mail name -> the user entries of a table that carry it, in
    table order, made when asked: the rules ask for the few names a retired
    ``CCMAIL:`` value holds, so the ~145,000 entries of a big export are not
    all made (and kept) up front.

    The index of folded names is itself made on first use: only
    retired-in-use reads it, and only while ``CCMAIL`` is retired. An audit
    that retires other types (``--retire MS --retire X400``, the bench) still
    reads and checks the exports but never folds their ~145,000 names (~9% of
    its CPU at 100,000 people, py-spy)."""

    def __init__(self, table: EntryTable) -> None:
        self._table = table
        self._index: Index | None = None

    @property
    def _positions(self) -> Index:
        if self._index is None:
            index = Index()
            for j, _locn, name, _po in self._table.user_entries():  # (USER_LOCNS' entries)
                index.add(fold(name), j)
            self._index = index
        return self._index

    def __getitem__(self, name: str) -> tuple[DirEntry, ...]:
        table = self._table
        return tuple([table[j] for j in self._positions[name]]) if name in self else ()

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


def index_user_entries(entries: Iterable[DirEntry]) -> Mapping[str, tuple[DirEntry, ...]]:
    return UserEntries(EntryTable.of(entries))


def make_settings(retire: Iterable[str], entries: Iterable[DirEntry] | None,
                  ccmail_decommissioned: bool, max_values: int | None,
                  need_evidence: bool = True) -> ProxySettings:
    """Validate the inputs and build :class:`ProxySettings`.

    ``entries`` is the union of the ``--ccmail-dir`` exports (None when none
    was given). Retiring ``CCMAIL`` (``need_evidence``: audit and plan) needs
    exports or ``--ccmail-decommissioned``, and is refused while an export
    still holds the connector's ``P`` entry: dirsync would delete from cc:Mail
    every user whose ``CCMAIL:`` primary went.
    """
    retired = retired_types(retire)
    listed = None if entries is None else EntryTable.of(entries)
    if need_evidence and CCMAIL in retired:
        if listed is None and not ccmail_decommissioned:
            raise InputError(
                "retiring CCMAIL needs evidence that cc:Mail no longer routes by it: give "
                "--ccmail-dir exports of every post office that still exists, or "
                "--ccmail-decommissioned if cc:Mail is gone", "--retire")
        connector = next(connector_entries(listed or ()), None)
        if connector is not None:
            raise InputError(
                f"the export still holds the Exchange connector's entry {connector.name!r} "
                f"(Locn P, comment {CONNECTOR_COMMENT}): the connector still runs dirsync, and "
                "removing a CCMAIL: primary would delete that user from cc:Mail. Finish the "
                "KB Q253306 clean-up and remove the connector first",
                connector.where or "--ccmail-dir")
    user_entries = index_user_entries(listed) if listed is not None else None
    return ProxySettings(retired, user_entries, max_values)
