"""storage.entries.PackedStrings, the entries' names column: the same
strings, in order, however they were added and read, and across pickling."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from toolkit.storage.entries import EntryTable, PackedStrings

# batches of strings, each added one way: one at a time, as a list, or as another column
_BATCHES = st.lists(st.tuples(st.sampled_from(["append", "extend", "packed", "read"]),
                              st.lists(st.text(max_size=12), max_size=6)), max_size=8)


@given(_BATCHES)
def test_reads_as_the_list_of_what_was_added(batches: list[tuple[str, list[str]]]) -> None:
    column, want = PackedStrings(), []
    for how, strings in batches:
        if how == "append":
            for s in strings:
                column.append(s)
        elif how == "extend":
            column.extend(strings)
        elif how == "packed":
            column.extend_packed(PackedStrings(strings))
        else:  # a read between additions: later ones are joined again
            assert list(column) == want
            continue
        want += strings
        assert len(column) == len(want)
    assert list(column) == want
    assert [column[i] for i in range(len(want))] == want
    assert [column[-i] for i in range(1, len(want) + 1)] == [want[-i] for i in range(1, len(want) + 1)]
    assert column.text() == "".join(want)
    back = pickle.loads(pickle.dumps(column, pickle.HIGHEST_PROTOCOL))
    assert list(back) == want and len(back) == len(want)
    back.append("more")
    assert list(back) == [*want, "more"]


def test_a_name_past_latin_1_and_empty_names_keep_their_place() -> None:
    names = ["Smith, John", "", "Łukasz", "\U0001f600 x", "", "Zoë"]
    column = PackedStrings(names)
    assert [column[i] for i in range(6)] == names
    assert column[2] == "Łukasz" and column[3] == "\U0001f600 x"


def test_an_entry_table_keeps_names_apart_from_their_entries_fields() -> None:
    from toolkit.model import DirEntry

    entries = [DirEntry(name, "L", "PO1", "", "", None, where=f"f:{n}")
               for n, name in enumerate(["A", "Bé", "C\u0142", ""])]
    table = EntryTable(entries)
    other = EntryTable(entries[:2])
    table.extend(other)
    assert [e.name for e in table] == ["A", "Bé", "C\u0142", "", "A", "Bé"]
    assert list(table) == [*entries, *entries[:2]]
    assert pickle.loads(pickle.dumps(table)) == table


def test_a_table_extended_by_itself_holds_its_entries_twice() -> None:
    """(As a list extended by itself does; the ends are made whole first.)"""
    from toolkit.model import DirEntry

    entries = [DirEntry(name, "L", "PO1", "", "", None, where=f"f:{n}")
               for n, name in enumerate(["A", "Bé"])]
    table = EntryTable(entries)
    table.extend(table)
    assert [e.name for e in table] == ["A", "Bé", "A", "Bé"]
    column = PackedStrings(["x", "yz"])
    column.extend_packed(column)
    assert list(column) == ["x", "yz", "x", "yz"]
