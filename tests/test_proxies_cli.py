"""``ccmig proxies types`` / ``audit`` through the CLI, on LDIF files written
here (AD and Exchange 5.5): formats, exit codes, refusals, hostile values,
byte-identical output under any hash seed."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.orgkit import CONNECTOR, Org, ccmig, contact, entry, group, mail_user, mailbox, podir

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ['CCMAIL:Smith, "Jo" [x] at PO1', "CCMAIL:Tab\tName at PO1", "SMTP:two@at@corp.example",
           " smtp:lead@corp.example", "smtp:trail@corp.example ", "MS:=HYPERLINK(1)"]


@pytest.fixture
def ad(org: Org) -> list[str]:
    org.objects = [
        mailbox("Smith, John", "SMTP:john@corp.example", "CCMAIL:Smith, John at EXCH",
                "ccmail:Smith, John at PO1", "MS:CORP/HQ/JSMITH", "X400:c=US;a= ;p=Corp;s=Smith;",
                "x500:/o=Corp/ou=HQ/cn=jsmith"),
        mailbox("Lee, Ann", "SMTP:ann@corp.example", "CCMAIL:Lee, Ann at EXCH", "MS:CORP/HQ/ALEE",
                *HOSTILE),
        contact("Old, Contact", "MS:CORP/HQ/OLD", "smtp:john@corp.example"),
        mail_user("Mail, User", "SMTP:mu@else.example", "smtp:mu@corp.example", "gwise:mu.po.dom"),
        group("Sales", "SMTP:sales@corp.example", "MS:CORP/HQ/SALES"),
    ]
    org.dirs = {"PO1": podir("PO1", entry("Smith, John"), entry("Lee, Ann", "R", addr="PO9"))}
    return org.write()


def rows_of(out: str) -> dict[str, dict]:
    return {r["dn"].split(",OU=")[0][3:].replace("\\,", ","): r for r in json.loads(out)}


def test_audit_json_rows_remove_and_exit_code(ad):
    code, out, err = ccmig("proxies", "audit", *ad, "--retire", "ms", "--retire", "CCMAIL",
                           "--format", "json")
    assert code == 1, err
    rows = rows_of(out)
    assert [r["key"] for r in json.loads(out)] == sorted(r["key"] for r in json.loads(out))
    smith = rows["Smith, John"]
    assert smith["remove"] == ["MS:CORP/HQ/JSMITH"]
    assert [f["code"] for f in smith["findings"]] == ["duplicate-proxy", "retired-in-use",
                                                      "retired-address"]
    assert rows["Old, Contact"]["remove"] == []
    assert [f["code"] for f in rows["Old, Contact"]["findings"]] == ["duplicate-proxy",
                                                                    "retired-target"]
    lee = rows["Lee, Ann"]
    assert lee["values"] == 3 + len(HOSTILE)
    # an R entry is a user entry: Lee's valid CCMAIL primary is kept; the invalid one goes whole
    assert lee["remove"] == ["MS:CORP/HQ/ALEE", 'CCMAIL:Smith, "Jo" [x] at PO1',
                             "CCMAIL:Tab\tName at PO1", "MS:=HYPERLINK(1)"]
    malformed = lee["findings"][0]["message"]
    for value in HOSTILE[1:5]:
        assert f"'{value}'" in malformed  # reported as read, never rewritten
    assert rows["Sales"]["remove"] == ["MS:CORP/HQ/SALES"]
    assert "Mail, User" not in rows
    assert err == ""


def test_audit_fail_on_and_formats(ad):
    args = ["proxies", "audit", *ad, "--retire", "GWISE"]
    code, out, _ = ccmig(*args, "--format", "jsonl")
    rows = {r["dn"].split(",OU=")[0]: r for r in map(json.loads, out.splitlines())}
    assert code == 1 and rows["CN=Mail\\, User"]["remove"] == ["gwise:mu.po.dom"]
    assert ccmig(*args, "--fail-on", "never")[0] == 0
    assert ccmig(*args, "--fail-on", "error", "--format", "json")[0] == 1  # malformed, duplicate
    code, out, _ = ccmig("proxies", "audit", "--ldif", ad[1], "--retire", "GWISE", "--fail-on",
                         "error", "--format", "json")
    assert code == 1
    code, table, _ = ccmig(*args)
    assert "retired-address" in table and "\t" not in table


def test_audit_csv_columns_remove_json_and_spreadsheet_safety(ad):
    code, out, _ = ccmig("proxies", "audit", *ad, "--retire", "MS", "--format", "csv")
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == ["key", "dn", "kind", "values", "remove", "status", "code", "severity",
                        "message", "action"]
    lee = [line for line in lines if line[1].startswith("CN=Lee")]
    assert [line[6] for line in lee] == ["malformed-proxy", "retired-address"]
    assert json.loads(lee[0][4])[-1] == "MS:=HYPERLINK(1)"
    json_out = ccmig("proxies", "audit", *ad, "--retire", "MS", "--format", "json")[1]
    assert json.loads(json_out)  # JSON carries values unchanged, CSV cells are made safe:
    formula = ccmig("proxies", "audit", "--ldif", ad[1], "--retire", "NOPE", "--format", "csv")[1]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in csv.reader(io.StringIO(formula))
               for cell in row)


def test_types_formats(ad):
    code, out, err = ccmig("proxies", "types", *ad, "--retire", "MS", "--retire", "NOTES",
                           "--format", "json")
    assert code == 0, err
    rows = {r["type"]: r for r in json.loads(out)}
    assert [r["type"] for r in json.loads(out)] == sorted(rows)
    assert rows["MS"] == {"type": "MS", "objects": 3, "values": 4, "primaries": 4, "retired": True,
                          "policies": None}
    assert rows["NOTES"]["objects"] == 0 and rows["NOTES"]["retired"] is True
    assert rows["SMTP"]["primaries"] == 4 and rows["X500"]["primaries"] == 0
    assert rows[" SMTP"]["values"] == 1  # the type as read: a leading space is no SMTP
    code, out, _ = ccmig("proxies", "types", *ad, "--format", "csv")
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == ["type", "objects", "values", "primaries", "retired", "policies"]
    assert ["CCMAIL", "2", "5", "4", "false", ""] in lines
    code, out, _ = ccmig("proxies", "types", *ad)
    assert out.splitlines()[0].split() == ["TYPE", "OBJECTS", "VALUES", "PRIMARIES", "RETIRED",
                                           "POLICIES"]


def test_refusals_exit_2(ad, org):
    for retire, words in (("SMTP", "SMTP"), ("x500", "X500"), ("a b", "'a b'"), ("MS:", "'MS:'")):
        code, out, err = ccmig("proxies", "audit", *ad, "--retire", retire)
        assert code == 2 and out == "" and words in err and "--retire" in err, retire
        assert "Traceback" not in err
    code, _, err = ccmig("proxies", "audit", "--ldif", ad[1], "--retire", "CCMAIL")
    assert code == 2 and "--ccmail-decommissioned" in err
    assert ccmig("proxies", "types", "--ldif", ad[1], "--retire", "CCMAIL")[0] == 0
    assert ccmig("proxies", "audit", "--ldif", ad[1], "--retire", "CCMAIL",
                 "--ccmail-decommissioned", "--format", "json")[0] == 1
    hub = org.root / "HUB.txt"
    hub.write_text(podir("HUB", CONNECTOR))
    code, _, err = ccmig("proxies", "audit", *ad, "--ccmail-dir", str(hub), "--retire", "CCMAIL")
    assert code == 2 and "HUB.txt:3" in err and "connector" in err and "KB" in err
    assert ccmig("proxies", "audit", *ad, "--ccmail-dir", str(hub), "--retire", "MS",
                 "--fail-on", "never")[0] == 0
    assert ccmig("proxies", "audit", *ad, "--max-values", "-1")[0] == 2
    assert ccmig("proxies", "audit", *ad, "--exchange-po", "EXCH")[0] == 2
    code, _, err = ccmig("proxies", "audit", *ad, "--source", "powershell")
    assert code == 2 and "--source" in err


def test_max_values(ad):
    code, out, _ = ccmig("proxies", "audit", *ad, "--max-values", "6", "--format", "json")
    rows = rows_of(out)
    assert [f["code"] for f in rows["Lee, Ann"]["findings"]][-1] == "too-many-values"
    assert "too-many-values" not in [f["code"] for f in rows["Smith, John"]["findings"]]


EX55 = """version: 1

dn: cn=jsmith,cn=Recipients,ou=Site,o=Org
objectClass: organizationalPerson
cn: Smith, John
mail: John.Smith@org.example
rfc822Mailbox: John.Smith@org.example
textEncodedORAddress: c=US;a= ;p=Org;o=Site;s=Smith;g=John;
otherMailbox: MS$ORG/SITE/JSMITH
otherMailbox: CCMAIL$Smith, John at PO1
otherMailbox: CCMAIL$Smith, John at EXSITE

dn: cn=sales,cn=Recipients,ou=Site,o=Org
objectClass: groupOfNames
cn: Sales
mail: sales@org.example
rfc822Mailbox: SALES@org.example
otherMailbox: MS$ORG/SITE/SALES
otherMailbox: ms$org/site/jsmith

dn: cn=old,cn=Recipients,ou=Site,o=Org
objectClass: remote-address
cn: Old
Target-Address: MS:ORG/SITE/OLD
otherMailbox: CCMAIL$Old at PO2

dn: cn=srv,ou=Site,o=Org
objectClass: organizationalUnit
otherMailbox: MS$ORG/SITE/SRV
"""


def test_exchange55_dialect(tmp_path):
    ldif = tmp_path / "org55.ldif"
    ldif.write_text(EX55)
    base = ["--ldif", str(ldif), "--dialect", "exchange55"]
    code, out, err = ccmig("proxies", "types", *base, "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [
        {"type": "CCMAIL", "objects": 2, "values": 3, "primaries": None, "retired": False,
         "policies": None},
        {"type": "MS", "objects": 2, "values": 3, "primaries": None, "retired": False,
         "policies": None},
        {"type": "SMTP", "objects": 2, "values": 2, "primaries": None, "retired": False,
         "policies": None},
        {"type": "X400", "objects": 1, "values": 1, "primaries": None, "retired": False,
         "policies": None},
    ]
    code, out, err = ccmig("proxies", "audit", *base, "--retire", "MS", "--retire", "CCMAIL",
                           "--ccmail-decommissioned", "--format", "json")
    rows = {r["dn"].split(",")[0]: r for r in json.loads(out)}
    assert rows["cn=jsmith"]["remove"] == ["MS:ORG/SITE/JSMITH", "CCMAIL:Smith, John at PO1",
                                           "CCMAIL:Smith, John at EXSITE"]
    assert rows["cn=jsmith"]["values"] == 5
    assert [f["code"] for f in rows["cn=sales"]["findings"]] == ["duplicate-proxy",
                                                                "retired-address"]
    assert [f["code"] for f in rows["cn=old"]["findings"]] == ["retired-target"]
    assert "cn=srv" not in rows


def outputs_under_seeds(args: list[str], code: int, seeds=("0", "1", "4242")) -> set[bytes]:
    """stdout of ``python -m toolkit ARGS`` under each PYTHONHASHSEED (a set:
    one element when the bytes never change)."""
    seen = set()
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True,
                              env=env, cwd=ROOT, check=False)
        assert done.returncode == code, done.stderr
        seen.add(done.stdout)
    return seen


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_same_bytes_under_any_hash_seed(ad, fmt):
    args = ["proxies", "audit", *ad, "--retire", "MS", "--retire", "CCMAIL", "--retire", "GWISE",
            "--max-values", "3", "--format", fmt]
    assert len(outputs_under_seeds(args, 1)) == 1
    types = ["proxies", "types", *ad, "--retire", "MS", "--retire", "Z", "--format", fmt]
    assert len(outputs_under_seeds(types, 0, ("0", "7", "99"))) == 1


@pytest.mark.parametrize("fmt", ["json", "ps1", "ldif"])
def test_plan_same_bytes_under_any_hash_seed(ad, fmt):
    args = ["proxies", "plan", *ad, "--retire", "MS", "--retire", "CCMAIL", "--retire", "GWISE",
            "--format", fmt]
    seen = outputs_under_seeds(args, 0, ("0", "3", "12345"))
    assert len(seen) == 1 and len(next(iter(seen))) > 200


def test_output_file_and_help(ad, tmp_path):
    target = tmp_path / "p.json"
    code, out, _ = ccmig("proxies", "audit", *ad, "--retire", "MS", "--format", "json", "-o",
                         str(target))
    assert out == "" and json.loads(target.read_text())
    code, out, _ = ccmig("proxies", "--help")
    assert code == 0 and "types" in out and "audit" in out


def test_docs_name_every_proxy_code_and_only_real_options():
    import re

    from toolkit.proxies.rules import CODES

    findings = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"### `{code}`" in findings, code
    text = (ROOT / "docs" / "proxies.md").read_text(encoding="utf-8")
    now = text.split("## Coming next")[0]
    helps = ccmig("proxies", "audit", "--help")[1] + ccmig("proxies", "types", "--help")[1]
    helps += ccmig("apply", "--help")[1] + ccmig("undo", "--help")[1]  # the page's apply/undo
    helps += ccmig("proxies", "report", "--help")[1]
    # the page also starts the mock Exchange endpoint: its options are real too
    helps += subprocess.run([sys.executable, "-m", "toolkit.mocks.exchange", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    for option in set(re.findall(r"(--[a-z][a-z0-9-]+)", now)):
        assert option in helps, option


def test_docs_examples_run_as_shown(org: Org, tmp_path, monkeypatch):
    """Every `ccmig proxies` command docs/proxies.md shows as working now runs
    (on small files of the names it uses; the live-LDAP one is covered by
    tests/test_proxies_live.py)."""
    import shlex

    org.objects = [mailbox("Smith, John", "SMTP:john@corp.example", "CCMAIL:Smith, John at EXCH",
                           "MS:CORP/HQ/JSMITH", "X400:c=US;a= ;p=Corp;s=Smith;")]
    org.dirs = {"PO1": podir("PO1", entry("Doe, Jane")), "PO2": podir("PO2", entry("Lee, Ann"))}
    org.write()
    monkeypatch.chdir(org.root)
    (org.root / "org55.ldif").write_text(EX55)
    text = (ROOT / "docs" / "proxies.md").read_text(encoding="utf-8").split("## Coming next")[0]
    blocks = [b.split("```")[0] for b in text.split("```sh\n")[1:]]
    commands = [shlex.split(line) for b in blocks for line in b.replace("\\\n", " ").splitlines()]
    ran = 0
    from tests.pxorg import PASSWORD, start

    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", PASSWORD)
    srv = start(org.root / "org.ldif")  # the examples' Exchange: the mock, loaded with org.ldif
    try:
        for argv in commands:
            if argv and argv[0] == "scripts/mock-exchange":
                continue  # starts a server: tests/test_proxies_powershell.py starts it the same way
            assert argv[0] == "ccmig"
            if "--ldap-url" in argv:
                continue  # a live directory: tests/test_proxies_live.py
            if "--exchange-uri" in argv:  # run against the mock, as shown but for the URI
                argv[argv.index("--exchange-uri") + 1] = srv.uri
                argv += ["--exchange-auth", "basic", "--exchange-user", srv.core.username,
                         "--allow-unencrypted"]
            code, _, err = ccmig(*argv[1:])
            assert code in (0, 1), (argv, err)
            ran += 1
    finally:
        srv.stop()
    assert ran >= 5


def test_utf16_ldifde_export_gives_the_same_rows(ad, tmp_path):
    """ldifde -u writes UTF-16 with a BOM: the same organisation, the same bytes out."""
    utf16 = tmp_path / "org16.ldif"
    utf16.write_text(Path(ad[1]).read_text(encoding="utf-8").replace("\n", "\r\n"),
                     encoding="utf-16")
    args = ["proxies", "audit", "--retire", "MS", "--retire", "GWISE", "--format", "json"]
    first = ccmig(*args, *ad)[1]
    assert first == ccmig(*args, "--ldif", str(utf16), *ad[2:])[1]
    assert json.loads(first)


# ---------------------------------------------------------------- the JSON writer's fast path


def test_audit_json_gives_the_general_encoders_text_for_awkward_rows():
    """``render.proxies.audit_json`` fills a template instead of encoding
    dicts: it must give exactly ``dumps(row.as_dict())``, for every character
    JSON escapes, non-ASCII text, empty and several-valued lists, and fall
    back to the general encoder for a row holding something else."""
    from toolkit.model import Finding
    from toolkit.proxies.model import ProxyKind, ProxyRow
    from toolkit.render.jsonout import dumps
    from toolkit.render.proxies import audit_json, write_audit

    odd = 'q"uote\\back\tslash\x00\x1f\x7f\u2028 é 漢 \U0001f600'
    f1 = Finding("retired-address", "warning", odd, "act " + odd)
    f2 = Finding("duplicate-proxy", "error", "", "")
    rows = [
        ProxyRow("dn:" + odd, "CN=" + odd, ProxyKind.MAILBOX, 3, ("X400:" + odd, "MS:a"),
                 (f1, f2)),
        ProxyRow("dn:b", "CN=b", ProxyKind.USER, 0, (), (f2,)),
        ProxyRow("dn:c", "CN=c", ProxyKind.GROUP, "7", (), ()),  # type: ignore[arg-type]  # fallback
    ]
    assert list(audit_json(rows)) == [dumps(r.as_dict()) for r in rows]
    out = io.StringIO()
    write_audit(rows, "json", out)
    assert json.loads(out.getvalue()) == [r.as_dict() for r in rows]
    assert out.getvalue() == "[\n  " + ",\n  ".join(dumps(r.as_dict()) for r in rows) + "\n]\n"
    empty = io.StringIO()
    write_audit([], "json", empty)
    assert empty.getvalue() == "[]\n"
    lines = io.StringIO()
    write_audit(rows, "jsonl", lines)
    assert lines.getvalue() == "".join(dumps(r.as_dict()) + "\n" for r in rows)


def test_written_primary_ascii_shortcut_agrees_with_the_rule():
    """``written_primary`` answers ASCII types with ``str.isupper``: the same
    as 'has a letter and no lower-case letter' for every ASCII text."""
    import itertools

    from toolkit.proxies.model import written_primary

    alphabet = "aZ0 :-_\x00\x7f"
    for n in range(4):
        for chars in itertools.product(alphabet, repeat=n):
            t = "".join(chars)
            rule = any(c.isalpha() for c in t) and not any(c.islower() for c in t)
            assert written_primary(t) is rule, repr(t)
    assert written_primary("ÉX") is True and written_primary("Éx") is False
    assert written_primary("漢字") is True  # letters without case: no lower-case letter
