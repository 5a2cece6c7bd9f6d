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
        changes = dirsync_changes(list(self.entries()), recipients, exchange_pos, dialect)
        for entry in changes.deleted:
            self.delete(entry.name, entry.file_po, entry.locn)
        changes.added = [self.add(connector_po, e.name, e.locn, e.addr) for e in changes.added]
        return changes


def dirsync_changes(entries: list[DirEntry], recipients: Iterable[Recipient],
                    exchange_pos: Iterable[str], dialect: Dialect = Dialect.AD) -> DirsyncReport:
    """What one dirsync cycle would do: delete entries pointing at Exchange whose
    name no longer belongs to an Exchange mailbox, then add an ``r`` entry for
    every mailbox primary name not yet in cc:Mail (refusing names that exist)."""
    x = {fold(p) for p in exchange_pos}
    primaries: dict[str, tuple[str, str]] = {}  # folded name -> (name, Exchange PO)
    for r in recipients:
        if r.kind is not Kind.MAILBOX or not r.values:
            continue
        f = facts_of(r, x, dialect)
        if f.primary is not None and f.primary.key and f.primary.key[1] in x:
            primaries.setdefault(f.primary.key[0], (f.primary.name or "", f.primary.po or ""))
    report = DirsyncReport()
    for entry in entries:
        if entry.is_user and fold(entry.po) in x and fold(entry.name) not in primaries:
            report.deleted.append(entry)
    gone = {id(e) for e in report.deleted}
    remaining = [e for e in entries if id(e) not in gone]
    existing = {fold(e.name) for e in remaining}
    for key, (name, site_po) in primaries.items():
        if key in existing:
            if not any(fold(e.name) == key and fold(e.po) in x for e in remaining):
                report.refused.append(
                    f"event 14013: cannot add '{name}': the name already exists in the "
                    "cc:Mail directory")
            continue
        report.added.append(DirEntry(name, "r", "", site_po))
        existing.add(key)
    return report


def dirsync_files(ccmail_args: list[str], recipients: Iterable[Recipient],
                  exchange_pos: list[str], connector_po: str, encoding: str | None = None,
                  dialect: Dialect = Dialect.AD) -> DirsyncReport:
    """Dirsync against export files: removals keep every other byte; additions
    are appended to the connector PO's file in its encoding and line endings."""
    from toolkit.ccmail.directory import Directory
    from toolkit.remediation import ccmail_files as cf

    layer = Directory.from_args(ccmail_args, encoding)
    hub = next((f for f in layer.files if fold(f.po) == fold(connector_po)), None)
    if hub is None:
        raise SystemExit(f"no --ccmail-dir file for the connector PO {connector_po!r}")
    report = dirsync_changes(list(layer.entries()), recipients, exchange_pos, dialect)
    for e in report.deleted:
        span = cf.find_record(e.path or "", e.file_po, e.name, e.locn, e.addr, encoding)
        if span:
            cf.apply_removal(cf.plan_removal(e.path or "", span, encoding))
    if report.added:
        ft = cf.FileText.read(hub.path, encoding)
        nl = hub.newline
        if ft.lines and not ft.lines[-1].endswith(("\n", "\r")):
            ft.lines[-1] += nl
        for e in report.added:
            ft.lines.append(f"{nl}Name: {e.name}{nl}Locn: r{nl}Addr: {e.addr}{nl}")
        report.added = [e.replace(file_po=hub.po) for e in report.added]
        cf.atomic_write(hub.path, ft.encode())
    return report


def _from_profile(args) -> None:
    """Fill --ldif, --ccmail-dir and --exchange-po from the ccmig profile, as ccmig
    would (paths relative to the profile's file), so the lab needs one short line."""
    import os

    from toolkit.config import load_profile

    if args.ldif and args.ccmail_dir and args.exchange_po:
        return
    profile = load_profile(None, None, must_exist=False)
    base = profile.path.parent if profile.path else None

    def here(value: str) -> str:
        po, sep, rest = value.partition("=")
        if sep and not os.path.exists(value) and base is not None:
            return f"{po}={base / rest}"
        return str(base / value) if base is not None else value

    values = profile.values
    args.ldif = args.ldif or (here(values["ldif"]) if values.get("ldif") else None)
    args.ccmail_dir = args.ccmail_dir or [here(v) for v in values.get("ccmail-dir", [])]
    args.exchange_po = args.exchange_po or list(values.get("exchange-po", []))
    missing = [o for o, v in (("--ldif", args.ldif), ("--ccmail-dir", args.ccmail_dir),
                              ("--exchange-po", args.exchange_po)) if not v]
    if missing:
        raise SystemExit(f"python -m toolkit.mocks.ccmail dirsync: give {', '.join(missing)} "
                         "(or a ccmig profile that names them)")


def main(argv: list[str] | None = None) -> int:
    """``python -m toolkit.mocks.ccmail dirsync --ccmail-dir ... --ldif ORG --exchange-po EXCH
    --connector-po HUBPO``: one dirsync cycle over export files."""
    import argparse

    from toolkit.exchange.dialects import recipients as classify
    from toolkit.exchange.ldif import read_ldif

    ap = argparse.ArgumentParser(prog="python -m toolkit.mocks.ccmail")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dirsync", help="run one simulated dirsync cycle on export files",
                       description="Options left out come from the ccmig profile in "
                       "$CCMIG_CONFIG / $CCMIG_PROFILE (ldif, ccmail-dir, exchange-po).")
    d.add_argument("--ccmail-dir", action="append")
    d.add_argument("--ldif")
    d.add_argument("--exchange-po", action="append")
    d.add_argument("--connector-po", required=True)
    d.add_argument("--dialect", default="ad", choices=[x.value for x in Dialect])
    d.add_argument("--ccmail-encoding")
    args = ap.parse_args(argv)
    _from_profile(args)
    dialect = Dialect(args.dialect)
    found = list(classify(read_ldif(args.ldif), dialect))
    report = dirsync_files(args.ccmail_dir, found, args.exchange_po, args.connector_po,
                           args.ccmail_encoding, dialect)
    for e in report.deleted:
        print(f"deleted {e.locn} '{e.name}' from {e.file_po}")
    for e in report.added:
        print(f"added r '{e.name}' (Addr {e.addr}) to {e.file_po}")
    for message in report.refused:
        print(message)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
