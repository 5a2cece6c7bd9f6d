"""The ldap3 fast path (toolkit/exchange/ldapfast.py) against the ldap3 it replaces.

It copies ldap3's private ``SyncStrategy._get_response`` and mirrors its entry
decoding. These tests fail when the installed ldap3 is not the one it was
written for: the source of every ldap3 function it copies, mirrors or calls
must hash as recorded, pyproject.toml must pin that release, and the copy
must give what ldap3's own code gives for the same messages.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import ldap3
import pytest
from ldap3.strategy.sync import SyncStrategy

from toolkit.exchange import ldapfast
from toolkit.exchange.ldapread import entry

ROOT = Path(__file__).resolve().parent.parent


def _ber(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def _entry_message(message_id: int, dn: bytes, attributes: list[tuple[bytes, list[bytes]]]) -> bytes:
    listed = b"".join(_ber(0x30, _ber(0x04, name) + _ber(0x31, b"".join(_ber(0x04, v) for v in values)))
                      for name, values in attributes)
    return _ber(0x30, _ber(0x02, bytes([message_id])) + _ber(0x64, _ber(0x04, dn) + _ber(0x30, listed)))


def _done(message_id: int) -> bytes:  # SearchResultDone, success
    return _ber(0x30, _ber(0x02, bytes([message_id])) + _ber(0x65, b"\x0a\x01\x00\x04\x00\x04\x00"))


MESSAGES = [
    _entry_message(7, b"cn=Smith\\2C John,dc=corp", [
        (b"objectClass", [b"top", b"user"]),
        (b"proxyAddresses", [b"CCMAIL:Smith, John at EXCH", b"smtp:" + b"x" * 300]),
        (b"objectGUID", [bytes(range(16))]),
        (b"description", [b"caf\xe9"]),  # not UTF-8: stays bytes
    ]),
    _entry_message(7, b"CN=a,DC=corp", [(b"proxyAddresses;range=0-1", [b"x"])]),  # ldap3 decodes
    _done(7),
]


def test_ldap3_internals_are_the_ones_the_fast_path_was_written_for():
    assert ldap3.__version__ in ldapfast.WRITTEN_FOR
    assert ldapfast.internals_hashes() == ldapfast.LDAP3_INTERNALS


def test_pyproject_pins_the_ldap3_release_the_fast_path_was_written_for():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (ldap3_pin,) = [d for d in deps if d.startswith("ldap3")]
    assert ldap3_pin in {f"ldap3=={v}" for v in ldapfast.WRITTEN_FOR}


@pytest.fixture
def strategy(monkeypatch) -> SyncStrategy:
    conn = ldap3.Connection(ldap3.Server("fast-path-test", get_info=ldap3.NONE),
                            client_strategy=ldap3.SYNC)
    assert type(conn.strategy) is SyncStrategy
    monkeypatch.setattr(conn.strategy, "receiving", lambda: list(MESSAGES), raising=False)
    return conn.strategy


def test_the_copied_get_response_answers_as_ldap3s_own(strategy):
    ours = ldapfast._fast_get_response(strategy, 7, None)
    theirs = SyncStrategy._get_response(strategy, 7, None)
    assert len(ours) == len(theirs) == 4
    assert [r["type"] if isinstance(r, dict) else r for r in ours] == \
        [r["type"] if isinstance(r, dict) else r for r in theirs]
    fast, generic = ours[0], theirs[0]
    assert "ccmig_entry" in fast and fast["dn"] == generic["dn"]
    assert fast["ccmig_entry"] == entry(generic["dn"], generic["raw_attributes"])
    assert fast["ccmig_entry"].attrs["description"] == [b"caf\xe9"]
    assert "ccmig_entry" not in ours[1] and ours[1] == theirs[1]  # the unusual: ldap3's own item
    assert ours[2] == theirs[2]  # the search result itself


def test_the_hook_is_installed_only_for_the_search_and_only_on_the_pinned_ldap3(strategy, monkeypatch):
    conn = strategy.connection
    with ldapfast.fast_entries(conn):
        assert "_get_response" in vars(strategy)
    assert "_get_response" not in vars(strategy)  # ldap3's own method again
    monkeypatch.setattr(ldap3, "__version__", "2.10.0")
    with ldapfast.fast_entries(conn):
        assert "_get_response" not in vars(strategy)  # another ldap3: its own, slower path

