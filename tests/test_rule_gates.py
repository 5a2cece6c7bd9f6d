"""The rules' gates (``@gate`` in ``toolkit/rules/table.py``) and the index
pass's shortcuts only skip work whose answer they know: on generated
organisations, a rule a gate excludes returns None, the findings are those of
calling every rule, and the facts and routes equal those derived without the
index pass's marks."""

from __future__ import annotations

from hypothesis import given

from tests.test_properties import SETTINGS, organisations
from toolkit.exchange.dialects import ccmail_value
from toolkit.model import Dialect, DirEntry, Kind, Recipient
from toolkit.rules import analyse, facts_of
from toolkit.rules.facts import INDEX_GATES, UPPERS
from toolkit.rules.rows import old_post_office, recipient_row, route_of
from toolkit.rules.table import _GATES, RULES, RULES_FOR, findings_of
from toolkit.text import fold_po


def _check(a) -> int:
    """Asserts the gates of every object of ``a``; the number of skipped calls."""
    ctx = a.ctx
    skipped = 0
    for i, r in enumerate(ctx.recipients):
        f = ctx.facts_at(i)
        assert f == facts_of(r, ctx.x, ctx.dialect, i, ctx.users_by_name, INDEX_GATES, ctx.entries)
        may = ctx.gates(f)
        # the index pass counts upper-case proxies its own way (two values: no loop)
        uppers = sum(1 for v in f.valid if v.prefix == "CCMAIL" and v.source == "proxy")
        assert bool(ctx.marks[i] & UPPERS) is (ctx.dialect is Dialect.AD and uppers > 1)
        every = []
        for rule in RULES_FOR[r.kind]:
            found = rule(ctx, f)
            if _GATES[rule] and not may & _GATES[rule]:
                assert found is None, (rule.__name__, r)
                skipped += 1
            if found is not None:
                every.append(found)
        assert findings_of(ctx, f) == tuple(every)
        row = recipient_row(ctx, i)  # route_of and old_post_office are written out there
        assert row.findings == tuple(every) and row.recipient == r
        assert (row.route, row.old_post_office) == (route_of(ctx, f), old_post_office(ctx, f))
        if f.ccmail_name is not None:
            name = (f.primary or f.old[0]).key[0]
            slow = any(fold_po(e.po) in ctx.x for e in ctx.user_entries(name))
            assert ctx.reaches_exchange(f) is slow
    return skipped


def test_every_rule_declares_a_gate():
    assert {rule for _, rule in RULES} == set(_GATES)
    assert all(_GATES.values())


@SETTINGS
@given(organisations())
def test_a_gate_skips_only_rules_that_find_nothing(org):
    found, dir_entries, x, dialect, powershell = org
    _check(analyse(found, dir_entries, x, dialect, powershell))


def _box(dn: str, kind: Kind, *raws: str) -> Recipient:
    return Recipient(dn, kind, [ccmail_value(raw, ":", "proxy") for raw in raws])


def test_gates_skip_calls_on_a_plain_organisation():
    """Migrated, stale, awaiting and shared objects: the gates skip most calls
    and the findings stay those of every rule."""
    recips = [
        _box("CN=Ann", Kind.MAILBOX, "CCMAIL:Ann at EXCH", "ccmail:Ann at PO1"),
        _box("CN=Bob", Kind.MAILBOX, "CCMAIL:Bob at EXCH", "ccmail:Bob at PO1"),
        _box("CN=Cy", Kind.MAILBOX, "CCMAIL:Cy at EXCH", "CCMAIL:Cy at EXCH2"),
        _box("CN=Cy2", Kind.CUSTOM_RECIPIENT, "CCMAIL:Cy at PO2"),
        _box("CN=Dee", Kind.GROUP, "CCMAIL:Ann at PO1"),
    ]
    entries = [DirEntry("Ann", "r", "HUB", "EXCH"), DirEntry("Bob", "L", "PO1"),
               DirEntry("Bob", "R", "HUB", "PO1", messages=3)]
    a = analyse(recips, entries, ["EXCH", "EXCH2"], Dialect.AD)
    assert _check(a) > 20
    codes = {r.dn: [fd.code for fd in r.findings] for r in a.rows}
    assert codes["CN=Ann"] == ["duplicate-address", "name-conflict"]  # with the group
    assert codes["CN=Bob"] == ["stale-ccmail-mailbox"]
    assert codes["CN=Cy"] == ["name-conflict", "multiple-primaries", "awaiting-dirsync"]
    assert [r.route for r in a.rows if r.dn] == ["exchange", "ccmail-mailbox", "undeliverable",
                                                 None, None]
