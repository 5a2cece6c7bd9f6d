"""Read Active Directory or an Exchange 5.5 directory over LDAP (ldap3).

Yields :class:`~toolkit.model.RawEntry` objects shaped exactly like the LDIF
reader's (:mod:`toolkit.exchange.ldif`), so the dialects and rules cannot
tell the sources apart: the DN as the server returns it, attribute names in
lower case with options stripped, values in server order, binary attributes
(``objectGUID`` ...) as ``bytes`` and everything else as ``str``.

Why it is written the way it is:

* **Completeness.** ldap3's paged-search generator stops silently when a
  server size limit cuts a paged search short (result 4 is visible only in
  ``conn.result``). A short read would become a report presented as complete,
  so this module runs the paging loop itself and checks the result code of
  every page; any failure raises :class:`~toolkit.errors.ConnectionFailure`
  (exit 3) saying how many entries had been read. The stream raises at the
  point of failure: consumers must not publish anything until it is
  exhausted.
* **Streaming.** One page (``page_size``, default 1000 = AD's MaxPageSize) is
  in memory at a time, and values are decoded from ``raw_attributes`` with
  one UTF-8 decode, not ldap3's per-syntax formatters (100k objects).
* **Referrals.** Not followed: ldap3 cannot follow them inside a paged search
  and following them silently would mix servers and credentials. A referral
  result, or a continuation reference to anything but AD's application
  partitions (DomainDnsZones, ForestDnsZones, Configuration, which hold no
  recipients and which every whole-domain search returns), is a
  ConnectionFailure naming the URL: point ``--ldap-url`` at a Global Catalog
  (port 3268/3269) or read each domain separately.
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
import re
import ssl
import struct
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import ldap3
from ldap3.core.exceptions import (
    LDAPException,
    LDAPInvalidFilterError,
    LDAPResponseTimeoutError,
    LDAPSessionTerminatedByServerError,
    LDAPSocketOpenError,
)
from ldap3.utils.conv import escape_bytes, escape_filter_chars

from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange.dialects import AD_ATTRIBUTES, EX55_ATTRIBUTES
from toolkit.exchange.dn import display_dn
from toolkit.exchange.ldap_auth import GSSAPI_MISSING, gss_errors, gss_reason, ntlm_bind, refusal_hint
from toolkit.exchange.ldif import BINARY_ATTRS
from toolkit.model import AttrValue, Dialect, RawEntry

log = logging.getLogger(__name__)

AUTH_METHODS = ("simple", "anonymous", "ntlm", "gssapi")
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"

# Continuation references AD returns for every whole-domain search; these
# partitions hold DNS zones and configuration, never recipients.
IGNORED_REFERENCE_RDNS = frozenset({"dc=domaindnszones", "dc=forestdnszones", "cn=configuration"})

_RESULT_HINTS = {
    1: "the server refused the search (AD refuses anonymous searches: bind with --bind-dn)",
    3: "the server's time limit stopped the search",
    4: "the server's size limit stopped the search (the account needs an unlimited total for paged searches)",
    11: "the server refused the search (administrative limit; try a smaller page size)",
    12: "the server does not support a control the search needs",
    50: "the account may not read this part of the directory",
}


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


# Backoff between connect attempts: 1 s, 2 s, 4 s, ... at most RETRY_MAX_DELAY.
RETRY_BASE_DELAY = 1.0
RETRY_MAX_DELAY = 30.0
MAX_RETRIES = 10
_sleep = time.sleep  # tests replace it to act during the backoff


def retry_delay(retry: int) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, ...)."""
    return min(RETRY_BASE_DELAY * 2 ** (retry - 1), RETRY_MAX_DELAY)


class ServerUnreachable(ConnectionFailure):
    """The connection could not be set up (nothing was read yet): worth retrying."""


# Failures of the transport itself (ldap3's socket errors also subclass OSError).
_TRANSPORT_ERRORS = (
    OSError, LDAPSocketOpenError, LDAPSessionTerminatedByServerError, LDAPResponseTimeoutError,
)


# ---------------------------------------------------------------- filters


def escape_filter_value(value: str | bytes) -> str:
    """Escape a value for an LDAP filter (RFC 4515): ``* ( ) \\`` and NUL.

    Every value that comes from a user (an identity, a name) must pass
    through here before it is put into a filter, or ``*`` would match
    anything and ``)(`` would rewrite the filter. ``bytes`` (a GUID) are
    escaped octet by octet.
    """
    if isinstance(value, bytes):
        return str(escape_bytes(value))
    return str(escape_filter_chars(value, "utf-8"))


def recipient_filter(dialect: Dialect | str, all_mailboxes: bool = False) -> str:
    """The server-side filter that selects the objects the audit needs.

    AD: objects with a cc:Mail proxy or target (``proxyAddresses`` and
    ``targetAddress`` have case-insensitive substring matching, so
    ``ccmail:*`` also matches ``CCMAIL:``); with ``all_mailboxes`` every
    mailbox too. Exchange 5.5: by object class, because ``otherMailbox`` has
    no substring (nor equality) matching rule there to filter on.
    """
    dialect = Dialect(dialect)
    if dialect is Dialect.AD:
        parts = ["(proxyAddresses=ccmail:*)", "(targetAddress=ccmail:*)"]
        if all_mailboxes:
            parts += ["(homeMDB=*)", "(msExchHomeServerName=*)"]
        return "(|" + "".join(parts) + ")"
    classes = ("organizationalPerson", "groupOfNames", "remote-address", "custom-recipient")
    return "(|" + "".join(f"(objectClass={c})" for c in classes) + ")"


def dialect_attributes(dialect: Dialect | str) -> tuple[str, ...]:
    """The attributes the toolkit reads in a dialect (spec: Inputs)."""
    return AD_ATTRIBUTES if Dialect(dialect) is Dialect.AD else EX55_ATTRIBUTES


# ---------------------------------------------------------------- messages


_LIBRARY_NOISE = re.compile(
    r"wrap socket error: |socket ssl wrapping error: |socket connection error while opening: "
    r"| \(_ssl\.c:\d+\)"
)


def _one_line(text: str, secrets: Iterable[str | None] = ()) -> str:
    """A library message made safe for our one-line errors: no secret, no newline.

    ldap3 nests exception texts as tuple reprs; only the innermost reason is kept.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _LIBRARY_NOISE.sub("", " ".join(text.split()))
    previous = None
    while previous != text:
        previous = text
        text = text.strip().strip("()'\",").strip()
    return text if len(text) <= 240 else text[:237] + "..."


def _receive_timeout(timeout: float) -> int:
    """ldap3 packs the receive timeout as whole seconds (SO_RCVTIMEO)."""
    return max(1, math.ceil(timeout))


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _transport_reason(exc: BaseException, timeout: float | None, secrets: Iterable[str | None] = ()) -> str:
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
    return _one_line(text, secrets)


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


def connect(settings: LdapSettings) -> ldap3.Connection:
    """An open, bound, read-only connection; InputError or ConnectionFailure otherwise.

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
            return _connect_once(settings)
        except ServerUnreachable as exc:
            if attempt == attempts:
                if attempts > 1:
                    raise ServerUnreachable(f"{exc}; gave up after {attempts} attempts") from None
                raise
            delay = retry_delay(attempt)
            log.warning("%s; retry %d of %d in %g s", exc, attempt, settings.retries, delay)
            _sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _connect_once(settings: LdapSettings) -> ldap3.Connection:
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
        read_only=True,
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


# ---------------------------------------------------------------- search


def _text(value: bytes) -> AttrValue:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _entry(dn: str, raw: dict[str, list[bytes]]) -> RawEntry:
    attrs: dict[str, list[AttrValue]] = {}
    for name, values in raw.items():
        if not values:  # ldap3's mock lists requested-but-absent attributes; LDIF has no such thing
            continue
        base, _, options = name.partition(";")
        lname = base.lower()
        if options and any(o.lower().startswith("range=") and not o.endswith("-*")
                           for o in options.split(";")):  # fmt: skip
            raise ConnectionFailure(
                f"{dn}: the server sent only part of {base} ({options}); "
                "ranged retrieval is not supported, so the read would be incomplete"
            )
        if lname in BINARY_ATTRS:
            decoded: list[AttrValue] = [bytes(v) for v in values]
        else:
            decoded = [_text(v) for v in values]
        attrs.setdefault(lname, []).extend(decoded)
    return RawEntry(display_dn(dn), attrs)


# ---------------------------------------------------------------- fast entry decoding
#
# ldap3 decodes every message with a generic pure-Python BER decoder and then
# builds each entry twice (raw and formatted values): at 100,000 entries that
# is most of a whole audit's time. A search result entry has a fixed shape
# (RFC 4511 4.5.2), so while :func:`search` runs, the connection decodes
# entries with the specialised decoder below. Anything else - other
# messages, an entry with controls, any BER it does not expect - goes through
# ldap3's own decoder unchanged, so behaviour at the edges is ldap3's.


def _ber_length(data: bytes, pos: int) -> tuple[int, int]:
    """(content start, content end) of the element whose length octets are at ``pos``."""
    first = data[pos]
    if first < 0x80:
        return pos + 1, pos + 1 + first
    count = first & 0x7F
    if count == 0 or count > 4:  # indefinite form, or absurd: not for the fast path
        raise IndexError
    start = pos + 1 + count
    return start, start + int.from_bytes(data[pos + 1 : start], "big")


# attribute description as sent -> (lower-case name, binary?); only plain names
_NAMES: dict[bytes, tuple[str, bool]] = {}


def _attribute_name(raw: bytes) -> tuple[str, bool] | None:
    """Plain ASCII names only; options (``;range=...``) go the generic way."""
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not name or ";" in name or not name.replace("-", "").isalnum():
        return None
    lname = name.lower()
    known = (lname, lname in BINARY_ATTRS)
    if len(_NAMES) < 4096:
        _NAMES[raw] = known
    return known


def decode_search_entry(message: bytes) -> tuple[int, dict[str, object]] | None:
    """(message ID, ``response`` item) of a plain SearchResultEntry, else None.

    The item carries the finished :class:`RawEntry` (``ccmig_entry``), built
    exactly as :func:`_entry` builds one from ldap3's item; None - ldap3
    decodes the message - for anything unusual: controls, attribute options,
    a name sent twice, BER this decoder does not expect.
    """
    names = _NAMES
    try:
        if message[0] != 0x30:
            return None
        pos, end = _ber_length(message, 1)
        if end != len(message) or message[pos] != 0x02:
            return None
        start, pos = _ber_length(message, pos + 1)
        message_id = int.from_bytes(message[start:pos], "big", signed=True)
        if message[pos] != 0x64:  # [APPLICATION 4] SearchResultEntry
            return None
        pos, op_end = _ber_length(message, pos + 1)
        if op_end != end or message[pos] != 0x04:  # controls, or not an objectName
            return None
        start, pos = _ber_length(message, pos + 1)
        try:
            dn = message[start:pos].decode("utf-8")
        except UnicodeDecodeError:
            return None
        if message[pos] != 0x30:
            return None
        pos, list_end = _ber_length(message, pos + 1)
        if list_end != end:
            return None
        attrs: dict[str, list[AttrValue]] = {}
        while pos < list_end:
            # PartialAttribute ::= SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING };
            # short-form lengths (< 128) are read inline, the rest by _ber_length.
            if message[pos] != 0x30:
                return None
            size = message[pos + 1]
            if size < 0x80:
                pos, attr_end = pos + 2, pos + 2 + size
            else:
                pos, attr_end = _ber_length(message, pos + 1)
            size = message[pos + 1]
            if message[pos] != 0x04 or size >= 0x80:
                return None
            start = pos + 2
            pos = start + size
            raw_name = message[start:pos]
            known = names.get(raw_name) or _attribute_name(raw_name)
            if known is None or known[0] in attrs or message[pos] != 0x31:
                return None
            size = message[pos + 1]
            if size < 0x80:
                pos, vals_end = pos + 2, pos + 2 + size
            else:
                pos, vals_end = _ber_length(message, pos + 1)
            if vals_end != attr_end:
                return None
            values: list[bytes] = []
            append = values.append
            while pos < vals_end:
                if message[pos] != 0x04:
                    return None
                size = message[pos + 1]
                if size < 0x80:
                    start = pos + 2
                    pos = start + size
                else:
                    start, pos = _ber_length(message, pos + 1)
                append(message[start:pos])
            if pos != vals_end:
                return None
            if not values:
                continue
            if known[1]:
                attrs[known[0]] = values  # type: ignore[assignment]
            else:
                try:
                    attrs[known[0]] = [v.decode("utf-8") for v in values]
                except UnicodeDecodeError:
                    attrs[known[0]] = [_text(v) for v in values]
        if pos != list_end:
            return None
    except IndexError:
        return None
    entry = RawEntry(display_dn(dn), attrs)
    return message_id, {"type": "searchResEntry", "dn": dn, "ccmig_entry": entry}


def _fast_get_response(strategy: Any, message_id: int, timeout: Any) -> Any:
    """ldap3 ``SyncStrategy._get_response`` with :func:`decode_search_entry` first."""
    from ldap3.core.exceptions import LDAPExtensionError, LDAPSocketReceiveError
    from ldap3.strategy.base import RESPONSE_COMPLETE, SESSION_TERMINATED_BY_SERVER, TRANSACTION_ERROR
    from ldap3.utils.asn1 import decode_message_fast

    connection = strategy.connection
    responses: list[Any] = []
    complete = False
    while not complete:
        received = strategy.receiving()
        if not received:
            return SESSION_TERMINATED_BY_SERVER
        for message in received:
            if not message:
                continue
            if connection.usage:
                connection._usage.update_received_message(len(message))
            fast = decode_search_entry(message)
            if fast is not None and fast[0] == message_id:
                responses.append(fast[1])
                continue
            ldap_resp = decode_message_fast(message)
            item = strategy.decode_response_fast(ldap_resp)
            received_id = int(ldap_resp["messageID"])
            if received_id == message_id:
                responses.append(item)
                if item["type"] not in ("searchResEntry", "searchResRef", "intermediateResponse"):
                    complete = True
            elif received_id == 0:  # unsolicited notification (RFC 4511 4.4)
                if item["responseName"] == "1.3.6.1.4.1.1466.20036":
                    return SESSION_TERMINATED_BY_SERVER
                if item["responseName"] == "2.16.840.1.113719.1.27.103.4":
                    return TRANSACTION_ERROR
                connection.last_error = "unknown unsolicited notification from server"
                raise LDAPSocketReceiveError(connection.last_error)
            elif item["type"] == "extendedResp":
                connection.last_error = "multiple extended responses to a single extended request"
                raise LDAPExtensionError(connection.last_error)
            else:
                connection.last_error = "invalid messageId received"
                raise LDAPSocketReceiveError(connection.last_error)
    responses.append(RESPONSE_COMPLETE)
    return responses


@contextmanager
def _fast_entries(conn: ldap3.Connection) -> Iterator[None]:
    """Decode search entries with :func:`decode_search_entry` on this connection.

    Only for ldap3's plain synchronous strategy with its fast decoder on (the
    mock strategies and anything unexpected keep ldap3's own path).
    """
    from ldap3.strategy.sync import SyncStrategy
    from ldap3.utils.config import get_config_parameter

    strategy = getattr(conn, "strategy", None)
    if type(strategy) is not SyncStrategy or not getattr(conn, "fast_decoder", False) \
            or not hasattr(strategy, "receiving") \
            or not get_config_parameter("CASE_INSENSITIVE_ATTRIBUTE_NAMES"):
        yield
        return
    strategy._get_response = lambda message_id, timeout: _fast_get_response(  # type: ignore[method-assign]
        strategy, message_id, timeout)
    try:
        yield
    finally:
        del strategy._get_response


def _reference_ignored(uri: str) -> bool:
    path = unquote(urlsplit(uri).path.lstrip("/")).split("?", 1)[0]
    first = path.split(",", 1)[0].strip().lower().replace(" ", "")
    return first in IGNORED_REFERENCE_RDNS


def search(
    conn: ldap3.Connection,
    base_dn: str,
    search_filter: str,
    attributes: Iterable[str] | None,
    page_size: int = 1000,
    *,
    where: str = "LDAP",
    timeout: float | None = None,
) -> Iterator[RawEntry]:
    """Stream a whole-subtree paged search; raise unless the server says it is complete.

    A failure says how far the search got: the entries already streamed and
    the whole pages they came in (a page cut short is never streamed).
    ``timeout`` is only for the message (the connection holds the real one).
    """
    with _fast_entries(conn):
        yield from _paged(conn, base_dn, search_filter, attributes, page_size, where, timeout)


def _paged(
    conn: ldap3.Connection,
    base_dn: str,
    search_filter: str,
    attributes: Iterable[str] | None,
    page_size: int,
    where: str,
    timeout: float | None,
) -> Iterator[RawEntry]:
    attrs = list(attributes) if attributes is not None else [ldap3.ALL_ATTRIBUTES]
    cookie: bytes | None = None
    count = 0
    pages = 0

    def progress() -> str:  # "after 2,000 entries (2 pages)": complete pages only
        return f"after {_plural(count, 'entry', 'entries')} ({_plural(pages, 'page')})"

    while True:
        try:
            conn.search(
                base_dn,
                search_filter,
                search_scope=ldap3.SUBTREE,
                dereference_aliases=ldap3.DEREF_NEVER,
                attributes=attrs,
                paged_size=page_size,
                paged_cookie=cookie,
                paged_criticality=False,
            )
        except LDAPInvalidFilterError as exc:
            raise InputError(f"bad LDAP filter {search_filter!r}: {_one_line(str(exc))}") from None
        except (LDAPException, OSError) as exc:
            # Never re-run: the entries streamed so far are already with the consumer.
            raise ConnectionFailure(
                f"{where}: search failed {progress()}: {_transport_reason(exc, timeout)}; "
                "the read is incomplete"
            ) from None
        pages += 1
        result = conn.result or {}
        for item in conn.response or ():
            kind = item.get("type")
            if kind == "searchResEntry":
                count += 1
                entry = item.get("ccmig_entry")
                yield entry if entry is not None else _entry(item["dn"], item["raw_attributes"])
            elif kind == "searchResRef":
                uris = item.get("uri") or []
                if all(_reference_ignored(u) for u in uris):
                    log.debug("ignored continuation reference %s", ", ".join(uris))
                    continue
                raise ConnectionFailure(
                    f"{where}: the directory continues on another server ({', '.join(uris)}) "
                    f"{progress()}; referrals are not followed: search a Global "
                    "Catalog or each domain"
                )
        code = result.get("result")
        if code is None:  # never treat "no answer" as success
            raise ConnectionFailure(f"{where}: no search result from the server {progress()}")
        if code == 10:
            refs = ", ".join(result.get("referrals") or []) or "?"
            raise ConnectionFailure(
                f"{where}: server referred the search for {base_dn!r} to {refs}; "
                "referrals are not followed: connect to that server"
            )
        if code == 32 and count == 0:
            raise InputError(
                f"{base_dn!r} does not exist on {where} or is not visible to this account",
                "--base-dn",
            )
        if code != 0:
            hint = _RESULT_HINTS.get(code, "the search did not complete")
            message = _one_line(str(result.get("message") or ""))
            raise ConnectionFailure(
                f"{where}: search incomplete {progress()}: {hint} "
                f"({result.get('description', '?')}, code {code}{': ' + message if message else ''})"
            )
        try:
            cookie = result["controls"][PAGED_RESULTS_OID]["value"]["cookie"]
        except (KeyError, TypeError):
            cookie = None
        if not cookie:
            log.debug("%s: %d entries in %d page(s)", where, count, pages)
            return


def read_ldap(
    settings: LdapSettings, search_filter: str, attributes: Iterable[str] | None
) -> Iterator[RawEntry]:
    """Connect, stream every matching entry under ``settings.base_dn``, disconnect.

    Raises InputError (bad settings, exit 2) before connecting and
    ConnectionFailure (exit 3) for anything the network or server does,
    including a search the server did not complete.
    """
    conn = connect(settings)
    try:
        yield from search(
            conn,
            settings.base_dn,
            search_filter,
            attributes,
            settings.page_size,
            where=_where(settings),
            timeout=_receive_timeout(settings.timeout),
        )
    finally:
        _close(conn)
