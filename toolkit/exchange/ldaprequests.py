"""The requests of a paged read: each page asked for ahead, the first page's request sent again.

Why apart from :mod:`toolkit.exchange.ldapfast`: that module decodes what
comes back; this one shapes what goes out. Both lean on ldap3 internals, all
recorded (with their hashes) in :data:`toolkit.exchange.ldapfast.LDAP3_INTERNALS`
and checked by ``tests/test_ldap_fastpath.py``; off the ldap3 release they
were written for (:data:`~toolkit.exchange.ldapfast.WRITTEN_FOR`) or its plain
synchronous strategy, every request is ldap3's own ``Connection.search``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ldap3

from toolkit.exchange.ldapfast import WRITTEN_FOR


def search_ahead(conn: ldap3.Connection, base: str, search_filter: str,
                 **search: Any) -> Callable[[], None]:
    """Send ``conn.search(base, search_filter, **search)``'s request now; the
    function returned waits for its answer, after which ``conn.result`` and
    ``conn.response`` hold it as after ``conn.search``.

    Why: a paged read that asks for the next page only after the consumer has
    taken the current one leaves the server idle while the audit classifies a
    page, and the audit waiting while the server makes the next. Sending the
    next page's request before the current page is handed over lets the two
    work at once. Against the bench's slapd this gains nothing measurable
    (slapd makes a page faster than ccmig reads it, so ccmig hardly waits); it
    matters where the server is the slower side - a busy domain controller, a
    link with latency - where a serial read costs the server's time plus
    ccmig's, page after page. How: on ldap3's plain synchronous strategy,
    ``Connection.search`` ends with ``self.post_send_search(self.send(...))``
    and returns whatever int that gives (its branch for an asynchronous
    strategy), so with ``post_send_search`` answering the message ID for one
    call the request goes out and the ID comes back; the strategy's own
    ``post_send_search`` later receives the answer exactly as it would have.
    Anything else (the mock strategies, another ldap3) searches when the
    function is called: the old order, same results.
    """
    from ldap3.strategy.sync import SyncStrategy

    strategy = getattr(conn, "strategy", None)
    if ldap3.__version__ not in WRITTEN_FOR or type(strategy) is not SyncStrategy:
        return lambda: conn.search(base, search_filter, **search)  # type: ignore[no-any-return]
    receive = conn.post_send_search
    conn.post_send_search = lambda message_id: message_id  # so conn.search returns the ID
    try:
        message_id = conn.search(base, search_filter, **search)
    finally:
        conn.post_send_search = receive
    if message_id.__class__ is not int:  # pragma: no cover - the hashes pin this branch
        raise RuntimeError("ldap3's search did not return the message ID")
    return lambda: receive(message_id)  # type: ignore[no-any-return]


def paged_search(conn: ldap3.Connection, base: str, search_filter: str, page_size: int,
                 criticality: bool = False, **search: Any) -> Callable[[bytes | None], Callable[[], None]]:
    """The function that asks for a page of one paged search by its cookie
    (None: the first page), as :func:`search_ahead` does: it returns the
    function that waits for the page.

    Why: ``Connection.search`` builds the request anew for every page - it
    parses the filter and builds the attribute list into pyasn1 objects
    (~1.2 ms a page, measured: half of a page request's cost; the page's
    message and its encoding are the other half), the same objects for
    every page of one search. Here only the first page goes through
    ``Connection.search``; its searchRequest is kept (seen on its way
    through ``conn.send``, the strategy's ``send`` that ``Connection.search``
    calls) and every later page is sent as ``Connection.search`` would send
    it: with that request and the paged-results control of the new cookie
    (:func:`_send_again`). Checks ``Connection.search`` makes before it builds the
    request (attribute names against a schema, the DN) were made for the
    first page with the same arguments. Callgrind, the reader alone against
    the 10,000-people slapd (10 pages): 975.2M -> 954.5M instructions, ~2.3M
    a later page. ``tests/test_ldap_live.py`` holds every request sent to the
    bytes ``Connection.search`` sends for the same cookie. Anything but
    ldap3's plain synchronous strategy (the mocks, another ldap3) asks
    ``Connection.search`` for every page.
    """
    from ldap3.protocol.rfc2696 import paged_search_control
    from ldap3.protocol.rfc4511 import ProtocolOp
    from ldap3.strategy.sync import SyncStrategy
    from ldap3.utils.asn1 import encode

    plain = ldap3.__version__ in WRITTEN_FOR and type(getattr(conn, "strategy", None)) is SyncStrategy
    # _send_again's octets are ldap3's for a control that is not critical and a
    # message that is not signed (DIGEST-MD5 signs each one)
    plain_send = plain and not criticality and getattr(conn, "sasl_mechanism", None) != ldap3.DIGEST_MD5
    requests: list[Any] = []  # the first page's searchRequest, once it went out (then its octets)

    def ask(cookie: bytes | None) -> Callable[[], None]:
        if requests and cookie:
            controls = [paged_search_control(criticality, page_size, cookie)]
            if plain_send:
                if not requests[1:]:  # the searchRequest's octets, encoded once
                    requests.append(encode(ProtocolOp().setComponentByName("searchRequest", requests[0])))
                message_id = _send_again(conn, requests[0], requests[1], controls)
            else:
                message_id = conn.send("searchRequest", requests[0], controls)
            receive = conn.post_send_search
            return lambda: receive(message_id)  # type: ignore[no-any-return]
        if not plain:
            return search_ahead(conn, base, search_filter, paged_size=page_size,
                                paged_cookie=cookie, paged_criticality=criticality, **search)
        send = conn.send

        def seen(message_type: str, request: Any, controls: Any = None) -> Any:
            if message_type == "searchRequest" and not requests:
                requests.append(request)
            return send(message_type, request, controls)

        conn.send = seen
        try:
            return search_ahead(conn, base, search_filter, paged_size=page_size,
                                paged_cookie=cookie, paged_criticality=criticality, **search)
        finally:
            conn.send = send

    return ask


def _tlv(tag: int, content: bytes) -> bytes:
    """A BER element in the definite form, lengths as short as they go (as pyasn1 writes them)."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content


def search_message(message_id: int, operation: bytes, controls: list[Any]) -> bytes:
    """The LDAPMessage ``send`` encodes: this ID, the searchRequest's octets, these controls."""
    from ldap3.protocol.convert import build_controls_list
    from ldap3.utils.asn1 import encode

    return _tlv(0x30, _tlv(0x02, message_id.to_bytes((message_id.bit_length() + 8) // 8, "big"))
                + operation + encode(build_controls_list(controls)))


def _send_again(conn: ldap3.Connection, request: Any, operation: bytes, controls: list[Any]) -> int:
    """``conn.send("searchRequest", request, controls)`` - ldap3's
    ``BaseStrategy.send`` and ``sending`` - with the searchRequest's octets
    encoded once (``operation``): the message around them (its ID, the
    controls) is written here, the controls encoded by ldap3. What ``send``
    records (``conn.request``, the outstanding request its answer is matched
    to) and counts (``usage``) is recorded as ``send`` does; a connection
    that is closed or in a SASL bind is left to ``send``, which raises.

    Why: ``send`` builds the whole message into pyasn1 objects and encodes
    it (callgrind, the reader alone against the 10,000-people slapd:
    954.5M -> 944.6M instructions, ~1.1M a later page). ``tests/test_ldap_live.py`` holds the
    octets on the wire to those ``Connection.search`` sends.
    """
    from ldap3.core.exceptions import LDAPSocketSendError, communication_exception_factory
    from ldap3.strategy.base import BaseStrategy

    if not conn.listening or conn.sasl_in_progress:
        return conn.send("searchRequest", request, controls)  # type: ignore[no-any-return]
    conn.request = None
    message_id: int = conn.server.next_message_id()
    message = search_message(message_id, operation, controls)
    conn.request = BaseStrategy.decode_request("searchRequest", request, controls)
    conn.strategy._outstanding[message_id] = conn.request
    try:
        conn.socket.sendall(message)
    except OSError as exc:
        conn.last_error = "socket sending error" + str(exc)
        raise communication_exception_factory(LDAPSocketSendError, type(exc)(str(exc)))(
            conn.last_error) from None
    if conn.usage:
        conn._usage.update_transmitted_message(conn.request, len(message))
    return message_id
