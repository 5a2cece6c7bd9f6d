"""RecipientTable: the audit's recipients kept compact, plain values when read.

Issue 13, point 1: ``model.Recipient`` is a plain frozen dataclass; the
packing lives in ``toolkit.storage`` behind the table, which the rules read by
position. These tests hold the table to the plain values it stands for.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from toolkit.exchange.dialects import ccmail_value, read_table, to_recipient
from toolkit.model import Dialect, Kind, RawEntry, Recipient
from toolkit.storage.recipients import RecipientTable
from toolkit.text import fold


def _value(raw: str):
    return ccmail_value(raw, ":", "proxy")


PEOPLE = [
    Recipient("CN=A,DC=x", Kind.MAILBOX, [_value("CCMAIL:A at EXCH"), _value("ccmail:A at PO1")],
              "a@x.example", ["a@x.example", "a2@x.example"], "a", "a", "a@x.example",
              "a@x.example", subtype="mailbox", legacy_dn="/o=X/cn=a"),
    Recipient("CN=B,DC=x", Kind.MAILBOX, [], "b@x.example", ["b@x.example"], "b", "bsam",
              subtype="mailbox"),
    Recipient("CN=C,DC=x", Kind.CUSTOM_RECIPIENT, [_value("ccmail:C at PO2")], subtype="contact",
              item_count=None),
    Recipient("CN=D,DC=x", Kind.GROUP, [_value("CCMAIL:D at EXCH")], nickname="d",
              subtype="group", exchange_values=["CCMAIL:D at EXCH"], item_count=4),
]


def test_a_table_gives_back_equal_plain_values():
    table = RecipientTable(PEOPLE)
    assert len(table) == 4 and table == PEOPLE and list(table) == PEOPLE
    assert table[1] == PEOPLE[1] and table[-1] == PEOPLE[3] and table[1:3] == PEOPLE[1:3]
    assert table[0] is not table[0]  # made when read: a new, equal value each time
    with pytest.raises(IndexError):
        table[4]
    with pytest.raises(FrozenInstanceError):
        table[0].item_count = 3  # type: ignore[misc]
    assert repr(table) == "<RecipientTable: 4 recipients>"


def test_identity_fields_decoded_when_read_make_the_same_value():
    """A table's recipient leaves its identity fields packed until one is
    read (no audit row reads them); it is the same plain value either way."""
    import copy
    import pickle

    table = RecipientTable(PEOPLE)
    for n, plain in enumerate(PEOPLE):
        assert table[n] == plain and plain == table[n]  # == decodes, both ways
        assert hash(table[n].replace(values=())) == hash(plain.replace(values=()))
        assert repr(table[n]) == repr(plain)
        r = table[n]
        assert (r.primary_smtp, r.smtp, r.nickname, r.sam, r.upn, r.mail, r.legacy_dn) == (
            plain.primary_smtp, plain.smtp, plain.nickname, plain.sam, plain.upn, plain.mail,
            plain.legacy_dn)
        assert r.ids == plain.ids and r.identities() == plain.identities()
        assert pickle.loads(pickle.dumps(table[n])) == plain and copy.copy(table[n]) == plain
        assert table[n].replace(kind=Kind.GROUP) == plain.replace(kind=Kind.GROUP)
        with pytest.raises(FrozenInstanceError):
            table[n].nickname = "z"  # type: ignore[misc]
    r = table[0]
    assert r.sam == "a" and r.sam is r.nickname  # "same as": one string, decoded once
    for made in (r, table[0], PEOPLE[0]):  # any other name is still missing
        with pytest.raises(AttributeError, match="no attribute 'nick'"):
            made.nick  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(PEOPLE[0], "_packed_ids")  # a plain recipient: every slot filled
    # the identity fields only are lazy: every other field is a plain slot, so
    # Python can specialise reading it
    from toolkit.model import _Identity

    lazy = {name for name, v in vars(Recipient).items() if isinstance(v, _Identity)}
    assert lazy == {"primary_smtp", "nickname", "sam", "upn", "mail", "legacy_dn", "smtp"}
    assert "__getattr__" not in dir(Recipient)


def test_plain_recipients_keep_lists_as_tuples():
    r = PEOPLE[0]
    assert isinstance(r.values, tuple) and r.smtp == ("a@x.example", "a2@x.example")
    assert PEOPLE[3].exchange_values == ("CCMAIL:D at EXCH",)
    assert r.replace(smtp=["z@x"]).smtp == ("z@x",) and r.smtp == ("a@x.example", "a2@x.example")


def test_positions_are_read_without_making_recipients():
    table = RecipientTable(PEOPLE)
    assert [table.dn(i) for i in range(4)] == [r.dn for r in PEOPLE]
    assert table.kinds == [r.kind for r in PEOPLE]
    assert [table.has_values(i) for i in range(4)] == [True, False, True, True]
    assert [k.key for k in table.valid_keys(0)] == [("a", "exch"), ("a", "po1")]
    assert table.stats_identities(1) == ("CN=B,DC=x", "b@x.example", "b", "bsam")
    assert [table.item_count(i) for i in range(4)] == [None, None, None, 4]


def test_what_later_stages_learn_is_set_by_position():
    table = RecipientTable(PEOPLE)
    table.set_item_count(0, 12)
    table.set_exchange_values(0, ["CCMAIL:A at EXCH"])
    assert table[0] == PEOPLE[0].replace(item_count=12, exchange_values=("CCMAIL:A at EXCH",))
    assert table[1:] == PEOPLE[1:]


def test_with_values_keeps_the_order_and_what_was_learnt():
    table = RecipientTable(PEOPLE)
    table.set_item_count(3, 9)
    table.set_exchange_values(2, [])
    kept = table.with_values()
    assert [r.dn for r in kept] == ["CN=A,DC=x", "CN=C,DC=x", "CN=D,DC=x"]
    assert kept[2].item_count == 9 and kept[1].exchange_values == () and kept[0] == PEOPLE[0]
    assert kept.with_values() is kept and RecipientTable.of(kept) is kept


def _entry(dn: str, classes: list[str], **attrs: list[str]) -> RawEntry:
    return RawEntry(dn, {"objectclass": classes, **{k.lower(): v for k, v in attrs.items()}})


ENTRIES = [
    _entry("CN=M1", ["user"], homeMDB=["db"], proxyAddresses=["SMTP:m1@x", "ccmail:M1 at PO1"]),
    _entry("CN=M2", ["user"], homeMDB=["db"], proxyAddresses=["SMTP:m2@x"], mailNickname=["m2"]),
    _entry("CN=K", ["computer", "user"], homeMDB=["db"], proxyAddresses=["ccmail:K at PO1"]),
    _entry("CN=C", ["contact"], targetAddress=["CCMAIL:C at PO1"]),
]


def test_read_table_keeps_what_the_audit_needs_and_shows_each_position():
    seen: list[tuple[int, str]] = []
    table = read_table(ENTRIES, Dialect.AD, every_mailbox=True,
                       observe=lambda t, i: seen.append((i, t.dn(i))))
    assert [r.dn for r in table] == ["CN=M1", "CN=M2", "CN=C"]  # the computer is no recipient
    assert seen == [(0, "CN=M1"), (1, "CN=M2"), (2, "CN=C")]
    assert list(table) == [to_recipient(e, Dialect.AD) for e in (ENTRIES[0], ENTRIES[1], ENTRIES[3])]
    only_values = read_table(ENTRIES, Dialect.AD)
    assert [r.dn for r in only_values] == ["CN=M1", "CN=C"]  # the mailbox without values dropped


def test_an_analysed_table_is_read_only_and_its_rows_stay_as_they_were():
    """Issue 13: rows made after the audit read what the analysis read. The
    analysis freezes the table it reads; a runbook changes a copy."""
    from toolkit.model import DirEntry
    from toolkit.rules import analyse

    with_values = [r for r in PEOPLE if r.values]
    table = RecipientTable(with_values)
    a = analyse(table, [DirEntry("A", "L", "PO1")], ["EXCH"])
    before = [r.as_dict() for r in a.rows]
    with pytest.raises(TypeError, match="read-only"):
        table.set_item_count(0, 0)
    with pytest.raises(TypeError, match="read-only"):
        table.append(PEOPLE[0])
    copy = RecipientTable(table)
    copy.set_item_count(0, 0)  # the copy is the runbook's own
    assert copy[0].item_count == 0 and [r.as_dict() for r in a.rows] == before
    # a table with objects the rules do not read: the analysis reads its own
    # subset, and the table given stays the caller's
    table = RecipientTable(PEOPLE)
    a = analyse(table, [DirEntry("A", "L", "PO1")], ["EXCH"])
    before = [r.as_dict() for r in a.rows]
    table.set_item_count(0, 0)
    assert [r.as_dict() for r in a.rows] == before


def _tricky_table() -> RecipientTable:
    """Records of every shape the index pass meets: packed strings (as a
    reader keeps them), a tuple record (a field held the record separator,
    or values given parsed), no values, invalid and non-canonical values,
    names that need NFC, several upper-case proxies."""
    read = read_table([
        _entry("CN=P,DC=x", ["user"], homeMDB=["db"], proxyAddresses=[
            "CCMAIL:P\u00f6 Q at EXCH", "ccmail:P\u00f6 Q at PO1", "CCMAIL:Cafe\u0301 at PO2",
            "ccmail:bad", "CCMAIL:Two  Spaces at PO1", "CCMAIL:Up at EXCH2"]),
        _entry("CN=Q\x05,DC=x", ["user"], homeMDB=["db"], proxyAddresses=["CCMAIL:Q at EXCH"]),
        _entry("CN=R,DC=x", ["contact"], targetAddress=["CCMAIL:R at PO1"],
               proxyAddresses=["ccmail:R at PO1"]),
    ], Dialect.AD)
    for r in [
        *PEOPLE,
        Recipient("CN=T\x05,DC=x", Kind.MAILBOX, [_value("CCMAIL:T at EXCH")]),  # tuple record
        Recipient("CN=E,DC=x", Kind.MAILBOX, []),
        Recipient("CN=F,DC=x", Kind.MAILBOX, [_value("CCMAIL:Fo  o at EXCH"), _value("ccmail:bad"),
                                              _value("CCMAIL:Cafe\u0301 at PO1"),
                                              _value("CCMAIL:F at PO2")]),
        Recipient("CN=G,DC=x", Kind.CUSTOM_RECIPIENT, [_value("ccmail:G at PO3"),
                                                       ccmail_value("CCMAIL:G at PO3", ":", "target")]),
    ]:
        read.append(r)
    return read


def test_each_valid_keys_is_valid_keys_of_each_position():
    """The index pass's generator over every record gives what the
    per-position reader gives (and the plain values' valid ones)."""
    from toolkit.storage import ValueKey

    table = _tricky_table()
    assert any(d.__class__ is tuple for d in table.records)
    spellings: dict[str, str] = {}
    every = list(table.each_valid_keys(spellings))
    assert every == [table.valid_keys(i) for i in range(len(table))]
    # what it learns of the names, as written: exactly their fold
    assert spellings and all(folded == fold(name) for name, folded in spellings.items())
    assert {"Cafe\u0301", "P\u00f6 Q", "Q", "R"} <= set(spellings)
    for keys, r in zip(every, table, strict=True):
        valid = [v for v in r.values if v.error is None]
        assert [(k.prefix, k.source, k.key) for k in keys] == [
            (v.prefix, v.source, v.key) for v in valid]
        assert all(isinstance(k, ValueKey) or k in valid for k in keys)


def test_with_values_without_a_call_a_record_is_the_plain_filter():
    """with_values reads each record's last field at C level; it keeps
    exactly the recipients that carry a value (tuple records included) and
    is the table itself when all do."""
    table = _tricky_table()
    kept = table.with_values()
    assert kept == [r for r in table if r.values]
    assert [kept.has_values(i) for i in range(len(kept))] == [True] * len(kept)
    assert kept.with_values() is kept


def test_folded_dns_is_the_fold_of_each_dn():
    """folded_dns cuts the DNs of string records by one map, and falls back
    to reading each record when one is a tuple: both give fold(dn)."""
    tricky = _tricky_table()
    assert tricky.folded_dns() == [fold(r.dn) for r in tricky]
    strings = read_table([_entry(f"CN= \u00c5se\u0301  {n} ,DC=x", ["contact"],
                                 targetAddress=[f"CCMAIL:A{n} at PO1"]) for n in range(3)]
                         + [_entry("CN=Plain,DC=X", ["contact"], targetAddress=["CCMAIL:P at PO1"])],
                         Dialect.AD)
    assert all(d.__class__ is str for d in strings.records)
    assert strings.folded_dns() == [fold(r.dn) for r in strings]
    assert strings.folded_dns()[-1] == "cn=plain,dc=x"


def _read_of_every_width() -> RecipientTable:
    """ASCII, Latin-1, BMP and astral names, a DN that holds the separator
    (a tuple record) and mailboxes with no value, mixed, as a reader keeps
    them (packed string records)."""
    names = ["Ann", "\u00c5se", "\u0141ukasz", "Ann2", "\U0001f600 Smile", "Bob", "Q\x05", "Cy"]
    return read_table([
        _entry(f"CN={name},DC=x", ["user"], homeMDB=["db"], mailNickname=[f"nick{n}"],
               proxyAddresses=[] if n % 3 == 2 else [f"CCMAIL:{name} at EXCH"])
        for n, name in enumerate(names)], Dialect.AD, True)


def test_records_of_every_width_read_back_as_they_went_in():
    """Each part's records are kept as strings joined (the ASCII records
    apart from the others): every reader gives what the plain recipients
    say, in order, whatever characters they hold."""
    read = _read_of_every_width()
    people = list(read)
    table = RecipientTable()
    records = read.records
    assert any(d.__class__ is tuple for d in records)
    table.extend(records[:3], read.kinds[:3], [r.subtype for r in people[:3]])
    table.extend(records[3:], read.kinds[3:], [r.subtype for r in people[3:]])
    for i in range(len(people)):
        table.set_item_count(i, i if i % 2 else None)
    people = [r.replace(item_count=i if i % 2 else None) for i, r in enumerate(people)]
    assert table == people and list(table) == people
    assert table.records == records
    assert [table.dn(i) for i in range(len(table))] == [r.dn for r in people]
    assert [table.has_values(i) for i in range(len(table))] == [bool(r.values) for r in people]
    assert [table.stats_identities(i)[:3] for i in range(len(table))] == [
        (r.dn, r.primary_smtp, r.nickname) for r in people]
    assert table.folded_dns() == [fold(r.dn) for r in people]
    assert table.with_values() == [r for r in people if r.values]
    assert table.with_values().folded_dns() == [fold(r.dn) for r in people if r.values]
    assert list(table.each_valid_keys()) == [table.valid_keys(i) for i in range(len(table))]
    assert RecipientTable(table) == people  # a copy reads the same


def test_records_are_kept_one_byte_a_character():
    """A record with a character past U+00FF would make its part's whole
    string take 2 or 4 bytes a character: it is kept aside, the others
    (ASCII or Latin-1) share one string of one byte a character (what the
    memory saving rests on), and every record reads back as it went in."""
    read = _read_of_every_width()
    strings = [d for d in read.records if d.__class__ is str]
    wide = [d for d in strings if max(d) > "\xff"]
    assert len(wide) == 2 and any(not d.isascii() and d not in wide for d in strings)
    assert all(max(t, default="") <= "\xff" for t in read._texts)
    assert all(d not in t for d in wide for t in read._texts)
    assert sum(map(len, read._texts)) <= sum(map(len, strings)) + 3 * len(read)  # one copy
    assert read.with_values() == [r for r in read if r.values]


def test_item_counts_none_zero_and_past_64_bits():
    """Item counts are kept in an array: None, 0 and a count too large for
    it all read back as set, by position as a list takes it."""
    table = RecipientTable(PEOPLE)
    table.set_item_count(0, 0)
    table.set_item_count(-1, 1 << 70)
    table.set_item_count(1, 7)
    table.set_item_count(1, None)
    assert [table.item_count(i) for i in range(4)] == [0, None, None, 1 << 70]
    assert table[3].item_count == 1 << 70 and table[0].item_count == 0
    assert table.with_values()[-1].item_count == 1 << 70
    table.set_item_count(3, 2)
    assert table[3].item_count == 2
    with pytest.raises(IndexError):
        table.set_item_count(4, 1)


def test_records_joined_where_read_are_taken_as_they_are():
    """A reader's part may come joined already (packed_records, where the
    part was read: one string crosses from a worker); an empty part adds
    nothing either way."""
    from toolkit.storage.recipients import packed_records

    read = _read_of_every_width()
    people, records = list(read), read.records
    table = RecipientTable()
    table.extend(packed_records([]), [], [])
    table.extend(packed_records(records[:5]), read.kinds[:5], [r.subtype for r in people[:5]])
    table.extend([], [], [])
    table.extend(records[5:], read.kinds[5:], [r.subtype for r in people[5:]])
    table.extend(packed_records([]), [], [])
    assert table == people and table.records == records
    assert table.with_values() == [r for r in people if r.values]


def test_packed_records_note_exactly_the_records_with_no_value():
    """packed_records finds the records with no value by each record's last
    character (the separator when it has none): an empty DN, a run of them,
    the last one, a tuple record and a wide one do not fool it."""
    from toolkit.storage import pack_record, record_has_values
    from toolkit.storage.recipients import packed_records

    def rec(dn: str, values: str) -> str | tuple:
        return pack_record(dn, values, None, "n", None, None, None, None, [])

    records = [rec("", ""), rec("", "vCCMAIL:A at EXCH"), rec("CN=B", ""), rec("CN=C", ""),
               rec("CN=D\x05", ""), rec("CN=\u0141", ""), rec("CN=E", "vCCMAIL:E at EXCH"),
               rec("CN=F", "")]
    assert any(d.__class__ is tuple for d in records)
    for n in range(len(records) + 1):
        part = records[:n]
        packed = packed_records(part)
        assert packed.bare == [k for k, d in enumerate(part) if not record_has_values(d)]
        table = RecipientTable()
        table.extend(packed, [Kind.MAILBOX] * n, [None] * n)
        assert table.records == part


def test_any_item_count_reads_back_as_set():
    """Item counts are an ``array`` of 64-bit ints with -1 for "unknown":
    a count past its range or below 0 (a library caller's, never a stats
    file's) is kept beside it and reads back unchanged, and setting one
    again replaces it."""
    from toolkit.model import Kind, Recipient
    from toolkit.storage.recipients import RecipientTable

    counts = [None, 0, -1, -5, 2**70, 2**63 - 1, 7]
    table = RecipientTable()
    for c in counts:
        table.append(Recipient("CN=a", Kind.MAILBOX, [], item_count=c))
    assert [table[i].item_count for i in range(len(table))] == counts
    copy = RecipientTable(table)
    copy.set_item_count(2, None)
    copy.set_item_count(4, 3)
    copy.set_item_count(0, -2)
    assert [copy[i].item_count for i in range(len(copy))] == [-2, 0, None, -5, 3, 2**63 - 1, 7]
    assert [table[i].item_count for i in range(len(table))] == counts  # the original unchanged
