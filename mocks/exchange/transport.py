"""The mock without a socket: a drop-in for pypsrp's ``WSMan.transport``.

pypsrp's WSMan only needs ``transport.send(bytes) -> bytes``, ``endpoint``
and ``close()``; HTTP errors are signalled with its own exceptions, which
this class raises the same way its HTTP transport does, so fault parsing
and auth failures behave as over a real connection (an injected reset is
the ``requests`` ConnectionError a reset socket gives).
"""

from __future__ import annotations

import base64
from typing import Any

from toolkit.mocks.exchange.server import ConnectionReset, MockExchange


class MockTransport:
    """``WSMan.transport`` replacement that calls :class:`MockExchange` directly."""

    def __init__(self, core: MockExchange, username: str | None = None,
                 password: str | None = None,
                 endpoint: str = "http://mock-exchange/PowerShell") -> None:
        self.core = core
        self.endpoint = endpoint
        self.username = core.username if username is None else username
        self.password = core.password if password is None else password

    def send(self, message: bytes, *, retries_on_read_timeout: int = 0,
             timeout: Any = None) -> bytes:
        import requests
        from pypsrp.exceptions import AuthenticationError, WinRMTransportError

        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        try:
            status, body = self.core.handle(message, f"Basic {token}")
        except ConnectionReset:
            raise requests.exceptions.ConnectionError(
                "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
            ) from None
        if status == 401:
            raise AuthenticationError(f"Failed to authenticate the user {self.username} with basic")
        if status != 200:
            raise WinRMTransportError("http", status, body.decode("utf-8", "replace"))
        return body

    def close(self) -> None:
        pass
