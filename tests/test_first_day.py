"""Issue 16, "getting started": what a first-day admin meets before the audit
itself — the keyring, profiles, the quoted glob, the first `diff`, the mock
Exchange endpoint started as docs/powershell.md shows it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import keyring
import pytest

from tests.orgkit import ccmig

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mocks" / "demo"


# --------------------------------------------------------------------------- 4: keyring


@pytest.fixture
def plaintext(monkeypatch, tmp_path):
    """keyrings.alt's PlaintextKeyring (a test extra), its file under tmp_path."""
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    backend = PlaintextKeyring()
    keyring.set_keyring(backend)  # the autouse fixture puts its own back afterwards
    return backend


def test_plaintext_keyring_is_refused_naming_the_file(plaintext):
    code, out, err = ccmig("creds", "set", "--for", "ldap", input="Pl41n-secret\n")
    assert code == 2 and out == ""
    assert "keyrings.alt.file.PlaintextKeyring" in err and plaintext.file_path in err
    assert "--allow-plaintext-keyring" in err and "Pl41n" not in err
    assert not os.path.exists(plaintext.file_path)  # nothing written
    code, out, _ = ccmig("creds", "get", "--for", "ldap")
    assert code == 0 and "UNENCRYPTED" in out and "refused" in out


def test_plaintext_keyring_only_when_the_user_opts_in(plaintext, tmp_path, monkeypatch):
    code, out, err = ccmig("creds", "set", "--for", "ldap", "--allow-plaintext-keyring",
                           input="Pl41n-secret\n")
    assert code == 0, err
    assert "UNENCRYPTED" in out and plaintext.file_path in out and "Pl41n" not in out
    assert plaintext.get_password("ccmig", "default:ldap") == "Pl41n-secret"
    # Reading it back is refused too unless the user accepted it...
    from toolkit import credentials

    assert credentials.get_secret("default", "ldap") is None
    monkeypatch.setenv("CCMIG_ALLOW_PLAINTEXT_KEYRING", "1")
    assert credentials.get_secret("default", "ldap") == "Pl41n-secret"
    monkeypatch.delenv("CCMIG_ALLOW_PLAINTEXT_KEYRING")
    # ... and a profile may say so once, for every command run with it.
    cfg = tmp_path / "c.toml"
    cfg.write_text("[profiles.lab]\nallow-plaintext-keyring = true\n", encoding="utf-8")
    code, out, err = ccmig("creds", "set", "--config", str(cfg), "--profile", "lab",
                           "--for", "exchange", input="other\n")
    assert code == 0, err
    code, out, _ = ccmig("creds", "get", "--config", str(cfg), "--profile", "lab",
                         "--for", "exchange")
    assert "stored in" in out and "accepted" in out
    # Deleting is always allowed: that is how the file is cleared.
    assert ccmig("creds", "delete", "--for", "ldap")[0] == 0
    assert plaintext.get_password("ccmig", "default:ldap") is None


def test_an_unknown_backend_is_not_assumed_to_encrypt(isolated, monkeypatch):
    from toolkit import credentials

    monkeypatch.setattr(credentials, "ENCRYPTED_BACKENDS", frozenset())
    code, _, err = ccmig("creds", "set", "--for", "ldap", input="x-secret\n")
    assert code == 2 and "not known to encrypt" in err and isolated.store == {}


def test_encrypted_backends_are_named_exactly():
    """The allow-list names real classes: a typo would refuse a good keyring."""
    import importlib

    from toolkit.credentials import ENCRYPTED_BACKENDS

    for name in ENCRYPTED_BACKENDS:
        module, _, cls = name.rpartition(".")
        try:
            loaded = importlib.import_module(module)
        except ImportError:  # platform- or extra-specific module (macOS, Windows, cryptfile)
            continue
        assert hasattr(loaded, cls), name


def test_demo_installs_no_test_extras():
    demo = (ROOT / "scripts" / "demo").read_text(encoding="utf-8")
    env = (ROOT / "scripts" / "_env.sh").read_text(encoding="utf-8")
    assert 'CCMIG_EXTRAS=""' in demo and 'CCMIG_EXTRAS="test' in (
        ROOT / "scripts" / "test").read_text(encoding="utf-8")
    assert '-e ".${EXTRAS:+[$EXTRAS]}"' in env and ".[test]" not in env
    # Run the install line as the demo would: no extras at all.
    line = next(x for x in env.splitlines() if "pip install" in x)
    shown = subprocess.run(["bash", "-c", f'EXTRAS=""; echo {line.split("-e ", 1)[1]}'],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "."
    security = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert "--allow-plaintext-keyring" in security and "PlaintextKeyring" in security


# --------------------------------------------------------------------------- 7, 8: profiles


def test_config_init_warns_when_ccmig_config_points_elsewhere(tmp_path, monkeypatch):
    demo = tmp_path / "demo.toml"
    demo.write_text("[profiles.demo]\n", encoding="utf-8")
    monkeypatch.setenv("CCMIG_CONFIG", str(demo))
    code, out, err = ccmig("config", "init")
    assert code == 0 and "wrote" in out
    assert "$CCMIG_CONFIG" in err and str(demo) in err and "unset CCMIG_CONFIG" in err
    monkeypatch.delenv("CCMIG_CONFIG")
    code, out, err = ccmig("config", "init", "--path", str(tmp_path / "x.toml"))
    assert code == 0 and err == ""


def test_unknown_profile_refused_by_creds_and_config_show(tmp_path, isolated):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[profiles.lab]\n[profiles.prod]\n", encoding="utf-8")
    for args in (["creds", "set", "--for", "ldap"], ["creds", "get"], ["config", "show"]):
        code, out, err = ccmig(*args, "--config", str(cfg), "--profile", "lba", input="s3\n")
        assert code == 2, args
        assert "'lba' not found" in err and "'lab', 'prod'" in err and out == ""
    assert isolated.store == {}
    code, _, err = ccmig("audit", "--ldif", str(DEMO / "org.ldif"), "--config", str(cfg),
                         "--profile", "lba")
    assert code == 2 and "'lab', 'prod'" in err  # audit says the same
    # Before any configuration file exists, a profile may be only keyring entries.
    code, _, err = ccmig("creds", "set", "--profile", "prod", "--for", "ldap", input="s3\n")
    assert code == 0, err


# --------------------------------------------------------------------------- 9: globs


def test_ccmail_dir_accepts_a_quoted_glob(tmp_path):
    shutil.copytree(DEMO / "ccmail", tmp_path / "exports")
    base = ["audit", "--ldif", str(DEMO / "org.ldif"), "--exchange-po", "EXCH",
            "--format", "json"]
    files = sorted((tmp_path / "exports").glob("*.txt"))
    repeated = [a for f in files for a in ("--ccmail-dir", str(f))]
    code1, out1, err = ccmig(*base, *repeated)
    code2, out2, err2 = ccmig(*base, "--ccmail-dir", str(tmp_path / "exports" / "*.txt"))
    assert (code1, out1) == (code2, out2) and json.loads(out2), err2
    code, _, err = ccmig(*base, "--ccmail-dir", str(tmp_path / "nowhere" / "*.txt"))
    assert code == 2 and "no file matches" in err and "--ccmail-dir" in err
    code, _, err = ccmig(*base, "--ccmail-dir", f"PO1={tmp_path / 'exports' / '*.txt'}")
    assert code == 2 and "one post office" in err
    # Expanded once, before anything is recorded: a record (or a plan) names the files.
    ccmig(*base, "--ccmail-dir", str(tmp_path / "exports" / "*.txt"), "--record",
          str(tmp_path / "runs"), "-o", str(tmp_path / "out.json"))
    (run,) = (tmp_path / "runs").glob("*.json")
    recorded = json.loads(run.read_text(encoding="utf-8"))["inputs"]["ccmail_dirs"]
    assert recorded == [str(f) for f in files]


def test_unquoted_glob_error_suggests_quoting_or_repeating(tmp_path):
    code, out, err = ccmig("audit", "--ldif", str(DEMO / "org.ldif"), "--ccmail-dir",
                           str(DEMO / "ccmail" / "HUBPO.txt"), str(DEMO / "ccmail" / "PO1.txt"))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "unexpected extra argument" in err and "repeat --ccmail-dir" in err
    code, _, err = ccmig("history", "--record", str(tmp_path), "extra")
    assert code == 2 and "ccmail-dir" not in err  # the hint only where it applies


def test_readme_glob_form_is_quoted():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--ccmail-dir 'exports/*.txt'" in readme
    assert "--ccmail-dir exports/*.txt" not in readme


# --------------------------------------------------------------------------- 10: diff


def test_diff_after_the_first_run_says_record_another(tmp_path):
    runs = tmp_path / "runs"
    args = ["--ldif", str(DEMO / "org.ldif"), "--ccmail-dir", str(DEMO / "ccmail" / "*.txt"),
            "--exchange-po", "EXCH"]
    assert ccmig("audit", *args, "--record", str(runs), "-q", "-o", str(tmp_path / "a"))[0] == 1
    code, out, err = ccmig("diff", "--record", str(runs))
    assert code == 2 and out == ""
    assert "only one run recorded yet" in err and "record another" in err


# --------------------------------------------------------------------------- 11: mock Exchange


@pytest.fixture
def mock_exchange():
    """scripts/mock-exchange started exactly as docs/powershell.md shows it."""
    env = dict(os.environ, MOCK_EXCHANGE_PASSWORD="Mock-Pa55")
    proc = subprocess.Popen([str(ROOT / "scripts" / "mock-exchange"), "--ldif",
                             str(DEMO / "org.ldif"), "--stats", str(DEMO / "stats.csv"),
                             "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_mock_accepts_the_default_exchange_auth_and_hints_on_failure(mock_exchange,
                                                                      monkeypatch):
    args = ["audit", "--ldif", str(DEMO / "org.ldif"), "--ccmail-dir",
            str(DEMO / "ccmail" / "*.txt"), "--exchange-po", "EXCH", "--format", "json",
            "--exchange-uri", mock_exchange["uri"], "--exchange-user",
            mock_exchange["username"]]
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", "Mock-Pa55")
    code, out, err = ccmig(*args)  # no --exchange-auth: negotiate, ccmig's default
    assert code == 1 and len(json.loads(out)) == 350, err
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", "wrong-pa55")
    code, out, err = ccmig(*args)
    assert code == 3 and out == ""
    assert "for user 'CORP\\exadmin'" in err and "CORP\\\\exadmin" not in err
    assert "--exchange-auth negotiate" in err and "choose another with --exchange-auth" in err
    assert "wrong-pa55" not in err
    doc = (ROOT / "docs" / "powershell.md").read_text(encoding="utf-8")
    assert "--basic-only" in doc


# --------------------------------------------------------------------------- 15: -v


def test_verbose_says_which_source_was_read_and_how_much():
    import re

    code, _, err = ccmig("audit", "--ldif", str(DEMO / "org.ldif"), "--ccmail-dir",
                         str(DEMO / "ccmail" / "*.txt"), "-v", "--format", "json")
    ldif = (DEMO / "org.ldif").read_text(encoding="utf-8")
    objects = len(re.findall(r"(?m)^dn:", ldif))
    assert f"read {objects} directory object(s) from LDIF file {DEMO / 'org.ldif'}" in err
    for path in sorted((DEMO / "ccmail").glob("*.txt")):
        names = len(re.findall(r"(?mi)^name:", path.read_text(encoding="latin-1")))
        assert f"read {names} cc:Mail entries of post office {path.stem} from {path}" in err
    quiet = ccmig("audit", "--ldif", str(DEMO / "org.ldif"), "--ccmail-dir",
                  str(DEMO / "ccmail" / "*.txt"), "--format", "json")[2]
    assert "read " not in quiet  # only with -v


def test_html_report_is_not_poured_onto_a_terminal(monkeypatch, capsys):
    import sys

    args = ["report", "--ldif", str(DEMO / "org.ldif"), "--ccmail-dir",
            str(DEMO / "ccmail" / "*.txt"), "--exchange-po", "EXCH"]
    code, out, _ = ccmig(*args)  # stdout is not a terminal here: the HTML is written
    assert out.startswith("<!DOCTYPE html>")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    from toolkit.cli.main import run

    assert run(args) == 2
    assert "give -o report.html" in capsys.readouterr().err
    assert run([*args, "--format", "md"]) == 1  # Markdown reads fine on a terminal


def test_check_suggests_whole_names_for_a_part():
    args = ["check", "--ldif", str(DEMO / "org.ldif"), "--ccmail-dir",
            str(DEMO / "ccmail" / "*.txt"), "--exchange-po", "EXCH"]
    code, out, err = ccmig(*args, "wood")
    assert code == 2 and out == ""
    assert err.splitlines()[:2] == ["ccmig: no row matches identity 'wood'",
                                    "ccmig: for 'wood', did you mean 'Wood, Ursula'?"]
    code, out, err = ccmig(*args, "Wood, Ursula")
    assert code == 1 and "Wood, Ursula" in out and err == ""
    code, _, err = ccmig(*args, "zzqx")
    assert "did you mean" not in err
