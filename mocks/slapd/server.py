"""A throwaway OpenLDAP ``slapd`` that looks like Active Directory (or Exchange 5.5).

Why: the LDAP adapter must be proven against a real server (paging, size
limits, TLS, binds), not only against ldap3's mock. This module builds a
private slapd instance from nothing in a directory of your choice:

* a cn=config with back_mdb (large ``olcDbMaxSize``: mdb's 10 MiB default
  fails after ~3,500 entries) and the schemas core, cosine, inetorgperson and
  ``ccmig-schema.ldif`` (Microsoft's OIDs for the AD/Exchange attributes);
* the data, loaded with ``slapadd -q`` from an LDIF file as ldifde or
  ldapsearch write it (UTF-16 with BOM, ``version:``, comments, folding,
  base64): the file is read with :func:`toolkit.exchange.ldif.read_ldif` and
  re-written in the plain form slapadd accepts. The suffix entry and any
  missing parent containers are added (:mod:`toolkit.mocks.slapd.loader`);
* a read-only service account outside the data tree (``cn=reader,
  o=ccmig-test-accounts``), so a whole-tree read returns only your data. By
  default everyone but the (unused) rootdn gets AD's limits: a page holds at
  most 1000 entries, a non-paged search stops at 1000 with sizeLimitExceeded,
  a paged search may read everything (``size.prtotal=unlimited``). With
  ``ad_limits=False`` OpenLDAP's default 500 applies even to paged searches,
  so a test can prove that a short paged result is detected;
* optionally TLS (``tls=True``): a throwaway CA and server certificate made
  with the ``openssl`` command (:func:`toolkit.mocks.slapd.machine.make_test_pki`),
  StartTLS on the ldap:// port and ldaps:// on a second port.

Then ``slapd -d 0`` runs in the foreground as a child whose PID is returned,
and :func:`start` waits until it answers a bind. It installs nothing:
``slapd``, ``slapadd`` (package slapd) and ``openssl`` must be on the machine.

Only the standard library and :mod:`toolkit.exchange.ldif` are used, here
and in the loader and machine modules, so the ``scripts/ldap-test-server``
wrapper runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ``name as name``: unused here, kept importable from here (the tests use them).
from toolkit.mocks.dn import split_dn as split_dn
from toolkit.mocks.slapd import SlapdError
from toolkit.mocks.slapd.loader import LoadReport as LoadReport
from toolkit.mocks.slapd.loader import attribute_aliases as attribute_aliases
from toolkit.mocks.slapd.loader import dn_key as dn_key
from toolkit.mocks.slapd.loader import ldif_line, prepare_data, schema_files
from toolkit.mocks.slapd.loader import structural_class as structural_class
from toolkit.mocks.slapd.machine import _alive as _alive
from toolkit.mocks.slapd.machine import _die_with_parent, _terminate, find_tool, free_port, make_test_pki

from toolkit.errors import InputError
from toolkit.exchange.ldif import read_ldif
from toolkit.model import RawEntry

MODULE_DIRS = (Path("/usr/lib/ldap"), Path("/usr/lib/openldap"), Path("/usr/libexec/openldap"))

ACCOUNTS_SUFFIX = "o=ccmig-test-accounts"
READER_DN = f"cn=reader,{ACCOUNTS_SUFFIX}"
# A delegated account as AD admins grant one for proxy hygiene: it reads like
# the reader and may write proxyAddresses, nothing else.
WRITER_DN = f"cn=proxy-writer,{ACCOUNTS_SUFFIX}"
ADMIN_DN_RDN = "cn=ccmig-admin"  # rootdn of the data tree, only with admin=True


@dataclass(frozen=True)
class ServerInfo:
    """How to reach a running test server; ``as_json()`` is what the CLI prints."""

    url: str
    base_dn: str
    bind_dn: str
    password: str
    pid: int
    directory: Path
    ca_file: str | None = None
    ldaps_url: str | None = None
    admin_dn: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    writer_dn: str | None = None
    writer_password: str | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "url": self.url,
            "base_dn": self.base_dn,
            "bind_dn": self.bind_dn,
            "password": self.password,
            "pid": self.pid,
            "dir": str(self.directory),
        }
        if self.ca_file:
            out["ca_file"] = self.ca_file
            out["ldaps_url"] = self.ldaps_url
        if self.admin_dn:
            out["admin_dn"] = self.admin_dn
            out["admin_password"] = self.admin_password
        if self.writer_dn:
            out["writer_dn"] = self.writer_dn
            out["writer_password"] = self.writer_password
        return out


# ---------------------------------------------------------------- cn=config


def _module_dir() -> Path:
    for d in MODULE_DIRS:
        if (d / "back_mdb.la").exists() or (d / "back_mdb.so").exists():
            return d
    raise SlapdError("OpenLDAP module back_mdb not found (is the slapd package installed?)")


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _config_ldif(
    directory: Path,
    base_dn: str,
    *,
    ad_limits: bool,
    anonymous_read: bool,
    tls: bool,
    admin_password: str | None,
    max_size: int,
) -> str:
    run = directory / "run"
    tls_lines = ""
    if tls:
        tls_lines = (
            f"olcTLSCACertificateFile: {directory / 'tls' / 'ca.pem'}\n"
            f"olcTLSCertificateFile: {directory / 'tls' / 'server.pem'}\n"
            f"olcTLSCertificateKeyFile: {directory / 'tls' / 'server.key'}\n"
        )
    includes = "".join(f"include: {p.as_uri()}\n" for p in schema_files())
    limits = (
        "olcLimits: * size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited\n"
        if ad_limits
        else ""
    )
    anonymous = "by anonymous read " if anonymous_read else ""
    admin = ""
    if admin_password:
        admin = ldif_line("olcRootDN", f"{ADMIN_DN_RDN},{base_dn}") + ldif_line(
            "olcRootPW", _ssha(admin_password)
        )
    return (
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\n"
        f"olcPidFile: {run / 'slapd.pid'}\nolcArgsFile: {run / 'slapd.args'}\n"
        f"{tls_lines}\n"
        "dn: cn=module{0},cn=config\nobjectClass: olcModuleList\ncn: module{0}\n"
        f"olcModulePath: {_module_dir()}\nolcModuleLoad: back_mdb\n\n"
        "dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n"
        f"{includes}\n"
        "dn: olcDatabase={-1}frontend,cn=config\nobjectClass: olcDatabaseConfig\n"
        "objectClass: olcFrontendConfig\nolcDatabase: {-1}frontend\n\n"
        "dn: olcDatabase={0}config,cn=config\nobjectClass: olcDatabaseConfig\n"
        "olcDatabase: {0}config\nolcAccess: {0}to * by * none\n\n"
        "dn: olcDatabase={1}mdb,cn=config\nobjectClass: olcDatabaseConfig\n"
        "objectClass: olcMdbConfig\nolcDatabase: {1}mdb\n"
        + ldif_line("olcSuffix", base_dn)
        + f"olcDbDirectory: {directory / 'data'}\nolcDbMaxSize: {max_size}\n"
        "olcDbNoSync: TRUE\n"
        "olcDbIndex: objectClass eq\nolcDbIndex: proxyAddresses eq\n"
        "olcDbIndex: targetAddress eq\n"
        + admin
        + limits
        + ldif_line("olcAccess", f'{{0}}to attrs=proxyAddresses by dn.exact="{WRITER_DN}" write '
                    f"by users read {anonymous}by * none")
        + f"olcAccess: {{1}}to * by users read {anonymous}by * none\n\n"
        "dn: olcDatabase={2}mdb,cn=config\nobjectClass: olcDatabaseConfig\n"
        "objectClass: olcMdbConfig\nolcDatabase: {2}mdb\n"
        f"olcSuffix: {ACCOUNTS_SUFFIX}\nolcDbDirectory: {directory / 'accounts'}\n"
        "olcDbMaxSize: 16777216\nolcDbNoSync: TRUE\n"
        "olcAccess: {0}to attrs=userPassword by anonymous auth by * none\n"
        "olcAccess: {1}to * by self read by anonymous auth by * none\n\n"
    )


def _accounts_ldif(reader_password: str, writer_password: str) -> str:
    return (
        f"dn: {ACCOUNTS_SUFFIX}\nobjectClass: top\nobjectClass: organization\n"
        "o: ccmig-test-accounts\n\n"
        f"dn: {READER_DN}\nobjectClass: top\nobjectClass: person\ncn: reader\n"
        "sn: read-only service account (AD-like limits)\n"
        f"userPassword: {_ssha(reader_password)}\n\n"
        f"dn: {WRITER_DN}\nobjectClass: top\nobjectClass: person\ncn: proxy-writer\n"
        "sn: delegated account: may write proxyAddresses\n"
        f"userPassword: {_ssha(writer_password)}\n\n"
    )


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        detail = " | ".join(lines[-3:]) if lines else f"exit {done.returncode}"
        raise SlapdError(f"{what} failed: {detail}")


# ---------------------------------------------------------------- start / stop


def _answers(host: str, port: int) -> bool:
    """True when an anonymous LDAP bind on host:port succeeds (raw BER, no ldap3)."""
    bind = b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(bind)
            reply = s.recv(256)
    except OSError:
        return False
    return b"\x61" in reply and b"\x0a\x01\x00" in reply


def start(
    directory: str | Path,
    port: int,
    base_dn: str,
    ldif: str | Path | None = None,
    *,
    entries: Iterable[RawEntry] | None = None,
    tls: bool = False,
    ldaps_port: int | None = None,
    tls_hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    ad_limits: bool = True,
    anonymous_read: bool = False,
    schema_check: bool = False,
    drop_unknown: bool = False,
    admin: bool = False,
    max_size: int = 4 << 30,
    startup_timeout: float = 15.0,
    die_with_parent: bool = True,
) -> ServerInfo:
    """Build and start a slapd in ``directory`` listening on 127.0.0.1:``port``.

    ``ldif`` (a file) or ``entries`` (RawEntry objects) is the data; neither
    gives an empty tree with just the suffix. The caller owns the returned
    PID: call :func:`stop`.

    By default the data is loaded exactly as given (``slapadd -s``: no schema
    check), because schema checking changes or refuses real exports: AD's
    ``person`` needs no ``sn`` but OpenLDAP's does; ``user`` plus
    ``inetOrgPerson`` are two structural chains for OpenLDAP; and slapadd
    *adds* the RDN value to the entry when it is missing (Exchange 5.5's
    ``cn=jsmith`` RDN on an entry whose ``cn`` is ``Smith, John`` would come
    back with two ``cn`` values). ``schema_check=True`` validates the data
    against the schema instead (needed before modifying entries through
    ``admin=True``, which adds a writable rootdn ``admin_dn``). ``tls_hosts``
    are the names the server certificate holds. ``die_with_parent`` (Linux)
    has the kernel stop slapd when the calling thread dies, so a killed
    test run leaves no server behind (call it from a thread that outlives
    the server); the CLI turns it off.
    """
    if port == 389 or ldaps_port == 389:
        raise SlapdError("port 389 is reserved for a real directory: choose another")
    directory = Path(directory).resolve()
    slapd, slapadd = find_tool("slapd"), find_tool("slapadd")
    config_dir = directory / "slapd.d"
    if config_dir.exists():
        raise SlapdError(f"{directory} already holds a test server: stop it and remove the directory")
    for sub in ("slapd.d", "data", "accounts", "run"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    reader_password = secrets.token_urlsafe(18)
    admin_password = secrets.token_urlsafe(18) if admin else None
    ca_file = None
    if tls:
        ca_file = make_test_pki(directory / "tls", tls_hosts)
        ldaps_port = ldaps_port or free_port()
    config = directory / "config.ldif"
    config.write_text(
        _config_ldif(
            directory,
            base_dn,
            ad_limits=ad_limits,
            anonymous_read=anonymous_read,
            tls=tls,
            admin_password=admin_password,
            max_size=max_size,
        ),
        encoding="utf-8",
    )
    _run([slapadd, "-n0", "-F", str(config_dir), "-l", str(config)], "slapadd of cn=config")
    data = directory / "data.ldif"
    if ldif is not None:
        try:
            source: Iterable[RawEntry] = read_ldif(ldif)
            report = prepare_data(
                source, base_dn, data, drop_unknown=drop_unknown, add_structural=not schema_check
            )
        except InputError as exc:
            raise SlapdError(f"cannot read LDIF: {exc}") from None
    else:
        report = prepare_data(
            entries or (), base_dn, data, drop_unknown=drop_unknown, add_structural=not schema_check
        )
    flags = ["-q"] + ([] if schema_check else ["-s"])
    try:
        _run([slapadd, *flags, "-F", str(config_dir), "-n1", "-l", str(data)], "slapadd of the data")
    except SlapdError as exc:
        if schema_check and "requires attribute" in str(exc):
            raise SlapdError(
                f"{exc} (AD allows a person without sn, OpenLDAP does not: "
                "load without schema_check / --schema-check)"
            ) from None
        raise
    accounts = directory / "accounts.ldif"
    writer_password = secrets.token_urlsafe(18)
    accounts.write_text(_accounts_ldif(reader_password, writer_password), encoding="utf-8")
    _run([slapadd, "-q", "-F", str(config_dir), "-n2", "-l", str(accounts)], "slapadd of the accounts")
    (directory / "load-report.json").write_text(
        json.dumps(
            {
                "entries": report.entries,
                "added_parents": report.added_parents,
                "dropped": report.dropped,
            },
            indent=1,
        )
    )
    urls = [f"ldap://127.0.0.1:{port}/"] + ([f"ldaps://127.0.0.1:{ldaps_port}/"] if tls else [])
    log = (directory / "slapd.log").open("ab")
    proc = subprocess.Popen(
        [slapd, "-F", str(config_dir), "-h", " ".join(urls), "-d", "0"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent if die_with_parent else None,
    )
    log.close()
    (directory / "run" / "ccmig-slapd.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + startup_timeout
    while not _answers("127.0.0.1", port):
        if proc.poll() is not None:
            tail = (directory / "slapd.log").read_text(errors="replace").strip().splitlines()
            raise SlapdError(f"slapd exited with {proc.returncode}: {' | '.join(tail[-3:])}")
        if time.monotonic() > deadline:
            _terminate(proc.pid, 5.0)
            raise SlapdError(f"slapd did not answer on port {port} within {startup_timeout:g}s")
        time.sleep(0.05)
    return ServerInfo(
        url=urls[0].rstrip("/"),
        base_dn=base_dn,
        bind_dn=READER_DN,
        password=reader_password,
        pid=proc.pid,
        directory=directory,
        ca_file=str(ca_file) if ca_file else None,
        ldaps_url=urls[1].rstrip("/") if tls else None,
        admin_dn=f"{ADMIN_DN_RDN},{base_dn}" if admin else None,
        admin_password=admin_password,
        writer_dn=WRITER_DN,
        writer_password=writer_password,
    )


def _is_our_slapd(pid: int, directory: Path) -> bool:
    """Guard against a recycled PID: only a slapd using this directory is ours."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].endswith(b"slapd") and str(directory).encode() in b" ".join(cmdline)


def stop(directory: str | Path, timeout: float = 10.0) -> bool:
    """Stop the slapd started in ``directory``; False if none was running."""
    directory = Path(directory).resolve()
    pid_file = directory / "run" / "ccmig-slapd.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    if not _is_our_slapd(pid, directory):
        pid_file.unlink(missing_ok=True)
        return False
    _terminate(pid, timeout)
    pid_file.unlink(missing_ok=True)
    return True


class SlapdServer:
    """Context manager around :func:`start`/:func:`stop` for fixtures."""

    def __init__(
        self, directory: str | Path, base_dn: str, ldif: str | Path | None = None, **options: Any
    ) -> None:
        self.directory = Path(directory)
        self.base_dn = base_dn
        self.ldif = ldif
        self.options = options
        self.info: ServerInfo | None = None

    def __enter__(self) -> ServerInfo:
        port = int(self.options.pop("port", 0) or free_port())
        self.info = start(self.directory, port, self.base_dn, self.ldif, **self.options)
        return self.info

    def __exit__(self, *exc: object) -> None:
        stop(self.directory)


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """``ldap-test-server start|stop``: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="ldap-test-server", description="Throwaway OpenLDAP slapd that looks like AD."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="build, load and start; print one JSON object")
    p_start.add_argument("--dir", required=True, help="empty working directory")
    p_start.add_argument("--port", type=int, default=0, help="ldap:// port (default: a free one)")
    p_start.add_argument("--base-dn", required=True)
    p_start.add_argument("--ldif", help="data to load (ldifde/ldapsearch LDIF)")
    p_start.add_argument("--tls", action="store_true", help="throwaway CA; StartTLS and ldaps://")
    p_start.add_argument("--ldaps-port", type=int, default=0)
    p_start.add_argument(
        "--default-limits",
        action="store_true",
        help="keep OpenLDAP's size limit 500 (also for paged searches) instead of AD's",
    )
    p_start.add_argument("--anonymous-read", action="store_true")
    p_start.add_argument(
        "--schema-check", action="store_true", help="validate the data (may change or refuse it)"
    )
    p_start.add_argument("--drop-unknown-attributes", action="store_true")
    p_start.add_argument("--admin", action="store_true", help="also a writable rootdn")
    p_stop = sub.add_parser("stop", help="stop the server started in --dir")
    p_stop.add_argument("--dir", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "stop":
            stopped = stop(args.dir)
            print(json.dumps({"stopped": stopped}))
            return 0
        info = start(
            args.dir,
            args.port or free_port(),
            args.base_dn,
            args.ldif,
            tls=args.tls,
            ldaps_port=args.ldaps_port or None,
            ad_limits=not args.default_limits,
            anonymous_read=args.anonymous_read,
            schema_check=args.schema_check,
            drop_unknown=args.drop_unknown_attributes,
            admin=args.admin,
            die_with_parent=False,
        )
    except SlapdError as exc:
        print(f"ldap-test-server: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info.as_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
