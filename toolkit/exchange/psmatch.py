"""Which answer belongs to which identity: matching a pipeline's results to its input.

Why this is needed: all identities of a read go into ONE pipeline as input,
and Exchange reports an unknown identity as a *non-terminating* error - the
pipeline completes and the record is only in the error stream. Nothing in
the output says which input it answers. So results are matched explicitly:
errors by the identity they name, objects by position among the rest - from
the front and from the back - and every object must answer to the identity
it is given to. Whatever cannot be placed with certainty is left unplaced
(None), for the caller to ask alone: slower, never wrong.

Pure functions over reduced records: no pypsrp, no session, so every rule
here is tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.exchange import psobjects as pso
from toolkit.exchange.psfailures import ErrorInfo
from toolkit.text import fold

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ZERO_GUID = "00000000-0000-0000-0000-000000000000"
_NAMED = (
    re.compile(r"object '(?P<id>.*)' couldn't be found", re.S),
    re.compile(r"because '(?P<id>.*)' matches multiple entries", re.S),
)

# (item count, bytes, note) of one mailbox's statistics
StatsAnswer = tuple[int | None, int | None, str | None]


@dataclass(slots=True)
class Recipient:
    """A Get-Recipient answer, reduced to what the reads need."""

    dn: str | None
    kind: str | None
    addresses: list[str]
    keys: tuple[str, ...]  # ExchangeGuid, LegacyExchangeDN: how statistics are matched back
    names: frozenset[str]  # folded names the object answers to


@dataclass(slots=True)
class Stats:
    """A Get-MailboxStatistics answer, reduced."""

    keys: tuple[str, ...]  # folded MailboxGuid, LegacyDN
    item_count: int | None
    total_bytes: int | None


_NAME_PROPERTIES = ("DistinguishedName", "Identity", "Alias", "Name", "Guid", "ExchangeGuid",
                    "PrimarySmtpAddress", "LegacyExchangeDN", "SamAccountName",
                    "UserPrincipalName", "WindowsEmailAddress")


def answer_names(obj: Any) -> frozenset[str]:
    """The folded names an Exchange object answers to (those it carries)."""
    names: list[str | None] = [pso.text(pso.prop(obj, n)) for n in _NAME_PROPERTIES]
    for address in pso.addresses(pso.prop(obj, "EmailAddresses")):
        names += [address, address.partition(":")[2]]
    return frozenset(fold(n) for n in names if n)


def answers_to(identity: str, names: frozenset[str] | set[str]) -> bool:
    """Does an object with these folded ``names`` answer to ``identity``?"""
    key = fold(identity)
    if key in names or key.strip("{}") in names:
        return True
    return "\\" in identity and fold(identity.rsplit("\\", 1)[1]) in names


def plausible(identity: str, obj: Any) -> bool:
    """Does ``obj`` answer to ``identity`` by any name Exchange resolves?

    Used to check that results matched to inputs by position really belong
    to them; a False sends the caller to the slow, certain path.
    """
    return answers_to(identity, answer_names(obj))


def recipient_record(obj: Any) -> Recipient:
    """Reduce a Get-Recipient object as it arrives (memory grows with answers kept)."""
    keys = tuple(fold(k) for k in (pso.text(pso.prop(obj, "ExchangeGuid")),
                                   pso.text(pso.prop(obj, "LegacyExchangeDN")))
                 if k and k != _ZERO_GUID)
    return Recipient(pso.text(pso.prop(obj, "DistinguishedName")),
                     pso.text(pso.prop(obj, "RecipientType")),
                     pso.addresses(pso.prop(obj, "EmailAddresses")), keys,
                     answer_names(obj))


def stats_record(obj: Any) -> Stats:
    """Reduce a Get-MailboxStatistics object as it arrives."""
    keys = tuple(fold(k) for k in (pso.text(pso.prop(obj, "MailboxGuid")),
                                   pso.text(pso.prop(obj, "LegacyDN"))) if k)
    size = pso.prop(obj, "TotalItemSize")
    return Stats(keys, pso.integer(pso.prop(obj, "ItemCount")),
                 pso.byte_count(size) if size is not None else None)


def named_identity(error: ErrorInfo) -> str | None:
    """The identity an error record is about: its TargetObject, else the one it names."""
    if error.target:
        return error.target
    for pattern in _NAMED:
        m = pattern.search(error.message)
        if m:
            return m.group("id")
    return None


def recipient_answers(identity: str, record: Recipient) -> bool:
    """Does a reduced Get-Recipient answer belong to ``identity``?"""
    return answers_to(identity, record.names)


def place(identities: Sequence[str], output: Sequence[Any], errors: Sequence[ErrorInfo],
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
        named = named_identity(error)
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


def attribute(identities: Sequence[str], output: Sequence[Any],
              errors: Sequence[ErrorInfo]) -> list[tuple[Any, str | None]] | None:
    """Match a whole batch's results to its identities, or None when any is unsure."""
    placed = place(identities, output, errors, plausible)
    if any(p is None for p in placed):
        return None
    return placed  # type: ignore[return-value]


def place_stats(batch: Sequence[tuple[str, tuple[str, ...]]], outs: Sequence[Stats],
                errs: Sequence[ErrorInfo], warns: Sequence[str]
                ) -> tuple[list[StatsAnswer | None], bool]:
    """Statistics matched by key, errors by DN, no-data warnings by mailbox GUID.

    ``batch`` holds (DN, keys of its Get-Recipient answer). Returns the
    placed answers and whether anything arrived that could not be placed
    (then the unplaced mailboxes must be asked alone).
    """
    by_key: dict[str, int] = {}
    for k, (_, keys) in enumerate(batch):
        for key in keys:
            by_key.setdefault(key, k)
    by_dn: dict[str, int] = {}
    for k, (dn, _) in enumerate(batch):
        by_dn.setdefault(fold(dn), k)
    placed: list[StatsAnswer | None] = [None] * len(batch)
    unsure = False
    for stat in outs:
        k = next((by_key[key] for key in stat.keys if key in by_key), None)
        if k is None or placed[k] is not None:
            unsure = True
        else:
            placed[k] = (stat.item_count, stat.total_bytes, None)
    for error in errs:
        k = by_dn.get(fold(named_identity(error) or ""))
        if k is None or placed[k] is not None:
            unsure = True
        else:
            placed[k] = (None, None, error.message)
    for warning in warns:
        for guid in GUID.findall(warning):
            k = by_key.get(fold(guid))
            if k is not None and placed[k] is None:
                placed[k] = (None, None, warning)
    return placed, unsure
