"""What the ldap3 fast path (:mod:`toolkit.exchange.ldapfast`) takes from ldap3
and the wire: the release it was written for, the hashes of the ldap3
functions it copies, mirrors or calls, and the framing helpers of its
receive loop.

Why apart: ldapfast holds the decoder and the receive loop, which change
for speed; what pins them to one ldap3 changes only with ldap3 (moved here
in session 10 to keep both modules under 600 lines). ldapfast imports and
names all of it, so ``ldapfast.LDAP3_INTERNALS`` is what it always was.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
from typing import Any

# The ldap3 release this module was written against; pyproject.toml pins it.
WRITTEN_FOR = ("2.9.1",)

# sha256 (first 16 hex digits) of the source of each ldap3 function the fast
# path copies, mirrors or calls, as in WRITTEN_FOR. A change means: read the
# new ldap3 code, port it to _fast_get_response / decode_search_entry, then
# record the new hash.
LDAP3_INTERNALS = {
    # copied into _fast_get_response (the decoder inserted first)
    "ldap3.strategy.sync.SyncStrategy._get_response": "18e822c1309eef3e",
    # called by the copy: one whole message per item, and the generic decoder
    "ldap3.strategy.sync.SyncStrategy.receiving": "cba919b521654407",
    "ldap3.strategy.base.BaseStrategy.decode_response_fast": "5f2414357fabadf2",
    "ldap3.utils.asn1.decode_message_fast": "3e71b69647dad0a5",
    # call the hook (an instance attribute shadowing the method) for searches
    "ldap3.strategy.base.BaseStrategy.get_response": "50e1d1d421f959c8",
    "ldap3.strategy.sync.SyncStrategy.post_send_search": "c2f09ce33c8bcc0b",
    # what decode_search_entry must give the same result as
    "ldap3.operation.search.search_result_entry_response_to_dict_fast": "b0e53bb37cd89ce7",
    # ldaprequests.search_ahead: a search whose post_send_search answers the message ID
    # returns that ID (its "asynchronous strategy" branch), the request sent
    "ldap3.core.connection.Connection.search": "74691b46a480a293",
    # ldaprequests.paged_search: a later page's request goes through the strategy's send
    # (what Connection.search calls as conn.send) with the first page's
    # searchRequest and the control Connection.search would build
    "ldap3.strategy.base.BaseStrategy.send": "afe97e9340ef75c5",
    "ldap3.protocol.rfc2696.paged_search_control": "1a2f1bd5bf441761",
    # ldaprequests._send_again: send and these, mirrored for a later page
    "ldap3.strategy.base.BaseStrategy.sending": "f4537b9430d33a92",
    "ldap3.strategy.base.BaseStrategy.decode_request": "19a9b57db4882d2f",
    "ldap3.core.server.Server.next_message_id": "1df2e3ab872da692",
    "ldap3.protocol.convert.build_controls_list": "f1027e1b64283fdb",
}


def _resolve(path: str) -> Any:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def internals_hashes() -> dict[str, str]:
    """The same hashes as :data:`LDAP3_INTERNALS`, of the installed ldap3."""
    return {path: hashlib.sha256(inspect.getsource(_resolve(path)).encode()).hexdigest()[:16]
            for path in LDAP3_INTERNALS}



# Bytes asked of the socket at a time. ldap3 asks for 4,096 (its SOCKET_SIZE):
# ~20,000 receives for 100,000 entries, and each one re-slices the pending
# buffer per message. A plain socket hands over what has arrived, up to this.
RECEIVE_SIZE = 1 << 16


def _message_size(buf: bytes, pos: int) -> int:
    """Size of the message starting at ``pos``, or -1 while its length is incomplete.

    The arithmetic of ldap3's ``BaseStrategy.compute_ldap_message_size``
    (which needs more than two octets), without copying the buffer first.
    """
    if len(buf) - pos <= 2:
        return -1
    first = buf[pos + 1]
    if first < 0x80:
        return first + 2
    count = first - 128
    if len(buf) - pos < count + 2:
        return -1
    return int.from_bytes(buf[pos + 2 : pos + 2 + count], "big") + 2 + count


def _receive(strategy: Any) -> bytes:
    """The next bytes from the socket; a failure as ldap3's ``receiving`` raises it."""
    from ldap3.core.exceptions import (
        LDAPExceptionError,
        LDAPSocketReceiveError,
        communication_exception_factory,
    )

    try:
        return strategy.connection.socket.recv(RECEIVE_SIZE)  # type: ignore[no-any-return]
    except (OSError, AttributeError) as exc:
        strategy.connection.last_error = "error receiving data: " + str(exc)
        with contextlib.suppress(OSError, LDAPExceptionError):  # close first, as ldap3 does
            strategy.close()
        raise communication_exception_factory(LDAPSocketReceiveError, type(exc)(str(exc)))(
            strategy.connection.last_error) from None


