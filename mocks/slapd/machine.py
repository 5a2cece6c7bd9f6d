"""What a throwaway directory server needs from the machine: programs, a port, a PKI, a child.

Why a module of its own: none of it knows slapd or LDAP. The Samba DC
(:mod:`toolkit.mocks.samba.server`) makes its CA and starts, watches and
stops its child with these same functions. Only the standard library is used.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from toolkit.mocks.slapd import SlapdError

# ---------------------------------------------------------------- programs and ports


def find_tool(name: str) -> str:
    """Path of an OpenLDAP/openssl program; /usr/sbin is not on every PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        hint = "apt-get install slapd ldap-utils" if name.startswith("slap") else "openssl"
        raise SlapdError(f"{name} not found: install it ({hint})")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (never 389)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- TLS material


def make_test_pki(directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> Path:
    """A throwaway CA plus a server certificate for ``hosts``; returns the CA file.

    Writes ``ca.pem``, ``server.pem`` and ``server.key`` (mode 0600) with the
    openssl command. Two calls give two unrelated CAs (for wrong-CA tests).
    """
    directory.mkdir(parents=True, exist_ok=True)
    openssl = find_tool("openssl")
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    san = ",".join(
        f"IP:{h}" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+:[0-9a-fA-F:]*", h) else f"DNS:{h}" for h in hosts
    )
    ext = directory / "server.ext"
    ext.write_text(
        f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", f"/CN=ccmig throwaway test CA {secrets.token_hex(4)}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", f"/CN={hosts[0]}"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext],
    ]  # fmt: skip
    old = os.umask(0o077)
    try:
        for cmd in steps:
            done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
            if done.returncode:
                last = (done.stderr.strip().splitlines() or ["?"])[-1]
                raise SlapdError(f"openssl failed: {last}")
    finally:
        os.umask(old)
    return ca


# ---------------------------------------------------------------- a child process


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (its parent may be gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM, SIGKILL if it still runs after ``timeout`` seconds; reaped when it is our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
