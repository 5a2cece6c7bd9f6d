"""toolkit.exchange.ldap without a server: ldap3's MOCK_SYNC and scripted replies.

The live tests (test_ldap_live.py) prove behaviour against slapd; these pin
down decoding, ordering, result-code handling and settings validation in
cases a real server is awkward to provoke (time limits, ranged attributes,
a connection dropped mid-search).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import LDAPSessionTerminatedByServerError
from ldap3.utils.ntlm import NtlmClient

import toolkit.exchange.ldap as ldapmod
from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange.dialects import AD_ATTRIBUTES, EX55_ATTRIBUTES
from toolkit.exchange.ldap import (
    PAGED_RESULTS_OID,
    LdapSettings,
    dialect_attributes,
    escape_filter_value,
    md4,
    nt_hash_credential,
    read_ldap,
    recipient_filter,
    search,
)
from toolkit.exchange.ldif import read_ldif
from toolkit.model import Dialect, RawEntry

AD_LDIF = Path(__file__).parent / "data" / "ldap" / "ad.ldif"
BASE = "DC=corp,DC=example"


# ---------------------------------------------------------------- MOCK_SYNC seeded from LDIF


@pytest.fixture
def mock_conn() -> ldap3.Connection:
    server = ldap3.Server("mock-ad", get_info=ldap3.NONE)
    conn = ldap3.Connection(server, "cn=svc", "pw", client_strategy=ldap3.MOCK_SYNC)
    conn.strategy.add_entry("cn=svc", {"userPassword": "pw", "sn": "svc"})
    for entry in read_ldif(AD_LDIF):
        if "referral" not in [c.lower() for c in entry.texts("objectclass")]:
            assert conn.strategy.add_entry(entry.dn, dict(entry.attrs))
    conn.strategy.add_entry(f"CN=Latin1,{BASE}", {"cn": "Latin1", "description": b"caf\xe9"})
    assert conn.bind()
    return conn


def _without_cn(attrs: dict) -> dict:
    # ldap3's mock appends the escaped RDN value to cn ("Smith\, John"): ignore cn.
    return {k: v for k, v in attrs.items() if k != "cn"}


def test_mock_read_matches_ldif_shape_and_order(mock_conn):
    expected = {
        e.dn: _without_cn(e.attrs)
        for e in read_ldif(AD_LDIF)
        if "referral" not in [c.lower() for c in e.texts("objectclass")]
    }
    got = {e.dn: e for e in search(mock_conn, BASE, "(objectClass=*)", None, page_size=3)}
    for dn, attrs in expected.items():
        assert _without_cn(got[dn].attrs) == attrs, dn
    smith = got["CN=Smith\\, John,OU=Staff,DC=corp,DC=example"]
    assert smith.attrs["proxyaddresses"] == [
        "smtp:jsmith@corp.example",
        "ccmail:Smith, John at PO1",
        "SMTP:john.smith@corp.example",
        "CCMAIL:Smith, John at EXCH",
        "X400:c=US;a= ;p=Corp;o=Exchange;s=Smith;g=John;",
    ]
    assert isinstance(smith.attrs["objectguid"][0], bytes)
    assert smith.where is None


def test_mock_requested_attributes_only_and_no_empty_lists(mock_conn):
    got = list(search(mock_conn, BASE, "(sAMAccountName=jsmith)", ["proxyAddresses", "homeMDB", "mail"]))
    (entry,) = got
    assert set(entry.attrs) == {"proxyaddresses", "homemdb", "mail"}
    (contact,) = search(mock_conn, BASE, "(mailNickname=jdoe)", ["proxyAddresses", "homeMDB"])
    assert "homemdb" not in contact.attrs  # requested, absent: no empty list


def test_mock_non_utf8_text_stays_bytes_like_ldif(mock_conn):
    (entry,) = search(mock_conn, BASE, "(cn=Latin1)", ["description"])
    assert entry.attrs["description"] == [b"caf\xe9"]


def test_mock_paging_reads_everything_once(mock_conn, caplog):
    caplog.set_level(logging.DEBUG, logger="toolkit.exchange.ldapread")
    dns = [e.dn for e in search(mock_conn, BASE, "(objectClass=*)", ["cn"], page_size=2)]
    assert len(dns) == len(set(dns)) == 11  # 11 LDIF entries (referrals not seeded); Latin1 has no class
    assert any("11 entries in 6 page(s)" in r.getMessage() for r in caplog.records)


def test_mock_recipient_filter_and_escaping(mock_conn):
    dns = {e.dn for e in search(mock_conn, BASE, recipient_filter(Dialect.AD), ["cn"])}
    assert len(dns) == 6
    flt = f"(cn={escape_filter_value('Odd *()' + chr(92) + ' Name')})"
    (entry,) = search(mock_conn, BASE, flt, ["cn"])
    assert entry.dn.startswith("CN=Odd *()")


def test_bad_filter_is_an_input_error(mock_conn):
    with pytest.raises(InputError, match="bad LDAP filter"):
        list(search(mock_conn, BASE, "(cn=a", ["cn"]))


# ---------------------------------------------------------------- scripted server replies


def _entry(dn: str, **raw: list[bytes]) -> dict:
    return {"type": "searchResEntry", "dn": dn, "raw_attributes": raw}


def _done(code: int = 0, cookie: bytes | None = None, **extra) -> dict:
    result = {"result": code, "description": extra.pop("description", "x"), "message": "",
              "referrals": extra.pop("referrals", None)}  # fmt: skip
    if cookie is not None:
        result["controls"] = {PAGED_RESULTS_OID: {"value": {"size": 0, "cookie": cookie}}}
    return result


class ScriptedConnection:
    """Answers each search with the next (response, result) pair, or raises it."""

    def __init__(self, pages: list) -> None:
        self.pages = list(pages)
        self.calls: list[dict] = []
        self.response: list = []
        self.result: dict = {}

    def search(self, base, flt, **kwargs) -> bool:
        self.calls.append({"base": base, "filter": flt, **kwargs})
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        self.response, self.result = page
        return self.result.get("result") == 0


def _consume(conn, **kwargs):
    seen = []
    with pytest.raises((ConnectionFailure, InputError)) as exc:
        for entry in search(conn, BASE, "(objectClass=*)", ["cn"], **kwargs):
            seen.append(entry)
    return seen, exc.value


def test_cookie_is_sent_back_and_page_size_used():
    conn = ScriptedConnection([
        ([_entry("CN=A", cn=[b"A"])], _done(cookie=b"next")),
        ([_entry("CN=B", cn=[b"B"])], _done(cookie=b"")),
    ])  # fmt: skip
    assert [e.dn for e in search(conn, BASE, "(cn=*)", ["cn"], page_size=7)] == ["CN=A", "CN=B"]
    assert [c["paged_cookie"] for c in conn.calls] == [None, b"next"]
    assert {c["paged_size"] for c in conn.calls} == {7}
    assert conn.calls[0]["attributes"] == ["cn"]
    assert conn.calls[0]["dereference_aliases"] == ldap3.DEREF_NEVER


def test_size_limit_on_a_later_page_fails_with_the_count():
    conn = ScriptedConnection([
        ([_entry(f"CN={i}", cn=[b"x"]) for i in range(3)], _done(cookie=b"c")),
        ([_entry("CN=9", cn=[b"x"])], _done(4, description="sizeLimitExceeded")),
    ])  # fmt: skip
    seen, exc = _consume(conn)
    assert isinstance(exc, ConnectionFailure) and exc.exit_code == 3
    assert len(seen) == 4
    assert "after 4 entries" in str(exc) and "size limit" in str(exc)


def test_size_limit_on_the_only_page_without_paging_control():
    """A server that ignores paging and stops at its limit (result 4, no cookie)."""
    conn = ScriptedConnection([([_entry("CN=A", cn=[b"A"])], _done(4, description="sizeLimitExceeded"))])
    _, exc = _consume(conn)
    assert isinstance(exc, ConnectionFailure) and "after 1 entry (" in str(exc)


def test_time_limit_is_a_connection_failure():
    conn = ScriptedConnection([([], _done(3, description="timeLimitExceeded"))])
    _, exc = _consume(conn)
    assert isinstance(exc, ConnectionFailure) and "time limit" in str(exc)


def test_connection_dropped_mid_search():
    conn = ScriptedConnection([
        ([_entry("CN=A", cn=[b"A"]), _entry("CN=B", cn=[b"B"])], _done(cookie=b"c")),
        LDAPSessionTerminatedByServerError("session terminated by server"),
    ])  # fmt: skip
    seen, exc = _consume(conn)
    assert isinstance(exc, ConnectionFailure) and "after 2 entries" in str(exc) and len(seen) == 2


def test_missing_search_result_is_not_success():
    conn = ScriptedConnection([([_entry("CN=A", cn=[b"A"])], {})])
    seen, exc = _consume(conn)
    assert isinstance(exc, ConnectionFailure) and "no search result" in str(exc) and len(seen) == 1


def test_no_paging_control_and_success_is_complete():
    conn = ScriptedConnection([([_entry("CN=A", cn=[b"A"])], _done())])
    assert len(list(search(conn, BASE, "(cn=*)", ["cn"]))) == 1


def test_base_dn_missing_is_an_input_error():
    conn = ScriptedConnection([([], _done(32, description="noSuchObject"))])
    _, exc = _consume(conn)
    assert isinstance(exc, InputError) and exc.where == "--base-dn"


def test_referral_result_is_refused():
    conn = ScriptedConnection([([], _done(10, description="referral", referrals=["ldap://dc2/DC=x"]))])
    _, exc = _consume(conn)
    assert isinstance(exc, ConnectionFailure) and "ldap://dc2/DC=x" in str(exc)


def test_continuation_references():
    ignored = {"type": "searchResRef", "uri": [
        "ldap://DomainDnsZones.corp.example/DC=DomainDnsZones,DC=corp,DC=example",
        "ldap://corp.example/CN=Configuration,DC=corp,DC=example??sub",
    ]}  # fmt: skip
    conn = ScriptedConnection([([_entry("CN=A", cn=[b"A"]), ignored], _done())])
    assert len(list(search(conn, BASE, "(cn=*)", ["cn"]))) == 1
    child = {"type": "searchResRef", "uri": ["ldap://child.corp.example/DC=child,DC=corp,DC=example"]}
    conn = ScriptedConnection([([_entry("CN=A", cn=[b"A"]), child], _done())])
    _, exc = _consume(conn)
    assert isinstance(exc, ConnectionFailure) and "child.corp.example" in str(exc)


def _fast(dn: str) -> dict:
    """A response item as ldapfast's decoder makes it: the finished entry in it."""
    return {"type": "searchResEntry", "dn": dn, "ccmig_entry": RawEntry(dn, {"cn": [dn]})}


def test_entries_before_what_stops_a_page_are_streamed_first():
    """Pages are handed over as lists (ldapread.EntryStream): a reference to
    follow, or an entry that cannot be read, in the middle of a page still
    comes after the page's entries before it, with the count of them."""
    child = {"type": "searchResRef", "uri": ["ldap://child.corp.example/DC=child,DC=corp,DC=example"]}
    conn = ScriptedConnection([
        ([_fast("CN=A"), _fast("CN=B")], _done(cookie=b"c")),  # every item decoded by ldapfast
        ([_fast("CN=C"), _entry("CN=D", cn=[b"D"]), child, _fast("CN=E")], _done()),
    ])  # fmt: skip
    seen, exc = _consume(conn)
    assert [e.dn for e in seen] == ["CN=A", "CN=B", "CN=C", "CN=D"]
    assert isinstance(exc, ConnectionFailure) and "child.corp.example" in str(exc)
    assert "after 4 entries (2 pages)" in str(exc)
    ranged = _entry("CN=R", **{"member;range=0-1499": [b"CN=B"]})
    conn = ScriptedConnection([([_fast("CN=A"), ranged, _fast("CN=B")], _done())])
    seen, exc = _consume(conn)
    assert [e.dn for e in seen] == ["CN=A"] and "ranged retrieval" in str(exc)
    conn = ScriptedConnection([([child], _done())])  # nothing before it: nothing streamed
    seen, exc = _consume(conn)
    assert seen == [] and "after 0 entries (1 page)" in str(exc)


def test_a_stream_stopped_mid_page_takes_the_next_page_off_the_line():
    conn = ScriptedConnection([
        ([_fast("CN=A"), _fast("CN=B")], _done(cookie=b"c")),
        ([_fast("CN=C")], _done()),
    ])  # fmt: skip
    stream = search(conn, BASE, "(cn=*)", ["cn"])
    assert next(stream).dn == "CN=A"
    assert len(conn.calls) == 1  # (a connection that is not ldap3's SyncStrategy searches on receive)
    stream.close()
    assert len(conn.calls) == 2 and conn.pages == []  # the page asked for, taken and dropped
    assert list(stream) == []


def test_attribute_options_and_ranges():
    ok = _entry("CN=A", **{"proxyAddresses;binary": [b"smtp:a@x"], "member;range=0-*": [b"CN=B"],
                           "objectGUID": [b"\xff" * 16], "Description": [b"\xc3\xa9t\xc3\xa9"]})  # fmt: skip
    conn = ScriptedConnection([([ok], _done())])
    (entry,) = search(conn, BASE, "(cn=*)", None)
    assert entry.attrs == {
        "proxyaddresses": ["smtp:a@x"],
        "member": ["CN=B"],
        "objectguid": [b"\xff" * 16],
        "description": ["été"],
    }
    partial = _entry("CN=A", **{"member;range=0-1499": [b"CN=B"]})
    _, exc = _consume(ScriptedConnection([([partial], _done())]))
    assert isinstance(exc, ConnectionFailure) and "ranged retrieval" in str(exc)


def test_read_ldap_closes_the_connection_when_the_consumer_stops(monkeypatch):
    conn = ScriptedConnection([([_entry("CN=A", cn=[b"A"]), _entry("CN=B", cn=[b"B"])], _done())])
    closed = []
    monkeypatch.setattr(ldapmod, "connect", lambda settings: conn)
    monkeypatch.setattr(ldapmod, "_close", lambda c: closed.append(c))
    stream = read_ldap(LdapSettings("ldaps://dc1", BASE), "(cn=*)", ["cn"])
    assert next(stream).dn == "CN=A"
    stream.close()
    assert closed == [conn]


# ---------------------------------------------------------------- settings validation


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"url": "http://dc1"}, "expected ldap://"),
        ({"url": "ldap://dc1/DC=x"}, "only scheme, host and port"),
        ({"url": "ldap://user:pw@dc1"}, "only scheme, host and port"),
        ({"url": "ldaps://dc1", "starttls": True}, "StartTLS on ldaps://"),
        ({"base_dn": " "}, "base DN is required"),
        ({"bind_dn": "cn=svc", "password": ""}, "no password"),
        ({"password": "pw"}, "password without a bind DN"),
        ({"auth": "ntlm", "bind_dn": "svc", "password": "pw"}, "DOMAIN\\\\user"),
        ({"auth": "kerberos"}, "unknown auth method"),
        ({"auth": "anonymous", "bind_dn": "cn=svc", "password": "pw"}, "anonymous bind takes no"),
        ({"page_size": 0}, "page size"),
        ({"ca_file": "/x.pem", "insecure_skip_verify": True}, "contradict"),
        ({"url": "ldap://dc1", "bind_dn": "cn=svc", "password": "pw"}, "allow unencrypted"),
        ({"url": "ldap://dc1", "auth": "ntlm", "bind_dn": "D\\svc", "password": "pw"}, "allow unencrypted"),
    ],
)
def test_settings_rejected_before_any_connection(overrides, fragment):
    values = {"url": "ldaps://dc1", "base_dn": BASE, **overrides}
    with pytest.raises(InputError, match=fragment) as exc:
        ldapmod.connect(LdapSettings(**values))
    assert exc.value.exit_code == 2
    assert "pw" not in str(exc.value).replace("password", "")


def test_gssapi_without_the_gssapi_package_is_explained(monkeypatch):
    monkeypatch.setattr(ldapmod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="gssapi"):
        ldapmod.connect(LdapSettings("ldap://dc1", BASE, auth="gssapi"))


def test_missing_ca_file_is_an_input_error():
    with pytest.raises(InputError, match="CA file"):
        ldapmod.connect(LdapSettings("ldaps://127.0.0.1:1", BASE, ca_file="/nonexistent/ca.pem"))


def test_password_is_not_in_repr():
    s = LdapSettings("ldaps://dc1", BASE, "cn=svc", "S3cret-value")
    assert "S3cret-value" not in repr(s) and "S3cret-value" not in str(s)


# ---------------------------------------------------------------- helpers


def test_md4_and_nt_hash_vectors():
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"  # RFC 1320
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert md4(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890").hex() == (
        "e33b4ddc9c38f2199c3e7b164fcc0536"
    )
    assert nt_hash_credential("password") == "0" * 32 + ":8846f7eaee8fb117ad06bdd830b7586c"


def test_ldap3_ntlm_accepts_the_nt_hash_form():
    """ldap3 derives the same NTLMv2 key from our hash form as from the password."""
    client = NtlmClient("CORP", "svc", nt_hash_credential("Pa55-word"))
    nt = md4("Pa55-word".encode("utf-16-le"))
    expected = hmac.new(nt, ("SVC" + "CORP").encode("utf-16-le"), hashlib.md5).digest()
    assert client.ntowf_v2() == expected


def test_escape_filter_value():
    assert escape_filter_value("a*(b)\\c\x00d") == "a\\2a\\28b\\29\\5cc\\00d"
    assert escape_filter_value("Müller, Jürgen") == "Müller, Jürgen"
    assert escape_filter_value(b"\x00*A") == "\\00\\2a\\41"


def test_recipient_filters():
    assert recipient_filter("ad") == "(|(proxyAddresses=ccmail:*)(targetAddress=ccmail:*))"
    assert recipient_filter(Dialect.AD, all_mailboxes=True) == (
        "(|(proxyAddresses=ccmail:*)(targetAddress=ccmail:*)(homeMDB=*)(msExchHomeServerName=*))"
    )
    ex55 = recipient_filter(Dialect.EXCHANGE55)
    for cls in ("organizationalPerson", "groupOfNames", "remote-address", "custom-recipient"):
        assert f"(objectClass={cls})" in ex55
    assert "otherMailbox" not in ex55
    assert recipient_filter("exchange55", True) == ex55
    assert dialect_attributes("ad") == AD_ATTRIBUTES
    assert dialect_attributes(Dialect.EXCHANGE55) == EX55_ATTRIBUTES
