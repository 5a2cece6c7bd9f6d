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
