"""Exchange remote PowerShell (pypsrp): addresses, item counts, recipients.

One runspace pool per session, configuration ``Microsoft.Exchange``. Only
cmdlets and parameters are sent (the endpoint runs in no-language mode, and
user data never becomes script text).

Reads are streamed: all identities of one read go into ONE pipeline as
pipeline input (Exchange's ``-Identity`` takes a single value): one Command,
as few Send messages as the WSMan envelope allows (pypsrp fills each to the
negotiated MaxEnvelopeSize), Receives that pull output as the server makes
it, one Signal. ``Select-Object -Property`` asks only for the properties
used, because every unprojected Exchange object carries about a hundred.
Each object is reduced to a small record as it arrives, so memory grows with
the answers kept, not with the wire objects.

Exchange reports an unknown identity as a *non-terminating* error: the
pipeline completes and the record is only in the error stream. Results are
therefore matched back to identities explicitly: errors by the identity
they name, objects by position among the rest - from the front and from
the back - and every object must answer to the identity it is given to.
Only the identities that cannot be placed with certainty are asked again,
one at a time: slower, never wrong.

Failures:

- A read whose transport fails (HTTP 5xx, connection reset, timeout, WSMan
  fault) keeps the answers it could place and asks again for the rest, in a
  new pipeline; each *batch* (``batch_size`` identities of the read, the
  unit of retry) is retried at most once. A second failure of the same
  batch is a :class:`~toolkit.errors.ConnectionFailure` (exit 3).
- A write (any cmdlet but ``Get-*``) is never retried: when its transport
  fails after the command was sent, Exchange may or may not have made the
  change, and :class:`OutcomeUnknown` says so; the caller (apply/undo) settles
  it later by reading the current state.
- Terminating errors are :class:`CommandFailed`; authentication and TLS
  failures are ConnectionFailure at once, with the server's message on one
  line, never the password.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange import psobjects as pso
from toolkit.exchange.pssettings import AUTH_METHODS, ExchangeSettings
from toolkit.model import RawEntry
from toolkit.text import fold

log = logging.getLogger(__name__)


class _Reported(logging.Filter):
    """Drop pypsrp's own reports of failures this module reports on one line itself
    (an ERROR for every non-WSMan HTTP error, a traceback for every timeout)."""

    _ours = ("Failed to parse WSManFault message", "during WSMan request",
             "during initial authentication request")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in str(record.msg) for text in self._ours)


logging.getLogger("pypsrp.wsman").addFilter(_Reported())
__all__ = ["AUTH_METHODS", "AddressResult", "CommandFailed", "ErrorInfo", "ExchangeSession",
           "ExchangeSettings", "Invocation", "OutcomeUnknown", "StatsResult"]

_CMDLET = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+$")
_RUNNING, _FAILED = 1, 5  # pypsrp PSInvocationState values
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ZERO_GUID = "00000000-0000-0000-0000-000000000000"
# Identities per pipeline. PowerShell endpoints cap the input one command may
# receive (MaximumReceivedDataSizePerCommandMB, 50 MB by default); 50,000 DNs
# are about 8 MB of input. Larger reads use several pipelines.
PIPELINE_IDENTITIES = 50_000

# What each read asks Exchange for (Select-Object -Property).
ADDRESS_PROPERTIES = (
    "DistinguishedName", "Name", "Alias", "Guid", "ExchangeGuid", "RecipientType",
    "EmailAddresses", "LegacyExchangeDN", "SamAccountName",
)
STATS_PROPERTIES = ("ItemCount", "TotalItemSize", "LegacyDN", "MailboxGuid")
RECIPIENT_PROPERTIES = (
    "DistinguishedName", "RecipientType", "Name", "DisplayName", "FirstName", "LastName",
    "Alias", "SamAccountName", "UserPrincipalName", "PrimarySmtpAddress", "EmailAddresses",
    "ExternalEmailAddress", "LegacyExchangeDN", "Database", "ServerName", "Guid",
)
_NAMED = (
    re.compile(r"object '(?P<id>.*)' couldn't be found", re.S),
    re.compile(r"because '(?P<id>.*)' matches multiple entries", re.S),
)

Commands = Sequence[tuple[str, Sequence[tuple[str, Any]]]]


class CommandFailed(ConnectionFailure):
    """Exchange ended a command with a terminating error (its outcome is known: not made)."""


class OutcomeUnknown(ConnectionFailure):
    """A write was sent but its answer was lost: Exchange may or may not have made it."""


@dataclass(slots=True)
class AddressResult:
    """EmailAddresses of one identity, in the order Exchange returned them."""

    identity: str
    dn: str | None
    found: bool
    addresses: list[str]
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row ``ccmig addresses`` prints (spec)."""
        return {"identity": self.identity, "dn": self.dn, "found": self.found,
                "addresses": list(self.addresses)}


@dataclass(slots=True)
class StatsResult:
    """Get-MailboxStatistics of one identity; ``item_count`` None when unknown."""

    identity: str
    dn: str | None
    found: bool
    item_count: int | None
    error: str | None = None
    total_bytes: int | None = None


@dataclass(slots=True)
class ErrorInfo:
    """One error record, reduced to what a report needs."""

    message: str
    target: str | None = None
    fqid: str | None = None
    reason: str | None = None

    def identity(self) -> str | None:
        """The identity the record is about: its TargetObject, else the one it names."""
        if self.target:
            return self.target
        for pattern in _NAMED:
            m = pattern.search(self.message)
            if m:
                return m.group("id")
        return None


@dataclass(slots=True)
class Invocation:
    """What one pipeline produced (it completed: terminating errors raise)."""

    output: list[Any]
    errors: list[ErrorInfo]
    warnings: list[str]


@dataclass(slots=True)
class _Recipient:
    """A Get-Recipient answer, reduced to what the reads need."""

    dn: str | None
    kind: str | None
    addresses: list[str]
    keys: tuple[str, ...]  # ExchangeGuid, LegacyExchangeDN: how statistics are matched back
    names: frozenset[str]  # folded names the object answers to


@dataclass(slots=True)
class _Stats:
    """A Get-MailboxStatistics answer, reduced."""

    keys: tuple[str, ...]  # folded MailboxGuid, LegacyDN
    item_count: int | None
    total_bytes: int | None


class _Failed(Exception):
    """The pipeline ended in the Failed state (a terminating error)."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


class _Lost(Exception):
    """The transport failed while a pipeline ran; ``failure`` says how, on one line."""

    def __init__(self, failure: ConnectionFailure, retryable: bool) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.retryable = retryable


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _place(identities: Sequence[str], output: Sequence[Any], errors: Sequence[ErrorInfo],
           answers: Callable[[str, Any], bool], complete: bool = True
           ) -> list[tuple[Any, str | None] | None]:
    """Match one pipeline's results to its identities; None where unsure.

    Each identity yields exactly one object or one error, in input order.
    Errors are matched by the identity they name. The remaining identities
    take the objects by position, from the front while each object answers
    to its identity and - if the pipeline is ``complete`` - from the back the
    same way. Whatever lies between (an identity that named several objects,
    an error that names no input, an object that does not show the name it
    was asked by) is left unsure, to be asked alone: a shift in the stream
    costs requests for the identities it spans, not the whole read.
    """
    results: list[tuple[Any, str | None] | None] = [None] * len(identities)
    slots: dict[str, list[int]] = {}
    for i, ident in enumerate(identities):
        slots.setdefault(fold(ident), []).append(i)
    failed: set[int] = set()
    for error in errors:
        named = error.identity()
        waiting = slots.get(fold(named)) if named is not None else None
        if waiting:
            i = waiting.pop(0)
            failed.add(i)
            results[i] = (None, error.message)
    remaining = [i for i in range(len(identities)) if i not in failed]
    front = 0
    while (front < len(remaining) and front < len(output)
           and answers(identities[remaining[front]], output[front])):
        results[remaining[front]] = (output[front], None)
        front += 1
    if complete:
        a, b = len(remaining) - 1, len(output) - 1
        while a >= front and b >= front and answers(identities[remaining[a]], output[b]):
            results[remaining[a]] = (output[b], None)
            a, b = a - 1, b - 1
    return results


def _attribute(identities: Sequence[str], output: Sequence[Any],
               errors: Sequence[ErrorInfo]) -> list[tuple[Any, str | None]] | None:
    """Match a whole batch's results to its identities, or None when any is unsure."""
    placed = _place(identities, output, errors, lambda i, o: pso.plausible(i, o, fold))
    if any(p is None for p in placed):
        return None
    return placed  # type: ignore[return-value]


def _answers(identity: str, record: _Recipient) -> bool:
    return pso.answers_to(identity, record.names, fold)


def _recipient_record(obj: Any) -> _Recipient:
    keys = tuple(fold(k) for k in (pso.text(pso.prop(obj, "ExchangeGuid")),
                                   pso.text(pso.prop(obj, "LegacyExchangeDN")))
                 if k and k != _ZERO_GUID)
    return _Recipient(pso.text(pso.prop(obj, "DistinguishedName")),
                      pso.text(pso.prop(obj, "RecipientType")),
                      pso.addresses(pso.prop(obj, "EmailAddresses")), keys,
                      pso.answer_names(obj, fold))


def _stats_record(obj: Any) -> _Stats:
    keys = tuple(fold(k) for k in (pso.text(pso.prop(obj, "MailboxGuid")),
                                   pso.text(pso.prop(obj, "LegacyDN"))) if k)
    size = pso.prop(obj, "TotalItemSize")
    return _Stats(keys, pso.integer(pso.prop(obj, "ItemCount")),
                  pso.byte_count(size) if size is not None else None)


def _collect(into: list[Any], convert: Callable[[Any], Any]) -> Callable[[Any], None]:
    """A callback that reduces each arriving object and keeps the result."""
    return lambda obj: into.append(convert(obj))


def _one_line(message: str, secret: str | None = None) -> str:
    text = " ".join(str(message).split())
    if secret:
        text = text.replace(secret, "***")
    return text if len(text) <= 600 else text[:597] + "..."


def _is_missing_select(info: ErrorInfo) -> bool:
    return "select-object" in info.message.lower() and (
        "CommandNotFound" in (info.fqid or "") or "CommandNotFound" in (info.reason or "")
        or "not recognized" in info.message)


class ExchangeSession:
    """One remote PowerShell session to Exchange (context manager).

    ``transport`` replaces pypsrp's HTTP transport (an object with
    ``send(bytes) -> bytes``, ``endpoint`` and ``close()``): tests use it to
    run the full protocol without a socket.
    """

    def __init__(self, settings: ExchangeSettings, *, transport: Any = None) -> None:
        self.settings = settings
        self._transport = transport
        self._wsman: Any = None
        self._pool: Any = None
        self._select: bool | None = None  # Select-Object available? None: not yet known
        self._seen: dict[str, _Recipient] = {}  # folded identity -> Get-Recipient answer
        self._suspect = False  # the pool may be dead: open a new one before the next read
        self.retries = 0  # reads asked again after a transport failure (for tests and logs)

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> ExchangeSession:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> ExchangeSession:
        if self._pool is not None:
            return self
        from pypsrp.powershell import RunspacePool
        from pypsrp.wsman import WSMan

        try:
            wsman = WSMan(**self.settings.wsman_arguments())
        except (ValueError, ImportError) as exc:
            raise InputError(_one_line(str(exc)), "--exchange-auth") from None
        if self._transport is not None:
            wsman.transport = self._transport
        pool = RunspacePool(wsman, configuration_name=self.settings.configuration_name)
        try:
            pool.open()
        except KeyboardInterrupt:
            raise
        except ImportError as exc:  # e.g. CredSSP without requests-credssp: a setup problem
            wsman.close()
            raise InputError(_one_line(str(exc)), "--exchange-auth") from None
        except Exception as exc:
            wsman.close()
            raise self._failure(exc) from None
        self._wsman, self._pool = wsman, pool
        self._suspect = False
        self._fit_envelope(wsman, pool)
        log.info("PowerShell session open: %s (%s)", self.settings.uri,
                 self.settings.configuration_name)
        return self

    @staticmethod
    def _fit_envelope(wsman: Any, pool: Any) -> None:
        """Never send more than the server accepts (WinRM's MaxEnvelopeSizekb).

        pypsrp assumes 500 KB once the pool is open (the default since Windows
        Server 2012); WinRM 2.0 (Server 2008 R2, Exchange 2010's platform)
        defaults to 150 KB and answers a larger request with HTTP 413. The
        setting is read once (one Get); a server that does not answer it keeps
        pypsrp's size.
        """
        try:
            config = wsman.get_server_config()
            value = config.find("{http://schemas.microsoft.com/wbem/wsman/1/config}Config/"
                                "{http://schemas.microsoft.com/wbem/wsman/1/config}"
                                "MaxEnvelopeSizekb")
            limit = int((value.text or "").strip()) * 1024 if value is not None else 0
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # not offered (an IIS-hosted endpoint may refuse it)
            log.debug("could not read the server's MaxEnvelopeSizekb: %s", exc)
            return
        if 8192 <= limit < wsman.max_envelope_size:
            log.info("server accepts envelopes of at most %d bytes", limit)
            wsman.update_max_payload_size(limit)
            pool._fragmenter.max_size = wsman.max_payload_size - 21  # its fragment header

    def close(self) -> None:
        """Close the runspace pool (WSMan Delete); a failure here loses no data."""
        pool, wsman = self._pool, self._wsman
        self._pool = self._wsman = None
        if pool is None:
            return
        try:
            pool.close()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            log.warning("closing the PowerShell session failed: %s",
                        _one_line(str(exc), self.settings.password))
        finally:
            wsman.close()

    # -- public reads ------------------------------------------------------------

    def email_addresses(self, identities: Iterable[str]) -> list[AddressResult]:
        """EmailAddresses of each identity, in input order (Get-Recipient)."""
        ids = list(identities)
        out: list[AddressResult] = []
        for ident, (rec, error) in zip(ids, self._lookup(ids), strict=True):
            if rec is None:
                out.append(AddressResult(ident, None, False, [], error))
            else:
                out.append(AddressResult(ident, rec.dn, True, list(rec.addresses)))
        return out

    def mailbox_stats(self, identities: Iterable[str]) -> list[StatsResult]:
        """ItemCount (and TotalItemSize) of each identity's mailbox, in input order.

        Identities are resolved with Get-Recipient first (reusing earlier
        lookups); Get-MailboxStatistics then gets the DNs in one pipeline, and
        its objects are matched back by MailboxGuid/LegacyDN. A mailbox nobody
        logged on to has no statistics: ``found`` with ``item_count`` None.
        """
        ids = list(identities)
        results: list[StatsResult | None] = [None] * len(ids)
        wanted: dict[str, int] = {}  # folded DN -> index into `asks`
        asks: list[tuple[str, tuple[str, ...]]] = []
        pending: list[tuple[int, str]] = []
        for i, (rec, error) in enumerate(self._lookup(ids)):
            if rec is None:
                results[i] = StatsResult(ids[i], None, False, None, error)
                continue
            dn = rec.dn or ids[i]
            if rec.kind and rec.kind != "UserMailbox":
                results[i] = StatsResult(ids[i], dn, False, None,
                                         f"not a mailbox (RecipientType {rec.kind})")
                continue
            if fold(dn) not in wanted:
                wanted[fold(dn)] = len(asks)
                asks.append((dn, rec.keys))
            pending.append((i, dn))
        answers = self._statistics(asks) if asks else []
        for i, dn in pending:
            count, total, error = answers[wanted[fold(dn)]]
            results[i] = StatsResult(ids[i], dn, True, count, error, total)
        return [r for r in results if r is not None]

    def iter_recipients(self) -> Iterator[RawEntry]:
        """Every recipient (``Get-Recipient -ResultSize Unlimited``) as an AD RawEntry.

        Streams: objects are yielded as they arrive. Any error record makes
        the read incomplete and raises ConnectionFailure (never a partial
        list presented as whole). A transport failure before the first object
        is retried once; after it, the read fails saying how far it got.
        """
        count = 0
        commands = [("Get-Recipient", [("ResultSize", "Unlimited")])]
        for obj in self._stream(commands, RECIPIENT_PROPERTIES):
            count += 1
            try:
                yield pso.raw_entry(obj, f"{self.settings.uri} Get-Recipient #{count}")
            except pso.WireFormatError as exc:
                raise ConnectionFailure(
                    f"unexpected recipient #{count} from {self.settings.uri}: {exc}") from None
        log.info("Get-Recipient returned %d recipient(s)", count)

    # -- public: any cmdlet --------------------------------------------------------

    def run(self, cmdlet: str, parameters: Mapping[str, Any] | None = None, *,
            input: Sequence[Any] | None = None,
            select: Sequence[str] | None = None) -> Invocation:
        """Run one cmdlet with parameters (never script text); errors are returned.

        Values travel as typed PSRP objects (a dict is a Hashtable, a list an
        array), so no user data is ever parsed by PowerShell. A ``Get-*``
        cmdlet is a read (retried once after a transport failure); anything
        else is a write, never retried: a lost answer raises
        :class:`OutcomeUnknown`. A terminating error raises :class:`CommandFailed`.
        """
        if not _CMDLET.match(cmdlet):
            raise InputError(f"not a cmdlet name: {cmdlet!r}")
        commands = [(cmdlet, list((parameters or {}).items()))]
        if cmdlet.lower().startswith("get-"):
            return self._read_all(commands, input, select, cmdlet)
        self._seen.clear()
        return self._write(commands, input, select)

    def update_email_addresses(self, identity: str, add: Sequence[str] = (),
                               remove: Sequence[str] = (),
                               cmdlet: str = "Set-Mailbox") -> ErrorInfo | None:
        """``Set-Mailbox -Identity X -EmailAddresses @{Add=...; Remove=...}``; the error if any."""
        change: dict[str, list[str]] = {}
        if add:
            change["Add"] = list(add)
        if remove:
            change["Remove"] = list(remove)
        result = self.run(cmdlet, {"Identity": identity, "EmailAddresses": change})
        return result.errors[0] if result.errors else None

    def remove_mail_contact(self, identity: str) -> ErrorInfo | None:
        """``Remove-MailContact -Identity X -Confirm:$false``; the error if any."""
        result = self.run("Remove-MailContact", {"Identity": identity, "Confirm": False})
        return result.errors[0] if result.errors else None

    # -- identity lookups ------------------------------------------------------------

    def _lookup(self, ids: Sequence[str]) -> list[tuple[_Recipient | None, str | None]]:
        """Get-Recipient answers for ``ids`` (cached; each distinct identity asked once)."""
        results: list[tuple[_Recipient | None, str | None] | None] = [None] * len(ids)
        unique: dict[str, int] = {}
        asks: list[str] = []
        for i, ident in enumerate(ids):
            key = fold(ident) if ident else ""
            if not key:
                results[i] = (None, "empty identity")
            elif key in self._seen:
                results[i] = (self._seen[key], None)
            elif key not in unique:
                unique[key] = len(asks)
                asks.append(ident)
        try:
            answers = self._resolve(asks) if asks else []
        except pso.WireFormatError as exc:
            raise ConnectionFailure(f"unexpected data from {self.settings.uri}: {exc}") from None
        for key, j in unique.items():
            if answers[j][0] is not None:
                self._seen[key] = answers[j][0]
        return [r if r is not None else answers[unique[fold(ids[i])]]
                for i, r in enumerate(results)]

    def _resolve(self, asks: Sequence[str]) -> list[tuple[_Recipient | None, str | None]]:
        """Ask Get-Recipient about every identity, streamed; place the answers."""
        answers: list[tuple[_Recipient | None, str | None] | None] = [None] * len(asks)
        for part in _chunks(range(len(asks)), PIPELINE_IDENTITIES):
            todo = list(part)
            retried: set[int] = set()
            while todo:
                batch = [asks[i] for i in todo]
                outs: list[_Recipient] = []
                errs: list[ErrorInfo] = []
                lost = self._pipe_read([("Get-Recipient", [])], batch, ADDRESS_PROPERTIES,
                                       _collect(outs, _recipient_record), errs.append)
                placed = _place(batch, outs, errs, _answers, complete=lost is None)
                for k, res in enumerate(placed):
                    if res is not None:
                        answers[todo[k]] = res
                left = [todo[k] for k, res in enumerate(placed) if res is None]
                if lost is None:
                    if left:
                        log.info("could not match Exchange's answers to %d of %d identities "
                                 "with certainty; asking those one at a time", len(left),
                                 len(batch))
                    for i in left:
                        answers[i] = self._lookup_one(asks[i])
                    break
                self._retry_or_fail("Get-Recipient", todo, placed, retried, lost)
                todo = left
        return [a if a is not None else (None, "not looked up") for a in answers]

    def _lookup_one(self, identity: str) -> tuple[_Recipient | None, str | None]:
        inv = self._read_all([("Get-Recipient", [("Identity", identity)])], None,
                             ADDRESS_PROPERTIES, "Get-Recipient", _recipient_record)
        if inv.errors:
            return None, inv.errors[0].message
        if len(inv.output) == 1:
            return inv.output[0], None
        if not inv.output:
            return None, inv.warnings[0] if inv.warnings else "Exchange returned no object"
        return None, f"identity matches {len(inv.output)} objects"

    def _statistics(self, asks: Sequence[tuple[str, tuple[str, ...]]]
                    ) -> list[tuple[int | None, int | None, str | None]]:
        """(item count, bytes, note) per mailbox DN: one streamed Get-MailboxStatistics."""
        answers: list[tuple[int | None, int | None, str | None] | None] = [None] * len(asks)
        try:
            for part in _chunks(range(len(asks)), PIPELINE_IDENTITIES):
                todo = list(part)
                retried: set[int] = set()
                while todo:
                    batch = [asks[i] for i in todo]
                    outs: list[_Stats] = []
                    errs: list[ErrorInfo] = []
                    warns: list[str] = []
                    lost = self._pipe_read([("Get-MailboxStatistics", [])],
                                           [dn for dn, _ in batch], STATS_PROPERTIES,
                                           _collect(outs, _stats_record),
                                           errs.append, warns)
                    placed, unsure = self._place_stats(batch, outs, errs, warns)
                    for k, res in enumerate(placed):
                        if res is not None:
                            answers[todo[k]] = res
                    left = [todo[k] for k, res in enumerate(placed) if res is None]
                    if lost is None:
                        free = [w for w in warns if not _GUID.search(w)]
                        for i in left:
                            dn = asks[i][0]
                            if unsure:  # answers we could not place: ask this one alone
                                answers[i] = self._stats_one(dn)
                            else:
                                note = free[0] if len(free) == 1 else None
                                answers[i] = (None, None, note or (
                                    "Exchange returned no statistics (has the mailbox ever "
                                    "been logged on to?)"))
                        break
                    self._retry_or_fail("Get-MailboxStatistics", todo, placed, retried, lost)
                    todo = left
        except pso.WireFormatError as exc:
            raise ConnectionFailure(f"unexpected data from {self.settings.uri}: {exc}") from None
        return [a if a is not None else (None, None, "not asked") for a in answers]

    @staticmethod
    def _place_stats(batch: Sequence[tuple[str, tuple[str, ...]]], outs: Sequence[_Stats],
                     errs: Sequence[ErrorInfo], warns: Sequence[str]
                     ) -> tuple[list[tuple[int | None, int | None, str | None] | None], bool]:
        """Statistics matched by key, errors by DN, no-data warnings by mailbox GUID.

        Returns the placed answers and whether anything arrived that could
        not be placed (then the unplaced mailboxes must be asked alone).
        """
        by_key: dict[str, int] = {}
        for k, (_, keys) in enumerate(batch):
            for key in keys:
                by_key.setdefault(key, k)
        by_dn: dict[str, int] = {}
        for k, (dn, _) in enumerate(batch):
            by_dn.setdefault(fold(dn), k)
        placed: list[tuple[int | None, int | None, str | None] | None] = [None] * len(batch)
        unsure = False
        for stat in outs:
            k = next((by_key[key] for key in stat.keys if key in by_key), None)
            if k is None or placed[k] is not None:
                unsure = True
            else:
                placed[k] = (stat.item_count, stat.total_bytes, None)
        for error in errs:
            k = by_dn.get(fold(error.identity() or ""))
            if k is None or placed[k] is not None:
                unsure = True
            else:
                placed[k] = (None, None, error.message)
        for warning in warns:
            for guid in _GUID.findall(warning):
                k = by_key.get(fold(guid))
                if k is not None and placed[k] is None:
                    placed[k] = (None, None, warning)
        return placed, unsure

    def _stats_one(self, dn: str) -> tuple[int | None, int | None, str | None]:
        inv = self._read_all([("Get-MailboxStatistics", [("Identity", dn)])], None,
                             STATS_PROPERTIES, "Get-MailboxStatistics", _stats_record)
        if inv.errors:
            return None, None, inv.errors[0].message
        if len(inv.output) == 1:
            return inv.output[0].item_count, inv.output[0].total_bytes, None
        return None, None, inv.warnings[0] if inv.warnings else "Exchange returned no statistics"

    # -- retries -----------------------------------------------------------------------

    def _retry_or_fail(self, cmdlet: str, todo: Sequence[int],
                       placed: Sequence[Any | None], retried: set[int], lost: _Lost) -> None:
        """After a transport failure: retry the batch it hit, once; else exit 3."""
        answered = [k for k, res in enumerate(placed) if res is not None]
        at = min(max(answered) + 1 if answered else 0, len(todo) - 1)
        size = self.settings.batch_size
        batch = todo[at] // size
        first, last = batch * size, batch * size + size - 1
        if not lost.retryable or batch in retried:
            again = " again" if batch in retried else ""
            raise ConnectionFailure(
                f"{cmdlet} failed{again} for identities {first + 1}-{last + 1} (batch "
                f"{batch + 1}): {lost.failure}") from None
        retried.add(batch)
        self.retries += 1
        log.warning("%s: %s; asking again for the %d identities not yet answered (batch %d, "
                    "retried once)", cmdlet, lost.failure, len(todo) - len(answered), batch + 1)
        self._recover()

    def _recover(self) -> None:
        """Before a retry: a pool that may be dead is replaced by a new one."""
        if not self._suspect:
            return
        pool, wsman = self._pool, self._wsman
        self._pool = self._wsman = None
        self._suspect = False
        try:
            if pool is not None:
                pool.close()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the old shell may be gone already
            log.debug("closing the old runspace pool failed: %s", exc)
        finally:
            if wsman is not None:
                wsman.close()
        log.info("opening a new PowerShell session after a transport failure")
        self.open()

    # -- invocation ------------------------------------------------------------------

    def _ensure_open(self) -> Any:
        if self._pool is None:
            self.open()
        return self._pool

    def _powershell(self, commands: Commands) -> Any:
        from pypsrp.powershell import PowerShell

        ps = PowerShell(self._ensure_open())
        for name, params in commands:
            ps.add_cmdlet(name)
            for pname, value in params:
                ps.add_parameter(pname, value)
        return ps

    def _commands(self, commands: Commands, select: Sequence[str] | None
                  ) -> list[tuple[str, Sequence[tuple[str, Any]]]]:
        full = list(commands)
        if select and self._select is not False:
            full.append(("Select-Object", [("Property", list(select))]))
        return full

    def _pipe(self, commands: Commands, input: Sequence[Any] | None,
              select: Sequence[str] | None, on_output: Callable[[Any], None],
              on_error: Callable[[ErrorInfo], None], warnings: list[str] | None = None) -> None:
        """Run one pipeline, handing over output and errors as each Receive brings them.

        All ``input`` goes in after the Command: pypsrp packs the input
        messages into as few Send requests as the envelope size allows.
        Raises :class:`_Failed` (terminating error) or :class:`_Lost`
        (transport); a failure to release the finished pipeline is only logged.
        """
        self._recover()
        ps = self._powershell(self._commands(commands, select))
        failure: ErrorInfo | None = None
        try:
            ps.begin_invoke(input=(whole for whole in [list(input)]) if input else None)
            while True:
                failure = self._drain(ps, on_output, on_error, warnings) or failure
                if ps.state != _RUNNING:
                    break
                ps.poll_invoke()
            failure = self._drain(ps, on_output, on_error, warnings) or failure
        except (KeyboardInterrupt, GeneratorExit, pso.WireFormatError):
            self._stop(ps)
            raise
        except Exception as exc:
            self._abandon(ps)
            raise _Lost(self._failure(exc), self._retryable(exc)) from None
        try:
            ps.close()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # everything was received: the answer stands
            self._suspect = True
            log.warning("releasing a finished pipeline failed: %s",
                        _one_line(str(self._failure(exc)), self.settings.password))
        if ps.state == _FAILED:
            raise _Failed(failure or ErrorInfo("the pipeline failed"))

    def _drain(self, ps: Any, on_output: Callable[[Any], None],
               on_error: Callable[[ErrorInfo], None],
               warnings: list[str] | None) -> ErrorInfo | None:
        """Hand over what arrived; the last error when the pipeline failed."""
        errors, ps.streams.error = ps.streams.error, []
        infos = [self._info(e) for e in errors]
        last = infos.pop() if ps.state == _FAILED and infos else None
        for info in infos:
            on_error(info)
        if ps.streams.warning:
            shown, ps.streams.warning = ps.streams.warning, []
            for w in shown:
                text = _one_line(str(getattr(w, "message", w)))
                log.info("Exchange warning: %s", text)
                if warnings is not None:
                    warnings.append(text)
        if ps.output:
            batch, ps.output = ps.output, []
            for obj in batch:
                on_output(obj)
        return last

    def _pipe_read(self, commands: Commands, input: Sequence[Any] | None,
                   select: Sequence[str] | None, on_output: Callable[[Any], None],
                   on_error: Callable[[ErrorInfo], None],
                   warnings: list[str] | None = None) -> _Lost | None:
        """A read pipeline: the transport failure (for the caller to retry), or None.

        A terminating error is a :class:`CommandFailed`; an endpoint that does
        not offer Select-Object is asked again for whole objects.
        """
        while True:
            try:
                self._pipe(commands, input, select, on_output, on_error, warnings)
                return None
            except _Lost as lost:
                return lost
            except _Failed as failed:
                if select and self._select is not False and _is_missing_select(failed.info):
                    log.warning("%s does not offer Select-Object; reading whole objects",
                                self.settings.uri)
                    self._select = False
                    continue
                raise CommandFailed(
                    f"{commands[0][0]} failed on {self.settings.uri}: {failed.info.message}"
                ) from None

    def _read_all(self, commands: Commands, input: Sequence[Any] | None,
                  select: Sequence[str] | None, what: str,
                  convert: Callable[[Any], Any] = lambda obj: obj) -> Invocation:
        """One whole read, asked again once if its transport fails."""
        for attempt in (1, 2):
            outs: list[Any] = []
            errs: list[ErrorInfo] = []
            warns: list[str] = []
            lost = self._pipe_read(commands, input, select,
                                   _collect(outs, convert), errs.append, warns)
            if lost is None:
                return Invocation(outs, errs, warns)
            if attempt == 2 or not lost.retryable:
                again = " again" if attempt == 2 else ""
                raise ConnectionFailure(f"{what} failed{again}: {lost.failure}") from None
            self.retries += 1
            log.warning("%s: %s; asking again (once)", what, lost.failure)
            self._recover()
        raise AssertionError("unreachable")

    def _write(self, commands: Commands, input: Sequence[Any] | None,
               select: Sequence[str] | None) -> Invocation:
        """One write: never retried; a lost answer is an :class:`OutcomeUnknown`."""
        self._recover()  # a failure here is before anything was sent: plainly exit 3
        self._ensure_open()
        outs: list[Any] = []
        errs: list[ErrorInfo] = []
        warns: list[str] = []
        name = commands[0][0]
        try:
            self._pipe(commands, input, select, outs.append, errs.append, warns)
        except _Lost as lost:
            self._suspect = True
            raise OutcomeUnknown(
                f"{name} on {self.settings.uri}: the answer was lost ({lost.failure}); "
                "Exchange may or may not have made the change") from None
        except _Failed as failed:
            raise CommandFailed(
                f"{name} failed on {self.settings.uri}: {failed.info.message}") from None
        return Invocation(outs, errs, warns)

    def _stream(self, commands: Commands, select: Sequence[str]) -> Iterator[Any]:
        """Yield a pipeline's output as it arrives; errors make the read fail."""
        attempts = 0
        while True:
            self._recover()
            ps = self._powershell(self._commands(commands, select))
            yielded = 0
            errors: list[ErrorInfo] = []
            try:
                ps.begin_invoke()
                while True:
                    if ps.streams.error:
                        new, ps.streams.error = ps.streams.error, []
                        errors += [self._info(e) for e in new]
                    if ps.output:
                        batch, ps.output = ps.output, []
                        for obj in batch:
                            yielded += 1
                            yield obj
                    if ps.state != _RUNNING:
                        break
                    ps.poll_invoke()
            except (KeyboardInterrupt, GeneratorExit):
                self._stop(ps)
                raise
            except Exception as exc:
                self._abandon(ps)
                failure = self._failure(exc)
                if yielded or attempts or not self._retryable(exc):
                    where = f" after {yielded} object(s)" if yielded else ""
                    again = " again" if attempts else ""
                    raise ConnectionFailure(f"{commands[0][0]} failed{again}{where}, so the "
                                            f"result is incomplete: {failure}") from None
                attempts += 1
                self.retries += 1
                log.warning("%s: %s; asking again (once)", commands[0][0], failure)
                self._recover()
                continue
            errors += [self._info(e) for e in ps.streams.error]
            warnings = [_one_line(str(getattr(w, "message", w))) for w in ps.streams.warning]
            try:
                ps.close()
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                self._suspect = True
                log.warning("releasing a finished pipeline failed: %s", self._failure(exc))
            if ps.state == _FAILED:
                info = errors[-1] if errors else ErrorInfo("the pipeline failed")
                if not yielded and self._select is not False and _is_missing_select(info):
                    log.warning("%s does not offer Select-Object; reading whole objects",
                                self.settings.uri)
                    self._select = False
                    continue
                raise CommandFailed(f"{commands[0][0]} failed on {self.settings.uri}: "
                                    f"{info.message}") from None
            if errors:
                raise ConnectionFailure(
                    f"{commands[0][0]} reported {len(errors)} error(s), so the result is "
                    f"incomplete: {errors[0].message}")
            truncated = [w for w in warnings if "ResultSize" in w]
            if truncated:
                raise ConnectionFailure(f"{commands[0][0]} returned a truncated result: "
                                        f"{truncated[0]}")
            return

    def _stop(self, ps: Any) -> None:
        """Best effort: tell the server to stop the pipeline (Ctrl+C)."""
        try:
            if ps.state == _RUNNING:
                ps.stop()
        except Exception as exc:  # the interrupt matters more than this failure
            log.debug("stopping the remote pipeline failed: %s", exc)

    def _abandon(self, ps: Any) -> None:
        """After a transport failure: best effort, release the pipeline on the server.

        If even that fails, the pool is suspect and is replaced before the
        next read (the shell may be gone, or the connection state lost).
        """
        from pypsrp.shell import SignalCode

        pool = ps.runspace_pool
        if getattr(getattr(self._wsman, "transport", None), "wrap_required", False):
            # NTLM/Kerberos message encryption: the security context belonged to the
            # connection that broke; a new session (new handshake) is needed anyway.
            self._suspect = True
            pool.pipelines.pop(ps.id, None)
            return
        try:
            pool.shell.signal(SignalCode.TERMINATE, str(ps._command_id or ps.id).upper())
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            self._suspect = True
            log.debug("releasing a broken pipeline failed: %s", exc)
        finally:
            pool.pipelines.pop(ps.id, None)

    def _info(self, record: Any) -> ErrorInfo:
        message = str(record) if getattr(record, "_to_string", None) else ""
        if not message:
            exc = getattr(record, "exception", None)
            message = pso.text(pso.prop(exc, "Message")) or "" if exc is not None else ""
        if not message:
            message = getattr(record, "message", None) or "unknown error"
        target = getattr(record, "target_object", None)
        return ErrorInfo(
            _one_line(message, self.settings.password),
            target if isinstance(target, str) else None,
            getattr(record, "fq_error", None),
            getattr(record, "reason", None),
        )

    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        """A failure another attempt may not meet: 5xx, reset, timeout, WSMan fault."""
        import requests.exceptions as rex
        from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

        if isinstance(exc, AuthenticationError | rex.SSLError):
            return False
        if isinstance(exc, WSManFaultError):
            return True
        if isinstance(exc, WinRMTransportError):
            return int(exc.code or 0) >= 500
        return isinstance(exc, rex.ConnectionError | rex.Timeout)

    def _failure(self, exc: BaseException) -> ConnectionFailure:
        """Any library or transport exception as one clean line (exit 3)."""
        import requests.exceptions as rex
        from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

        s, uri = self.settings, self.settings.uri
        if isinstance(exc, ConnectionFailure):
            return exc
        if isinstance(exc, AuthenticationError):
            # The name as typed (CORP\\exadmin, not repr's doubled backslash), and the
            # two usual causes: the password, or a method the server does not offer.
            msg = (f"authentication failed at {uri} for user '{s.username}' with "
                   f"--exchange-auth {s.auth}: check the password (ccmig creds get --for "
                   "exchange) and that the server accepts this method, else choose another "
                   "with --exchange-auth (docs/powershell.md)")
        elif isinstance(exc, WSManFaultError):
            msg = f"WSMan fault from {uri}: {exc.reason or 'no reason given'} (code {exc.code})"
        elif isinstance(exc, WinRMTransportError):
            body = re.sub(r"<[^>]+>", " ", str(exc.response_text or ""))
            msg = f"HTTP {exc.code} from {uri}" + (f": {body}" if body.strip() else "")
        elif isinstance(exc, rex.SSLError):
            reason = re.search(r"certificate verify failed[^'\")]*", str(exc))
            msg = (f"TLS with {uri} failed: {reason.group(0) if reason else 'handshake error'}; "
                   "give the server's CA with --ca-file (or --insecure-skip-verify)")
        elif isinstance(exc, rex.Timeout):
            msg = f"timed out talking to {uri}"
        elif isinstance(exc, rex.ConnectionError):
            text = str(exc)
            reason = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
            lost = next((m for p in ("Connection reset by peer", "Broken pipe", "Remote end "
                                     "closed connection without response", "Connection aborted")
                         if (m := re.search(p, text))), None)
            if lost:
                msg = f"connection to {uri} lost: {reason.group(0) if reason else lost.group(0)}"
            else:
                msg = f"cannot connect to {uri}: {reason.group(0) if reason else exc}"
        else:
            msg = f"PowerShell session with {uri} failed: {type(exc).__name__}: {exc}"
        return ConnectionFailure(_one_line(msg, s.password))
