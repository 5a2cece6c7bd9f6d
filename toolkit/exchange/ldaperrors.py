"""How an LDAP failure reads: one line an admin can act on, never a secret.

Shared by the connection (:mod:`toolkit.exchange.ldap`) and the paged read
(:mod:`toolkit.exchange.ldapread`), which both turn ldap3 and socket
exceptions into the spec's one-line errors; kept below both so neither
imports the other for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ldap3.core.exceptions import LDAPSessionTerminatedByServerError

from toolkit.text import one_line as one_line_text
from toolkit.text import shorten

_LIBRARY_NOISE = re.compile(
    r"wrap socket error: |socket ssl wrapping error: |socket connection error while opening: "
    r"| \(_ssl\.c:\d+\)"
)


def one_line(text: str, secrets: Iterable[str | None] = ()) -> str:
    """A library message made safe for our one-line errors: no secret, no newline.

    ldap3 nests exception texts as tuple reprs; only the innermost reason is kept.
    """
    text = _LIBRARY_NOISE.sub("", one_line_text(text, secrets))
    previous = None
    while previous != text:
        previous = text
        text = text.strip().strip("()'\",").strip()
    return shorten(text, 240)


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def transport_reason(exc: BaseException, timeout: float | None, secrets: Iterable[str | None] = ()) -> str:
    """Why a socket operation failed, in words an admin can act on (one line).

    ldap3 raises classes that inherit from both its own exception and the
    socket error it caught, so ``isinstance`` sees the original cause.
    """
    text = str(exc)
    lower = text.lower()
    if isinstance(exc, TimeoutError) or "timed out" in lower:
        limit = f" within {timeout:g} s (--timeout)" if timeout is not None else ""
        return f"timed out: no reply from the server{limit}"
    if isinstance(exc, ConnectionResetError) or "reset by peer" in lower:
        return "the connection was reset"
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in lower:
        return "connection refused (is the server running, is the port right?)"
    if isinstance(exc, (LDAPSessionTerminatedByServerError, BrokenPipeError, ConnectionAbortedError)) \
            or "session terminated" in lower or "broken pipe" in lower:
        return "the server closed the connection"
    return one_line(text, secrets)
