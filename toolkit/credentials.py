"""Secrets: OS keyring first, then an environment variable, then a prompt.

Service ``ccmig``, username ``<profile>:ldap`` or ``<profile>:exchange``
(spec). A secret is never accepted as a command-line value, logged, or put in
an exception message.

The keyring must encrypt. ``keyring`` picks whatever backend is installed with
the highest priority, and on a server without a Secret Service that can be
keyrings.alt's ``PlaintextKeyring``: the password base64'd in a file under
``~/.local/share``, with nothing telling the admin. So ccmig keeps an
allow-list of backends known to encrypt (the OS stores, and the encrypted
file backends) and refuses any other backend unless the user opts in
(``creds set --allow-plaintext-keyring``, ``allow-plaintext-keyring = true``
in the profile, or ``$CCMIG_ALLOW_PLAINTEXT_KEYRING=1``). An allow-list, not
a deny-list: a backend ccmig has never heard of is not assumed to encrypt.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from toolkit.errors import InputError

SERVICE = "ccmig"
PURPOSES = ("ldap", "exchange")
ENV = {"ldap": "CCMIG_LDAP_PASSWORD", "exchange": "CCMIG_EXCHANGE_PASSWORD"}
OPT_IN_ENV = "CCMIG_ALLOW_PLAINTEXT_KEYRING"
OPT_IN_OPTION = "--allow-plaintext-keyring"
log = logging.getLogger(__name__)

# Backends that keep secrets encrypted at rest (module.class as keyring names them).
ENCRYPTED_BACKENDS = frozenset({
    "keyring.backends.SecretService.Keyring",       # GNOME Keyring, KeePassXC... (D-Bus)
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
    "keyring.backends.macOS.Keyring",               # Keychain
    "keyring.backends.Windows.WinVaultKeyring",     # Windows Credential Manager
    "keyrings.alt.file.EncryptedKeyring",           # AES file, unlocked by a password
    "keyrings.alt.Windows.EncryptedKeyring",        # DPAPI file
    "keyrings.alt.Windows.RegistryKeyring",         # DPAPI in the registry
    "keyrings.alt.Gnome.Keyring",
    "keyrings.cryptfile.cryptfile.CryptFileKeyring",
})
# Set for one command from its profile (``allow-plaintext-keyring = true``).
profile_opt_in = False


def username(profile: str, purpose: str) -> str:
    return f"{profile}:{purpose}"


# keyring's own "no keyring" backends, as $PYTHON_KEYRING_BACKEND names them.
NO_KEYRING_BACKENDS = frozenset({"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"})


def _keyring():
    """The keyring module, or None when no usable backend exists (fail/null).

    Not imported when ``$PYTHON_KEYRING_BACKEND`` names keyring's fail or null
    backend and nothing has imported keyring yet: keyring would load exactly
    that backend (its environment variable comes before any configuration
    or detection, and only code that imports keyring can set another), so
    the answer is None without importing it. A server or CI job that turns
    the keyring off this way and gives ``$CCMIG_LDAP_PASSWORD`` saves ~0.05 s
    of start-up (keyring imports jaraco, importlib_metadata...). The order
    secrets are looked up in is unchanged: the keyring is asked first.
    """
    if "keyring" not in sys.modules and os.environ.get(
            "PYTHON_KEYRING_BACKEND") in NO_KEYRING_BACKENDS:
        return None
    try:
        import keyring
        from keyring.backends import fail, null
    except Exception:  # pragma: no cover - import failure is platform-specific
        return None
    try:
        if isinstance(keyring.get_keyring(), fail.Keyring | null.Keyring):
            return None
    except Exception:
        return None
    return keyring


def _name(backend: Any) -> str:
    return type(backend).__module__ + "." + type(backend).__name__


def storing_backend() -> Any:
    """The backend a secret would be written to (a chain writes to its first)."""
    kr = _keyring()
    if kr is None:
        return None
    backend = kr.get_keyring()
    chained = getattr(backend, "backends", None)
    if _name(backend) == "keyring.backends.chainer.ChainerBackend" and chained:
        return chained[0]
    return backend


def is_encrypted(backend: Any) -> bool:
    return _name(backend) in ENCRYPTED_BACKENDS


def opted_in(flag: bool = False) -> bool:
    """The user accepts an unencrypted keyring: option, profile or environment."""
    return flag or profile_opt_in or os.environ.get(OPT_IN_ENV, "") not in ("", "0")


def where(backend: Any) -> str:
    """Where the backend keeps secrets, for messages: a file path when it has one."""
    path = getattr(backend, "file_path", None)
    return f"file {path}" if isinstance(path, str) else _name(backend)


def refused_message(backend: Any) -> str:
    return (f"keyring backend {_name(backend)} is not known to encrypt secrets (they would go "
            f"to {where(backend)}); use an encrypted OS keyring (Secret Service such as "
            f"gnome-keyring, macOS Keychain, Windows Credential Manager), or "
            f"${ENV['ldap']}/${ENV['exchange']}, or accept it with {OPT_IN_OPTION} "
            f"(profile: allow-plaintext-keyring = true; or ${OPT_IN_ENV}=1)")


def no_backend_message() -> str:
    return ("no OS keyring backend is available; run a Secret Service (e.g. gnome-keyring), "
            f"or give the secret in ${ENV['ldap']} / ${ENV['exchange']} (see docs/security.md; "
            "a file keyring such as keyrings.alt is refused unless it encrypts)")


def backend_name() -> str:
    backend = storing_backend()
    return _name(backend) if backend is not None else "none"


def _usable(flag: bool = False) -> Any:
    """The keyring module if its backend encrypts or the user opted in, else None."""
    backend = storing_backend()
    if backend is None:
        return None
    if not is_encrypted(backend) and not opted_in(flag):
        log.warning("not using the keyring: %s", refused_message(backend))
        return None
    return _keyring()


def from_keyring(profile: str, purpose: str) -> str | None:
    kr = _usable()
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


def check_can_store(allow_plaintext: bool = False) -> str:
    """Refuse before prompting: no backend, or one that would not encrypt."""
    backend = storing_backend()
    if backend is None:
        raise InputError(no_backend_message(), "keyring")
    if not is_encrypted(backend) and not opted_in(allow_plaintext):
        raise InputError("nothing stored: " + refused_message(backend), "keyring")
    return where(backend)


def set_secret(profile: str, purpose: str, secret: str, allow_plaintext: bool = False) -> str:
    """Store the secret; the backend's name (and, unencrypted, its file) for the message."""
    check_can_store(allow_plaintext)
    if not secret:
        raise InputError("empty secret: nothing stored", "stdin")
    kr = _keyring()
    kr.set_password(SERVICE, username(profile, purpose), secret)
    backend = storing_backend()
    return backend_name() + ("" if is_encrypted(backend) else
                             f" (UNENCRYPTED: {where(backend)})")


def delete_secret(profile: str, purpose: str) -> bool:
    """Delete from any backend, encrypted or not: clearing a plaintext file must work."""
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
    backend = storing_backend()
    env = ENV[purpose]
    env_note = f"; ${env} is set" if os.environ.get(env) else f"; ${env} is not set"
    if backend is None:
        return "no keyring backend available" + env_note
    kr = _keyring()
    try:
        stored = bool(kr.get_password(SERVICE, user))
    except Exception:
        stored = False
    label = f"keyring {_name(backend)}"
    if not is_encrypted(backend):
        label += f" (UNENCRYPTED: {where(backend)}"
        label += "; accepted)" if opted_in() else f"; refused without {OPT_IN_OPTION})"
    state = "stored in" if stored else "not in"
    return f"{state} {label} (service {SERVICE!r}, username {user!r})" + env_note
