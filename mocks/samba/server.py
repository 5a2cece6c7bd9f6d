"""A throwaway Samba AD DC: a real Active Directory for the test suite.

Why: slapd with an AD-like schema agrees with whatever the project believed
about AD. A real DC has its own opinions - it refuses a simple bind without
TLS, pages at most 1000 entries, owns objectGUID, speaks Kerberos and only
SASL for NTLM - and ccmig must meet them before an administrator does.

:func:`start` provisions a domain once per directory (``samba-tool domain
provision``, ~3-20 s), then on every start:

* runs ``samba -i -M single`` in the foreground as a child (its PID is
  returned; :func:`stop` ends it), listening on 127.0.0.1 only, with just
  the ``ldap`` and ``kdc`` services (no smbd on 445);
* TLS from a throwaway CA (:func:`toolkit.mocks.slapd.machine.make_test_pki`) for
  ``dc01.<realm>``, ``localhost`` and ``127.0.0.1``, so ``--ca-file``
  verifies by name;
* ``ldap server require strong auth = allow_sasl_over_tls``: a simple bind
  needs TLS (AD's default); a SASL bind over TLS needs no signing of its
  own (what a Windows DC accepts; TLS stands in for it).

and on the first start only, through LDAP as the domain administrator:

* Exchange's schema attributes ccmig reads (``exchange-schema.ldif``,
  applied with ``ldapmodify`` like an ``.ldf`` file);
* the service account ``svc-ccmig``: an ordinary domain user (reads the
  domain like every authenticated user) with one delegated right, write
  ``proxyAddresses`` on everything below the domain (an inherited
  object-specific ACE), a keytab and the SPN ``ldap/localhost`` on the DC so
  Kerberos works without a hosts line.

Then each ``ldifs`` file is loaded (:mod:`toolkit.mocks.samba.loader`). Samba uses
fixed ports (389, 636, 88, 464, 3268, 3269): one DC per machine, and root.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import ldap3
from ldap3.core.exceptions import LDAPException
from toolkit.mocks.samba.loader import Loader, schema_attributes
from toolkit.mocks.slapd.machine import _alive, _die_with_parent, _terminate, make_test_pki

from toolkit.errors import InputError

HERE = Path(__file__).resolve().parent
SCHEMA_LDIF = HERE / "exchange-schema.ldif"
HOST = "dc01"
SERVICE = "svc-ccmig"
PORTS = (389, 636, 88)


class SambaError(RuntimeError):
    """The DC could not be provisioned, started or stopped (one line)."""


@dataclass(frozen=True)
class ServerInfo:
    """How to reach the running DC; ``as_json()`` is what the CLI prints."""

    url: str
    ldaps_url: str
    kerberos_url: str
    base_dn: str
    bind_dn: str
    password: str = field(repr=False)
    ca_file: str
    realm: str
    krb5_config: str
    principal: str
    keytab: str
    pid: int
    directory: Path
    admin_dn: str
    admin_password: str = field(repr=False)
    loaded: int = 0
    skipped: list[dict[str, object]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.url, "ldaps_url": self.ldaps_url, "kerberos_url": self.kerberos_url,
            "base_dn": self.base_dn, "bind_dn": self.bind_dn, "password": self.password,
            "ca_file": self.ca_file, "realm": self.realm, "krb5_config": self.krb5_config,
            "principal": self.principal, "keytab": self.keytab, "pid": self.pid,
            "loaded": self.loaded, "skipped": self.skipped, "dir": str(self.directory),
            "admin_dn": self.admin_dn, "admin_password": self.admin_password,
        }  # fmt: skip


def find_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        package = {"ldapmodify": "ldap-utils", "kinit": "krb5-user"}.get(name, "samba samba-ad-dc")
        raise SambaError(f"{name} not found: apt-get install {package}")
    return found


def base_dn_of(realm: str) -> str:
    return ",".join(f"DC={part}" for part in realm.lower().split("."))


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        raise SambaError(f"{what} failed: {' | '.join(lines[-3:]) or done.returncode}")
    return done.stdout + done.stderr


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------- provisioning


def _secret(path: Path, value: str | None = None) -> str:
    """Read or write a secret file (mode 0600) - never a command-line argument."""
    if value is None:
        return path.read_text().strip()
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def _password() -> str:
    # AD's complexity rules: upper, lower, digit and symbol.
    return "Cc1-" + secrets.token_urlsafe(18)


def provision(directory: Path, realm: str) -> None:
    """``samba-tool domain provision`` into ``directory`` (once) and our smb.conf settings."""
    domain = realm.split(".")[0].upper()
    tls = directory / "tls"
    make_test_pki(tls, (f"{HOST}.{realm.lower()}", "localhost", "127.0.0.1"))
    secrets_dir = directory / "ccmig"
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / "run").mkdir(exist_ok=True)
    options = {
        "interfaces": "127.0.0.1",
        "bind interfaces only": "yes",
        "server services": "ldap, kdc",
        "ldap server require strong auth": "allow_sasl_over_tls",
        "dsdb:schema update allowed": "true",
        "log file": str(directory / "samba.log"),
        "pid directory": str(directory / "run"),
        "tls enabled": "yes",
        "tls keyfile": str(tls / "server.key"),
        "tls certfile": str(tls / "server.pem"),
        "tls cafile": "",
    }
    cmd = [
        find_tool("samba-tool"), "domain", "provision", "--targetdir", str(directory),
        "--realm", realm.upper(), "--domain", domain, "--server-role", "dc",
        "--dns-backend", "NONE", "--host-name", HOST,
    ]  # fmt: skip
    for key, value in options.items():
        cmd += ["--option", f"{key} = {value}"]
    # No --adminpass: a password in argv is visible to every local user.
    # samba-tool then makes a random one and logs it; it is kept in a 0600 file.
    out = _run(cmd, "samba-tool domain provision")
    found = [ln.split("Admin password:", 1)[1].strip() for ln in out.splitlines() if "Admin password:" in ln]
    if not found:
        raise SambaError("provisioning did not report the generated admin password")
    _secret(secrets_dir / "admin.pw", found[-1])
    (directory / "krb5.conf").write_text(
        "[libdefaults]\n"
        f"  default_realm = {realm.upper()}\n"
        "  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
        "  rdns = false\n  dns_canonicalize_hostname = false\n"
        "[realms]\n"
        f"  {realm.upper()} = {{\n    kdc = 127.0.0.1\n  }}\n"
        "[domain_realm]\n"
        f"  localhost = {realm.upper()}\n  .{realm.lower()} = {realm.upper()}\n"
    )


# ---------------------------------------------------------------- domain set-up (first start)


def _admin_connection(directory: Path, realm: str) -> ldap3.Connection:
    server = ldap3.Server("127.0.0.1", port=636, use_ssl=True, get_info=ldap3.NONE, tls=ldap3.Tls(
        validate=ssl.CERT_REQUIRED, ca_certs_file=str(directory / "tls" / "ca.pem")))
    conn = ldap3.Connection(server, f"Administrator@{realm.lower()}",
                            _secret(directory / "ccmig" / "admin.pw"), raise_exceptions=False)
    if not conn.bind():
        raise SambaError(f"bind as Administrator failed: {conn.result.get('message')}")
    return conn


def _check(conn: ldap3.Connection, what: str) -> None:
    if conn.result.get("result") != 0:
        raise SambaError(f"{what} failed: {conn.result.get('description')} {conn.result.get('message')}")


def _sid(conn: ldap3.Connection, dn: str) -> str:
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["objectSid"])
    _check(conn, f"reading the SID of {dn}")
    raw = bytes(conn.response[0]["raw_attributes"]["objectSid"][0])
    authority = int.from_bytes(raw[2:8], "big")
    subs = [int.from_bytes(raw[8 + 4 * i : 12 + 4 * i], "little") for i in range(raw[1])]
    return "-".join(["S", str(raw[0]), str(authority), *map(str, subs)])


def _guid(conn: ldap3.Connection, dn: str) -> str:
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["schemaIDGUID"])
    _check(conn, f"reading {dn}")
    raw = conn.response[0]["raw_attributes"]["schemaIDGUID"][0]
    return str(uuid.UUID(bytes_le=bytes(raw)))


def _apply_schema(directory: Path, base_dn: str, realm: str) -> None:
    """Exchange's attributes, applied like an .ldf file: ldapmodify as the admin."""
    schema_dn = f"CN=Schema,CN=Configuration,{base_dn}"
    ldif = directory / "ccmig" / "exchange-schema.ldif"
    ldif.write_text(SCHEMA_LDIF.read_text().replace("DC=X", schema_dn))
    env = dict(os.environ, LDAPTLS_CACERT=str(directory / "tls" / "ca.pem"))
    _run([find_tool("ldapmodify"), "-H", "ldaps://127.0.0.1", "-x", "-D", f"Administrator@{realm.lower()}",
          "-y", str(directory / "ccmig" / "admin.pw"), "-f", str(ldif)], "applying the Exchange schema",
         env=env)  # fmt: skip


def _add_account(conn: ldap3.Connection, base_dn: str, realm: str, name: str, password: str) -> str:
    dn = f"CN={name},CN=Users,{base_dn}"
    conn.add(dn, ["top", "person", "organizationalPerson", "user"], {
        "sAMAccountName": name, "userPrincipalName": f"{name}@{realm.lower()}",
        "unicodePwd": f'"{password}"'.encode("utf-16-le"),
        "userAccountControl": "66048",  # normal account, password never expires
    })
    _check(conn, f"creating {name}")
    return dn


def _samba_tool(directory: Path, *args: str) -> str:
    return _run([find_tool("samba-tool"), *args, "-s", str(directory / "etc" / "smb.conf")],
                f"samba-tool {args[0]} {args[1]}")


def setup_domain(directory: Path, realm: str) -> None:
    """Schema, service accounts, delegation, keytab and SPN (first start only)."""
    base_dn = base_dn_of(realm)
    _apply_schema(directory, base_dn, realm)
    conn = _admin_connection(directory, realm)
    try:
        password = _secret(directory / "ccmig" / "service.pw", _password())
        svc_dn = _add_account(conn, base_dn, realm, SERVICE, password)
        proxy = _guid(conn, f"CN=Proxy-Addresses,CN=Schema,CN=Configuration,{base_dn}")
        svc_sid = _sid(conn, svc_dn)
        conn.modify(f"CN={HOST.upper()},OU=Domain Controllers,{base_dn}",
                    {"servicePrincipalName": [(ldap3.MODIFY_ADD, ["ldap/localhost"])]})
        _check(conn, "adding the SPN ldap/localhost")
    finally:
        conn.unbind()
    sam = str(directory / "private" / "sam.ldb")
    # Delegation as an admin would grant it: write proxyAddresses, inherited by all objects.
    _samba_tool(directory, "dsacl", "set", "-H", sam, "--objectdn", base_dn,
                "--sddl", f"(OA;CI;WP;{proxy};;{svc_sid})")
    keytab = directory / "ccmig" / "service.keytab"
    _samba_tool(directory, "domain", "exportkeytab", str(keytab),
                f"--principal={SERVICE}@{realm.upper()}")


# ---------------------------------------------------------------- start / stop


def _pid_file(directory: Path) -> Path:
    return directory / "run" / "ccmig-samba.pid"


def _is_our_samba(pid: int, directory: Path) -> bool:
    """Guard against a recycled PID: a samba with files open in ``directory``.

    Samba rewrites its command line ("samba: root process"), so the open
    files say whose it is.
    """
    try:
        if not os.readlink(f"/proc/{pid}/exe").endswith("/samba"):
            return False
        fds = Path(f"/proc/{pid}/fd")
        return any(os.readlink(fd).startswith(f"{directory}/") for fd in fds.iterdir())
    except OSError:
        return False


def running_pid(directory: str | Path) -> int | None:
    directory = Path(directory).resolve()
    try:
        pid = int(_pid_file(directory).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_samba(pid, directory) and _alive(pid) else None


def _launch(directory: Path, timeout: float, die_with_parent: bool) -> int:
    busy = [p for p in PORTS if _listening(p)]
    if busy:
        raise SambaError(f"port(s) {', '.join(map(str, busy))} already in use on 127.0.0.1: "
                         "another directory server or DC is running (Samba needs fixed ports)")
    log = (directory / "samba.out").open("ab")
    proc = subprocess.Popen(
        [find_tool("samba"), "-i", "-M", "single", "-s", str(directory / "etc" / "smb.conf")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=_die_with_parent if die_with_parent else None,
    )  # fmt: skip
    log.close()
    _pid_file(directory).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while not all(_listening(p) for p in PORTS):
        if proc.poll() is not None:
            tail = (directory / "samba.out").read_text(errors="replace").strip().splitlines()
            raise SambaError(f"samba exited with {proc.returncode}: {' | '.join(tail[-3:])}")
        if time.monotonic() > deadline:
            _terminate(proc.pid, 5.0)
            raise SambaError(f"samba did not listen on {PORTS} within {timeout:g}s")
        time.sleep(0.2)
    return proc.pid


def start(
    directory: str | Path,
    ldifs: tuple[str | Path, ...] | list[str | Path] = (),
    realm: str = "corp.example",
    *,
    timeout: float = 90.0,
    die_with_parent: bool = True,
) -> ServerInfo:
    """Provision (once per directory), start the DC, load ``ldifs``; see the module docstring.

    ``die_with_parent`` (Linux): the kernel stops samba when the calling
    thread dies, so a killed test run leaves no DC holding the fixed ports.
    """
    if os.geteuid() != 0:
        raise SambaError("a Samba AD DC needs root (CI runs as root)")
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if running_pid(directory):
        raise SambaError(f"a DC from {directory} is already running: stop it first")
    state = directory / "ccmig" / "state.json"
    if not state.exists():
        if (directory / "etc" / "smb.conf").exists():
            raise SambaError(f"{directory} holds an unfinished provisioning: remove it")
        provision(directory, realm)
    elif json.loads(state.read_text())["realm"] != realm.lower():
        raise SambaError(f"{directory} holds the realm {json.loads(state.read_text())['realm']}")
    pid = _launch(directory, timeout, die_with_parent)
    try:
        if not state.exists():
            setup_domain(directory, realm)
            state.write_text(json.dumps({"realm": realm.lower()}))
        loaded, skipped = load(directory, realm, ldifs)
    except Exception:
        _terminate(pid, 10.0)
        raise
    return info(directory, realm, pid, loaded, skipped)


def load(directory: Path, realm: str, ldifs: tuple[str | Path, ...] | list[str | Path]) -> tuple[int, list]:
    """Load LDIF files into the running DC; (entries added, what AD refused or was changed)."""
    if not ldifs:
        return 0, []
    base_dn = base_dn_of(realm)
    conn = _admin_connection(directory, realm)
    try:
        schema = schema_attributes(conn, f"CN=Schema,CN=Configuration,{base_dn}")
        loader = Loader(conn, base_dn, f"CN=Configuration,{base_dn}", schema)
        reports = [loader.load_file(p) for p in ldifs]
    finally:
        conn.unbind()
    reports_file = directory / "ccmig" / "load-report.json"
    reports_file.write_text(json.dumps([r.as_json() for r in reports], indent=1))
    skipped: list[dict[str, object]] = []
    for r in reports:
        skipped += [{"source": r.source, **s} for s in r.skipped]
        skipped += [{"source": r.source, "attribute": a, "values": n, "reason": "dropped: set by AD itself "
                     "or not in its schema"} for a, n in sorted(r.dropped.items())]  # fmt: skip
        skipped += [{"source": r.source, "dn": dn, "reason": "created as a container: named by a DN value"}
                    for dn in r.created]  # fmt: skip
    return sum(r.loaded for r in reports), skipped


def info(directory: Path, realm: str, pid: int, loaded: int = 0, skipped: list | None = None) -> ServerInfo:
    base_dn = base_dn_of(realm)
    secret_dir = directory / "ccmig"
    return ServerInfo(
        url="ldap://127.0.0.1", ldaps_url="ldaps://127.0.0.1", kerberos_url="ldaps://localhost",
        base_dn=base_dn, bind_dn=f"CN={SERVICE},CN=Users,{base_dn}",
        password=_secret(secret_dir / "service.pw"), ca_file=str(directory / "tls" / "ca.pem"),
        realm=realm.upper(), krb5_config=str(directory / "krb5.conf"),
        principal=f"{SERVICE}@{realm.upper()}", keytab=str(secret_dir / "service.keytab"),
        pid=pid, directory=directory, admin_dn=f"CN=Administrator,CN=Users,{base_dn}",
        admin_password=_secret(secret_dir / "admin.pw"),
        loaded=loaded, skipped=skipped or [],
    )  # fmt: skip


def stop(directory: str | Path, timeout: float = 15.0) -> bool:
    """Stop the DC started from ``directory``; False if none was running."""
    directory = Path(directory).resolve()
    pid = running_pid(directory)
    _pid_file(directory).unlink(missing_ok=True)
    if pid is None:
        return False
    _terminate(pid, timeout)
    return True


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """``ad-test-server start|stop``: see the module docstring and docs/ldap.md."""
    parser = argparse.ArgumentParser(prog="ad-test-server", description="Throwaway Samba AD DC.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="provision (once), start, load; print one JSON object")
    p_start.add_argument("--dir", required=True, help="working directory (kept between starts)")
    p_start.add_argument("--ldif", action="append", default=[], help="LDIF export to load (repeatable)")
    p_start.add_argument("--realm", default="corp.example", help="DNS domain (default corp.example)")
    p_stop = sub.add_parser("stop", help="stop the DC started from --dir")
    p_stop.add_argument("--dir", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "stop":
            print(json.dumps({"stopped": stop(args.dir)}))
            return 0
        started = start(args.dir, args.ldif, args.realm, die_with_parent=False)
    except (SambaError, RuntimeError, InputError, OSError, LDAPException) as exc:
        print(f"ad-test-server: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(json.dumps(started.as_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
