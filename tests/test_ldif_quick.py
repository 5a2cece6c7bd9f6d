"""The LDIF reader's quick path (``_Reader.record``) against its exact line-by-line reader.

The quick path splits each line once at ``": "`` and hands anything it is not
sure of to the exact reader. These tests read awkward exports both ways - the
quick path on, and off (every record through :meth:`_Reader.lines`) - and
require the same entries (dn, names, value order, str/bytes, ``where``) or the
same first error, so a speed change cannot change what an export means.
"""

from __future__ import annotations

import base64
import codecs
import random
from pathlib import Path

import pytest

from toolkit.errors import InputError
from toolkit.exchange import ldif
from toolkit.exchange.dialects import CLASSIFY_ATTRIBUTES, READ_ATTRIBUTES

# Lines an export may hold; each is "name" + separator + value, mixed at random.
_NAMES = ["cn", "CN", "objectClass", "proxyAddresses", "targetAddress", "objectGUID", "objectSid",
          "description", "cn;lang-de", "1.2.840.113556.1.4.1", "x-attr", "bad name", "changetype",
          "dn", "#comment", "homeMDB", "legacyExchangeDN", "mail"]
_PLAIN = ["cn", "CN", "objectClass", "proxyAddresses", "targetAddress", "description", "mail"]
_TEXTS = ["Smith, John", "CCMAIL:Smith, John at EXCH", "a: b", "a:  b", "trail ", "tab\tin", "",
          "add", "x" * 90, "c=US;a= ;p=Corp;o=EXCH;s=A;g=B;", "\ta"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _odd_line(rnd: random.Random) -> str:
    """A valid line the quick path may get wrong (or must leave to the exact reader)."""
    name = rnd.choice(_NAMES[:11])  # valid names
    kind = rnd.randrange(7)
    if kind == 0:
        return f"{name}:{rnd.choice(_TEXTS)}"  # no space
    if kind == 1:
        return f"{name}:  {rnd.choice(_TEXTS)}"  # two spaces
    if kind == 2:
        data = rnd.choice([bytes(rnd.randrange(256) for _ in range(16)), "Zoë Nilsson".encode(),
                           b"caf\xe9", b"add", b" spaced "])
        return f"{name}:: {_b64(data)}" + rnd.choice(["", " ", "  "])
    if kind == 3:
        return rnd.choice(["changetype: add", "changetype:  ADD ", "changetype:add", "# a comment",
                           "#no: colon", f"{name}:", f"{name}::"])
    return f"{name}: {rnd.choice(_TEXTS)}"


def _bad_line(rnd: random.Random) -> str:
    """A line the export must be refused for, at the same line whichever path reads it."""
    return rnd.choice(["cn:< file:///x", "cn:: !!!", "proxyAddresses:: Q0N", "no colon here",
                       "bad name: x", "changetype: modify", "dn: CN=second", "objectGUID: text",
                       f"cn:: {_b64(b'ok')}x", "description:: Q0N", "x-attr:: !!"])  # not kept: checked


def _fold(line: str, rnd: random.Random) -> str:
    """Fold a line anywhere, even inside the separator (RFC 2849 allows any cut)."""
    if len(line) < 3 or rnd.random() < 0.7:
        return line
    cut = rnd.randrange(1, len(line))
    return line[:cut] + "\n " + line[cut:]


def _export(seed: int, records: int) -> str:
    rnd = random.Random(seed)
    out = ["version: 1", ""] if rnd.random() < 0.5 else []
    for _ in range(records):
        dn = rnd.choice(["dn: CN=Smith\\, John,DC=corp", "dn: cn=a\\2Cb,dc=x", "dn: CN=plain",
                         f"dn:: {_b64('CN=Zoë Nilsson,DC=corp'.encode())}", "dn:  CN=two spaces",
                         "DN: CN=upper", "dn: CN=trail ", "dn:CN=tight"])
        if rnd.random() < 0.01:
            dn = rnd.choice(["dn:: !!!", "dn:< file:///dn", "dn:: Y2Fm6Q=="])  # the last: not UTF-8
        # plain lines, and at most one odd one: a record with two would go the exact way anyway
        lines = [dn] + [f"{rnd.choice(_PLAIN)}: {rnd.choice(_TEXTS[:2])}"
                        for _ in range(rnd.randrange(0, 12))]
        if rnd.random() < 0.7:
            lines.insert(rnd.randrange(1, len(lines) + 1), _odd_line(rnd))
        elif rnd.random() < 0.05:  # one bad line in an otherwise plain record
            lines.insert(rnd.randrange(1, len(lines) + 1), _bad_line(rnd))
        out += [_fold(line, rnd) for line in lines]
        out += [""] * rnd.choice([1, 1, 1, 2])
    text = "\n".join(out)
    if rnd.random() < 0.3:
        text = text.replace("\n", "\r\n")
    return text


def _read(path: Path, attributes, quick: bool, monkeypatch) -> object:
    with monkeypatch.context() as m:
        if not quick:
            m.setattr(ldif._Reader, "record", lambda self, rec, first: False)
        try:
            return [(e.dn, e.attrs, e.where) for e in ldif.read_ldif(path, attributes)]
        except InputError as exc:
            return ("error", str(exc))


@pytest.mark.parametrize("seed", range(60))
def test_quick_and_exact_ldif_readers_agree(tmp_path, monkeypatch, seed):
    path = tmp_path / "org.ldif"
    path.write_text(_export(seed, 40), encoding="utf-8", newline="")
    for attributes in (None, READ_ATTRIBUTES, CLASSIFY_ATTRIBUTES):
        assert _read(path, attributes, True, monkeypatch) == _read(path, attributes, False, monkeypatch)


def test_the_quick_path_reads_a_plain_export_itself(tmp_path, monkeypatch):
    """The comparison above means something only if the quick path takes plain records."""
    path = tmp_path / "org.ldif"
    path.write_text("dn: CN=Smith\\, John,DC=corp\nobjectClass: user\nobjectGUID:: AAEC\n"
                    "proxyAddresses: CCMAIL:Smith, John at EXCH\nproxyAddresses: smtp:a@b\n"
                    "homeMDB: CN=Mailbox Store,CN=Fir\n st,DC=corp\ndescription:: Y2Fm6Q==\n\n"
                    "dn:: Q049WmXDqyxEQz1jb3Jw\ncn: x\n", encoding="utf-8")
    calls = []
    exact = ldif._Reader.lines
    monkeypatch.setattr(ldif._Reader, "lines", lambda self, *a: calls.append(1) or exact(self, *a))
    first, second = ldif.read_ldif(path)
    assert not calls
    assert first.attrs == {"objectclass": ["user"], "objectguid": [b"\x00\x01\x02"],
                           "proxyaddresses": ["CCMAIL:Smith, John at EXCH", "smtp:a@b"],
                           "homemdb": ["CN=Mailbox Store,CN=First,DC=corp"], "description": [b"caf\xe9"]}
    assert (first.dn, first.where, second.dn, second.where) == \
        ("CN=Smith\\, John,DC=corp", f"{path}:1", "CN=Zeë,DC=corp", f"{path}:10")


# Pieces of text an export may hold, blank-line runs and irregular ends included
# (no NUL, no CR, valid text: the UTF-16 reader below must read the same thing).
_PIECES = ["dn: CN=a,DC=x\n", "dn:: Q049Yg==\n", "objectClass: user\n", "objectClass: top\n",
           "proxyAddresses: CCMAIL:A at B\n", "cn: x\n", "cn:: /w==\n", "cn:\n", "cn:  two \n",
           "changetype: add\n", "changetype: modify\n", "version: 1\n", "\n", "\n", "\n\n\n",
           " cont\n", "# comment\n", "# a: b\n", "bad line\n", "mail: m\n", "objectGUID:: AAEC\n",
           "homeMDB: CN=DB\n", " ,CN=more\n", "dn: CN=b,DC=x\ncn: y\nmail: z\n"]


@pytest.mark.parametrize("seed", range(3))
def test_blocks_read_as_the_line_by_line_reader_reads_the_whole_file(tmp_path, monkeypatch, seed):
    """The UTF-8 reader cuts the file into blocks and each block at its empty lines
    (``_Reader.block``); a UTF-16 export goes through the line-by-line reader as one
    stream. Same text, same entries, line numbers and first error, whatever the
    block size and however many empty lines come where."""
    rnd = random.Random(seed)
    path = tmp_path / "x.ldif"
    for _ in range(300):
        text = "".join(rnd.choice(_PIECES) for _ in range(rnd.randrange(0, 25)))
        text = text[:-1] if text and rnd.random() < 0.3 else text  # no last line break
        monkeypatch.setattr(ldif, "_BLOCK", rnd.choice([1, 7, 64, 1 << 20]))
        keep = rnd.choice([None, READ_ATTRIBUTES, CLASSIFY_ATTRIBUTES])
        path.write_bytes(text.encode("utf-8"))
        blocks = _read(path, keep, True, monkeypatch)
        path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
        assert _read(path, keep, True, monkeypatch) == blocks, text


# ------------------------------------------------------------ shaped records

def _read_ways(path: Path, attributes, monkeypatch) -> list[object]:
    """The export read four ways: shaped + by line (as shipped), by line only,
    shaped only (what it cannot read goes the exact way), exact only."""
    results = [_read(path, attributes, True, monkeypatch)]
    with monkeypatch.context() as m:
        m.setattr(ldif._Reader, "_shaped", lambda self, text, first: None)
        results.append(_read(path, attributes, True, monkeypatch))
    with monkeypatch.context() as m:
        m.setattr(ldif._Reader, "_by_line", lambda self, text, first: False)
        results.append(_read(path, attributes, True, monkeypatch))
    results.append(_read(path, attributes, False, monkeypatch))
    return results


@pytest.mark.parametrize("seed", range(40))
def test_shaped_by_line_and_exact_readers_agree(tmp_path, monkeypatch, seed):
    """Records of a few shapes over and over (as an export is), each now and
    then with an odd or bad line: every way of reading gives the same."""
    rnd = random.Random(1000 + seed)
    path = tmp_path / "org.ldif"
    shapes = [[rnd.choice([*_PLAIN, "objectGUID", "description", "x-attr"])
               for _ in range(rnd.randrange(0, 8))] for _ in range(4)]
    out = []
    for _ in range(60):
        lines = [rnd.choice(["dn: CN=a,DC=x", f"dn:: {_b64('CN=Zoë,DC=x'.encode())}", "dn: CN=a\\2Cb"])]
        lines += ["changetype: add"] if rnd.random() < 0.5 else []
        for name in rnd.choice(shapes):
            if name in ("objectGUID", "x-attr") or rnd.random() < 0.2:
                value = rnd.choice([b"\x00\x01\xff", "Zoë".encode(), b"caf\xe9", b"plain"])
                lines.append(f"{name}:: {_b64(value)}")
            else:
                lines.append(f"{name}: {rnd.choice([*_TEXTS[:2], 'a: b', ''])}")
        if rnd.random() < 0.3:
            lines.insert(rnd.randrange(1, len(lines) + 1),
                         _bad_line(rnd) if rnd.random() < 0.1 else _odd_line(rnd))
        out += [_fold(line, rnd) for line in lines] + [""]
    path.write_text("\n".join(out), encoding="utf-8", newline="")
    # a full shape cache: the shapes it has no room for are read line by line
    monkeypatch.setattr(ldif, "_SHAPE_CACHE_MAX", 4096 if seed % 2 else 2)
    for attributes in (None, READ_ATTRIBUTES, CLASSIFY_ATTRIBUTES):
        first, *others = _read_ways(path, attributes, monkeypatch)
        assert all(other == first for other in others)


@pytest.mark.parametrize("text", [
    # a line without ": " and one with it twice: as many pieces as two plain lines
    "dn: CN=a\ncn: x\n\ndn: CN=b\ncn\nsn: a: b\n",
    "dn: CN=a\nobjectClass: top\n\nd: v: n: w\nobjectClass\nfoo\n",  # the first shape's names again
    "dn: CN=a\ncn: x\nsn: y\n\ndn: CN=b\ncn: x: sn\ny\n",
    "dn: CN=a\ncn: x\n\ndn: CN=b\ncn:x\nsn: y: z\n",
    "dn: CN=a\ncn: x\n\ndn: CN=b\ncn:< file:///x\nsn: y: z\n",
    "dn: CN=a\ncn: x\n\ndn: CN=b\n# c\ncn: x\n",
    "dn: CN=a\ncn: x\n\ndn: CN=b\ncn:  x\n",
    "dn: CN=a\ncn: x\n\ndn: CN=b\ncn: \n  x\n",  # ":  " only once unfolded
    "dn: CN=a\nchangetype: add\n\ndn: CN=b\nchangetype: ADD\n",
    "dn: CN=a\nchangetype: add\n\ndn: CN=b\nchangetype: delete\n",
    "dn: CN=a\ncn: x\n\ndn: CN=b\ncn: x\ndn: CN=c\n",
    "dn: CN=a\ncn: x\nsn: y\ncn: z\n\ndn: CN=b\ncn: 1\nsn: 2\ncn: 3\n",  # a name's lines apart
    "dn: CN=a\nCN: x\ncn: y\ncn;lang-de: z\n",
    "dn:: Q049YQ==\nobjectGUID:: AAEC\nobjectGUID: text\n",
    "dn:: Y2Fm6Q==\ncn: x\n",  # dn not UTF-8
    "dn: CN=a\nobjectGUID:: AAE\n",
    "dn: CN=a\nx-attr:: !!\n",
    "dn: CN=a\nmember:: AAEC\nmember: CN=b\n",
    "dn: CN=a\n",
    "version: 1\ndn: CN=a\ncn: x\n",
])
def test_shaped_records_that_are_not_what_they_seem(tmp_path, monkeypatch, text):
    """Records made to fool the shape check: the same entries or first error
    every way."""
    path = tmp_path / "odd.ldif"
    path.write_text(text, encoding="utf-8")
    for attributes in (None, READ_ATTRIBUTES, CLASSIFY_ATTRIBUTES):
        first, *others = _read_ways(path, attributes, monkeypatch)
        assert all(other == first for other in others), text


def test_the_shaped_path_reads_a_plain_export_itself(tmp_path, monkeypatch):
    """Plain ldifde records (changetype, folds, base64 text and binary) are read
    by the shaped path alone, one plan per shape."""
    path = tmp_path / "org.ldif"
    record = ("dn: CN=Smith\\, John,DC=corp\nchangetype: add\nobjectClass: top\nobjectClass: user\n"
              "cn:: Wm/DqQ==\nproxyAddresses: SMTP:a@b\nproxyAddresses:: Q0NNQUlMOkEgYXQgQg==\n"
              "homeMDB: CN=Mailbox Store,CN=Fir\n st,DC=corp\nmember: CN=x\nobjectGUID:: AAEC\n\n")
    path.write_text(record * 3, encoding="utf-8")
    calls = []
    by_line = ldif._Reader._by_line
    monkeypatch.setattr(ldif._Reader, "_by_line", lambda self, *a: calls.append(1) or by_line(self, *a))
    readers = []
    init = ldif._Reader.__init__
    monkeypatch.setattr(ldif._Reader, "__init__", lambda self, *a: readers.append(self) or init(self, *a))
    entries = list(ldif.read_ldif(path, READ_ATTRIBUTES))
    assert not calls
    assert len(readers[0].shapes) == 1
    assert [e.where for e in entries] == [f"{path}:1", f"{path}:13", f"{path}:25"]
    assert entries[0].attrs == {"objectclass": ["top", "user"], "cn": ["Zoé"],
                                "proxyaddresses": ["SMTP:a@b", "CCMAIL:A at B"],
                                "homemdb": ["CN=Mailbox Store,CN=First,DC=corp"],
                                "objectguid": [b"\x00\x01\x02"]}
    assert entries[0].dn == "CN=Smith\\, John,DC=corp"
