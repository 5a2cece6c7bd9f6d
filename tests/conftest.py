"""Shared fixtures. Tests never touch the user's keyring or configuration."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend

from tests.orgkit import Org


class MemoryKeyring(KeyringBackend):
    """A real keyring backend class that keeps secrets in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.store:
            raise PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path_factory):
    """Memory keyring, empty config home, no secrets from the environment."""
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    home = tmp_path_factory.mktemp("config-home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for var in ("CCMIG_CONFIG", "CCMIG_PROFILE", "CCMIG_LDAP_PASSWORD",
                "CCMIG_EXCHANGE_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def org(tmp_path) -> Org:
    return Org(tmp_path / "org")


# The session's one Samba AD DC (tests/test_ad_*.py); registered here so it is one fixture.
from tests.ad_dc import ad_controller, big_dc, big_org, demo_dc  # noqa: E402, F401
