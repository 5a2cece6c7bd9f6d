"""The fast paths of ``ccmig proxies audit`` give what the plain ones give.

``parse_value`` (ProxyValue.parse), ``new_object``/``new_row`` (the twins),
``_plainly_well_formed`` (malformed-proxy's shortcut), ``remove_values``'
memo and early exits, ``active_rules`` (rules skipped under the settings),
``Context.build``'s remembered keys, and the audit's JSON and CSV writers are
each held here to the plain definition over random and hostile inputs.
"""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plainrender import plain_csv, plain_json
from toolkit.model import DirEntry, Finding
from toolkit.proxies import model as proxy_model
from toolkit.proxies import rules
from toolkit.proxies.model import (
    ProxyKind,
    ProxyObject,
    ProxyRow,
    ProxyValue,
    new_object,
    new_row,
    parse_value,
    same_key_of,
    value_type,
    written_primary,
)
from toolkit.proxies.rules import (
    RULES,
    Context,
    active_rules,
    evaluate,
    kept_values,
    malformed_reasons,
    remove_values,
    retired_targets,
)
from toolkit.proxies.settings import ProxySettings
from toolkit.render.jsonout import dumps
from toolkit.render.proxies import (
    AUDIT_COLUMNS,
    audit_csv_lines,
    audit_json,
    write_audit,
)
from toolkit.text import fold

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Pieces a hostile value is made of: white space of every kind, control
# characters, look-alike letters, '@' and ':' in odd places, combining marks.
PIECES = ["", " ", "\t", "\u00a0", "\u3000", "\x85", "\x00", "\x1f", "\x7f", "\x9f", ":", "@",
          "a", "A", "é", "A\u0308", "ı", "ſ", "\ud800", "x@y", "Smith, John at PO1", "c=US;"]
TYPES = ["SMTP", "smtp", "Smtp", "X400", "x400", "MS", "CCMAIL", "ccmail", "X500", "",
         " SMTP", "SMTP ", "ſmtp", "ccmaıl", "NOTES", "GWISE", "Ünï", "ÜNÏ", "1", "-"]
RETIRABLE = ["MS", "X400", "CCMAIL", "GWISE", "NOTES", "SMTP ", "ſMTP"]
texts = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


@st.composite
def value_texts(draw) -> str:
    kind = draw(st.sampled_from(TYPES))
    body = draw(texts)
    return f"{kind}:{body}" if draw(st.booleans()) else kind + body


def plain_parse(text: str, primary_by_case: bool) -> ProxyValue:
    """ProxyValue.parse as first written: the dataclass's own constructor."""
    kind = value_type(text)
    if kind is None:
        return ProxyValue(text, None, "")
    cut = text.find(":")
    primary = primary_by_case and written_primary(text[:cut])
    return ProxyValue(text, kind, text[cut + 1:], primary)


@SETTINGS
@given(value_texts(), st.booleans())
def test_parse_value_is_the_plain_parse(text, primary_by_case):
    fast = parse_value(text, primary_by_case)
    again = parse_value(text, primary_by_case)  # the remembered type as written
    plain = plain_parse(text, primary_by_case)
    assert type(fast) is ProxyValue
    assert fast == plain == again == ProxyValue.parse(text, primary_by_case)
    assert (fast.text, fast.type, fast.address, fast.primary, fast.undecodable) == (
        plain.text, plain.type, plain.address, plain.primary, plain.undecodable)
    assert hash(fast) == hash(plain)


def test_parse_value_table_of_written_types_is_bounded(monkeypatch):
    monkeypatch.setattr(proxy_model, "_WRITTEN", {})
    for n in range(proxy_model._WRITTEN_MAX + 50):
        v = parse_value(f"T{n}:a")
        assert v == plain_parse(f"T{n}:a", True)
    assert len(proxy_model._WRITTEN) == proxy_model._WRITTEN_MAX


def test_new_object_and_new_row_are_the_dataclasses():
    v = parse_value("SMTP:a@x")
    fields = ("dn:a", "CN=a", ProxyKind.CUSTOM_RECIPIENT, (v,), ("MS:x",), frozenset({"contact"}),
              7, ("p",), "f.ldif:3")
    fast, plain = new_object(*fields), ProxyObject(*fields)
    assert type(fast) is ProxyObject and fast == plain and hash(fast) == hash(plain)
    f = Finding("retired-address", "warning", "m", "a")
    row = ("dn:a", "CN=a", ProxyKind.USER, 3, ("MS:x",), (f,))
    assert type(new_row(*row)) is ProxyRow and new_row(*row) == ProxyRow(*row)
    with pytest.raises(AttributeError):  # still frozen
        fast.dn = "x"  # type: ignore[misc]


@st.composite
def proxy_values(draw) -> ProxyValue:
    shape = draw(st.sampled_from(["parsed", "parsed", "parsed", "typed", "bytes", "raw"]))
    if shape == "parsed":
        return parse_value(draw(value_texts()), draw(st.booleans()))
    if shape == "typed":  # Exchange 5.5 TYPE$address, the type may hold a ':'
        return ProxyValue.typed(draw(st.sampled_from([*TYPES, "A:B", "x:"])), draw(texts))
    if shape == "bytes":
        return ProxyValue.undecodable_bytes(draw(st.sampled_from([b"\xff", b"SMTP:\xfe@x"])))
    # made by hand, the address need not end the text
    return ProxyValue(draw(texts), draw(st.sampled_from(["SMTP", "X400", None])), draw(texts))


@SETTINGS
@given(proxy_values(), proxy_values())
def test_one_string_key_is_the_same_as_the_pair(a, b):
    """``same_key`` is one string (a tuple for a type with a ":"): two values
    have equal keys exactly when their types are equal and their addresses
    fold alike (spec: *the same*), as the (type, folded address) pair said.
    5.5 types with a ":" ("A:B", "x:") meet parsed values whose address holds
    one, so a key that only joined the parts would clash here."""
    pair = lambda v: None if v.type is None else (v.type, fold(v.address))  # noqa: E731
    assert (a.same_key is None) == (a.type is None)
    if a.same_key is not None:
        assert (a.same_key == b.same_key) == (pair(a) == pair(b))
        assert hash(a.same_key) == hash(same_key_of(a.type, a.address))


def test_one_string_key_does_not_join_a_type_holding_a_colon():
    typed, parsed = ProxyValue.typed("A:B", "c"), parse_value("A:B:c")
    assert (typed.type, parsed.type) == ("A:B", "A")
    assert typed.same_key != parsed.same_key
    assert parsed.same_key == "A:b:c" and typed.same_key == ("A:B", "c")


@SETTINGS
@given(proxy_values())
def test_the_well_formed_shortcut_never_hides_a_reason(v):
    """``_plainly_well_formed`` may only say True where the full tests find
    nothing; malformed_reasons gives what it gives without the shortcut."""
    full = _without_shortcut(v)
    if rules._plainly_well_formed(v):
        assert full == []
    assert malformed_reasons(v) == full


def _without_shortcut(v: ProxyValue) -> list[str]:
    saved = rules._plainly_well_formed
    rules._plainly_well_formed = lambda _v: False  # type: ignore[assignment]
    try:
        return malformed_reasons(v)
    finally:
        rules._plainly_well_formed = saved


def test_the_shortcut_takes_the_common_values():
    """It must also be a shortcut: ordinary values take it."""
    for text in ("SMTP:John.Smith@corp.example", "smtp:js@corp.example", "X400:c=US;a= ;p=Corp;",
                 "CCMAIL:Smith, John at PO1", "MS:CORP/PO1/JSMITH"):
        assert rules._plainly_well_formed(parse_value(text)), text


# ---------------------------------------------------------------- whole evaluation


ENTRY_NAMES = ["Smith, John", "smith,  john", "Doe, Jane", "Lee"]


@st.composite
def organisations(draw) -> tuple[list[ProxyObject], ProxySettings]:
    pool = [draw(proxy_values()) for _ in range(draw(st.integers(0, 8)))]
    pool += [parse_value(f"CCMAIL:{n} at PO1") for n in ENTRY_NAMES]
    objects = []
    for n in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(list(ProxyKind)))
        values = tuple(draw(st.lists(st.sampled_from(pool), max_size=7)))
        targets = tuple(draw(st.lists(st.sampled_from(["MS:x", "X400:c=US;", "SMTP:a@x", "x"]),
                                      max_size=2)))
        dn = draw(st.sampled_from([f"CN=O{n}", "CN=Same", "cn=same"]))
        objects.append(ProxyObject(f"dn:{dn.lower()}", dn, kind, values, targets))
    retired = frozenset(draw(st.lists(st.sampled_from(RETIRABLE), max_size=3)))
    entries = None
    if draw(st.booleans()):
        entries = {n.lower(): (DirEntry(n, "L", "PO1"),) for n in ENTRY_NAMES[::2]}
    max_values = draw(st.sampled_from([None, 0, 2, 5]))
    return objects, ProxySettings(retired, entries, max_values)


def plain_remove(ctx: Context, obj: ProxyObject) -> tuple[str, ...]:
    """remove_values as first written (no memo, no early exit)."""
    if retired_targets(ctx, obj):
        return ()
    kept = {n for n, _, _ in kept_values(ctx, obj)}
    retired = ctx.settings.retired
    return tuple(v.text for n, v in enumerate(obj.values) if v.type in retired and n not in kept)


@SETTINGS
@given(organisations())
def test_fast_evaluation_is_the_plain_one(org):
    objects, proxy_settings = org
    rows = evaluate(objects, proxy_settings)
    assert rows == evaluate(objects, proxy_settings, RULES)  # every rule called
    assert set(active_rules(proxy_settings)) <= set(RULES)
    ctx = Context.build(objects, proxy_settings)
    # by key, then DN, then as read ("CN=Same" and "cn=same" fold alike)
    assert list(map(id, ctx.objects)) == list(map(id, sorted(objects,
                                                             key=lambda o: (o.key, o.dn))))
    for i, obj in enumerate(ctx.objects):
        keys = [v.same_key for v in obj.values]
        if i in ctx.sharing:
            assert ctx.sharing[i] == keys
        else:  # no key of it is on another object
            assert all(k is None or ctx.by_value[k] == [i] for k in keys)
        for k in keys:  # the objects whose values have the same key, ascending, once each
            if k is not None:
                assert ctx.by_value[k] == [j for j, o in enumerate(ctx.objects)
                                           if k in [v.same_key for v in o.values]]
        assert remove_values(ctx, obj) == plain_remove(ctx, obj)
        assert remove_values(ctx, obj) == plain_remove(ctx, obj)  # the remembered answer
    with_findings = [o for i, o in enumerate(ctx.objects)
                     if any(rule(ctx, i) is not None for rule in RULES)]
    assert [r.remove for r in rows] == [plain_remove(ctx, o) for o in with_findings]


# ---------------------------------------------------------------- writers


ODD = ["", "plain", "Smith, John", ",", '"', "\r", "\n", "\r\n", "\t", "\x00", "\x85", "\u2028",
       "\\", "'", " ", "=x", "+x", "-x", "@x", "é", "\U0001f600", "\ud800", "[\"a\"]"]


def awkward_rows(seed: int, n: int) -> list[ProxyRow]:
    """Rows whose cells take every awkward value, a few-valued field now and
    then something that is not a string (those rows take the general path)."""
    rnd = random.Random(seed)
    pick = lambda: rnd.choice(ODD) + rnd.choice(ODD)  # noqa: E731
    out = []
    for _ in range(n):
        findings = tuple(
            Finding(rnd.choice(["retired-address", "duplicate-proxy", pick()]),
                    rnd.choice(["error", "warning", pick()]), pick(),
                    rnd.choice(["Remove them.", pick(), "Remove them."]))
            for _ in range(rnd.choice([0, 1, 1, 2, 3])))
        remove = tuple(pick() for _ in range(rnd.choice([0, 1, 2])))
        values = rnd.choice([0, 3, 12, 3, 3, "7", None, True])
        key, dn = "dn:" + pick(), rnd.choice(["CN=" + pick(), "CN=" + pick(), None])
        out.append(ProxyRow(key, dn, rnd.choice(list(ProxyKind)), values, remove,  # type: ignore[arg-type]
                            findings))
    return out


def general_csv(rows: list[ProxyRow]) -> str:
    return plain_csv(rows, AUDIT_COLUMNS, audit_csv_lines)


general_json = plain_json


@pytest.mark.parametrize(("seed", "n"), [(1, 0), (2, 1), (3, 63), (4, 64), (5, 65), (6, 300)])
def test_audit_writers_give_the_general_writers_bytes(seed, n):
    rows = awkward_rows(seed, n)
    assert list(audit_json(rows)) == [dumps(r.as_dict()) for r in rows]
    out = io.StringIO()
    write_audit(rows, "json", out)
    assert out.getvalue() == general_json(rows)
    out = io.StringIO()
    write_audit(rows, "csv", out)
    assert out.getvalue() == general_csv(rows)


def test_audit_csv_writes_none_cells_empty_and_numbers_as_text():
    f = Finding(None, None, "m", None)  # type: ignore[arg-type]
    rows = [ProxyRow("dn:a", "CN=a", ProxyKind.MAILBOX, 1, (), (f,)),
            ProxyRow("dn:b", "CN=b", ProxyKind.GROUP, True, ("=1",), ())]  # type: ignore[arg-type]
    out = io.StringIO()
    write_audit(rows, "csv", out)
    assert out.getvalue() == general_csv(rows)
    assert out.getvalue().splitlines()[1] == "dn:a,CN=a,mailbox,1,[],,,,m,"


def test_user_entries_fold_their_names_only_when_asked():
    """``UserEntries`` makes its index of folded names on first use (only
    retired-in-use reads it) and then holds what an eager index holds."""
    from toolkit.proxies.settings import USER_LOCNS, index_user_entries
    from toolkit.text import fold

    rnd = random.Random(7)
    names = ["Smith, John", "smith,  JOHN", "Doe, Jane", "Ä\u0308x", "Lee", " Lee "]
    entries = [DirEntry(rnd.choice(names), rnd.choice("LlRrAaP"), rnd.choice(["PO1", "PO2"]))
               for _ in range(60)]
    index = index_user_entries(entries)
    assert index._index is None  # type: ignore[attr-defined]
    eager: dict[str, list[DirEntry]] = {}
    for e in entries:
        if e.locn in USER_LOCNS:
            eager.setdefault(fold(e.name), []).append(e)
    assert index._index is None  # type: ignore[attr-defined]
    assert {k: list(index[k]) for k in index} == eager
    assert len(index) == len(eager) and ("nobody" in index) is False
    assert index["nobody"] == ()


def test_object_classes_are_the_plain_set_and_the_memory_is_bounded(monkeypatch):
    from toolkit.proxies import read

    rnd = random.Random(3)
    pool = ["top", "Person", "organizationalPerson", "user", "USER", "Contact", "group",
            "computer", "inetOrgPerson", b"\xffuser", "İ", "K"]
    for _ in range(300):
        values = [rnd.choice(pool) for _ in range(rnd.randrange(0, 5))]
        plain = frozenset(c.lower() for c in values if isinstance(c, str))
        assert read.object_classes(values) == plain
        assert read.object_classes(list(values)) == plain  # remembered
    monkeypatch.setattr(read, "_CLASSES", {})
    for n in range(read._CLASSES_MAX + 10):
        assert read.object_classes([f"c{n}", "Top"]) == {f"c{n}", "top"}
    assert len(read._CLASSES) == read._CLASSES_MAX


@pytest.mark.parametrize("shape", ["SMTP:{c}a@x", "SMTP:a@x{c}", "X400:{c}", "{c}MS:a",
                                   "MS:a{c}b", "smtp:a{c}@x", "C{c}:a"])
def test_the_well_formed_shortcut_over_every_character(shape):
    """Each character of the first planes (and the surrogates, and the last
    code point) in each place of a value: the shortcut agrees with the full
    tests (white space by str.isspace, control characters by text.CONTROL)."""
    for code in [*range(0x3100), *range(0xD7F0, 0xE010), 0xFEFF, 0x10FFFF]:
        v = parse_value(shape.format(c=chr(code)))
        if rules._plainly_well_formed(v):
            assert _without_shortcut(v) == [], (shape, hex(code))
        assert malformed_reasons(v) == _without_shortcut(v)


def test_an_objects_parts_cross_a_pipe_and_make_the_same_object():
    """``read.object_parts`` runs where a chunk is decoded (a forked worker
    included) and ``read.from_parts`` where the objects are made: pickled in
    between, the parts make the object the entry stands for, in both
    dialects, with bytes that are not UTF-8, typed 5.5 values, targets and
    policy exclusions; an entry that is no object has no parts."""
    import pickle

    from toolkit.model import RawEntry
    from toolkit.proxies import read

    ad = [
        RawEntry("CN=Mbx,DC=x", {"objectclass": ["top", "User"], "homemdb": ["db"],
                                 "proxyaddresses": ["SMTP:a@x.example", "ms:ORG/SITE/A",
                                                    b"X400:\xff\xfe", "no type"],
                                 "msexchrecipienttypedetails": ["1"],
                                 "msexchpoliciesexcluded": ["{26491cfc-9e50-4857-861b-0cb8df22b5d7}"]},
                 "org.ldif:3"),
        RawEntry("CN=Con,DC=x", {"objectclass": ["contact"], "targetaddress": ["SMTP:t@y.example"],
                                 "proxyaddresses": ["CCMAIL:Con at PO1"]}),
        RawEntry("CN=Target only,DC=x", {"objectclass": ["contact"],
                                         "targetaddress": ["MS:ORG/SITE/T"]}),
        RawEntry("CN=Nothing,DC=x", {"objectclass": ["contact"], "targetaddress": ["  "]}),
        RawEntry("CN=Pc,DC=x", {"objectclass": ["computer", "user"], "proxyaddresses": ["SMTP:p@x"]}),
    ]
    fifty_five = [
        RawEntry("cn=Mbx,o=Org", {"objectclass": ["organizationalPerson"], "mail": ["m@x.example"],
                                  "othermailbox": ["CCMAIL$Mbx at PO1", "bare", b"\xff"],
                                  "textencodedoraddress": ["c=US;s=Mbx;"]}),
        RawEntry("cn=Rcpt,o=Org", {"objectclass": ["remote-address"],
                                   "target-address": ["SMTP:r@y.example"]}),
    ]
    made = 0
    for dialect, entries in (("ad", ad), ("exchange55", fifty_five)):
        for e in entries:
            parts = read.object_parts(e, dialect)
            obj = read.to_object(e, dialect)
            if parts is None:
                assert obj is None
                continue
            crossed = read.from_parts(pickle.loads(pickle.dumps(parts, pickle.HIGHEST_PROTOCOL)),
                                      dialect)
            assert crossed == obj and crossed.where == e.where
            assert crossed.classes is obj.classes  # one frozenset a class list
            made += 1
    assert made == 5
