"""Secrets never leak, and TLS fails closed (issue 7).

Every command runs at ``-vv`` with ``--log-file`` against real servers — a
private slapd (StartTLS, the test CA) and the mock Exchange endpoint (HTTPS,
Basic auth) — with known secrets supplied through the keyring (``ccmig creds
set``) or the environment (``CCMIG_LDAP_PASSWORD`` / ``CCMIG_EXCHANGE_PASSWORD``).
Then stdout, stderr, the log file, reports, plans (json, csv, ps1, ldif,
ccmail), journals and every other file the run wrote are searched for each
secret in every form it could take on the way out: as is, ``repr``-escaped,
URL-quoted, hex, and base64 at each of the three byte alignments (so it is
found inside a larger base64 blob such as a Basic ``Authorization`` header).

TLS: StartTLS and ldaps:// against a server whose CA the client does not
trust, and WinRM over HTTPS against the mock's self-signed certificate
without ``--ca-file``, fail with exit 3 before any credential is sent.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from toolkit.mocks.exchange.server import MockExchange, MockExchangeServer
from toolkit.mocks.slapd import server as slapd

from tests.orgkit import ccmig

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mocks" / "demo"
BASE = "DC=corp,DC=example"
EXCHANGE_SECRET = "Exch-" + secrets.token_urlsafe(18)
WRONG_SECRET = "Wrong-" + secrets.token_urlsafe(18)

pytestmark = pytest.mark.slapd


# --------------------------------------------------------------------------- secret forms


def forms(secret: str) -> set[str]:
    """Every way a secret could be written out."""
    raw = secret.encode("utf-8")
    out = {secret, repr(secret)[1:-1], urllib.parse.quote(secret), urllib.parse.quote_plus(secret),
           json.dumps(secret)[1:-1], raw.hex(), raw.hex().upper()}
    for blob in (raw, secret.encode("utf-16-le")):
        for shift in range(3):  # the secret's offset modulo 3 inside a larger blob
            enc = base64.b64encode(b"\0" * shift + blob).decode()
            first, last = -(-shift // 3), (shift + len(blob)) // 3  # whole 3-byte groups
            core = enc[4 * first: 4 * last]  # the characters that encode only secret bytes
            out |= {core, core.replace("+", "-").replace("/", "_")}
    assert all(len(f) >= 16 for f in out)
    return out


def test_forms_find_a_secret_inside_basic_auth_and_base64_blobs():
    s = "S3cret-" + secrets.token_urlsafe(18)
    header = base64.b64encode(f"CORP\\exadmin:{s}".encode()).decode()
    for prefix in ("", "x", "xy", "xyz"):
        blob = base64.b64encode(prefix.encode() + s.encode() + b"trailer").decode()
        assert any(f in blob for f in forms(s))
    assert any(f in header for f in forms(s))
    assert not any(f in header for f in forms("Other-" + secrets.token_urlsafe(18)))


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def ldap(tmp_path_factory) -> Iterator[slapd.ServerInfo]:
    directory = tmp_path_factory.mktemp("slapd") / "srv"
    with slapd.SlapdServer(directory, BASE, DEMO / "org.ldif", tls=True) as info:
        yield info


@pytest.fixture
def exchange() -> Iterator[MockExchangeServer]:
    core = MockExchange.from_files(DEMO / "org.ldif", DEMO / "stats.csv", password=EXCHANGE_SECRET)
    with MockExchangeServer(core, https=True) as srv:
        yield srv


@dataclass
class Site:
    """A working directory for one scenario, and everything the runs showed."""

    root: Path
    ldap: slapd.ServerInfo
    exch: MockExchangeServer
    bundle: Path
    seen: list[tuple[str, str]] = field(default_factory=list)  # (what, text)
    log_file: Path | None = None

    @property
    def out(self) -> Path:
        return self.root / "out"

    def dirs(self) -> list[str]:
        return [a for p in sorted((self.root / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]

    def ldap_args(self) -> list[str]:
        return ["--ldap-url", self.ldap.url, "--starttls", "--base-dn", BASE,
                "--bind-dn", self.ldap.bind_dn, "--ca-file", str(self.bundle)]

    def exch_args(self) -> list[str]:
        return ["--exchange-uri", self.exch.uri, "--exchange-auth", "basic",
                "--exchange-user", self.exch.core.username, "--ca-file", str(self.bundle)]

    def run(self, *argv: str, codes=(0, 1), input: str | None = None) -> tuple[str, str]:
        extra = ["--log-file", str(self.log_file)] if self.log_file else []
        code, out, err = ccmig("-vv", *extra, *argv, input=input)
        self.seen.append((f"stdout of {argv[:2]}", out))
        self.seen.append((f"stderr of {argv[:2]}", err))
        assert code in codes, (argv, code, err[-2000:])
        return out, err

    def leaks(self, *secret_values: str) -> list[str]:
        texts = list(self.seen)
        for p in sorted(self.root.rglob("*")):
            if p.is_file():
                texts.append((str(p.relative_to(self.root)), p.read_bytes().decode("utf-8", "replace")))
        found = []
        for s in secret_values:
            for what, text in texts:
                hits = [f for f in forms(s) if f in text]
                if hits:
                    found.append(f"{what}: {hits[0]!r}")
        return found


def has_log_file_option() -> bool:
    return "--log-file" in ccmig("audit", "--help")[1]


@pytest.fixture
def site(tmp_path: Path, ldap, exchange) -> Site:
    shutil.copytree(DEMO / "ccmail", tmp_path / "ccmail")
    shutil.copyfile(DEMO / "stats.csv", tmp_path / "stats.csv")
    shutil.copyfile(DEMO / "org.ldif", tmp_path / "org.ldif")
    (tmp_path / "out").mkdir()
    bundle = tmp_path / "ca-bundle.pem"
    assert exchange.ca_file is not None and ldap.ca_file is not None
    bundle.write_text(Path(ldap.ca_file).read_text() + Path(exchange.ca_file).read_text())
    s = Site(tmp_path, ldap, exchange, bundle)
    if has_log_file_option():
        s.log_file = tmp_path / "out" / "ccmig.log.jsonl"
    return s


def supply(site: Site, how: str, monkeypatch, ldap_secret: str, exchange_secret: str) -> None:
    if how == "keyring":
        for purpose, value in (("ldap", ldap_secret), ("exchange", exchange_secret)):
            site.run("creds", "set", "--for", purpose, input=value + "\n", codes=(0,))
            out, _ = site.run("creds", "get", "--for", purpose, codes=(0,))
            assert "stored in keyring" in out
    else:
        monkeypatch.setenv("CCMIG_LDAP_PASSWORD", ldap_secret)
        monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", exchange_secret)


# --------------------------------------------------------------------------- every command


@pytest.mark.parametrize("how", ["keyring", "env"])
def test_no_command_shows_or_stores_a_secret(site: Site, how: str, monkeypatch):
    s, out_dir = site, site.out
    supply(s, how, monkeypatch, s.ldap.password, EXCHANGE_SECRET)
    where = "from keyring" if how == "keyring" else "from $CCMIG_"
    ldap, exch, dirs = s.ldap_args(), s.exch_args(), s.dirs()
    common = [*dirs, "--exchange-po", "EXCH", "--mailbox-stats", str(s.root / "stats.csv")]

    # LDAP (StartTLS, verified): audit, check, recipients
    _, err = s.run("audit", *ldap, *common, "--format", "json", "-o", str(out_dir / "audit.json"))
    assert f"ldap secret {where}" in err  # -vv says where the secret came from
    rows = json.loads((out_dir / "audit.json").read_text())
    assert len(rows) > 100
    s.run("audit", *ldap, *common, "--format", "csv")
    s.run("audit", *ldap, *common)  # table
    mailbox = next(r for r in rows if r["kind"] == "mailbox")
    s.run("check", *ldap, *common, mailbox["dn"], "no-such-person")
    s.run("recipients", *ldap, "--format", "jsonl", "-o", str(out_dir / "recipients.jsonl"))

    # Exchange (HTTPS, verified, Basic): addresses, stats, audit --exchange-uri
    dns = [r["dn"] for r in rows if r["kind"] == "mailbox"][:20]
    _, err = s.run("addresses", *exch, *dns, "--format", "json", "-o", str(out_dir / "addr.json"))
    assert len(json.loads((out_dir / "addr.json").read_text())) == len(dns)
    s.run("stats", *exch, *dns, "--format", "csv", "-o", str(out_dir / "stats.csv"))
    s.run("audit", "--ldif", str(s.root / "org.ldif"), *dirs, "--exchange-po", "EXCH", *exch,
          "--format", "json", "-o", str(out_dir / "audit-ps.json"))
    _, err = s.run("audit", *ldap, *exch, *dirs, "--exchange-po", "EXCH")  # both secrets at once
    assert f"ldap secret {where}" in err and f"exchange secret {where}" in err
    assert s.exch.requests > 0

    # recorded runs, history, diff and reports (html, md) from both servers
    runs = out_dir / "runs"
    for _ in range(2):
        s.run("audit", *ldap, *common, "--record", str(runs), "--format", "csv",
              "-o", str(out_dir / "audit.csv"))
    s.run("history", "--record", str(runs))
    s.run("diff", "--record", str(runs), "--format", "json")
    s.run("report", *ldap, *exch, *dirs, "--exchange-po", "EXCH", "--record", str(runs),
          "-o", str(out_dir / "report.html"))
    s.run("report", *ldap, *common, "--format", "md", "-o", str(out_dir / "report.md"))

    # plan / apply / undo on the cc:Mail files, re-reading LDAP
    plan = out_dir / "plan.json"
    s.run("plan", *ldap, *common, "-o", str(plan))
    for fmt in ("csv", "ps1", "ldif", "ccmail"):
        s.run("plan", *ldap, *common, "--format", fmt, "-o", str(out_dir / f"plan.{fmt}"))
    inputs = json.loads(plan.read_text())["inputs"]
    assert inputs["bind_dn"] == s.ldap.bind_dn and "password" not in json.dumps(inputs).lower()
    ca = ["--ca-file", str(s.bundle)]  # a plan records the source, not the CA to trust
    s.run("apply", str(plan), *ca)  # dry run
    s.run("apply", str(plan), *ca, "--yes", "--only", "remove-ccmail-entry",
          "--journal", str(out_dir / "ccmail.journal"))
    assert (out_dir / "ccmail.journal").read_text().count('"done"') > 0
    s.run("undo", str(out_dir / "ccmail.journal"), "--yes")

    # plan / apply / undo on the Exchange side, through PowerShell
    plan2 = out_dir / "plan-exchange.json"
    s.run("plan", "--ldif", str(s.root / "org.ldif"), *common, *exch, "-o", str(plan2))
    s.run("apply", str(plan2), *exch, "--yes", "--source", "powershell", "--only",
          "add-primary-address", "--journal", str(out_dir / "exchange.journal"))
    assert (out_dir / "exchange.journal").read_text().count('"done"') > 0
    s.run("undo", str(out_dir / "exchange.journal"), "--yes", *exch)

    # settings: a profile naming both servers, shown and used
    config = s.root / "config.toml"
    config.write_text(
        "[profiles.default]\n"
        f"ldap-url = {json.dumps(s.ldap.url)}\nbase-dn = {json.dumps(BASE)}\n"
        f"bind-dn = {json.dumps(s.ldap.bind_dn)}\nstarttls = true\n"
        f"ca-file = {json.dumps(str(s.bundle))}\nexchange-po = [\"EXCH\"]\n")
    s.run("config", "show", "--config", str(config), codes=(0,))
    s.run("audit", "--config", str(config), *dirs, "--format", "json")
    for purpose in ("ldap", "exchange"):
        s.run("creds", "get", "--for", purpose, codes=(0,))

    if s.log_file is not None:
        assert s.log_file.stat().st_size > 0
    assert s.leaks(s.ldap.password, EXCHANGE_SECRET) == []
    # the control: the search does find a secret hidden in what a run wrote
    header = base64.b64encode(f"{s.exch.core.username}:{EXCHANGE_SECRET}".encode()).decode()
    (out_dir / "canary.txt").write_text(f"Authorization: Basic {header}\n")
    assert [hit.split(":")[0] for hit in s.leaks(EXCHANGE_SECRET)] == ["out/canary.txt"]


@pytest.mark.parametrize("how", ["keyring", "env"])
def test_wrong_secrets_are_not_echoed(site: Site, how: str, monkeypatch):
    supply(site, how, monkeypatch, WRONG_SECRET, WRONG_SECRET + "x")
    out, err = site.run("audit", *site.ldap_args(), *site.dirs(), "--exchange-po", "EXCH",
                        codes=(3,))
    assert "invalidCredentials" in err
    out, err = site.run("addresses", *site.exch_args(), "someone", codes=(3,))
    assert site.leaks(WRONG_SECRET, WRONG_SECRET + "x", site.ldap.password) == []


def test_credentials_in_the_ldap_url_are_refused_not_echoed(site: Site):
    url = site.ldap.url.replace("ldap://", f"ldap://reader:{WRONG_SECRET}@")
    out, err = site.run("audit", "--ldap-url", url, "--base-dn", BASE, "--exchange-po", "EXCH",
                        codes=(2,))
    assert "--ldap-url" in err
    assert site.leaks(WRONG_SECRET) == []


def test_credentials_in_the_exchange_uri_are_refused_not_echoed(site: Site):
    uri = site.exch.uri.replace("https://", f"https://admin:{WRONG_SECRET}@")
    out, err = site.run("addresses", "--exchange-uri", uri, "--ca-file", str(site.bundle),
                        "someone", codes=(2, 3))
    site.run("plan", "--ldif", str(site.root / "org.ldif"), *site.dirs(), "--exchange-po", "EXCH",
             "--exchange-uri", uri, "-o", str(site.out / "plan.json"), codes=(0, 2, 3))
    assert site.leaks(WRONG_SECRET) == []


def test_secret_in_a_profile_is_refused_and_not_echoed(site: Site):
    config = site.root / "config.toml"
    config.write_text(f"[profiles.default]\nexchange-password = \"{WRONG_SECRET}\"\n")
    site.run("config", "show", "--config", str(config), codes=(2,))
    site.run("audit", "--config", str(config), "--ldif", str(site.root / "org.ldif"), codes=(2,))
    config.unlink()
    assert site.leaks(WRONG_SECRET) == []


# --------------------------------------------------------------------------- TLS fails closed


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
@pytest.mark.parametrize("ca", ["system", "other-ca"])
def test_ldap_tls_with_an_untrusted_ca_fails_closed(site: Site, monkeypatch, scheme, ca):
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", site.ldap.password)
    url = site.ldap.ldaps_url if scheme == "ldaps" else site.ldap.url
    assert url is not None
    argv = ["audit", "--ldap-url", url, "--base-dn", BASE, "--bind-dn", site.ldap.bind_dn,
            *site.dirs(), "--exchange-po", "EXCH"]
    if scheme == "starttls":
        argv.append("--starttls")
    if ca == "other-ca":
        argv += ["--ca-file", str(slapd.make_test_pki(site.root / "other-pki"))]
    out, err = site.run(*argv, codes=(3,))
    assert out == "" and len(err.strip().splitlines()) >= 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("ccmig: error:") and "certificate" in last.lower(), err
    assert site.leaks(site.ldap.password) == []


def test_ldap_tls_with_the_right_ca_succeeds(site: Site, monkeypatch):
    """The control: the same runs with the server's CA connect."""
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", site.ldap.password)
    for url, tls in ((site.ldap.url, ["--starttls"]), (site.ldap.ldaps_url, [])):
        site.run("audit", "--ldap-url", url, *tls, "--base-dn", BASE, "--bind-dn",
                 site.ldap.bind_dn, "--ca-file", str(site.ldap.ca_file), *site.dirs(),
                 "--exchange-po", "EXCH", codes=(1,))


@pytest.mark.parametrize("ca", ["system", "other-ca"])
def test_winrm_https_with_an_untrusted_certificate_fails_closed(site: Site, monkeypatch, ca):
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", EXCHANGE_SECRET)
    argv = ["addresses", "--exchange-uri", site.exch.uri, "--exchange-auth", "basic",
            "--exchange-user", site.exch.core.username, "someone"]
    if ca == "other-ca":
        argv += ["--ca-file", str(site.ldap.ca_file)]
    out, err = site.run(*argv, codes=(3,))
    assert out == ""
    assert "certificate" in err.lower(), err
    assert site.exch.requests == 0  # no request (so no Authorization header) reached the server
    assert site.leaks(EXCHANGE_SECRET) == []


def test_winrm_https_with_the_right_ca_succeeds(site: Site, monkeypatch):
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", EXCHANGE_SECRET)
    site.run("addresses", *site.exch_args(), "CN=nobody,DC=x", "--format", "json", codes=(2,))
    assert site.exch.requests > 0  # connected and authenticated; the identity just was not found


def test_basic_over_http_is_refused_before_connecting(site: Site, monkeypatch):
    monkeypatch.setenv("CCMIG_EXCHANGE_PASSWORD", EXCHANGE_SECRET)
    http_uri = site.exch.uri.replace("https://", "http://")
    out, err = site.run("addresses", "--exchange-uri", http_uri, "--exchange-auth", "basic",
                        "--exchange-user", site.exch.core.username, "someone", codes=(2,))
    assert "--allow-unencrypted" in err
    assert site.exch.requests == 0
    assert site.leaks(EXCHANGE_SECRET) == []
