"""Light rows (``toolkit.rules.rows.light_row``): a row whose gates prove no
rule but stale-ccmail-mailbox, unconfirmed-migration and awaiting-dirsync can
fire is made from its packed record, its recipient made only when read; it
must equal the row made from the object's facts, field for field (the
recipient included), on generated organisations."""

from __future__ import annotations

from hypothesis import given

from tests.test_properties import SETTINGS, organisations
from toolkit.ccmail.address import NOT_UTF8
from toolkit.exchange.dialects import ccmail_value
from toolkit.model import Dialect, DirEntry, Kind, Recipient, Row
from toolkit.rules import analyse
from toolkit.rules.rows import facts_row, light_row, recipient_row
from toolkit.storage import canonical_fields, pack_values, tagged, unpack_values
from toolkit.storage.recipients import RecipientTable


def as_read(recipients: list[Recipient]) -> RecipientTable:
    """``recipients`` in a table as a reader fills it: each object's values
    packed from their raw text (what makes a row quiet; a recipient appended
    by hand keeps its values as given and is never quiet)."""
    table = RecipientTable()
    for r in recipients:
        packed = pack_values([
            ("P" if v.source == "proxy" else "T") + v.raw if v.error == NOT_UTF8
            else tagged(v.raw, v.source) for v in r.values])
        table.add(r.dn, r.kind, packed, r.primary_smtp, list(r.smtp), r.nickname, r.sam,
                  r.upn, r.mail, r.subtype, r.legacy_dn)
        table.set_item_count(len(table) - 1, r.item_count)
        if r.exchange_values is not None:
            table.set_exchange_values(len(table) - 1, r.exchange_values)
    return table


def _compare(a) -> int:
    """Asserts every light row of ``a`` equals its facts' row; how many were light."""
    ctx = a.ctx
    quiet = 0
    for i in range(len(ctx.recipients)):
        slow = facts_row(ctx, i)
        row = light_row(ctx, i)
        if row is None:
            continue
        # light_row's own checks hold only with the index-pass gates that
        # recipient_row checks first; with them, the row is the facts' row
        if not ctx.marks[i] & _mask(ctx, i):
            quiet += 1
            assert row.findings == slow.findings
            assert row == slow  # the recipient made when compared
            assert recipient_row(ctx, i) == slow
    return quiet


def _canonical(table: RecipientTable) -> int:
    """Asserts canonical_fields of every string record of ``table`` against
    its decoded values; how many records had canonical values only."""
    canonical = 0
    for d in table.records:
        if d.__class__ is not str:
            continue
        vals = d.split("\x05")[2]
        got = canonical_fields(vals)
        tags = [item[0] for item in vals.split("\x00")] if vals else []
        if not tags or set(tags) - {"v", "w"}:
            assert got is None, vals
            continue
        canonical += 1
        want = [("v" if v.source == "proxy" else "w", v.prefix, v.name, v.po)
                for v in unpack_values(vals)]
        assert [(h[0], h[1:7], h[8:], po) for h, po in got] == want
    return canonical


def _mask(ctx, i) -> int:
    from toolkit.rules.rows import _LIGHT_MASKS

    return _LIGHT_MASKS[ctx.recipients.kinds[i]]


@SETTINGS
@given(organisations())
def test_a_light_row_is_its_facts_row(org):
    found, dir_entries, x, dialect, powershell = org
    table = as_read(found)
    _canonical(table)
    a = analyse(table, dir_entries, x, dialect, powershell)
    _compare(a)
    assert list(a.rows) == [*a.rows]  # twice: equal rows


def _box(dn: str, kind: Kind, *raws: str, source: str = "proxy") -> Recipient:
    return Recipient(dn, kind, [ccmail_value(raw, ":", source) for raw in raws])


def _plain(dialect: Dialect = Dialect.AD):
    recips = [
        _box("CN=Ann", Kind.MAILBOX, "CCMAIL:Ann at EXCH", "ccmail:Ann at PO1"),  # quiet
        _box("CN=Bob", Kind.MAILBOX, "CCMAIL:Bob at EXCH", "ccmail:Bob at PO1"),  # stale
        _box("CN=Gus", Kind.MAILBOX, "CCMAIL:Gus at EXCH"),  # awaiting-dirsync
        _box("CN=Cy,OU=x", Kind.CUSTOM_RECIPIENT, "CCMAIL:Cy at PO2"),  # quiet, PO2
        _box("CN=Dee", Kind.GROUP, "CCMAIL:Dee at PO3"),  # quiet
        _box("CN=Eve", Kind.MAILBOX, "CCMAIL:Eve at EXCH", "ccmail:Eva at PO1"),  # two names
        _box("CN=Fay", Kind.MAILBOX, "CCMAIL:Fay  at EXCH"),  # not canonical
    ]
    recips[1] = recips[1].replace(item_count=1)
    entries = [DirEntry("Ann", "r", "HUB", "EXCH"), DirEntry("Bob", "L", "PO1", messages=3),
               DirEntry("Eve", "r", "HUB", "EXCH"), DirEntry("Fay", "r", "HUB", "EXCH")]
    return analyse(as_read(recips), entries, ["EXCH"], dialect)


def test_which_rows_are_light():
    """Complete, stale and awaiting objects whose values are canonical are
    light (one whose old address carries another name too: its entries are
    looked up); one with a value not written canonically is made from its
    facts."""
    for dialect in (Dialect.AD, Dialect.EXCHANGE55):
        a = _plain(dialect)
        ctx = a.ctx
        dns = ctx.recipients
        quiet = {dns.dn(i) for i in range(len(dns))
                 if not ctx.marks[i] & _mask(ctx, i) and light_row(ctx, i) is not None}
        assert quiet == {"CN=Ann", "CN=Bob", "CN=Gus", "CN=Cy,OU=x", "CN=Dee", "CN=Eve"}
        codes = {dns.dn(i): [f.code for f in light_row(ctx, i).findings] for i in range(len(dns))
                 if dns.dn(i) in quiet}
        assert codes == {"CN=Ann": [], "CN=Bob": ["stale-ccmail-mailbox", "unconfirmed-migration"],
                         "CN=Gus": ["awaiting-dirsync"], "CN=Cy,OU=x": [], "CN=Dee": [],
                         "CN=Eve": []}, dialect
        assert _compare(a) == len(quiet)
        assert _canonical(ctx.recipients) == 6  # all but Fay's


def test_a_light_row_makes_its_recipient_when_read():
    a = _plain()
    ctx = a.ctx
    row = light_row(ctx, 0)
    assert row is not None and row.route == "exchange" and row.old_post_office == "PO1"
    assert row.ccmail_name == "Ann" and row.key == "dn:cn=ann" and row.findings == ()
    assert object.__getattribute__(row, "_recipient_of")[1] == 0
    assert row.recipient == ctx.recipients[0]
    assert row.recipient is row.recipient  # made once, then kept
    assert Row(row.key, row.dn, row.kind, row.ccmail_name, row.old_post_office, row.route,
               row.findings, ctx.recipients[0]) == row
    custom = light_row(ctx, 3)
    assert custom is not None and (custom.old_post_office, custom.route) == ("PO2", None)


def test_a_plain_row_without_a_recipient_still_reads_none():
    row = Row("k", None, Kind.CCMAIL_USER, None, None, None, ())
    assert row.recipient is None
