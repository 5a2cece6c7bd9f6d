"""Property-based tests (hypothesis): round trips and rule-engine invariants.

* cc:Mail addresses: ``format_address`` then ``parse`` gives the name and PO
  back, and parsing is idempotent on its own output;
* directory files: read -> write -> read is the identity; ``FileText`` gives
  back every byte of any file it can decode; removing a record and reverting
  the removal restores the file byte for byte;
* the rule engine (``toolkit.rules.evaluate``) on generated recipients and
  directory entries: status is the first finding's code, findings follow the
  table's order and are unique, rows are sorted by key, stale mailboxes route
  to their cc:Mail mailbox, ``ccmail-user`` rows are always ``not-migrated``,
  and the rows do not depend on the order objects or entries were read in.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from toolkit.ccmail.address import format_address, parse, split_address
from toolkit.ccmail.directory import read_directory_file
from toolkit.errors import InputError
from toolkit.exchange.dialects import ccmail_value
from toolkit.model import CcmailValue, Dialect, DirEntry, Kind, Recipient
from toolkit.remediation.ccmail_files import (
    FileText,
    apply_removal,
    plan_removal,
    revert_removal,
)
from toolkit.rules import CODES, SEVERITY, evaluate
from toolkit.text import fold, squeeze

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- addresses

# A valid cc:Mail name: no '"', '[', ']' and no control character (category Cc).
name_text = st.text(st.characters(exclude_categories=("Cc", "Cs"), exclude_characters='"[]'),
                    min_size=1, max_size=40)
po_text = st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)
prefixes = st.sampled_from(["CCMAIL", "ccmail", "CcMail", "cCmAiL"])


@SETTINGS
@given(name_text, po_text, prefixes)
@example("Cole, At", "PO1", "CCMAIL")
@example("Ends at", "at", "ccmail")
@example("AT AT", "AT", "CCMAIL")
@example("x\u00a0 at\u2003 y", "P", "CCMAIL")
def test_format_then_parse_gives_name_and_po_back(name, po, prefix):
    name = squeeze(name)
    assume(name)
    raw = f"{prefix}:{format_address(name, po)}"
    value = ccmail_value(raw, ":", "proxy")
    assert value is not None and value.valid, value
    assert (value.name, value.po, value.prefix) == (name, po, prefix)
    assert value.key == (fold(name), fold(po))
    assert value.address == format_address(name, po)


@SETTINGS
@given(st.text(max_size=60))
@example("Smith, John AT po1")
@example(" at ")
@example("a at b at c")
def test_parse_is_idempotent_on_its_own_output(address):
    first = parse("CCMAIL:" + address, "CCMAIL", address, "proxy")
    if first.valid:
        again = parse("x", "CCMAIL", format_address(first.name, first.po), "proxy")
        assert again.valid
        assert (again.name, again.po, again.key) == (first.name, first.po, first.key)
    elif split_address(address) is None:
        assert first.error == "no ' at ' between name and post office"
    else:
        assert first.key is None


# --------------------------------------------------------------------------- directory files

KNOWN_KEYS = {"name", "locn", "addr", "comments", "messages", "post office"}
value_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\n\r"),
                     max_size=30)
extra_keys = st.from_regex(r"[A-Za-z][A-Za-z0-9 -]{0,12}", fullmatch=True).map(str.strip).filter(
    lambda k: k and k.casefold() not in KNOWN_KEYS)


@st.composite
def records(draw):
    name = squeeze(draw(value_text))
    assume(name)
    extras = draw(st.dictionaries(extra_keys, value_text.map(str.strip), max_size=3))
    assume(len({k.casefold() for k in extras}) == len(extras))
    return {
        "name": name,
        "locn": draw(st.sampled_from("PpLlRrAa")),
        "addr": draw(st.one_of(st.none(), value_text.map(str.strip))),
        "comments": draw(st.one_of(st.none(), value_text.map(str.strip))),
        "messages": draw(st.one_of(st.none(), st.integers(0, 10**12))),
        "extra": extras,
    }


@st.composite
def directory_files(draw):
    """(records, PO, encoding, newline, key style, blank lines): one export file."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp850"]))
    recs = draw(st.lists(records(), max_size=6))
    if encoding == "cp850":
        def encodable(s):
            try:
                s.encode("cp850")
            except UnicodeEncodeError:
                return False
            return True
        for r in recs:
            texts = [r["name"], r["addr"] or "", r["comments"] or "", *r["extra"], *r["extra"].values()]
            assume(all(encodable(t) for t in texts))
    return (recs, draw(po_text), encoding, draw(st.sampled_from(["\n", "\r\n"])),
            draw(st.sampled_from([str.title, str.upper, str.lower])), draw(st.integers(1, 3)))


def write_directory(recs, po, newline, style=str.title, blanks=1) -> str:
    """The keyword-colon format of spec.md, records separated by blank lines."""
    gap = newline * (blanks + 1)
    out = [f"{style('post office')}: {po}"]
    for r in recs:
        lines = [f"{style('name')}: {r['name']}", f"{style('locn')}: {r['locn']}"]
        if r["addr"] is not None:
            lines.append(f"{style('addr')}: {r['addr']}")
        if r["comments"] is not None:
            lines.append(f"{style('comments')}: {r['comments']}")
        if r["messages"] is not None:
            lines.append(f"{style('messages')}: {r['messages']}")
        lines += [f"{k}: {v}" for k, v in r["extra"].items()]
        out.append(newline.join(lines))
    return gap.join(out) + newline


def normalised(recs) -> list[tuple]:
    """What a reader can know: missing Addr/Comments read as empty."""
    return [(r["name"], r["locn"], r["addr"] or "", r["comments"] or "", r["messages"],
             dict(r["extra"])) for r in recs]


def entries_of(f) -> list[tuple]:
    return [(e.name, e.locn, e.addr, e.comments, e.messages, dict(e.extra)) for e in f.entries]


def read_back(data: bytes, encoding: str):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "po.txt"
        path.write_bytes(data)
        return read_directory_file(path, encoding="cp850" if encoding == "cp850" else None)


@SETTINGS
@given(directory_files())
def test_directory_read_write_read_is_identity(spec):
    recs, po, encoding, newline, style, blanks = spec
    first = read_back(write_directory(recs, po, newline, style, blanks).encode(encoding),
                      encoding)
    assert first.po == po
    assert entries_of(first) == normalised(recs)
    assert all(e.file_po == po for e in first.entries)
    assert first.newline == newline or not recs
    rewritten = [{"name": e.name, "locn": e.locn, "addr": e.addr, "comments": e.comments,
                  "messages": e.messages, "extra": e.extra} for e in first.entries]
    second = read_back(write_directory(rewritten, first.po, first.newline).encode(encoding),
                       encoding)
    assert entries_of(second) == entries_of(first)


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from([b"", b"\xef\xbb\xbf"]))
def test_filetext_gives_back_every_byte(data, bom):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.txt"
        path.write_bytes(bom + data)
        try:
            ft = FileText.read(path)
        except InputError:
            assert bom and _invalid_utf8(data)
            return
        assert ft.encode() == bom + data


def _invalid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@settings(SETTINGS, max_examples=60)  # each removal and revert fsyncs the file
@given(directory_files(), st.data())
def test_remove_then_revert_restores_every_byte(spec, data):
    recs, po, encoding, newline, style, blanks = spec
    assume(recs)
    raw = write_directory(recs, po, newline, style, blanks).encode(encoding)
    enc = "cp850" if encoding == "cp850" else None
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "po.txt"
        path.write_bytes(raw)
        f = read_directory_file(path, enc)
        k = data.draw(st.integers(0, len(f.entries) - 1), label="record")
        removal = plan_removal(path, f.spans[k], enc)
        apply_removal(removal)
        after = read_directory_file(path, enc)
        assert entries_of(after) == entries_of(f)[:k] + entries_of(f)[k + 1:]
        assert after.po == f.po
        revert_removal(removal)
        assert path.read_bytes() == raw
        assert sorted(p.name for p in Path(d).iterdir()) == ["po.txt"]  # no temp file left


# --------------------------------------------------------------------------- rule engine

NAMES = ["Smith, John", "smith,  JOHN", "Doe, Jane", "Cole, At", "Ünal, Éric", "Lee"]
POS = ["EXCH", "exch", "EXCH2", "PO1", "po1", "PO2", "HUB"]
FILE_POS = ["EXCH", "PO1", "PO2", "HUB"]  # one spelling per PO: one file per PO


@st.composite
def ccmail_values(draw, kind: Kind):
    prefix = draw(st.sampled_from(["CCMAIL", "ccmail", "CcMail"]))
    shape = draw(st.integers(0, 9))
    if shape == 0:
        address = draw(st.sampled_from(["no separator", "Bad\"Name at PO1", "x at P O",
                                        " at PO1", "Ctl\x07 at PO1"]))
    else:
        address = format_address(draw(st.sampled_from(NAMES)), draw(st.sampled_from(POS)))
    source = "proxy"
    if kind is Kind.CUSTOM_RECIPIENT or draw(st.integers(0, 5)) == 0:
        source = draw(st.sampled_from(["proxy", "target"]))
    value = ccmail_value(f"{prefix}:{address}", ":", source)
    assert value is not None
    return value


@st.composite
def recipients(draw, index: int):
    kind = draw(st.sampled_from([Kind.MAILBOX, Kind.MAILBOX, Kind.CUSTOM_RECIPIENT, Kind.GROUP]))
    values: list[CcmailValue] = draw(st.lists(ccmail_values(kind), min_size=1, max_size=4))
    proxies = [v for v in values if v.source == "proxy"]
    targets = [v for v in values if v.source == "target"]
    r = Recipient(dn=f"CN=R{index},OU=Staff,DC=corp,DC=example", kind=kind,
                  values=proxies + targets,  # spec: targetAddress after the proxies
                  nickname=f"r{index}",
                  subtype={Kind.CUSTOM_RECIPIENT: "contact"}.get(kind, kind.value))
    if kind is Kind.MAILBOX:
        r = r.replace(item_count=draw(st.one_of(st.none(), st.integers(0, 50))))
        if draw(st.booleans()):
            r = r.replace(exchange_values=[v.raw for v in proxies][
                : draw(st.integers(0, len(proxies)))])
    return r


@st.composite
def entries(draw):
    po = draw(st.sampled_from(FILE_POS))
    locn = draw(st.sampled_from("PpLlRrAa"))
    addr = draw(st.sampled_from(["", "", "PO1", "EXCH", "EXCH2 SITE", "HUB", "po2 x"]))
    comments = "MSExchangeCCMC EXSRV01" if locn in "Pp" and draw(st.booleans()) else ""
    return DirEntry(draw(st.sampled_from(NAMES)), locn, po, addr, comments,
                    draw(st.one_of(st.none(), st.integers(0, 50))))


@st.composite
def organisations(draw):
    n = draw(st.integers(0, 8))
    found = [draw(recipients(i)) for i in range(n)]
    dir_entries = draw(st.lists(entries(), max_size=12))
    # cc:Mail names are unique within one post office's directory
    seen: set[tuple[str, str]] = set()
    unique = []
    for e in dir_entries:
        if (fold(e.name), fold(e.file_po)) not in seen:
            seen.add((fold(e.name), fold(e.file_po)))
            unique.append(e)
    x = draw(st.sampled_from([["EXCH"], ["exch", "EXCH2"], ["EXCH2"]]))
    dialect = draw(st.sampled_from([Dialect.AD, Dialect.EXCHANGE55]))
    return found, unique, x, dialect, draw(st.booleans())


def structure(rows) -> list[tuple]:
    return [(r.key, r.dn, r.kind, r.ccmail_name, r.old_post_office, r.route, r.status,
             [f.code for f in r.findings]) for r in rows]


@SETTINGS
@given(organisations())
def test_rule_engine_invariants(org):
    found, dir_entries, x, dialect, powershell = org
    rows = evaluate(found, dir_entries, x, dialect, powershell)
    keys = [r.key for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for r in rows:
        codes = [f.code for f in r.findings]
        assert r.status == (codes[0] if codes else "complete")
        order = [CODES.index(c) for c in codes]
        assert order == sorted(set(order)), codes  # table order, each code once
        assert all(f.severity == SEVERITY[f.code] for f in r.findings)
        if "stale-ccmail-mailbox" in codes:
            assert r.route == "ccmail-mailbox"
        if r.kind is Kind.CCMAIL_USER:
            assert codes == ["not-migrated"] and r.route == "ccmail-mailbox" and r.dn is None
        elif r.kind is Kind.MAILBOX:
            assert r.route in ("ccmail-mailbox", "exchange", "undeliverable")
            assert (r.route == "ccmail-mailbox") == ("stale-ccmail-mailbox" in codes)
        else:
            assert r.route is None
        if "not-migrated" in codes:
            assert r.kind is Kind.CCMAIL_USER
        if "unconfirmed-migration" in codes:
            assert "stale-ccmail-mailbox" in codes
        if "source-mismatch" in codes:
            assert powershell
    dns = {r.dn for r in found if r.values}
    assert {r.dn for r in rows if r.dn is not None} == dns  # every object with a value, once


def reorderings(found, dir_entries, rnd: random.Random):
    """The same organisation read in other orders: reversed, and shuffled."""
    yield found[::-1], dir_entries[::-1]
    shuffled_found, shuffled_entries = found[:], dir_entries[:]
    rnd.shuffle(shuffled_found)
    rnd.shuffle(shuffled_entries)
    yield shuffled_found, shuffled_entries


@SETTINGS
@given(organisations(), st.randoms(use_true_random=False))
def test_rows_do_not_depend_on_read_order(org, rnd: random.Random):
    found, dir_entries, x, dialect, powershell = org
    before = structure(evaluate(found, dir_entries, x, dialect, powershell))
    for other_found, other_entries in reorderings(found, dir_entries, rnd):
        assert structure(evaluate(other_found, other_entries, x, dialect, powershell)) == before


def _jane(po: str) -> DirEntry:
    return DirEntry("Doe, Jane", "L", po)


def _box(n: int, *raws: str) -> Recipient:
    return Recipient(f"CN=B{n},DC=x", Kind.MAILBOX, [ccmail_value(r, ":", "proxy") for r in raws])


ORDER_EXAMPLE = ([_box(1, "CCMAIL:Doe, Jane at EXCH"), _box(2, "CCMAIL:Doe, Jane at EXCH"),
                  _box(3, "CCMAIL:Doe, Jane at EXCH")],
                 [_jane("PO1"), _jane("PO2")], ["EXCH"], Dialect.AD, False)


@SETTINGS
@given(organisations(), st.randoms(use_true_random=False))
@example(ORDER_EXAMPLE, random.Random(0))
def test_messages_do_not_depend_on_read_order(org, rnd: random.Random):
    found, dir_entries, x, dialect, powershell = org
    before = [r.as_dict() for r in evaluate(found, dir_entries, x, dialect, powershell)]
    for other_found, other_entries in reorderings(found, dir_entries, rnd):
        after = [r.as_dict() for r in evaluate(other_found, other_entries, x, dialect, powershell)]
        assert after == before
