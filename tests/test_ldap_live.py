"""toolkit.exchange.ldap against a real OpenLDAP slapd (mocks/slapd/server.py).

Why a real server: paging, size limits, TLS and binds are exactly where a
mock agrees with whatever the client does. Nothing here is skipped: without
slapd these tests fail (scripts/test installs it).
"""

from __future__ import annotations

import codecs
import itertools
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from toolkit.mocks.slapd import server as slapd

from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange import ldapread
from toolkit.exchange.dialects import AD_ATTRIBUTES, EX55_ATTRIBUTES, to_recipient
from toolkit.exchange.ldap import (
    LdapSettings,
    connect,
    escape_filter_value,
    nt_hash_credential,
    read_ldap,
    recipient_filter,
)
from toolkit.exchange.ldif import read_ldif
from toolkit.model import Dialect, RawEntry

pytestmark = pytest.mark.slapd

DATA = Path(__file__).parent / "data" / "ldap"
AD_LDIF = DATA / "ad.ldif"
EX55_LDIF = DATA / "exchange55.ldif"
AD_BASE = "DC=corp,DC=example"
EX55_BASE = "o=Org"
BULK = 1500
WRONG_PASSWORD = "Wr0ng-S3cret-*()-ÄÖ"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def slapd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Fail, do not skip, when slapd is missing.
    slapd.find_tool("slapd")
    slapd.find_tool("slapadd")
    return tmp_path_factory.mktemp("slapd")


def _server(directory: Path, base: str, ldif: Path | None = None, **options) -> Iterator[slapd.ServerInfo]:
    info = slapd.start(directory, slapd.free_port(), base, ldif, **options)
    try:
        yield info
    finally:
        assert slapd.stop(directory)


@pytest.fixture(scope="session")
def ad_server(slapd_dir: Path) -> Iterator[slapd.ServerInfo]:
    yield from _server(slapd_dir / "ad", AD_BASE, AD_LDIF, tls=True)


@pytest.fixture(scope="session")
def ex55_server(slapd_dir: Path) -> Iterator[slapd.ServerInfo]:
    yield from _server(slapd_dir / "ex55", EX55_BASE, EX55_LDIF, anonymous_read=True)


def _bulk_entries() -> Iterator[RawEntry]:
    for i in range(BULK):
        yield RawEntry(
            f"CN=User {i:05d},OU=Bulk,{AD_BASE}",
            {
                "objectclass": ["top", "person", "organizationalPerson", "user"],
                "cn": [f"User {i:05d}"],
                "sn": ["User"],
                "samaccountname": [f"user{i:05d}"],
                "proxyaddresses": [f"SMTP:user{i}@corp.example", f"CCMAIL:User {i:05d} at EXCH"],
                "homemdb": [f"CN=DB{i % 3},CN=Databases,{AD_BASE}"],
                "objectguid": [i.to_bytes(16, "big")],
            },
        )
    for i in range(50):
        yield RawEntry(
            f"CN=Contact {i:03d},OU=Contacts,{AD_BASE}",
            {
                "objectclass": ["top", "person", "organizationalPerson", "contact"],
                "cn": [f"Contact {i:03d}"],
                "sn": ["Contact"],
                "targetaddress": [f"ccmail:Contact {i:03d} at PO1"],
            },
        )


@pytest.fixture(scope="session")
def bulk_server(slapd_dir: Path) -> Iterator[slapd.ServerInfo]:
    # Schema-checked: the generated data must satisfy the AD classes' definitions.
    yield from _server(slapd_dir / "bulk", AD_BASE, entries=_bulk_entries(), schema_check=True)


@pytest.fixture(scope="session")
def short_server(slapd_dir: Path) -> Iterator[slapd.ServerInfo]:
    """OpenLDAP's default limit (500) applies to paged searches too."""
    yield from _server(slapd_dir / "short", AD_BASE, entries=_bulk_entries(), ad_limits=False)


def settings(info: slapd.ServerInfo, **overrides) -> LdapSettings:
    values = {
        "url": info.url,
        "base_dn": info.base_dn,
        "bind_dn": info.bind_dn,
        "password": info.password,
        "allow_unencrypted": True,
        "timeout": 10,
    }
    values.update(overrides)
    return LdapSettings(**values)


# ---------------------------------------------------------------- helpers


def canonical(entry: RawEntry, aliases: dict[str, str]) -> dict[str, list]:
    """Attributes as slapd stores them: alias names merged (mail = rfc822Mailbox)."""
    out: dict[str, list] = {}
    for name, values in entry.attrs.items():
        target = out.setdefault(aliases[name], [])
        seen = {v.lower() if isinstance(v, str) else v for v in target}
        for v in values:
            if (v.lower() if isinstance(v, str) else v) not in seen:
                target.append(v)
    return out


def assert_read_back_equal(info: slapd.ServerInfo, ldif: Path, attributes) -> list[RawEntry]:
    aliases = slapd.attribute_aliases()
    wanted = None if attributes is None else {aliases[a.lower()] for a in attributes}
    expected = {}
    for e in read_ldif(ldif):
        if "referral" in {c.lower() for c in e.texts("objectclass")}:
            continue  # returned as a continuation reference, not as an entry
        attrs = canonical(e, aliases)
        if wanted is not None:
            attrs = {k: v for k, v in attrs.items() if k in wanted}
        expected[slapd.dn_key(e.dn)] = attrs
    got = list(read_ldap(settings(info), "(objectClass=*)", attributes))
    by_key = {slapd.dn_key(e.dn): e for e in got}
    assert len(by_key) == len(got), "a DN came back twice"
    report = json.loads((info.directory / "load-report.json").read_text())
    added = {slapd.dn_key(dn) for dn in report["added_parents"]}
    assert set(by_key) == set(expected) | added
    for key, attrs in expected.items():
        assert by_key[key].attrs == attrs, key  # same names, same values, same order
    return got


# ---------------------------------------------------------------- read-back


def test_ad_ldif_reads_back_equal_all_attributes(ad_server):
    got = assert_read_back_equal(ad_server, AD_LDIF, None)
    guids = [v for e in got for v in e.get("objectguid")]
    assert guids and all(isinstance(g, bytes) and len(g) == 16 for g in guids)
    assert all(isinstance(v, str) for e in got for n, vs in e.attrs.items() if n != "objectguid" for v in vs)


def test_ad_ldif_reads_back_equal_toolkit_attributes(ad_server):
    assert_read_back_equal(ad_server, AD_LDIF, AD_ATTRIBUTES)


def test_ex55_ldif_reads_back_equal(ex55_server):
    assert_read_back_equal(ex55_server, EX55_LDIF, EX55_ATTRIBUTES)


@pytest.mark.parametrize(
    ("info_fixture", "ldif", "dialect"),
    [("ad_server", AD_LDIF, Dialect.AD), ("ex55_server", EX55_LDIF, Dialect.EXCHANGE55)],
)
def test_ldap_and_ldif_classify_the_same(request, info_fixture, ldif, dialect):
    info = request.getfixturevalue(info_fixture)
    attributes = AD_ATTRIBUTES if dialect is Dialect.AD else EX55_ATTRIBUTES

    def summary(entries):
        out = {}
        for e in entries:
            r = to_recipient(e, dialect)
            if r is not None:
                out[slapd.dn_key(e.dn)] = (r.kind, [v.raw for v in r.values], r.primary_smtp, r.nickname)
        return out

    from_ldif = summary(read_ldif(ldif))
    from_ldap = summary(read_ldap(settings(info), recipient_filter(dialect, True), attributes))
    assert from_ldap == from_ldif
    assert len(from_ldif) >= 4


def test_ldap_returns_server_dn_and_ldif_the_written_one(ad_server):
    """slapd returns its own DN form (cn=Smith\\2C John,...); the adapter prints it
    with RFC 4514 minimal escaping, as AD and ldifde write it."""
    got = {slapd.dn_key(e.dn): e.dn for e in read_ldap(settings(ad_server), "(sn=Smith)", ["cn"])}
    (dn,) = got.values()
    assert slapd.dn_key(dn) == slapd.dn_key("CN=Smith\\, John,OU=Staff,DC=corp,DC=example")
    assert dn == "cn=Smith\\, John,ou=Staff,dc=corp,dc=example"


def test_utf16_ldifde_export_loads(tmp_path):
    """ldifde -u writes UTF-16LE with a BOM and CRLF line ends."""
    text = AD_LDIF.read_text(encoding="utf-8").replace("\n", "\r\n")
    utf16 = tmp_path / "ad-utf16.ldif"
    utf16.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    for info in _server(tmp_path / "srv", AD_BASE, utf16):
        assert_read_back_equal(info, AD_LDIF, AD_ATTRIBUTES)


def test_loader_names_unknown_attributes_and_can_drop_them(tmp_path):
    ldif = tmp_path / "x.ldif"
    ldif.write_text(
        "dn: CN=A,DC=corp,DC=example\nobjectClass: user\ncn: A\nsn: A\n"
        "msDS-Fancy: 1\nproxyAddresses: CCMAIL:A at PO1\n"
    )
    with pytest.raises(slapd.SlapdError, match="msds-fancy"):
        slapd.start(tmp_path / "s1", slapd.free_port(), AD_BASE, ldif)
    for info in _server(tmp_path / "s2", AD_BASE, ldif, drop_unknown=True):
        (entry,) = read_ldap(settings(info), "(cn=A)", None)
        assert entry.attrs["proxyaddresses"] == ["CCMAIL:A at PO1"]
        assert "msds-fancy" not in entry.attrs


def test_schema_check_explains_missing_sn(tmp_path):
    with pytest.raises(slapd.SlapdError, match=r"requires attribute 'sn'.*AD allows"):
        slapd.start(tmp_path / "s", slapd.free_port(), AD_BASE, AD_LDIF, schema_check=True)


def test_ex55_data_passes_the_schema_check(tmp_path):
    """The content rules let 5.5's uid/mail/otherMailbox/... sit on standard classes."""
    for info in _server(tmp_path / "srv", EX55_BASE, EX55_LDIF, schema_check=True):
        got = {e.dn: e for e in read_ldap(settings(info), "(objectClass=*)", EX55_ATTRIBUTES)}
        jsmith = got["cn=jsmith,cn=Recipients,ou=Site,o=Org"]
        assert jsmith.attrs["othermailbox"][1] == "CCMAIL$Smith, John at PO1"
        assert jsmith.attrs["uid"] == ["jsmith"]
        # slapadd's schema check appends the RDN value: why it is off by default.
        assert jsmith.attrs["cn"] == ["Smith, John", "jsmith"]
        assert got["cn=jdoe,cn=Recipients,ou=Site,o=Org"].attrs["targetaddress"] == [
            "CCMAIL:Doe, Jane at PO1"
        ]


# ---------------------------------------------------------------- paging and limits


def test_more_than_1000_entries_read_with_paging(bulk_server, caplog):
    caplog.set_level(logging.DEBUG, logger="toolkit.exchange.ldapread")
    got = list(read_ldap(settings(bulk_server), "(objectClass=user)", ["cn", "objectGUID"]))
    assert len(got) == BULK
    assert {e.attrs["objectguid"][0] for e in got} == {i.to_bytes(16, "big") for i in range(BULK)}
    assert any("1500 entries in 2 page(s)" in r.getMessage() for r in caplog.records)


def test_small_pages_give_the_same_entries(bulk_server):
    flt = recipient_filter(Dialect.AD)
    big = [e.dn for e in read_ldap(settings(bulk_server), flt, ["cn"])]
    small = [e.dn for e in read_ldap(settings(bulk_server, page_size=97), flt, ["cn"])]
    assert len(big) == BULK + 50
    assert sorted(big) == sorted(small)


def test_service_account_is_limited_like_ad_without_paging(bulk_server):
    """A non-paged search stops at 1000 with sizeLimitExceeded, as on AD."""
    conn = ldap3.Connection(
        ldap3.Server(bulk_server.url, get_info=ldap3.NONE),
        bulk_server.bind_dn,
        bulk_server.password,
        auto_bind=True,
    )
    conn.search(bulk_server.base_dn, "(objectClass=user)", attributes=["cn"])
    assert len(conn.entries) == 1000
    assert conn.result["result"] == 4
    conn.unbind()


def test_short_paged_search_is_a_connection_failure(short_server):
    seen = []
    with pytest.raises(ConnectionFailure, match=r"after 500 entries.*size limit"):
        for entry in read_ldap(settings(short_server), "(objectClass=user)", ["cn"]):
            seen.append(entry)
    assert len(seen) == 500  # what was streamed before the failure, never presented as complete


def test_page_size_above_server_maximum_fails_closed(bulk_server):
    """AD caps the page at 1000; slapd refuses; either way no short read."""
    with pytest.raises(ConnectionFailure, match="code 11"):
        list(read_ldap(settings(bulk_server, page_size=2000), "(objectClass=user)", ["cn"]))


def _connection(info: slapd.ServerInfo) -> ldap3.Connection:
    return connect(settings(info))


def test_the_next_page_is_asked_for_before_this_page_is_handed_over(bulk_server):
    """search_ahead: the server makes page N+1 while the consumer reads page N
    (the request goes out first), and every entry still arrives once."""
    conn = _connection(bulk_server)
    events = _sent(conn)  # the requests on the wire (later pages do not pass conn.send)
    names, sent_before = [], []  # each entry, and how many requests had gone out when it came
    for e in ldapread.search(conn, bulk_server.base_dn, "(objectClass=user)", ["cn"],
                             page_size=500):
        names.append(e.first("cn"))
        sent_before.append(len(events))
    conn.unbind()
    assert len(names) == len(set(names)) == BULK
    # 1,500 entries in pages of 500: while page p (from 0) is handed over the
    # request for page p + 1 is already out (the last page has none after it)
    for k in range(0, BULK - 500, 500):
        assert sent_before[k] >= k // 500 + 2, (k, sent_before[k])
    assert len(events) >= 3


def test_a_read_stopped_early_leaves_the_connection_usable(bulk_server):
    """The page asked for ahead is taken off the line when the consumer stops,
    so the next operation on the connection gets its own answer."""
    conn = _connection(bulk_server)
    stream = ldapread.search(conn, bulk_server.base_dn, "(objectClass=user)", ["cn"],
                             page_size=500)
    first = next(stream)
    stream.close()
    again = list(ldapread.search(conn, bulk_server.base_dn, "(objectClass=user)", ["cn"],
                                 page_size=500))
    conn.unbind()
    assert len(again) == BULK and first in again


# ---------------------------------------------------------------- TLS


def test_starttls_with_the_test_ca(ad_server):
    s = settings(ad_server, starttls=True, ca_file=ad_server.ca_file, allow_unencrypted=False)
    assert len(list(read_ldap(s, recipient_filter(Dialect.AD), ["cn"]))) >= 5


def test_ldaps_with_the_test_ca(ad_server):
    s = settings(ad_server, url=ad_server.ldaps_url, ca_file=ad_server.ca_file, allow_unencrypted=False)
    assert len(list(read_ldap(s, recipient_filter(Dialect.AD), ["cn"]))) >= 5


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_tls_fails_closed_with_a_wrong_ca(ad_server, tmp_path, scheme):
    other_ca = slapd.make_test_pki(tmp_path / "other")
    url = ad_server.ldaps_url if scheme == "ldaps" else ad_server.url
    s = settings(ad_server, url=url, starttls=scheme == "starttls", ca_file=str(other_ca),
                 allow_unencrypted=False)  # fmt: skip
    with pytest.raises(ConnectionFailure, match=r"(?i)certificate") as exc:
        list(read_ldap(s, "(objectClass=*)", ["cn"]))
    assert ad_server.password not in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_tls_fails_closed_without_a_ca_file(ad_server, scheme):
    url = ad_server.ldaps_url if scheme == "ldaps" else ad_server.url
    s = settings(ad_server, url=url, starttls=scheme == "starttls", allow_unencrypted=False)
    with pytest.raises(ConnectionFailure, match=r"(?i)certificate"):
        list(read_ldap(s, "(objectClass=*)", ["cn"]))


def test_tls_checks_the_host_name(tmp_path):
    for info in _server(tmp_path / "srv", AD_BASE, tls=True, tls_hosts=("ldap.elsewhere.example",)):
        s = settings(info, starttls=True, ca_file=info.ca_file, allow_unencrypted=False)
        with pytest.raises(ConnectionFailure, match=r"not valid for host name 127\.0\.0\.1"):
            list(read_ldap(s, "(objectClass=*)", ["cn"]))


def test_insecure_skip_verify_connects_and_warns(ad_server, caplog):
    s = settings(ad_server, starttls=True, insecure_skip_verify=True, allow_unencrypted=False)
    with caplog.at_level(logging.WARNING, logger="toolkit.exchange.ldap"):
        assert list(read_ldap(s, "(sn=Smith)", ["cn"]))
    assert any("verification is OFF" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- binds and errors


@pytest.mark.parametrize("tls", [False, True])
def test_wrong_password_is_a_connection_failure_without_the_password(ad_server, tls):
    s = settings(ad_server, password=WRONG_PASSWORD, starttls=tls, ca_file=ad_server.ca_file if tls else None)
    with pytest.raises(ConnectionFailure, match="invalidCredentials") as exc:
        list(read_ldap(s, "(objectClass=*)", ["cn"]))
    message = str(exc.value)
    assert WRONG_PASSWORD not in message and "\n" not in message
    assert exc.value.exit_code == 3


def test_unknown_bind_dn_message_never_holds_the_real_password(ad_server):
    s = settings(ad_server, bind_dn="cn=nobody,o=ccmig-test-accounts")
    with pytest.raises(ConnectionFailure) as exc:
        list(read_ldap(s, "(objectClass=*)", ["cn"]))
    assert ad_server.password not in str(exc.value)


def test_server_not_listening(tmp_path):
    port = slapd.free_port()
    s = LdapSettings(f"ldap://127.0.0.1:{port}", AD_BASE, timeout=3)
    with pytest.raises(ConnectionFailure, match="connect failed"):
        list(read_ldap(s, "(objectClass=*)", ["cn"]))


def test_server_that_never_answers_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection, never speaks LDAP
        port = listener.getsockname()[1]
        s = LdapSettings(f"ldap://127.0.0.1:{port}", AD_BASE, timeout=1)
        with pytest.raises(ConnectionFailure):
            list(read_ldap(s, "(objectClass=*)", ["cn"]))


def test_clear_text_simple_bind_refused_before_connecting():
    port = slapd.free_port()  # nothing listens: an InputError proves no connection was tried
    s = LdapSettings(f"ldap://127.0.0.1:{port}", AD_BASE, "cn=reader,o=x", "secret")
    with pytest.raises(InputError, match="allow unencrypted") as exc:
        list(read_ldap(s, "(objectClass=*)", ["cn"]))
    assert exc.value.exit_code == 2 and "secret" not in str(exc.value)


def test_clear_text_simple_bind_allowed_when_asked(ad_server):
    assert list(read_ldap(settings(ad_server, allow_unencrypted=True), "(sn=Smith)", ["cn"]))


@pytest.mark.parametrize("auth", ["simple", "anonymous"])
def test_anonymous_read_when_the_server_allows_it(ex55_server, auth):
    s = LdapSettings(ex55_server.url, ex55_server.base_dn, auth=auth)
    assert len(list(read_ldap(s, recipient_filter(Dialect.EXCHANGE55), ["cn"]))) == 5


def test_anonymous_without_access_is_reported_not_an_empty_directory(ad_server):
    s = LdapSettings(ad_server.url, ad_server.base_dn)
    with pytest.raises(InputError, match="not visible"):
        list(read_ldap(s, "(objectClass=*)", ["cn"]))


def test_ntlm_against_a_server_without_ntlm_fails_cleanly(ad_server):
    """slapd has no NTLM (Sicily): the bind must fail closed, leaking neither secret."""
    s = settings(ad_server, auth="ntlm", bind_dn="CORP\\reader")
    with pytest.raises(ConnectionFailure) as exc:
        list(read_ldap(s, "(objectClass=*)", ["cn"]))
    message = str(exc.value)
    assert ad_server.password not in message
    assert nt_hash_credential(ad_server.password).split(":")[1] not in message


# ---------------------------------------------------------------- filters, referrals


def test_recipient_filter_ad_selects_ccmail_objects_case_insensitively(ad_server):
    got = {e.dn for e in read_ldap(settings(ad_server), recipient_filter(Dialect.AD), ["cn"])}
    expected = set()
    for e in read_ldif(AD_LDIF):
        values = e.texts("proxyaddresses") + e.texts("targetaddress")
        if any(v.lower().startswith("ccmail:") for v in values):
            expected.add(slapd.dn_key(e.dn))
    assert {slapd.dn_key(d) for d in got} == expected
    assert len(expected) == 6
    everything = recipient_filter(Dialect.AD, all_mailboxes=True)
    with_mailboxes = {e.dn for e in read_ldap(settings(ad_server), everything, ["cn"])}
    assert len(with_mailboxes) == len(got) + 1  # Room 101: a mailbox without cc:Mail values


def test_filter_value_with_specials_matches_literally(ad_server):
    s = settings(ad_server)

    def cns(value):
        return sorted(e.texts("cn")[0] for e in read_ldap(s, f"(cn={escape_filter_value(value)})", ["cn"]))

    assert cns("Odd *()\\ Name") == ["Odd *()\\ Name"]  # not the decoy "Odd XY()\ Name"
    assert cns("*") == []  # unescaped, (cn=*) matches every entry
    assert cns("Odd *()\\ Name\x00") == []  # NUL does not cut the value short
    assert len(list(read_ldap(s, "(cn=Odd *)", ["cn"]))) == 2  # the decoy is real


def test_binary_filter_value_with_nul_and_specials_matches_literally(ad_server):
    guid = bytes([0x2A, 0x28, 0x29, 0x5C, 0x00, 0x41, 0x42, 0x43, *range(0x10, 0x18)])
    flt = f"(objectGUID={escape_filter_value(guid)})"
    (entry,) = read_ldap(settings(ad_server), flt, ["cn", "objectGUID"])
    assert entry.attrs["objectguid"] == [guid]
    assert entry.texts("cn") == ["Odd *()\\ Name"]


def test_well_known_ad_partition_references_are_ignored(ad_server):
    dns = {e.dn.lower() for e in read_ldap(settings(ad_server), "(objectClass=*)", ["cn"])}
    assert not any("domaindnszones" in d or d.startswith("cn=configuration") for d in dns)


def test_other_referrals_are_refused(tmp_path):
    ldif = tmp_path / "refs.ldif"
    ldif.write_text(
        "dn: OU=Staff,DC=corp,DC=example\nobjectClass: organizationalUnit\nou: Staff\n\n"
        "dn: DC=child,DC=corp,DC=example\nobjectClass: referral\nobjectClass: extensibleObject\n"
        "dc: child\nref: ldap://child.corp.example/DC=child,DC=corp,DC=example\n"
    )
    for info in _server(tmp_path / "srv", AD_BASE, ldif):
        with pytest.raises(ConnectionFailure, match=r"child\.corp\.example.*not followed"):
            list(read_ldap(settings(info), "(objectClass=*)", ["cn"]))
        below = settings(info, base_dn="OU=Sales,DC=child,DC=corp,DC=example")
        with pytest.raises(ConnectionFailure, match="referred"):
            list(read_ldap(below, "(objectClass=*)", ["cn"]))
        assert list(read_ldap(settings(info, base_dn="OU=Staff,DC=corp,DC=example"), "(ou=*)", ["ou"]))


# ---------------------------------------------------------------- the CLI wrapper


def test_ldap_test_server_script_start_and_stop(tmp_path):
    script = Path(__file__).parent.parent / "scripts" / "ldap-test-server"
    directory = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, str(script), "start", "--dir", str(directory), "--port", str(slapd.free_port()),
         "--base-dn", EX55_BASE, "--ldif", str(EX55_LDIF), "--tls"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert {"url", "base_dn", "bind_dn", "password", "pid", "ca_file"} <= set(info)
    try:
        s = LdapSettings(info["url"], info["base_dn"], info["bind_dn"], info["password"],
                         starttls=True, ca_file=info["ca_file"])  # fmt: skip
        assert len(list(read_ldap(s, recipient_filter(Dialect.EXCHANGE55), ["cn"]))) == 5
    finally:
        stopped = subprocess.run(
            [sys.executable, str(script), "stop", "--dir", str(directory)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert json.loads(stopped.stdout) == {"stopped": True}
    assert not Path(f"/proc/{info['pid']}").exists() or "Z" in Path(f"/proc/{info['pid']}/stat").read_text()


def test_service_account_is_read_only_and_admin_can_write(tmp_path):
    dn = "CN=Smith\\, John,OU=Staff,DC=corp,DC=example"
    add = {"proxyAddresses": [(ldap3.MODIFY_ADD, ["ccmail:Smith, John at PO7"])]}
    for info in _server(tmp_path / "srv", AD_BASE, AD_LDIF, admin=True):
        server = ldap3.Server(info.url, get_info=ldap3.NONE)
        reader = ldap3.Connection(server, info.bind_dn, info.password, auto_bind=True)
        assert not reader.modify(dn, add)
        assert reader.result["result"] == 50  # insufficientAccessRights
        admin = ldap3.Connection(server, info.admin_dn, info.admin_password, auto_bind=True)
        assert admin.modify(dn, add), admin.result
        # Equal but for case: refused, as AD refuses it.
        assert not admin.modify(dn, {"proxyAddresses": [(ldap3.MODIFY_ADD, ["CCMAIL:SMITH, JOHN AT PO7"])]})
        (entry,) = read_ldap(settings(info), "(sn=Smith)", ["proxyAddresses"])
        assert entry.attrs["proxyaddresses"][-1] == "ccmail:Smith, John at PO7"


def test_a_killed_test_run_leaves_no_server_behind(tmp_path):
    code = (
        "import sys, time\n"
        "from toolkit.mocks.slapd import server as s\n"
        f"info = s.start({str(tmp_path / 'srv')!r}, s.free_port(), 'o=Org')\n"
        "print(info.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    root = Path(__file__).parent.parent
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    assert Path(f"/proc/{pid}").exists()
    parent.kill()
    parent.wait()
    for _ in range(100):
        if not slapd._alive(pid):
            break
        time.sleep(0.05)
    assert not slapd._alive(pid)


def test_context_manager_starts_and_stops(tmp_path):
    with slapd.SlapdServer(tmp_path / "srv", EX55_BASE, EX55_LDIF, anonymous_read=True) as info:
        s = LdapSettings(info.url, info.base_dn)
        assert len(list(read_ldap(s, recipient_filter(Dialect.EXCHANGE55), ["cn"]))) == 5
        assert slapd._alive(info.pid)
    assert not slapd._alive(info.pid)


class _Recorded:
    """A socket that keeps a copy of everything sent through it."""

    def __init__(self, sock: socket.socket, sent: list[bytes]) -> None:
        self._sock, self._sent = sock, sent

    def sendall(self, data: bytes) -> None:
        self._sent.append(bytes(data))
        self._sock.sendall(data)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def _sent(conn: ldap3.Connection) -> list[bytes]:
    """Every message ``conn`` sends from now on, as it goes on the wire."""
    sent: list[bytes] = []
    conn.socket = _Recorded(conn.socket, sent)
    return sent


def _decoded(message: bytes):
    from ldap3.protocol.rfc4511 import LDAPMessage
    from ldap3.utils.asn1 import decoder

    return decoder.decode(message, asn1Spec=LDAPMessage())[0]


def _cookie_of(message: bytes) -> bytes | None:
    """The paged-results cookie a search request message carries (None: no control)."""
    from ldap3.protocol.rfc2696 import RealSearchControlValue
    from ldap3.utils.asn1 import decoder

    decoded = _decoded(message)
    if not decoded["controls"].hasValue():
        return None
    value, _ = decoder.decode(bytes(decoded["controls"][0]["controlValue"]),
                              asn1Spec=RealSearchControlValue())
    return bytes(value["cookie"])


def test_later_pages_send_what_ldap3s_own_search_sends(bulk_server):
    """paged_search sends the first page's searchRequest again for every later
    page: byte for byte the message ldap3's Connection.search sends for that
    cookie, with the same message ID."""
    attributes = ["cn", "objectGUID", "proxyAddresses"]
    conn = _connection(bulk_server)
    sent = _sent(conn)
    got = list(ldapread.search(conn, bulk_server.base_dn, "(objectClass=user)", attributes,
                               page_size=400))
    conn.unbind()
    searches = [m for m in sent if _cookie_of(m) is not None]  # (not the unbind)
    assert len(got) == BULK and len(searches) == -(-BULK // 400) > 2
    reference = _connection(bulk_server)
    expected = _sent(reference)
    reference.post_send_search = lambda message_id: message_id  # send only: the answers are dropped
    ids = itertools.chain([int(_decoded(m)["messageID"]) for m in searches], itertools.count(1000))
    reference.server.next_message_id = lambda: next(ids)  # (ldap3 counts across connections)
    for message in searches:
        reference.search(bulk_server.base_dn, "(objectClass=user)", search_scope=ldap3.SUBTREE,
                         dereference_aliases=ldap3.DEREF_NEVER, attributes=attributes,
                         paged_size=400, paged_cookie=_cookie_of(message) or None,
                         paged_criticality=False)
    reference.unbind()
    assert searches == expected[: len(searches)]
    assert all(_cookie_of(m) for m in searches[1:])  # each later page carried its cookie
