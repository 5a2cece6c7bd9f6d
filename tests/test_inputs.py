"""Readers: encodings, formats, and every bad input -> exit 2, one line, file:line."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from tests.orgkit import ccmig
from toolkit.ccmail.directory import read_directory_file
from toolkit.errors import InputError
from toolkit.exchange.ldif import read_ldif

GOOD_LDIF = """version: 1
# exported by ldifde
dn: CN=Smith\\, John,OU=Staff,DC=corp,DC=example
objectClass: user
homeMDB: CN=DB1
proxyAddresses: CCMAIL:Smith, John at EXCH
proxyAddresses: ccmail:Smith, John a
 t PO1
"""


def run_bad(tmp_path: Path, files: dict[str, bytes | str], *args: str) -> str:
    """Run an audit expected to fail with exit 2; return its single stderr line."""
    paths = {}
    for name, content in files.items():
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        paths[name] = p
    before = {p: p.read_bytes() for p in paths.values()}
    argv = [a.format(**{k.replace(".", "_"): str(v) for k, v in paths.items()}) for a in args]
    code, out, err = ccmig("audit", *argv)
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert {p: p.read_bytes() for p in paths.values()} == before  # nothing changed
    return lines[0]


def ldif_args(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return ("--ldif", "{org_ldif}", "--exchange-po", "EXCH", *extra)


# --------------------------------------------------------------------------- LDIF


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("dn: CN=a\nobjectClass user\n", 2, "expected 'attribute: value'"),
        ("dn: CN=a\nproxyAddresses:: ***notbase64\n", 2, "bad base64"),
        ("objectClass: user\n", 1, "must start with 'dn:'"),
        ("dn: CN=a\ndn: CN=b\n", 2, "second 'dn:'"),
        (b"dn: CN=a\ncn: \xff\xfe\n", 2, "not valid UTF-8"),
        (b"dn: CN=a\ncn: x\x00y\n", 2, "NUL byte"),
        ("dn: CN=a\nchangetype: modify\n", 2, "changetype"),
        ("  continued\n", 1, "continuation"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not valid UTF-8"),
        (b"dn: CN=a\n\x00\x00\x00\rIHDR", 2, "NUL byte"),
        ("dn: CN=a\nproxyAddresses:: Q0NNQUlMOlNtaXRoLCBKb2huIGF0IEVYQ0g\n", 2, "bad base64"),
    ],
)
def test_bad_ldif(tmp_path, content, line, what):
    message = run_bad(tmp_path, {"org.ldif": content}, *ldif_args())
    assert f"org.ldif:{line}:" in message
    assert what in message


def test_missing_ldif_file(tmp_path):
    code, _, err = ccmig("audit", "--ldif", str(tmp_path / "nope.ldif"), "--exchange-po", "EXCH")
    assert code == 2 and "nope.ldif" in err and "No such file" in err


def test_ldif_utf16_with_bom_equals_utf8(tmp_path):
    text = GOOD_LDIF + "displayName: Éric Ünal\n"
    (tmp_path / "u8.ldif").write_text(text, encoding="utf-8")
    (tmp_path / "u16.ldif").write_bytes(codecs.BOM_UTF16_LE + text.replace("\n", "\r\n")
                                        .encode("utf-16-le"))
    a, b = list(read_ldif(tmp_path / "u8.ldif")), list(read_ldif(tmp_path / "u16.ldif"))
    assert [(e.dn, e.attrs) for e in a] == [(e.dn, e.attrs) for e in b]
    assert a[0].attrs["proxyaddresses"][1] == "ccmail:Smith, John at PO1"  # unfolded
    assert a[0].attrs["displayname"] == ["Éric Ünal"]


def test_ldif_folding_base64_and_case_insensitive_names(tmp_path):
    (tmp_path / "a.ldif").write_text(
        "version: 1\n\n# c\n#  continued comment\nDN: CN=x\nOBJECTCLASS: Contact\n"
        "TargetAddress:: Q0NNQUlMOlLDqW5hLCBadcOpIGF0IFBPMQ==\nchangetype: add\n"
        "proxyAddresses: smtp:a@b\n proxyAddresses: continued\n", encoding="utf-8")
    [e] = list(read_ldif(tmp_path / "a.ldif"))
    assert e.dn == "CN=x"
    assert e.attrs["targetaddress"] == ["CCMAIL:Réna, Zué at PO1"]
    assert e.attrs["proxyaddresses"] == ["smtp:a@bproxyAddresses: continued"]


# --------------------------------------------------------------------------- cc:Mail files


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("Post office: PO1\n\nLocn: L\n", 3, "without 'Name'"),
        ("Post office: PO1\n\nName: A\n", 3, "without 'Locn'"),
        ("Post office: PO1\n\nName: A\nLocn: X\n", 4, "must be one of"),
        ("Post office: PO1\n\nName: A\nLocn: LL\n", 4, "must be one of"),
        ("Post office: PO1\n\nName: A\nName: B\nLocn: L\n", 4, "repeated 'Name'"),
        ("Post office: PO1\n\nName: A\nLocn: L\nlocn: l\n", 5, "repeated 'Locn'"),
        ("Post office: PO1\n\nName: A\nLocn: L\nthis line has no colon\n", 5, "Keyword: value"),
        ("Post office: PO1\n\nName:\nLocn: L\n", 3, "empty 'Name'"),
        ("Post office: PO1\n\nName: A\nLocn: L\nMessages: -3\n", 5, "non-negative integer"),
        ("Post office: PO1\n\nName: A\nLocn: L\nMessages: 12a\n", 5, "non-negative integer"),
        ("Name: A\nLocn: L\n", 1, "no post office"),
        ("Post office: PO1\nName: A\nLocn: L\n", 1, "record of its own"),
        (b"Post office: PO1\n\nName: A\x00\nLocn: L\n", 3, "NUL byte"),
    ],
)
def test_bad_ccmail_file(tmp_path, content, line, what):
    message = run_bad(tmp_path, {"org.ldif": GOOD_LDIF, "po1.txt": content},
                      *ldif_args(("--ccmail-dir", "{po1_txt}")))
    assert f"po1.txt:{line}:" in message, message
    assert what in message


def test_ccmail_po_rules(tmp_path):
    files = {"org.ldif": GOOD_LDIF, "po1.txt": "Post office: PO1\n",
             "po1b.txt": "Post office: po1\n", "exch.txt": "Post office: EXCH\n",
             "bare.txt": "Name: A\nLocn: L\n"}
    m = run_bad(tmp_path, files, *ldif_args(("--ccmail-dir", "PO2={po1_txt}")))
    assert "PO1" in m and "PO2" in m and "po1.txt:1" in m
    m = run_bad(tmp_path, files, *ldif_args(("--ccmail-dir", "{po1_txt}", "--ccmail-dir",
                                             "{po1b_txt}")))
    assert "two files for post office" in m
    m = run_bad(tmp_path, files, *ldif_args(("--ccmail-dir", "{exch_txt}")))
    assert "Exchange site" in m and "exch.txt" in m
    m = run_bad(tmp_path, files, *ldif_args(("--ccmail-dir", "{bare_txt}")))
    assert "no post office" in m


def test_unknown_encoding_option(tmp_path):
    m = run_bad(tmp_path, {"org.ldif": GOOD_LDIF, "po1.txt": "Post office: PO1\n"},
                *ldif_args(("--ccmail-dir", "{po1_txt}", "--ccmail-encoding", "klingon")))
    assert "--ccmail-encoding" in m


def test_encoding_that_cannot_decode(tmp_path):
    m = run_bad(tmp_path, {"org.ldif": GOOD_LDIF,
                           "po1.txt": "Post office: PO1\n\nName: Zoë\nLocn: L\n".encode("cp850")},
                *ldif_args(("--ccmail-dir", "{po1_txt}", "--ccmail-encoding", "ascii")))
    assert "po1.txt:3" in m and "ascii" in m


@pytest.mark.parametrize("argv", [
    ("--format", "yaml"), ("--fail-on", "sometimes"), ("--dialect", "notes"),
    ("--no-such-option",), ("--page-size", "0"),
])
def test_bad_options(tmp_path, argv):
    m = run_bad(tmp_path, {"org.ldif": GOOD_LDIF}, *ldif_args(argv))
    assert argv[0] in m or "No such option" in m


def test_no_source(tmp_path):
    m = run_bad(tmp_path, {}, "--exchange-po", "EXCH")
    assert "--ldif" in m


def test_directory_encodings_and_line_endings(tmp_path):
    text = "Post office: PO1\n\nName: Müller, Zoë\nLocn: L\nAddr:\nX-Extra: kept\n\n"
    (tmp_path / "cp850.txt").write_bytes(text.replace("\n", "\r\n").encode("cp850"))
    (tmp_path / "utf8.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "bom.txt").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    for name, enc, newline in (("cp850.txt", "cp850", "\r\n"), ("utf8.txt", "utf-8", "\n"),
                               ("bom.txt", "utf-8-sig", "\n")):
        f = read_directory_file(str(tmp_path / name))
        assert (f.po, f.encoding, f.newline) == ("PO1", enc, newline)
        [e] = f.entries
        assert (e.name, e.locn, e.addr, e.extra, e.po) == ("Müller, Zoë", "L", "",
                                                           {"X-Extra": "kept"}, "PO1")
    latin1 = read_directory_file(str(tmp_path / "cp850.txt"), encoding="latin-1")
    assert latin1.entries[0].name != "Müller, Zoë"  # the override is obeyed


def test_po_prefix_and_keys_case_insensitive(tmp_path):
    (tmp_path / "x.txt").write_text("NAME: A\nLOCN: R\nADDR: PO9 FANNAME\nmessages: 7\n")
    f = read_directory_file(f"PO2={tmp_path / 'x.txt'}")
    [e] = f.entries
    assert (f.po, e.po, e.messages, e.file_po) == ("PO2", "PO9", 7, "PO2")
    with pytest.raises(InputError, match=r"x\.txt"):
        read_directory_file(str(tmp_path / "x.txt"))


# --------------------------------------------------------------------------- stats


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("identity,count\nx,1\n", 1, "header"),
        ("identity,item_count\njs,-1\n", 2, "non-negative"),
        ("identity,item_count\njs,many\n", 2, "non-negative"),
        ("identity,item_count\njs,1\njs@corp.example,2\n", 3, "second line"),
        ("identity,item_count\ncn=smith\\, john,ou=staff,dc=corp,dc=example,1\n", 2,
         "more cells than the header"),
        ("identity,item_count\nshared,1\n", 2, "several mailboxes"),
    ],
)
def test_bad_stats(tmp_path, content, line, what):
    ldif = GOOD_LDIF + ("mailNickname: js\nproxyAddresses: SMTP:js@corp.example\n\n"
                        "dn: CN=B\nobjectClass: user\nhomeMDB: x\nmailNickname: shared\n\n"
                        "dn: CN=C\nobjectClass: user\nhomeMDB: x\nmailNickname: shared\n")
    m = run_bad(tmp_path, {"org.ldif": ldif, "stats.csv": content},
                *ldif_args(("--mailbox-stats", "{stats_csv}")))
    assert f"stats.csv:{line}" in m and what in m, m


def test_stats_resolution_order(tmp_path):
    ldif = GOOD_LDIF + "mailNickname: js\n\ndn: CN=Other\nobjectClass: user\nhomeMDB: x\n" \
        "sAMAccountName: js\nproxyAddresses: CCMAIL:Other at EXCH\n"
    (tmp_path / "org.ldif").write_text(ldif)
    (tmp_path / "po1.txt").write_text("Post office: PO1\n\nName: Smith, John\nMessages: 9\n"
                                      "Locn: L\n")
    (tmp_path / "s.csv").write_text("identity,item_count\nJS,3\nnobody,5\n")
    code, out, _ = ccmig("audit", "--ldif", str(tmp_path / "org.ldif"), "--ccmail-dir",
                         str(tmp_path / "po1.txt"), "--exchange-po", "EXCH", "--mailbox-stats",
                         str(tmp_path / "s.csv"), "--format", "json")
    rows = {r["dn"]: r for r in json.loads(out)}
    # 'JS' resolves at the mailNickname level (before sAMAccountName): no ambiguity.
    smith = rows["CN=Smith\\, John,OU=Staff,DC=corp,DC=example"]
    assert [f["code"] for f in smith["findings"]] == ["stale-ccmail-mailbox",
                                                      "unconfirmed-migration"]
