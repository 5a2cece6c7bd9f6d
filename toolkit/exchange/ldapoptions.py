"""The LDAP choices the command line offers, declared once, without loading ldap3.

Why a module of its own: ``toolkit/cli/inputs.py`` builds ``--ldap-auth`` and
``--retries`` from these when the program starts, and importing ldap3 (which
:mod:`toolkit.exchange.ldap` does) costs about as long as the rest of the
CLI's start-up together. :mod:`toolkit.exchange.ldap` uses the same names, so
the options and the checks behind them cannot drift apart.
"""

from __future__ import annotations

# simple: a DN or UPN and a password (anonymous without a bind DN); ntlm:
# DOMAIN\user; gssapi: Kerberos from the ticket cache.
AUTH_METHODS = ("simple", "ntlm", "gssapi", "anonymous")
# Methods that send a password (or its hash) when a bind DN is given.
PASSWORD_AUTH = ("simple", "ntlm")

# Backoff between connect attempts: 1 s, 2 s, 4 s, ... at most RETRY_MAX_DELAY.
RETRY_BASE_DELAY = 1.0
RETRY_MAX_DELAY = 30.0
MAX_RETRIES = 10


def retry_delay(retry: int) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, ...)."""
    return min(RETRY_BASE_DELAY * 2 ** (retry - 1), RETRY_MAX_DELAY)
