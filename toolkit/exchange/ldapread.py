"""The paged read: one whole-subtree search, streamed, complete or an error.

Why it is written the way it is:

* **Completeness.** ldap3's paged-search generator stops silently when a
  server size limit cuts a paged search short (result 4 is visible only in
  ``conn.result``). A short read would become a report presented as complete,
  so this module runs the paging loop itself and checks the result code of
  every page; any failure raises :class:`~toolkit.errors.ConnectionFailure`
  (exit 3) saying how many entries had been read. The stream raises at the
  point of failure: consumers must not publish anything until it is
  exhausted.
* **Streaming.** One page (``page_size``, default 1000 = AD's MaxPageSize) is
  in memory at a time, and values are decoded from ``raw_attributes`` with
  one UTF-8 decode, not ldap3's per-syntax formatters (100k objects); on a
  plain connection the entries are decoded by :mod:`toolkit.exchange.ldapfast`.
  The next page is asked for before a page is handed over
  (:func:`~toolkit.exchange.ldaprequests.search_ahead`), with the first page's
  request sent again (:func:`~toolkit.exchange.ldaprequests.paged_search`), so the server makes it
  while the consumer works; a consumer that stops early leaves no answer
  on the line (the page asked for is taken off and dropped).
* **Referrals.** Not followed: ldap3 cannot follow them inside a paged search
  and following them silently would mix servers and credentials. A referral
  result, or a continuation reference to anything but AD's application
  partitions (DomainDnsZones, ForestDnsZones, Configuration, which hold no
  recipients and which every whole-domain search returns), is a
  ConnectionFailure naming the URL: point ``--ldap-url`` at a Global Catalog
  (port 3268/3269) or read each domain separately.
* **Never re-run.** A search cut short says how many entries and whole pages
  had arrived; it is not repeated (its entries are already with the consumer).

Connecting and binding are :mod:`toolkit.exchange.ldap`'s; this module only
needs an open connection, so tests can hand it ldap3's ``MOCK_SYNC``.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
from collections.abc import Callable, Generator, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidFilterError
from ldap3.operation.search import search_result_entry_response_to_dict_fast
from ldap3.utils.asn1 import decode_message_fast
from ldap3.utils.conv import escape_bytes, escape_filter_chars

from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange.dialects import AD_ATTRIBUTES, EX55_ATTRIBUTES, Chunked
from toolkit.exchange.dn import display_dn
from toolkit.exchange.ldaperrors import one_line, plural, transport_reason
from toolkit.exchange.ldapfast import RAW, entry_reader, fast_entries, keep, text_or_bytes
from toolkit.exchange.ldaprequests import paged_search
from toolkit.exchange.ldif import BINARY_ATTRS
from toolkit.model import AttrValue, Dialect, RawEntry

log = logging.getLogger(__name__)

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"

# Continuation references AD returns for every whole-domain search; these
# partitions hold DNS zones and configuration, never recipients.
IGNORED_REFERENCE_RDNS = frozenset({"dc=domaindnszones", "dc=forestdnszones", "cn=configuration"})

_RESULT_HINTS = {
    1: "the server refused the search (AD refuses anonymous searches: bind with --bind-dn)",
    3: "the server's time limit stopped the search",
    4: "the server's size limit stopped the search (the account needs an unlimited total for paged searches)",
    11: "the server refused the search (administrative limit; try a smaller page size)",
    12: "the server does not support a control the search needs",
    50: "the account may not read this part of the directory",
}



# ---------------------------------------------------------------- filters


def escape_filter_value(value: str | bytes) -> str:
    """Escape a value for an LDAP filter (RFC 4515): ``* ( ) \\`` and NUL.

    Every value that comes from a user (an identity, a name) must pass
    through here before it is put into a filter, or ``*`` would match
    anything and ``)(`` would rewrite the filter. ``bytes`` (a GUID) are
    escaped octet by octet.
    """
    if isinstance(value, bytes):
        return str(escape_bytes(value))
    return str(escape_filter_chars(value, "utf-8"))


def recipient_filter(dialect: Dialect | str, all_mailboxes: bool = False) -> str:
    """The server-side filter that selects the objects the audit needs.

    AD: objects with a cc:Mail proxy or target (``proxyAddresses`` and
    ``targetAddress`` have case-insensitive substring matching, so
    ``ccmail:*`` also matches ``CCMAIL:``); with ``all_mailboxes`` every
    mailbox too. Exchange 5.5: by object class, because ``otherMailbox`` has
    no substring (nor equality) matching rule there to filter on.
    """
    dialect = Dialect(dialect)
    if dialect is Dialect.AD:
        parts = ["(proxyAddresses=ccmail:*)", "(targetAddress=ccmail:*)"]
        if all_mailboxes:
            parts += ["(homeMDB=*)", "(msExchHomeServerName=*)"]
        return "(|" + "".join(parts) + ")"
    classes = ("organizationalPerson", "groupOfNames", "remote-address", "custom-recipient")
    return "(|" + "".join(f"(objectClass={c})" for c in classes) + ")"


def dialect_attributes(dialect: Dialect | str) -> tuple[str, ...]:
    """The attributes the toolkit reads in a dialect (spec: Inputs)."""
    return AD_ATTRIBUTES if Dialect(dialect) is Dialect.AD else EX55_ATTRIBUTES


# ---------------------------------------------------------------- entries and the search


def entry(dn: str, raw: dict[str, list[bytes]], kept: frozenset[str] | None = None
          ) -> RawEntry:
    """The entry of ldap3's item (its ``raw_attributes``); with ``kept``
    (lower-case names), with those attributes only: the others are checked
    for a partial range all the same."""
    attrs: dict[str, list[AttrValue]] = {}
    for name, values in raw.items():
        if not values:  # ldap3's mock lists requested-but-absent attributes; LDIF has no such thing
            continue
        base, _, options = name.partition(";")
        lname = base.lower()
        if options and any(o.lower().startswith("range=") and not o.endswith("-*")
                           for o in options.split(";")):  # fmt: skip
            raise ConnectionFailure(
                f"{dn}: the server sent only part of {base} ({options}); "
                "ranged retrieval is not supported, so the read would be incomplete"
            )
        if kept is not None and lname not in kept:
            continue
        if lname in BINARY_ATTRS:
            decoded: list[AttrValue] = [bytes(v) for v in values]
        else:
            decoded = [text_or_bytes(v) for v in values]
        attrs.setdefault(lname, []).extend(decoded)
    return RawEntry(display_dn(dn), attrs)


def raw_entries(messages: Iterable[bytes], entries: list[RawEntry] | None = None,
                kept: frozenset[str] | None = None) -> list[RawEntry]:
    """The entries of SearchResultEntry messages kept undecoded (their
    octets: :func:`~toolkit.exchange.ldapfast.fast_entries` with ``raw``),
    appended to ``entries`` in order, each exactly as the receive path
    decodes it: :func:`~toolkit.exchange.ldapfast.decode_search_entry`, else
    ldap3's decoder (what its strategy does with a SearchResultEntry without
    controls on a connection that checks no names) and :func:`entry`; with
    ``kept`` (lower-case names), each with those of its attributes only (the
    others are checked all the same: :class:`~toolkit.exchange.ldapfast.Keep`).
    An entry ``entry`` refuses raises its ConnectionFailure, the entries
    before it appended. Depends on the octets alone, so any process may run
    it (:class:`PageChunks`)."""
    if entries is None:
        entries = []
    append = entries.append
    decode = entry_reader(keep(kept))
    for message in messages:
        fast = decode(message)
        if fast is not None:
            append(fast[2])
            continue
        item = search_result_entry_response_to_dict_fast(
            decode_message_fast(message)["payload"], None, None, False)
        append(entry(item["dn"], item["raw_attributes"], kept))
    return entries


# A page of a paged read: its entries, or (pages(raw=True)) the octets of its
# plain entries, decoded by raw_entries wherever they are classified.
Page = list[RawEntry] | tuple[bytes, ...]


class PageChunks(Chunked):
    """A paged read as :class:`~toolkit.exchange.dialects.Chunked`: a chunk
    per page, the octets of its entries (:func:`pages` with ``raw``).

    Why: decoding the entries is ~15% of an audit at 100,000 people and
    classifying them ~7%; as chunks, :func:`~toolkit.exchange.dialects.read_table`
    has a forked worker decode and classify about half of the pages
    (:mod:`toolkit.parallel`) while this process receives the next. This
    process keeps the connection, the paging and every check of what the
    server says; a chunk is a tuple of one page's messages (one bytes object
    each: pickled as they came) and decoding it depends on nothing else. A
    page that holds anything but plain entries (a reference, an entry with
    controls) comes decoded already, as :func:`pages` always decodes it.
    Iterating gives the entries in order, in this process; with ``kept``
    (lower-case names), each with those attributes only (see :func:`raw_entries`).
    """

    def __init__(self, read: Callable[[], Generator[Page, None, None]],
                 kept: frozenset[str] | None = None) -> None:
        self._read = read
        self.kept = kept

    def chunks(self) -> Generator[Page, None, None]:
        return _pieces(self._read())

    def decode(self, chunk: Page) -> list[RawEntry]:
        kept = self.kept
        if chunk.__class__ is not list:
            return raw_entries(chunk, None, kept)  # type: ignore[arg-type]
        if kept is None:
            return chunk  # type: ignore[return-value]
        return [RawEntry(e.dn, {n: v for n, v in e.attrs.items() if n in kept}, e.where)
                for e in chunk]  # type: ignore[union-attr]

    def count(self, chunk: Page) -> int:
        return len(chunk)


# The most octets of messages in one chunk. The worker is handed its next
# chunk while it computes one only if the chunk fits in the task pipe (1 MB:
# toolkit.parallel); a page of 1,000 bench entries is ~880 KB, a page of
# fatter entries (long proxy lists) more. Cut into pieces of at most about
# this, every chunk of any directory fits.
PIECE = 1 << 19


def _pieces(pages: Generator[Page, None, None]) -> Generator[Page, None, None]:
    """``pages``, a page of undecoded entries of more than :data:`PIECE`
    octets cut into as many equal runs as it takes; closing this closes
    ``pages`` (the page asked for ahead is taken off the line)."""
    try:
        for page in pages:
            parts = sum(map(len, page)) // PIECE + 1 if page.__class__ is tuple else 1
            if parts == 1:
                yield page
                continue
            step = -(-len(page) // parts)
            for start in range(0, len(page), step):
                yield page[start : start + step]
    finally:
        pages.close()


def _reference_ignored(uri: str) -> bool:
    path = unquote(urlsplit(uri).path.lstrip("/")).split("?", 1)[0]
    first = path.split(",", 1)[0].strip().lower().replace(" ", "")
    return first in IGNORED_REFERENCE_RDNS


class EntryStream(itertools.chain[RawEntry]):
    """The entries of a paged read, handed over a page at a time; ``close()``
    stops the read as a generator's would.

    Why not a generator: a generator per layer (``read_ldap`` -> ``search``
    -> the paging loop) is a frame resumed per layer per entry. Here the
    paging loop makes each page's entries into a list (one comprehension over
    ldap3's response) and ``itertools.chain`` hands them over in C: Python
    code runs once per page, not once per entry and layer. Callgrind, the
    reader alone against the 10,000-people slapd: 984.0M -> 975.2M
    instructions (~950 an entry).
    """

    __slots__ = ("_pages",)
    _pages: Generator[list[RawEntry], None, None]

    def close(self) -> None:
        """Stop the read: the page generator's ``finally`` runs now (see
        :func:`pages`) and the stream is over, as a closed generator is."""
        self._pages.close()
        collections.deque(self, maxlen=0)  # the rest of the page handed over last


def stream(source: Generator[list[RawEntry], None, None]) -> EntryStream:
    """The entries of ``source`` (lists of entries) one by one, lazily: nothing
    runs until the first entry is asked for."""
    entries = EntryStream.from_iterable(source)
    entries._pages = source
    return entries


def search(
    conn: ldap3.Connection,
    base_dn: str,
    search_filter: str,
    attributes: Iterable[str] | None,
    page_size: int = 1000,
    *,
    where: str = "LDAP",
    timeout: float | None = None,
) -> EntryStream:
    """Stream a whole-subtree paged search; raise unless the server says it is complete.

    A failure says how far the search got: the entries already streamed and
    the whole pages they came in (a page cut short is never streamed).
    ``timeout`` is only for the message (the connection holds the real one).
    """
    return stream(pages(conn, base_dn, search_filter, attributes, page_size,
                        where=where, timeout=timeout))


def pages(
    conn: ldap3.Connection,
    base_dn: str,
    search_filter: str,
    attributes: Iterable[str] | None,
    page_size: int = 1000,
    *,
    where: str = "LDAP",
    timeout: float | None = None,
    raw: bool = False,
) -> Generator[Page, None, None]:
    """:func:`search`'s pages: each page's entries as one list (never an empty one).

    With ``raw``, where the connection allows it (:func:`fast_entries`), a page
    of plain entries comes as their messages' octets (a tuple of bytes) to be
    decoded by :func:`raw_entries`: the counts and checks are the same.
    """
    attrs = list(attributes) if attributes is not None else [ldap3.ALL_ATTRIBUTES]
    count = 0
    received = 0  # pages

    def progress() -> str:  # "after 2,000 entries (2 pages)": complete pages only
        return f"after {plural(count, 'entry', 'entries')} ({plural(received, 'page')})"

    send = paged_search(
        conn,
        base_dn,
        search_filter,
        page_size,
        False,
        search_scope=ldap3.SUBTREE,
        dereference_aliases=ldap3.DEREF_NEVER,
        attributes=attrs,
    )

    def ask(cookie: bytes | None) -> Callable[[], None]:
        """Send the request for a page; the function returned receives it."""
        try:
            return send(cookie)
        except (LDAPException, OSError) as exc:
            raise failed(exc) from None

    def failed(exc: BaseException) -> Exception:
        if isinstance(exc, LDAPInvalidFilterError):  # raised by the send, or by the mock's receive
            return InputError(f"bad LDAP filter {search_filter!r}: {one_line(str(exc))}")
        # Never re-run: the entries streamed so far are already with the consumer.
        return ConnectionFailure(
            f"{where}: search failed {progress()}: {transport_reason(exc, timeout)}; "
            "the read is incomplete"
        )

    with fast_entries(conn, raw):  # decoded by ldapfast, where it applies
        receive: Callable[[], None] | None = ask(None)
        try:
            while receive is not None:
                answer, receive = receive, None  # (a failed receive is not retried below)
                try:
                    answer()
                except (LDAPException, OSError) as exc:
                    raise failed(exc) from None
                received += 1
                result = conn.result or {}
                response = conn.response or ()  # (taken before the next request resets it)
                cookie = _cookie(result) if result.get("result") == 0 else None
                if cookie:  # the next page is made while this one is read (search_ahead)
                    receive = ask(cookie)
                entries: Page
                try:  # a page of entries decoded by ldapfast (nearly every page)
                    entries = [item["ccmig_entry"] for item in response]
                    stop: Exception | list[str] | None = None
                except KeyError:  # anything else in it: item by item
                    if len(response) == 1 and RAW in response[0]:  # plain entries, undecoded
                        entries, stop = response[0][RAW], None
                    else:
                        entries, stop = _page_entries(response)
                if entries:
                    count += len(entries)
                    yield entries
                if stop is not None:  # what ended the page, once the entries before it are streamed
                    if isinstance(stop, Exception):
                        raise stop
                    raise ConnectionFailure(
                        f"{where}: the directory continues on another server ({', '.join(stop)}) "
                        f"{progress()}; referrals are not followed: search a Global "
                        "Catalog or each domain"
                    )
                _check_page(result, base_dn, where, count, progress())
            log.debug("%s: %d entries in %d page(s)", where, count, received)
        finally:
            if receive is not None:  # the consumer stopped: take the page asked for off the line
                with contextlib.suppress(LDAPException, OSError):
                    receive()


def _page_entries(response: Iterable[dict[str, Any]]
                  ) -> tuple[list[RawEntry], Exception | list[str] | None]:
    """The entries of a page, up to what stops the read: an entry :func:`entry`
    refuses (its ConnectionFailure) or a continuation reference to follow
    (its URIs); else None after them."""
    entries: list[RawEntry] = []
    for item in response:
        fast = item.get("ccmig_entry")  # an entry decoded by ldapfast
        if fast is not None:
            entries.append(fast)
            continue
        run = item.get(RAW)  # entries kept undecoded (pages' raw): decoded here
        if run is not None:
            try:
                raw_entries(run, entries)
            except ConnectionFailure as exc:
                return entries, exc
            continue
        kind = item.get("type")
        if kind == "searchResEntry":
            try:
                entries.append(entry(item["dn"], item["raw_attributes"]))
            except ConnectionFailure as exc:
                return entries, exc
        elif kind == "searchResRef":
            uris = item.get("uri") or []
            if all(_reference_ignored(u) for u in uris):
                log.debug("ignored continuation reference %s", ", ".join(uris))
                continue
            return entries, list(uris)
    return entries, None


def _cookie(result: dict[str, Any]) -> bytes | None:
    """The paged-results cookie of a page's result (empty or None: the last page)."""
    try:
        return result["controls"][PAGED_RESULTS_OID]["value"]["cookie"]  # type: ignore[no-any-return]
    except (KeyError, TypeError):
        return None


def _check_page(result: dict[str, Any], base_dn: str, where: str, count: int,
                progress: str) -> None:
    """Raise unless a page's result says it is complete (checked once its
    entries are streamed: ``count`` entries so far, this page's included)."""
    code = result.get("result")
    if code is None:  # never treat "no answer" as success
        raise ConnectionFailure(f"{where}: no search result from the server {progress}")
    if code == 10:
        refs = ", ".join(result.get("referrals") or []) or "?"
        raise ConnectionFailure(
            f"{where}: server referred the search for {base_dn!r} to {refs}; "
            "referrals are not followed: connect to that server"
        )
    if code == 32 and count == 0:
        raise InputError(
            f"{base_dn!r} does not exist on {where} or is not visible to this account",
            "--base-dn",
        )
    if code != 0:
        hint = _RESULT_HINTS.get(code, "the search did not complete")
        message = one_line(str(result.get("message") or ""))
        raise ConnectionFailure(
            f"{where}: search incomplete {progress}: {hint} "
            f"({result.get('description', '?')}, code {code}{': ' + message if message else ''})"
        )
