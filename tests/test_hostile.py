"""Hostile inputs (issue 7): every bad file, option and value has one documented outcome.

The corpus lives in ``tests/hostile/`` (one file a case, described in its
README); a few cases are generated here because they are large (10 MB lines)
or need a live server. Every case checks the same contract (spec: Exit codes):

* the documented exit code: 2 for bad input, 0/1 for a valid run with the
  rows it must give;
* exit 2 means exactly one line on stderr, naming ``file:line`` or the option,
  no traceback, nothing on stdout, and no raw control character (the message
  quotes what it found with ``repr``);
* every input file is byte-identical afterwards, and no file appears or
  disappears next to it.

Injection cases follow: LDAP filter metacharacters and NUL in ``check``
identities, PowerShell metacharacters in ``plan --format ps1`` (proved with a
tokenizer that reads the script as PowerShell does), terminal escapes in table
output and CSV formula prefixes. Known bugs are ``xfail(strict=True)`` with
the reason starting ``BUG:``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import CONNECTOR, Obj, Org, ccmig, contact, entry, mailbox, podir

CORPUS = Path(__file__).resolve().parent / "hostile"
GOOD = CORPUS / "good"
TEN_MB = 10 * 1024 * 1024


# --------------------------------------------------------------------------- harness


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256: proves nothing changed or appeared."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def control_chars(text: str) -> list[str]:
    """Control characters (Unicode Cc) other than the line feeds that end lines."""
    return sorted({repr(c) for c in text if unicodedata.category(c) == "Cc" and c != "\n"})


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_in(workdir: Path, *argv: str, input: str | None = None) -> Run:
    """Run ccmig; assert that no file under ``workdir`` changed, appeared or vanished."""
    before = tree_hashes(workdir)
    code, out, err = ccmig(*argv, input=input)
    assert tree_hashes(workdir) == before, "an input file changed (or a file appeared)"
    assert "Traceback" not in out + err
    return Run(code, out, err)


def assert_bad_input(run: Run, where: str | None, fragment: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr naming ``where``."""
    assert run.code == 2, (run.code, run.out[:300], run.err[:300])
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    line = lines[0]
    assert line.startswith("ccmig: error: "), line
    assert "internal error" not in line
    if where is not None:
        assert where in line, (where, line)
    assert fragment in line, (fragment, line)
    assert len(line) < 400, "the message must not echo a whole hostile line"
    assert control_chars(line) == [], line
    return line


def summary(out: str) -> list[tuple[str | None, list[str]]]:
    return [(r["ccmail_name"], [f["code"] for f in r["findings"]]) for r in json.loads(out)]


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Case:
    """One hostile input and its documented outcome.

    ``file`` is a corpus path (``ldif/x.ldif``) or the name given to
    ``content()``'s bytes. ``code`` 2: ``line`` and ``fragment`` are what the
    one-line message names; 0/1: ``rows`` are (ccmail_name, codes) in key order.
    """

    file: str
    code: int
    line: int | None = None
    fragment: str = ""
    rows: list[tuple[str | None, list[str]]] = field(default_factory=list)
    content: Callable[[], bytes] | None = None
    bug: str | None = None

    @property
    def kind(self) -> str:
        return self.file.split("/", 1)[0]

    @property
    def id(self) -> str:
        return self.file


SMITH_STALE = [("Smith, John", ["stale-ccmail-mailbox"])]
SMITH_OK = [("Smith, John", ["awaiting-dirsync"])]
GOOD_LDIF_TEXT = (GOOD / "org.ldif").read_text(encoding="utf-8")

CASES = [
    # ---- LDIF (audit --ldif FILE): malformed -> exit 2 naming file:line
    Case("ldif/bad_base64.ldif", 2, 8, "bad base64"),
    Case("ldif/bad_base64_padding.ldif", 2, 8, "bad base64"),
    Case("ldif/bad_base64_dn.ldif", 2, 2, "bad base64 value for 'dn'"),
    Case("ldif/dn_not_utf8.ldif", 2, 2, "dn is not valid UTF-8"),
    Case("ldif/fold_first_line.ldif", 2, 1, "continuation line with nothing to continue"),
    Case("ldif/fold_after_blank_line.ldif", 2, 9, "continuation line with nothing to continue"),
    Case("ldif/fold_with_tab.ldif", 2, 8, "bad attribute name"),
    Case("ldif/missing_dn.ldif", 2, 2, "must start with 'dn:'"),
    Case("ldif/missing_dn_second_record.ldif", 2, 9, "must start with 'dn:'"),
    Case("ldif/two_dns_one_record.ldif", 2, 8, "second 'dn:'"),
    Case("ldif/nul_byte.ldif", 2, 8, "NUL byte"),
    Case("ldif/invalid_utf8.ldif", 2, 8, "not valid UTF-8"),
    Case("ldif/overlong_utf8.ldif", 2, 8, "not valid UTF-8"),
    Case("ldif/utf8_encoded_surrogate.ldif", 2, 8, "not valid UTF-8"),
    Case("ldif/latin1.ldif", 2, 8, "not valid UTF-8"),
    Case("ldif/utf16le_without_bom.ldif", 2, 1, "NUL byte"),
    Case("ldif/utf16be_without_bom.ldif", 2, 1, "NUL byte"),
    Case("ldif/utf16_bom_odd_length.ldif", 2, 8, "not valid UTF-16"),
    Case("ldif/utf16_bom_lone_surrogate.ldif", 2, 1, "not valid UTF-16"),
    Case("ldif/utf16_bom_nul_char.ldif", 2, 8, "NUL character"),
    Case("ldif/utf32_bom.ldif", 2, 1, "NUL character"),
    Case("ldif/double_utf8_bom.ldif", 2, 1, "bad attribute name"),
    Case("ldif/truncated_mid_base64.ldif", 2, 8, "bad base64"),
    Case("ldif/truncated_mid_utf8_char.ldif", 2, 8, "not valid UTF-8"),
    Case("ldif/truncated_mid_attribute_name.ldif", 2, 10, "expected 'attribute: value'"),
    Case("ldif/url_value.ldif", 2, 8, "URL values"),
    Case("ldif/changetype_modify.ldif", 2, 3, "not an export record"),
    Case("ldif/changetype_delete_base64.ldif", 2, 3, "not an export record"),
    Case("ldif/bad_attribute_name.ldif", 2, 8, "bad attribute name"),
    Case("ldif/empty_attribute_name.ldif", 2, 8, "bad attribute name"),
    Case("ldif/binary_png.ldif", 2, 1, "not valid UTF-8"),
    Case("ldif/gzip.ldif", 2, 1, "NUL byte"),
    Case("ldif/cr_only_line_endings.ldif", 2, 1, "carriage return without a line feed"),
    Case("ldif/version_2.ldif", 2, 1, "LDIF version '2' is not supported",
         content=lambda: GOOD_LDIF_TEXT.replace("version: 1", "version: 2").encode()),
    Case("ldif/bare_cr_inside_crlf_value.ldif", 2, 6, "carriage return without a line feed",
         content=lambda: GOOD_LDIF_TEXT.replace("\n", "\r\n").replace(
             "CCMAIL:Smith, John at EXCH", "CCMAIL:Smith,\r John at EXCH").encode()),
    Case("ldif/latin1_base64_ccmail_value.ldif", 1,
         rows=[(None, ["invalid-address"]), *SMITH_OK], content=lambda: (
             GOOD_LDIF_TEXT.rstrip("\n") + "\n\ndn: CN=Mueller,OU=Staff,DC=corp,DC=example\n"
             "objectClass: user\nhomeMDB: CN=DB1\nmailNickname: mueller\nproxyAddresses:: "
             + base64.b64encode("CCMAIL:Müller, Zoë at EXCH".encode("latin-1")).decode()
             + "\n").encode()),
    Case("ldif/crlf_line_endings.ldif", 1, rows=SMITH_OK,
         content=lambda: GOOD_LDIF_TEXT.replace("\n", "\r\n").encode()),
    # ---- LDIF, generated: huge lines
    Case("ldif/huge_value_10mb.ldif", 1, rows=SMITH_OK, content=lambda: (
        GOOD_LDIF_TEXT + "displayName: " + "A" * TEN_MB + "\n").encode()),
    Case("ldif/huge_base64_value_10mb.ldif", 1, rows=SMITH_OK, content=lambda: (
        GOOD_LDIF_TEXT + "displayName:: "
        + base64.b64encode(b"B" * (TEN_MB * 3 // 4)).decode() + "\n").encode()),
    Case("ldif/huge_line_without_colon_10mb.ldif", 2, 8, "expected 'attribute: value'",
         content=lambda: (GOOD_LDIF_TEXT + "x" * TEN_MB + "\n").encode()),
    # ---- cc:Mail directory files (audit --ccmail-dir FILE)
    Case("ccmail/utf16le_with_bom.txt", 2, 1, "NUL byte"),
    Case("ccmail/utf16le_without_bom.txt", 2, 1, "NUL byte"),
    Case("ccmail/utf8_bom_then_invalid.txt", 2, 3, "not valid UTF-8 after a UTF-8 BOM"),
    Case("ccmail/utf8_bom_with_nul.txt", 2, 3, "NUL byte"),
    Case("ccmail/binary_junk.txt", 2, 1, "expected 'Keyword: value'"),
    Case("ccmail/png.txt", 2, 1, "expected 'Keyword: value'"),
    Case("ccmail/nul_byte.txt", 2, 3, "NUL byte"),
    Case("ccmail/truncated_mid_record.txt", 2, 5, "expected 'Keyword: value'"),
    Case("ccmail/truncated_mid_key.txt", 2, 4, "expected 'Keyword: value'"),
    Case("ccmail/messages_5000_digits.txt", 2, 5, "non-negative integer of at most 18 digits"),
    Case("ccmail/messages_arabic_digit.txt", 2, 5, "non-negative integer"),
    Case("ccmail/locn_fullwidth.txt", 2, 4, "'Locn' must be one of"),
    Case("ccmail/empty_header.txt", 2, 1, "empty 'Post office' header"),
    Case("ccmail/second_header.txt", 2, 3, "'Post office' header must be the first record"),
    Case("ccmail/no_header.txt", 2, 1, "no post office"),
    Case("ccmail/escape_in_bad_line.txt", 2, 5, "expected 'Keyword: value'"),
    Case("ccmail/cr_only_line_endings.txt", 2, 1, "carriage return without a line feed"),
    Case("ccmail/bare_cr_in_name.txt", 2, 3, "carriage return without a line feed",
         content=lambda: b"Post office: PO1\r\n\r\nName: Smith,\r John\r\nLocn: L\r\n"),
    Case("ccmail/crlf.txt", 1, rows=SMITH_STALE,
         content=lambda: b"Post office: PO1\r\n\r\nName: Smith, John\r\nLocn: L\r\n"),
    Case("ccmail/messages_19_digits.txt", 2, 5, "at most 18 digits",
         content=lambda: b"Post office: PO1\n\nName: Smith, John\nLocn: L\nMessages: "
         + b"9" * 19 + b"\n"),
    Case("ccmail/cp850_fallback.txt", 1, rows=[("Müller, Zoë", ["not-migrated"]), *SMITH_STALE]),
    Case("ccmail/huge_name_10mb.txt", 1, rows=[("N" * TEN_MB, ["not-migrated"]), *SMITH_OK],
         content=lambda: b"Post office: PO1\n\nName: " + b"N" * TEN_MB + b"\nLocn: L\n"),
    Case("ccmail/huge_line_without_colon_10mb.txt", 2, 3, "expected 'Keyword: value'",
         content=lambda: b"Post office: PO1\n\n" + b"x" * TEN_MB + b"\n"),
    # ---- --mailbox-stats CSV
    Case("stats/missing_column.csv", 2, 1, "header must name columns"),
    Case("stats/missing_cell.csv", 2, 2, "missing column"),
    Case("stats/extra_cell.csv", 2, 2, "more cells than the header"),
    Case("stats/utf8_bom.csv", 1,
         rows=[("Smith, John", ["stale-ccmail-mailbox", "unconfirmed-migration"])]),
    Case("stats/double_utf8_bom.csv", 2, 1, "header must name columns"),
    Case("stats/nul.csv", 2, None, "NUL character"),
    Case("stats/utf16.csv", 2, None, "must be UTF-8"),
    Case("stats/latin1.csv", 2, None, "must be UTF-8"),
    Case("stats/count_5000_digits.csv", 2, 2, "non-negative integer"),
    Case("stats/negative_count.csv", 2, 2, "non-negative integer"),
    Case("stats/float_count.csv", 2, 2, "non-negative integer"),
    Case("stats/unclosed_quote.csv", 2, 2, "missing column"),
    Case("stats/empty.csv", 2, None, "empty file"),
    Case("stats/semicolons.csv", 2, 1, "header must name columns"),
    Case("stats/binary.csv", 2, None, "must be UTF-8"),
    Case("stats/formula_identity.csv", 1,
         rows=[("Smith, John", ["stale-ccmail-mailbox", "unconfirmed-migration"])]),
    Case("stats/field_larger_than_limit.csv", 2, 2, "field larger than field limit",
         content=lambda: b'identity,item_count\n"' + b"a" * 200_000 + b'",3\n'),
    # ---- TOML configuration (--config FILE)
    Case("config/bad_syntax.toml", 2, None, "bad TOML"),
    Case("config/duplicate_key.toml", 2, None, "bad TOML"),
    Case("config/profiles_not_a_table.toml", 2, None, "'profiles' must be a table"),
    Case("config/profile_not_a_table.toml", 2, None, "must be a table"),
    Case("config/secret_in_profile.toml", 2, None, "secrets belong in the keyring"),
    Case("config/page_size_not_integer.toml", 2, None, "key 'page-size'"),
    Case("config/starttls_not_boolean.toml", 2, None, "key 'starttls'"),
    Case("config/timeout_negative.toml", 2, None, "key 'timeout'"),
    Case("config/unknown_key_typo.toml", 2, None, "unknown key 'ldap-uri'"),
    Case("config/fail_on_not_a_choice.toml", 2, None, "key 'fail-on'"),
    Case("config/not_utf8.toml", 2, None, "cannot read configuration"),
    Case("config/utf16.toml", 2, None, "cannot read configuration"),
    Case("config/nul.toml", 2, None, "bad TOML"),
    # ---- identities for check --from-file
    Case("identities/not_utf8.txt", 2, None, "must be UTF-8"),
]


def case_argv(case: Case, path: Path, good: Path) -> list[str]:
    ldif, po1 = str(good / "org.ldif"), str(good / "PO1.txt")
    base = ["--exchange-po", "EXCH", "--format", "json"]
    if case.kind == "ldif":
        return ["audit", "--ldif", str(path), *base]
    if case.kind == "ccmail":
        return ["audit", "--ldif", ldif, "--ccmail-dir", str(path), *base]
    if case.kind == "stats":
        return ["audit", "--ldif", ldif, "--ccmail-dir", po1, "--mailbox-stats", str(path), *base]
    if case.kind == "config":
        return ["--config", str(path), "audit", "--ldif", ldif, *base]
    if case.kind == "identities":
        return ["check", "--from-file", str(path), "--ldif", ldif, *base]
    raise AssertionError(case.kind)


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A private copy of the good baseline; the hostile file is copied beside it."""
    shutil.copytree(GOOD, tmp_path / "good")
    return tmp_path


@pytest.mark.parametrize("case", list(_params()))
def test_corpus_case(case: Case, work: Path):
    target = work / "case" / Path(case.file).name
    target.parent.mkdir()
    if case.content is not None:
        target.write_bytes(case.content())
    else:
        shutil.copyfile(CORPUS / case.file, target)
    run = run_in(work, *case_argv(case, target, work / "good"))
    if case.code == 2:
        where = f"{target}:{case.line}:" if case.line else str(target)
        assert_bad_input(run, where, case.fragment)
    else:
        assert run.code == case.code, run.err
        assert run.err == ""
        assert summary(run.out) == case.rows


def test_every_corpus_file_has_a_case_and_is_documented():
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*")
             if p.is_file() and p.parent != CORPUS and p.parent.name != "good"}
    cased = {c.file for c in CASES if c.content is None}
    special = {"identities/ldap_metacharacters.txt", "identities/nul_identity.txt"}
    assert files == cased | special
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for name in files | {c.file for c in CASES}:
        assert f"`{name}`" in readme, f"{name} is not described in tests/hostile/README.md"


def test_good_baseline_is_valid(work: Path):
    good = work / "good"
    run = run_in(work, "audit", "--ldif", str(good / "org.ldif"), "--ccmail-dir",
                 str(good / "PO1.txt"), "--mailbox-stats", str(good / "stats.csv"),
                 "--exchange-po", "EXCH", "--format", "json")
    assert (run.code, summary(run.out)) == (1, SMITH_STALE)


# --------------------------------------------------------------------------- bad options


def opt_params():
    cases = [
        (["audit", "--ldif"], "requires an argument"),
        (["audit", "{ldif}", "--page-size", "-1"], "--page-size"),
        (["audit", "{ldif}", "--page-size", "100001"], "--page-size"),
        (["audit", "{ldif}", "--timeout", "0"], "--timeout"),
        (["audit", "{ldif}", "--batch-size", "x"], "--batch-size"),
        (["audit", "{ldif}", "--format", "yaml"], "--format"),
        (["audit", "{ldif}", "--fail-on", "sometimes"], "--fail-on"),
        (["audit", "{ldif}", "--status", "bogus"], "--status"),
        (["audit", "{ldif}", "--dialect", "notes"], "--dialect"),
        (["audit", "{ldif}", "--source", "x500"], "--source"),
        (["audit", "{ldif}", "unexpected-positional"], "unexpected extra argument"),
        (["audit", "{ldif}", "--no-such-option"], "No such option"),
        (["no-such-command"], "No such command"),
        (["audit", "--ldif", "{good}/org.ldif", "--exchange-po", "  "], "--exchange-po"),
        (["audit", "{ldif}", "--ccmail-dir", "{good}"], "cannot read cc:Mail directory file"),
        (["audit", "{ldif}", "--ccmail-dir", "PO2={good}/PO1.txt"], "the option says"),
        (["audit", "{ldif}", "--ccmail-dir", "{good}/PO1.txt", "--ccmail-encoding", "klingon"],
         "--ccmail-encoding"),
        (["audit", "{ldif}", "-o", "{good}/no/such/dir/out.json"], "--output"),
        (["audit", "{ldif}", "--log-file", "{good}/no/such/dir/log"], "--log-file"),
        (["audit", "{ldif}", "--config", "{good}/missing.toml"], "configuration file not found"),
        (["audit", "{ldif}", "--profile", "nope"], "--profile"),
        (["audit", "{ldif}", "--ldap-url", "ldap://127.0.0.1:1"], "not both"),
        (["audit", "--ldap-url", "ldap://127.0.0.1:99999", "--base-dn", "dc=x",
          "--exchange-po", "EXCH"], "--ldap-url"),
        (["audit", "--ldap-url", "ldap://user:pw@127.0.0.1:1", "--base-dn", "dc=x",
          "--exchange-po", "EXCH"], "--ldap-url"),
        (["audit", "--ldap-url", "ldap://127.0.0.1:1", "--exchange-po", "EXCH"], "--base-dn"),
        (["audit", "{ldif}", "--exchange-uri", "ftp://x/PowerShell"], "--exchange-uri"),
        (["audit", "{ldif}", "--exchange-uri", "http://127.0.0.1:1/PowerShell",
          "--exchange-auth", "basic", "--exchange-user", "u"], "--exchange-user"),
        (["audit", "{ldif}", "--source", "powershell"], "--source"),
        (["check", "{ldif}"], "no identity given"),
        (["check", "{ldif}", "--from-file", "{good}/missing.csv"], "cannot read identities"),
        (["plan", "{ldif}", "--format", "exe"], "--format"),
        (["plan", "{ldif}", "--limit", "0"], "--limit"),
        (["apply", "{good}/missing.json"], "cannot read plan"),
        (["apply", "{good}/org.ldif"], "not a ccmig JSON plan"),
        (["apply", "{good}/stats.csv"], "not a ccmig JSON plan"),
        (["undo", "{good}/missing.journal"], "journal not found"),
        (["undo", "{good}/PO1.txt", "--yes"], "not a journal record"),
        (["creds", "set", "--for", "bogus"], "--for"),
        (["creds", "delete", "--for", "ldap"], "no ldap secret stored"),
        (["config", "init", "--path", "{good}/org.ldif"], "file exists"),
        (["addresses", "someone"], "--exchange-uri"),
    ]
    for argv, fragment in cases:
        yield pytest.param(argv, fragment, id=" ".join(argv)[:70])
    cases = [
        (["audit", "{ldif}", "--timeout", "nan"], "--timeout"),
        (["audit", "--ldap-url", "ldap://127.0.0.1:1", "--base-dn", "dc=x", "--exchange-po",
          "EXCH", "--timeout", "inf"], "--timeout"),
    ]
    for argv, fragment in cases:
        yield pytest.param(argv, fragment, id=" ".join(argv)[:70])
    # non-text codecs pass codecs.lookup; punycode/undefined fail without a position
    for codec in ("rot13", "base64", "zlib", "hex", "punycode", "undefined"):
        yield pytest.param(["audit", "{ldif}", "--ccmail-dir", "{good}/PO1.txt",
                            "--ccmail-encoding", codec], "--ccmail-encoding",
                           id=f"--ccmail-encoding {codec}")


@pytest.mark.parametrize(("argv", "fragment"), list(opt_params()))
def test_bad_option(argv: list[str], fragment: str, work: Path):
    good = work / "good"
    expanded: list[str] = []
    for a in argv:
        if a == "{ldif}":
            expanded += ["--ldif", str(good / "org.ldif"), "--exchange-po", "EXCH"]
        else:
            expanded.append(a.replace("{good}", str(good)))
    run = run_in(work, *expanded, input="")
    assert_bad_input(run, None, fragment)


# --------------------------------------------------------------------------- check: LDAP metacharacters, NUL

METACHARS = ["*", "*)(objectClass=*", "(|(cn=*))", "\\2a", ")(", "cn=*", "jsmith)(|(uid=*"]


def check_lines(run: Run, unmatched: list[str]) -> None:
    """Each unmatched identity named once (quoted with repr), then the final line."""
    lines = run.err.splitlines()
    assert lines[: len(unmatched)] == [f"ccmig: no row matches identity {i!r}" for i in unmatched]
    assert control_chars(run.err) == []


def test_check_identity_file_of_ldap_metacharacters(work: Path):
    path = work / "ids.txt"
    shutil.copyfile(CORPUS / "identities" / "ldap_metacharacters.txt", path)
    run = run_in(work, "check", "--from-file", str(path), "--ldif", str(work / "good/org.ldif"),
                 "--exchange-po", "EXCH")
    idents = path.read_text().split()
    assert run.code == 2 and run.out == ""
    check_lines(run, idents)
    assert run.err.splitlines()[-1] == "ccmig: error: IDENTITY: no identity matched any row"


def test_check_nul_identity_from_file_and_argument(work: Path):
    path = work / "ids.txt"
    shutil.copyfile(CORPUS / "identities" / "nul_identity.txt", path)
    good = ["--ldif", str(work / "good/org.ldif"), "--exchange-po", "EXCH"]
    run = run_in(work, "check", "--from-file", str(path), *good)
    assert run.code == 2 and run.out == ""
    check_lines(run, ["jsmith\x00*"])
    run = run_in(work, "check", "jsmith\x00", "\x00", "jsmith", *good, "--format", "json")
    assert run.code == 1 and summary(run.out) == SMITH_OK  # the real one still matches, once
    check_lines(run, ["jsmith\x00", "\x00"])


def test_metacharacters_in_data_match_only_literally(org: Org):
    org.objects = [mailbox("Star (*) Person", "CCMAIL:Star (*) Person at EXCH", nick="star*"),
                   mailbox("Plain", "CCMAIL:Plain at EXCH", nick="plain")]
    args = [*org.write(), "--exchange-po", "EXCH", "--format", "json"]
    run = run_in(org.root, "check", "Star (*) Person", "star*", *args)
    assert summary(run.out) == [("Star (*) Person", ["awaiting-dirsync"])]
    run = run_in(org.root, "check", "*", "star", "(*)", *args)
    assert run.code == 2
    check_lines(run, ["*", "star", "(*)"])


@pytest.fixture(scope="module")
def metachar_slapd(tmp_path_factory):
    """A live directory whose data holds filter metacharacters."""
    root = tmp_path_factory.mktemp("metachar")
    org = Org(root / "org")
    org.objects = [mailbox("Star (*) Person", "CCMAIL:Star (*) Person at EXCH", nick="star"),
                   mailbox("Smith, John", "CCMAIL:Smith, John at EXCH",
                           "ccmail:Smith, John at PO1", nick="jsmith")]
    org.write()
    with slapd.SlapdServer(root / "slapd", "DC=corp,DC=example", org.root / "org.ldif") as info:
        yield info


def test_check_over_ldap_treats_metacharacters_as_text(metachar_slapd, monkeypatch, tmp_path):
    info = metachar_slapd
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", info.password)
    live = ["--ldap-url", info.url, "--base-dn", info.base_dn, "--bind-dn", info.bind_dn,
            "--allow-unencrypted", "--exchange-po", "EXCH", "--format", "json"]
    run = run_in(tmp_path, "check", *METACHARS, "jsmith\x00", *live)
    assert run.code == 2 and run.out == ""
    check_lines(run, [*METACHARS, "jsmith\x00"])
    run = run_in(tmp_path, "check", "*", "Star (*) Person", *live)
    assert run.code == 1
    assert summary(run.out) == [("Star (*) Person", ["awaiting-dirsync"])]
    check_lines(run, ["*"])


# --------------------------------------------------------------------------- PowerShell quoting

PS_QUOTES = "'\u2018\u2019\u201a\u201b"  # PowerShell's single quotes (SpecialChars.IsSingleQuote)


def collapse_concat(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Read ``('' + 'a' + [char]10 + 'b')`` -- how ps_quote splices control
    characters in -- as the one literal it evaluates to; anything else in the
    parentheses (a variable, a command) is left as words and fails the check."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "word" and text.endswith("(") and i + 1 < len(tokens) \
                and tokens[i + 1][0] == "lit":
            value, j, ok = [tokens[i + 1][1]], i + 2, False
            while j + 1 < len(tokens) and tokens[j] == ("word", "+"):
                nxt = tokens[j + 1]
                if nxt[0] == "lit":
                    value.append(nxt[1])
                elif re.fullmatch(r"\[char\][0-9]+", nxt[1]):
                    value.append(chr(int(nxt[1][6:])))
                else:
                    break
                j += 2
            if j < len(tokens) and tokens[j][0] == "word" and tokens[j][1].startswith(")"):
                ok = True
            if ok:
                if text[:-1]:
                    out.append(("word", text[:-1]))
                out.append(("lit", "".join(value)))
                if tokens[j][1][1:]:
                    out.append(("word", tokens[j][1][1:]))
                i = j + 1
                continue
        out.append((kind, text))
        i += 1
    return out


def ps_statements(text: str) -> list[list[tuple[str, str]]]:
    """Statements of a script as PowerShell tokenises what ccmig writes.

    Line comments run from ``#`` to CR or LF; a single-quoted literal opens and
    closes with any of the five single-quote characters, and a doubled one is
    one literal quote; everything else is a bare word. Statements end at CR/LF
    outside a literal. Tokens: ("lit", value) or ("word", text).
    """
    statements: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\r\n":
            if current:
                statements.append(collapse_concat(current))
                current = []
            i += 1
        elif c in " \t":
            i += 1
        elif c == "#":
            while i < n and text[i] not in "\r\n":
                i += 1
        elif c in PS_QUOTES:
            i += 1
            value: list[str] = []
            while True:
                assert i < n, "unterminated single-quoted literal"
                if text[i] in PS_QUOTES:
                    if i + 1 < n and text[i + 1] in PS_QUOTES:
                        value.append(text[i + 1])
                        i += 2
                        continue
                    i += 1
                    break
                value.append(text[i])
                i += 1
            current.append(("lit", "".join(value)))
        else:
            j = i
            while j < n and text[j] not in " \t\r\n" + PS_QUOTES:
                j += 1
            current.append(("word", text[i:j]))
            i = j
    if current:
        statements.append(collapse_concat(current))
    return statements


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from(list(PS_QUOTES + "\"`$();|&#<>@{}\r\n\t ")),
                                  st.characters(exclude_categories=("Cs",))), max_size=40))
def test_ps_quote_gives_one_literal_holding_the_value(value):
    from toolkit.render.plan import ps_quote

    assert ps_statements(f"Write-Output {ps_quote(value)} -NoEnumerate") == [
        [("word", "Write-Output"), ("lit", value), ("word", "-NoEnumerate")]]


def expected_statements(plan: dict) -> list[list[tuple[str, str]]]:
    """What the ps1 may execute: the header and each active Exchange-side action."""
    out = [[("word", "$ErrorActionPreference"), ("word", "="), ("lit", "Stop")]]
    for a in plan["actions"]:
        if a["blocked"] or a["manual"]:
            continue
        t = a["target"]
        if a["kind"] in ("add-primary-address", "add-secondary-address"):
            out.append([("word", "Set-Mailbox"), ("word", "-Identity"), ("lit", t["dn"]),
                        ("word", "-EmailAddresses"), ("word", "@{Add="), ("lit", t["address"]),
                        ("word", "}")])
        elif a["kind"] == "remove-custom-recipient":
            out.append([("word", "Remove-MailContact"), ("word", "-Identity"), ("lit", t["dn"]),
                        ("word", "-Confirm:$false")])
    return out


def windows_ansi(data: bytes) -> str:
    """How Windows PowerShell 5.1 reads a .ps1 without a BOM: the ANSI code page (1252)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    table = {}
    for b in range(256):
        try:
            table[b] = bytes([b]).decode("cp1252")
        except UnicodeDecodeError:
            table[b] = chr(b)
    return "".join(table[b] for b in data)


NASTY = [
    "O'Brien'; Remove-Mailbox *; '",
    "$(Remove-Mailbox -Identity * -Confirm:$false)",
    "`$env:USERNAME` ``n Back`tick",
    "Smart’; Remove-Mailbox *; ‘x",
    "Low‚High‛ '' $null",
    "Semi; colon | pipe & amp > out.txt",
    "@{Add='x'} }",
    "Hash # comment <# block #> #>",
    "Trailing quote’",
]


def ps1_org(org: Org, extra: list[Obj] | None = None) -> list[str]:
    objects = [mailbox(n, f"ccmail:{n} at PO1", nick=f"nasty{i}") for i, n in enumerate(NASTY)]
    objects += [
        mailbox("Owner’s Box", "CCMAIL:Owner’s Box at EXCH", "ccmail:Owner’s Box at PO1",
                nick="owner"),
        contact("Old ’'; Remove-MailContact *; '", "CCMAIL:Owner’s Box at PO1"),
        mailbox("Roe'; Stop-Computer; '", "CCMAIL:Roe'; Stop-Computer; ' at EXCH", nick="roe"),
    ]
    org.objects = objects + (extra or [])
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR),
                "PO2": podir("PO2", entry("Roe'; Stop-Computer; '", messages=1))}
    return [*org.write(), "--exchange-po", "EXCH", "--assume-migrated"]


def plan_outputs(org: Org, args: list[str], out: Path) -> tuple[dict, bytes]:
    out.mkdir(exist_ok=True)
    run = run_in(org.root, "plan", *args, "--format", "json", "-o", str(out / "plan.json"))
    assert run.code == 0, run.err
    run = run_in(org.root, "plan", *args, "--format", "ps1", "-o", str(out / "plan.ps1"))
    assert run.code == 0, run.err
    return json.loads((out / "plan.json").read_text()), (out / "plan.ps1").read_bytes()


def test_ps1_quotes_powershell_metacharacters(org: Org, tmp_path: Path):
    plan, ps1 = plan_outputs(org, ps1_org(org), tmp_path / "out")
    kinds = [a["kind"] for a in plan["actions"]]
    assert kinds.count("add-primary-address") == len(NASTY)
    assert "remove-custom-recipient" in kinds and "add-secondary-address" in kinds
    got = ps_statements(ps1.decode("utf-8-sig"))
    assert got == expected_statements(plan)  # nothing outside the literals, every value exact
    assert any("Remove-Mailbox" in v for s in got for k, v in s if k == "lit")


def test_ps1_literals_hold_when_read_as_windows_ansi(org: Org, tmp_path: Path):
    extra = [mailbox("Петров ё; Remove-Mailbox * -Confirm:$false; #",
                     "ccmail:Петров ё; Remove-Mailbox * -Confirm:$false; # at PO1", nick="petrov")]
    plan, ps1 = plan_outputs(org, ps1_org(org, extra), tmp_path / "out")
    expected = expected_statements(plan)
    assert ps_statements(ps1.decode("utf-8-sig")) == expected
    as_ansi = ps_statements(windows_ansi(ps1))
    shape = [[k if k == "lit" else v for k, v in s] for s in as_ansi]
    assert shape == [[k if k == "lit" else v for k, v in s] for s in expected]  # no escape
    assert as_ansi == expected  # and every value exact


def test_ps1_line_break_in_dn_stays_inside_comment_and_literal(org: Org, tmp_path: Path):
    evil_dn = "CN=Roe\nRemove-Mailbox * -Confirm:$false #,OU=Staff,DC=corp,DC=example"
    extra = [Obj(evil_dn, [("objectClass", "user"), ("homeMDB", "CN=DB1"),
                           ("proxyAddresses", "CCMAIL:Doe, Jane at EXCH")])]
    ps1_org(org, extra)
    org.dirs["PO2"] += "\n" + entry("Doe, Jane", messages=1) + "\n"  # stale by name only
    args = [*org.write(), "--exchange-po", "EXCH", "--assume-migrated"]
    plan, ps1 = plan_outputs(org, args, tmp_path / "out")
    assert any(a["target"].get("dn") == evil_dn for a in plan["actions"])
    assert ps_statements(ps1.decode("utf-8-sig")) == expected_statements(plan)


def test_ldif_plan_keeps_hostile_values_inside_their_lines(org: Org, tmp_path: Path):
    extra = [mailbox("Line\u2028Sep", "ccmail:Line\u2028Sep at PO1", nick="ls")]
    args = ps1_org(org, extra)
    run = run_in(org.root, "plan", *args, "--format", "ldif")
    assert run.code == 0, run.err
    allowed = ("#", "version: 1", "dn:", "changetype: modify", "changetype: delete",
               "add: proxyAddresses", "proxyAddresses:", "-")
    for line in run.out.split("\n"):
        assert line == "" or line.startswith(allowed), line
        if not line.startswith("#"):
            assert line.isascii() and control_chars(line) == [], line


# --------------------------------------------------------------------------- terminal escapes

ESCAPES = ["\x1b[31mRed\x1b[0m", "\x1b]0;owned title\x07", "Bell\x07", "C1\x9b2J",
           "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\"]
RAW = ("\x1b", "\x07", "\x9b", "\x00")


def escape_org(org: Org) -> list[str]:
    org.objects = [
        mailbox(f"Esc{i}", f"CCMAIL:Esc{i} at EXCH", f"ccmail:Esc{i} {e} at PO1", nick=f"esc{i}")
        for i, e in enumerate(ESCAPES)
    ] + [Obj("CN=Dn\x1b[2J\x07,OU=Staff,DC=corp,DC=example",
             [("objectClass", "user"), ("homeMDB", "x"), ("proxyAddresses", "CCMAIL:Dn at EXCH"),
              ("proxyAddresses", "CCMAIL:Bad\x1b[5m at EXCH")])]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR),
                "PO1": podir("PO1", *[entry(f"Local {e}", messages=1) for e in ESCAPES]),
                "PO\x1b[1m": podir("PO\x1b[1m", entry("Header\x07Po"))}
    return [*org.write(), "--exchange-po", "EXCH"]


def test_table_outputs_hold_no_raw_escapes(org: Org, tmp_path: Path):
    args = escape_org(org)
    config = tmp_path / "c.toml"
    config.write_text('[profiles.default]\nbase-dn = "DC=\\u001b]0;t\\u0007"\n'
                      'exchange-po = ["E\\u001b[31m"]\n')
    for argv in (["audit", *args], ["audit", *args, "-v"], ["check", "esc0", "esc4", *args],
                 ["recipients", *args[:2]], ["config", "show", "--config", str(config)]):
        run = run_in(org.root, *argv)
        assert run.code in (0, 1), run.err
        assert not any(c in run.out + run.err for c in RAW), (argv, run.out)
    # the values themselves survive in JSON
    run = run_in(org.root, "audit", *args, "--format", "json")
    names = {r["ccmail_name"] for r in json.loads(run.out)}
    assert "Local \x1b[31mRed\x1b[0m" in names and "Header\x07Po" in names


def test_apply_dry_run_table_holds_no_raw_escapes(org: Org, tmp_path: Path):
    # cc:Mail addresses cannot hold control characters, but DNs and the other
    # fields of a removed record (shown line by line in the dry run) can.
    org.objects = [Obj("CN=Evil\x1b]0;t\x07,OU=Staff,DC=corp,DC=example",
                       [("objectClass", "user"), ("homeMDB", "CN=DB1"),
                        ("proxyAddresses", "CCMAIL:Stale, Sam at EXCH"),
                        ("proxyAddresses", "ccmail:Stale, Sam at PO1")])]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR),
                "PO1": podir("PO1", entry("Stale, Sam", messages=1, comments="\x1b[2J wipe\x07")
                             + "\nX-Evil: \x1b]8;;http://evil.example\x1b\\")}
    args = [*org.write(), "--exchange-po", "EXCH", "--assume-migrated"]
    plan = tmp_path / "plan.json"
    assert run_in(org.root, "plan", *args, "-o", str(plan)).code == 0
    run = run_in(org.root, "apply", str(plan))  # a dry run: nothing changes
    assert "remove-ccmail-entry" in run.out and "wipe" in run.out
    assert not any(c in run.out + run.err for c in RAW), run.out


def test_check_echoes_unmatched_identities_without_escapes(work: Path):
    run = run_in(work, "check", "\x1b]0;x\x07", "\x9b1m", "--ldif", str(work / "good/org.ldif"),
                 "--exchange-po", "EXCH")
    assert run.code == 2
    assert not any(c in run.err for c in RAW)


def test_error_message_naming_a_hostile_dn_holds_no_raw_escapes(org: Org, tmp_path: Path):
    org.objects = [mailbox("A\x1b]0;owned\x07", "CCMAIL:A at EXCH", nick="shared"),
                   mailbox("B", "CCMAIL:B at EXCH", nick="shared")]
    args = [*org.write(), "--exchange-po", "EXCH"]
    stats = org.root / "stats.csv"
    stats.write_text("identity,item_count\nshared,3\n")
    run = run_in(org.root, "audit", *args, "--mailbox-stats", str(stats))
    assert_bad_input(run, f"{stats}:2:", "matches several mailboxes")


# --------------------------------------------------------------------------- CSV formulas

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)",
            "=cmd|' /C calc'!A0"]


def formula_org(org: Org) -> list[str]:
    names = ["=1+2 Eq", "+Plus", "-Minus", "@At"]
    org.objects = [mailbox(f"Box{i}", f"CCMAIL:{n} at EXCH", f"ccmail:{n} at PO1", nick=f"b{i}")
                   for i, n in enumerate(names)]
    org.objects.append(Obj("=DN(1),OU=Staff,DC=corp,DC=example",
                           [("objectClass", "contact"), ("targetAddress", "CCMAIL:-Dn at PO-9")]))
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR),
                "PO1": podir("PO1", *[entry(n, messages=1) for n in names]),
                "-PO": podir("-PO", entry("Lone")),
                **{f"F{i}": podir(f"F{i}", entry(f)) for i, f in enumerate(FORMULAS)}}
    return [*org.write(), "--exchange-po", "EXCH"]


def csv_cells(text: str) -> list[str]:
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_neutralised(text: str) -> None:
    for cell in csv_cells(text):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_csv_neutralises_formula_prefixes_and_json_keeps_values(org: Org, tmp_path: Path):
    args = formula_org(org)
    run = run_in(org.root, "audit", *args, "--format", "csv")
    assert run.code == 1, run.err
    assert_neutralised(run.out)
    cells = set(csv_cells(run.out))
    for value in ("=1+2 Eq", "+Plus", "-Minus", "@At", "-PO", *FORMULAS):
        assert "'" + value in cells, value
    assert "'=DN(1),OU=Staff,DC=corp,DC=example" in cells
    rows = json.loads(run_in(org.root, "audit", *args, "--format", "json").out)
    assert {"=1+2 Eq", "+Plus", "-Minus", "@At"} <= {r["ccmail_name"] for r in rows}
    assert "-PO" in {r["old_post_office"] for r in rows}
    assert set(FORMULAS) <= {r["ccmail_name"] for r in rows}
    assert "=DN(1),OU=Staff,DC=corp,DC=example" in {r["dn"] for r in rows}
    for argv in (["check", *args, "--format", "csv", "--", "=1+2 Eq", "-Minus", "@At"],
                 ["recipients", *args[:2], "--format", "csv"],
                 ["plan", *args, "--assume-migrated", "--format", "csv"]):
        run = run_in(org.root, *argv)
        assert run.code in (0, 1), run.err
        assert_neutralised(run.out)
        if argv[0] != "plan":
            assert any(c.startswith("'") for c in csv_cells(run.out)), argv


# --------------------------------------------------------------------------- HTML / Markdown report

MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_report_escapes_markup_from_the_directory(org: Org, tmp_path: Path):
    from html.parser import HTMLParser

    org.objects = [mailbox("A", f"CCMAIL:{MARKUP} at EXCH", f"ccmail:{MARKUP} at PO1", nick="a"),
                   Obj("CN=<svg onload=alert(3)>,OU=Staff,DC=corp,DC=example",
                       [("objectClass", "user"), ("homeMDB", "x"),
                        ("proxyAddresses", "CCMAIL:B at EXCH")])]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR),
                "PO1": podir("PO1", entry(MARKUP, messages=1),
                             entry("[x](javascript:alert(4)) | pipe `tick` *em* \x1b[2J"))}
    args = [*org.write(), "--exchange-po", "EXCH", "--title", "<b onclick=alert(5)>T</b>"]

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.attrs, self.text = set(), [], []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self.attrs += attrs

        def handle_data(self, data):
            self.text.append(data)

    run = run_in(org.root, "report", *args, "--format", "html", "-o", str(tmp_path / "r.html"))
    assert run.code in (0, 1), run.err
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    p = Collect()
    p.feed(page)
    assert not p.tags & {"script", "img", "iframe", "object", "embed", "b"}, p.tags
    assert not [a for a, _ in p.attrs if a.lower().startswith("on")]
    urls = [v for a, v in p.attrs if a in ("href", "src", "action", "formaction", "xlink:href")]
    assert not [v for v in urls if v and not v.startswith(("#", "data:"))], urls
    assert MARKUP in "".join(p.text)  # shown as text, intact
    assert not any(c in page for c in RAW)
    run = run_in(org.root, "report", *args, "--format", "md")
    assert run.code in (0, 1), run.err
    assert not re.findall(r"(?<!\\)<|(?<!\\)\]\(", run.out)  # no raw markup, no link
    assert not any(c in run.out for c in RAW)
