"""Secrets: OS keyring first, then an environment variable, then a prompt.

Service ``ccmig``, username ``<profile>:ldap`` or ``<profile>:exchange``
(spec). A secret is never accepted as a command-line value, logged, or put in
an exception message.
"""

from __future__ import annotations

import logging
import os
import sys

from toolkit.errors import InputError

SERVICE = "ccmig"
PURPOSES = ("ldap", "exchange")
ENV = {"ldap": "CCMIG_LDAP_PASSWORD", "exchange": "CCMIG_EXCHANGE_PASSWORD"}
log = logging.getLogger(__name__)


def username(profile: str, purpose: str) -> str:
    return f"{profile}:{purpose}"


def _keyring():
    """The keyring module, or None when no usable backend exists."""
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # pragma: no cover - import failure is platform-specific
        return None
    try:
        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None
    except Exception:
        return None
    return keyring


def no_backend_message() -> str:
    return ("no OS keyring backend is available; install one (e.g. `pip install keyrings.alt` "
            "for a file keyring, or run a Secret Service such as gnome-keyring)")


def backend_name() -> str:
    kr = _keyring()
    return type(kr.get_keyring()).__module__ + "." + type(kr.get_keyring()).__name__ if kr else "none"


def from_keyring(profile: str, purpose: str) -> str | None:
    kr = _keyring()
    if kr is None:
        return None
    try:
        return kr.get_password(SERVICE, username(profile, purpose))
    except Exception as exc:
        log.warning("keyring lookup failed (%s); trying the environment", type(exc).__name__)
        return None


def get_secret(profile: str, purpose: str, prompt: str | None = None) -> str | None:
    """keyring -> environment -> interactive prompt (only on a terminal)."""
    secret = from_keyring(profile, purpose)
    if secret:
        log.debug("%s secret from keyring (%s)", purpose, backend_name())
        return secret
    secret = os.environ.get(ENV[purpose])
    if secret:
        log.debug("%s secret from $%s", purpose, ENV[purpose])
        return secret
    if prompt and sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    return None


def set_secret(profile: str, purpose: str, secret: str) -> str:
    kr = _keyring()
    if kr is None:
        raise InputError(no_backend_message(), "keyring")
    if not secret:
        raise InputError("empty secret: nothing stored", "stdin")
    kr.set_password(SERVICE, username(profile, purpose), secret)
    return backend_name()


def delete_secret(profile: str, purpose: str) -> bool:
    kr = _keyring()
    if kr is None:
        raise InputError(no_backend_message(), "keyring")
    try:
        kr.delete_password(SERVICE, username(profile, purpose))
    except Exception:
        return False
    return True


def describe_secret(profile: str, purpose: str) -> str:
    """Whether and where a secret is stored: never the secret itself."""
    user = username(profile, purpose)
    if from_keyring(profile, purpose):
        return f"stored in keyring {backend_name()} (service {SERVICE!r}, username {user!r})"
    if _keyring() is None:
        where = "no keyring backend available"
    else:
        where = f"not in keyring {backend_name()} (service {SERVICE!r}, username {user!r})"
    env = ENV[purpose]
    return where + (f"; ${env} is set" if os.environ.get(env) else f"; ${env} is not set")
