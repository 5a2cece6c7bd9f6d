"""Classify raw directory objects as recipients (spec: Inputs, dialects).

The same functions serve LDIF and LDAP, so both give the same rows. Values
are kept in the order read, with the ``targetAddress`` after the proxies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, NamedTuple

from toolkit.ccmail.address import NOT_UTF8, is_ccmail_type, parse
from toolkit.exchange.tablehooks import Handed, MailboxMatcher, PartFeed
from toolkit.model import AttrValue, CcmailValue, Dialect, Kind, RawEntry, Recipient
from toolkit.storage import _CANONICAL_VALID, pack_record, pack_values, tagged
from toolkit.storage.recipients import RecipientTable, packed_records

# Attributes the toolkit reads (spec); LDAP searches request exactly these.
AD_ATTRIBUTES = (
    "cn", "sn", "givenName", "displayName", "sAMAccountName", "userPrincipalName",
    "mail", "mailNickname", "proxyAddresses", "targetAddress", "legacyExchangeDN",
    "homeMDB", "msExchHomeServerName", "objectGUID", "objectClass",
)  # fmt: skip
EX55_ATTRIBUTES = (
    "cn", "sn", "givenName", "displayName", "uid", "mail", "rfc822Mailbox",
    "textEncodedORAddress", "otherMailbox", "targetAddress", "Target-Address",
    "objectClass", "legacyExchangeDN", "mailNickname",
)  # fmt: skip


# Attributes any dialect reads, lower case: readers may skip all others.
READ_ATTRIBUTES = frozenset(a.lower() for a in (*AD_ATTRIBUTES, *EX55_ATTRIBUTES))

# The attributes :func:`classify` reads, lower case (either dialect): all the
# audit keeps of an entry (``read_ldap_chunks``' ``kept``, ``ldif_source``: the
# rest is checked, not decoded). Why: cn, sn, givenName, displayName and
# objectGUID are requested (spec), no rule reads them (test_dialects_fast.py).
CLASSIFY_ATTRIBUTES = frozenset({
    "objectclass", "homemdb", "msexchhomeservername", "proxyaddresses", "targetaddress",
    "othermailbox", "target-address", "mail", "rfc822mailbox", "mailnickname", "uid",
    "samaccountname", "userprincipalname", "legacyexchangedn",
})


def ccmail_value(value: str, sep: str, source: str) -> CcmailValue | None:
    # A type that upper-cases to CCMAIL has six characters (no character's
    # upper case is several of C, M, A, I, L): test the length first.
    cut = value.find(sep)
    if cut != 6 or not is_ccmail_type(value[:6]):
        return None
    return parse(value, value[:6], value[7:], source)


def undecodable_ccmail(raw: bytes, sep: str, source: str) -> CcmailValue | None:
    """A cc:Mail value whose bytes are not UTF-8 (base64 in LDIF, or so sent
    over LDAP): it is on the object, so it is ``invalid-address``, not dropped."""
    text = _undecodable_text(raw, sep)
    if text is None:
        return None
    return CcmailValue(text, text[:6], source, None, None, None, NOT_UTF8)


def _undecodable_text(raw: bytes, sep: str) -> str | None:
    """The text kept for :func:`undecodable_ccmail`, or None when ``raw`` is
    no cc:Mail value."""
    if len(raw) < 7 or raw[:6].upper() != b"CCMAIL" or raw[6:7] != sep.encode():
        return None
    return raw.decode("utf-8", "backslashreplace")


def _texts(values: list[AttrValue] | None) -> list[str]:
    if not values:
        return []
    return [v for v in values if isinstance(v, str)]


def _first(values: list[AttrValue] | None) -> str | None:
    """RawEntry.first of an attribute's values (the first value first: it is
    nearly always the one, and looking at it alone skips the loop)."""
    if values:
        v = values[0]
        if v.__class__ is str and v.strip():
            return v  # type: ignore[return-value]
        for v in values:
            if isinstance(v, str) and v.strip():
                return v
    return None


# Enum members as module constants: reading one through its class (``Kind.MAILBOX``)
# costs ~0.2 µs in Python 3.11, several times per object read.
_AD = Dialect.AD
_MAILBOX, _CUSTOM, _GROUP = Kind.MAILBOX, Kind.CUSTOM_RECIPIENT, Kind.GROUP
_USER = "user"  # classify_ad's answer for a user that is a recipient by its attributes


def _ad_kind(classes: set[str]) -> Kind | str | None:
    """What ``objectClass`` alone says of an AD object: a kind, :data:`_USER`
    (a mailbox or mail-user by its attributes: :func:`classify_ad`) or None."""
    if "contact" in classes:
        return _CUSTOM
    if "group" in classes:
        return _GROUP
    if ("user" in classes or "inetorgperson" in classes) and "computer" not in classes:
        return _USER
    return None


def classify_ad(classes: set[str], entry: RawEntry) -> Kind | None:
    kind = _ad_kind(classes)
    if kind is not _USER:
        return kind  # type: ignore[return-value]
    if entry.first("homemdb") or entry.first("msexchhomeservername"):
        return _MAILBOX
    if entry.first("targetaddress"):
        return _CUSTOM
    return None


def classify_55(classes: set[str], entry: RawEntry) -> Kind | None:
    if "remote-address" in classes or "custom-recipient" in classes:
        return _CUSTOM
    if "organizationalperson" in classes:
        return _MAILBOX
    if "groupofnames" in classes:
        return _GROUP
    return None


# What classify() finds: the arguments of RecipientTable.add (dn, kind, packed
# values, primary_smtp, smtp, nickname, sam, upn, mail, subtype, legacy_dn).
Fields = tuple[Any, ...]


def to_recipient(entry: RawEntry, dialect: Dialect) -> Recipient | None:
    """The recipient an entry stands for, or None if it takes part in no rule."""
    fields = classify(entry, dialect)
    if fields is None:
        return None
    table = RecipientTable()
    table.add(*fields)
    return table[0]


# Per dialect, the objectClass values of an object exactly as read -> what
# they decide: (kind or _USER or None, the subtype of that kind, the subtype
# were it a custom recipient). A directory holds a handful of objectClass
# lists, each on thousands of objects: one dict look-up replaces lower-casing
# each value and building a set per object. Bounded, so hostile input
# cannot grow it.
_Decision = tuple[Kind | str | None, str | None, str]
_DECIDED_AD: dict[tuple[AttrValue, ...], _Decision] = {}
_DECIDED_55: dict[tuple[AttrValue, ...], _Decision] = {}
_DECIDED_MAX = 4096


def _decide(values: tuple[AttrValue, ...], dialect: Dialect) -> _Decision:
    """What ``objectClass`` ``values`` decide (see :data:`_DECIDED_AD`): the
    plain computation, remembered."""
    classes = {c.lower() for c in _texts(values)}  # type: ignore[arg-type]
    kind = _ad_kind(classes) if dialect is _AD else classify_55(classes, None)  # type: ignore[arg-type]
    decision = (kind, None if kind is None or kind is _USER else _subtype(kind, classes),  # type: ignore[arg-type]
                _subtype(_CUSTOM, classes))
    table = _DECIDED_AD if dialect is _AD else _DECIDED_55
    if len(table) < _DECIDED_MAX:
        table[values] = decision
    return decision


# Per separator, the first five characters of a proxy address of a usual type
# -> 0 X.400, 1 the primary SMTP address, 2 another, 3 cc:Mail when the next two
# are L or l and the separator (those two given too). Why: classify() reads ~4.4
# proxy addresses an object; one slice and one look-up replace a find, a slice
# and up to four comparisons (callgrind, 5,000 bench entries: ~1,000
# instructions fewer an entry). Any other spelling, or bytes, is read the
# general way, which gives the same for these (tests/test_dialects_fast.py).
_PROXY_KINDS = {sep: ({"CCMAI": 3, "ccmai": 3, "SMTP" + sep: 1, "smtp" + sep: 2,
                       "X400" + sep: 0, "x400" + sep: 0}, ("L" + sep, "l" + sep))
                for sep in ":$"}


def classify(entry: RawEntry, dialect: Dialect) -> Fields | None:
    """The fields of the recipient an entry stands for, its values tagged raw
    text (:func:`toolkit.storage.pack_values`), or None if it takes part in
    no rule.

    Runs once per directory object (100,000 at scale), so it is written out:
    the kind comes from the objectClass list as read (:data:`_DECIDED_AD`), an
    object no rule reads is left before its values are looked at, a value's
    type is told by where its separator is before anything else is read,
    and each single-valued field takes its first value when that one is a
    non-blank string (nearly always) without calling :func:`_first`.
    tests/test_dialects_fast.py compares it with the plain classification
    (:func:`classify_ad`, :func:`classify_55`, ``RawEntry.first``) on
    awkward objects. Measured over the 10,000-people organisation's LDIF
    entries, read beforehand (callgrind): 481 M -> 336 M instructions; at
    100,000 people 0.79 s -> 0.58 s of CPU."""
    get = entry.attrs.get
    oc = get("objectclass")
    values_key = tuple(oc) if oc else ()
    decision = ((_DECIDED_AD if dialect is _AD else _DECIDED_55).get(values_key)
                or _decide(values_key, dialect))
    kind, subtype = decision[0], decision[1]
    if kind is None:
        return None
    if dialect is _AD:
        if kind is _USER:
            v = get("homemdb")  # _first(v) or _first(msExchHomeServerName), as below
            if ((v and (t := v[0]).__class__ is str and t.strip())  # type: ignore[union-attr]
                    or _first(v) or _first(get("msexchhomeservername"))):
                kind, subtype = _MAILBOX, "mailbox"
            elif _first(get("targetaddress")):
                kind, subtype = _CUSTOM, decision[2]
            else:
                return None
        sep, proxies, ad = ":", get("proxyaddresses"), True
        targets = get("targetaddress")
    else:
        sep, proxies, ad = "$", get("othermailbox"), False  # type$address; targets are TYPE:address
        targets = get("targetaddress")
        more = get("target-address")
        if more:
            targets = [*(targets or ()), *more]
    # Values stay raw text, tagged (see toolkit.storage.pack_values):
    # they are parsed when the rules read them.
    values: list[str] = []
    smtp: list[str] = []
    primary_smtp = None
    if proxies:
        kinds, ccmail_ends = _PROXY_KINDS[sep]
        for raw in proxies:
            typed = kinds.get(raw[:5])  # the usual types: one look-up (see _PROXY_KINDS)
            if typed is not None:
                if typed == 3:
                    if raw[5:7] in ccmail_ends:  # CCMAIL and the separator, in any case
                        values.append("v" + raw if _CANONICAL_VALID(raw, 7) is not None  # type: ignore[operator,arg-type]
                                      else tagged(raw, "proxy"))  # type: ignore[arg-type]
                        continue
                elif typed == 1:
                    address = raw[5:]
                    smtp.append(address)  # type: ignore[arg-type]
                    if ad:  # last one wins
                        primary_smtp = address
                    continue
                elif typed == 2:
                    smtp.append(raw[5:])  # type: ignore[arg-type]
                    continue
                else:  # X.400: no rule reads it
                    continue
            if raw.__class__ is bytes:
                text = _undecodable_text(raw, sep)  # type: ignore[arg-type]
                if text is not None:
                    values.append("P" + text)
                continue
            cut = raw.find(sep)  # type: ignore[union-attr]
            # A type that upper-cases to SMTP or CCMAIL has four or six characters
            # (no character's upper case is several of those letters): the
            # separator's place tells which it can be. SMTP first: the most values.
            if cut == 4:
                prefix = raw[:4]
                if prefix == "SMTP":
                    address = raw[5:]
                    smtp.append(address)  # type: ignore[arg-type]
                    if ad:  # last one wins
                        primary_smtp = address
                elif prefix == "smtp" or (prefix != "X400" and prefix.upper() == "SMTP"):  # type: ignore[union-attr]
                    smtp.append(raw[5:])  # type: ignore[arg-type]
            elif cut == 6:
                prefix = raw[:6]
                if prefix == "CCMAIL" or prefix == "ccmail" or prefix.upper() == "CCMAIL":  # type: ignore[union-attr]
                    values.append("v" + raw if _CANONICAL_VALID(raw, 7) is not None  # type: ignore[operator,arg-type]
                                  else tagged(raw, "proxy"))  # type: ignore[arg-type]
    if targets:
        for raw in targets:  # all cc:Mail targets, after the proxies (spec: value order)
            if raw.__class__ is bytes:
                text = _undecodable_text(raw, ":")  # type: ignore[arg-type]
                if text is not None:
                    values.append("T" + text)
            elif raw.find(":") == 6 and is_ccmail_type(raw[:6]):  # type: ignore[union-attr,arg-type]
                values.append("w" + raw if _CANONICAL_VALID(raw, 7) is not None  # type: ignore[operator,arg-type]
                              else tagged(raw, "target"))  # type: ignore[arg-type]
    # The single-valued fields: the first value when it is a non-blank string,
    # else what _first finds (RawEntry.first).
    v = get("mail")
    if v and (mail := v[0]).__class__ is str and mail.strip():  # type: ignore[union-attr]
        pass
    else:
        mail = _first(v) or _first(get("rfc822mailbox"))
    if not ad:
        primary_smtp = mail
        smtp = _texts(get("mail")) + _texts(get("rfc822mailbox")) + smtp
    v = get("mailnickname")
    if v and (nickname := v[0]).__class__ is str and nickname.strip():  # type: ignore[union-attr]
        pass
    else:
        nickname = _first(v) or _first(get("uid"))
    v = get("samaccountname")
    if v and (sam := v[0]).__class__ is str and sam.strip():  # type: ignore[union-attr]
        pass
    else:
        sam = _first(v)
    v = get("userprincipalname")
    if v and (upn := v[0]).__class__ is str and upn.strip():  # type: ignore[union-attr]
        pass
    else:
        upn = _first(v)
    v = get("legacyexchangedn")
    if v and (legacy_dn := v[0]).__class__ is str and legacy_dn.strip():  # type: ignore[union-attr]
        pass
    else:
        legacy_dn = _first(v)
    return (entry.dn, kind, pack_values(values) if values else "", primary_smtp, smtp,
            nickname, sam, upn, mail, subtype, legacy_dn)


def _subtype(kind: Kind, classes: set[str]) -> str:
    """What exactly the object is, for remediation (a contact is removed with
    ``Remove-MailContact``; a mail-enabled user is not a contact)."""
    if kind is _CUSTOM:
        for name in ("contact", "remote-address", "custom-recipient"):
            if name in classes:
                return name
        return "mail-user"
    return _KIND_VALUE[kind]


_KIND_VALUE = {kind: kind.value for kind in Kind}  # one dict read, not the enum's property


def recipients(
    entries: Iterable[RawEntry],
    dialect: Dialect,
    keep: Callable[[Recipient], bool] | None = None,
) -> Iterator[Recipient]:
    """Stream recipients; ``keep`` drops those not needed (default: cc:Mail ones)."""
    keep = keep or (lambda r: r.has_values)
    for entry in entries:
        recipient = to_recipient(entry, dialect)
        if recipient is not None and keep(recipient):
            yield recipient


class TablePart(NamedTuple):
    """What :func:`classify_part` kept of a run of entries, ready for
    :meth:`toolkit.storage.recipients.RecipientTable.extend` - plain lists of
    strings, so a part pickles cheaply (a forked reader hands parts back:
    :mod:`toolkit.parallel`)."""

    records: list[str | tuple[Any, ...]]  # toolkit.storage.pack_record's
    kinds: list[Kind]
    subtypes: list[str | None]
    # each matched mailbox's position in the part and what MailboxMatcher.match
    # found (only mailboxes it found)
    matched: list[tuple[int, Any]]
    fed: Any = None  # what PartFeed.part made of the records, when a feed reads them


def classify_part(entries: Iterable[RawEntry], dialect: Dialect, every_mailbox: bool = False,
                  match: Callable[[str, str | None, str | None, str | None], Any] | None = None
                  ) -> TablePart:
    """The recipients of ``entries`` that carry a cc:Mail value, and with
    ``every_mailbox`` every mailbox too, classified and packed (no recipient
    object is made); with ``match`` (:meth:`~toolkit.exchange.tablehooks.MailboxMatcher.match`) what it
    finds of each mailbox's identities as classified, so that nothing is
    decoded from the table again."""
    records: list[str | tuple[Any, ...]] = []
    kinds: list[Kind] = []
    subtypes: list[str | None] = []
    matched: list[tuple[int, Any]] = []
    mailbox = _MAILBOX
    for entry in entries:
        fields = classify(entry, dialect)
        if fields is None:
            continue
        dn, kind, packed, primary_smtp, smtp, nickname, sam, upn, mail, subtype, legacy = fields
        if kind is mailbox:
            if not (packed or every_mailbox):
                continue
            if match is not None:
                found = match(dn, primary_smtp, nickname, sam)
                if found is not None:
                    matched.append((len(records), found))
        elif not packed:
            continue
        records.append(pack_record(dn, packed, primary_smtp, nickname, sam, upn, mail, legacy,
                                   smtp))
        kinds.append(kind)
        subtypes.append(subtype)
    return TablePart(records, kinds, subtypes, matched)


def read_parts(parts: Iterable[TablePart],
               observe: Callable[[RecipientTable, int], None] | None = None,
               record: Callable[[int, Any], None] | None = None,
               feed: PartFeed | None = None) -> RecipientTable:
    """A table of ``parts`` in order; ``observe`` sees each position once
    its part is added, ``record`` each matched mailbox's position and what
    the part's matcher found
    (:meth:`~toolkit.exchange.tablehooks.MailboxMatcher.record`); ``feed`` gets each part's ``fed`` and
    then the table."""
    table = RecipientTable()
    for part in parts:
        base = len(table)
        table.extend(part.records, part.kinds, part.subtypes)
        if feed is not None:
            feed.add(part.fed)
        if record is not None:
            for k, found in part.matched:
                record(base + k, found)
        if observe is not None:
            for n in range(base, len(table)):
                observe(table, n)
    if feed is not None:
        feed.done(table)
    return table


def read_table(entries: Iterable[RawEntry], dialect: Dialect, every_mailbox: bool = False,
               observe: Callable[[RecipientTable, int], None] | None = None,
               mailboxes: Callable[[int, str, str | None, str | None, str | None], None]
               | None = None, matcher: MailboxMatcher | None = None,
               feed: PartFeed | None = None) -> RecipientTable:
    """The recipients of ``entries`` (:func:`classify_part`) as a table;
    ``observe`` as :func:`read_parts`; ``matcher`` matches each mailbox where
    it is classified and records it here; ``mailboxes`` gets each mailbox's
    position and identities as classified (DN, primary SMTP, mailNickname,
    sAMAccountName: :class:`~toolkit.exchange.tablehooks.Handed`, a matcher
    like any other); ``feed`` is fed
    each part where it is classified
    (:class:`~toolkit.exchange.tablehooks.PartFeed`). An entry source
    that reads in chunks (a :class:`Chunked`) is classified chunk by chunk,
    half of the chunks in a second process where one can be forked
    (:func:`toolkit.parallel.ordered_map`): the same table either way.

    Classifying straight into packed records, with each mailbox's identities
    kept as classified: reading the 10,000-people organisation's LDAP entries
    with its stats file (callgrind) took 639.9 M instructions when the
    matcher decoded them from each record, 595.0 M so (690.6 M before
    :func:`toolkit.storage.pack_record`). The matcher's pure half runs where
    the mailbox is classified, so a forked worker matches the mailboxes it
    reads and hands back only what matched (~0.25 s of the reading process
    at 100,000 people, and no identities to pickle)."""
    if mailboxes is not None:
        matcher = Handed(mailboxes, matcher)
    match = None if matcher is None else matcher.match
    record = None if matcher is None else matcher.record
    if isinstance(entries, Chunked):
        from toolkit.parallel import ordered_map

        decode = entries.decode

        def part_of(chunk: Any) -> TablePart:
            part = _fed(classify_part(decode(chunk), dialect, every_mailbox, match), feed)
            # joined where read: one string crosses from a worker, not one a record
            return part._replace(records=packed_records(part.records))

        chunks = entries.chunks()
        complete = False
        try:
            table = read_parts(ordered_map(part_of, chunks), observe, record, feed)
            complete = True
            return table
        finally:  # a read cut short (an error) stops now: its connection, its file
            close_chunks(chunks)
            entries.finished(complete)  # after every chunk's result, as one process would
    # in parts of _PART entries: what a part holds until it is added (each
    # mailbox's identities above all) stays small
    return read_parts((_fed(classify_part(batch, dialect, every_mailbox, match), feed)
                       for batch in _batches(entries)), observe, record, feed)


def _fed(part: TablePart, feed: PartFeed | None) -> TablePart:
    """``part`` with what ``feed`` makes of its records (in this process)."""
    return part if feed is None else part._replace(fed=feed.part(part.records, part.kinds))


_PART = 1024


def _batches(entries: Iterable[RawEntry]) -> Iterator[list[RawEntry]]:
    it = iter(entries)
    while batch := list(islice(it, _PART)):
        yield batch


class Chunked(Iterable[RawEntry]):
    """Entries read in chunks that can be decoded apart (an LDAP page's
    messages, a run of LDIF records): ``decode(chunk)`` must be pure and
    chunks must pickle. Iterating gives every entry in order, in this
    process; :func:`read_table` decodes the chunks in two processes."""

    def chunks(self) -> Iterator[Any]:
        raise NotImplementedError

    def decode(self, chunk: Any) -> Iterable[RawEntry]:
        raise NotImplementedError

    def count(self, chunk: Any) -> int:
        """How many entries ``chunk`` holds (progress, ``-v``'s count): a
        source that knows it without decoding says so; this decodes."""
        return sum(1 for _ in self.decode(chunk))

    def finished(self, complete: bool) -> None:
        """Called once the entries of every chunk have been taken
        (``complete``), or when reading stopped before: with a worker, the
        chunks themselves run out earlier, while results are still coming."""

    def __iter__(self) -> Iterator[RawEntry]:
        decode = self.decode
        chunks = self.chunks()
        complete = False
        try:
            for chunk in chunks:
                yield from decode(chunk)
            complete = True
        finally:
            close_chunks(chunks)
            self.finished(complete)


class Watched(Chunked):
    """``source`` with ``seen(n)`` called in this process as each chunk of
    ``n`` entries is read and ``done(complete)`` when reading ends, complete
    or not: what watching its entries go by tells (a count, a progress
    line), without decoding them here."""

    def __init__(self, source: Chunked, seen: Callable[[int], None],
                 done: Callable[[bool], None]) -> None:
        self.source, self.seen, self.done = source, seen, done
        self.decode = source.decode  # type: ignore[method-assign]
        self.count = source.count  # type: ignore[method-assign]
        self._said = False

    def chunks(self) -> Iterator[Any]:
        chunks = self.source.chunks()
        count, seen = self.source.count, self.seen
        ran_out = False
        try:
            for chunk in chunks:
                seen(count(chunk))
                yield chunk
            ran_out = True
        finally:
            close_chunks(chunks)
            if not ran_out:  # stopped early: said now; else once every result is taken
                self._say(False)

    def finished(self, complete: bool) -> None:
        self._say(complete)
        self.source.finished(complete)

    def _say(self, complete: bool) -> None:
        if not self._said:
            self._said = True
            self.done(complete)


def close_chunks(chunks: Iterator[Any]) -> None:
    """Stop a source's chunks (a generator's ``finally`` runs now, not when
    it is collected: the cyclic collector is off during an audit)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
