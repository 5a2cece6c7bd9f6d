"""Batched reads: addresses, item counts and all recipients, with the one retry policy.

Why batched: Exchange's ``-Identity`` takes ONE value and every round trip
to a real WinRM server is expensive, so all identities of one read stream
through ONE pipeline as input (:data:`PIPELINE_IDENTITIES` at most), with
``Select-Object -Property`` asking only for the properties used (every
unprojected Exchange object carries about a hundred).

The retry policy, in one place (:meth:`Reads.batched`):

1. batch: stream the identities through one pipeline;
2. place: match the answers to the identities (:mod:`.psmatch`); keep those
   placed with certainty;
3. ask the unplaced one at a time (slower, never wrong);
4. when the transport fails, the answers already placed are kept and the
   rest asked again in a new pipeline: each *batch* (``batch_size``
   identities of the read, the unit of retry) is retried at most once, and
   a second failure of the same batch is a ConnectionFailure (exit 3).

A single read (:meth:`Reads.read_all`) is one batch: retried once. The
recipient stream (:meth:`Reads.iter_recipients`) is retried only before its
first object: after that, the read fails saying how far it got - never a
partial list presented as whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, TypeVar

from toolkit.errors import ConnectionFailure
from toolkit.exchange import psobjects as pso
from toolkit.exchange.psfailures import (
    CommandFailed,
    ErrorInfo,
    Failed,
    Lost,
    is_throttling,
    throttle_wait,
)
from toolkit.exchange.psmatch import (
    GUID,
    Recipient,
    StatsAnswer,
    place,
    place_stats,
    recipient_answers,
    recipient_record,
    stats_record,
)
from toolkit.exchange.pspipeline import Invocation, WarningText, collect, run, without_select_object
from toolkit.exchange.pssession import Commands, Session
from toolkit.model import RawEntry
from toolkit.text import fold

log = logging.getLogger(__name__)

# Identities per pipeline. PowerShell endpoints cap the input one command may
# receive (MaximumReceivedDataSizePerCommandMB, 50 MB by default); 50,000 DNs
# are about 8 MB of input. Larger reads use several pipelines.
PIPELINE_IDENTITIES = 50_000

# A throttled read waits what the refusal names, or 30 s when it names none
# (the spec's wait for writes), at most 5 minutes.
THROTTLE_WAIT = 30.0
MAX_THROTTLE_WAIT = 300.0

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
    "RecipientTypeDetails", "EmailAddressPolicyEnabled",
)
POLICY_PROPERTIES = ("Name", "Priority", "EnabledEmailAddressTemplates",
                     "DisabledEmailAddressTemplates")

Item = TypeVar("Item")
Answer = TypeVar("Answer")
Lookup = tuple[Recipient | None, str | None]


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


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """An email address policy: its templates (``TYPE:template``) as Exchange sent them.

    Only the *enabled* templates generate (stamp) addresses; disabled ones
    are kept for show.
    """

    name: str
    priority: str | None
    enabled: tuple[str, ...]
    disabled: tuple[str, ...]


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
class Batch:
    """One pipeline's worth of a batched read, as the placing function sees it."""

    items: list[Any]
    output: list[Any]
    errors: list[ErrorInfo]
    warnings: list[str]
    complete: bool  # False: the transport failed, only the front can be trusted


class Reads:
    """The reads of one session; Get-Recipient answers are kept until a write."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[str, Recipient] = {}  # folded identity -> Get-Recipient answer

    # -- public reads ----------------------------------------------------------

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

        Streams: objects are yielded as they arrive. Any error record, or a
        truncated result, makes the read incomplete and raises
        ConnectionFailure (never a partial list presented as whole).
        """
        uri = self.session.settings.uri
        count = 0
        for obj in self._stream([("Get-Recipient", [("ResultSize", "Unlimited")])],
                                RECIPIENT_PROPERTIES):
            count += 1
            try:
                yield pso.raw_entry(obj, f"{uri} Get-Recipient #{count}")
            except pso.WireFormatError as exc:
                raise ConnectionFailure(f"unexpected recipient #{count} from {uri}: {exc}") from None
        log.info("Get-Recipient returned %d recipient(s)", count)

    def email_address_policies(self) -> list[AddressPolicy]:
        """Every email address policy (``Get-EmailAddressPolicy``), in Exchange's order.

        One small read; any error record makes it fail (ConnectionFailure):
        a policy list with a hole would unblock actions it should block.
        """
        uri = self.session.settings.uri
        inv = self.read_all([("Get-EmailAddressPolicy", [])], None, POLICY_PROPERTIES,
                            "Get-EmailAddressPolicy")
        if inv.errors:
            raise ConnectionFailure(f"Get-EmailAddressPolicy reported an error at {uri}: "
                                    f"{inv.errors[0].message}")
        try:
            return [AddressPolicy(pso.text(pso.prop(p, "Name")) or "",
                                  pso.text(pso.prop(p, "Priority")),
                                  tuple(pso.texts(pso.prop(p, "EnabledEmailAddressTemplates"))),
                                  tuple(pso.texts(pso.prop(p, "DisabledEmailAddressTemplates"))))
                    for p in inv.output]
        except pso.WireFormatError as exc:
            raise ConnectionFailure(f"unexpected email address policy from {uri}: {exc}") from None

    def read_all(self, commands: Commands, input: Sequence[Any] | None,
                 select: Sequence[str] | None, what: str,
                 convert: Callable[[Any], Any] = lambda obj: obj) -> Invocation:
        """One whole read (a batch of one), asked again once if its transport fails."""
        for attempt in (1, 2):
            result, lost = self._read(commands, input, select, convert)
            if lost is None:
                return result
            if attempt == 2 or not lost.retryable:
                again = " again" if attempt == 2 else ""
                raise ConnectionFailure(f"{what} failed{again}: {lost.failure}") from None
            self._retried(f"{what}: {lost.failure}; asking again (once)", lost)
        raise AssertionError("unreachable")

    # -- the batched read and its retry policy -------------------------------------

    def batched(self, cmdlet: str, items: Sequence[Item], input_of: Callable[[Item], str],
                select: Sequence[str], convert: Callable[[Any], Any],
                placing: Callable[[Batch], tuple[list[Answer | None], bool]],
                alone: Callable[[Item], Answer],
                unanswered: Callable[[Item, Batch], Answer]) -> list[Answer]:
        """Answers for ``items`` in order: batch, place, ask the unplaced alone, retry once.

        ``placing`` returns the answers placed with certainty (None elsewhere)
        and whether the unplaced must be asked ``alone``; if not (nothing
        arrived that could belong to them), ``unanswered`` gives their answer.
        """
        answers: list[Answer | None] = [None] * len(items)
        try:
            for start in range(0, len(items), PIPELINE_IDENTITIES):
                todo = list(range(start, min(start + PIPELINE_IDENTITIES, len(items))))
                retried: set[int] = set()
                while todo:
                    batch_items = [items[i] for i in todo]
                    got, lost = self._read([(cmdlet, [])], [input_of(x) for x in batch_items],
                                           select, convert)
                    batch = Batch(batch_items, got.output, got.errors, got.warnings, lost is None)
                    placed, ask_alone = placing(batch)
                    for k, res in enumerate(placed):
                        if res is not None:
                            answers[todo[k]] = res
                    left = [todo[k] for k, res in enumerate(placed) if res is None]
                    if lost is None:
                        if left and ask_alone:
                            log.info("could not match Exchange's answers to %d of %d identities "
                                     "with certainty; asking those one at a time", len(left),
                                     len(todo))
                        for i in left:
                            answers[i] = alone(items[i]) if ask_alone else unanswered(items[i], batch)
                        break
                    self._retry_or_fail(cmdlet, todo, placed, retried, lost)
                    todo = left
        except pso.WireFormatError as exc:
            raise ConnectionFailure(f"unexpected data from {self.session.settings.uri}: {exc}") from None
        return answers  # type: ignore[return-value]  # every slot was filled or raised

    def _retry_or_fail(self, cmdlet: str, todo: Sequence[int],
                       placed: Sequence[Any | None], retried: set[int], lost: Lost) -> None:
        """After a transport failure: retry the batch it hit, once; else exit 3."""
        answered = [k for k, res in enumerate(placed) if res is not None]
        at = min(max(answered) + 1 if answered else 0, len(todo) - 1)
        size = self.session.settings.batch_size
        batch = todo[at] // size
        first, last = batch * size, batch * size + size - 1
        if not lost.retryable or batch in retried:
            again = " again" if batch in retried else ""
            raise ConnectionFailure(
                f"{cmdlet} failed{again} for identities {first + 1}-{last + 1} (batch "
                f"{batch + 1}): {lost.failure}") from None
        retried.add(batch)
        self._retried(f"{cmdlet}: {lost.failure}; asking again for the "
                      f"{len(todo) - len(answered)} identities not yet answered (batch "
                      f"{batch + 1}, retried once)", lost)

    def _retried(self, warning: str, lost: Lost | None = None) -> None:
        """Before asking again: count, warn, and wait out a throttling refusal
        (the wait it names, else :data:`THROTTLE_WAIT`) - asking at once would
        only be refused again."""
        self.session.retries += 1
        log.warning("%s", warning)
        if lost is not None and is_throttling(str(lost.failure)):
            wait = throttle_wait(str(lost.failure))
            time.sleep(THROTTLE_WAIT if wait is None else min(wait, MAX_THROTTLE_WAIT))
        self.session.recover()

    def _read(self, commands: Commands, input: Sequence[Any] | None,
              select: Sequence[str] | None, convert: Callable[[Any], Any]
              ) -> tuple[Invocation, Lost | None]:
        """One read pipeline: what arrived, and the transport failure (for the caller
        to retry) or None.

        A terminating error is a :class:`CommandFailed`; an endpoint that does
        not offer Select-Object is asked again for whole objects.
        """
        while True:
            result = Invocation([], [], [])
            try:
                return collect(self.session, commands, input, select, convert, result), None
            except Lost as lost:
                return result, lost
            except Failed as failed:
                if without_select_object(self.session, failed, select):
                    continue
                raise CommandFailed(f"{commands[0][0]} failed on {self.session.settings.uri}: "
                                    f"{failed.info.message}") from None

    # -- the two batched reads -------------------------------------------------------

    def _lookup(self, ids: Sequence[str]) -> list[Lookup]:
        """Get-Recipient answers for ``ids`` (cached; each distinct identity asked once)."""
        results: list[Lookup | None] = [None] * len(ids)
        unique: dict[str, int] = {}
        asks: list[str] = []
        for i, ident in enumerate(ids):
            key = fold(ident) if ident else ""
            if not key:
                results[i] = (None, "empty identity")
            elif key in self.seen:
                results[i] = (self.seen[key], None)
            elif key not in unique:
                unique[key] = len(asks)
                asks.append(ident)
        answers = self.batched(
            "Get-Recipient", asks, lambda ident: ident, ADDRESS_PROPERTIES, recipient_record,
            lambda b: (place(b.items, b.output, b.errors, recipient_answers,
                                  complete=b.complete), True),
            self._lookup_one, lambda ident, b: (None, "not looked up")) if asks else []
        for key, j in unique.items():
            if answers[j][0] is not None:
                self.seen[key] = answers[j][0]
        return [r if r is not None else answers[unique[fold(ids[i])]]
                for i, r in enumerate(results)]

    def _lookup_one(self, identity: str) -> Lookup:
        inv = self.read_all([("Get-Recipient", [("Identity", identity)])], None,
                            ADDRESS_PROPERTIES, "Get-Recipient", recipient_record)
        if inv.errors:
            return None, inv.errors[0].message
        if len(inv.output) == 1:
            return inv.output[0], None
        if not inv.output:
            return None, inv.warnings[0] if inv.warnings else "Exchange returned no object"
        return None, f"identity matches {len(inv.output)} objects"

    def _statistics(self, asks: Sequence[tuple[str, tuple[str, ...]]]) -> list[StatsAnswer]:
        """(item count, bytes, note) per mailbox DN: one streamed Get-MailboxStatistics."""

        def unanswered(ask: tuple[str, tuple[str, ...]], batch: Batch) -> StatsAnswer:
            free = [w for w in batch.warnings if not GUID.search(w)]
            note = free[0] if len(free) == 1 else None
            return None, None, note or ("Exchange returned no statistics (has the mailbox ever "
                                        "been logged on to?)")

        return self.batched(
            "Get-MailboxStatistics", asks, lambda ask: ask[0], STATS_PROPERTIES, stats_record,
            lambda b: place_stats(b.items, b.output, b.errors, b.warnings),
            lambda ask: self._stats_one(ask[0]), unanswered)

    def _stats_one(self, dn: str) -> StatsAnswer:
        inv = self.read_all([("Get-MailboxStatistics", [("Identity", dn)])], None,
                            STATS_PROPERTIES, "Get-MailboxStatistics", stats_record)
        if inv.errors:
            return None, None, inv.errors[0].message
        if len(inv.output) == 1:
            return inv.output[0].item_count, inv.output[0].total_bytes, None
        return None, None, inv.warnings[0] if inv.warnings else "Exchange returned no statistics"

    # -- the stream ---------------------------------------------------------------------

    def _stream(self, commands: Commands, select: Sequence[str]) -> Iterator[Any]:
        """Yield a pipeline's output as it arrives; errors make the read fail."""
        name, uri = commands[0][0], self.session.settings.uri
        attempts = 0
        while True:
            yielded = 0
            errors: list[ErrorInfo] = []
            warnings: list[str] = []
            try:
                with closing(run(self.session, commands, None, select)) as items:
                    for item in items:
                        if isinstance(item, ErrorInfo):
                            errors.append(item)
                        elif isinstance(item, WarningText):
                            warnings.append(item.text)
                        else:
                            yielded += 1
                            yield item
            except Lost as lost:
                if yielded or attempts or not lost.retryable:
                    where = f" after {yielded} object(s)" if yielded else ""
                    again = " again" if attempts else ""
                    raise ConnectionFailure(f"{name} failed{again}{where}, so the result is "
                                            f"incomplete: {lost.failure}") from None
                attempts += 1
                self._retried(f"{name}: {lost.failure}; asking again (once)", lost)
                continue
            except Failed as failed:
                if not yielded and without_select_object(self.session, failed, select):
                    continue
                raise CommandFailed(f"{name} failed on {uri}: {failed.info.message}") from None
            if errors:
                raise ConnectionFailure(f"{name} reported {len(errors)} error(s), so the result "
                                        f"is incomplete: {errors[0].message}")
            truncated = [w for w in warnings if "ResultSize" in w]
            if truncated:
                raise ConnectionFailure(f"{name} returned a truncated result: {truncated[0]}")
            return
