"""HTTP(S) front of the mock: Basic auth, counters, fault injection, a thread to serve.

:class:`MockExchange` is the endpoint without a socket (auth + counters +
injected faults + WSMan service); :class:`MockExchangeServer` puts it behind
a stdlib ``ThreadingHTTPServer`` on 127.0.0.1. Nagle is disabled on the
handler: with it, every request pays ~40 ms of delayed ACK and benchmarks
measure the kernel, not the client.

Faults (:class:`InjectedFault`, armed with :meth:`MockExchange.inject`) make
chosen requests fail the way a real network and server do: an HTTP 500 with
a non-WSMan body (IIS or a proxy in front of WinRM), a WSMan ``InternalError``
fault, or a TCP reset (RST, no answer at all). A fault can hit the request
*before* the endpoint handles it (nothing happened) or *after* (the change
was made, only the answer is lost) - the case a client must never retry
blindly.

Two faults are Exchange's throttling refusals, the only failed writes a
client may retry (after the wait they name), because the request did not
run: ``throttle-winrm`` answers the request with WinRM's WSMan fault "The
user load quota of ... has been exceeded ... will not be approved for at
least N milliseconds" (:func:`~toolkit.mocks.exchange.errors.winrm_user_quota`);
``throttle-cmdlet`` lets the request through but fails its pipeline with
Exchange's destructive-cmdlet budget error ("... Suggested backoff time N
ms.", :func:`~toolkit.mocks.exchange.errors.destructive_throttled`). Aim them at a
write with ``action="Command", cmdlet="Set-Mailbox"``; ``wait_ms`` is the
wait they name.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import re
import secrets
import shutil
import ssl
import tempfile
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from toolkit.mocks.exchange.cmdlets import Engine
from toolkit.mocks.exchange.organisation import Organisation
from toolkit.mocks.exchange.wsman import NS, WSManService, parse

PATH = "/powershell"
FAULT_KINDS = ("http-500", "wsman-fault", "reset", "throttle-winrm", "throttle-cmdlet")
THROTTLES = ("throttle-winrm", "throttle-cmdlet")
WSMAN_QUOTA_USER = 2150859175  # the WSMan quota fault code, as the mock reports it


class ConnectionReset(Exception):
    """Raised by :meth:`MockExchange.handle` when the connection must be reset (RST)."""


@dataclass
class InjectedFault:
    """One armed fault: which requests it hits and how they fail.

    ``action`` is a WSMan action name (``Command``, ``Send``, ``Receive``,
    ``Signal``, ``Create``, ``Delete``; None: any); ``cmdlet`` narrows a
    ``Command`` to pipelines whose first command is that cmdlet. The first
    ``skip`` matching requests pass, the next ``count`` fail, then the fault
    is spent. ``after``: the endpoint handles the request first, so its
    effect happens and only the answer is lost. ``hits`` records
    ``(action, cmdlet)`` of each request it failed.
    """

    kind: str
    action: str | None = None
    cmdlet: str | None = None
    skip: int = 0
    count: int = 1
    after: bool = False
    wait_ms: int = 1000
    hits: list[tuple[str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")

    @property
    def spent(self) -> bool:
        return len(self.hits) >= self.count

    @classmethod
    def parse(cls, text: str) -> InjectedFault:
        """``KIND[:ACTION[:CMDLET]][,skip=N][,count=N][,after][,wait=MS]`` (the CLI's ``--fault``)."""
        head, *options = text.split(",")
        kind, action, cmdlet = [*head.split(":"), None, None][:3]
        kwargs: dict[str, object] = {}
        for option in options:
            key, _, value = option.partition("=")
            if key == "after":
                kwargs["after"] = True
            elif key in ("skip", "count") and value.isdigit():
                kwargs[key] = int(value)
            elif key == "wait" and value.isdigit():
                kwargs["wait_ms"] = int(value)
            else:
                raise ValueError(f"bad fault option {option!r}")
        return cls(kind or "", action or None, cmdlet or None, **kwargs)  # type: ignore[arg-type]


def _command_cmdlet(body: bytes) -> str | None:
    """The first cmdlet of a Command request's pipeline (read from its CreatePipeline)."""
    try:
        line = parse(body).body
        args = line.findall("rsp:Arguments", NS) if line is not None else []
        data = base64.b64decode(args[0].text or "") if args else b""
    except Exception:
        return None
    m = re.search(rb"<S N=\"Cmd\">([A-Za-z]+-[A-Za-z0-9]+)</S>", data)
    return m.group(1).decode() if m else None


class MockExchange:
    """The endpoint's logic, shared by the HTTP server and :class:`MockTransport`.

    ``requests`` counts WSMan requests (every POST, refused ones and auth
    handshakes included); ``actions`` counts them by WSMan action name
    (``Receive``, ``Send``...; ``auth`` for empty handshake posts).
    ``cmdlets`` counts Command requests by the pipeline's first cmdlet.
    ``bytes_in``/``bytes_out`` count request and response bodies (SOAP,
    before any NTLM sealing). ``commands`` restricts the cmdlets the session
    exposes (None: all). ``max_envelope_kb`` is WinRM's MaxEnvelopeSizekb.
    ``auth_methods`` may add ``"ntlm"`` (Negotiate/NTLM with WinRM message
    encryption, HTTP only): pyspnego's NTLM acceptor reads its credentials
    from the file named by ``$NTLM_USER_FILE``, so enabling it sets that
    variable for the whole process.
    """

    def __init__(self, org: Organisation, *, username: str = "CORP\\exadmin",
                 password: str | None = None, commands: list[str] | None = None,
                 auth_methods: tuple[str, ...] = ("basic",), max_envelope_kb: int = 500) -> None:
        self.org = org
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(18)
        self.service = WSManService(lambda: Engine(org, commands=commands), machine=org.server,
                                    max_envelope_kb=max_envelope_kb)
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.actions: Counter[str] = Counter()
        self.cmdlets: Counter[str] = Counter()  # Command requests by their first cmdlet
        self.faults: list[InjectedFault] = []
        self.auth_methods = tuple(a.lower() for a in auth_methods)
        self.encrypted = 0  # requests that arrived sealed (NTLM message encryption)
        self._count_lock = threading.Lock()
        if "ntlm" in self.auth_methods:
            directory = tempfile.mkdtemp(prefix="mock-exchange-ntlm-")
            weakref.finalize(self, shutil.rmtree, directory, True)
            domain, _, user = username.rpartition("\\")
            users = Path(directory) / "ntlm-users"
            users.write_text(f"{domain}:{user}:{self.password}\n", encoding="utf-8")
            users.chmod(0o600)
            os.environ["NTLM_USER_FILE"] = str(users)

    def ntlm_context(self) -> Any:
        """A fresh pyspnego acceptor (Negotiate, raw NTLM accepted too)."""
        import spnego

        return spnego.server(protocol="negotiate")

    def dispatch(self, body: bytes, user: str) -> tuple[int, bytes]:
        """Count and handle a request from an already authenticated client."""
        self._count(body)
        return self._serve(body, user)

    def inject(self, kind: str, action: str | None = None, *, cmdlet: str | None = None,
               skip: int = 0, count: int = 1, after: bool = False,
               wait_ms: int = 1000) -> InjectedFault:
        """Arm a fault (see :class:`InjectedFault`); returns it, to look at its ``hits``."""
        fault = InjectedFault(kind, action, cmdlet, skip, count, after, wait_ms)
        with self._count_lock:
            self.faults.append(fault)
        return fault

    def _fault_for(self, body: bytes) -> InjectedFault | None:
        if not body:
            return None
        try:
            action = parse(body).action.rsplit("/", 1)[-1]
        except Exception:
            return None
        with self._count_lock:
            armed = [f for f in self.faults if not f.spent
                     and (f.action is None or f.action.lower() == action.lower())]
            if not armed:
                return None
            cmdlet = _command_cmdlet(body) if action == "Command" else None
            due: InjectedFault | None = None
            for fault in armed:  # each fault counts the requests it matches on its own
                if fault.cmdlet and (cmdlet or "").lower() != fault.cmdlet.lower():
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                elif due is None:
                    due = fault
            if due is not None:
                due.hits.append((action, cmdlet))
            return due

    def _serve(self, body: bytes, user: str) -> tuple[int, bytes]:
        """Handle one authenticated request, unless an injected fault hits it."""
        self.bytes_in += len(body)
        fault = self._fault_for(body)
        if fault is not None and fault.kind == "throttle-cmdlet":
            from toolkit.mocks.exchange.errors import destructive_throttled

            cmdlet = fault.hits[-1][1] or fault.cmdlet or "Set-Mailbox"
            self.org.throttle_next = destructive_throttled(cmdlet, self.org.server, fault.wait_ms)
            fault = None
        if fault is not None and fault.kind == "throttle-winrm":
            return self._fail(fault, body)
        if fault is not None and not fault.after:
            return self._fail(fault, b"")
        status, data = self.service.handle(body, user)
        if fault is not None:
            return self._fail(fault, body)
        self.bytes_out += len(data)
        return status, data

    def _fail(self, fault: InjectedFault, body: bytes) -> tuple[int, bytes]:
        if fault.kind == "reset":
            raise ConnectionReset(fault.kind)
        if fault.kind == "throttle-winrm":
            from toolkit.mocks.exchange.errors import winrm_user_quota
            from toolkit.mocks.exchange.wsman import Fault, fault_envelope

            return 500, fault_envelope(Fault(WSMAN_QUOTA_USER, winrm_user_quota(fault.wait_ms),
                                             "w:QuotaLimit"), parse(body).message_id,
                                       self.org.server)
        if fault.kind == "wsman-fault":
            from toolkit.mocks.exchange.wsman import BAD_REQUEST, Fault, fault_envelope

            relates = parse(body).message_id if body else ""
            return 500, fault_envelope(Fault(BAD_REQUEST, "The WS-Management service cannot "
                                             "process the request: an internal error occurred "
                                             "(injected fault)."), relates, self.org.server)
        return 500, b"500 Internal Server Error (injected fault)"

    @classmethod
    def from_files(cls, ldif: str | Path, stats: str | Path | None = None,
                   policies: str | Path | None = None, **kwargs: object) -> MockExchange:
        return cls(Organisation.from_files(ldif, stats, policies),  # type: ignore[arg-type]
                   **kwargs)

    def _count(self, body: bytes) -> None:
        try:
            action = parse(body).action.rsplit("/", 1)[-1] if body else "auth"
        except Exception:
            action = "?"
        cmdlet = _command_cmdlet(body) if action == "Command" else None
        with self._count_lock:
            self.requests += 1
            self.actions[action] += 1
            if cmdlet:
                self.cmdlets[cmdlet] += 1

    def authorised(self, header: str | None) -> bool:
        """Basic auth check in constant time; anything else is refused."""
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (hmac.compare_digest(user.lower(), self.username.lower())
                & hmac.compare_digest(password, self.password))

    def handle(self, body: bytes, authorization: str | None) -> tuple[int, bytes]:
        """(HTTP status, body) for one POST; 401 with an empty body when not authorised."""
        self._count(body)
        if not self.authorised(authorization):
            return 401, b""
        return self._serve(body, self.username)

    @property
    def signals(self) -> list[tuple[str, str]]:
        """Signals received, as (code URI, command id), for tests."""
        return self.service.signals


class _Handler(BaseHTTPRequestHandler):
    """One instance per TCP connection: NTLM authenticates the connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer
    _ntlm: Any = None

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0].rstrip("/").lower() != PATH:
            self._reply(404, b"", "text/plain")
            return
        core = self.server.core
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization") or ""
        scheme = auth.split(" ", 1)[0].lower()
        if scheme in ("negotiate", "ntlm") and "ntlm" in core.auth_methods:
            self._negotiate(auth, body)
        elif self._ntlm is not None and self._ntlm.complete and not auth:
            self._sealed(body)
        elif "multipart/encrypted" in self.headers.get("Content-Type", "").lower():
            self._reply(401, b"", "text/plain")
        else:
            try:
                status, data = core.handle(body, auth or None)
            except ConnectionReset:
                self._reset()
                return
            self._reply(status, data, self._content_type(data))

    @staticmethod
    def _content_type(data: bytes) -> str:
        if data[:1] == b"<" or not data:
            return "application/soap+xml;charset=UTF-8"
        return "text/plain"

    def _reset(self) -> None:
        """Abort the connection with a TCP RST: the client gets no answer at all."""
        import socket
        import struct

        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _negotiate(self, auth: str, body: bytes) -> None:
        """One leg of the Negotiate/NTLM handshake on this connection."""
        core = self.server.core
        if self._ntlm is None or self._ntlm.complete:
            self._ntlm = core.ntlm_context()
        try:
            out = self._ntlm.step(base64.b64decode(auth.split(" ", 1)[1]))
        except Exception:  # bad token or wrong password: start over
            self._ntlm = None
            core._count(body)
            self._reply(401, b"", "text/plain")
            return
        token = {"WWW-Authenticate": f"Negotiate {base64.b64encode(out).decode()}"} if out else {}
        if not self._ntlm.complete:
            core._count(body)
            self._reply(401, b"", "text/plain", token)
        elif body:
            self._sealed(body, token)
        else:
            core._count(body)
            self._reply(200, b"", "text/plain", token)

    def _sealed(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        """A request on an NTLM connection: unwrap, handle, wrap the reply."""
        from pypsrp.encryption import WinRMEncryption

        crypto = WinRMEncryption(self._ntlm, WinRMEncryption.SPNEGO)
        ctype = self.headers.get("Content-Type", "")
        plain = body
        if "multipart/encrypted" in ctype.lower():
            try:
                plain = crypto.unwrap_message(body, "Encrypted Boundary")
            except Exception:  # sealed with another connection's key: refuse, start over
                self.server.core._count(b"")
                self._ntlm = None
                self.close_connection = True
                self._reply(400, b"", "text/plain")
                return
            self.server.core.encrypted += 1
        try:
            status, data = self.server.core.dispatch(plain, str(self._ntlm.client_principal))
        except ConnectionReset:
            self._reset()
            return
        if "multipart/encrypted" not in ctype.lower():
            self._reply(status, data, extra=headers)
            return
        kind, sealed = crypto.wrap_message(data)
        self._reply(status, sealed, f'{kind};protocol="{WinRMEncryption.SPNEGO}";'
                    'boundary="Encrypted Boundary"', headers)

    def do_GET(self) -> None:
        self._reply(405, b"", "text/plain")

    def _reply(self, status: int, data: bytes,
               ctype: str = "application/soap+xml;charset=UTF-8",
               extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if status == 401 and not extra:
            if "ntlm" in self.server.core.auth_methods:
                self.send_header("WWW-Authenticate", "Negotiate")
            self.send_header("WWW-Authenticate", f'Basic realm="{self.server.core.org.server}"')
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests and benchmarks want quiet; the counter says what happened


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    core: MockExchange


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway certificate for ``host`` (and localhost): (cert PEM, key PEM)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mock-exchange")])
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "mock-exchange.crt", directory / "mock-exchange.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class MockExchangeServer:
    """The mock on a real socket, served from a thread (context manager).

    ``port=0`` picks a free port; :attr:`uri` is ``http(s)://127.0.0.1:PORT/PowerShell``.
    With ``https=True`` a self-signed certificate is made at start; its PEM
    is :attr:`ca_file` (what a client passes to validate it).
    """

    def __init__(self, core: MockExchange, *, host: str = "127.0.0.1", port: int = 0,
                 https: bool = False) -> None:
        self.core = core
        self.host, self.port, self.https = host, port, https
        self.ca_file: Path | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def from_files(cls, ldif: str | Path, stats: str | Path | None = None, *,
                   https: bool = False, port: int = 0, **kwargs: object) -> MockExchangeServer:
        return cls(MockExchange.from_files(ldif, stats, **kwargs), https=https, port=port)

    @property
    def uri(self) -> str:
        scheme = "https" if self.https else "http"
        return f"{scheme}://{self.host}:{self.port}/PowerShell"

    @property
    def requests(self) -> int:
        return self.core.requests

    def start(self) -> MockExchangeServer:
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.core = self.core
        if self.https:
            self._tmp = tempfile.TemporaryDirectory(prefix="mock-exchange-")
            cert, key = self_signed_certificate(Path(self._tmp.name), self.host)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
            self.ca_file = cert
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mock-exchange", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread (the CLI), after :meth:`start` set it up."""
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> MockExchangeServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
