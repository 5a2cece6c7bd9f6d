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
