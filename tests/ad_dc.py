"""One Samba AD DC for the whole test session (mocks/samba/server.py).

Samba listens on fixed ports, so only one DC runs at a time. Each
organisation the tests need (the demo org, a generated org of >= 2,000
recipients) gets its own provisioned directory, loaded once; switching
organisations stops one DC and starts the other (~5 s, no re-load). A test
that changes a directory's data marks it dirty, and the next user gets it
provisioned afresh. Registered in tests/conftest.py so that the session
fixture exists once, not once per test module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from toolkit.mocks import orggen
from toolkit.mocks.samba import server as samba

from tests.orgkit import ccmig

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mocks" / "demo"
BIG_PEOPLE = 2150  # ~2,030 recipients; Samba loads ~60-100 objects/s


# Samba's ports are machine-wide: concurrent test runs (several checkouts on one
# machine) take turns through this lock instead of failing on "port in use".
LOCK_FILE = Path("/run/lock/ccmig-samba-tests.lock")


class DomainController:
    """Runs one of several provisioned Samba directories at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.current: str | None = None
        self.info: samba.ServerInfo | None = None
        self.loaded: dict[str, samba.ServerInfo] = {}
        self.dirty: set[str] = set()
        self._lock: IO[str] | None = None

    def _take_machine_lock(self) -> None:
        if self._lock is None:
            LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
            self._lock = LOCK_FILE.open("a")
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # released when the session ends

    def use(self, name: str, ldif: Path) -> samba.ServerInfo:
        """The DC holding ``ldif`` (loaded on first use), running."""
        self._take_machine_lock()
        directory = self.root / name
        if name in self.dirty:
            self.stop()
            shutil.rmtree(directory, ignore_errors=True)
            self.loaded.pop(name, None)
            self.dirty.discard(name)
        if self.current == name and self.info and samba.running_pid(directory):
            return self.info
        self.stop()
        first = name not in self.loaded
        info = samba.start(directory, [ldif] if first else [])
        if first:
            self.loaded[name] = info  # keeps the load report
        else:
            info = samba.info(directory, "corp.example", info.pid, self.loaded[name].loaded,
                              self.loaded[name].skipped)  # fmt: skip
        self.current, self.info = name, info
        return info

    @contextlib.contextmanager
    def smb_conf(self, name: str, ldif: Path, key: str, value: str) -> Iterator[samba.ServerInfo]:
        """The DC ``name`` restarted with one smb.conf setting changed, restored after."""
        conf = self.root / name / "etc" / "smb.conf"
        self.use(name, ldif)
        self.stop()
        original = conf.read_text()
        lines = [ln for ln in original.splitlines() if ln.strip().partition("=")[0].strip() != key]
        at = lines.index("[global]") + 1
        conf.write_text("\n".join([*lines[:at], f"\t{key} = {value}", *lines[at:]]) + "\n")
        try:
            yield self.use(name, ldif)
        finally:
            self.stop()
            conf.write_text(original)

    def stop(self) -> None:
        if self.current is not None:
            samba.stop(self.root / self.current)
        self.current, self.info = None, None

    def close(self) -> None:
        self.stop()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


@pytest.fixture(scope="session")
def ad_controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DomainController]:
    samba.find_tool("samba")  # fail, do not skip, when Samba is missing
    dc = DomainController(tmp_path_factory.mktemp("samba"))
    try:
        yield dc
    finally:
        dc.close()


@pytest.fixture(scope="session")
def big_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("big-org")
    orggen.generate(orggen.Settings(people=BIG_PEOPLE, seed=7), out)
    return out


@pytest.fixture
def demo_dc(ad_controller: DomainController) -> samba.ServerInfo:
    return ad_controller.use("demo", DEMO / "org.ldif")


@pytest.fixture
def big_dc(ad_controller: DomainController, big_org: Path) -> samba.ServerInfo:
    return ad_controller.use("big", big_org / "org.ldif")


# ---------------------------------------------------------------- helpers for tests/test_ad_*.py


def rows_of(out: str) -> list[tuple]:
    return [(r["key"], r["kind"], r["route"], r["status"], r["ccmail_name"],
             r["old_post_office"], [f["code"] for f in r["findings"]]) for r in json.loads(out)]


def org_args(org: Path, report: bool = True) -> list[str]:
    """The org's cc:Mail side (+ json output unless ``report`` is False)."""
    args = [a for p in sorted((org / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    args += ["--exchange-po", "EXCH"]
    if report:
        args += ["--format", "json", "--fail-on", "never"]
    if (org / "stats.csv").exists():
        args += ["--mailbox-stats", str(org / "stats.csv")]
    return args


def live_audit(info: samba.ServerInfo, monkeypatch, org: Path, *transport: str) -> str:
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", info.password)
    code, out, err = ccmig("audit", *transport, "--ca-file", info.ca_file, "--base-dn", info.base_dn,
                           "--bind-dn", info.bind_dn, *org_args(org))  # fmt: skip
    assert code == 0, err
    assert info.password not in out + err
    return out


def offline_audit(org: Path) -> str:
    code, out, err = ccmig("audit", "--ldif", str(org / "org.ldif"), *org_args(org))
    assert code == 0, err
    return out
