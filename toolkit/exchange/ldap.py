"""The LDAP connection to Active Directory or an Exchange 5.5 directory (ldap3).

:func:`read_ldap` connects, streams the paged search of
:mod:`toolkit.exchange.ldapread` and disconnects. It yields
:class:`~toolkit.model.RawEntry` objects shaped exactly like the LDIF
reader's (:mod:`toolkit.exchange.ldif`), so the dialects and rules cannot
tell the sources apart: the DN as the server returns it, attribute names in
lower case with options stripped, values in server order, binary attributes
(``objectGUID`` ...) as ``bytes`` and everything else as ``str``.

This module holds what happens before the first search: settings checks,
TLS, connecting, binding and retrying the connect. The paged read loop is
:mod:`toolkit.exchange.ldapread`, the decoder that replaces part of ldap3 is
:mod:`toolkit.exchange.ldapfast`, the messages both use are
:mod:`toolkit.exchange.ldaperrors`.

Why it is written the way it is:

* **Faults.** ``timeout`` bounds the TCP connect and every wait for data
  from the server (ldap3's receive timeout, so a stalled reply ends too). A
  connection lost, reset or stalled mid-search is a ConnectionFailure that
  says how many entries and whole pages had arrived; the search is never
  re-run. ``retries`` re-tries only *connect* failures (server unreachable,
  refused, no answer before the bind was answered) with exponential backoff;
  a rejected bind or a TLS failure is never re-tried.
* **Secrets.** Certificates are verified by default; a password never
  crosses the network in clear unless ``allow_unencrypted`` (spec: Inputs);
  the password never appears in a message, log line or ``repr``.
* **Auth.** ``simple`` (anonymous when no bind DN), ``ntlm`` (``DOMAIN\\user``,
  through SASL GSS-SPNEGO over TLS: see :mod:`toolkit.exchange.ldap_auth`) and
  ``gssapi`` (Kerberos from the ticket cache; the optional ``gssapi``
  package, ``ccmig[kerberos]``). All three tested against Samba AD DC's own
  KDC and NTLM (docs/ldap.md, "Tested against"); a refused bind is one line
  naming the fix.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import ssl
import struct
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import (
    LDAPException,
    LDAPResponseTimeoutError,
    LDAPSessionTerminatedByServerError,
    LDAPSocketOpenError,
)

from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange.ldap_auth import GSSAPI_MISSING, gss_errors, gss_reason, ntlm_bind, refusal_hint
from toolkit.exchange.ldaperrors import one_line as _one_line
from toolkit.exchange.ldaperrors import transport_reason as _transport_reason
from toolkit.exchange.ldapoptions import (
    AUTH_METHODS,
    MAX_RETRIES,
    RETRY_BASE_DELAY,
    RETRY_MAX_DELAY,
    retry_delay,
)
from toolkit.exchange.ldapread import (
    IGNORED_REFERENCE_RDNS,
    PAGED_RESULTS_OID,
    EntryStream,
    Page,
    PageChunks,
    dialect_attributes,
    escape_filter_value,
    pages,
    recipient_filter,
    search,
    stream,
)

log = logging.getLogger(__name__)

# Re-exported: the names callers know this module by (docs/ldap.md's Python API).
__all__ = [
    "AUTH_METHODS", "IGNORED_REFERENCE_RDNS", "MAX_RETRIES", "PAGED_RESULTS_OID", "RETRY_BASE_DELAY",
    "RETRY_MAX_DELAY", "LdapSettings", "ServerUnreachable", "connect", "dialect_attributes",
    "escape_filter_value", "md4", "nt_hash_credential", "read_ldap", "read_ldap_chunks", "recipient_filter",
    "retry_delay", "search",
]


@dataclass(frozen=True)
class LdapSettings:
    """Where and how to connect. The password is kept out of ``repr``.

    ``url``: ``ldap://host[:port]`` or ``ldaps://host[:port]``. ``auth``:
    ``simple`` (anonymous when ``bind_dn`` is None), ``anonymous``, ``ntlm``
    (``bind_dn`` is ``DOMAIN\\user``) or ``gssapi``. ``timeout`` (seconds) bounds connecting
    and each wait for a server reply. ``retries``: how many more times to try
    when the server cannot be reached (see :func:`connect`).
    """

    url: str
    base_dn: str
    bind_dn: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    allow_unencrypted: bool = False
    auth: str = "simple"
    page_size: int = 1000
    timeout: float = 30.0
    retries: int = 0


_sleep = time.sleep  # tests replace it to act during the backoff


class ServerUnreachable(ConnectionFailure):
    """The connection could not be set up (nothing was read yet): worth retrying."""


# Failures of the transport itself (ldap3's socket errors also subclass OSError).
_TRANSPORT_ERRORS = (
    OSError, LDAPSocketOpenError, LDAPSessionTerminatedByServerError, LDAPResponseTimeoutError,
)


# ---------------------------------------------------------------- messages


def _receive_timeout(timeout: float) -> int:
    """ldap3 packs the receive timeout as whole seconds (SO_RCVTIMEO)."""
    return max(1, math.ceil(timeout))


def _where(settings: LdapSettings) -> str:
    parts = urlsplit(settings.url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}"


# ---------------------------------------------------------------- NTLM helper


def md4(data: bytes) -> bytes:
    """MD4 (RFC 1320). Only for the NTLM NT hash: OpenSSL 3 dropped MD4."""

    def rotl(x: int, n: int) -> int:
        x &= 0xFFFFFFFF
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    msg = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off : off + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            f = (b & c) | (~b & d)
            a, b, c, d = d, rotl(a + f + x[k], s), b, c
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            g = (b & c) | (b & d) | (c & d)
            a, b, c, d = d, rotl(a + g + x[k] + 0x5A827999, s), b, c
        order = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
        for i in range(16):
            k, s = order[i], (3, 9, 11, 15)[i % 4]
            h = b ^ c ^ d
            a, b, c, d = d, rotl(a + h + x[k] + 0x6ED9EBA1, s), b, c
        a, b, c, d = (
            (a + aa) & 0xFFFFFFFF,
            (b + bb) & 0xFFFFFFFF,
            (c + cc) & 0xFFFFFFFF,
            (d + dd) & 0xFFFFFFFF,
        )
    return struct.pack("<4I", a, b, c, d)


def nt_hash_credential(password: str) -> str:
    """``LM:NT`` hex form ldap3 accepts instead of a password for NTLM.

    ldap3 computes MD4 with hashlib, which fails on OpenSSL 3; handing it the
    NT hash avoids that. The result is password-equivalent: never log it.
    """
    return "0" * 32 + ":" + md4(password.encode("utf-16-le")).hex()


# ---------------------------------------------------------------- connection


def _validate(settings: LdapSettings) -> tuple[str, str, int]:
    parts = urlsplit(settings.url)
    scheme = parts.scheme.lower()
    if scheme not in ("ldap", "ldaps") or not parts.hostname:
        raise InputError(f"expected ldap://host[:port] or ldaps://host[:port], got {settings.url!r}",
                         "--ldap-url")  # fmt: skip
    if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        raise InputError("give only scheme, host and port (base DN goes to --base-dn)", "--ldap-url")
    try:
        port = parts.port or (636 if scheme == "ldaps" else 389)
    except ValueError:
        raise InputError(f"bad port in {settings.url!r}", "--ldap-url") from None
    if settings.starttls and scheme == "ldaps":
        raise InputError("StartTLS on ldaps:// makes no sense: use one of them", "--starttls")
    if not settings.base_dn.strip():
        raise InputError("a base DN is required", "--base-dn")
    if settings.auth not in AUTH_METHODS:
        raise InputError(f"unknown auth method {settings.auth!r} (use {', '.join(AUTH_METHODS)})")
    if not 1 <= settings.page_size <= 100_000:
        raise InputError(f"page size must be 1..100000, got {settings.page_size}")
    if not settings.timeout > 0:  # also NaN
        raise InputError("timeout must be positive")
    if not 0 <= settings.retries <= MAX_RETRIES:
        raise InputError(f"retries must be 0..{MAX_RETRIES}, got {settings.retries}", "--retries")
    if settings.ca_file and settings.insecure_skip_verify:
        raise InputError("a CA file and skipping verification contradict each other")
    encrypted = scheme == "ldaps" or settings.starttls
    if settings.auth == "anonymous" and (settings.bind_dn or settings.password):
        raise InputError("an anonymous bind takes no bind DN or password", "--bind-dn")
    if settings.auth == "simple":
        if settings.bind_dn is None and settings.password:
            raise InputError("a password without a bind DN", "--bind-dn")
        if settings.bind_dn is not None and not settings.password:
            # An empty password makes an "unauthenticated bind" that many
            # servers (AD too) answer with success, as anonymous.
            raise InputError(f"no password for {settings.bind_dn}", "--bind-dn")
    if settings.auth == "ntlm" and not (settings.bind_dn and "\\" in settings.bind_dn and settings.password):
        raise InputError("NTLM needs DOMAIN\\user as bind DN and a password", "--bind-dn")
    if settings.auth == "gssapi" and importlib.util.find_spec("gssapi") is None:
        raise InputError(GSSAPI_MISSING, "--ldap-auth")
    sends_password = settings.auth in ("simple", "ntlm") and settings.bind_dn is not None
    if sends_password and not encrypted and not settings.allow_unencrypted:
        # NTLM does not send the password itself, but ldap3 neither signs nor
        # seals, so the response (crackable) and all data travel in clear.
        raise InputError(
            f"a {settings.auth} bind on ldap:// without StartTLS would expose the credentials: "
            "use ldaps://, StartTLS, or allow unencrypted explicitly",
            "--ldap-url",
        )
    return scheme, parts.hostname, port


def _tls(settings: LdapSettings, host: str) -> ldap3.Tls:
    if settings.insecure_skip_verify:
        log.warning("TLS certificate verification is OFF for %s: the server is not authenticated",
                    _where(settings))  # fmt: skip
        return ldap3.Tls(validate=ssl.CERT_NONE, sni=host)
    try:
        return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file, sni=host)
    except LDAPException:
        raise InputError(f"CA file {settings.ca_file!r} not found", "--ca-file") from None


def connect(settings: LdapSettings, writable: bool = False) -> ldap3.Connection:
    """An open, bound connection (read-only unless ``writable``: only the proxy
    apply/undo write path asks for that); InputError or ConnectionFailure otherwise.

    When the server cannot be reached (:class:`ServerUnreachable`: refused,
    unreachable, timed out, connection dropped before the bind was answered)
    it tries ``settings.retries`` more times, waiting :func:`retry_delay`
    seconds before each. Anything else - a rejected bind, a TLS failure, a
    bad setting - fails at once: waiting does not fix it, and re-trying a
    wrong password can lock the account.
    """
    _validate(settings)
    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            return _connect_once(settings, writable)
        except ServerUnreachable as exc:
            if attempt == attempts:
                if attempts > 1:
                    raise ServerUnreachable(f"{exc}; gave up after {attempts} attempts") from None
                raise
            delay = retry_delay(attempt)
            log.warning("%s; retry %d of %d in %g s", exc, attempt, settings.retries, delay)
            _sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _connect_once(settings: LdapSettings, writable: bool = False) -> ldap3.Connection:
    scheme, host, port = _validate(settings)
    encrypted = scheme == "ldaps" or settings.starttls
    tls = _tls(settings, host) if encrypted else None
    server = ldap3.Server(
        host,
        port=port,
        use_ssl=scheme == "ldaps",
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=settings.timeout,
    )
    kwargs: dict[str, object] = {}
    user, password = settings.bind_dn, settings.password
    if settings.auth == "ntlm":
        # Bound by ldap_auth.ntlm_bind (SASL GSS-SPNEGO), not by ldap3's Sicily NTLM.
        authentication = ldap3.ANONYMOUS
        user, password = None, None
    elif settings.auth == "gssapi":
        authentication = ldap3.SASL
        kwargs.update(sasl_mechanism=ldap3.KERBEROS)
        user, password = None, None
    elif settings.auth == "anonymous" or settings.bind_dn is None:
        authentication = ldap3.ANONYMOUS
    else:
        authentication = ldap3.SIMPLE
    secrets = (settings.password, password)
    where = _where(settings)
    conn = ldap3.Connection(
        server,
        user=user,
        password=password,
        authentication=authentication,
        client_strategy=ldap3.SYNC,
        auto_bind=ldap3.AUTO_BIND_NONE,
        read_only=not writable,
        raise_exceptions=False,
        check_names=False,
        auto_referrals=False,
        return_empty_attributes=False,
        receive_timeout=_receive_timeout(settings.timeout),
        **kwargs,
    )
    step = "connect"
    try:
        conn.open()
        if settings.starttls:
            step = "StartTLS"
            if not conn.start_tls():
                raise ConnectionFailure(f"{where}: StartTLS refused by the server")
        step = "bind"
        if settings.auth == "ntlm":  # SASL GSS-SPNEGO, not ldap3's Sicily NTLM (see ldap_auth)
            bound = ntlm_bind(conn, settings.bind_dn or "", settings.password or "", host)
        else:
            bound = conn.bind()
        if not bound:
            raise _bind_failure(conn.result or {}, settings, where, secrets)
    except (LDAPException, OSError) as exc:
        _close(conn)
        text = str(exc)
        tls_error = not isinstance(exc, TimeoutError) and (  # a hung handshake is a timeout
            isinstance(exc, (ssl.SSLError, ssl.CertificateError)) or "ssl" in text.lower())
        what = "TLS" if step == "StartTLS" or tls_error else step
        if "doesn't match any name" in text:  # ldap3's host name check: message holds the whole cert
            what, text = "TLS", f"the server certificate is not valid for host name {host}"
        if what == "TLS" or not isinstance(exc, _TRANSPORT_ERRORS):
            hint = ""
            if "CERTIFICATE_VERIFY_FAILED" in text:
                hint = ("; give the CA that issued the server's certificate with --ca-file "
                        "(or, only to test, --insecure-skip-verify)")  # fmt: skip
            raise ConnectionFailure(f"{where}: {what} failed: {_one_line(text, secrets)}{hint}") from None
        timeout = settings.timeout if step == "connect" else _receive_timeout(settings.timeout)
        # Nothing has been read yet: the caller may try again (settings.retries).
        raise ServerUnreachable(
            f"{where}: {what} failed: {_transport_reason(exc, timeout, secrets)}"
        ) from None
    except ConnectionFailure:
        _close(conn)
        raise
    except ImportError as exc:  # GSSAPI backend
        _close(conn)
        raise InputError(f"{GSSAPI_MISSING} ({exc})", "--ldap-auth") from None
    except gss_errors() as exc:  # no ticket, unknown server principal, expired ...
        _close(conn)
        reason = gss_reason(_one_line(str(exc)), host)
        raise ConnectionFailure(f"{where}: Kerberos bind failed: {reason}") from None
    log.debug("bound to %s as %s (%s)", where, settings.bind_dn or "anonymous", settings.auth)
    return conn


def _bind_failure(result: dict[str, Any], settings: LdapSettings, where: str,
                  secrets: Iterable[str | None]) -> ConnectionFailure:  # fmt: skip
    """The server's refusal of a bind as one line naming what to do (see ldap_auth)."""
    code = result.get("result")
    message = str(result.get("message") or "")
    detail = _one_line(f"{result.get('description', '?')} {message}", secrets)
    who = "Kerberos ticket" if settings.auth == "gssapi" else settings.bind_dn or "anonymous"
    encrypted = settings.starttls or settings.url.lower().startswith("ldaps:")
    hint = refusal_hint(code, message, settings.auth, encrypted)
    # busy (51) and unavailable (52): a server still starting or shutting down.
    failure = ServerUnreachable if code in (51, 52) else ConnectionFailure
    return failure(f"{where}: bind as {who} failed: {hint + ' [' + detail + ']' if hint else detail}")


def _close(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # closing a broken socket must not mask the real error
        log.debug("unbind failed", exc_info=True)


# ---------------------------------------------------------------- the whole read


def read_ldap(
    settings: LdapSettings, search_filter: str, attributes: Iterable[str] | None
) -> EntryStream:
    """Connect, stream every matching entry under ``settings.base_dn``, disconnect.

    Raises InputError (bad settings, exit 2) before connecting and
    ConnectionFailure (exit 3) for anything the network or server does,
    including a search the server did not complete. Nothing happens until
    the first entry is asked for; ``close()`` (or dropping the stream)
    disconnects. The entries come a page at a time (see
    :class:`~toolkit.exchange.ldapread.EntryStream`).
    """
    return stream(_read_pages(settings, search_filter, attributes))  # type: ignore[arg-type]


def read_ldap_chunks(
    settings: LdapSettings, search_filter: str, attributes: Iterable[str] | None,
    kept: frozenset[str] | None = None,
) -> PageChunks:
    """:func:`read_ldap` as chunks, a page each, that a second process can
    decode and classify (:class:`~toolkit.exchange.ldapread.PageChunks`, the
    audit's read). Connects when its chunks are first asked for; closing
    them disconnects. Iterating it gives what :func:`read_ldap` gives; with
    ``kept`` (lower-case names), each entry with those attributes only (the
    others are checked all the same, not decoded)."""
    return PageChunks(lambda: _read_pages(settings, search_filter, attributes, raw=True), kept)


def _read_pages(
    settings: LdapSettings, search_filter: str, attributes: Iterable[str] | None,
    raw: bool = False,
) -> Generator[Page, None, None]:
    conn = connect(settings)
    try:
        yield from pages(
            conn,
            settings.base_dn,
            search_filter,
            attributes,
            settings.page_size,
            where=_where(settings),
            timeout=_receive_timeout(settings.timeout),
            raw=raw,
        )
    finally:
        _close(conn)
