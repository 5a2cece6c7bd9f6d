"""The synthetic-organisation generator (mocks/orggen) and the bundled demos.

These tests pin what other suites rely on: the output is byte-for-byte
reproducible, every file is readable by the project's own readers, the
generator's own counts agree with the dialect classification, and every
scenario (hence every finding code a file can show) is present in a modest
organisation. Whether the rule engine gives each scenario its intended code is
tested with the engine, from ``expected-codes.json``.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from toolkit.mocks.orggen import (
    FILE_CODES,
    SCENARIO_BY_NAME,
    SCENARIOS,
    Settings,
    Summary,
    applicable,
    generate,
    main,
)

from toolkit.ccmail.address import parse
from toolkit.ccmail.directory import Directory, connector_post_offices
from toolkit.exchange.dialects import recipients, to_recipient
from toolkit.exchange.ldif import read_ldif
from toolkit.model import Dialect, Kind
from toolkit.text import fold

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ("org.ldif", "stats.csv", "expected-codes.json")

CONFIGS = {
    "ad": Settings(people=300, seed=11),
    "ex55": Settings(people=300, seed=12, dialect="exchange55"),
    "ad-utf16-2sites": Settings(people=300, seed=13, utf16=True,
                                exchange_pos=("EXCH", "EXCH2")),
    "ex55-utf16-2sites": Settings(people=300, seed=14, dialect="exchange55", utf16=True,
                                  exchange_pos=("EXCH", "EXCH2")),
    "ad-utf8-crlf": Settings(people=300, seed=15, ccmail_encoding="utf-8", crlf=True),
}


@pytest.fixture(scope="module")
def orgs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Summary]]:
    out = {}
    for name, settings in CONFIGS.items():
        path = tmp_path_factory.mktemp(name)
        out[name] = (path, generate(settings, path))
    return out


def expected(org: Path) -> dict:
    return json.loads((org / "expected-codes.json").read_text(encoding="utf-8"))


def files_of(org: Path) -> dict[str, bytes]:
    names = [*CONTENT, *(f"ccmail/{p.name}" for p in sorted((org / "ccmail").glob("*.txt")))]
    return {n: (org / n).read_bytes() for n in names if (org / n).exists()}


# ---- determinism ---------------------------------------------------------


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    settings = Settings(people=300, seed=21)
    generate(settings, tmp_path / "a")
    generate(settings, tmp_path / "b")
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert len(a) == 3 + 5
    assert a == b
    readme_a = (tmp_path / "a" / "README").read_text().replace(str(tmp_path / "a"), "ORG")
    readme_b = (tmp_path / "b" / "README").read_text().replace(str(tmp_path / "b"), "ORG")
    assert readme_a == readme_b


def test_other_seed_other_organisation(tmp_path: Path) -> None:
    generate(Settings(people=50, seed=1), tmp_path / "a")
    generate(Settings(people=50, seed=2), tmp_path / "b")
    assert (tmp_path / "a/org.ldif").read_bytes() != (tmp_path / "b/org.ldif").read_bytes()


def test_determinism_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    """Sets of strings iterate in a per-process order: none may reach the output."""
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "toolkit.mocks.orggen", str(out), "-n", "120", "-q"],
                       check=True, env=env, cwd=ROOT)
        outs.append(files_of(out))
    assert outs[0] == outs[1]


# ---- the Exchange side -----------------------------------------------------


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ldif_reads_and_classifies_as_generated(orgs, name: str) -> None:
    org, summary = orgs[name]
    dialect = Dialect(CONFIGS[name].dialect)
    entries = list(read_ldif(org / "org.ldif"))
    assert len(entries) == summary.ldif_entries
    assert len({fold(e.dn) for e in entries}) == len(entries), "DNs must be unique"
    kinds: Counter[str] = Counter()
    with_ccmail: Counter[str] = Counter()
    for entry in entries:
        r = to_recipient(entry, dialect)
        kinds[r.kind.value if r else "not-recipient"] += 1
        if r and r.values:
            with_ccmail[r.kind.value] += 1
    assert dict(kinds) == summary.exchange
    assert dict(with_ccmail) == summary.exchange_with_ccmail
    streamed = Counter(r.kind.value for r in recipients(read_ldif(org / "org.ldif"), dialect))
    assert streamed == with_ccmail
    assert all(kinds[k.value] > 0 for k in (Kind.MAILBOX, Kind.CUSTOM_RECIPIENT, Kind.GROUP))
    assert kinds["not-recipient"] > 0


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ldif_is_written_like_an_export(orgs, name: str) -> None:
    org, _ = orgs[name]
    raw = (org / "org.ldif").read_bytes()
    if CONFIGS[name].utf16:
        assert raw.startswith(codecs.BOM_UTF16_LE)
        text = raw[2:].decode("utf-16-le")
        assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
        assert not text.isascii(), "ldifde -u writes non-ASCII text unencoded"
    else:
        text = raw.decode("ascii")  # everything else went out base64
        assert "cn:: " in text
        assert ("dn:: " in text) == (CONFIGS[name].dialect == "ad")  # 5.5 DNs use the alias
    lines = text.splitlines()
    assert "version: 1" in lines[:10]
    assert lines[0].startswith("#")
    assert max(len(line) for line in lines) <= 76
    assert any(line.startswith(" ") for line in lines), "long values are folded"
    if CONFIGS[name].dialect == "ad":
        assert "objectGUID:: " in text and "changetype: add" in text


def test_ad_objects_look_like_exchange(orgs) -> None:
    org, _ = orgs["ad"]
    by_kind: dict[Kind, list] = {}
    for entry in read_ldif(org / "org.ldif"):
        r = to_recipient(entry, Dialect.AD)
        if r:
            by_kind.setdefault(r.kind, []).append(entry)
    mailbox = next(e for e in by_kind[Kind.MAILBOX] if e.first("mailnickname"))
    for attr in ("cn", "sn", "givenname", "displayname", "samaccountname", "userprincipalname",
                 "mail", "mailnickname", "legacyexchangedn", "objectguid"):
        assert mailbox.get(attr), attr
    assert isinstance(mailbox.get("objectguid")[0], bytes)
    assert len(mailbox.get("objectguid")[0]) == 16
    proxies = [len(e.get("proxyaddresses")) for e in by_kind[Kind.MAILBOX]]
    assert 3.5 <= sum(proxies) / len(proxies) <= 5.5
    contacts = by_kind[Kind.CUSTOM_RECIPIENT]
    assert any(str(e.first("targetaddress")).startswith("CCMAIL:") for e in contacts)
    assert any("user" in e.texts("objectclass") for e in contacts), "mail-enabled users"
    assert any(v.startswith("CCMAIL:") for g in by_kind[Kind.GROUP]
               for v in g.texts("proxyaddresses"))


def test_exchange55_objects(orgs) -> None:
    org, _ = orgs["ex55"]
    seen = Counter()
    for entry in read_ldif(org / "org.ldif"):
        classes = {c.lower() for c in entry.texts("objectclass")}
        if "organizationalperson" in classes and entry.texts("othermailbox"):
            assert entry.first("uid") and entry.first("rfc822mailbox")
            assert entry.first("textencodedoraddress")
            seen["mailbox"] += 1
        if "remote-address" in classes:
            seen["target" if entry.get("target-address") else "targetAddress"] += 1
        if "groupofnames" in classes:
            assert entry.get("member")
            seen["list"] += 1
    assert seen["mailbox"] and seen["list"] and seen["target"] and seen["targetAddress"]


# ---- the cc:Mail side ------------------------------------------------------


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ccmail_files_read_with_the_project_reader(orgs, name: str) -> None:
    org, summary = orgs[name]
    settings = CONFIGS[name]
    paths = [str(org / "ccmail" / f"{po}.txt") for po in settings.ccmail_pos]
    directory = Directory.from_args(paths)
    assert directory.post_offices() == settings.ccmail_pos
    counts: dict[str, Counter[str]] = {}
    for e in directory.entries():
        counts.setdefault(e.file_po, Counter())[e.locn] += 1
    assert {po: dict(c) for po, c in counts.items()} == summary.ccmail_entries
    entries = list(directory.entries())
    assert connector_post_offices(entries) == list(settings.exchange_pos)
    assert {e.locn for e in entries} == set("PpLlRrAa")
    assert any(e.extra for e in entries), "unknown keys are part of real exports"
    assert any(e.messages is None for e in entries if e.locn == "L")
    assert any(e.messages for e in entries if e.locn == "L")
    for po in settings.exchange_pos:
        assert any(e.locn in "Rr" and e.po == po for e in entries), po
    assert any(e.locn in "Rr" and e.po in settings.spoke_pos for e in entries)
    assert any(e.locn in "Rr" and not e.addr.strip() for e in entries), "R, empty Addr"


def test_ccmail_files_are_cp850_with_header(orgs) -> None:
    org, _ = orgs["ad"]
    undecodable_as_utf8 = 0
    for po in CONFIGS["ad"].ccmail_pos:
        raw = (org / "ccmail" / f"{po}.txt").read_bytes()
        text = raw.decode("cp850")
        assert text.splitlines()[0] == f"Post office: {po}"
        assert "\r" not in text
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            undecodable_as_utf8 += 1
    assert undecodable_as_utf8 >= 3, "accented names must be written in cp850, as DOS did"


def test_ccmail_utf8_and_crlf(orgs) -> None:
    org, _ = orgs["ad-utf8-crlf"]
    raw = (org / "ccmail" / "HUBPO.txt").read_bytes()
    text = raw.decode("utf-8")
    assert text.startswith("Post office: HUBPO\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert (org / "org.ldif").read_bytes().count(b"\r\n") > 100


def test_hub_holds_the_connector_entry(orgs) -> None:
    org, _ = orgs["ad"]
    text = (org / "ccmail" / "HUBPO.txt").read_text(encoding="cp850")
    assert "Name: EXCH\nLocn: P\nAddr:\nComments: MSExchangeCCMC EXSRV01\n" in text


# ---- scenarios and expected-codes.json -------------------------------------


def test_every_finding_code_has_a_scenario() -> None:
    meant = {s.code for s in SCENARIOS}
    assert set(FILE_CODES) <= meant
    for dialect in ("ad", "exchange55"):
        codes = {s.code for s in applicable(dialect, 2)}
        missing = set(FILE_CODES) - codes
        assert missing <= ({"multiple-primaries"} if dialect == "exchange55" else set())


@pytest.mark.parametrize("name", ["ad", "ex55", "ad-utf16-2sites", "ex55-utf16-2sites"])
def test_every_scenario_present_at_300(orgs, name: str) -> None:
    org, summary = orgs[name]
    settings = CONFIGS[name]
    pool = applicable(settings.dialect, len(settings.exchange_pos))
    assert summary.people == 300
    assert sum(summary.scenarios.values()) == 300
    assert {s.name for s in pool} <= set(summary.scenarios)
    objects = expected(org)["objects"]
    drawn = {o["scenario"] for o in objects}
    assert {s.name for s in pool} <= drawn
    codes = {o["code"] for o in objects}
    wanted = set(FILE_CODES) - ({"multiple-primaries"} if settings.dialect != "ad" else set())
    assert wanted <= codes
    if len(settings.exchange_pos) == 2:
        assert "name-conflict-sites" in drawn


def test_expected_codes_cover_every_recipient(orgs) -> None:
    org, _ = orgs["ad"]
    data = expected(org)
    keys = [o["key"] for o in data["objects"]]
    assert len(keys) == len(set(keys))
    by_key = {o["key"]: o for o in data["objects"]}
    for r in recipients(read_ldif(org / "org.ldif"), Dialect.AD):
        obj = by_key["dn:" + fold(r.dn)]
        assert obj["code"] is not None, obj
        scenario = SCENARIO_BY_NAME.get(obj["scenario"])
        assert scenario is not None or obj["scenario"].startswith("background-")
    users = [o for o in data["objects"] if o["kind"] == "ccmail-user"]
    assert {o["code"] for o in users} == {"not-migrated", None}
    assert set(data["scenarios"]) == {s.name for s in applicable("ad", 1)}


INVALID_KINDS = {
    "invalid-no-at": "no ' at '",
    "invalid-empty-name": "empty name",
    "invalid-empty-po": "empty post office",
    "invalid-quote": "'\"'",
    "invalid-bracket": "'['",
    "invalid-control": "control character",
    "invalid-non-ascii-po": "post office may hold",
    "invalid-space-in-po": "post office may hold",
}


@pytest.mark.parametrize("name", ["ad", "ex55"])
def test_invalid_scenarios_carry_their_kind_of_invalid_value(orgs, name: str) -> None:
    org, _ = orgs[name]
    dialect = Dialect(CONFIGS[name].dialect)
    scenario_of = {o["key"]: o["scenario"] for o in expected(org)["objects"]}
    found: dict[str, set[str]] = {}
    for r in recipients(read_ldif(org / "org.ldif"), dialect):
        errors = {v.error for v in r.values if v.error}
        scenario = scenario_of["dn:" + fold(r.dn)]
        if scenario.startswith("invalid-"):
            assert len(errors) == 1, (r.dn, errors)
            found.setdefault(scenario, set()).update(e for e in errors if e)
        else:
            assert not errors, (scenario, r.dn, errors)
    assert set(found) == set(INVALID_KINDS)
    for scenario, fragment in INVALID_KINDS.items():
        assert any(fragment in e for e in found[scenario]), (scenario, found[scenario])


def test_tricky_but_valid_values(orgs) -> None:
    """`Cole, At at PO1`, upper-case AT, extra spaces, ccMail: all parse as valid."""
    org, _ = orgs["ad"]
    raws = [v for e in read_ldif(org / "org.ldif") for v in e.texts("proxyaddresses")]
    assert any(" AT " in v for v in raws)
    assert any("  " in v and v.upper().startswith("CCMAIL:") for v in raws)
    assert any(v.startswith("ccMail:") for v in raws)
    value = parse("CCMAIL:Cole, At at PO1", "CCMAIL", "Cole, At at PO1", "proxy")
    assert (value.name, value.po) == ("Cole, At", "PO1")
    names = {e.name for e in Directory.from_args(
        [str(org / "ccmail" / f"{po}.txt") for po in CONFIGS["ad"].ccmail_pos]).entries()}
    assert any(n.endswith(", At") or n.startswith("At ") or ", At " in n for n in names)
    assert any(not n.isascii() for n in names)


def test_stats_identities_name_mailboxes(orgs) -> None:
    org, summary = orgs["ad"]
    with (org / "stats.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["identity", "item_count"]
    assert len(rows) - 1 == summary.stats_lines
    mailboxes = [r for r in recipients(read_ldif(org / "org.ldif"), Dialect.AD,
                                       keep=lambda r: r.kind is Kind.MAILBOX)]
    index: dict[str, set[str]] = {}
    for m in mailboxes:
        for ident in (m.dn, m.primary_smtp, m.nickname, m.sam):
            if ident:
                index.setdefault(fold(ident), set()).add(m.dn)
    matched = set()
    for identity, count in rows[1:]:
        assert int(count) >= 0
        hits = index.get(fold(identity))
        if identity.startswith("departed."):
            assert hits is None
            continue
        assert hits is not None and len(hits) == 1, identity
        assert not hits & matched, "one line per mailbox"
        matched |= hits
    assert any(identity.startswith("CN=") for identity, _ in rows[1:])


# ---- the bundled demos ----------------------------------------------------

DEMOS = {
    "demo": Settings(people=300, seed=1, spokes=4),
    "demo55": Settings(people=36, seed=55, dialect="exchange55", spokes=2, annotate=True),
}


@pytest.mark.parametrize("name", list(DEMOS))
def test_bundled_demo_is_what_the_generator_makes(tmp_path: Path, name: str) -> None:
    """The committed demo must never drift from the generator (regenerate it with
    the command in its README)."""
    demo = ROOT / "mocks" / name
    generate(DEMOS[name], tmp_path)
    assert files_of(tmp_path) == files_of(demo)
    readme = (demo / "README").read_text(encoding="utf-8")
    assert f"python -m toolkit.mocks.orggen mocks/{name} " in readme
    assert f"ccmig audit --ldif mocks/{name}/org.ldif" in readme


def test_demo55_covers_every_55_scenario_once() -> None:
    data = expected(ROOT / "mocks" / "demo55")
    assert data["summary"]["scenarios"] == {s.name: 1 for s in applicable("exchange55", 1)}


# ---- the command line -----------------------------------------------------


def test_cli_help_and_wrapper() -> None:
    done = subprocess.run([sys.executable, "-m", "toolkit.mocks.orggen", "--help"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ,
                                                               "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "--dialect" in done.stdout and "org.ldif" in done.stdout
    wrapper = ROOT / "scripts" / "make-org"
    assert os.access(wrapper, os.X_OK)
    done = subprocess.run([str(wrapper), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--utf16" in done.stdout


def test_cli_refuses_to_mix_organisations(tmp_path: Path, capsys) -> None:
    out = tmp_path / "org"
    assert main([str(out), "-n", "10", "-q"]) == 0
    with pytest.raises(SystemExit) as exc:
        main([str(out), "-n", "10", "-q"])
    assert exc.value.code == 2
    assert "--force" in capsys.readouterr().err
    (out / "ccmail" / "PO4.txt").unlink()
    assert main([str(out), "-n", "10", "--post-offices", "2", "--force", "-q"]) == 0
    assert sorted(p.name for p in (out / "ccmail").iterdir()) == ["HUBPO.txt", "PO1.txt",
                                                                  "PO2.txt"]
    readme = (out / "README").read_text()
    assert "--force" not in readme and "--post-offices 2" in readme


def test_cli_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "x"), "--exchange-po", "PO1"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "x"), "--exchange-po", "EX CH"])
    assert exc.value.code == 2


def test_no_stats(tmp_path: Path) -> None:
    generate(Settings(people=20, stats=False), tmp_path)
    assert not (tmp_path / "stats.csv").exists()
    assert "--mailbox-stats" not in (tmp_path / "README").read_text()
