"""The ldap3 fast path (toolkit/exchange/ldapfast.py) against the ldap3 it replaces.

It copies ldap3's private ``SyncStrategy._get_response`` and mirrors its entry
decoding. These tests fail when the installed ldap3 is not the one it was
written for: the source of every ldap3 function it copies, mirrors or calls
must hash as recorded, pyproject.toml must pin that release, and the copy
must give what ldap3's own code gives for the same messages.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import ldap3
import pytest
from ldap3.strategy.sync import SyncStrategy

from toolkit.exchange import ldapfast, ldapread
from toolkit.exchange.ldapread import entry
from toolkit.model import RawEntry

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


class FakeSocket:
    """A socket that hands over ``data`` in pieces of ``piece`` octets (ldap3 and the fast
    path both read the connection's socket: framing across any cut is exercised)."""

    def __init__(self, data: bytes, piece: int) -> None:
        self.data, self.piece, self.pos = data, piece, 0

    def recv(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + min(size, self.piece)]
        self.pos += len(chunk)
        return chunk


def serve(strategy: SyncStrategy, messages: list[bytes], piece: int = 7) -> None:
    strategy.connection.socket = FakeSocket(b"".join(messages), piece)


@pytest.fixture
def strategy() -> SyncStrategy:
    conn = ldap3.Connection(ldap3.Server("fast-path-test", get_info=ldap3.NONE),
                            client_strategy=ldap3.SYNC)
    assert type(conn.strategy) is SyncStrategy
    return conn.strategy


def test_the_copied_get_response_answers_as_ldap3s_own(strategy):
    serve(strategy, MESSAGES)
    ours = ldapfast._fast_get_response(strategy, 7, None)
    serve(strategy, MESSAGES)
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



# ---------------------------------------------------------------- differential: awkward entries


def _long_form(tag: int, content: bytes, octets: int) -> bytes:
    """A TLV whose length takes ``octets`` octets even when fewer would do (BER allows it)."""
    return bytes([tag, 0x80 | octets]) + len(content).to_bytes(octets, "big") + content


def _awkward_messages(seed: int, count: int) -> list[bytes]:
    """Search entries a fast path can get wrong: every length form, odd names, odd values."""

    rnd = random.Random(seed)
    names = [b"cn", b"CN", b"objectClass", b"proxyAddresses", b"PROXYADDRESSES", b"objectGUID",
             b"objectSid", b"targetAddress", b"description", b"x-attr", b"msExchHomeServerName",
             b"cn;lang-de", b"proxyAddresses;range=0-*", b"1.2.840.113556.1.4.1", b"na\xc3\xafve",
             b"", b"bad name"]
    dns = [b"cn=Smith\\2C John,dc=corp", b"CN=Smith\\, John,DC=corp", b"cn=\\C3\\A9t\\C3\\A9,dc=x",
           b"cn=a\\5C2C,dc=x", b"cn=\\20lead\\2C trail\\20,dc=x", b"cn=\\23hash\\2c,dc=x",
           b"cn=caf\xe9,dc=x", b"", b"cn=" + b"L" * 300 + b",dc=x", "cn=Zoë\\2C Ann,dc=x".encode()]

    def value() -> bytes:
        kind = rnd.randrange(8)
        if kind == 0:
            return b""
        if kind == 1:
            return bytes(rnd.randrange(256) for _ in range(16))  # a GUID, or not UTF-8
        if kind == 2:
            return "Zoë Nilsson at PO3 ✓".encode() * rnd.randrange(1, 4)
        if kind == 3:
            return b"caf\xe9"  # Latin-1: not UTF-8
        size = rnd.choice([1, 5, 120, 127, 128, 129, 255, 256, 300, 20_000 if rnd.random() < 0.1 else 3])
        return bytes(rnd.choice(b"abcXYZ:;, \x00\x04\x30\x31\x80") for _ in range(size))

    def tlv(tag: int, content: bytes) -> bytes:
        form = rnd.randrange(6)
        if form == 0:
            return _long_form(tag, content, 1 if len(content) < 256 else 3)
        if form == 1:
            return _long_form(tag, content, 2 if len(content) < 65536 else 3)
        return _ber(tag, content)

    messages = []
    for number in range(count):
        attributes = []
        for _ in range(rnd.randrange(0, 7)):
            values = [value() for _ in range(rnd.choice([0, 1, 1, 1, 2, 5]))]
            attributes.append(tlv(0x30, tlv(0x04, rnd.choice(names))
                                  + tlv(0x31, b"".join(tlv(0x04, v) for v in values))))
        message_id = rnd.choice([b"\x05", b"\x05", b"\x00\x05"])  # the search below is 5
        body = tlv(0x64, tlv(0x04, rnd.choice(dns)) + tlv(0x30, b"".join(attributes)))
        if number % 17 == 0:
            body += _ber(0xA0, _ber(0x30, _ber(0x04, b"1.2.3")))  # controls
        messages.append(tlv(0x30, _ber(0x02, message_id) + body))
    return messages


def _as_entries(responses: list) -> list:
    out = []
    for item in responses[:-2]:
        try:
            out.append(item.get("ccmig_entry") or entry(item["dn"], item["raw_attributes"]))
        except Exception as exc:  # e.g. a partial range: both must fail alike
            out.append(repr(exc))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_reads_awkward_entries_as_ldap3_does(strategy, seed):
    """Same RawEntry (dn, names, value order, str/bytes) whether the fast path or ldap3's own
    decoder and framing read a stream, cut anywhere; unusual messages are left to ldap3."""
    messages = _awkward_messages(seed, 200)
    done = _ber(0x30, _ber(0x02, b"\x05") + _ber(0x65, b"\x0a\x01\x00\x04\x00\x04\x00"))
    for piece in (5, 97, 1 << 20):
        serve(strategy, [*messages, done], piece)
        ours = ldapfast._fast_get_response(strategy, 5, None)
        serve(strategy, [*messages, done], piece)
        theirs = SyncStrategy._get_response(strategy, 5, None)
        assert ours[-2:] == theirs[-2:]  # the search result and ldap3's end marker
        assert _as_entries(ours) == _as_entries(theirs)
        fast = sum("ccmig_entry" in item for item in ours[:-2])
        assert len(messages) > fast > len(messages) // 10  # both paths were taken


def _ldap3_entry(strategy: SyncStrategy, message: bytes):
    """(message ID, RawEntry) as ldap3's own decoder reads ``message``, or None if it cannot."""
    from ldap3.utils.asn1 import decode_message_fast

    try:
        decoded = decode_message_fast(message)
        item = strategy.decode_response_fast(decoded)
        return int(decoded["messageID"]), entry(item["dn"], item["raw_attributes"])
    except Exception:  # garbage to ldap3 too
        return None


def _damaged_agrees(strategy: SyncStrategy, message: bytes, at: int, rnd: random.Random,
                    odd: int) -> bool:
    """``message`` with octet ``at`` changed (flipped, +-1 or ``odd``): when
    the fast path takes it, it must read what ldap3 reads. Whether it took it."""
    damaged = message[:at] + bytes([rnd.choice([message[at] ^ 1, message[at] + 1 & 0xFF,
                                                message[at] - 1 & 0xFF, odd, 0x04])]) \
        + message[at + 1 :]
    fast = ldapfast.decode_search_entry(damaged)
    if fast is None:
        return False
    assert (fast[0], fast[1]["ccmig_entry"]) == _ldap3_entry(strategy, damaged), damaged
    return True


@pytest.mark.parametrize("seed", range(3))
def test_a_damaged_entry_is_read_as_ldap3_reads_it_or_left_to_ldap3(strategy, seed):
    """One octet changed anywhere (a length that disagrees with its parent, a tag, a name):
    the fast path gives exactly ldap3's entry or none at all."""

    rnd = random.Random(seed)
    fast_taken = 0
    for message in _awkward_messages(seed + 10, 80):
        # tags and the octets after them (lengths) mostly: where a decoder goes wrong
        spots = [p for p in range(1, len(message)) if message[p - 1] in b"\x02\x04\x30\x31\x64\x81\x82"]
        for _ in range(40):
            at = rnd.choice(spots) if rnd.random() < 0.8 else rnd.randrange(len(message))
            fast_taken += _damaged_agrees(strategy, message, at, rnd, 0x80)
    assert fast_taken > 100


@pytest.mark.parametrize("dn", [
    "cn=Smith\\2C John,dc=corp", "cn=a\\2C\\2Cb\\2C,dc=x", "cn=\\2C,dc=x", "cn=a\\5C2C,dc=x",
    "cn=a\\2c b\\2C c,dc=x", "cn=\\20x\\2C y\\20,dc=x", "cn=\\23x\\2C,dc=x", "CN=Smith\\, John",
    "cn=\\C3\\A9t\\C3\\A9\\2C x,dc=y", "cn=a\\,\\2C,dc=x", "cn=a\\\\,dc=x",
    "cn=a\\\\2C,dc=x", "cn=x\\2C", "cn=plain,dc=x", "cn=\\0A\\2C",
    "cn=a\\,\\2C\\,", "cn=a\\,2C", "cn=a\\2c\\2C", "cn=\\2C\\2C\\2C",
])
def test_display_dn_quick_exits_print_as_the_general_path(dn):
    from toolkit.exchange.dn import _HEX, _printable, display_dn

    assert display_dn(dn) == _HEX.sub(_printable, dn)


def test_display_dn_quick_exits_print_as_the_general_path_for_any_mix_of_escapes():
    """DNs made of pieces a quick exit can get wrong: escaped backslashes before 2C,
    lower-case hex, \\, next to \\2C, hex runs, edge spaces and #."""

    from toolkit.exchange.dn import _HEX, _printable, display_dn

    pieces = ["\\", "\\\\", "2C", "2c", ",", "a", "\\,", "\\2C", "\\2c", "=", " ", "#",
              "\\5C", "\\C3\\A9", "\\20", "\\23", "+", "\\0A", "cn="]
    rnd = random.Random(7)
    for _ in range(20_000):
        dn = "".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 9)))
        assert display_dn(dn) == _HEX.sub(_printable, dn), dn


def test_display_dn_prints_openldap_commas_as_ad_does():
    from toolkit.exchange.dn import display_dn

    assert display_dn("cn=Smith\\2C John,ou=a\\2Cb,dc=corp") == "cn=Smith\\, John,ou=a\\,b,dc=corp"


# ---------------------------------------------------------------- remembered headers and value sets


def _shared_messages(seed: int, count: int) -> list[bytes]:
    """Entries whose objectClass, homeMDB and msExchHomeServerName repeat octet for octet
    (what ldapfast remembers whole), with look-alikes: the same header and other values,
    other value orders, a value that is not UTF-8, a name sent twice, an empty set."""

    rnd = random.Random(seed)
    classes = [[b"top", b"person", b"organizationalPerson", b"user"],
               [b"top", b"person", b"organizationalPerson", b"usex"],  # same lengths, other octets
               [b"top", b"user", b"organizationalPerson", b"person"],  # same values, other order
               [b"top", b"group"], [b"top", b"caf\xe9"], [b"top"], []]
    stores = [b"CN=Mailbox Store (EXSRV01),CN=First Storage Group," + b"x" * 150,
              b"CN=Mailbox Store (EXSRV02),CN=First Storage Group," + b"x" * 150,
              b"CN=short", "CN=Zoë".encode(), b"CN=\xff"]
    servers = [b"/o=Corp/ou=EXCH/cn=Configuration/cn=Servers/cn=EXSRV01", b"/o=Corp/cn=S\xe9"]
    messages = []
    for _ in range(count):
        attributes: list[tuple[bytes, list[bytes]]] = [
            (rnd.choice([b"objectClass", b"objectclass"]), rnd.choice(classes)),
            (b"cn", [b"Smith, John"]),
            (b"homeMDB", [rnd.choice(stores)] if rnd.random() < 0.8 else [rnd.choice(stores)] * 2),
            (b"msExchHomeServerName", [rnd.choice(servers)]),
        ]
        if rnd.random() < 0.1:
            attributes.append((b"objectClass", rnd.choice(classes)))  # sent twice: ldap3's way
        rnd.shuffle(attributes)
        messages.append(_entry_message(9, b"cn=Smith\\2C John,dc=corp", attributes))
    return messages


@pytest.mark.parametrize("sets_max", [0, 2, 1024])
def test_remembered_headers_and_value_sets_read_as_ldap3_does(strategy, monkeypatch, sets_max):
    """A header or a whole value set met again (ldapfast._HEADS, ._SETS) gives the entry
    ldap3 gives, value order and str/bytes included - also when the remembered set is full."""
    monkeypatch.setattr(ldapfast, "_HEADS", {})
    monkeypatch.setattr(ldapfast, "_SETS", {})
    monkeypatch.setattr(ldapfast, "_SETS_MAX", sets_max)
    decoded = 0
    for message in _shared_messages(sets_max, 400) * 2:  # the second time: all remembered
        fast = ldapfast.decode_search_entry(message)
        theirs = _ldap3_entry(strategy, message)
        if fast is not None:
            decoded += 1
            assert (fast[0], fast[1]["ccmig_entry"]) == theirs
            assert all(type(v) is list for v in fast[1]["ccmig_entry"].attrs.values())
        else:  # only a name sent twice is left to ldap3
            names = [n.lower() for n in theirs[1].attrs]
            assert len(names) == len(set(names))
    assert decoded > 600
    # the sets were remembered (up to the limit), so the second round read them so
    assert len(ldapfast._SETS) == sets_max if sets_max < 10 else len(ldapfast._SETS) > 10
    assert ldapfast._HEADS  # cn and the short sets' headers


def test_an_entry_read_from_a_remembered_set_has_its_own_lists(monkeypatch):
    monkeypatch.setattr(ldapfast, "_SETS", {})
    message = _entry_message(3, b"cn=a", [(b"objectClass", [b"top", b"user"])])
    first = ldapfast.decode_search_entry(message)[1]["ccmig_entry"]
    first.attrs["objectclass"].append("changed by a consumer")
    second = ldapfast.decode_search_entry(message)[1]["ccmig_entry"]
    assert second.attrs == {"objectclass": ["top", "user"]}


# ---------------------------------------------------------------- remembered long headers, the envelope


class _CountingDict(dict):
    """A dict that counts the keys it found (which remembered headers were used)."""

    hits = 0

    def get(self, key, default=None):
        found = super().get(key, default)
        self.hits += found is not None
        return found


def _long_messages(seed: int, count: int) -> list[bytes]:
    """Attributes whose two lengths are 0x81 n (ldapfast._LONGS): the same header octets
    with other values, other value counts and lengths, binary and not-UTF-8 values, a
    shared set of that form, names in other cases and sent twice, in every length form."""

    rnd = random.Random(seed)

    def proxies() -> list[bytes]:  # 150-250 octets together: both lengths 0x81 n
        values = [b"SMTP:" + bytes(rnd.choice(b"abcdefgh.@") for _ in range(rnd.randrange(20, 60)))
                  for _ in range(rnd.randrange(3, 6))]
        if rnd.random() < 0.1:
            values.append(b"ccmail:caf\xe9 at PO1")  # not UTF-8: stays bytes
        if rnd.random() < 0.1:
            values.append(b"x" * 130)  # one value of 0x81 n octets
        return values

    stores = [b"CN=Mailbox Store (EXSRV01),CN=First Storage Group," + b"x" * 150,
              b"CN=Mailbox Store (EXSRV02),CN=First Storage Group," + b"x" * 150,
              b"CN=Mailbox Store (EXSRV01),CN=First Storage Group," + b"x" * 149 + b"\xff"]
    messages = []
    for number in range(count):
        attributes: list[tuple[bytes, list[bytes]]] = [
            (rnd.choice([b"proxyAddresses", b"proxyaddresses", b"PROXYADDRESSES"]), proxies()),
            (b"homeMDB", [rnd.choice(stores)]),
            (b"objectSid", [bytes(rnd.randrange(256) for _ in range(rnd.choice([28, 130])))]),
            (b"cn", [b"Smith, John"]),
        ]
        if rnd.random() < 0.05:
            attributes.append((b"proxyAddresses", proxies()))  # sent twice: ldap3's way
        rnd.shuffle(attributes)
        message_id = 5 if number % 7 else 200  # 02 02 00 C8: not the usual envelope
        dn = b"cn=Smith\\2C John,dc=corp" if number % 5 else b"cn=" + b"L" * 300 + b",dc=x"
        messages.append(_entry_message_with_id(message_id, dn, attributes))
    return messages


def _entry_message_with_id(message_id: int, dn: bytes,
                           attributes: list[tuple[bytes, list[bytes]]]) -> bytes:
    listed = b"".join(_ber(0x30, _ber(0x04, name) + _ber(0x31, b"".join(_ber(0x04, v) for v in values)))
                      for name, values in attributes)
    octets = message_id.to_bytes((message_id.bit_length() + 8) // 8, "big", signed=True)
    return _ber(0x30, _ber(0x02, octets) + _ber(0x64, _ber(0x04, dn) + _ber(0x30, listed)))


def test_remembered_long_headers_read_as_ldap3_does(strategy, monkeypatch):
    """A header 30 81 La 04 Ln <name> 31 81 Ls met again (ldapfast._LONGS) gives ldap3's
    entry whatever values follow it; every message ID and DN length form too."""
    monkeypatch.setattr(ldapfast, "_HEADS", {})
    monkeypatch.setattr(ldapfast, "_SETS", {})
    monkeypatch.setattr(ldapfast, "_LONGS", _CountingDict())
    decoded = 0
    for message in _long_messages(1, 300) * 2:
        fast = ldapfast.decode_search_entry(message)
        theirs = _ldap3_entry(strategy, message)
        if fast is not None:
            decoded += 1
            assert (fast[0], fast[1]["ccmig_entry"]) == theirs
        else:  # only a name sent twice is left to ldap3
            assert theirs is not None and "proxyaddresses" in theirs[1].attrs
    assert decoded > 500
    assert ldapfast._LONGS.hits > 500  # the remembered headers were used


def test_a_damaged_entry_after_remembered_headers_is_read_as_ldap3_reads_it(strategy, monkeypatch):
    """With every header remembered, one octet changed anywhere still gives exactly
    ldap3's entry or none at all."""

    monkeypatch.setattr(ldapfast, "_HEADS", {})
    monkeypatch.setattr(ldapfast, "_SETS", {})
    monkeypatch.setattr(ldapfast, "_LONGS", {})
    messages = _long_messages(2, 60) + _shared_messages(3, 60)
    for message in messages:  # remember them
        ldapfast.decode_search_entry(message)
    rnd = random.Random(4)
    fast_taken = 0
    for message in messages:
        for _ in range(30):
            at = rnd.randrange(len(message))
            fast_taken += _damaged_agrees(strategy, message, at, rnd, 0x81)
    assert fast_taken > 1000


def test_a_message_cut_short_is_left_to_ldap3():
    message = _entry_message(5, b"cn=a", [(b"cn", [b"a"])])
    assert ldapfast.decode_search_entry(message) is not None
    for size in range(len(message)):
        assert ldapfast.decode_search_entry(message[:size]) is None


@pytest.mark.parametrize("message_id", [1, 127, 128, 255, 256, 32767, 32768, 8_388_608, 2**31 - 1])
def test_a_later_page_message_is_the_one_ldap3_encodes(message_id):
    """ldaprequests.search_message against ldap3's own send (LDAPMessage built
    and encoded by pyasn1): every ID length, cookies and filters short and
    long enough for each length form (short, 0x81 n, 0x82 n n)."""
    from ldap3.operation.search import search_operation
    from ldap3.protocol.convert import build_controls_list
    from ldap3.protocol.rfc2696 import paged_search_control
    from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
    from ldap3.utils.asn1 import encode

    from toolkit.exchange.ldaprequests import search_message

    rng = random.Random(message_id)
    for names, cookie_size in [(1, 1), (3, 60), (20, 200), (40, 70_000)]:
        attributes = [f"attr{n}" for n in range(names)]
        search_filter = "(|" + "".join(f"(cn=x{n}*)" for n in range(names)) + ")"
        request = search_operation("DC=corp,DC=example", search_filter, ldap3.SUBTREE, ldap3.DEREF_NEVER,
                                   attributes, 0, 0, False, True, None, None, validator=None,
                                   check_names=False)
        controls = [paged_search_control(False, rng.randrange(1, 5000), rng.randbytes(cookie_size))]
        message = LDAPMessage()
        message["messageID"] = MessageID(message_id)
        message["protocolOp"] = ProtocolOp().setComponentByName("searchRequest", request)
        message["controls"] = build_controls_list(controls)
        operation = encode(ProtocolOp().setComponentByName("searchRequest", request))
        assert search_message(message_id, operation, controls) == encode(message)


def test_ldap3s_auto_range_can_walk_a_page_of_decoded_entries(monkeypatch) -> None:
    """A page holding an entry with a ranged attribute (ldap3 decodes it and
    then asks for the rest of the range) and entries decoded here: ldap3's
    auto-range goes over every entry item of the page, ours included (it
    raised KeyError: 'raw_attributes' before they carried empty ones)."""
    import ldap3

    conn = ldap3.Connection(ldap3.Server("fast-path-test", get_info=ldap3.NONE),
                            client_strategy=ldap3.SYNC, check_names=False)
    ours = ldapfast.decode_search_entry(
        _entry_message(3, b"CN=a,DC=corp", [(b"cn", [b"a"])]))[1]
    ranged = {"type": "searchResEntry", "dn": "CN=g,DC=corp",
              "raw_attributes": {"member;range=0-1499": [b"CN=x"]},
              "attributes": {"member;range=0-1499": ["CN=x"]}}
    asked: list[str] = []
    monkeypatch.setattr(conn.strategy, "do_next_range_search",
                        lambda request, resp, attr: asked.append(attr))
    assert conn.strategy.do_search_on_auto_range({}, [ours, ranged]) is True
    assert asked == ["member;range=0-1499"]
    # what ldap3 does with the page afterwards: remove each item's ranged names
    for resp in (ours, ranged):
        for key in [key for key in resp["raw_attributes"] if ";range=" in key]:
            del resp["raw_attributes"][key]
            del resp["attributes"][key]
    assert ours["ccmig_entry"].attrs["cn"] == ["a"]
    assert ldapread._page_entries([ours])[0] == [ours["ccmig_entry"]]


# ---------------------------------------------------------------- attributes not kept (ldapfast.Keep)

# kept: a one-valued name, a binary one, a multi-valued one, a shared set; not kept: the
# rest, objectClass (a shared set) among them
KEPT = frozenset({"cn", "objectguid", "proxyaddresses", "homemdb"})


def _kept_outcome(message: bytes, kept: frozenset[str] | None):
    """What raw_entries reads of one message (with ``kept``, else every attribute
    and then only KEPT's), or the error it raises."""
    try:
        (read,) = ldapread.raw_entries([message], None, kept)
    except Exception as exc:  # both ways must fail alike
        return repr(exc)
    if kept is None:
        read = RawEntry(read.dn, {n: v for n, v in read.attrs.items() if n in KEPT}, read.where)
    return read


def _fast_kept(message: bytes) -> bool:
    return ldapfast.entry_reader(ldapfast.keep(KEPT))(message) is not None


@pytest.mark.parametrize("seed", range(3))
def test_an_entry_read_keeping_some_attributes_is_the_whole_entry_cut_down(monkeypatch, seed):
    """Awkward, shared-set and long-header messages, read twice (headers remembered the
    second time), then damaged anywhere: what raw_entries keeps is exactly the whole
    entry's kept attributes, or the same error; the fast path leaves no more to ldap3."""
    monkeypatch.setattr(ldapfast, "_KEEPS", {})
    monkeypatch.setattr(ldapfast, "_HEADS", {})
    monkeypatch.setattr(ldapfast, "_LONGS", {})
    monkeypatch.setattr(ldapfast, "_SETS", {})
    messages = _awkward_messages(seed + 20, 150) + _shared_messages(seed, 100) \
        + _long_messages(seed, 100)
    fast = 0
    for message in messages * 2:
        assert _kept_outcome(message, KEPT) == _kept_outcome(message, None)
        if ldapfast.decode_search_entry(message) is not None:
            assert _fast_kept(message)
        fast += _fast_kept(message)
    assert fast > len(messages)
    assert ldapfast.keep(KEPT).heads and ldapfast.keep(KEPT).longs  # headers remembered
    assert any(how == ldapfast._SKIP for _, how, _ in ldapfast.keep(KEPT).heads.values())
    rnd = random.Random(seed)
    for message in messages[::3]:
        for _ in range(15):
            at = rnd.randrange(len(message))
            damaged = message[:at] + bytes([rnd.choice([message[at] ^ 1, 0x04, 0x81, 0x30])]) \
                + message[at + 1 :]
            assert _kept_outcome(damaged, KEPT) == _kept_outcome(damaged, None), damaged


def test_an_attribute_not_kept_is_not_decoded(monkeypatch):
    """Values of an attribute not kept are neither decoded (a value that is not UTF-8
    does not send the entry round again) nor stored; one sent twice is no matter."""
    monkeypatch.setattr(ldapfast, "_KEEPS", {})
    decoded: list[bytes] = []

    def text(value: bytes) -> str:
        decoded.append(value)
        return value.decode()

    message = _entry_message(3, b"cn=a", [(b"cn", [b"a"]), (b"description", [b"caf\xe9"]),
                                          (b"description", [b"x", b"y"]),
                                          (b"objectClass", [b"top", b"user"])])
    kept = ldapfast.keep(KEPT)
    for _ in range(2):  # the second time, from remembered headers
        found = ldapfast._decode(kept.heads, kept.longs, kept.names, message, text)
        assert found is not None and found[2].attrs == {"cn": ["a"]}
    assert decoded == [b"a", b"a"]
    assert ldapfast.decode_search_entry(message) is None  # all kept: a name twice is ldap3's
