"""An in-memory cc:Mail directory, with users added/deleted and a dirsync cycle.

It implements :class:`toolkit.ccmail.directory.DirectoryLayer`, so any audit
can run against it instead of export files. Test suites build one in a few
lines::

    cc = MockDirectory.build(
        HUBPO=[("EXCH", "P", "", "MSExchangeCCMC EXSRV01")],
        PO1=["Smith, John", ("Doe, Jane", "r", "PO2")],
    )
    cc.delete("Smith, John", po="PO1")
    report = cc.dirsync(recipients, ["EXCH"], connector_po="HUBPO")

Dirsync follows Q295753's order: deletions first, then additions, and it
refuses an addition whose name exists anywhere in cc:Mail (Q237588), reporting
it as event 14013 does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from toolkit.model import Dialect, DirEntry, Kind, Recipient
from toolkit.rules import facts_of
from toolkit.text import fold

EntrySpec = str | tuple


@dataclass
class DirsyncReport:
    deleted: list[DirEntry] = field(default_factory=list)
    added: list[DirEntry] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # event-14013-style messages


class MockDirectory:
    """Post offices -> entries, in insertion order; names compare folded."""

    def __init__(self) -> None:
        self._pos: dict[str, tuple[str, list[DirEntry]]] = {}

    @classmethod
    def build(cls, **post_offices: Iterable[EntrySpec]) -> MockDirectory:
        """``PO=[name | (name, locn, addr, comments, messages), ...]``."""
        layer = cls()
        for po, specs in post_offices.items():
            layer.add_post_office(po)
            for spec in specs:
                if isinstance(spec, str):
                    layer.add(po, spec)
                else:
                    layer.add(po, *spec)
        return layer

    def add_post_office(self, po: str) -> None:
        self._pos.setdefault(fold(po), (po, []))

    def add(self, po: str, name: str, locn: str = "L", addr: str = "", comments: str = "",
            messages: int | None = None) -> DirEntry:
        self.add_post_office(po)
        if locn not in "PpLlRrAa" or len(locn) != 1:
            raise ValueError(f"bad location code {locn!r}")
        po_name, entries = self._pos[fold(po)]
        entry = DirEntry(" ".join(name.split()), locn, po_name, addr, comments, messages,
                         where=f"mock:{po_name}")
        entries.append(entry)
        return entry

    def delete(self, name: str, po: str | None = None, locn: str | None = None) -> list[DirEntry]:
        """Remove entries named ``name`` (in ``po``'s directory, of ``locn``)."""
        removed: list[DirEntry] = []
        for key, (_, entries) in self._pos.items():
            if po is not None and key != fold(po):
                continue
            keep = []
            for e in entries:
                if fold(e.name) == fold(name) and (locn is None or e.locn == locn):
                    removed.append(e)
                else:
                    keep.append(e)
            entries[:] = keep
        return removed

    def find(self, name: str) -> list[DirEntry]:
        return [e for e in self.entries() if fold(e.name) == fold(name)]

    # DirectoryLayer
    def post_offices(self) -> list[str]:
        return [name for name, _ in self._pos.values()]

    def entries(self) -> Iterator[DirEntry]:
        for _, entries in self._pos.values():
            yield from list(entries)

    # ------------------------------------------------------------------ dirsync

    def dirsync(self, recipients: Iterable[Recipient], exchange_pos: Iterable[str],
                connector_po: str, dialect: Dialect = Dialect.AD) -> DirsyncReport:
        """One directory-synchronisation cycle (Q295753), deletions before additions."""
        x = {fold(p) for p in exchange_pos}
        primaries: dict[str, tuple[str, str]] = {}  # folded name -> (name, Exchange PO)
        for r in recipients:
            if r.kind is not Kind.MAILBOX or not r.values:
                continue
            f = facts_of(r, x, dialect)
            if f.primary is not None and f.primary.key and f.primary.key[1] in x:
                primaries.setdefault(f.primary.key[0], (f.primary.name or "", f.primary.po or ""))
        report = DirsyncReport()
        for entry in list(self.entries()):
            if entry.is_user and fold(entry.po) in x and fold(entry.name) not in primaries:
                self.delete(entry.name, entry.file_po, entry.locn)
                report.deleted.append(entry)
        existing = {fold(e.name) for e in self.entries()}
        for key, (name, site_po) in primaries.items():
            if key in existing:
                if not any(fold(e.name) == key and fold(e.po) in x for e in self.entries()):
                    report.refused.append(
                        f"event 14013: cannot add '{name}': the name already exists in the "
                        "cc:Mail directory")
                continue
            report.added.append(self.add(connector_po, name, "r", site_po))
            existing.add(key)
        return report
