"""A loopback TCP proxy that injects network faults between a client and a server.

Why: a real server (slapd) fails in a few ways a test can provoke itself -
killed, restarted - but not in the ways a network does: a slow link, a
connection that stalls half-way through a reply, a reset. This proxy sits
on 127.0.0.1 in front of any TCP server and, per connection, can

* ``delay``: sleep that many seconds before forwarding each chunk (both ways);
* ``stall_after=N``: forward the first N bytes the server sends, then nothing
  more (the connection stays open: the client must time out by itself);
  ``stall_after=0`` is a port that accepts and never answers;
* ``reset_after=N``: forward N server bytes, then reset the client connection
  (RST, as a crashed middlebox or a killed peer on another host does);
* ``close_after=N``: forward N server bytes, then close it in order (FIN);
* ``on_request(n, message)``: call a function with each complete LDAP message
  the client sends (BER-framed, ``n`` counting from 1 on that connection)
  *before* it is forwarded - deterministic fault points such as "kill the
  server when the client asks for page 3" (see :func:`ldap_operation`). If
  it returns ``"stall"``, ``"reset"`` or ``"close"``, that request is not
  forwarded and the connection stalls (nothing more reaches the client),
  is reset or is closed.
  Plain LDAP only: after StartTLS the bytes are relayed exactly, but what
  ``on_request`` sees is not meaningful.

Byte counts are of the server-to-client stream of one connection. Faults can
be changed while the proxy runs (:meth:`FaultProxy.set_faults`); a new
setting applies to connections accepted afterwards.

:func:`blackhole_port` accepts connections and never answers;
:func:`syn_blackhole` is a port where even the TCP connect times out.

Only the standard library is used (threads, one pair per connection)::

    with FaultProxy(slapd_port, stall_after=4096) as proxy:
        run_client(f"ldap://127.0.0.1:{proxy.port}")
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# LDAPMessage protocolOp tags (RFC 4511, [APPLICATION n]) of client requests.
_OPERATIONS = {
    0x60: "bindRequest",
    0x42: "unbindRequest",
    0x63: "searchRequest",
    0x66: "modifyRequest",
    0x68: "addRequest",
    0x4A: "delRequest",
    0x6C: "modDNRequest",
    0x6E: "compareRequest",
    0x50: "abandonRequest",
    0x77: "extendedRequest",
}


def ber_message_size(data: bytes | bytearray) -> int | None:
    """Total size of the BER element at the start of ``data``; None until the length is complete."""
    if len(data) < 2:
        return None
    first = data[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if len(data) < 2 + count:
        return None
    return 2 + count + int.from_bytes(data[2 : 2 + count], "big")


def ldap_operation(message: bytes) -> str:
    """The request type of one whole LDAPMessage (``searchRequest`` ...), or ``unknown``."""
    try:
        pos = 2 if message[1] < 0x80 else 2 + (message[1] & 0x7F)  # past the SEQUENCE header
        if message[pos] != 0x02:  # messageID INTEGER
            return "unknown"
        pos += 2 + message[pos + 1]
        return _OPERATIONS.get(message[pos], "unknown")
    except IndexError:
        return "unknown"


@dataclass(frozen=True)
class Faults:
    delay: float = 0.0
    stall_after: int | None = None
    reset_after: int | None = None
    close_after: int | None = None
    on_request: Callable[[int, bytes], Any] | None = None

    def limit(self) -> tuple[int | None, str | None]:
        """(bytes to forward, what then) for the server-to-client stream."""
        for count, action in ((self.stall_after, "stall"), (self.reset_after, "reset"),
                              (self.close_after, "close")):  # fmt: skip
            if count is not None:
                return count, action
        return None, None


class FaultProxy:
    """Listen on 127.0.0.1:``port`` (0: a free one) and relay to ``target_host:target_port``.

    A context manager; :meth:`stop` closes every connection. ``connections``
    counts accepted clients, ``requests`` every client LDAP message seen, and
    ``down_bytes`` the server bytes forwarded, over all connections.
    """

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1", port: int = 0,
                 **faults: Any) -> None:  # fmt: skip
        self.target = (target_host, target_port)
        self.faults = Faults(**faults)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.connections = 0
        self.requests: list[tuple[int, str]] = []  # (connection number, operation)
        self.down_bytes = 0
        self.down_chunks = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.port: int = self.listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def set_faults(self, **faults: Any) -> None:
        """Replace the faults (unnamed ones reset to none) for connections accepted from now on."""
        self.faults = Faults(**faults)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FaultProxy:
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            _close(s)
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ internals

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.add(s)

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self._track(client)
            with self._lock:
                self.connections += 1
                number = self.connections
            self._spawn(self._serve, client, number, self.faults)

    def _serve(self, client: socket.socket, number: int, faults: Faults) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)  # as a dead server looks through a proxy: accepted, then reset
            return
        server.settimeout(None)
        self._track(server)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stalled = threading.Event()
        self._spawn(self._upstream, client, server, number, faults, stalled)
        self._downstream(server, client, faults, stalled)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the proxy stops; False when it stopped."""
        return not self._stop.wait(seconds) if seconds > 0 else not self._stop.is_set()

    def _fault(self, action: str, client: socket.socket, server: socket.socket,
               stalled: threading.Event) -> None:  # fmt: skip
        if action == "stall":
            stalled.set()  # the other direction stops forwarding too
            self._stop.wait()  # hold both connections open
        elif action == "reset":
            _reset(client)
            _close(server)
        elif action == "close":
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            _close(client)
            _close(server)
        else:
            raise ValueError(f"unknown fault {action!r}")

    def _upstream(self, client: socket.socket, server: socket.socket, number: int, faults: Faults,
                  stalled: threading.Event) -> None:  # fmt: skip
        """Client to server: frame LDAP messages for ``on_request``, forward them."""
        pending = bytearray()
        count = 0
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if not self._wait(faults.delay):
                    return
                pending += data
                while (size := ber_message_size(pending)) is not None and len(pending) >= size:
                    message = bytes(pending[:size])
                    del pending[:size]
                    count += 1
                    with self._lock:
                        self.requests.append((number, ldap_operation(message)))
                    action = faults.on_request(count, message) if faults.on_request else None
                    if action is not None:
                        self._fault(action, client, server, stalled)
                        return
                    server.sendall(message)
                if pending and ber_message_size(pending) is None and len(pending) > 16:
                    server.sendall(bytes(pending))  # not LDAP: relay as is
                    pending.clear()
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_WR)
        except OSError:
            _close(server)
            _close(client)

    def _downstream(self, server: socket.socket, client: socket.socket, faults: Faults,
                    stalled: threading.Event) -> None:  # fmt: skip
        """Server to client, with the delay and the byte-count fault."""
        limit, action = faults.limit()
        sent = 0
        try:
            while limit is None or sent < limit:
                data = server.recv(65536)
                if stalled.is_set():
                    self._stop.wait()
                    return
                if not data:
                    with contextlib.suppress(OSError):
                        client.shutdown(socket.SHUT_WR)
                    return
                if not self._wait(faults.delay):
                    return
                if limit is not None:
                    data = data[: limit - sent]
                client.sendall(data)
                sent += len(data)
                with self._lock:
                    self.down_bytes += len(data)
                    self.down_chunks += 1
        except OSError:
            _close(client)
            _close(server)
            return
        self._fault(action or "close", client, server, stalled)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()


def _reset(s: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER with a zero timeout).

    ``shutdown(SHUT_RD)`` first wakes the other thread blocked in ``recv`` on
    this socket; until it lets go, the kernel would not really close it.
    """
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        s.close()


class SynBlackhole:
    """A port where the TCP connect itself never completes (the SYN goes unanswered).

    A listener with a backlog of 0 whose one queue slot is taken by a
    connection nobody accepts: Linux then drops further SYNs, so the
    client's connect waits for its timeout, as for a host behind a firewall
    that drops packets. ``close()`` when done.
    """

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port: int = self.listener.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(2):  # the kernel admits backlog + 1
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.3)
            try:
                filler.connect(("127.0.0.1", self.port))
            except OSError:
                filler.close()
                break
            self.fillers.append(filler)

    def connect_times_out(self, seconds: float = 0.3) -> bool:
        """True when a connect really hangs here (checks the kernel behaves as described)."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(seconds)
            try:
                probe.connect(("127.0.0.1", self.port))
            except TimeoutError:
                return True
            except OSError:
                return False
            return False

    def close(self) -> None:
        for s in (*self.fillers, self.listener):
            _close(s)


def blackhole_port() -> tuple[socket.socket, int]:
    """A listening socket that completes TCP handshakes but never reads or answers.

    The caller closes the socket. (A proxy with ``stall_after=0`` does the
    same in front of a real server.)
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener, listener.getsockname()[1]


__all__ = ["FaultProxy", "Faults", "SynBlackhole", "ber_message_size", "blackhole_port", "ldap_operation"]
