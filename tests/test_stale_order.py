"""The stale-entry order shortcut (toolkit.rules.facts._in_entry_order) gives
exactly the order of entry_order, with and without ties in its head."""

from __future__ import annotations

import itertools

from toolkit.model import DirEntry
from toolkit.rules.facts import _in_entry_order, entry_order, entry_text
from toolkit.storage.entries import EntryTable
from toolkit.text import fold


def _sorted_plainly(entries: list[DirEntry]) -> tuple[DirEntry, ...]:
    return tuple(sorted(entries, key=entry_order))


def test_distinct_heads_sort_like_entry_order() -> None:
    entries = [DirEntry("Smith, John", "L", "PO2"), DirEntry("smith,  john", "R", "PO1", "PO3"),
               DirEntry("Adams, Ann", "L", "po1"), DirEntry("Smith, John", "L", "PO1")]
    for perm in itertools.permutations(entries):
        table = EntryTable(perm)
        got = _in_entry_order([(fold(e.name), j) for j, e in enumerate(perm)], table)
        assert got == _sorted_plainly(list(perm))
        assert got[0].name == "Adams, Ann"


def test_tied_heads_fall_back_to_the_whole_key() -> None:
    # same folded name, PO and location code: Addr, then spelling decide
    entries = [DirEntry("Smith, John", "R", "PO1", "ZZZ"), DirEntry("Smith, John", "R", "PO1", "AAA"),
               DirEntry("SMITH, JOHN", "R", "PO1", "AAA")]
    for perm in itertools.permutations(entries):
        table = EntryTable(perm)
        got = _in_entry_order([(fold(e.name), j) for j, e in enumerate(perm)], table)
        assert got == _sorted_plainly(list(perm))
        assert [e.addr for e in got] == ["AAA", "AAA", "ZZZ"]
        assert got[0].name == "SMITH, JOHN"


def test_entry_text_names_addr_of_r_entries_only() -> None:
    assert entry_text(DirEntry("Ann", "L", "PO1", "X")) == "L entry 'Ann' in PO1's directory"
    assert entry_text(DirEntry("Ann", "R", "PO1", "PO2 box")) == (
        "R entry 'Ann' in PO1's directory (Addr 'PO2 box')")
    assert entry_text(DirEntry("Ann", "r", "PO1", "  ")) == "r entry 'Ann' in PO1's directory"


def test_places_are_each_entrys_po_file_po_and_code() -> None:
    entries = [DirEntry("Ann", "L", "PO1"), DirEntry("Ann", "R", "PO1", "PO2 box"),
               DirEntry("Ann", "r", "PO3", "  "), DirEntry("Ann", "l", "PO4", "PO9")]
    table = EntryTable(entries)
    assert table.places(list(range(4))) == [(j, e.po, e.file_po, e.locn)
                                            for j, e in enumerate(entries)]
    assert table.places(1) == [(1, "PO2", "PO1", "R")]


def test_stale_lists_keep_entry_order_whatever_their_length() -> None:
    """_stale's shortcuts (one name, two entries) give stale_entries' order:
    the entries named like the primary or an old address, not routing to X."""
    from toolkit.exchange.dialects import ccmail_value
    from toolkit.multimap import Index
    from toolkit.rules.facts import _stale

    people = [DirEntry("Smith, John", "L", "PO2"), DirEntry("smith,  john", "R", "PO1", "PO3"),
              DirEntry("Smith, John", "R", "PO1", "EXCH"), DirEntry("SMITH, JOHN", "R", "PO1", "PO3"),
              DirEntry("Old, Name", "L", "PO5"), DirEntry("Smith, John", "L", "PO1")]
    primary = ccmail_value("CCMAIL:Smith, John at EXCH", ":", "proxy")
    other = ccmail_value("ccmail:Old, Name at PO5", ":", "proxy")
    same = ccmail_value("ccmail:Smith, John at PO1", ":", "proxy")
    for size in range(1, len(people) + 1):
        for perm in itertools.permutations(people[:size]):
            table = EntryTable(perm)
            by_name = Index()
            for j, e in enumerate(perm):
                by_name.add(fold(e.name), j)
            for p, old in ((primary, (same,)), (primary, (same, other)), (None, (other, same))):
                want = _sorted_plainly([e for e in perm if fold(e.po) != "exch"
                                        and fold(e.name) in {v.key[0] for v in (p, *old) if v}])
                assert _stale(p, old, by_name, {"exch"}, table) == want
