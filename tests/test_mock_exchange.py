"""The mock Exchange endpoint, seen by an unmodified pypsrp client.

These tests pin the behaviours a client must cope with on a real Exchange
server (see /work/shared/test-servers.md): the ProxyAddressCollection wire
shape, non-terminating "couldn't be found" errors, one-value ``-Identity``,
no-language mode, strict parameter binding, Basic auth, request counting.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests
from pypsrp.complex_objects import GenericComplexObject, PSInvocationState
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from toolkit.mocks.exchange import MockExchange, MockExchangeServer, MockTransport, Organisation
from toolkit.mocks.exchange.objects import PROXY_COLLECTION_TYPES

from toolkit.errors import InputError
from toolkit.exchange.ldif import read_ldif
from toolkit.model import RawEntry

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "exchange"
LDIF, STATS = DATA / "org.ldif", DATA / "stats.csv"
SMITH = "CN=Smith\\, John,OU=Staff,DC=corp,DC=example"
CONTACT = "CN=Smith\\, John (cc:Mail),OU=cc:Mail,DC=corp,DC=example"


@pytest.fixture
def core() -> MockExchange:
    return MockExchange.from_files(LDIF, STATS, password="s3cret-Pw")


@pytest.fixture
def server(core):
    with MockExchangeServer(core) as srv:
        yield srv


def wsman_for(srv: MockExchangeServer, password: str | None = None, **kw) -> WSMan:
    return WSMan("127.0.0.1", port=srv.port, ssl=False, auth="basic", encryption="never",
                 path="PowerShell", no_proxy=True, username=srv.core.username,
                 password=password or srv.core.password, **kw)


@contextlib.contextmanager
def open_pool(wsman: WSMan):
    """An open runspace pool; the pool and its HTTP connections are closed after."""
    try:
        with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as p:
            yield p
    finally:
        wsman.close()


@pytest.fixture
def pool(server):
    with open_pool(wsman_for(server)) as p:
        yield p


def run(pool, *commands, input=None):
    """commands: (cmdlet, {param: value}) pairs; returns the PowerShell object."""
    ps = PowerShell(pool)
    for name, params in commands:
        ps.add_cmdlet(name)
        for key, value in params.items():
            ps.add_parameter(key, value)
    ps.invoke(input=input)
    return ps


def open_fails(wsman: WSMan, error: type[Exception]) -> Exception:
    """Opening a pool on ``wsman`` raises ``error`` (the connection is closed after)."""
    try:
        with pytest.raises(error) as info:
            RunspacePool(wsman, configuration_name="Microsoft.Exchange").open()
        return info.value
    finally:
        wsman.close()


def addresses_of(pool, identity: str) -> list[str]:
    from toolkit.exchange.psobjects import addresses, prop

    ps = run(pool, ("Get-Recipient", {"Identity": identity}))
    assert not ps.streams.error, [str(e) for e in ps.streams.error]
    return addresses(prop(ps.output[0], "EmailAddresses"))


# -- wire shape -----------------------------------------------------------------


def test_email_addresses_arrive_as_a_proxy_address_collection_not_a_list(pool):
    ps = run(pool, ("Get-Mailbox", {"Identity": "jsmith"}))
    mailbox = ps.output[0]
    assert mailbox.types[0] == "Microsoft.Exchange.Data.Directory.Management.Mailbox"
    assert mailbox.types[-1] == "System.Object"
    value = mailbox.adapted_properties["EmailAddresses"]
    assert not isinstance(value, list)
    assert isinstance(value, GenericComplexObject)
    assert value.types == list(PROXY_COLLECTION_TYPES)
    assert len(value.property_sets) == 1 and value.property_sets[0].startswith("<LST>")
    assert "<S>CCMAIL:Smith, John at EXCH</S>" in value.property_sets[0]


def test_unprojected_objects_are_large_and_select_object_projects(pool):
    full = run(pool, ("Get-Mailbox", {"Identity": "jsmith"})).output[0]
    assert len(full.adapted_properties) >= 60
    assert full.adapted_properties["RecipientType"].to_string == "UserMailbox"
    assert full.adapted_properties["Database"] == "DB01"  # depth-1 serialisation: a string
    ps = run(pool, ("Get-Mailbox", {"Identity": "jsmith"}),
             ("Select-Object", {"Property": ["distinguishedname", "EmailAddresses"]}))
    selected = ps.output[0]
    assert selected.types[0] == "Selected.Microsoft.Exchange.Data.Directory.Management.Mailbox"
    assert list(selected.extended_properties) == ["DistinguishedName", "EmailAddresses"]
    assert selected.extended_properties["DistinguishedName"] == SMITH
    assert selected.extended_properties["EmailAddresses"].types[0].endswith("ProxyAddressCollection")


def test_full_objects_carry_exchange_2010s_property_sets(pool):
    """Dozens of properties, as Exchange 2010+ returns them: what projection saves."""
    sizes = {}
    for cmdlet, identity in (("Get-Recipient", "jsmith"), ("Get-Mailbox", "jsmith"),
                             ("Get-MailContact", CONTACT), ("Get-MailboxStatistics", SMITH)):
        ps = run(pool, (cmdlet, {"Identity": identity}))
        sizes[cmdlet] = len(ps.output[0].adapted_properties)
    assert sizes["Get-Recipient"] >= 95 and sizes["Get-Mailbox"] >= 150
    assert sizes["Get-MailContact"] >= 80 and sizes["Get-MailboxStatistics"] >= 40
    recipient = run(pool, ("Get-Recipient", {"Identity": "jsmith"})).output[0].adapted_properties
    for name in ("ArchiveGuid", "CustomAttribute15", "ExtensionCustomAttribute5",
                 "MailboxMoveStatus", "UMRecipientDialPlanId", "WhenChangedUTC"):
        assert name in recipient


def test_select_object_expand_property_yields_the_addresses(pool):
    ps = run(pool, ("Get-Recipient", {"Identity": "lzolc"}),
             ("Select-Object", {"ExpandProperty": "EmailAddresses"}))
    assert ps.output == ["ccmail:Żółć, Łukasz at HUBPO", "SMTP:lukasz.zolc@corp.example",
                         "ccmail:Zolc, Lukasz at PO2", "CCMAIL:Żółć, Łukasz at EXCH"]


def test_unicode_control_characters_and_escapes_survive_the_wire(pool):
    expected = next(e for e in read_ldif(LDIF) if e.dn.startswith("CN=Doe")).texts("proxyaddresses")
    assert "ccmail:Doe\x07Jane at PO1" in expected and "ccmail:Fête 🎉, Jane at PO1" in expected
    assert addresses_of(pool, "jdoe") == expected


NASTY = "Tab\there\r\nNEL\x85 BEL\x07 FS\x1c DEL\x7f _x0041_ _X005F_ 🎉"


def test_control_characters_travel_escaped_as_powershell_writes_them(tmp_path):
    """Strings, ToStrings and error records carry control characters as _xHHHH_
    (and a literal _x as _x005F_x), never raw - raw ones are not even XML -
    and the client reads back exactly what the server had."""
    from toolkit.exchange.psobjects import addresses, prop, text

    entry = RawEntry(f"CN={NASTY},OU=Staff,DC=corp,DC=example", {
        "objectclass": ["top", "person", "organizationalPerson", "user"],
        "cn": [NASTY], "displayname": [NASTY], "mailnickname": ["nasty"],
        "homemdb": ["CN=DB01,DC=corp,DC=example"],
        "proxyaddresses": ["SMTP:nasty@corp.example", f"ccmail:{NASTY} at PO1"]})
    core = MockExchange(Organisation([entry]), password="pw")
    with MockExchangeServer(core) as srv, open_pool(wsman_for(srv)) as p:
        wire: list[bytes] = []
        send = p.connection.transport.send

        def spy(message, **kw):
            answer = send(message, **kw)
            wire.append(answer)
            return answer

        p.connection.transport.send = spy
        whole = run(p, ("Get-Recipient", {"Identity": "nasty"})).output[0]  # ToString: its Name
        assert text(prop(whole, "Name")) == NASTY and text(prop(whole, "DisplayName")) == NASTY
        assert addresses(prop(whole, "EmailAddresses"))[1] == f"ccmail:{NASTY} at PO1"
        assert str(whole) == f"corp.example/Staff/{NASTY}"  # the ToString, decoded by pypsrp
        missing = run(p, ("Get-Recipient", {"Identity": f"x{NASTY}"}))
        assert f"object 'x{NASTY}' couldn't be found" in str(missing.streams.error[0])
    # the CLIXML of every PSRP message (after its binary fragment and message headers)
    fragments = [base64.b64decode(m) for m in re.findall(
        rb"<rsp:Stream[^>]*>([^<]+)</rsp:Stream>", b"".join(wire))]
    clixml = b"".join(piece[: piece.rfind(b"</Obj>")] for f in fragments
                      for piece in f.split(b'<Obj RefId="0">')[1:])
    assert b"Tab" in clixml and re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", clixml) is None
    fragments = [clixml]
    for escaped in (b"Tab_x0009_here_x000D__x000A_NEL_x0085_", b"BEL_x0007_", b"_x005F_x0041_",
                    b"_x005F_X005F_", b"_xD83C__xDF89_"):
        assert fragments[0].count(escaped) >= 3, escaped  # strings, the collection, ToString


# -- errors -----------------------------------------------------------------------


def test_not_found_is_a_non_terminating_error_and_others_still_return(pool):
    ps = run(pool, ("Get-Recipient", {}),
             ("Select-Object", {"Property": ["DistinguishedName"]}),
             input=["jsmith", "no.such.user", "Sales, All"])
    assert ps.state == PSInvocationState.COMPLETED
    assert ps.had_errors is False
    assert [o.extended_properties["DistinguishedName"] for o in ps.output] == [
        SMITH, "CN=Sales\\, All,OU=Groups,DC=corp,DC=example"]
    assert [str(e) for e in ps.streams.error] == [
        "The operation couldn't be performed because object 'no.such.user' couldn't be found "
        "on 'DC01.corp.example'."]
    assert ps.streams.error[0].reason == "ManagementObjectNotFoundException"


def test_identity_resolution_forms(pool):
    for identity in (SMITH, SMITH.upper(), "jsmith", "john.smith@corp.example",
                     "JSMITH@corp.example", "CORP\\jsmith", "jsmith@corp.example",
                     "6f1c3e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "Smith, John",
                     "corp.example/Staff/Smith, John", "ccmail:smith, john at exch"):
        ps = run(pool, ("Get-Recipient", {"Identity": identity}))
        assert [o.adapted_properties["DistinguishedName"] for o in ps.output] == [SMITH], identity


def test_ambiguous_identity_is_reported_not_guessed(core, pool):
    core.org.entries[1].attrs["mailnickname"] = ["jsmith"]  # a second object answers to it
    core.org.changed()
    ps = run(pool, ("Get-Recipient", {"Identity": "jsmith"}))
    assert ps.output == [] and ps.state == PSInvocationState.COMPLETED
    assert "'jsmith' matches multiple entries" in str(ps.streams.error[0])


def test_identity_takes_one_value_only(pool):
    ps = run(pool, ("Get-Recipient", {"Identity": ["jsmith", "jdoe"]}))
    assert ps.state == PSInvocationState.FAILED and ps.had_errors
    assert "Cannot convert 'System.Object[]'" in str(ps.streams.error[-1])
    assert ps.output == []


def test_identity_given_and_piped_input_does_not_bind(pool):
    ps = run(pool, ("Get-Recipient", {"Identity": "jsmith"}), input=["jdoe"])
    assert ps.output == []
    assert "input object cannot be bound" in str(ps.streams.error[0])


def test_parameter_names_are_case_insensitive_prefixes_and_unknown_ones_fail(pool):
    ps = run(pool, ("get-recipient", {"IDENTITY": "jsmith"}))
    assert len(ps.output) == 1
    ps = run(pool, ("Get-Recipient", {"ResultS": "Unlimited"}))
    assert len(ps.output) == 13
    ps = run(pool, ("Get-Recipient", {"Bogus": "x"}))
    assert ps.state == PSInvocationState.FAILED
    assert str(ps.streams.error[-1]) == (
        "A parameter cannot be found that matches parameter name 'Bogus'.")
    ps = run(pool, ("Get-Recipient", {"R": "x"}))  # ResultSize, RecipientType, ...
    assert ps.state == PSInvocationState.FAILED
    assert "is ambiguous" in str(ps.streams.error[-1])


def test_script_text_is_refused_like_no_language_mode(pool):
    ps = PowerShell(pool)
    ps.add_script("Get-Recipient | Remove-MailContact")
    ps.invoke()
    assert ps.state == PSInvocationState.FAILED
    assert "no-language mode" in str(ps.streams.error[-1])
    assert ps.streams.error[-1].fq_error == "ScriptsNotAllowed"


def test_unknown_cmdlet_and_error_action_stop(pool):
    ps = run(pool, ("Get-Foo", {}))
    assert ps.state == PSInvocationState.FAILED
    assert "'Get-Foo' is not recognized" in str(ps.streams.error[-1])
    ps = run(pool, ("Get-Recipient", {"ErrorAction": "Stop"}), input=["nobody", "jsmith"])
    assert ps.state == PSInvocationState.FAILED and ps.output == []
    assert "set to Stop" in str(ps.streams.error[-1])


def test_default_result_size_is_1000_with_a_warning():
    entries = [RawEntry(f"CN=U{i},OU=Bulk,DC=corp,DC=example",
                        {"objectclass": ["user"], "homemdb": ["CN=DB01"],
                         "mailnickname": [f"u{i}"]}) for i in range(1005)]
    core = MockExchange(Organisation(entries), password="pw")
    with MockExchangeServer(core) as srv, \
            open_pool(wsman_for(srv)) as p:
        ps = run(p, ("Get-Recipient", {}), ("Select-Object", {"Property": ["Alias"]}))
        assert len(ps.output) == 1000
        assert "only the first 1000 items" in ps.streams.warning[0].message
        ps = run(p, ("Get-Recipient", {"ResultSize": "Unlimited"}),
                 ("Select-Object", {"Property": ["Alias"]}))
        assert len(ps.output) == 1005 and not ps.streams.warning


def test_filter_minimal_opath_and_refusal(pool):
    ps = run(pool, ("Get-Recipient", {"Filter": "EmailAddresses -like 'ccmail:*at HUBPO' "
                                                "-and RecipientType -ne 'MailContact'"}),
             ("Select-Object", {"ExpandProperty": "Alias"}))
    assert sorted(ps.output) == ["SalesAll", "jsmith", "lzolc"]
    ps = run(pool, ("Get-Recipient", {"Filter": "Alias -eq"}))
    assert ps.state == PSInvocationState.FAILED
    assert "Invalid filter syntax" in str(ps.streams.error[-1])
    ps = run(pool, ("Get-Recipient", {"Filter": "NoSuchProperty -eq 1"}))
    assert "is not a recognized filterable property" in str(ps.streams.error[-1])


# -- state changes ----------------------------------------------------------------


def test_set_mailbox_hashtable_add_remove_persists(pool):
    ps = run(pool, ("Set-Mailbox", {"Identity": "jsmith", "EmailAddresses": {
        "Add": "ccmail:Smith, Johnny at PO9",
        "Remove": ["X400:c=US;a= ;p=Corp;o=Exchange;s=Smith;g=John;"]}}))
    assert ps.state == PSInvocationState.COMPLETED and not ps.streams.error
    assert addresses_of(pool, "jsmith") == [
        "SMTP:john.smith@corp.example", "smtp:jsmith@corp.example", "ccmail:Smith, John at HUBPO",
        "CCMAIL:Smith, John at EXCH", "ccmail:Smith, Johnny at PO9"]
    # a new primary demotes the old primary of the same type
    run(pool, ("Set-Mailbox", {"Identity": "jsmith",
                               "EmailAddresses": {"add": "CCMAIL:Smith, John at EXCH2"}}))
    after = addresses_of(pool, "jsmith")
    assert "ccmail:Smith, John at EXCH" in after and after[-1] == "CCMAIL:Smith, John at EXCH2"


def test_set_mailbox_refuses_an_address_another_object_has(pool):
    before = addresses_of(pool, "jsmith")
    ps = run(pool, ("Set-Mailbox", {"Identity": "jsmith",
                                    "EmailAddresses": {"Add": "smtp:JANE.DOE@corp.example"}}))
    assert ps.state == PSInvocationState.COMPLETED
    assert "is already being used" in str(ps.streams.error[0])
    assert addresses_of(pool, "jsmith") == before


def test_set_mailbox_only_finds_mailboxes(pool):
    ps = run(pool, ("Set-Mailbox", {"Identity": CONTACT, "EmailAddresses": {"Add": "x:y"}}))
    assert "couldn't be found" in str(ps.streams.error[0])


def test_remove_mail_contact_needs_confirm_false(pool):
    ps = run(pool, ("Remove-MailContact", {"Identity": CONTACT}))
    assert ps.state == PSInvocationState.FAILED
    assert "does not support user interaction" in str(ps.streams.error[-1])
    assert len(run(pool, ("Get-Recipient", {"Identity": CONTACT})).output) == 1
    ps = run(pool, ("Remove-MailContact", {"Identity": CONTACT, "Confirm": False}))
    assert ps.state == PSInvocationState.COMPLETED and not ps.streams.error
    gone = run(pool, ("Get-Recipient", {"Identity": CONTACT}))
    assert gone.output == [] and "couldn't be found" in str(gone.streams.error[0])


def test_new_and_set_mail_contact_for_undo(pool):
    ps = run(pool, ("New-MailContact", {"Name": "Smith, John (cc:Mail)", "ExternalEmailAddress":
                                        "CCMAIL:Smith, John at HUBPO"}))
    assert "already being used" in str(ps.streams.error[0])  # the contact still exists
    run(pool, ("Remove-MailContact", {"Identity": CONTACT, "Confirm": False}))
    # Exchange keeps proxies unique: while the mailbox has its old address
    # (ccmail:Smith, John at HUBPO) the orphan contact cannot be re-created.
    ps = run(pool, ("New-MailContact", {"Name": "Smith, John (cc:Mail)", "Alias": "ccSmithJohn",
                                        "ExternalEmailAddress": "CCMAIL:Smith, John at HUBPO"}))
    assert "is already being used" in str(ps.streams.error[0]) and ps.output == []
    ps = run(pool, ("New-MailContact", {"Name": "Smith, John (cc:Mail)", "Alias": "ccSmithJohn",
                                        "ExternalEmailAddress": "CCMAIL:Smith, John at PO7",
                                        "OrganizationalUnit": "corp.example/cc:Mail"}))
    assert not ps.streams.error, [str(e) for e in ps.streams.error]
    assert ps.output[0].types[0] == "Microsoft.Exchange.Data.Directory.Management.MailContact"
    assert ps.output[0].adapted_properties["DistinguishedName"] == CONTACT
    run(pool, ("Set-MailContact", {"Identity": "ccSmithJohn", "EmailAddresses": [
        "CCMAIL:Smith, John at PO7", "smtp:ccSmithJohn@corp.example"]}))
    assert addresses_of(pool, CONTACT) == ["CCMAIL:Smith, John at PO7",
                                           "smtp:ccSmithJohn@corp.example"]


def test_get_mailbox_statistics(pool):
    ps = run(pool, ("Get-MailboxStatistics", {}),
             ("Select-Object", {"Property": ["ItemCount", "TotalItemSize", "LegacyDN"]}),
             input=[SMITH, "sobrien", "Sales, All"])
    counts = [o.extended_properties["ItemCount"] for o in ps.output]
    assert counts == [312]
    assert ps.output[0].extended_properties["TotalItemSize"].endswith("(11,672,232 bytes)")
    assert "hasn't logged on" in ps.streams.warning[0].message  # sobrien: no statistics
    assert "couldn't be found" in str(ps.streams.error[0])  # a group is not a mailbox


# -- transport, auth, counter ------------------------------------------------------


def test_wrong_password_is_refused_with_401(server):
    open_fails(wsman_for(server, password="wrong"), AuthenticationError)
    request = urllib.request.Request(server.uri, data=b"<x/>", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    info.value.close()
    assert info.value.code == 401
    assert info.value.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_configuration_name_is_a_wsman_fault(server):
    wsman = wsman_for(server)
    try:
        with pytest.raises(WSManFaultError) as info:
            RunspacePool(wsman, configuration_name="Microsoft.PowerShell").open()
    finally:
        wsman.close()
    assert "Microsoft.PowerShell session configuration" in info.value.reason


def test_request_counter_counts_wsman_requests(server, core):
    before = server.requests
    with open_pool(wsman_for(server)) as p:
        run(p, ("Get-Recipient", {}), input=["jsmith", "jdoe", "lzolc"])
    assert server.requests - before == 6  # Create, Receive, Command, Send, Receive, Delete
    assert core.actions["Command"] == 1 and core.actions["Send"] == 1


def test_ctrl_c_reaches_the_server_and_stops_the_pipeline(server, core):
    entries = [RawEntry(f"CN=U{i},OU=Bulk,DC=corp,DC=example",
                        {"objectclass": ["user"], "homemdb": ["CN=DB01"]}) for i in range(3000)]
    big = MockExchange(Organisation(entries), password="pw")
    with MockExchangeServer(big) as srv, \
            open_pool(wsman_for(srv)) as p:
        ps = PowerShell(p).add_cmdlet("Get-Recipient").add_parameter("ResultSize", "Unlimited")
        ps.begin_invoke()
        ps.poll_invoke()
        assert ps.state == PSInvocationState.RUNNING and 0 < len(ps.output) < 3000
        ps.stop()
        code, command = big.signals[-1]
        assert code == "powershell/signal/ctrl_c" and command == ps.id
        shell = next(iter(big.service.shells.values()))
        assert shell.stopped == [ps.id]
        assert shell.runs[next(iter(shell.runs))].generator is None


def test_no_socket_transport(core):
    wsman = WSMan("mock-exchange", ssl=False, auth="basic", encryption="never", path="PowerShell",
                  username=core.username, password=core.password)
    wsman.transport = MockTransport(core)
    with open_pool(wsman) as p:
        ps = run(p, ("Get-Recipient", {"Identity": "jsmith"}))
        assert ps.output[0].adapted_properties["Alias"] == "jsmith"
    assert core.requests >= 5
    bad = WSMan("mock-exchange", ssl=False, auth="basic", encryption="never", path="PowerShell",
                username=core.username, password="nope")
    bad.transport = MockTransport(core, password="nope")
    open_fails(bad, AuthenticationError)


def test_https_with_a_generated_certificate(core):
    with MockExchangeServer(core, https=True) as srv:
        assert srv.uri.startswith("https://") and srv.ca_file is not None
        wsman = WSMan("127.0.0.1", port=srv.port, ssl=True, auth="basic", path="PowerShell",
                      no_proxy=True, username=core.username, password=core.password,
                      cert_validation=str(srv.ca_file))
        with open_pool(wsman) as p:
            assert len(run(p, ("Get-Recipient", {"Identity": "jsmith"})).output) == 1
        strict = WSMan("127.0.0.1", port=srv.port, ssl=True, auth="basic", path="PowerShell",
                       no_proxy=True, username=core.username, password=core.password)
        open_fails(strict, requests.exceptions.SSLError)


# -- envelope size (MaxEnvelopeSizekb) ------------------------------------------------------


def _post(srv: MockExchangeServer, body: bytes) -> int:
    response = requests.post(srv.uri, data=body, auth=(srv.core.username, srv.core.password),
                             headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
                             timeout=10)
    return response.status_code


def test_a_request_larger_than_max_envelope_size_kb_is_refused_with_413(core):
    core.service.max_envelope_kb = 32
    with MockExchangeServer(core) as srv:
        assert _post(srv, b"<x/>" + b" " * (32 * 1024)) == 413
        assert _post(srv, b"<x/>") == 500  # small enough: parsed (and refused as no WSMan)


def test_responses_never_exceed_the_envelope_size_asked_for():
    """Every answer fits the request's MaxEnvelopeSize, lowered to the server's setting."""
    big = [RawEntry(f"CN=U{i},OU=Bulk,DC=corp,DC=example",
                    {"objectclass": ["user"], "homemdb": ["CN=DB01"],
                     "proxyaddresses": [f"SMTP:u{i}@corp.example"]}) for i in range(120)]
    core = MockExchange(Organisation(big), password="pw")
    seen: list[tuple[int, int]] = []
    handle = core.service.handle

    def recording(data: bytes, user: str = "") -> tuple[int, bytes]:
        status, body = handle(data, user)
        asked = int(data.split(b"MaxEnvelopeSize", 1)[1].split(b">", 1)[1].split(b"<", 1)[0])
        seen.append((min(asked, core.service.max_envelope), len(body)))
        return status, body

    core.service.handle = recording
    with MockExchangeServer(core) as srv:
        with open_pool(wsman_for(srv, max_envelope_size=16384)) as p:  # a small envelope
            ps = run(p, ("Get-Mailbox", {"ResultSize": "Unlimited"}))
            assert len(ps.output) == 120
        with open_pool(wsman_for(srv)) as p:  # pypsrp asks 512000 once the pool is open
            assert len(run(p, ("Get-Mailbox", {"ResultSize": "Unlimited"})).output) == 120
    assert seen and all(size <= limit for limit, size in seen), max(seen, key=lambda x: x[1])
    assert sum(1 for limit, _ in seen if limit == 16384) > 60  # many small answers


def test_a_max_envelope_size_below_8192_is_an_encoding_limit_fault(server):
    error = open_fails(wsman_for(server, max_envelope_size=4096), WSManFaultError)
    assert "MaxEnvelopeSize (4096) is less than the minimum (8192)" in error.reason


def test_the_server_reports_its_max_envelope_size_kb(core):
    core.service.max_envelope_kb = 150
    with MockExchangeServer(core) as srv:
        wsman = wsman_for(srv)
        try:
            wsman.update_max_payload_size()
            assert wsman.max_envelope_size == 150 * 1024
        finally:
            wsman.close()


# -- injected faults ------------------------------------------------------------------------


def test_injected_faults_fail_requests_as_a_server_and_a_network_do(core):
    from pypsrp.exceptions import WinRMTransportError

    with MockExchangeServer(core) as srv, open_pool(wsman_for(srv)) as p:
        core.inject("http-500", "Command")
        with pytest.raises(WinRMTransportError) as info:  # not a WSMan fault: no XML body
            run(p, ("Get-Recipient", {"Identity": "jsmith"}))
        assert info.value.code == 500 and "injected fault" in info.value.response_text
        core.inject("wsman-fault", "Command")
        with pytest.raises(WSManFaultError, match="internal error"):
            run(p, ("Get-Recipient", {"Identity": "jsmith"}))
        core.inject("reset", "Command")
        with pytest.raises(requests.exceptions.ConnectionError, match=r"reset|aborted"):
            run(p, ("Get-Recipient", {"Identity": "jsmith"}))
        assert len(run(p, ("Get-Recipient", {"Identity": "jsmith"})).output) == 1  # spent


def test_a_fault_after_the_request_lets_the_change_happen(core):
    with MockExchangeServer(core) as srv, open_pool(wsman_for(srv)) as p:
        other = core.inject("reset", "Command", cmdlet="Get-Recipient")  # not this pipeline
        fault = core.inject("reset", "Command", cmdlet="Set-Mailbox", after=True)
        with pytest.raises(requests.exceptions.ConnectionError):
            run(p, ("Set-Mailbox", {"Identity": "jsmith",
                                    "EmailAddresses": {"Add": ["ccmail:Lost, Answer at PO9"]}}))
        assert fault.hits == [("Command", "Set-Mailbox")] and not other.hits
    assert "ccmail:Lost, Answer at PO9" in next(
        e for e in core.org.entries if e.dn == SMITH).texts("proxyaddresses")
    assert core.cmdlets["Set-Mailbox"] == 1


def test_fault_skip_and_count_and_the_no_socket_transport(core):
    wsman = WSMan("mock-exchange", ssl=False, auth="basic", encryption="never", path="PowerShell",
                  username=core.username, password=core.password)
    wsman.transport = MockTransport(core)
    with open_pool(wsman) as p:
        fault = core.inject("reset", "Receive", skip=1, count=2)
        assert len(run(p, ("Get-Recipient", {"Identity": "jsmith"})).output) == 1  # skipped
        for _ in range(2):
            with pytest.raises(requests.exceptions.ConnectionError):
                run(p, ("Get-Recipient", {"Identity": "jdoe"}))
        assert len(fault.hits) == 2 and fault.spent
        assert len(run(p, ("Get-Recipient", {"Identity": "jdoe"})).output) == 1


# -- organisation ---------------------------------------------------------------------


def test_organisation_keeps_dns_and_classifies_like_the_dialect():
    org = Organisation.from_files(LDIF)
    kinds = {e.dn: e.recipient_type for e in org.entries}
    assert kinds[SMITH] == "UserMailbox"
    assert kinds[CONTACT] == "MailContact"
    assert kinds["CN=Vendor\\, Victor,OU=Partners,DC=corp,DC=example"] == "MailUser"
    assert kinds["CN=Straße Team,OU=Groups,DC=corp,DC=example"] == "MailUniversalSecurityGroup"
    assert "CN=Service Account,OU=Staff,DC=corp,DC=example" not in kinds  # no mailbox, no target
    assert "CN=WS01,OU=Computers,DC=corp,DC=example" not in kinds
    assert "CN=Plain Contact,OU=cc:Mail,DC=corp,DC=example" not in kinds


def test_stats_csv_matches_as_the_spec_says(tmp_path):
    org = Organisation.from_files(LDIF, STATS)
    counts = {e.alias: e.item_count for e in org.entries if e.item_count is not None}
    assert counts == {"jsmith": 312, "jmueller": 1200, "lzolc": 0, "tyamada": 77}
    bad = tmp_path / "bad.csv"
    bad.write_text("identity,item_count\njsmith,12\nJSMITH,13\n")
    with pytest.raises(InputError, match=r"bad.csv:3: second line"):
        org.load_stats(bad)
    bad.write_text("identity,item_count\njsmith,-1\n")
    with pytest.raises(InputError, match=r"bad.csv:2: item_count"):
        org.load_stats(bad)


def test_script_prints_one_json_line_and_serves(tmp_path):
    env = dict(os.environ, MOCK_EXCHANGE_PASSWORD="from-env")
    with subprocess.Popen([str(ROOT / "scripts" / "mock-exchange"), "--ldif", str(LDIF),
                           "--stats", str(STATS), "--port", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          text=True) as proc:
        try:
            line = json.loads(proc.stdout.readline())
            assert set(line) == {"uri", "username", "password", "pid"}
            assert line["password"] == "from-env" and line["pid"] == proc.pid
            host, port = line["uri"].split("//")[1].split("/")[0].split(":")
            wsman = WSMan(host, port=int(port), ssl=False, auth="basic", encryption="never",
                          path="PowerShell", no_proxy=True, username=line["username"],
                          password=line["password"])
            with open_pool(wsman) as p:
                assert run(p, ("Get-Recipient", {"Identity": "tyamada"})).output[0] \
                    .adapted_properties["DisplayName"] == "山田, 太郎"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    assert proc.returncode == 0


def test_script_reports_a_bad_ldif_with_exit_2(tmp_path):
    bad = tmp_path / "bad.ldif"
    bad.write_text("dn: CN=x\nno colon here\n")
    proc = subprocess.run([sys.executable, "-m", "toolkit.mocks.exchange", "--ldif", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert f"{bad}:2" in proc.stderr and proc.stdout == ""
