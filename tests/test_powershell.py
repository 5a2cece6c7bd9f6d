"""The toolkit's remote PowerShell adapter against the mock, over real HTTP.

What is proved here: batching (request counts), results matched to the
right identity even with not-found and ambiguous ones in the batch, the
normaliser on Exchange's real wire shape, PowerShell-read recipients equal
to LDIF-read ones, clean exit-3 failures that never show the password,
Ctrl+C reaching the server, and the no-socket transport.
"""

from __future__ import annotations

import logging
import socket
import uuid
from pathlib import Path

import pytest
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.powershell import PowerShell
from toolkit.mocks.exchange import MockExchange, MockExchangeServer, MockTransport, Organisation
from toolkit.mocks.exchange import cmdlets as mock_cmdlets
from toolkit.mocks.exchange.errors import ErrorSpec

from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange import dialects
from toolkit.exchange import psobjects as pso
from toolkit.exchange.ldif import read_ldif
from toolkit.exchange.powershell import (
    ADDRESS_PROPERTIES,
    ErrorInfo,
    ExchangeSession,
    ExchangeSettings,
)
from toolkit.exchange.psmatch import attribute as _attribute
from toolkit.exchange.psmatch import place as _place
from toolkit.exchange.psmatch import plausible
from toolkit.model import Dialect, Kind, RawEntry, Recipient

DATA = Path(__file__).parent / "data" / "exchange"
LDIF, STATS = DATA / "org.ldif", DATA / "stats.csv"
PASSWORD = "Pa55-w0rd-in-clear?"
SMITH = "CN=Smith\\, John,OU=Staff,DC=corp,DC=example"
CONTACT = "CN=Smith\\, John (cc:Mail),OU=cc:Mail,DC=corp,DC=example"


def ldif_proxies(dn: str) -> list[str]:
    return next(e for e in read_ldif(LDIF) if e.dn == dn).texts("proxyaddresses")


@pytest.fixture
def core() -> MockExchange:
    return MockExchange.from_files(LDIF, STATS, password=PASSWORD)


@pytest.fixture
def server(core):
    with MockExchangeServer(core) as srv:
        yield srv


def settings_for(srv: MockExchangeServer, **kw) -> ExchangeSettings:
    base = dict(auth="basic", username=srv.core.username, password=PASSWORD,
                allow_unencrypted=True, timeout=10)
    base.update(kw)
    return ExchangeSettings(srv.uri, **base)


@pytest.fixture
def session(server):
    with ExchangeSession(settings_for(server)) as s:
        yield s


def bulk(n: int) -> Organisation:
    entries = []
    for i in range(n):
        cn = f"User{i:04d}, Bulk"
        entries.append(RawEntry(f"CN=User{i:04d}\\, Bulk,OU=Bulk,DC=corp,DC=example", {
            "objectclass": ["top", "person", "organizationalPerson", "user"],
            "cn": [cn], "mailnickname": [f"u{i:04d}"], "samaccountname": [f"u{i:04d}"],
            "mail": [f"u{i:04d}@corp.example"], "homemdb": ["CN=DB01,DC=corp,DC=example"],
            "proxyaddresses": [f"SMTP:u{i:04d}@corp.example", f"ccmail:{cn} at PO{i % 5}",
                               f"CCMAIL:{cn} at EXCH"],
        }))
    return Organisation(entries)


# -- settings ------------------------------------------------------------------------


def test_basic_over_http_needs_allow_unencrypted():
    with pytest.raises(InputError) as info:
        ExchangeSettings("http://ex01.corp.example/PowerShell", auth="basic",
                         username="u", password="p")
    assert info.value.exit_code == 2 and "in clear" in str(info.value)
    ExchangeSettings("https://ex01.corp.example/PowerShell", auth="basic",
                     username="u", password="p")
    ExchangeSettings("http://ex01.corp.example/PowerShell", auth="basic", username="u",
                     password="p", allow_unencrypted=True)
    ExchangeSettings("http://ex01.corp.example/PowerShell", auth="kerberos")  # message-encrypted


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"uri": "ftp://ex01/PowerShell"}, r"expected http\(s\)"),
    ({"uri": "http://ex01:99999/PowerShell"}, "bad URI"),
    ({"auth": "digest"}, "unknown auth"),
    ({"auth": "ntlm"}, "needs a user name and a password"),
    ({"auth": "certificate", "uri": "http://ex01/PowerShell"}, "needs an https"),
    ({"batch_size": 0}, "batch size"),
])
def test_settings_validation(kwargs, fragment):
    args = {"uri": "https://ex01.corp.example/PowerShell", "auth": "kerberos"} | kwargs
    with pytest.raises(InputError, match=fragment):
        ExchangeSettings(**args)


def test_settings_build_pypsrp_arguments_without_leaking_the_password():
    s = ExchangeSettings("https://ex01.corp.example/PowerShell", auth="basic", username="u",
                         password=PASSWORD, ca_file="/etc/ca.pem", timeout=7)
    assert PASSWORD not in repr(s)
    args = s.wsman_arguments()
    assert args["server"] == "ex01.corp.example" and args["port"] == 443
    assert args["path"] == "PowerShell" and args["ssl"] is True
    assert args["cert_validation"] == "/etc/ca.pem"
    assert args["read_timeout"] > args["operation_timeout"]
    insecure = ExchangeSettings("https://ex01/PowerShell", auth="kerberos",
                                insecure_skip_verify=True).wsman_arguments()
    assert insecure["cert_validation"] is False and insecure["encryption"] == "auto"


# -- email_addresses ------------------------------------------------------------------


def test_email_addresses_in_input_order_with_not_found_reported(session):
    ids = ["lzolc", "no.such.person", SMITH, "Sales, All", "", "tyamada"]
    results = session.email_addresses(ids)
    assert [r.identity for r in results] == ids
    assert [r.found for r in results] == [True, False, True, True, False, True]
    assert results[0].addresses == ldif_proxies("CN=Żółć\\, Łukasz,OU=Staff,DC=corp,DC=example")
    assert results[2].addresses == ldif_proxies(SMITH) and results[2].dn == SMITH
    assert results[5].addresses == ["SMTP:taro.yamada@corp.example", "CCMAIL:山田, 太郎 at EXCH"]
    assert results[1].error == ("The operation couldn't be performed because object "
                                "'no.such.person' couldn't be found on 'DC01.corp.example'.")
    assert results[1].as_dict() == {"identity": "no.such.person", "dn": None, "found": False,
                                    "addresses": []}
    assert results[4].error == "empty identity"


def test_ambiguous_identity_is_an_error_for_that_identity_only(core, session):
    core.org.entries[1].attrs["mailnickname"] = ["jdoe"]  # Müller now also answers to jdoe
    core.org.changed()
    results = session.email_addresses(["jsmith", "jdoe", "lzolc"])
    assert [r.found for r in results] == [True, False, True]
    assert "matches multiple entries" in (results[1].error or "")
    assert results[2].dn == "CN=Żółć\\, Łukasz,OU=Staff,DC=corp,DC=example"


def test_batching_is_proved_by_the_request_counter():
    core = MockExchange(bulk(1000), password=PASSWORD)
    with MockExchangeServer(core) as srv, ExchangeSession(settings_for(srv)) as s:
        before = srv.requests
        core.actions.clear()
        results = s.email_addresses([f"u{i:04d}" for i in range(1000)])
        assert srv.requests - before <= 10
        assert core.actions["Command"] == 1  # every identity streamed into ONE invocation
        assert core.actions["Signal"] == 1
        assert all(r.found for r in results)
        assert results[737].addresses == ["SMTP:u0737@corp.example",
                                          "ccmail:User0737, Bulk at PO2",
                                          "CCMAIL:User0737, Bulk at EXCH"]
        before = srv.requests
        s.email_addresses([f"u{i:04d}" for i in range(1000)])
        assert srv.requests == before  # looked up already: nothing is asked twice


def test_reading_2000_identities_takes_at_most_10_requests_per_1000():
    """Issue 6: EmailAddresses and item counts of 2,000 identities, projected, from a
    mock whose unprojected objects are as large as Exchange's: <= 10 WSMan requests
    per 1,000 identities, all reads together (pool opening not counted)."""
    org = bulk(2000)
    for i, entry in enumerate(org.entries):
        entry.item_count = i
    core = MockExchange(org, password=PASSWORD)
    ids = [f"CN=User{i:04d}\\, Bulk,OU=Bulk,DC=corp,DC=example" for i in range(2000)]
    with MockExchangeServer(core) as srv, ExchangeSession(settings_for(srv)) as s:
        before, sent = srv.requests, core.bytes_out
        core.actions.clear()
        addresses = s.email_addresses(ids)
        projected = (core.bytes_out - sent) / 2000  # wire bytes per Get-Recipient answer
        stats = s.mailbox_stats(ids)
        requests = srv.requests - before
    assert [a.dn for a in addresses] == ids and all(a.addresses for a in addresses)
    assert [x.item_count for x in stats] == list(range(2000))
    assert requests * 1000 / 2000 <= 10, dict(core.actions)
    assert core.actions["Command"] == 2 and core.actions["Signal"] == 2  # one pipeline per read
    with MockExchangeServer(MockExchange(bulk(50), password=PASSWORD)) as srv, \
            ExchangeSession(settings_for(srv)) as s:
        sent = srv.core.bytes_out
        s.run("Get-Recipient", {"ResultSize": "Unlimited"})  # whole objects, ~100 properties
        assert (srv.core.bytes_out - sent) / 50 > 3 * projected  # projection keeps it small


def test_results_that_cannot_be_placed_are_asked_one_by_one(core, session):
    # A canonical name resolves in Exchange but is not among the projected
    # names, so its answer cannot be checked: the adapter asks it again alone.
    # The others are placed with certainty (an error by the name it names, an
    # object from the back), so they are not asked twice.
    before = core.actions["Command"]
    results = session.email_addresses(["corp.example/Staff/Smith, John", "nobody", "jdoe"])
    assert [r.dn for r in results] == [SMITH, None, "CN=Doe\\, Jane,OU=Sales,DC=corp,DC=example"]
    assert core.actions["Command"] - before == 2  # the batch, then the canonical name alone


def test_attribution_refuses_to_guess():
    smith = {"DistinguishedName": SMITH, "Alias": "jsmith"}
    doe = {"DistinguishedName": "CN=Doe", "Alias": "jdoe"}
    not_found = ErrorInfo("The operation couldn't be performed because object 'x' couldn't be "
                          "found on 'DC01'.")
    assert _attribute(["jsmith", "x", "jdoe"], [smith, doe], [not_found]) == [
        (smith, None), (None, not_found.message), (doe, None)]
    assert _attribute(["jdoe", "jsmith"], [smith, doe], []) is None  # order does not fit
    assert _attribute(["jsmith", "y"], [smith], [not_found]) is None  # error names no input
    assert _attribute(["jsmith", "jdoe"], [smith], []) is None  # an answer is missing


def test_placement_leaves_only_the_uncertain_identities_unsure():
    def obj(alias: str) -> dict:
        return {"DistinguishedName": f"CN={alias}", "Alias": alias}

    def answers(identity, o):
        return plausible(identity, o)

    a, b, c, d = obj("a"), obj("b"), obj("c"), obj("d")
    x1, x2 = obj("x1"), obj("x2")  # "x*" named two objects: the stream shifts by one
    placed = _place(["a", "b", "x*", "c", "d"], [a, b, x1, x2, c, d], [], answers)
    assert placed == [(a, None), (b, None), None, (c, None), (d, None)]
    # a stream cut short (a lost connection): only the front is certain
    assert _place(["a", "b", "c"], [a, b], [], answers, complete=False) == [
        (a, None), (b, None), None]
    # an error that names no input: the identities it could belong to are unsure
    odd = ErrorInfo("The recipient is corrupt.")
    assert _place(["a", "b", "c"], [a, c], [odd], answers) == [(a, None), None, (c, None)]
    # the same identity twice: errors are given out in order
    gone = ErrorInfo("The operation couldn't be performed because object 'z' couldn't be "
                     "found on 'DC01'.")
    assert _place(["z", "a", "Z"], [a], [gone, gone], answers) == [
        (None, gone.message), (a, None), (None, gone.message)]


# -- mailbox_stats -------------------------------------------------------------------------


def test_mailbox_stats(session, core):
    ids = [SMITH, "juergen.mueller@corp.example", "lzolc", "sobrien", "Sales, All", "ghost"]
    stats = session.mailbox_stats(ids)
    assert [s.identity for s in stats] == ids
    assert [s.item_count for s in stats] == [312, 1200, 0, None, None, None]
    assert [s.found for s in stats] == [True, True, True, True, False, False]
    assert stats[0].total_bytes == 312 * 37_411
    assert "hasn't logged on" in (stats[3].error or "")
    assert "not a mailbox" in (stats[4].error or "")
    assert "couldn't be found" in (stats[5].error or "")
    before = core.actions["Command"]
    again = session.mailbox_stats([SMITH])  # identity known: only the statistics call
    assert again[0].item_count == 312 and core.actions["Command"] - before == 1


# -- iter_recipients -----------------------------------------------------------------------


def audited(r: Recipient) -> bool:
    """The audit's filter when item counts are wanted: cc:Mail values, or a mailbox."""
    return bool(r.values) or r.kind is Kind.MAILBOX


def test_iter_recipients_gives_the_same_recipients_as_the_ldif(session):
    from_ps = list(session.iter_recipients())
    assert list(dialects.recipients(from_ps, Dialect.AD, audited)) == \
        list(dialects.recipients(read_ldif(LDIF), Dialect.AD, audited))
    # Get-Recipient lists mail-enabled objects only: a contact with no mail
    # attribute at all is the one object LDAP would classify that it omits.
    every = lambda r: True  # noqa: E731
    ps_dns = {r.dn for r in dialects.recipients(from_ps, Dialect.AD, every)}
    ldif_dns = {r.dn for r in dialects.recipients(read_ldif(LDIF), Dialect.AD, every)}
    assert ldif_dns - ps_dns == {"CN=Plain Contact,OU=cc:Mail,DC=corp,DC=example"}
    cc = list(dialects.recipients(from_ps, Dialect.AD))
    assert cc == list(dialects.recipients(read_ldif(LDIF), Dialect.AD))
    doe = next(r for r in cc if r.dn.startswith("CN=Doe"))
    assert [v.raw for v in doe.values][-3:] == [
        "ccmail:Fête 🎉, Jane at PO1", "ccmail:Doe\x07Jane at PO1", "ccmail:Under_x0041_Score at PO1"]
    assert {r.kind.value for r in cc} == {"mailbox", "custom-recipient", "group"}


def test_iter_recipients_streams_and_closing_early_stops_the_server_pipeline():
    core = MockExchange(bulk(3000), password=PASSWORD)
    with MockExchangeServer(core) as srv, ExchangeSession(settings_for(srv)) as s:
        reader = s.iter_recipients()
        first = [next(reader) for _ in range(10)]
        assert first[0].dn == "CN=User0000\\, Bulk,OU=Bulk,DC=corp,DC=example"
        receives = core.actions["Receive"]
        reader.close()
        assert core.signals[-1][0] == "powershell/signal/ctrl_c"
        assert core.actions["Receive"] == receives  # nothing more was fetched
        assert s.email_addresses(["u0001"])[0].found  # the session is still usable


def test_iter_recipients_fails_when_exchange_reports_an_error(monkeypatch, server):
    original = mock_cmdlets.IMPLEMENTATIONS["get-recipient"]

    def flaky(call):
        for n, obj in enumerate(original(call)):
            if n == 3:
                call.error(ErrorSpec("The object has been corrupted.", ("System.Exception",),
                                     "NotSpecified", "DataValidationException", "Corrupt"))
            yield obj

    monkeypatch.setitem(mock_cmdlets.IMPLEMENTATIONS, "get-recipient", flaky)
    with ExchangeSession(settings_for(server)) as s, \
            pytest.raises(ConnectionFailure, match="incomplete: The object has been corrupted"):
        list(s.iter_recipients())


# -- writes --------------------------------------------------------------------------------


def test_set_mailbox_and_remove_contact_are_seen_by_later_reads(session):
    assert session.update_email_addresses(
        "jsmith", add=["ccmail:Smith, J. at PO3"],
        remove=["X400:c=US;a= ;p=Corp;o=Exchange;s=Smith;g=John;"]) is None
    assert session.email_addresses(["jsmith"])[0].addresses == [
        "SMTP:john.smith@corp.example", "smtp:jsmith@corp.example", "ccmail:Smith, John at HUBPO",
        "CCMAIL:Smith, John at EXCH", "ccmail:Smith, J. at PO3"]
    clash = session.update_email_addresses("jsmith", add=["smtp:jane.doe@corp.example"])
    assert clash is not None and "already being used" in clash.message
    assert session.remove_mail_contact(CONTACT) is None
    assert session.email_addresses([CONTACT])[0].found is False
    assert CONTACT not in {e.dn for e in session.iter_recipients()}
    missing = session.remove_mail_contact(CONTACT)
    assert missing is not None and "couldn't be found" in missing.message


def test_run_refuses_anything_but_a_cmdlet_name(session, core):
    before = core.requests
    with pytest.raises(InputError):
        session.run("Get-Recipient; Remove-MailContact x")
    assert core.requests == before  # nothing was sent


def test_terminating_error_is_a_connection_failure(session):
    with pytest.raises(ConnectionFailure) as info:
        session.run("Get-Recipient", {"Identity": ["jsmith", "jdoe"]})
    assert info.value.exit_code == 3
    assert "Get-Recipient failed" in str(info.value)
    assert "Cannot convert 'System.Object[]'" in str(info.value)
    with pytest.raises(ConnectionFailure, match="A parameter cannot be found"):
        session.run("Get-Mailbox", {"NoSuchParameter": True})
    assert session.email_addresses(["jsmith"])[0].found  # the pool survives


# -- failures ------------------------------------------------------------------------------


def test_wrong_password_is_a_connection_failure_without_the_password(server):
    wrong = "wrong-" + PASSWORD
    with pytest.raises(ConnectionFailure) as info:
        ExchangeSession(settings_for(server, password=wrong)).open()
    assert info.value.exit_code == 3
    assert "authentication failed" in str(info.value)
    assert wrong not in str(info.value) and PASSWORD not in str(info.value)
    assert "\n" not in str(info.value)


def test_nothing_listening_is_a_connection_failure():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = ExchangeSettings(f"http://127.0.0.1:{port}/PowerShell", auth="basic",
                                username="u", password=PASSWORD, allow_unencrypted=True)
    with pytest.raises(ConnectionFailure, match="cannot connect"):
        ExchangeSession(settings).open()


def test_wsman_fault_is_a_connection_failure(server):
    with pytest.raises(ConnectionFailure, match="session configuration"):
        ExchangeSession(settings_for(server, configuration_name="Microsoft.PowerShell")).open()


def test_https_validates_the_certificate(core):
    with MockExchangeServer(core, https=True) as srv:
        with ExchangeSession(settings_for(srv, allow_unencrypted=False,
                                          ca_file=str(srv.ca_file))) as s:
            assert s.email_addresses(["jsmith"])[0].found
        with pytest.raises(ConnectionFailure, match="--ca-file"):
            ExchangeSession(settings_for(srv, allow_unencrypted=False)).open()
        with ExchangeSession(settings_for(srv, insecure_skip_verify=True)) as s:
            assert s.email_addresses(["jdoe"])[0].found


def test_keyboard_interrupt_stops_the_server_pipeline_then_propagates(monkeypatch):
    core = MockExchange(bulk(1200), password=PASSWORD)
    with MockExchangeServer(core) as srv, ExchangeSession(settings_for(srv)) as s:
        calls = {"n": 0}
        real_poll = PowerShell.poll_invoke

        def poll(self, timeout=None):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
            return real_poll(self, timeout)

        monkeypatch.setattr(PowerShell, "poll_invoke", poll)
        with pytest.raises(KeyboardInterrupt):
            s.email_addresses([f"u{i:04d}" for i in range(500)])
        code, command = core.signals[-1]
        assert code == "powershell/signal/ctrl_c"
        shell = next(iter(core.service.shells.values()))
        assert shell.stopped == [command]


# -- transports and fallbacks ------------------------------------------------------------


def test_no_socket_transport(core):
    settings = ExchangeSettings("http://mock-exchange/PowerShell", auth="basic",
                                username=core.username, password=PASSWORD,
                                allow_unencrypted=True)
    with ExchangeSession(settings, transport=MockTransport(core)) as s:
        assert s.email_addresses(["tyamada"])[0].addresses[-1] == "CCMAIL:山田, 太郎 at EXCH"
        assert len(list(s.iter_recipients())) == 13
    assert core.requests > 0


def test_without_select_object_the_adapter_reads_whole_objects(caplog):
    core = MockExchange.from_files(LDIF, STATS, password=PASSWORD,
                                   commands=[c for c in mock_cmdlets.IMPLEMENTATIONS
                                             if c != "select-object"])
    with MockExchangeServer(core) as srv, ExchangeSession(settings_for(srv)) as s, \
            caplog.at_level(logging.WARNING, logger="toolkit.exchange.pspipeline"):
        results = s.email_addresses(["jsmith", "nobody"])
        assert results[0].addresses == ldif_proxies(SMITH) and not results[1].found
        assert "does not offer Select-Object" in caplog.text
        assert list(dialects.recipients(s.iter_recipients(), Dialect.AD, audited)) == \
            list(dialects.recipients(read_ldif(LDIF), Dialect.AD, audited))


# -- the normaliser --------------------------------------------------------------------------


def test_normaliser_on_the_real_wire_shape(session):
    ps = PowerShell(session._ensure_open())
    ps.add_cmdlet("Get-Recipient").add_parameter("Identity", "jdoe")
    ps.add_cmdlet("Select-Object").add_parameter("Property", list(ADDRESS_PROPERTIES))
    obj = ps.invoke()[0]
    raw = pso.prop(obj, "emailaddresses")
    assert isinstance(raw, GenericComplexObject) and not isinstance(raw, list)
    assert pso.addresses(raw) == ldif_proxies("CN=Doe\\, Jane,OU=Sales,DC=corp,DC=example")
    assert pso.text(pso.prop(obj, "RecipientType")) == "UserMailbox"
    assert isinstance(pso.guid(pso.prop(obj, "Guid")), uuid.UUID)


def test_normaliser_units():
    assert pso.texts(None) == [] and pso.texts(["a", 1]) == ["a", "1"]
    assert pso.texts("SMTP:a@b") == ["SMTP:a@b"]
    with pytest.raises(pso.WireFormatError, match="flattened"):
        pso.addresses("SMTP:a@b ccmail:Smith, John at PO1")
    lst = GenericComplexObject()
    lst.types = ["Microsoft.Exchange.Data.ProxyAddressCollection", "System.Object"]
    lst.property_sets = ["<LST><S>ccmail:A_x000A_B at PO</S><Nil /><Obj RefId=\"1\">"
                         "<ToString>X500:/o=x</ToString></Obj><S>_xD83C__xDF89_ _x005F_x</S></LST>"]
    assert pso.texts(lst) == ["ccmail:A\nB at PO", "X500:/o=x", "🎉 _x"]
    count = GenericComplexObject()
    count.property_sets = [42]
    assert pso.integer(count) == 42 and pso.integer("1,234") == 1234 and pso.integer(None) is None
    with pytest.raises(pso.WireFormatError):
        pso.integer("many")
    assert pso.byte_count("1.5 MB (1,572,864 bytes)") == 1_572_864
    shown = GenericComplexObject()
    shown.to_string = "UserMailbox"
    assert pso.text(shown) == "UserMailbox"
    entry = pso.raw_entry({"DistinguishedName": "CN=G", "RecipientType": "MailUniversalSecurityGroup",
                           "EmailAddresses": ["SMTP:g@x"]})
    assert entry.attrs["objectclass"] == ["top", "group"]
    mailbox = pso.raw_entry({"DistinguishedName": "CN=M", "RecipientType": "UserMailbox",
                             "Database": None, "ServerName": "ex01"})
    assert mailbox.attrs["msexchhomeservername"] == ["ex01"]
    with pytest.raises(pso.WireFormatError):
        pso.raw_entry({"RecipientType": "UserMailbox"})


# -- NTLM ---------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_ntlm_over_http_with_message_encryption(monkeypatch, auth):
    monkeypatch.setenv("NTLM_USER_FILE", "")  # the mock points it at its own user file
    core = MockExchange.from_files(LDIF, STATS, password=PASSWORD, auth_methods=("basic", "ntlm"))
    with MockExchangeServer(core) as srv:
        settings = ExchangeSettings(srv.uri, auth=auth, username=core.username, password=PASSWORD)
        with ExchangeSession(settings) as s:
            assert s.email_addresses([SMITH])[0].addresses == ldif_proxies(SMITH)
        soap = sum(n for action, n in core.actions.items() if action != "auth")
        assert core.actions["auth"] >= 2 and core.encrypted == soap  # every WSMan call sealed
        wrong = ExchangeSettings(srv.uri, auth=auth, username=core.username, password="nope")
        with pytest.raises(ConnectionFailure, match="authentication failed"):
            ExchangeSession(wrong).open()
