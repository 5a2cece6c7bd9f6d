"""The index pass's recipients' half fed while the directory is read
(:class:`toolkit.rules.indexpass.IndexFeed`).

Fed part by part - in any cut, in the worker or here - it must give the
indexes, gates and rows the pass gives when it reads the finished table; a
feed that does not hold the table analysed (appended to since, another X,
another dialect) must not be used.
"""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.test_ldif_parallel import processes
from tests.test_properties import SETTINGS, organisations, structure
from toolkit.ccmail.directory import Directory
from toolkit.exchange import ldif
from toolkit.exchange.dialects import READ_ATTRIBUTES, read_table
from toolkit.exchange.ldif_chunks import LdifChunks
from toolkit.model import Dialect, Kind, Recipient
from toolkit.parallel import jobs
from toolkit.rules import IndexFeed, analyse
from toolkit.storage.recipients import RecipientTable

DEMO = Path(__file__).resolve().parents[1] / "mocks" / "demo"


def _indexes(analysis) -> tuple:
    ctx = analysis.ctx
    return (list(ctx.marks), {po: dict(names) for po, names in ctx.by_address._by_po.items()},
            dict(ctx.by_primary_name), dict(ctx.users_by_name), ctx.orphans)


def _fed(table: RecipientTable, x: list[str], dialect: Dialect, rnd: random.Random) -> IndexFeed:
    """A feed fed ``table``'s records in random cuts, as a reader would."""
    feed = IndexFeed(x, dialect)
    records, kinds = table.records, table.kinds
    start = 0
    while start < len(records):
        stop = start + rnd.randrange(1, 4)
        feed.add(feed.part(records[start:stop], kinds[start:stop]))
        start = stop
    feed.done(table)
    return feed


@SETTINGS
@given(organisations(), st.randoms())
def test_a_feed_gives_what_the_pass_gives_over_the_table(org, rnd):
    found, dir_entries, x, dialect, powershell = org
    plain = analyse(RecipientTable(found), dir_entries, x, dialect, powershell)
    table = RecipientTable(found)
    feed = _fed(table, x, dialect, rnd)
    fed = analyse(table, dir_entries, x, dialect, powershell, feed=feed)
    assert fed.ctx.marks is feed.marks  # the feed was used
    assert _indexes(fed) == _indexes(plain)
    assert structure(fed.rows) == structure(plain.rows)
    assert list(fed.rows) == list(plain.rows)


def _box(n: int, name: str) -> Recipient:
    from toolkit.exchange.dialects import ccmail_value

    value = ccmail_value(f"CCMAIL:{name} at PO1", ":", "proxy")
    return Recipient(dn=f"CN=B{n},DC=x", kind=Kind.MAILBOX, values=[value], nickname=f"b{n}")


def test_a_feed_that_does_not_hold_the_table_is_not_used():
    """Appended to after the read, another table of the same length, or
    analysed for another X or dialect: the pass reads the table itself, and
    the rows are those of no feed."""
    found = [_box(n, name) for n, name in enumerate(["Ann", "Bob", "Ann"])]
    for change in ("append", "other", "x", "dialect"):
        table = RecipientTable(found)
        feed = _fed(table, ["EXCH"], Dialect.AD, random.Random(1))
        x, dialect = ["EXCH"], Dialect.AD
        if change == "append":
            table.append(_box(9, "Bob"))
        elif change == "other":
            table = RecipientTable([_box(n, "Cy") for n in range(3)])
        elif change == "x":
            x = ["PO1"]
        else:
            dialect = Dialect.EXCHANGE55
        fed = analyse(table, [], x, dialect, feed=feed)
        plain = analyse(RecipientTable(table), [], x, dialect)
        assert fed.ctx.marks is not feed.marks, change
        assert _indexes(fed) == _indexes(plain) and list(fed.rows) == list(plain.rows), change


def test_with_values_is_one_table_until_a_write():
    table = RecipientTable([_box(0, "Ann")])
    table.extend(["CN=none\x05\x05"], [Kind.MAILBOX], ["mailbox"])  # a mailbox without values
    kept = table.with_values()
    assert kept is table.with_values() and len(kept) == 1 and kept is not table
    table.set_item_count(0, 7)
    again = table.with_values()
    assert again is not kept and again.item_count(0) == 7 and kept.item_count(0) is None
    only = RecipientTable([_box(0, "Ann")])
    assert only.with_values() is only and only.with_values() is only


class _SpiedFeed(IndexFeed):
    """Says in a file which process made each part."""

    __slots__ = ("pids",)

    def part(self, records, kinds):  # type: ignore[no-untyped-def]
        with open(self.pids, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return super().part(records, kinds)


def test_the_worker_feeds_the_parts_it_reads(tmp_path, monkeypatch):
    """An LDIF read in chunks by two processes: the worker made some parts'
    feed, and the analysis is the one process's and the no-feed one's."""
    assert threading.active_count() == 1 and jobs() == 2
    monkeypatch.setattr(ldif, "_BLOCK", 2048)
    directory = Directory.from_args(sorted(str(p) for p in (DEMO / "ccmail").glob("*.txt")))
    out = {}
    for one in (True, False):
        with processes(monkeypatch, one):
            feed = _SpiedFeed(["EXCH"], Dialect.AD)
            feed.pids = str(tmp_path / f"pids-{one}")
            table = read_table(LdifChunks(DEMO / "org.ldif", READ_ATTRIBUTES), Dialect.AD,
                               True, feed=feed)
            fed = analyse(table, directory.entries(), ["EXCH"], Dialect.AD, feed=feed)
            assert fed.ctx.marks is feed.marks
            pids = {int(p) for p in Path(feed.pids).read_text().split()}
            assert (pids == {os.getpid()}) == one
            out[one] = (_indexes(fed), list(fed.rows))
            plain = analyse(RecipientTable(table), directory.entries(), ["EXCH"], Dialect.AD)
            assert out[one] == (_indexes(plain), list(plain.rows))
    assert out[True] == out[False] and len(out[True][1]) > 50


def _plain_part(feed: IndexFeed, records, kinds) -> list:
    """What IndexFeed.part must give, from the plain functions: each
    record's valid keys (toolkit.storage.valid_keys), distinct in value
    order, its primary (facts.primary_of) and its first gates."""
    from toolkit.rules.facts import NO_PRIMARY_AT_X, UNREACHED, UPPERS, primary_of
    from toolkit.storage import record_has_values, record_vals, valid_keys

    out = []
    for d, kind in zip(records, kinds, strict=True):
        if not record_has_values(d):
            out.append(None)
            continue
        valid = valid_keys(record_vals(d))
        keys = tuple(dict.fromkeys(v.key for v in valid))
        primary = primary_of(kind, valid, feed.x, feed.dialect)
        name = None if primary is None else primary.key[0]
        mark = UNREACHED if primary is not None and primary.key[1] in feed.x \
            else NO_PRIMARY_AT_X | UNREACHED
        uppers = sum(1 for v in valid if v.prefix == "CCMAIL" and v.source == "proxy")
        if feed.dialect is Dialect.AD and uppers > 1:
            mark |= UPPERS
        out.append((keys, name, mark))
    return out



def _as_read(found) -> RecipientTable:
    """``found`` as a reader adds them (:meth:`RecipientTable.add`): values
    tagged raw text in one string, so the part reads string records."""
    from toolkit.ccmail.address import NOT_UTF8
    from toolkit.storage import pack_values, tagged

    table = RecipientTable()
    for r in found:
        tags = [(("P" if v.source == "proxy" else "T") + v.raw) if v.error == NOT_UTF8
                else tagged(v.raw, v.source) for v in r.values]
        table.add(r.dn, r.kind, pack_values(tags) if tags else "", r.primary_smtp,
                  list(r.smtp), r.nickname, r.sam, r.upn, r.mail, r.subtype, r.legacy_dn)
    return table


@SETTINGS
@given(organisations())
def test_a_part_is_what_the_plain_functions_find_of_each_record(org):
    """IndexFeed.part reads a record's canonical values straight from its
    string (a general record - a value to parse, a tuple - the general
    way): each record's keys, primary name and gates are the plain ones."""
    found, _, x, dialect, _ = org
    for table in (_as_read(found), RecipientTable(found)):
        feed = IndexFeed(x, dialect)
        assert feed.part(table.records, table.kinds) == _plain_part(feed, table.records,
                                                                   table.kinds)


def test_a_part_reads_canonical_awkward_and_tuple_records_alike():
    """Canonical values, one to parse again, invalid ones, a custom
    recipient's target, lower-case proxies, a non-ASCII name, a record
    kept as a tuple (a field holding a marker character): in both dialects
    the part is the plain one."""
    from toolkit.exchange.dialects import ccmail_value

    def values(*raws: tuple[str, str]) -> list:
        return [ccmail_value(raw, raw[6], source) for raw, source in raws]

    found = [
        Recipient(dn="CN=A,DC=x", kind=Kind.MAILBOX, nickname="ann",
                  values=values(("CCMAIL:Ann at EXCH", "proxy"), ("CCMAIL:Ann at PO1", "proxy"))),
        Recipient(dn="CN=B,DC=x", kind=Kind.MAILBOX, nickname="bob",
                  values=values(("ccmail:Bob  Smith at PO1", "proxy"), ("CCMAIL:Bob at exch", "proxy"),
                                ("CCMAIL:bad", "proxy"))),
        Recipient(dn="CN=C,DC=x", kind=Kind.CUSTOM_RECIPIENT, nickname="cy",
                  values=values(("CCMAIL:Cy at PO2", "proxy"), ("CCMAIL:Cy at EXCH", "target"),
                                ("CCMAIL:Cy at PO3", "target"))),
        Recipient(dn="CN=D,DC=x", kind=Kind.CUSTOM_RECIPIENT, nickname="di",
                  values=values(("CCMAIL:Dï at PO2", "proxy"), ("CCMAIL:DÏ at PO2", "proxy"))),
        Recipient(dn="CN=E\x05,DC=x", kind=Kind.MAILBOX, nickname="e\x01",
                  values=values(("CCMAIL:Eve at EXCH", "proxy"), ("CCMAIL:Eve at EXCH", "proxy"))),
        Recipient(dn="CN=F,DC=x", kind=Kind.GROUP, nickname="f", values=[]),
        Recipient(dn="CN=G,DC=x", kind=Kind.MAILBOX, nickname="gus",
                  values=values(("CCMAIL:Gus at PO1", "proxy"), ("CCMAIL:Gus at EXCH", "proxy"),
                                ("CCMAIL:Gus at PO2", "proxy"), ("CCMAIL:Gus at EXCH", "target"))),
    ]
    table = _as_read(found)
    assert [d.__class__ for d in table.records] == [str, str, str, str, tuple, str, str]
    for dialect in Dialect:
        feed = IndexFeed(["EXCH"], dialect)
        got = feed.part(table.records, table.kinds)
        assert got == _plain_part(feed, table.records, table.kinds)
        assert got[5] is None and got[2][1] == "cy" and got[0][2] & 8 == (dialect is Dialect.AD) * 8
        assert got[6][0] == (("gus", "po1"), ("gus", "exch"), ("gus", "po2"))


def test_add_files_each_primary_name_as_index_add_does():
    """IndexFeed.add writes Index.add out: a name once (one position bare),
    twice (a list), three times (the list grows), None (not filed)."""
    from toolkit.multimap import Index

    feed = IndexFeed(["EXCH"], Dialect.AD)
    names = ["ann", "bob", "ann", None, "ann", "bob", "cy"]
    feed.add([(((n or "z", "po1"),), n, 32) for n in names])
    feed.add([None, ((("ann", "po2"),), "ann", 32)])
    plain = Index()
    for i, n in enumerate([*names, "ann"]):
        if n is not None:
            plain.add(n, i)
    assert dict(feed.by_primary_name) == dict(plain) == {"ann": [0, 2, 4, 7], "bob": [1, 5], "cy": 6}
    assert list(feed.marks) == [32] * 8 and feed.seen == 9
