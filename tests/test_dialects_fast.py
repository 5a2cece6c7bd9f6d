"""The written-out classification gives exactly what the plain one gives.

:func:`toolkit.exchange.dialects.classify` runs once per directory object, so
it remembers what each objectClass list decides, reads single-valued fields
inline and tags canonical cc:Mail values with one back-tracking-free match.
Each shortcut is compared here with the plain computation it replaces, on
awkward objects: odd case and white space, blank and binary first values,
missing attributes, NUL and marker characters, non-ASCII text.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit import storage
from toolkit.ccmail.address import _PO_OK
from toolkit.exchange import dialects
from toolkit.exchange.dialects import (
    _undecodable_text,
    classify,
    classify_55,
    classify_ad,
    read_table,
)
from toolkit.model import Dialect, Kind, RawEntry
from toolkit.storage import (
    _CANONICAL_VALID,
    _NAME_CHAR,
    join_record,
    pack_ids,
    pack_record,
    pack_values,
    tagged,
)

# The canonical check as first written (back-tracking): what _CANONICAL_VALID must match.
_PLAIN_CANONICAL = re.compile(rf"{_NAME_CHAR}+(?: {_NAME_CHAR}+)* at {_PO_OK.pattern}").fullmatch


def _plain_classify(entry: RawEntry, dialect: Dialect) -> tuple | None:
    """classify() as written before it was written out: RawEntry's own
    helpers, a set of lower-cased classes per object, one tag call a value."""
    classes = {c.lower() for c in entry.texts("objectclass")}
    if dialect is Dialect.AD:
        kind = classify_ad(classes, entry)
        sep, proxy_attr, ad = ":", "proxyaddresses", True
        targets = entry.get("targetaddress")
    else:
        kind = classify_55(classes, entry)
        sep, proxy_attr, ad = "$", "othermailbox", False
        targets = [*entry.get("targetaddress"), *entry.get("target-address")]
    if kind is None:
        return None
    values, smtp, primary = [], [], None
    for raw in entry.get(proxy_attr):
        if isinstance(raw, bytes):
            text = _undecodable_text(raw, sep)
            if text is not None:
                values.append("P" + text)
            continue
        cut = raw.find(sep)
        if cut == 4 and raw[:4].upper() == "SMTP":
            smtp.append(raw[5:])
            if ad and raw[:4] == "SMTP":
                primary = raw[5:]
        elif cut == 6 and raw[:6].upper() == "CCMAIL":
            values.append(tagged(raw, "proxy"))
    for raw in targets:
        if isinstance(raw, bytes):
            text = _undecodable_text(raw, ":")
            if text is not None:
                values.append("T" + text)
        elif raw.find(":") == 6 and raw[:6].upper() == "CCMAIL":
            values.append(tagged(raw, "target"))
    mail = entry.first("mail") or entry.first("rfc822mailbox")
    if not ad:
        primary = mail
        smtp = entry.texts("mail") + entry.texts("rfc822mailbox") + smtp
    if kind is Kind.CUSTOM_RECIPIENT:
        subtype = next((n for n in ("contact", "remote-address", "custom-recipient")
                        if n in classes), "mail-user")
    else:
        subtype = kind.value
    return (entry.dn, kind, pack_values(values), primary, smtp,
            entry.first("mailnickname") or entry.first("uid"), entry.first("samaccountname"),
            entry.first("userprincipalname"), mail, subtype, entry.first("legacyexchangedn"))


CLASSES = ["top", "user", "User", "USER", " user", "contact", "Contact", "group", "computer",
           "inetOrgPerson", "organizationalPerson", "remote-address", "Custom-Recipient",
           "groupOfNames", "person", b"user", b"contact", "\u0130netorgperson"]
PROXIES = ["SMTP:a@corp.example", "smtp:b@corp.example", "SmTp:c@x", "X400:c=US;a= ;",
           "SMTP:", "SMTP$d@x", "CCMAIL:Smith, John at EXCH", "ccmail:Smith,  John at PO1",
           "ccMail:x at y", "CCMAIL:Nul\x00Name at P", "ccmail:\u00e9l\u00e8ve at PO-2",
           " CCMAIL:x at P", "CCMAIL$x at P", "ccmail$A at B", "CCMAIL:at at at",
           "ccmail:A at P O", "CCMAIL:x\x03 at P", "x400:c=US", "\u017fmtp:e@x",
           b"CCMAIL:\xff at P", b"ccmail$ok at P", b"SMTP:\xff@x", b"X",
           # the spellings classify() tells by their first five characters, and near misses
           "CCMAIl:A at B", "ccmaiL$A at B", "CCMAI:x", "CCMAIX:A at B", "ccmai", "SMTP", "smtp$x@y",
           "SMTP$x@y", "X400$c=US", "x400:c=US", "X400", "cCMAIL:A at B", "CCMAIL", "CCMAIL:"]
FIELD = st.sampled_from([None, [], [" "], ["", "x"], ["\t", " y "], [b"\xff", "z"], ["\xe9 w"],
                         ["a\x00b"], ["\x01"], ["n", "m"], [b"only"]])
NAMES = ["mail", "rfc822mailbox", "mailnickname", "uid", "samaccountname", "userprincipalname",
         "legacyexchangedn", "homemdb", "msexchhomeservername"]
cc_text = st.text(alphabet=' aAtT"[],.\t\x00\x1c\xa0\u2003\xe9-_x', max_size=12)


@st.composite
def raw_entries(draw) -> RawEntry:
    attrs: dict = {}
    if draw(st.booleans()):
        attrs["objectclass"] = draw(st.lists(st.sampled_from(CLASSES), max_size=5))
    values = st.sampled_from(PROXIES) | cc_text.map(lambda t: "ccmail:" + t)
    for name in ("proxyaddresses", "othermailbox", "targetaddress", "target-address"):
        if draw(st.booleans()):
            attrs[name] = draw(st.lists(values, max_size=4))
    for name in NAMES:
        field = draw(FIELD)
        if field is not None:
            attrs[name] = field
    return RawEntry(draw(st.sampled_from(["CN=A,DC=x", "", "CN=\xe9\x05"])), attrs)


@settings(max_examples=1500, deadline=None)
@given(raw_entries(), st.sampled_from(list(Dialect)))
def test_classify_gives_what_the_plain_classification_gives(entry, dialect):
    want = _plain_classify(entry, dialect)
    assert classify(entry, dialect) == want
    assert classify(entry, dialect) == want  # again: the objectClass decision remembered


class _Reads(dict):
    """Attributes that remember every name looked up in them."""

    def __init__(self, attrs: dict, seen: set) -> None:
        super().__init__(attrs)
        self.seen = seen

    def get(self, name, default=None):
        self.seen.add(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self.seen.add(name)
        return super().__getitem__(name)

    def __contains__(self, name) -> bool:
        self.seen.add(name)
        return super().__contains__(name)


EXTRA = {"cn": ["CCMAIL:Smith, John at EXCH"], "displayname": ["SMTP:x@y"], "sn": [b"\xff"],
         "givenname": [" "], "objectguid": [bytes(16)], "textencodedoraddress": ["ccmail$A at B"],
         "objectClass": ["user"], "description": ["contact"]}


@settings(max_examples=500, deadline=None)
@given(raw_entries(), st.sampled_from(list(Dialect)),
       st.sets(st.sampled_from(sorted(EXTRA))))
def test_classify_reads_only_the_attributes_it_names(entry, dialect, extra):
    """What an LDAP read keeps of an entry for the audit (dialects.CLASSIFY_ATTRIBUTES,
    read_ldap_chunks' ``kept``): classify() and classify_part() look up nothing else, and
    an entry with other attributes too is classified alike."""
    from toolkit.exchange.dialects import CLASSIFY_ATTRIBUTES, classify_part

    assert entry.attrs.keys() <= CLASSIFY_ATTRIBUTES
    fuller = RawEntry(entry.dn, {**entry.attrs, **{n: EXTRA[n] for n in extra}})
    seen: set = set()
    spied = RawEntry(entry.dn, _Reads(fuller.attrs, seen))
    assert classify(spied, dialect) == classify(entry, dialect) == classify(fuller, dialect)
    assert classify_part([spied], dialect, True, lambda *a: a) == \
        classify_part([entry], dialect, True, lambda *a: a)
    assert seen <= CLASSIFY_ATTRIBUTES
    assert "objectclass" in seen


def test_objectclass_decisions_are_bounded_and_right_when_full(monkeypatch):
    """Hostile input (a new objectClass list per object) cannot grow the
    remembered decisions without limit; past the limit each is computed."""
    monkeypatch.setattr(dialects, "_DECIDED_AD", {})
    monkeypatch.setattr(dialects, "_DECIDED_MAX", 3)
    for n in range(6):
        entry = RawEntry(f"CN={n}", {"objectclass": ["user", f"x{n}"], "homemdb": ["db"],
                                     "proxyaddresses": ["CCMAIL:A at B"]})
        assert classify(entry, Dialect.AD) == _plain_classify(entry, Dialect.AD)
        assert classify(entry, Dialect.AD)[1] is Kind.MAILBOX
    assert len(dialects._DECIDED_AD) == 3


def test_a_dialect_decides_for_itself():
    """One objectClass list decides differently per dialect: each has its own memory."""
    entry = RawEntry("CN=x", {"objectclass": ["organizationalPerson", "user"],
                              "proxyaddresses": ["CCMAIL:A at B"], "othermailbox": ["CCMAIL$A at B"]})
    assert classify(entry, Dialect.AD) is None  # a user without a mailbox or target
    assert classify(entry, Dialect.EXCHANGE55)[1] is Kind.MAILBOX
    assert classify(entry, Dialect.AD) is None


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=' atAT"[]\t\x00\x7f\xa0\u2003,.-_x\xe9PO', max_size=16),
       st.sampled_from(["ccmail:", "CCMAIL$", ""]))
def test_the_canonical_check_matches_exactly_what_the_plain_pattern_matches(text, typed):
    raw = (typed or "ccmail:") + text
    assert (_CANONICAL_VALID(raw, 7) is None) == (_PLAIN_CANONICAL(raw, 7) is None)


@pytest.mark.parametrize("text", ["A at B", "at at at", "at at B at C", "A  at B", "A at B C",
                                  "A at ", " at B", "A at B-_9", "a at at at b at PO",
                                  "x\tat B", "A at B\n", "Smith, John at EXCH"])
def test_the_canonical_check_on_the_awkward_splits(text):
    raw = "CCMAIL:" + text
    assert (_CANONICAL_VALID(raw, 7) is None) == (_PLAIN_CANONICAL(raw, 7) is None)


@pytest.mark.parametrize("raws", [[], ["CCMAIL:A at B"], ["ccmail:A\x00B"],
                                  ["CCMAIL:A at B", "ccmail:B\x00 at C", "CCMAIL:C at D"],
                                  ["CCMAIL:A at B", "ccmail:x  y"], ["ccmail:\x00"]])
def test_pack_values_keeps_the_list_exactly_when_a_value_holds_nul(raws):
    tags = [tagged(raw, "proxy") for raw in raws]
    packed = pack_values(tags)
    if any("\x00" in t for t in tags):
        assert isinstance(packed, list) and len(packed) == len(tags)
    else:
        assert packed == "\x00".join(tags)


def test_read_table_keeps_what_classify_finds():
    entries = [RawEntry("CN=a", {"objectclass": ["user"], "homemdb": ["x"],
                                 "proxyaddresses": ["SMTP:a@x", "CCMAIL:A at B"]}),
               RawEntry("CN=b", {"objectclass": ["user"], "homemdb": ["x"]}),
               RawEntry("CN=c", {"objectclass": ["computer", "user"], "homemdb": ["x"]})]
    assert [r.dn for r in read_table(entries, Dialect.AD)] == ["CN=a"]
    assert [r.dn for r in read_table(entries, Dialect.AD, every_mailbox=True)] == ["CN=a", "CN=b"]


def _plain_pack_ids(primary, nick, sam, upn, mail, legacy, smtp) -> str | tuple:
    """pack_ids' format written field by field (the docstring's rules)."""
    smtp = list(smtp)
    plain = (primary, nick, sam, upn, mail, legacy, tuple(smtp))
    head = [primary, nick, sam, upn, mail, legacy]
    if any(f is not None and not isinstance(f, str) for f in head) or any(
            not isinstance(a, str) for a in smtp):
        return plain
    if any(c in f for f in [*head, *smtp] if f is not None for c in "\x00\x01\x02\x03\x04"):
        return plain
    at = primary.rfind("@") if primary is not None else -1
    domain = primary[at:] if at >= 0 and len(primary) - at > 3 else None
    long_nick = nick is not None and len(nick) >= 3

    def shared(text: str, after_nick: bool) -> str:
        if after_nick and domain is not None:
            text = text.replace(domain, "\x04")
        return text.replace(nick, "\x03") if long_nick else text

    out = ["\x01" if primary is None else shared(primary, False), "\x01" if nick is None else nick]
    for n, f in enumerate(head[2:], 2):
        if f is None:
            out.append("\x01")
        elif (n == 2 and f == nick) or (n == 4 and primary is not None and f == primary):
            out.append("\x02")
        else:
            out.append(shared(f, True))
    out += ["\x02" if primary is not None and a == primary else shared(a, True) for a in smtp]
    return "\x00".join(out)


ID_TEXT = st.text(alphabet="ab@.c\x00\x01\x02\x03\x04\x05xyz\xe9", max_size=8)
REAL = st.sampled_from(["jsmith", "John.Smith@corp.example", "jsmith@corp.example", "js", "@x",
                        "/o=Corp/ou=EXCH/cn=Recipients/cn=jsmith", "a@b.c", "a@bc"])
ID = ID_TEXT | REAL


@settings(max_examples=1500, deadline=None)
@given(st.none() | ID, st.none() | ID, st.none() | ID, st.none() | ID, st.none() | ID,
       st.none() | ID, st.lists(ID, max_size=4))
def test_pack_ids_gives_the_field_by_field_format(primary, nick, sam, upn, mail, legacy, smtp):
    given_smtp = list(smtp)
    assert pack_ids(primary, nick, sam, upn, mail, legacy, smtp) == _plain_pack_ids(
        primary, nick, sam, upn, mail, legacy, smtp)
    assert smtp == given_smtp  # the caller's list is not changed


@pytest.mark.parametrize("smtp", [["a@corp.example"], ["a@corp.example"] * 2,
                                  ["a@corp.example", "b@corp.example", "a@corp.example"],
                                  ("a@corp.example",), [], [7]])
def test_pack_ids_marks_each_smtp_address_equal_to_the_primary(smtp):
    assert pack_ids("a@corp.example", "aaa", "aaa", None, "a@corp.example", None, smtp) == (
        _plain_pack_ids("a@corp.example", "aaa", "aaa", None, "a@corp.example", None, smtp))


# pack_record's fast path is for the usual object; everything else must give the plain record.
RECORD_DN = st.sampled_from(["CN=A,DC=x", "", "CN=\xe9\x05", "CN=a\x01b", "cn=jsmith"]) | ID_TEXT
PACKED = st.sampled_from(["", "vCCMAIL:A at B", "vCCMAIL:A at B\x00pccmail:x", "v\x05", "p\x01\x03"])
ODD = st.sampled_from([7, b"x", 0, ""])  # not a string, or falsy


@settings(max_examples=2500, deadline=None)
@given(RECORD_DN, PACKED | st.just([]), st.none() | ID | ODD, st.none() | ID | ODD,
       st.none() | ID | ODD, st.none() | ID, st.none() | ID | ODD, st.none() | ID,
       st.lists(ID | ODD, max_size=4) | st.lists(ID, max_size=2).map(tuple))
def test_pack_record_is_the_plain_record(dn, packed, primary, nick, sam, upn, mail, legacy, smtp):
    given_smtp = list(smtp)
    assert pack_record(dn, packed, primary, nick, sam, upn, mail, legacy, smtp) == join_record(
        dn, pack_ids(primary, nick, sam, upn, mail, legacy, smtp), packed)
    assert list(smtp) == given_smtp  # the caller's list is not changed


@pytest.mark.parametrize("falsy", [0, b"", False, 0.0, ()])
@pytest.mark.parametrize("field", ["sam", "upn", "mail", "legacy"])
def test_pack_record_takes_the_plain_path_for_a_falsy_field_that_is_not_a_string(field, falsy):
    """A falsy non-string (0, b"" ...) in an optional field once joined as ""
    in the fast path's check and then failed its second join (hypothesis
    found sam=0 in CI): it must give whatever the plain path gives."""
    fields = {"sam": "jsmith", "upn": None, "mail": None, "legacy": None, field: falsy}
    args = ("CN=A,DC=x", "", "John.Smith@corp.example", "jsmith", fields["sam"], fields["upn"],
            fields["mail"], fields["legacy"], [])

    def outcome(make):
        try:
            return make()
        except TypeError as exc:  # the plain path may refuse it: then both must
            return ("TypeError", type(exc))

    assert outcome(lambda: pack_record(*args)) == outcome(
        lambda: join_record(args[0], pack_ids(*args[2:]), args[1]))


USUAL = st.sampled_from(["jsmith", "John.Smith@corp.example", "jsmith@corp.example", "a@b.c",
                         "/o=Corp/ou=EXCH/cn=Recipients/cn=jsmith", "smith", "x@jsmith.example"])


@settings(max_examples=1500, deadline=None)
@given(USUAL, USUAL, st.none() | USUAL, st.none() | USUAL, st.none() | USUAL, st.none() | USUAL,
       st.lists(USUAL, max_size=3))
def test_pack_record_is_the_plain_record_for_usual_fields(primary, nick, sam, upn, mail, legacy,
                                                          smtp):
    """Fields as a directory holds them (most take the fast path)."""
    assert pack_record("CN=x", "vCCMAIL:A at B", primary, nick, sam, upn, mail, legacy,
                       smtp) == join_record("CN=x", pack_ids(primary, nick, sam, upn, mail,
                                                             legacy, smtp), "vCCMAIL:A at B")


@pytest.mark.parametrize(("sam", "upn", "smtp"), [
    ("jsmith", "jsmith@corp.example", ["John.Smith@corp.example"]),
    (None, None, ["John.Smith@corp.example"]),
    ("other", "jsmith@corp.example", ["John.Smith@corp.example", "jsmith@corp.example"]),
    ("jsmith", None, []),
    ("jsmith", None, ["jsmith@corp.example"]),
])
def test_pack_record_writes_the_usual_object_in_one_pass(monkeypatch, sam, upn, smtp):
    """The usual objects do take the fast path (the plain one is not called)
    and give the plain record."""
    want = join_record("CN=Smith\\, John,DC=x", pack_ids(
        "John.Smith@corp.example", "jsmith", sam, upn, "John.Smith@corp.example",
        "/o=Corp/ou=EXCH/cn=Recipients/cn=jsmith", smtp), "vCCMAIL:Smith, John at EXCH")
    monkeypatch.setattr(storage, "pack_ids", None)  # the plain path would fail
    assert pack_record("CN=Smith\\, John,DC=x", "vCCMAIL:Smith, John at EXCH",
                       "John.Smith@corp.example", "jsmith", sam, upn, "John.Smith@corp.example",
                       "/o=Corp/ou=EXCH/cn=Recipients/cn=jsmith", smtp) == want
