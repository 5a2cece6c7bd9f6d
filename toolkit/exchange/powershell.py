"""Exchange remote PowerShell (pypsrp): addresses, item counts, recipients.

One runspace pool per session, configuration ``Microsoft.Exchange``. Only
cmdlets and parameters are sent (the endpoint runs in no-language mode, and
user data never becomes script text). Identities are batched: each batch is
ONE invocation whose identities arrive as pipeline input (Exchange's
``-Identity`` takes a single value), and ``Select-Object -Property`` asks
only for the properties used, because each round trip and each unprojected
object is expensive on a real server.

Exchange reports an unknown identity as a *non-terminating* error: the
pipeline completes and the record is only in the error stream. Results are
therefore matched back to identities explicitly: errors by the identity
they name, objects by position among the rest, checked against the names
the object answers to. When that cannot be done with certainty the batch is
asked again one identity at a time - slower, never wrong.

Terminating errors, WSMan faults, HTTP and authentication failures become
:class:`~toolkit.errors.ConnectionFailure` (exit 3) with the server's
message on one line, never the password.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from toolkit.errors import ConnectionFailure, InputError
from toolkit.exchange import psobjects as pso
from toolkit.exchange.pssettings import AUTH_METHODS, ExchangeSettings
from toolkit.model import RawEntry
from toolkit.text import fold

log = logging.getLogger(__name__)
__all__ = ["AUTH_METHODS", "AddressResult", "ErrorInfo", "ExchangeSession", "ExchangeSettings",
           "Invocation", "StatsResult"]

_CMDLET = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+$")
_RUNNING, _FAILED = 1, 5  # pypsrp PSInvocationState values

# What each read asks Exchange for (Select-Object -Property).
ADDRESS_PROPERTIES = (
    "DistinguishedName", "Name", "Alias", "Guid", "ExchangeGuid", "RecipientType",
    "EmailAddresses", "LegacyExchangeDN", "SamAccountName",
)
STATS_PROPERTIES = ("DisplayName", "ItemCount", "TotalItemSize", "LegacyDN", "MailboxGuid")
RECIPIENT_PROPERTIES = (
    "DistinguishedName", "RecipientType", "Name", "DisplayName", "FirstName", "LastName",
    "Alias", "SamAccountName", "UserPrincipalName", "PrimarySmtpAddress", "EmailAddresses",
    "ExternalEmailAddress", "LegacyExchangeDN", "Database", "ServerName", "Guid",
)
_NAMED = (
    re.compile(r"object '(?P<id>.*)' couldn't be found", re.S),
    re.compile(r"because '(?P<id>.*)' matches multiple entries", re.S),
)


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


class _Failed(Exception):
    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _attribute(identities: Sequence[str], output: Sequence[Any],
               errors: Sequence[ErrorInfo]) -> list[tuple[Any, str | None]] | None:
    """Match one batch's results to its identities, or None when unsure.

    Each identity yields exactly one object or one error. Errors are
    matched by the identity they name; the remaining identities take the
    objects in order, and each object must answer to its identity.
    """
    failed: dict[int, str] = {}
    for error in errors:
        named = error.identity()
        index = next((i for i, ident in enumerate(identities)
                      if i not in failed and named is not None and fold(ident) == fold(named)),
                     None)
        if index is None:
            return None
        failed[index] = error.message
    remaining = [i for i in range(len(identities)) if i not in failed]
    if len(remaining) != len(output):
        return None
    results: list[tuple[Any, str | None]] = [(None, failed.get(i)) for i in range(len(identities))]
    for i, obj in zip(remaining, output, strict=True):
        if not pso.plausible(identities[i], obj, fold):
            return None
        results[i] = (obj, None)
    return results


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
        self._seen: dict[str, Any] = {}  # folded identity -> Get-Recipient object

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
        log.info("PowerShell session open: %s (%s)", self.settings.uri,
                 self.settings.configuration_name)
        return self

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
        try:
            for ident, (obj, error) in zip(ids, self._lookup(ids), strict=True):
                if obj is None:
                    out.append(AddressResult(ident, None, False, [], error))
                else:
                    out.append(AddressResult(
                        ident, pso.text(pso.prop(obj, "DistinguishedName")), True,
                        pso.addresses(pso.prop(obj, "EmailAddresses"))))
        except pso.WireFormatError as exc:
            raise ConnectionFailure(f"unexpected data from {self.settings.uri}: {exc}") from None
        return out

    def mailbox_stats(self, identities: Iterable[str]) -> list[StatsResult]:
        """ItemCount (and TotalItemSize) of each identity's mailbox, in input order.

        Identities are resolved with Get-Recipient first (reusing earlier
        lookups); Get-MailboxStatistics then gets the DNs, and its objects are
        matched back by MailboxGuid/LegacyDN. A mailbox nobody logged on to
        has no statistics: ``found`` with ``item_count`` None.
        """
        ids = list(identities)
        results: list[StatsResult | None] = [None] * len(ids)
        pending: list[tuple[int, str, list[str]]] = []
        try:
            for i, (obj, error) in enumerate(self._lookup(ids)):
                if obj is None:
                    results[i] = StatsResult(ids[i], None, False, None, error)
                    continue
                dn = pso.text(pso.prop(obj, "DistinguishedName")) or ids[i]
                kind = pso.text(pso.prop(obj, "RecipientType"))
                if kind and kind != "UserMailbox":
                    results[i] = StatsResult(ids[i], dn, False, None,
                                             f"not a mailbox (RecipientType {kind})")
                    continue
                keys = [k for k in (pso.text(pso.prop(obj, "ExchangeGuid")),
                                    pso.text(pso.prop(obj, "LegacyExchangeDN")))
                        if k and k != "00000000-0000-0000-0000-000000000000"]
                pending.append((i, dn, keys))
            for chunk in _chunks(pending, self.settings.batch_size):
                self._stats_batch(chunk, ids, results)
        except pso.WireFormatError as exc:
            raise ConnectionFailure(f"unexpected data from {self.settings.uri}: {exc}") from None
        return [r for r in results if r is not None]

    def iter_recipients(self) -> Iterator[RawEntry]:
        """Every recipient (``Get-Recipient -ResultSize Unlimited``) as an AD RawEntry.

        Streams: objects are yielded as they arrive. Any error record makes
        the read incomplete and raises ConnectionFailure (never a partial
        list presented as whole).
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

    # -- public writes -------------------------------------------------------------

    def run(self, cmdlet: str, parameters: Mapping[str, Any] | None = None, *,
            input: Sequence[Any] | None = None,
            select: Sequence[str] | None = None) -> Invocation:
        """Run one cmdlet with parameters (never script text); errors are returned.

        Values travel as typed PSRP objects (a dict is a Hashtable, a list an
        array), so no user data is ever parsed by PowerShell. A terminating
        error raises :class:`ConnectionFailure`.
        """
        if not _CMDLET.match(cmdlet):
            raise InputError(f"not a cmdlet name: {cmdlet!r}")
        if not cmdlet.lower().startswith("get-"):
            self._seen.clear()
        return self._invoke([(cmdlet, list((parameters or {}).items()))], input, select)

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

    def _lookup(self, ids: Sequence[str]) -> list[tuple[Any, str | None]]:
        results: list[tuple[Any, str | None] | None] = [None] * len(ids)
        todo: list[int] = []
        for i, ident in enumerate(ids):
            if not ident or not ident.strip():
                results[i] = (None, "empty identity")
            elif fold(ident) in self._seen:
                results[i] = (self._seen[fold(ident)], None)
            else:
                todo.append(i)
        for chunk in _chunks(todo, self.settings.batch_size):
            batch = [ids[i] for i in chunk]
            for i, res in zip(chunk, self._lookup_batch(batch), strict=True):
                results[i] = res
                if res[0] is not None:
                    self._seen[fold(ids[i])] = res[0]
        return [r if r is not None else (None, "not looked up") for r in results]

    def _lookup_batch(self, batch: Sequence[str]) -> list[tuple[Any, str | None]]:
        inv = self._invoke([("Get-Recipient", [])], list(batch), ADDRESS_PROPERTIES)
        matched = _attribute(batch, inv.output, inv.errors)
        if matched is not None:
            return matched
        log.info("could not match Exchange's answers to a batch of %d identities with "
                 "certainty; asking one identity at a time", len(batch))
        return [self._lookup_one(ident) for ident in batch]

    def _lookup_one(self, identity: str) -> tuple[Any, str | None]:
        inv = self._invoke([("Get-Recipient", [("Identity", identity)])], None,
                           ADDRESS_PROPERTIES)
        if inv.errors:
            return None, inv.errors[0].message
        if len(inv.output) == 1:
            return inv.output[0], None
        if not inv.output:
            return None, inv.warnings[0] if inv.warnings else "Exchange returned no object"
        return None, f"identity matches {len(inv.output)} objects"

    def _stats_batch(self, chunk: Sequence[tuple[int, str, list[str]]], ids: Sequence[str],
                     results: list[StatsResult | None]) -> None:
        inv = self._invoke([("Get-MailboxStatistics", [])], [dn for _, dn, _ in chunk],
                           STATS_PROPERTIES)
        by_key: dict[str, Any] = {}
        for obj in inv.output:
            for name in ("MailboxGuid", "LegacyDN"):
                key = pso.text(pso.prop(obj, name))
                if key:
                    by_key.setdefault(fold(key), obj)
        errors = {fold(e.identity() or ""): e.message for e in inv.errors}
        claimed: set[int] = set()
        retry: list[tuple[int, str]] = []
        for i, dn, keys in chunk:
            obj = next((by_key[fold(k)] for k in keys if fold(k) in by_key), None)
            if obj is not None:
                claimed.add(id(obj))
                results[i] = self._stats_result(ids[i], dn, obj)
            elif fold(dn) in errors:
                results[i] = StatsResult(ids[i], dn, True, None, errors[fold(dn)])
            else:
                retry.append((i, dn))
        unclaimed = [o for o in inv.output if id(o) not in claimed]
        for i, dn in retry:
            if unclaimed or inv.errors:  # answers we could not place: ask this one alone
                results[i] = self._stats_one(ids[i], dn)
            else:
                note = inv.warnings[0] if len(inv.warnings) == 1 else None
                results[i] = StatsResult(ids[i], dn, True, None, note or (
                    "Exchange returned no statistics (has the mailbox ever been logged on to?)"))

    def _stats_one(self, identity: str, dn: str) -> StatsResult:
        inv = self._invoke([("Get-MailboxStatistics", [("Identity", dn)])], None,
                           STATS_PROPERTIES)
        if inv.errors:
            return StatsResult(identity, dn, True, None, inv.errors[0].message)
        if len(inv.output) == 1:
            return self._stats_result(identity, dn, inv.output[0])
        return StatsResult(identity, dn, True, None, inv.warnings[0] if inv.warnings else
                           "Exchange returned no statistics")

    @staticmethod
    def _stats_result(identity: str, dn: str, obj: Any) -> StatsResult:
        size = pso.prop(obj, "TotalItemSize")
        return StatsResult(identity, dn, True, pso.integer(pso.prop(obj, "ItemCount")), None,
                           pso.byte_count(size) if size is not None else None)

    # -- invocation ------------------------------------------------------------------

    def _ensure_open(self) -> Any:
        if self._pool is None:
            self.open()
        return self._pool

    def _powershell(self, commands: Sequence[tuple[str, Sequence[tuple[str, Any]]]]) -> Any:
        from pypsrp.powershell import PowerShell

        ps = PowerShell(self._ensure_open())
        for name, params in commands:
            ps.add_cmdlet(name)
            for pname, value in params:
                ps.add_parameter(pname, value)
        return ps

    def _commands(self, commands: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
                  select: Sequence[str] | None) -> list[tuple[str, Sequence[tuple[str, Any]]]]:
        full = list(commands)
        if select and self._select is not False:
            full.append(("Select-Object", [("Property", list(select))]))
        return full

    def _invoke(self, commands: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
                input: Sequence[Any] | None = None,
                select: Sequence[str] | None = None) -> Invocation:
        while True:
            try:
                return self._execute(self._commands(commands, select), input)
            except _Failed as failed:
                if select and self._select is not False and _is_missing_select(failed.info):
                    log.warning("%s does not offer Select-Object; reading whole objects",
                                self.settings.uri)
                    self._select = False
                    continue
                raise ConnectionFailure(
                    f"{commands[0][0]} failed on {self.settings.uri}: {failed.info.message}"
                ) from None

    def _execute(self, commands: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
                 input: Sequence[Any] | None) -> Invocation:
        ps = self._powershell(commands)
        try:
            ps.begin_invoke(input=list(input) if input else None)
            while ps.state == _RUNNING:
                ps.poll_invoke()
        except KeyboardInterrupt:
            self._stop(ps)
            raise
        except Exception as exc:
            raise self._failure(exc) from None
        return self._finish(ps)

    def _finish(self, ps: Any) -> Invocation:
        """Collect a finished pipeline's streams and release it on the server."""
        errors = [self._info(e) for e in ps.streams.error]
        warnings = [_one_line(str(getattr(w, "message", w))) for w in ps.streams.warning]
        for warning in warnings:
            log.info("Exchange warning: %s", warning)
        try:
            ps.close()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            raise self._failure(exc) from None
        if ps.state == _FAILED:
            raise _Failed(errors[-1] if errors else ErrorInfo("the pipeline failed"))
        return Invocation(list(ps.output), errors, warnings)

    def _stream(self, commands: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
                select: Sequence[str]) -> Iterator[Any]:
        """Yield a pipeline's output as it arrives; errors make the read fail."""
        while True:
            ps = self._powershell(self._commands(commands, select))
            yielded = False
            try:
                ps.begin_invoke()
                while True:
                    if ps.output:
                        batch, ps.output = ps.output, []
                        for obj in batch:
                            yielded = True
                            yield obj
                    if ps.state != _RUNNING:
                        break
                    ps.poll_invoke()
            except (KeyboardInterrupt, GeneratorExit):
                self._stop(ps)
                raise
            except Exception as exc:
                raise self._failure(exc) from None
            try:
                inv = self._finish(ps)
            except _Failed as failed:
                if not yielded and self._select is not False and _is_missing_select(failed.info):
                    log.warning("%s does not offer Select-Object; reading whole objects",
                                self.settings.uri)
                    self._select = False
                    continue
                raise ConnectionFailure(f"{commands[0][0]} failed on {self.settings.uri}: "
                                        f"{failed.info.message}") from None
            if inv.errors:
                raise ConnectionFailure(
                    f"{commands[0][0]} reported {len(inv.errors)} error(s), so the result is "
                    f"incomplete: {inv.errors[0].message}")
            truncated = [w for w in inv.warnings if "ResultSize" in w]
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

    def _failure(self, exc: BaseException) -> ConnectionFailure:
        """Any library or transport exception as one clean line (exit 3)."""
        import requests.exceptions as rex
        from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

        s, uri = self.settings, self.settings.uri
        if isinstance(exc, ConnectionFailure):
            return exc
        if isinstance(exc, AuthenticationError):
            msg = f"authentication failed at {uri} for user {s.username!r} (auth {s.auth})"
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
            reason = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
            msg = f"cannot connect to {uri}: {reason.group(0) if reason else exc}"
        else:
            msg = f"PowerShell session with {uri} failed: {type(exc).__name__}: {exc}"
        return ConnectionFailure(_one_line(msg, s.password))
