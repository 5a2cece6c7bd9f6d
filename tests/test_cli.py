"""CLI behaviour: check, output formats, global flags, profiles, credentials."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.orgkit import CONNECTOR, Org, ccmig, contact, entry, mailbox, podir


@pytest.fixture
def demo(org: Org) -> list[str]:
    org.objects = [
        mailbox("Smith, John", "SMTP:john.smith@corp.example", "smtp:js@corp.example",
                "CCMAIL:Smith, John at EXCH", "ccmail:Smith, John at PO1", nick="jsmith",
                sAMAccountName="JSMITH01", userPrincipalName="jsmith@corp.example"),
        mailbox("Doe, Jane", "CCMAIL:Doe, Jane at EXCH", "ccmail:Doe, Jane at PO2"),
        contact("Formula", "CCMAIL:=HYPERLINK(1) at PO3"),
    ]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR),
                "PO1": podir("PO1", entry("Smith, John", messages=4), entry("Lee, Ann"))}
    return org.write()


def test_check_matches_every_identity_kind(demo):
    for ident in ("jsmith", "JSMITH01", "jsmith@corp.example", "js@corp.example",
                  "john.smith@CORP.example", "Smith, John", "smith,  john AT po1",
                  "Smith, John at EXCH", "CN=Smith\\, John,OU=Staff,DC=corp,DC=example",
                  "dn:cn=smith\\, john,ou=staff,dc=corp,dc=example"):
        code, out, err = ccmig("check", *demo, ident, "--format", "json")
        rows = json.loads(out)
        assert [r["ccmail_name"] for r in rows] == ["Smith, John"], ident
        assert code == 1 and err == ""


def test_check_identity_order_each_row_once_and_unmatched(demo):
    code, out, err = ccmig("check", *demo, "Lee, Ann", "nobody", "Doe, Jane", "Lee, Ann at PO1",
                           "--format", "jsonl")
    names = [json.loads(line)["ccmail_name"] for line in out.splitlines()]
    assert names == ["Lee, Ann", "Doe, Jane"]
    assert err.strip() == "ccmig: no row matches identity 'nobody'"
    assert code == 1


def test_check_nothing_matched_exits_2(demo):
    code, out, err = ccmig("check", *demo, "nobody", "ghost")
    assert code == 2 and out == ""
    assert "'nobody'" in err and "'ghost'" in err and "no identity matched" in err


def test_check_from_file_csv_and_lines(demo, tmp_path):
    (tmp_path / "ids.csv").write_text("name,identity\nx,\"Doe, Jane\"\ny,jsmith\n")
    (tmp_path / "ids.txt").write_text("jsmith\n\nDoe, Jane\n")
    for f, expected in (("ids.csv", ["Doe, Jane", "Smith, John"]), ("ids.txt", ["Smith, John", "Doe, Jane"])):
        code, out, _ = ccmig("check", *demo, "--from-file", str(tmp_path / f), "--format", "json")
        assert [r["ccmail_name"] for r in json.loads(out)] == expected, f
    code, out, _ = ccmig("check", *demo, "--from-file", "-", "--format", "json",
                         input="Lee, Ann\n")
    assert [r["ccmail_name"] for r in json.loads(out)] == ["Lee, Ann"]
    assert code == 0  # info only, --fail-on warning


def test_csv_shape_and_spreadsheet_safety(demo):
    code, out, _ = ccmig("audit", *demo, "--format", "csv")
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == ["key", "dn", "kind", "ccmail_name", "old_post_office", "route", "status",
                        "code", "severity", "message", "action"]
    formula = [line for line in lines if line[2] == "custom-recipient"]
    assert formula and all(line[3] == "'=HYPERLINK(1)" for line in formula)
    smith = [line for line in lines if line[3] == "Smith, John"]
    assert [line[7] for line in smith] == ["stale-ccmail-mailbox"]
    code, out, _ = ccmig("audit", *demo, "--format", "json")
    assert any(r["ccmail_name"] == "=HYPERLINK(1)" for r in json.loads(out))  # JSON unchanged


def test_complete_row_is_one_csv_line_with_empty_code(org):
    org.objects = [mailbox("Ok", "CCMAIL:Ok at EXCH", "ccmail:Ok at PO1")]
    org.dirs = {"HUBPO": podir("HUBPO", entry("Ok", "r", "EXCH"))}
    code, out, _ = ccmig("audit", *org.write(), "--exchange-po", "EXCH", "--format", "csv")
    lines = list(csv.reader(io.StringIO(out)))
    assert len(lines) == 2 and lines[1][6:] == ["complete", "", "", "", ""]
    assert lines[1][5] == "exchange"
    assert code == 0


def test_filters_change_what_is_shown_not_what_rules_see(demo):
    code, out, _ = ccmig("audit", *demo, "--post-office", "po1", "--format", "json")
    rows = json.loads(out)
    assert sorted(r["ccmail_name"] for r in rows) == ["Lee, Ann", "Smith, John"]
    code, out, _ = ccmig("audit", *demo, "--status", "awaiting-dirsync", "--format", "json")
    assert [r["ccmail_name"] for r in json.loads(out)] == ["Doe, Jane"]
    code, out, _ = ccmig("audit", *demo, "--status", "not-migrated", "--format", "json")
    assert code == 0  # exit code judged on shown rows: info only


def test_table_fits_80_columns_and_summarises(demo):
    code, out, _ = ccmig("audit", *demo)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "4 row(s) by status:" in out
    assert "By old post office:" in out and "PO1" in out


def test_table_neutralises_terminal_escapes(org):
    org.objects = [mailbox("Esc", "CCMAIL:Evil\x1b[31mRed at EXCH")]
    code, out, _ = ccmig("audit", *org.write(), "--exchange-po", "EXCH")
    assert "\x1b" not in out


def test_output_file_written_atomically(demo, tmp_path):
    target = tmp_path / "out.json"
    code, out, _ = ccmig("audit", *demo, "--format", "json", "--output", str(target))
    assert out == "" and len(json.loads(target.read_text())) == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_global_flags_before_or_after_command(demo, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[profiles.lab]\nexchange-po = ["EXCH"]\nformat = "jsonl"\n')
    code1, out1, _ = ccmig("--config", str(cfg), "--profile", "lab", "-q", "audit", *demo)
    code2, out2, _ = ccmig("audit", *demo, "--config", str(cfg), "-q", "--profile", "lab")
    assert out1 == out2 and len(out1.splitlines()) == 4 and code1 == code2 == 1
    # Command line beats profile.
    code3, out3, _ = ccmig("audit", *demo, "--config", str(cfg), "--profile", "lab",
                           "--format", "json")
    assert out3.startswith("[")


def test_profile_paths_resolve_next_to_config(org, tmp_path, monkeypatch):
    org.objects = [mailbox("Doe, Jane", "CCMAIL:Doe, Jane at EXCH", "ccmail:Doe, Jane at PO2")]
    org.dirs = {"PO2": podir("PO2", entry("Doe, Jane"))}
    org.write()
    (org.root / "ccmig.toml").write_text(
        '[profiles.default]\nldif = "org.ldif"\nccmail-dir = ["PO2=PO2.txt"]\n'
        'exchange-po = "EXCH"\n')
    monkeypatch.chdir(tmp_path)
    code, out, err = ccmig("audit", "--config", str(org.root / "ccmig.toml"), "--format", "json")
    assert [r["status"] for r in json.loads(out)] == ["stale-ccmail-mailbox"], err


def test_config_errors(tmp_path, demo):
    bad = tmp_path / "bad.toml"
    bad.write_text("[profiles.x\n")
    code, _, err = ccmig("audit", *demo, "--config", str(bad))
    assert code == 2 and "bad.toml" in err and "TOML" in err
    good = tmp_path / "good.toml"
    good.write_text('[profiles.a]\nformat = "xml"\n[profiles.s]\npassword = "x"\n')
    code, _, err = ccmig("audit", *demo, "--config", str(good), "--profile", "a")
    assert code == 2 and "'format'" in err
    code, _, err = ccmig("audit", *demo, "--config", str(good), "--profile", "s")
    assert code == 2 and "keyring" in err and "x" not in err.split("holds")[1].split(":")[0][3:]
    code, _, err = ccmig("audit", *demo, "--config", str(good), "--profile", "missing")
    assert code == 2 and "'missing' not found" in err
    code, _, err = ccmig("audit", *demo, "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "none.toml" in err


def test_creds_set_get_delete_never_print_secret(isolated):
    code, out, _ = ccmig("creds", "set", "--profile", "prod", "--for", "ldap",
                         input="s3cret-Pa55\n")
    assert code == 0 and "s3cret" not in out
    assert isolated.store[("ccmig", "prod:ldap")] == "s3cret-Pa55"
    code, out, _ = ccmig("creds", "get", "--profile", "prod")
    assert code == 0 and "stored in keyring" in out and "s3cret" not in out
    code, out, _ = ccmig("--profile", "prod", "config", "show")
    assert "stored in keyring" in out and "s3cret" not in out
    assert ccmig("creds", "delete", "--profile", "prod")[0] == 0
    code, out, _ = ccmig("creds", "get", "--profile", "prod")
    assert "not in keyring" in out
    code, _, err = ccmig("creds", "delete", "--profile", "prod")
    assert code == 2


def test_config_init_writes_example(tmp_path):
    target = tmp_path / "c.toml"
    assert ccmig("config", "init", "--path", str(target))[0] == 0
    assert "[profiles.default]" in target.read_text()
    code, _, err = ccmig("config", "init", "--path", str(target))
    assert code == 2 and "exists" in err


def test_recipients_lists_values(demo):
    code, out, _ = ccmig("recipients", *demo[:2], "--format", "json")
    got = {r["dn"].split(",")[0]: r for r in json.loads(out)}
    assert [v["value"] for v in got["CN=Smith\\"]["values"]] == [
        "CCMAIL:Smith, John at EXCH", "ccmail:Smith, John at PO1"]
    assert got["CN=Formula"]["values"][0]["source"] == "target"


def test_version_and_help_examples():
    import click

    from toolkit.cli.main import cli

    code, out, _ = ccmig("--version")
    assert code == 0 and "ccmig" in out

    def leaves(group, path):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                yield from leaves(command, [*path, name])
            else:
                yield [*path, name]

    commands = list(leaves(cli, []))
    assert len(commands) >= 15
    for cmd in commands:
        code, out, _ = ccmig(*cmd, "--help")
        assert code == 0 and "Examples:" in out, cmd


def test_python_dash_m_works():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "toolkit", "--version"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0 and "0.1.0" in proc.stdout


def test_no_keyring_backend_names_the_fix(monkeypatch):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    code, _, err = ccmig("creds", "set", "--for", "ldap", input="secret-value\n")
    assert code == 2 and "keyrings.alt" in err and "secret-value" not in err
    code, out, _ = ccmig("creds", "get")
    assert code == 0 and "no keyring backend" in out
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", "from-env")  # env still works without a keyring
    from toolkit.credentials import get_secret

    assert get_secret("default", "ldap") == "from-env"


def test_fields_pick_columns(demo):
    code, out, _ = ccmig("audit", *demo, "--format", "csv", "--fields", "ccmail_name,status,code")
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == ["ccmail_name", "status", "code"]
    assert ["Smith, John", "stale-ccmail-mailbox", "stale-ccmail-mailbox"] in lines
    code, out, _ = ccmig("audit", *demo, "--fields", "status,route")
    assert out.splitlines()[0].split() == ["STATUS", "ROUTE"]
    code, _, err = ccmig("audit", *demo, "--fields", "status,bogus")
    assert code == 2 and "bogus" in err
    code, _, err = ccmig("audit", *demo, "--format", "json", "--fields", "status")
    assert code == 2 and "--fields" in err


def test_log_file_is_json_lines(demo, tmp_path):
    log = tmp_path / "run.log"
    code, _, err = ccmig("audit", *demo, "--log-file", str(log), "--format", "json")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any("inferred" in r["message"] for r in records)  # info level reaches the file
    assert "inferred" not in err  # ... but not stderr at the default level


def test_progress_only_on_a_terminal(monkeypatch):
    import sys

    from toolkit import progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert list(progress.counting(range(5), "objects", every=0)) == [0, 1, 2, 3, 4]
    assert tty.getvalue().endswith("\robjects: 5\n")
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    assert list(progress.counting(range(3), "objects")) == [0, 1, 2]
    assert pipe.getvalue() == ""


def test_output_to_a_special_file_is_written_not_replaced(demo, tmp_path):
    """-o /dev/null (or a FIFO) must not turn the device into a regular file."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, out, _ = ccmig("audit", *demo, "--format", "json", "--output", str(fifo))
    reader.join(10)
    assert out == "" and len(json.loads(got[0])) == 4
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_file_mode_follows_umask(demo, tmp_path):
    import os

    old = os.umask(0o022)
    try:
        ccmig("audit", *demo, "--format", "json", "--output", str(tmp_path / "r.json"))
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_colour_only_on_a_terminal_and_not_with_no_color(monkeypatch, org):
    from toolkit.model import Finding, Kind, Row
    from toolkit.render.table import write_table

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    rows = [Row("k", "dn", Kind.MAILBOX, "Smith, John", "PO1", "ccmail-mailbox",
                [Finding("stale-ccmail-mailbox", "error", "m", "a")])]
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = Tty()
    write_table(rows, tty)
    assert "\x1b[31mstale-ccmail-mailbox" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    tty = Tty()
    write_table(rows, tty)
    assert "\x1b" not in tty.getvalue()
    plain = io.StringIO()
    monkeypatch.delenv("NO_COLOR")
    write_table(rows, plain)
    assert "\x1b" not in plain.getvalue()


def test_a_command_imports_only_its_own_module(tmp_path):
    """The root imports a command's module when the command is asked for
    (toolkit.cli.main.COMMANDS): `ccmig --version` loads no command module, and
    running `check` loads toolkit.cli.audit but not the proxies, remediation,
    settings or history code. A profile key is still checked against every
    command's options (check_profile_keys asks for each command)."""
    import subprocess
    import sys

    from toolkit.cli.main import COMMANDS, cli

    probe = ("import sys; from toolkit.cli.main import run; code = run(sys.argv[1:]); "
             "print(sorted(m for m in sys.modules if m.startswith('toolkit.cli.')))")

    def loaded(*args):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                              text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin",
                                                            "HOME": str(tmp_path)})
        return proc.stdout.strip().splitlines()[-1]

    modules = {m for m, _ in COMMANDS.values()}
    version = loaded("--version")
    assert not any(f"'{m}'" in version for m in modules), version
    check = loaded("check", "--ldif", "/dev/null", "--exchange-po", "EXCH", "nobody")
    assert "'toolkit.cli.audit'" in check
    for other in modules - {"toolkit.cli.audit"}:
        assert f"'{other}'" not in check, (other, check)
    # every name listed is a command its module defines, under that name
    import click

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        assert cli.get_command(ctx, name).name == name
    assert cli.get_command(ctx, "no-such-command") is None
