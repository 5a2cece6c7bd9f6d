"""LDAP authentication against real domain controllers: NTLM, Kerberos errors, refusals.

Measured against Samba 4.17 AD DC (docs/ldap.md, "Tested against"):
* ldap3's NTLM bind is Microsoft's "Sicily" bind (bind choices 9-11).
  Samba implements only simple and SASL binds, answers Sicily with nothing
  and drops the connection. NTLM therefore goes through SASL GSS-SPNEGO
  here (pyspnego, already a dependency through pypsrp), which Windows DCs
  and Samba both accept. ccmig cannot sign or seal LDAP messages, so this
  is done over TLS only (a DC requiring signing refuses it on ldap://),
  with the TLS channel binding in the NTLM message (AD's "LDAP channel
  binding" hardening; Samba does not check it, so unverified here).
* A DC answers a refused bind with an AD "data" code in the message.

Kept apart from :mod:`toolkit.exchange.ldap` (connect, search) so that
module stays about connections; nothing here imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import ssl
from typing import Any

import ldap3

GSSAPI_MISSING = ("Kerberos needs the optional python package 'gssapi': pip install 'ccmig[kerberos]' "
                  "(it builds from source: apt-get install libkrb5-dev gcc python3-dev)")

# AcceptSecurityContext "data" codes in AD's invalidCredentials (49) messages.
_AD_BIND_DATA = {
    "52e": "wrong user name or password",
    "525": "no such user",
    "530": "logon not permitted at this time",
    "531": "logon not permitted from this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "the password must be changed first",
    "775": "account locked out",
}


def refusal_hint(code: object, message: str, auth: str, encrypted: bool) -> str | None:
    """What to do about a refused bind (result ``code``, server ``message``); None if unknown."""
    lower = message.lower()
    data = re.search(r"data ([0-9a-f]{3})", lower)
    sasl = auth in ("ntlm", "gssapi")
    if code == 8 and "transport encryption required" in lower:
        return "the server refuses this bind without TLS: use ldaps:// or --starttls"
    if code == 8 and sasl and not encrypted:
        return ("the server requires LDAP signing/sealing, which ccmig does not do: "
                "use ldaps:// or --starttls (TLS stands in for signing)")  # fmt: skip
    if code == 8 and sasl:
        # Samba's default "ldap server require strong auth = yes"; Windows DCs accept TLS instead.
        return ("the server requires LDAP signing/sealing even over TLS, which ccmig does not do: "
                "use --ldap-auth simple over TLS, or let the server accept SASL over TLS "
                "(Samba: ldap server require strong auth = allow_sasl_over_tls)")  # fmt: skip
    if code == 49 and data and data.group(1) in _AD_BIND_DATA:
        return _AD_BIND_DATA[data.group(1)] + " (check --bind-dn and the stored password)"
    if code == 49:
        return "wrong bind DN or password (check --bind-dn and the stored password)"
    if code == 7:
        return f"the server does not offer {auth} binds: choose another --ldap-auth"
    return None


def gss_errors() -> tuple[type[BaseException], ...]:
    """The GSSAPI library's error classes, for an ``except`` (none without the package)."""
    try:
        from gssapi.exceptions import GSSError
    except ImportError:
        return ()
    return (GSSError,)


def gss_reason(text: str, host: str) -> str:
    """A GSSAPI error (one line already) in words an admin can act on."""
    lower = text.lower()
    if "no kerberos credentials" in lower or ("credentials cache" in lower and "not found" in lower):
        return "no Kerberos ticket: run kinit first (or set KRB5CCNAME)"
    if "server not found" in lower:
        return (f"the KDC knows no service ldap/{host}: connect by the DC's host name "
                "(its SPN), not by an IP address or alias")  # fmt: skip
    if "expired" in lower:
        return "the Kerberos ticket has expired: run kinit again"
    return text


def _tls_channel_binding(conn: ldap3.Connection) -> Any:
    """RFC 5929 tls-server-end-point of the connection, for NTLM; None without TLS."""
    sock = getattr(conn, "socket", None)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    from spnego.channel_bindings import GssChannelBindings

    cert = sock.getpeercert(binary_form=True) or b""
    digest = hashlib.sha256(cert).digest()  # SHA-256 unless the certificate uses a stronger hash
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


def ntlm_bind(conn: ldap3.Connection, user: str, password: str, host: str) -> bool:
    """NTLM inside SASL GSS-SPNEGO (what AD and Samba accept); True when bound."""
    import spnego
    from ldap3.protocol.sasl.sasl import send_sasl_negotiation

    # No signing/sealing flags: a DC refuses them on TLS ("Sign or Seal are not
    # allowed if TLS is used"), and without TLS ccmig could not honour them.
    ctx = spnego.client(user, password, hostname=host, service="ldap",
                        protocol="ntlm", channel_bindings=_tls_channel_binding(conn),
                        context_req=spnego.ContextReq.none)  # fmt: skip
    # pyspnego asks for key exchange but then sends a 1-byte session key when
    # nothing is signed; Samba rejects that (data 57, invalid parameter).
    with contextlib.suppress(ImportError, AttributeError):
        from spnego._ntlm_raw.messages import NegotiateFlags

        ctx._context_req &= ~NegotiateFlags.key_exch
    conn.sasl_mechanism = "GSS-SPNEGO"
    token = ctx.step()
    while True:
        result = send_sasl_negotiation(conn, None, token)
        code = result.get("result")
        if code == 0:
            conn.bound = True
            return True
        if code != 14 or not result.get("saslCreds"):  # 14: SASL bind in progress
            return False
        token = ctx.step(result["saslCreds"])
