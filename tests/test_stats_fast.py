"""``--mailbox-stats`` matching skips folds that cannot match, soundly.

:meth:`toolkit.stats.StatsMatcher.observe` folds no DN holding ``=`` when no
line's identity holds ``=``, and no primary SMTP address holding ``@`` when
none holds ``@``, and folds ASCII text without calling
:func:`~toolkit.text.fold`. The Unicode facts those rest on are checked
over every code point, and the matcher is compared with one that folds
every identity, on awkward identities.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import InputError
from toolkit.exchange.dialects import read_table
from toolkit.model import Dialect, Kind, RawEntry, Recipient
from toolkit.stats import StatsMatcher
from toolkit.storage.recipients import RecipientTable
from toolkit.text import fold


def test_nfc_composes_at_sign_never_and_equals_sign_only_with_u0338():
    """NFC removes a character only by composing it with its neighbour into
    a primary composite whose canonical decomposition is the pair: no
    decomposition holds U+0040, only U+2260's holds U+003D (with U+0338)."""
    holding = {"0040": [], "003D": []}
    for n in range(0x110000):
        parts = unicodedata.decomposition(chr(n)).split()
        if parts and not parts[0].startswith("<"):  # canonical
            for code in holding:
                if code in parts:
                    holding[code].append((hex(n), parts))
    assert holding == {"0040": [], "003D": [("0x2260", ["003D", "0338"])]}
    assert "=" not in fold("cn=\u0338x") and "=" in fold("cn=\u0301x")


def test_folding_keeps_at_and_equals_next_to_any_character():
    for n in range(0x80, 0x110000, 7):
        c = chr(n)
        assert "@" in fold(f"{c}@{c}"), hex(n)
        if c != "\u0338":
            assert "=" in fold(f"{c}={c}"), hex(n)
    assert all("=" in fold(f"a={chr(n)}") for n in range(0x300, 0x370) if n != 0x338)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=" \t\n\x0b\x0c\r\x1c\x1fAaZz=@,.\xdf\xe9\u212a\u0338\u2003", max_size=12))
def test_the_written_out_fold_is_fold(text):
    """The expression StatsMatcher.observe (and the index pass) write inline."""
    written_out = " ".join(text.split()).casefold() if text.isascii() else fold(text)
    assert written_out == fold(text)


def _mailbox(dn: str, primary: str | None, nick: str | None, sam: str | None) -> Recipient:
    return Recipient(dn, Kind.MAILBOX, [], primary, [primary] if primary else [], nick, sam)


def _matched(path: Path, mailboxes: list[Recipient], fold_all: bool) -> object:
    """The item counts (or the error) of matching ``path``; ``fold_all``
    forces every identity to be folded (the plain path)."""
    stats = StatsMatcher(path)
    if fold_all:
        stats.dn_named = stats.smtp_named = True
    table = RecipientTable()
    for n, r in enumerate(mailboxes):
        table.append(r)
        stats.observe(table, n)
    try:
        stats.apply(table)
    except InputError as exc:
        return str(exc)
    return [table.item_count(i) for i in range(len(table))]


WORDS = ["CN=A", "cn=a", "CN=A ", "CN=\u00c9", "cn=\u00e9", "cn=e\u0301", "CN=x\u0338", "cn=x\u2260",
         "a@corp.example", "A@CORP.example", " a@corp.example", "\u212a@x", "k@x", "ss@x",
         "\xdf@x", "aa", "AA", "a a", "a  a", "a\ta", "bb", "Stra\xdfe", "strasse", "a=b", "x",
         "a@b=c", "\u2003CN=A"]
ident = st.sampled_from(WORDS)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(ident, st.none() | ident, st.none() | ident, st.none() | ident),
                max_size=5),
       st.lists(ident, min_size=1, max_size=4))
def test_skipping_folds_matches_what_folding_everything_matches(tmp_path_factory, boxes, lines):
    path = tmp_path_factory.mktemp("s") / "s.csv"
    path.write_text("identity,item_count\n" + "".join(
        f'"{line}",{n}\n' for n, line in enumerate(lines)), encoding="utf-8")
    mailboxes = [_mailbox(*box) for box in boxes]
    assert _matched(path, mailboxes, True) == _matched(path, mailboxes, False)


def test_a_file_of_one_column_needs_no_fold_of_the_others(tmp_path: Path, monkeypatch):
    """A file of nicknames names no DN and no address: those are not folded."""
    path = tmp_path / "s.csv"
    path.write_text("identity,item_count\njsmith,4\n", encoding="utf-8")
    stats = StatsMatcher(path)
    assert (stats.dn_named, stats.smtp_named) == (False, False)
    folded: list[str] = []
    monkeypatch.setattr("toolkit.stats.fold", lambda v: folded.append(v) or fold(v))
    table = RecipientTable()
    table.append(_mailbox("CN=Sm\xeftj,DC=x", "Sm\xeftj@x", "JSmith", "JSmith"))
    table.append(_mailbox("CN=x\u0338,DC=x", "n\xf6@x", "n\xf6", None))
    for n in range(2):
        stats.observe(table, n)
    assert folded == ["CN=x\u0338,DC=x", "n\xf6"]  # only what could name a line
    assert stats.apply(table) == 1 and table.item_count(0) == 4


def _read(path: Path, entries: list[RawEntry], handed: bool) -> tuple[object, list, RecipientTable]:
    """Read ``entries`` with a matcher of ``path``: ``handed`` gives it each
    mailbox's identities as classified (what the audit does), else it asks
    the table (:meth:`StatsMatcher.observe`, the plain path). The counts (or
    the error), what was handed over, the table."""
    stats, seen = StatsMatcher(path), []

    def mailbox(n: int, *ids: str | None) -> None:
        seen.append((n, ids))
        stats.observe_mailbox(n, *ids)

    table = (read_table(entries, Dialect.AD, True, None, mailbox) if handed
             else read_table(entries, Dialect.AD, True, stats.observe))
    try:
        stats.apply(table)
    except InputError as exc:
        return str(exc), seen, table
    return [table.item_count(i) for i in range(len(table))], seen, table


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ident, st.none() | ident, st.none() | ident, st.none() | ident),
                max_size=5),
       st.lists(ident, min_size=1, max_size=4))
def test_identities_handed_over_match_what_the_table_gives(tmp_path_factory, boxes, lines):
    """read_table hands each mailbox's identities to the matcher as it
    classified them: they are what the table's record gives back, and the
    counts are those of the plain path. Contacts and groups are not handed
    over (and still take their positions)."""
    path = tmp_path_factory.mktemp("s") / "s.csv"
    path.write_text("identity,item_count\n" + "".join(
        f'"{line}",{n}\n' for n, line in enumerate(lines)), encoding="utf-8")
    entries = [RawEntry("CN=contact", {"objectclass": ["contact"], "mailnickname": ["aa"],
                                       "targetaddress": ["CCMAIL:A at P"]})]
    for dn, primary, nick, sam in boxes:
        attrs = {"objectclass": ["user"], "homemdb": ["db"]}
        for name, value in (("proxyaddresses", primary and "SMTP:" + primary),
                            ("mailnickname", nick), ("samaccountname", sam)):
            if value is not None:
                attrs[name] = [value]
        entries += [RawEntry(dn, attrs),
                    RawEntry("CN=g", {"objectclass": ["group"], "proxyaddresses": ["SMTP:b@x"],
                                      "targetaddress": ["CCMAIL:G at P"]})]
    plain, _, plain_table = _read(path, entries, False)
    counts, seen, table = _read(path, entries, True)
    assert counts == plain and list(table) == list(plain_table)
    assert seen == [(i, table.stats_identities(i)) for i in range(len(table))
                    if table.kinds[i] is Kind.MAILBOX]
    assert len(seen) == len(boxes)
