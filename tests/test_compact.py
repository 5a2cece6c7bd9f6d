"""The compact forms the audit keeps at scale behave exactly like the plain ones.

Issue 6 (memory): readers keep identity fields, cc:Mail values and directory
entries packed, the analysis derives facts and rows when asked. Each packed
form is checked here against the plain object it stands for, including the
inputs that must fall back to the plain form (NUL, marker characters, huge
line numbers, unknown keys).
"""

from __future__ import annotations

import logging
import re
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit import storage
from toolkit.ccmail.address import parse
from toolkit.ccmail.directory import read_directory_file
from toolkit.cli.common import exit_code
from toolkit.errors import InputError
from toolkit.exchange.dialects import ccmail_value, read_table, to_recipient, undecodable_ccmail
from toolkit.model import NO_EXTRA, Dialect, DirEntry, Identities, Kind, RawEntry, Recipient
from toolkit.rules import AddressIndex, Index, Rows, analyse, facts_of, stale_entries
from toolkit.stats import StatsMatcher
from toolkit.storage import (
    _CANONICAL_VALID,
    pack_ids,
    pack_values,
    record_ids,
    record_vals,
    stats_ids,
    tagged,
    unpack_one,
    unpack_values,
)
from toolkit.storage.entries import DirFile, EntryTable
from toolkit.storage.recipients import RecipientTable

MARKS = "ab@.c\x00\x01\x02\x03\x04\x05xyz"
field_text = st.text(alphabet=MARKS, max_size=8)
maybe = st.none() | field_text


def _kept(r: Recipient) -> tuple[RecipientTable, Recipient]:
    """``r`` kept in a table, and the recipient the table gives back."""
    table = RecipientTable([r])
    return table, table[0]


@settings(max_examples=400, deadline=None)
@given(field_text, maybe, maybe, maybe, maybe, maybe, maybe, st.lists(field_text, max_size=4))
def test_identity_fields_round_trip(dn, primary, nick, sam, upn, mail, legacy, smtp):
    """Packed identity fields (markers for None, "same as", nickname and
    domain) and the DN give back exactly what was stored, whatever
    characters they hold."""
    table, r = _kept(Recipient(dn, Kind.MAILBOX, [], primary, smtp, nick, sam, upn, mail,
                               legacy_dn=legacy))
    assert (r.dn, r.primary_smtp, r.nickname, r.sam, r.upn, r.mail, r.legacy_dn, r.smtp) == (
        dn, primary, nick, sam, upn, mail, legacy, tuple(smtp))
    assert not r.has_values and r.values == () and not table.has_values(0)
    assert table.stats_identities(0) == stats_ids(table.records[0]) == (dn, primary, nick, sam)
    assert table.dn(0) == dn


@settings(max_examples=400, deadline=None)
@given(field_text, maybe, maybe, maybe, st.lists(st.integers(0, 3), max_size=4))
def test_identity_fields_that_repeat_each_other_round_trip(dn, primary, nick, other, picks):
    """A real mailbox's fields repeat each other (mail and an SMTP address =
    primary SMTP, sAMAccountName = nickname, nickname and domain inside the
    others): the "same as" markers give back exactly what was stored,
    whatever characters the fields hold."""
    pool = [primary or "", nick or "", other or "", (nick or "") + (primary or "")]
    smtp = [pool[n] for n in picks]
    table, r = _kept(Recipient(dn, Kind.MAILBOX, [], primary, smtp, nick, nick, other, primary,
                               legacy_dn=pool[3]))
    assert (r.dn, r.primary_smtp, r.nickname, r.sam, r.upn, r.mail, r.legacy_dn, r.smtp) == (
        dn, primary, nick, nick, other, primary, pool[3], tuple(smtp))
    assert table.stats_identities(0) == (dn, primary, nick, nick)


def test_identity_fields_of_a_value_not_a_string_are_kept_apart():
    packed = pack_ids("a@corp.example", "a", 7, None, None, None, ("a@corp.example",))  # type: ignore[arg-type]
    assert packed == ("a@corp.example", "a", 7, None, None, None, ("a@corp.example",))


@pytest.mark.parametrize("dn", ["CN=Smith\\, John,DC=corp", "CN=odd\x05one", ""])
def test_dn_identities_and_values_share_one_string(dn):
    table = read_table([RawEntry(dn, _entry(["CCMAIL:A at EXCH"]).attrs)], Dialect.AD)
    r = table[0]
    assert r.dn == dn and r.values[0].address == "A at EXCH" and r.has_values
    assert isinstance(table.records[0], str if "\x05" not in dn else tuple)
    with pytest.raises(FrozenInstanceError):
        r.kind = Kind.GROUP  # type: ignore[misc]  # immutable: replace() makes a changed copy
    r = r.replace(dn="CN=new")
    table, back = _kept(r)
    assert (back.dn, back.values[0].address, back) == ("CN=new", "A at EXCH", r)
    r = r.replace(nickname="a\x05b")  # a field holding the separator: kept apart
    table, back = _kept(r)
    assert isinstance(table.records[0], tuple) and back == r
    assert (back.dn, back.nickname, back.values[0].address) == ("CN=new", "a\x05b", "A at EXCH")
    r = r.replace(values=[])
    assert not r.has_values and r.dn == "CN=new" and r.nickname == "a\x05b"
    assert _kept(r)[1] == r


def test_identity_fields_share_nickname_and_domain():
    plain = Recipient("CN=x", Kind.MAILBOX, [], "John.Smith@corp.example",
                      ["John.Smith@corp.example", "jsmith@corp.example"], "jsmith", "jsmith",
                      "jsmith@corp.example", "John.Smith@corp.example",
                      legacy_dn="/o=Corp/ou=EXCH/cn=Recipients/cn=jsmith")
    table, r = _kept(plain)
    ids = record_ids(table.records[0])
    assert isinstance(ids, str)
    assert ids.count("jsmith") == 1 and ids.count("corp.example") == 1
    assert ids == ("John.Smith@corp.example\x00jsmith\x00\x02\x00\x03\x04\x00\x02\x00"
                   "/o=Corp/ou=EXCH/cn=Recipients/cn=\x03\x00\x02\x00\x03\x04")  # the format
    assert r == plain and r is not table[0] and r == table[0]  # made when read, equal
    assert r.upn == "jsmith@corp.example"
    assert r.legacy_dn == "/o=Corp/ou=EXCH/cn=Recipients/cn=jsmith"
    assert r.smtp == ("John.Smith@corp.example", "jsmith@corp.example")
    r = r.replace(upn="other@corp.example")  # replace() changes one field
    assert (r.upn, r.sam, r.mail) == ("other@corp.example", "jsmith", "John.Smith@corp.example")
    record, text = table.records[0], table._texts[0]
    table.set_item_count(0, 3)  # what a later stage learns keeps the record
    assert table.records[0] == record and table._texts[0] is text and table[0].item_count == 3
    assert r.ids == Identities("John.Smith@corp.example", "jsmith", "jsmith", "other@corp.example",
                               "John.Smith@corp.example", "/o=Corp/ou=EXCH/cn=Recipients/cn=jsmith",
                               ("John.Smith@corp.example", "jsmith@corp.example"))


PROXIES = [
    "SMTP:john@corp.example",
    "CCMAIL:Smith, John at EXCH",
    "ccmail:Smith,   John  at  PO1",  # not canonical: the raw text is kept
    "ccmail:Smith, John at PO1",
    "ccmail:no separator here",
    'CcMail:Bad "Name" at PO1',
    "ccmail:Name at P O",
    "X400:c=US;a= ;",
]


def _entry(proxies: list, targets: list | None = None) -> RawEntry:
    attrs = {"objectclass": ["top", "person", "user"], "homemdb": ["CN=DB1"],
             "proxyaddresses": proxies}
    if targets:
        attrs["targetaddress"] = targets
    return RawEntry("CN=Smith\\, John,OU=Staff,DC=corp,DC=example", attrs)


def _plain(proxies: list, targets: list) -> list:
    """The values as the reader made them before packing: one parse each."""
    out = []
    for raw, source in [(p, "proxy") for p in proxies] + [(t, "target") for t in targets]:
        read = undecodable_ccmail if isinstance(raw, bytes) else ccmail_value
        v = read(raw, ":", source)
        if v is not None:
            out.append(v)
    return out


def test_reader_values_are_packed_and_unpack_to_the_parsed_values():
    targets = ["CCMAIL:Smith, John at PO9", "SMTP:x@y"]
    proxies = [*PROXIES, b"ccmail:M\xfcller at PO1", b"\xff\xfe"]
    table = read_table([_entry(proxies, targets)], Dialect.AD)
    assert isinstance(record_vals(table.records[0]), str)  # packed, not objects
    r = table[0]
    assert r.has_values and table.has_values(0)
    assert r.values == tuple(_plain(proxies, targets))
    assert table[0].values is not r.values  # parsed again each time the table is read
    assert [v.error for v in r.values if v.error] == [
        "no ' at ' between name and post office", "name holds '\"'",
        "post office may hold only ASCII letters, digits, '-' and '_'", "not valid UTF-8"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["CCMAIL:", "ccmail:", "CcMaIl$"]),
                          st.sampled_from(["Smith, John", "M\xfcller, \xc5sa", "STRASSE",
                                           "Stra\xdfe", "O'Neil, J. Jr.", "at at", "Doe \u212a",
                                           "A\u030asa", "x\x85y", "a  b", "Nul\x00", '"q"']),
                          st.sampled_from(["EXCH", "po1", "PO-2", "x_1", "P\xd61", " PO3 "]),
                          st.sampled_from(["proxy", "target"]), st.booleans()),
                max_size=5))
def test_unpack_values_decodes_as_the_grammar_parses(values):
    """unpack_values' loop (canonical values decoded without a parse,
    consecutive names sharing one folded string) and unpack_one give exactly
    the values the grammar's parse gives, whatever the mix of canonical,
    non-canonical and invalid values, names repeated or not."""
    raws, sources = [], []
    for typed, name, po, source, again in values:
        raws += [f"{typed}{name} at {po}"] * (2 if again else 1)
        sources += [source] * (2 if again else 1)
    items = [tagged(raw, source) for raw, source in zip(raws, sources, strict=True)]
    plain = [parse(raw, raw[:6], raw[7:], source) for raw, source in zip(raws, sources,
                                                                          strict=True)]
    packed = pack_values(items)
    got = unpack_values(packed) if isinstance(packed, str) else packed
    assert got == plain and [unpack_one(item) for item in items] == plain
    for v, w in zip(got, plain, strict=True):
        assert (v.raw, v.key, v.error, v.name, v.po, v.prefix, v.source) == (
            w.raw, w.key, w.error, w.name, w.po, w.prefix, w.source)


def test_the_canonical_check_reads_white_space_as_the_grammar_squeezes_it():
    """storage's one-match check of a canonical value excludes ``\\s`` from a
    name; the grammar squeezes a name with ``str.split()``: the same
    characters, every code point."""
    white = re.compile(r"\s")
    listed = re.compile(f"[{storage._WHITE}]")  # what the check names
    name_char = re.compile(storage._NAME_CHAR)
    for n in range(0x110000):
        c = chr(n)
        assert (white.fullmatch(c) is not None) == (len(f"a{c}b".split()) == 2), hex(n)
        assert (listed.fullmatch(c) is not None) == (len(f"a{c}b".split()) == 2), hex(n)
        assert (name_char.fullmatch(c) is None) == (c.isspace() or c in '"[]' or ord(c) < 0x20
                                                    or 0x7f <= ord(c) <= 0x9f), hex(n)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=' aAtT"[]\t\r\x1c\x85\xa0\u2003\u0301x,.-_\x00\x7f\xe9', max_size=14),
       st.sampled_from(["ccmail:", "CCMAIL$", "CcMaIl:"]))
def test_a_value_is_tagged_canonical_exactly_when_the_grammar_says_so(address, typed):
    """The reader's tag ``v`` promises a valid value written exactly
    ``TYPE:name at PO``: it is given exactly when the grammar's parse finds
    that, whether the one-match check or the full parse decided it."""
    raw = typed + address
    v = parse(raw, raw[:6], address, "proxy")
    canonical = v.error is None and len(v._raw) == 1
    assert (tagged(raw, "proxy")[0] == "v") is canonical
    assert (tagged(raw, "target")[0] == "w") is canonical
    if _CANONICAL_VALID(raw, 7) is not None:  # sufficient: never says canonical wrongly
        assert canonical


@pytest.mark.parametrize("raw", ["CCMAIL:Smith, John at EXCH", "ccmail:Hern\xe1ndez, Ana at PO-2",
                                 "ccmail:O'Neil, J. Jr. at x_1", "ccmail:at at at"])
def test_the_common_values_need_no_second_parse(raw):
    assert _CANONICAL_VALID(raw, 7) is not None


def test_a_value_holding_nul_keeps_the_parsed_list():
    proxies = ["CCMAIL:Nul\x00Name at EXCH", "ccmail:Smith, John at PO1"]
    table = read_table([_entry(proxies)], Dialect.AD)
    assert isinstance(record_vals(table.records[0]), list)  # the parsed values, kept
    r = table[0]
    assert r.values == tuple(_plain(proxies, [])) and r.values[0] is table[0].values[0]
    assert r.values[0].error == "name holds a control character"


def test_no_values_and_assigned_values():
    r = to_recipient(_entry(["SMTP:a@b"]), Dialect.AD)
    assert not r.has_values and r.values == ()
    assert len(read_table([_entry(["SMTP:a@b"])], Dialect.AD)) == 0  # not kept: no value
    v = parse("ccmail:A at PO1", "ccmail", "A at PO1", "proxy")
    r = r.replace(values=[v])
    assert r.has_values and r.values == (v,) and _kept(r)[1].values[0] is v
    assert unpack_values("") == [] and pack_values([]) == ""


def _mailbox(dn: str, primary: str | None, nick: str | None, sam: str | None) -> Recipient:
    return Recipient(dn, Kind.MAILBOX, [], primary, [primary] if primary else [], nick, sam)


def test_stats_lines_match_each_identity_level(tmp_path: Path):
    """``--mailbox-stats`` matches DN, primary SMTP, nickname and
    sAMAccountName (one equal to the nickname is folded once), folded, at
    the first level that names anything; other recipients only count."""
    (tmp_path / "s.csv").write_text(
        "identity,item_count\ncn=a,1\nB@CORP.example,2\n cc ,3\nDSAM,4\nee,5\nnobody,6\n",
        encoding="utf-8")
    read = [_mailbox("CN=A", "a@corp.example", "aa", "aa"),
            Recipient("CN=group", Kind.GROUP, [], "b@corp.example"),
            _mailbox("CN=B", "b@corp.example", "bb", None),
            _mailbox("CN=C", None, "CC", "CC"),
            _mailbox("CN=D", "d@corp.example", "dd", "dsam"),
            _mailbox("CN=E", "e@corp.example", "ee", "ee"),
            _mailbox("CN=F", "f@corp.example", None, "ee")]  # 'ee': nickname level wins
    stats = StatsMatcher(tmp_path / "s.csv")
    table = RecipientTable()
    for n, r in enumerate(read):
        table.append(r)
        stats.observe(table, n)
    assert stats.apply(table) == 5
    got = list(table)
    assert [r.item_count for r in got] == [1, None, 2, 3, 4, 5, None]
    assert [r.replace(item_count=None) for r in got] == read  # only the count changed


def test_stats_blank_and_repeated_identities(tmp_path: Path, caplog):
    """A line with an empty identity names no mailbox (it is logged and
    ignored), whatever the mailboxes hold; two lines whose identities fold
    alike name the same mailbox, so the second is an error at its line."""
    (tmp_path / "s.csv").write_text("identity,item_count\n,7\nAA,1\n", encoding="utf-8")
    read = [_mailbox("CN=A", "a@corp.example", "aa", "aa")]
    stats = StatsMatcher(tmp_path / "s.csv")
    table = RecipientTable()
    for n, r in enumerate(read):
        table.append(r)
        stats.observe(table, n)
    with caplog.at_level(logging.INFO, logger="toolkit.stats"):
        assert stats.apply(table) == 1
    assert [r.item_count for r in table] == [1]
    assert any(":2: identity '' matches no mailbox" in m for m in caplog.messages)
    (tmp_path / "t.csv").write_text("identity,item_count\naa,1\n AA ,2\n", encoding="utf-8")
    stats, table = StatsMatcher(tmp_path / "t.csv"), RecipientTable()
    table.append(read[0])
    stats.observe(table, 0)
    with pytest.raises(InputError) as err:
        stats.apply(table)
    assert err.value.where == f"{tmp_path / 't.csv'}:3" and "second line for mailbox CN=A" in str(
        err.value)


# --------------------------------------------------------------------------- DirEntry


def _src() -> DirFile:
    return DirFile("/x/PO1.txt", "PO1", "/x/PO1.txt")


def _read(*fields) -> tuple[EntryTable, DirEntry]:
    """An entry as a reader adds it, and the plain entry the table gives back."""
    table = EntryTable()
    table.add(*fields)
    return table, table[0]


@pytest.mark.parametrize("messages", [None, 0, 1, 257, 10**18 - 1])
@pytest.mark.parametrize("locn", list("PpLlRrAa"))
def test_read_entry_is_kept_in_columns_and_equals_the_plain_entry(locn, messages):
    table, e = _read("Smith, John", locn, "EXCH x", "Sales, 2nd", messages, None, _src(), 41)
    plain = DirEntry("Smith, John", locn, "PO1", "EXCH x", "Sales, 2nd", messages, None,
                     "/x/PO1.txt:41", "/x/PO1.txt")
    assert plain.extra is NO_EXTRA and e.extra is NO_EXTRA  # the one shared read-only extra
    assert e == plain and table[0] is not e  # made when read: a new, equal value each time
    assert (e.locn, e.file_po, e.addr, e.comments, e.messages, e.where, e.path) == (
        locn, "PO1", "EXCH x", "Sales, 2nd", messages, "/x/PO1.txt:41", "/x/PO1.txt")
    assert e.po == table.po(0) == ("PO1" if locn in "Ll" else "EXCH")
    assert e.extra == {} and repr(e) == repr(plain)
    assert (table.names[0], table.locns[0], table.where(0)) == ("Smith, John", locn,
                                                                "/x/PO1.txt:41")


def test_entries_of_a_file_share_their_strings():
    src = _src()
    table = EntryTable()
    table.add("A", "R", "EXCH", "", 3, None, src, 1)
    table.add("B", "R", "EX" + "CH", "", None, None, src, 5)
    assert table[0].addr is table[1].addr and table.po(0) == table.po(1) == "EXCH"


@pytest.mark.parametrize("extra, line", [({"Phone": "1"}, 7), (None, 2**32), (None, 0)])
def test_unusual_entries_keep_their_fields(extra, line):
    table, e = _read("A", "L", "", "", 5, extra, _src(), line)
    assert (e.extra, e.where, e.messages, e.file_po) == (extra or {}, f"/x/PO1.txt:{line}", 5, "PO1")


def test_an_entry_made_by_hand_keeps_every_field_in_a_table():
    made = [DirEntry("A", "L", "PO1"), DirEntry("B", "r", "PO2", "EXCH", "c", 4, {"K": "v"},
                                                 "mem:3", None)]
    table = EntryTable(made)
    assert list(table) == made and table == made and table.where(0) is None
    assert [table.po(j) for j in range(2)] == ["PO1", "EXCH"]
    assert EntryTable.of(table) is table and repr(table) == "<EntryTable: 2 entries>"


def test_user_entries_are_each_user_entrys_position_name_and_po():
    """The index pass's walk over the user entries (L l R r) gives each one's
    position, location code, name and :meth:`EntryTable.po` (an R entry with a
    blank Addr routes to its file's PO), and skips the other entries."""
    src = _src()
    table = EntryTable()
    for n, (locn, addr) in enumerate([("L", ""), ("P", "EXCH"), ("R", "EXCH x"), ("r", "  "),
                                      ("l", "PO9"), ("A", ""), ("R", "EXCH x"), ("G", "")]):
        table.add(f"N {n}", locn, addr, "", None, None, src, n)
    table.append(DirEntry("Hand", "r", "PO2", "HUB y"))
    want = [(j, table.locns[j], table.names[j], table.po(j)) for j in range(len(table))
            if table.locns[j] in "LlRr"]
    assert list(table.user_entries()) == want
    assert [w[3] for w in want] == ["PO1", "EXCH", "PO1", "PO1", "EXCH", "HUB"]


def test_replace_changes_one_field():
    _, read = _read("Smith, John", "R", "PO2", "c", 12, None, _src(), 9)
    with pytest.raises(FrozenInstanceError):
        read.addr = "PO3"  # type: ignore[misc]  # immutable: replace() makes a changed copy
    e = read.replace(addr="PO3")
    assert read.addr == "PO2"
    assert (e.locn, e.file_po, e.addr, e.comments, e.messages, e.where, e.path, e.po) == (
        "R", "PO1", "PO3", "c", 12, "/x/PO1.txt:9", "/x/PO1.txt", "PO3")
    e = e.replace(messages=None, where=None, locn="L")
    assert (e.messages, e.where, e.po) == (None, None, "PO1")
    with pytest.raises(TypeError):
        e.extra["x"] = "y"  # the shared empty extra stays read-only
    e = e.replace(extra={"x": "y"})
    assert e.extra == {"x": "y"}
    with pytest.raises(TypeError):
        e.replace(nope=1)


def test_a_read_file_gives_a_table_of_its_entries(tmp_path: Path):
    path = tmp_path / "PO1.txt"
    path.write_text("Post office: PO1\n\nName: Smith,  John\nLocn: L\nMessages: 4\n\n"
                    "Name: Doe, Jane\nLocn: r\nAddr: EXCH\nComments: moved\n", encoding="utf-8")
    f = read_directory_file(str(path))
    assert isinstance(f.entries, EntryTable)
    assert [(e.name, e.locn, e.addr, e.comments, e.messages, e.where) for e in f.entries] == [
        ("Smith, John", "L", "", "", 4, f"{path}:3"),
        ("Doe, Jane", "r", "EXCH", "moved", None, f"{path}:7")]


# --------------------------------------------------------------------------- analysis


def _recipient(dn: str, kind: Kind, *values: str) -> Recipient:
    return Recipient(dn, kind, [ccmail_value(v, ":", "proxy") for v in values])


@pytest.fixture
def analysis():
    recips = [
        _recipient("CN=Zed", Kind.MAILBOX, "CCMAIL:Zed at EXCH", "ccmail:Zed at PO1"),
        _recipient("CN=Abe", Kind.MAILBOX, "CCMAIL:Abe at EXCH", "ccmail:Abe at PO1"),
        _recipient("CN=Abe contact", Kind.CUSTOM_RECIPIENT, "CCMAIL:Abe at PO1"),
        Recipient("CN=nothing", Kind.MAILBOX, []),
    ]
    entries = [DirEntry("Zed", "L", "PO1"), DirEntry("Lee", "L", "PO1"),
               DirEntry("Abe", "r", "HUBPO", "EXCH"), DirEntry("Kim", "l", "PO2")]
    return analyse(recips, entries, ["EXCH"]), recips, entries


def test_facts_view_derives_what_facts_of_gives(analysis):
    a, recips, _ = analysis
    ctx = a.ctx
    assert len(ctx.facts) == 3  # objects with cc:Mail values only
    for i, r in enumerate(recips[:3]):
        f = ctx.facts[i]
        want = facts_of(r, ctx.x, ctx.dialect, i)
        if r.kind is Kind.MAILBOX:
            want = replace(want, stale_entries=stale_entries(want, ctx.users_by_name, ctx.x,
                                                             ctx.entries))
        assert f == want
        assert ctx.facts[i] == f  # derived again, equal: facts are plain frozen values
        with pytest.raises(FrozenInstanceError):
            f.stale_entries = ()  # type: ignore[misc]
    assert ctx.facts[0].stale_entries[0].name == "Zed"
    assert ctx.facts[-1].r == recips[2] and [f.r for f in ctx.facts] == recips[:3]
    assert [f.r for f in ctx.facts[1:]] == recips[1:3]
    assert ctx.orphans[1][0][0] == 2 and ctx.orphans[2][0][0] == 1  # Abe <-> contact


def test_rows_are_a_read_only_sequence_made_when_read(analysis):
    a, recips, _ = analysis
    rows = a.rows
    assert isinstance(rows, Rows) and len(rows) == 5
    keys = [r.key for r in rows]
    assert keys == ["ccmail:kim@po2", "ccmail:lee@po1", "dn:cn=abe", "dn:cn=abe contact",
                    "dn:cn=zed"]
    assert [rows[k].key for k in range(-5, 5)] == keys + keys
    assert [r.key for r in rows[1:4]] == keys[1:4]
    with pytest.raises(IndexError):
        rows[5]
    assert rows[2].recipient == recips[1] and rows[2] == rows[2]
    with pytest.raises(FrozenInstanceError):  # immutable: nothing set on a row is lost silently
        rows[2].route = "exchange"  # type: ignore[misc]
    assert list(rows.codes()) == [tuple(f.code for f in r.findings) for r in rows]
    assert rows == list(rows) and rows != list(rows)[:4]
    assert [r.status for r in rows] == ["not-migrated", "not-migrated", "orphan-custom-recipient",
                                        "orphan-custom-recipient", "stale-ccmail-mailbox"]
    assert exit_code(rows, "error") == 1 and exit_code(rows, "never") == 0
    assert exit_code(list(rows), "error") == 1
    assert [r.findings[0].message for r in rows][2].startswith("mailbox CN=Abe shares")


def test_row_codes_are_kept_for_rows_of_none_one_and_several_findings():
    """Rows._make keeps each row's codes with a short cut for none and one
    finding: codes() read before and after the rows equal the rows' own."""
    recips = [
        _recipient("CN=ok", Kind.MAILBOX, "CCMAIL:Ok at EXCH"),
        _recipient("CN=one", Kind.MAILBOX, "CCMAIL:One at EXCH", "ccmail:One at PO1"),
        _recipient("CN=many", Kind.MAILBOX, "CCMAIL:Many at PO1", "CCMAIL:Many at PO2"),
    ]
    entries = [DirEntry("Ok", "r", "HUBPO", "EXCH"), DirEntry("One", "L", "PO1")]
    first = list(analyse(recips, entries, ["EXCH"]).rows.codes())  # before any row is read
    rows = analyse(recips, entries, ["EXCH"]).rows
    plain = [tuple(f.code for f in r.findings) for r in rows]
    assert sorted(len(c) for c in plain)[:2] == [0, 1] and max(len(c) for c in plain) >= 2
    assert first == list(rows.codes()) == plain


def test_address_index_reads_like_an_index():
    plain, packed = Index(), AddressIndex()
    keys = [("a", "po1"), ("b", "po1"), ("a", "po2"), ("a", "po1"), ("c", "po3"), ("a", "po1")]
    for n, key in enumerate(keys):
        plain.add(key, n)
        packed.add(key, n)
    for key in [*keys, ("z", "po1"), ("a", "nope")]:
        assert packed[key] == plain[key]
        assert packed.get(key, "none") == plain.get(key, "none")
        assert (key in packed) == (key in plain)
    assert "a" not in packed and len(packed) == len(plain) == 4
    assert dict(packed.shared()) == {("a", "po1"): [0, 3, 5]}
    # at(): one PO's names read raw (one item bare, several a list), nothing for an unknown PO
    assert dict(packed.at("po1")) == {"a": [0, 3, 5], "b": 1}
    assert dict(packed.at("po2")) == {"a": 2} and dict(packed.at("nope")) == {}
    for name, po in [*keys, ("z", "po1")]:
        raw = packed.at(po).get(name)
        assert plain[(name, po)] == ([] if raw is None else raw if isinstance(raw, list) else [raw])


def test_rows_kept_by_a_runbook_stay_valid_after_the_inputs_change(analysis):
    """Issue 13: a runbook keeps ``list(rows)``, changes an item count, then
    reads the rows' messages - it gets the rows as they were, never an error."""
    a, recips, _ = analysis
    kept = list(a.rows)
    before = [r.as_dict() for r in kept]
    with pytest.raises(FrozenInstanceError):
        recips[0].item_count = 0  # type: ignore[misc]  # inputs are values too
    recips[0] = recips[0].replace(item_count=0)  # Zed: stale, 0 items
    assert [r.as_dict() for r in kept] == before
    assert [r.as_dict() for r in a.rows] == before  # the analysis keeps its own inputs
    assert all(f.message and f.action for r in kept for f in r.findings)


def test_each_row_is_made_once_to_write_it_and_to_find_the_exit_code(analysis, monkeypatch):
    """Issue 13, one pass: writing the rows makes each row (findings and
    messages) once, and --fail-on then reads the codes kept, not the rules."""
    import io

    from toolkit.render import write_rows
    from toolkit.rules import rows as rows_module

    a, _, _ = analysis
    made: list[int] = []
    real = rows_module.recipient_row
    monkeypatch.setattr(rows_module, "recipient_row",
                        lambda ctx, i: made.append(i) or real(ctx, i))
    write_rows(a.rows, "csv", io.StringIO(), None)
    assert sorted(made) == [0, 1, 2]
    assert exit_code(a.rows, "warning") == 1
    assert sorted(made) == [0, 1, 2]  # the codes were kept: no row made again


def test_a_table_is_indexed_as_a_list_and_add_columns_is_add():
    """``table[i]``'s short cut for positions in range, and a reader's
    column-at-a-time :meth:`EntryTable.add_columns`, give what the general
    indexing and :meth:`EntryTable.add` give: negative positions, slices,
    IndexError, entries appended by hand (their own ``where``) between."""
    src = _src()
    by_one, by_columns = EntryTable(), EntryTable()
    rows = [("A", "L", "", "x", 3, None, 4), ("B", "r", "EXCH", "", None, {"K": "v"}, 9),
            ("C", "R", "PO2 hub", "", 0, None, 12)]
    for name, locn, addr, comments, messages, extra, line in rows:
        by_one.add(name, locn, src.string(addr), src.string(comments), messages, extra, src, line)
    by_columns.add_columns(src, ["A", "B", "C"], ["L", "r", "R"],
                           [src.string(r[2]) for r in rows], [src.string(r[3]) for r in rows],
                           [3, -1, 0], [4, 9, 12], {1: {"K": "v"}})
    for table in (by_one, by_columns):
        table.append(DirEntry("D", "L", "PO9", where="mem:1"))
    assert list(by_one) == list(by_columns) and len(by_one) == 4
    listed = list(by_one)
    for table in (by_one, by_columns):
        assert [table[i] for i in range(-4, 4)] == [listed[i] for i in range(-4, 4)]
        assert table[1:3] == listed[1:3] and table[::-1] == listed[::-1]
        assert table[True] == listed[1] and table[3].where == "mem:1"
        assert [table.po(i) for i in range(4)] == ["PO1", "EXCH", "PO2", "PO9"]
        for bad in (4, -5, 10**20):
            with pytest.raises(IndexError):
                table[bad]
    assert (by_columns[1].extra, by_columns[1].messages, by_columns[0].where) == (
        {"K": "v"}, None, "/x/PO1.txt:4")


def test_fast_constructors_make_the_frozen_dataclass_itself():
    """model.twin: new_lazy_recipient/new_entry/new_finding/new_row (and the
    rules' facts) fill a mutable twin and make it the frozen class; the result must be
    indistinguishable from the dataclass's own constructor, and a class of
    another layout must be refused."""
    from toolkit.model import (
        Finding,
        Row,
        new_entry,
        new_finding,
        new_lazy_recipient,
        new_row,
        twin,
    )
    values = tuple(unpack_values(pack_values([tagged("CCMAIL:Doe, Jane at EXCH", "proxy")])))
    made = [
        # identity fields decoded when first read, as RecipientTable makes them
        (new_lazy_recipient("CN=a", Kind.MAILBOX, values, lambda ids: ids,
                            ("a@x", "a", "a", "a@x", None, "/o=x", ("a@x",)), 5,
                            ("CCMAIL:Doe, Jane at EXCH",), "user"),
         Recipient("CN=a", Kind.MAILBOX, values, "a@x", ("a@x",), "a", "a", "a@x", None, 5,
                   ("CCMAIL:Doe, Jane at EXCH",), "user", "/o=x")),
        (new_entry("Doe, Jane", "L", "PO1", "", "c", 3, NO_EXTRA, "f:1", "f"),
         DirEntry("Doe, Jane", "L", "PO1", "", "c", 3, NO_EXTRA, "f:1", "f")),
        (new_finding("a", "b", "c", "d"), Finding("a", "b", "c", "d")),
        (new_row("k", None, Kind.CCMAIL_USER, "n", "PO1", "r", (), None, ()),
         Row("k", None, Kind.CCMAIL_USER, "n", "PO1", "r", (), None, ())),
    ]
    for fast, plain in made:
        assert type(fast) is type(plain) and fast == plain and repr(fast) == repr(plain)
        with pytest.raises(FrozenInstanceError):
            fast.__setattr__(type(fast).__slots__[0], "changed")
        assert getattr(fast, type(fast).__slots__[0]) == getattr(plain, type(plain).__slots__[0])
    from toolkit.rules.facts import Facts
    r = made[0][1]
    f = facts_of(r, {"exch"}, Dialect.AD)
    assert type(f) is Facts and f == Facts(r, values, values[0], (), "Doe, Jane", (), values, -1)
    other = twin(Finding)()
    with pytest.raises(TypeError):
        other.__class__ = Row  # another layout: Python refuses the assignment
