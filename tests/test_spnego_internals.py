"""The one private part of pyspnego ccmig touches (toolkit/exchange/ldap_auth.py).

ntlm_bind clears the NTLM key-exchange request on pyspnego's client context,
because Samba (and a DC) refuses the 1-byte session key pyspnego then sends
when nothing is signed. That reaches into pyspnego's private ``_context_req``
and ``_ntlm_raw``: pyspnego is pinned, and this test fails when either moves,
instead of the bind quietly failing against a real DC.
"""

from __future__ import annotations

from importlib.metadata import version

import spnego
from spnego._ntlm_raw.messages import NegotiateFlags


def test_pinned_version_is_the_one_written_against():
    assert version("pyspnego") == "0.12.4"


def test_ntlm_client_context_carries_the_private_request_flags():
    ctx = spnego.client("CORP\\svc", "not-a-secret", hostname="dc01.corp.example",
                        service="ldap", protocol="ntlm", context_req=spnego.ContextReq.none)
    assert isinstance(ctx._context_req, int)
    assert ctx._context_req & NegotiateFlags.key_exch  # what ldap_auth clears
    ctx._context_req &= ~NegotiateFlags.key_exch
    token = ctx.step()  # the NEGOTIATE message carries the flags asked for
    flags = int.from_bytes(token[12:16], "little")
    assert token[:8] == b"NTLMSSP\x00" and not flags & NegotiateFlags.key_exch
