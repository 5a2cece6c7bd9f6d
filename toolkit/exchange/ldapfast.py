"""The ldap3 fast path: search entries decoded without ldap3's generic BER decoder.

Why it exists: ldap3 decodes every message with a generic pure-Python BER
decoder and then builds each entry twice (raw and formatted values); at
100,000 entries that is most of a whole audit's time. A search result entry
has a fixed shape (RFC 4511 4.5.2), so while a search runs, the connection
decodes entries with :func:`decode_search_entry`. Anything else - other
messages, an entry with controls, any BER it does not expect - goes through
ldap3's own decoder unchanged, so behaviour at the edges is ldap3's.

Why it is kept apart: it replaces a PRIVATE part of ldap3 (a copy of
``SyncStrategy._get_response`` with the decoder first). Private code can
change in any release, so everything that depends on it is here, ldap3 is
pinned in ``pyproject.toml`` to the release this was written against
(:data:`WRITTEN_FOR`), and :data:`LDAP3_INTERNALS` (both kept in
:mod:`toolkit.exchange.ldapinternals`) records a hash of the
source of every ldap3 function this mirrors or calls;
``tests/test_ldap_fastpath.py`` fails when any of them changes. Should a
different ldap3 be installed anyway, :func:`fast_entries` leaves the
connection alone (ldap3's own, slower, path), never a half-fitting hook.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import MappingProxyType
from typing import Any

import ldap3

from toolkit.exchange.dn import display_dn
from toolkit.exchange.ldapinternals import LDAP3_INTERNALS as LDAP3_INTERNALS
from toolkit.exchange.ldapinternals import WRITTEN_FOR, _message_size, _receive
from toolkit.exchange.ldapinternals import internals_hashes as internals_hashes
from toolkit.exchange.ldif import BINARY_ATTRS
from toolkit.model import AttrValue, RawEntry


def text_or_bytes(value: bytes) -> AttrValue:
    """A value as text when it is UTF-8, else its bytes (as the LDIF reader keeps it)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _ber_length(data: bytes, pos: int) -> tuple[int, int]:
    """(content start, content end) of the element whose length octets are at ``pos``."""
    first = data[pos]
    if first < 0x80:
        return pos + 1, pos + 1 + first
    count = first & 0x7F
    if count == 0 or count > 4:  # indefinite form, or absurd: not for the fast path
        raise IndexError
    start = pos + 1 + count
    return start, start + int.from_bytes(data[pos + 1 : start], "big")


# attribute description as sent -> (lower-case name, binary?, shared?); only plain names
_NAMES: dict[bytes, tuple[str, bool, bool]] = {}

# Attributes whose whole value set repeats from entry to entry: an object's
# classes (a handful of combinations in a whole directory), its mailbox
# store and home server (a few per organisation). Their attributes, octet
# for octet, are remembered with their values (:data:`_SETS`).
SHARED_SETS = frozenset({"objectclass", "homemdb", "msexchhomeservername"})


def _attribute_name(raw: bytes) -> tuple[str, bool, bool] | None:
    """Plain ASCII names only; options (``;range=...``) go the generic way."""
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not name or ";" in name or not name.replace("-", "").isalnum():
        return None
    lname = name.lower()
    known = (lname, lname in BINARY_ATTRS, lname in SHARED_SETS)
    if len(_NAMES) < 4096:
        _NAMES[raw] = known
    return known


# What a remembered header says of its attribute (the second item of a
# _HEADS value): one text value, one binary value, a value set of a
# SHARED_SETS name (looked up whole in _SETS), or one value of an attribute
# that is not kept (:class:`Keep`: checked when the header was remembered,
# skipped since). Small ints: one comparison each, the commonest first.
_TEXT, _SKIP, _SET, _BINARY = 0, 1, 2, 3  # (the loop tests them as literals: no global read)

# The header octets of a one-valued attribute with every length short -
# 30 La 04 Ln <name> 31 Ls 04 Lv - as seen by the general path, which checked
# them, -> (lower-case name, what it holds (_TEXT ...), attribute size). The
# same octets again (the same name, the same value length: cn, mail,
# objectGUID ... at 100,000 entries there are a few hundred of them) skip
# those checks: one slice and one lookup instead of ~20 steps, and the value
# starts where these octets end. Measured: 14% of the decoder. For a
# SHARED_SETS name (Lv: its first value's) the whole attribute, of that
# size, is looked up in _SETS. These are the headers of a read that keeps
# every attribute; a :class:`Keep` has its own.
_HEADS: dict[bytes, tuple[str | None, int, int]] = {}
_HEADS_MAX = 4096

# A whole attribute of a SHARED_SETS name (its octets, header to last value)
# -> its values, as the general path decoded them. The bench directory's
# objectClass (four values) and homeMDB (a 200-octet value) are the same
# octets in nearly every entry: one slice and one lookup instead of a walk
# over every value and a decode of each (measured on 92,542 captured bench
# messages: 1.27 -> 1.12 s). At most _SETS_MAX (a few hundred KB) are kept:
# a directory where these vary more reads the rest the general way.
_SETS: dict[bytes, tuple[AttrValue, ...]] = {}
_SETS_MAX = 1024

# The header octets of an attribute whose two lengths are both one octet
# after 0x81 - 30 81 La 04 Ln <name> 31 81 Ls: proxyAddresses, a homeMDB
# value of 128 octets or more - as the general path checked them, -> (lower-case
# name or None when it is not kept, binary?, shared?, attribute size). The
# same octets again skip those checks; the values are read as always.
_LONGS: dict[bytes, tuple[str | None, bool, bool, int]] = {}


class Keep:
    """The attributes an entry is decoded with, and the headers remembered
    for them (a header says whether its attribute is kept).

    Why: the audit's read requests the attributes the spec names, but
    classifying an object reads only some of them (``cn``, ``sn``,
    ``givenName``, ``displayName``, ``objectGUID`` are never read). An
    attribute that is not kept is checked as ever - the same messages are
    left to ldap3 - but no value of it is decoded or stored: at 10,000 people
    (callgrind, the read alone) that is a third of the decoder's values.
    ``names`` None keeps every attribute (the module's own headers, as
    :func:`decode_search_entry` reads them)."""

    __slots__ = ("heads", "longs", "names")

    def __init__(self, names: frozenset[str] | None) -> None:
        self.names = names
        self.heads: dict[bytes, tuple[str | None, int, int]] = {}
        self.longs: dict[bytes, tuple[str | None, bool, bool, int]] = {}


_KEEPS: dict[frozenset[str], Keep] = {}  # lower-case names -> their Keep (outliving a page)


def keep(names: frozenset[str] | None) -> Keep | None:
    """The :class:`Keep` of ``names``, lower-case (None: every attribute, the
    module's own headers)."""
    if names is None:
        return None
    found = _KEEPS.get(names)
    if found is None:
        found = _KEEPS[names] = Keep(names)
    return found


# The envelope of a usual entry (a message of 256 octets to 64 KB, an ID below
# 128) read in one call: 3082 | n n | 0201 | ID | 6482 | n n | 04 | Ldn (the fixed
# octets in pairs: three tests and three values fewer); then the attribute
# list's 30 82 n n.
_USUAL = struct.Struct(">HHHBHHBB")
_LIST = struct.Struct(">BBH")
# What the raw receive (:func:`_fast_get_response`) checks of a message framed
# as 30 82 n n to take it as this search's usual entry: 3082 | 02 01 ID 64 (one
# int) | 82 | n n | 04 - what entry_message_id checks of it, without a call
# (callgrind, the read alone at 10,000 people: ~40 Python steps fewer an entry
# in the process that receives them all).
_ENTRY_HEAD = struct.Struct(">H2xIBHB")
# A message's length octets when they are 0x82 n n (any entry of 256 octets to
# 64 KB), read in one call: three subscripts and four int objects fewer per
# message (callgrind, framing and decoding of 5,000 captured bench messages:
# 108.4k -> 107.6k instructions a message).
_FRAME = struct.Struct(">xBH")


def _envelope(message: bytes) -> tuple[int, int, int] | None:
    """(message ID, DN start, DN end) of a SearchResultEntry message in any
    length form, else None (an IndexError past the end)."""
    pos, end = _ber_length(message, 1)
    if message[0] != 0x30 or end != len(message) or message[pos] != 0x02:
        return None
    start, pos = _ber_length(message, pos + 1)
    message_id = int.from_bytes(message[start:pos], "big", signed=True)
    if message[pos] != 0x64:  # [APPLICATION 4] SearchResultEntry
        return None
    pos, op_end = _ber_length(message, pos + 1)
    if op_end != end or message[pos] != 0x04:  # controls, or not an objectName
        return None
    start, pos = _ber_length(message, pos + 1)
    return message_id, start, pos


def entry_message_id(message: bytes) -> int | None:
    """The message ID of a SearchResultEntry without controls, else None:
    the envelope alone (what :func:`decode_search_entry` checks first),
    nothing of the entry decoded. Why: a reader that hands entries to
    another process (:func:`fast_entries` with ``raw``) keeps only their
    octets here, and this check, ~1 µs, is all it spends on one."""
    try:
        t0, size, t1, message_id, t2, op_size, t3, dn_size = _USUAL.unpack_from(message)
    except struct.error:  # shorter than 13 octets: not the usual form
        t0 = 0
    if t0 == 0x3082 and t1 == 0x0201 and message_id < 0x80 and t2 == 0x6482 and t3 == 4 \
            and size + 4 == len(message) == op_size + 11:
        return message_id  # type: ignore[no-any-return]
    try:
        found = _envelope(message)
    except IndexError:  # past the end of the message
        return None
    return None if found is None else found[0]


def decode_search_entry(message: bytes, text: Callable[[bytes], AttrValue] = bytes.decode,
                        ) -> tuple[int, dict[str, object]] | None:
    """(message ID, ``response`` item) of a plain SearchResultEntry, else None.

    The item carries the finished :class:`RawEntry` (``ccmig_entry``), built
    exactly as :func:`toolkit.exchange.ldapread.entry` builds one from ldap3's item; None - ldap3
    decodes the message - for anything unusual: controls, attribute options,
    a name sent twice, BER this decoder does not expect. ``text`` decodes a
    value that is not binary: UTF-8 first; should a value not be UTF-8, the
    entry is decoded again with :func:`text_or_bytes` (that value kept as
    bytes, as ``entry`` keeps it): :func:`_decode`'s decoding.
    """
    found = _decode(_HEADS, _LONGS, None, message, text)
    if found is None:
        return None
    message_id, dn, entry = found
    return message_id, {"type": "searchResEntry", "dn": dn, "ccmig_entry": entry,
                        "raw_attributes": _NONE, "attributes": _NONE}


def entry_reader(kept: Keep | None = None
                 ) -> Callable[[bytes], tuple[int, str, RawEntry] | None]:
    """A function giving (message ID, DN as sent, entry) of a plain
    SearchResultEntry message, else None (when :func:`decode_search_entry`
    gives None), its entry with the attributes ``kept`` keeps (None: all).
    Why not decode_search_entry: a reader that wants the entry alone
    (:func:`toolkit.exchange.ldapread.raw_entries`) makes no response item."""
    if kept is None:
        return partial(_decode, _HEADS, _LONGS, None)
    return partial(_decode, kept.heads, kept.longs, kept.names)


def _decode(heads: dict[bytes, tuple[str | None, int, int]],
            longs: dict[bytes, tuple[str | None, bool, bool, int]],
            names: frozenset[str] | None, message: bytes,
            text: Callable[[bytes], AttrValue] = bytes.decode,
            ) -> tuple[int, str, RawEntry] | None:
    """(message ID, DN, entry) of a plain SearchResultEntry, else None; the
    attributes ``names`` keeps (None: all), ``heads`` and ``longs`` the
    headers remembered for them (:data:`_HEADS`, :data:`_LONGS`).

    Why it is one long function: at 100,000 entries it runs for ~1.2 million
    attributes and ~1.8 million values, and its cost is the count of Python
    steps per element (measured: walking the BER without building a single
    value is ~85% of it). Lengths of one octet (< 128) or two (0x81 n; the
    message's own: 0x82 n n) are therefore read inline and ``_ber_length``
    only for the rest, a header seen before skips the checks (:data:`_HEADS`),
    a shared value set is looked up whole (:data:`_SETS`), and a name sent
    twice is found by counting, not by a lookup per attribute. Any read past
    the end of the message is an IndexError, i.e. None. Callgrind on 3,000
    captured bench entries: 227k instructions per entry before session 5,
    135k after it.

    Session 7 (callgrind on 5,000 captured bench messages, PYTHONHASHSEED=0:
    105.4k -> 91.5k instructions per entry, display_dn's share included; the
    whole audit over LDAP at 10,000 people 5,722M -> 5,587M): a position in
    the message is an int object made and freed at each ``+`` (only ints up
    to 256 are cached), so the arithmetic per attribute is the fewest
    additions (the value of a remembered one-valued header starts where its
    key ends) and a value set is read by offsets into its own octets; the
    usual envelope is read by one ``struct`` call
    (:data:`_USUAL`); a header whose lengths are 0x81 n (proxyAddresses, a
    long homeMDB) is remembered too (:data:`_LONGS`).

    Session 10: an attribute that is not kept (:class:`Keep`) is checked
    as any other, none of its values decoded; a remembered header says what
    its attribute holds in one small int (:data:`_TEXT` ...).
    """
    heads_get = heads.get
    sets_get = _SETS.get
    end = len(message)
    try:
        # the usual envelope: 30 82 n n 02 01 ID 64 82 n n 04 Ldn <dn> 30 82 n n
        try:
            t0, size, t1, message_id, t2, op_size, t3, dn_size = _USUAL.unpack_from(message)
        except struct.error:  # shorter than 13 octets: not the usual form
            t0 = 0
        if t0 == 0x3082 and t1 == 0x0201 and message_id < 0x80 and t2 == 0x6482 and t3 == 4 \
                and dn_size < 0x80 and size + 4 == end == op_size + 11:
            start, pos = 13, 13 + dn_size
        else:
            found = _envelope(message)
            if found is None:
                return None
            message_id, start, pos = found
        try:
            dn = message[start:pos].decode()
        except UnicodeDecodeError:
            return None
        try:
            t0, l0, size = _LIST.unpack_from(message, pos)
        except struct.error:  # fewer than 4 octets left: not the usual form
            t0 = 0
        if t0 == 0x30 and l0 == 0x82 and pos + 4 + size == end:
            pos += 4
        else:
            if message[pos] != 0x30:
                return None
            pos, list_end = _ber_length(message, pos + 1)
            if list_end != end:
                return None
        attrs: dict[str, list[AttrValue]] = {}
        stored = 0  # attributes stored: more than len(attrs) when a name came twice
        while pos < end:
            # PartialAttribute ::= SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING }
            # A short header seen before (a long form's octets never match one: its
            # second octet is >= 0x80, a remembered one's is not).
            key_end = pos + (message[pos + 3] + 8)
            head = heads_get(message[pos:key_end])
            if head is not None:
                lname, how, size = head
                pos += size  # past the attribute
                if not how:  # _TEXT, one value: the rest of the attribute
                    attrs[lname] = [text(message[key_end:pos])]  # type: ignore[index]
                    stored += 1
                    continue
                if how == 1:  # _SKIP, one value not kept
                    continue
                if how == 3:  # _BINARY
                    attrs[lname] = [message[key_end:pos]]  # type: ignore[index]
                    stored += 1
                    continue
                binary, shared = False, True  # _SET: looked up whole below
                attr_end = pos
                first = pos - size
                pos = key_end - 2  # its values (the key ends with the first one's 04 Lv)
            elif message[pos + 1] == 0x81 \
                    and (long := longs.get(message[pos : pos + (message[pos + 4] + 8)])) is not None:
                # 30 81 La 04 Ln <name> 31 81 Ls seen before
                first = pos
                lname, binary, shared, size = long
                attr_end = pos + size
                pos += message[pos + 4] + 8
            else:
                first = pos
                if message[pos] != 0x30:
                    return None
                size = message[pos + 1]
                if size < 0x80:
                    pos += 2
                    attr_end = pos + size
                elif size == 0x81:  # one length octet: long values (homeMDB, proxyAddresses)
                    attr_end = pos + 3 + message[pos + 2]
                    pos += 3
                else:
                    pos, attr_end = _ber_length(message, pos + 1)
                size = message[pos + 1]
                if message[pos] != 0x04 or size >= 0x80:
                    return None
                pos += 2
                raw_name = message[pos : pos + size]
                pos += size
                known = _NAMES.get(raw_name) or _attribute_name(raw_name)
                if known is None or message[pos] != 0x31:
                    return None
                lname, binary, shared = known  # type: ignore[assignment]
                if names is not None and lname not in names:
                    lname, binary, shared = None, True, False  # checked, not kept
                size = message[pos + 1]
                if size < 0x80:
                    pos += 2
                    if pos + size != attr_end:
                        return None
                elif size == 0x81:
                    pos += 3
                    if pos + message[pos - 1] != attr_end:
                        return None
                    if message[first + 1] == 0x81 and len(longs) < _HEADS_MAX:
                        # both lengths 0x81 n: these octets always mean this name
                        # and a value set ending here (see _LONGS)
                        longs[message[first:pos]] = (lname, binary, shared, attr_end - first)
                else:
                    pos, vals_end = _ber_length(message, pos + 1)
                    if vals_end != attr_end:
                        return None
            if shared:
                seen = sets_get(message[first:attr_end])
                if seen is not None:
                    attrs[lname] = list(seen)  # type: ignore[index]
                    stored += 1
                    pos = attr_end
                    continue
            decode = bytes if binary else text  # bytes(value) is value itself
            values: list[AttrValue] = []
            # The values read by offsets into their own octets: offsets below 257
            # are Python's cached small ints, positions in the message are not
            # (an int object made and freed per step).
            block = message[pos:attr_end]
            at, stop = 0, len(block)
            while at < stop:
                size = block[at + 1]
                if size < 0x80 and block[at] == 0x04:
                    value_start = at + 2
                    at = value_start + size
                    values.append(decode(block[value_start:at]))
                    continue
                if block[at] != 0x04:
                    return None
                if size == 0x81:
                    value_end = at + 3 + block[at + 2]
                    at += 3
                else:
                    at, value_end = _ber_length(block, at + 1)
                values.append(decode(block[at:value_end]))
                at = value_end
            if at != stop:
                return None
            pos = attr_end
            if lname is None:  # not kept: its header remembered if one value
                how = _SKIP
            elif not values:  # as ldap3's item, which entry() skips
                if lname in attrs:  # ... unless it came before: ldap3 keeps this one
                    return None
                continue
            else:
                attrs[lname] = values
                stored += 1
                if shared:
                    if len(_SETS) >= _SETS_MAX:
                        continue
                    _SETS[message[first:attr_end]] = tuple(values)
                    how = _SET
                else:
                    how = _BINARY if binary else _TEXT
            if (shared or len(values) == 1) and message[first + 1] < 0x80 \
                    and len(heads) < _HEADS_MAX:
                size = message[first + 3]  # the name's length: 30 La 04 Ln <name> 31 Ls 04 Lv
                if message[first + 5 + size] < 0x80 and message[first + 7 + size] < 0x80:
                    # every length short: these octets always mean this name, this
                    # size and one value after them, or a shared set (see _HEADS)
                    heads[message[first : first + 8 + size]] = (lname, how, attr_end - first)
        if pos != end or stored != len(attrs):
            return None
    except IndexError:  # past the end of the message
        return None
    except UnicodeDecodeError:  # a value that is not UTF-8 (never twice: text_or_bytes keeps bytes)
        return _decode(heads, longs, names, message, text_or_bytes)
    return message_id, dn, RawEntry(display_dn(dn), attrs)


# What a decoded entry's item shows ldap3's own post-processing: when a page
# also holds an entry with a ranged attribute (``member;range=0-1499``, left
# to ldap3), ldap3's auto-range reads ``raw_attributes`` and ``attributes`` of
# every ``searchResEntry`` item of the page (KeyError without them). Empty and
# read-only: nothing of ours to range over, nothing ldap3 may add.
_NONE: Any = MappingProxyType({})


def _fast_get_response(strategy: Any, message_id: int, timeout: Any, raw: bool = False) -> Any:
    """ldap3 ``SyncStrategy._get_response`` with its own framing and :func:`decode_search_entry` first.

    Why the framing is here too: ldap3's ``receiving()`` reads 4 KB at a
    time and cuts each message off the front of its buffer by copying the
    rest; this reads :data:`RECEIVE_SIZE` and cuts messages by offset. It
    stands in for ``receiving()`` only where that is a plain ``recv`` loop
    (no DIGEST-MD5 signing: see :func:`fast_entries`); what follows a
    message - ldap3's decoder for anything but a plain entry, the checks of
    the message ID, the unsolicited notifications - is ldap3's code.

    With ``raw``, a SearchResultEntry of this search without controls
    (:func:`entry_message_id`) nor ``;range=`` in it is not decoded: each run of them becomes one
    item ``{"type": "ccmig_raw", "ccmig_raw": (message octets, ...)}`` in its
    place among the others, to be decoded by whichever process classifies
    it (:func:`toolkit.exchange.ldapread.raw_entries`).
    """
    from ldap3.core.exceptions import LDAPExtensionError, LDAPSocketReceiveError
    from ldap3.strategy.base import RESPONSE_COMPLETE, SESSION_TERMINATED_BY_SERVER, TRANSACTION_ERROR
    from ldap3.utils.asn1 import decode_message_fast

    connection = strategy.connection
    # ldap3 asks its ``usage`` property per message (a call each); on the plain
    # strategy it is the connection's own counter or None all along.
    usage = connection._usage if connection.usage else None
    responses: list[Any] = []
    run: list[bytes] = []  # raw: the entries' octets since the last other item
    buf = b""
    pos = have = 0  # have: len(buf)
    complete = False
    frame = _FRAME.unpack_from
    entry_head = _ENTRY_HEAD.unpack_from
    # 02 01 ID 64 of this search's usual entry (no match for an ID of two octets or more)
    usual_ids = 0x02010064 | message_id << 8 if 0 <= message_id < 0x80 else -1
    while True:
        try:
            form, size = frame(buf, pos)
        except struct.error:  # fewer than 4 octets
            form = 0
        if form == 0x82:  # a usual entry's length: 0x82 n n
            message_end = pos + 4 + size
        else:
            size = _message_size(buf, pos)  # (never 0 or 1: ldap3's skip of an empty one is moot)
            message_end = pos + size if size >= 0 else have + 1
        if message_end > have:  # the message is not all here yet
            if complete:  # ldap3 too answers once the messages received are done
                break
            data = _receive(strategy)
            if not data:
                return SESSION_TERMINATED_BY_SERVER
            buf = buf[pos:] + data if pos < have else data
            pos, have = 0, len(buf)
            continue
        message = buf[pos:message_end]
        pos = message_end
        if usage is not None:
            usage.update_received_message(len(message))
        if raw:
            # (a ranged attribute's entry is ldap3's item, as ever: its strategy
            # fetches the rest of the range when the answer is complete)
            try:
                t0, ids, t2, op_size, t3 = entry_head(message)
            except struct.error:  # shorter than 12 octets
                t0 = 0
            # the usual envelope of this search's entry (its size: framed so, 0x82 n n), else
            # entry_message_id's answer
            if ((t0 == 0x3082 and ids == usual_ids and t2 == 0x82 and t3 == 4
                    and op_size + 11 == len(message))
                    or entry_message_id(message) == message_id) and b";range=" not in message:
                run.append(message)
                continue
            if run:  # the entries before this message, in their place
                responses.append({"type": RAW, RAW: tuple(run)})
                run = []
        fast = decode_search_entry(message)
        if fast is not None and fast[0] == message_id:
            responses.append(fast[1])
            continue
        ldap_resp = decode_message_fast(message)
        item = strategy.decode_response_fast(ldap_resp)
        received_id = int(ldap_resp["messageID"])
        if received_id == message_id:
            responses.append(item)
            if item["type"] not in ("searchResEntry", "searchResRef", "intermediateResponse"):
                complete = True
        elif received_id == 0:  # unsolicited notification (RFC 4511 4.4)
            if item["responseName"] == "1.3.6.1.4.1.1466.20036":
                return SESSION_TERMINATED_BY_SERVER
            if item["responseName"] == "2.16.840.1.113719.1.27.103.4":
                return TRANSACTION_ERROR
            connection.last_error = "unknown unsolicited notification from server"
            raise LDAPSocketReceiveError(connection.last_error)
        elif item["type"] == "extendedResp":
            connection.last_error = "multiple extended responses to a single extended request"
            raise LDAPExtensionError(connection.last_error)
        else:
            connection.last_error = "invalid messageId received"
            raise LDAPSocketReceiveError(connection.last_error)
    if run:  # (never: the result that completes the answer came after them)
        responses.append({"type": RAW, RAW: tuple(run)})
    responses.append(RESPONSE_COMPLETE)
    return responses


# The type (and key) of a response item holding a run of undecoded entries.
RAW = "ccmig_raw"


@contextmanager
def fast_entries(conn: ldap3.Connection, raw: bool = False) -> Iterator[bool]:
    """Decode search entries with :func:`decode_search_entry` on this connection.

    Only for the ldap3 release this was written for (:data:`WRITTEN_FOR`), its
    plain synchronous strategy with its fast decoder on; the mock strategies,
    another ldap3 and anything unexpected keep ldap3's own path. With
    ``raw`` the plain entries are kept undecoded (:func:`_fast_get_response`)
    where ldap3 would not check attribute names against a schema (so what it
    makes of an entry depends on the message alone). Gives whether they are.
    """
    from ldap3.strategy.sync import SyncStrategy
    from ldap3.utils.config import get_config_parameter

    strategy = getattr(conn, "strategy", None)
    if ldap3.__version__ not in WRITTEN_FOR \
            or type(strategy) is not SyncStrategy or not getattr(conn, "fast_decoder", False) \
            or getattr(conn, "sasl_mechanism", None) == ldap3.DIGEST_MD5 \
            or not get_config_parameter("CASE_INSENSITIVE_ATTRIBUTE_NAMES"):
        yield False
        return
    raw = raw and not conn.check_names
    strategy._get_response = lambda message_id, timeout: _fast_get_response(  # type: ignore[method-assign]
        strategy, message_id, timeout, raw)
    try:
        yield raw
    finally:
        del strategy._get_response
