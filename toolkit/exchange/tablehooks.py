"""What a table read (:func:`toolkit.exchange.dialects.read_table`) feeds as
it classifies: a :class:`MailboxMatcher` sees each mailbox, a
:class:`PartFeed` each part's packed records.

Each has a pure half, run in whichever process classifies the part (a forked
worker included, :mod:`toolkit.parallel`), and a half that files what it
found in the reading process, in reading order: so one process and two give
the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from toolkit.model import Kind
from toolkit.storage.recipients import RecipientTable


class PartFeed(Protocol):
    """Fed part by part while a table is read (the index pass's recipients'
    half: :class:`toolkit.rules.indexpass.IndexFeed`). :meth:`part` is pure
    and runs where the part is classified; :meth:`add` gets its result in
    the reading process, in reading order; :meth:`done` the table read."""

    def part(self, records: list[str | tuple[Any, ...]], kinds: list[Kind]) -> Any: ...

    def add(self, found: Any) -> None: ...

    def done(self, table: RecipientTable) -> None: ...


class MailboxMatcher(Protocol):
    """Matches mailboxes while they are read (``--mailbox-stats``:
    :class:`toolkit.stats.StatsMatcher`). :meth:`match` is pure and runs in
    whichever process classifies the mailbox; :meth:`record` gets what it
    found in the reading process, in reading order."""

    def match(self, dn: str, primary: str | None, nickname: str | None,
              sam: str | None) -> Any: ...

    def record(self, position: int, found: Any) -> None: ...


class Handed:
    """The matcher behind :func:`toolkit.exchange.dialects.read_table`'s
    ``mailboxes``: every mailbox's identities, as classified, handed to
    ``mailboxes`` in reading order (and to ``matcher``, when there is one as
    well)."""

    __slots__ = ("mailboxes", "matcher")

    def __init__(self, mailboxes: Callable[[int, str, str | None, str | None, str | None], None],
                 matcher: MailboxMatcher | None) -> None:
        self.mailboxes, self.matcher = mailboxes, matcher

    def match(self, dn: str, primary: str | None, nickname: str | None, sam: str | None
              ) -> tuple[str, str | None, str | None, str | None, Any]:
        found = None if self.matcher is None else self.matcher.match(dn, primary, nickname, sam)
        return dn, primary, nickname, sam, found

    def record(self, position: int, handed: tuple[Any, ...]) -> None:
        dn, primary, nickname, sam, found = handed
        self.mailboxes(position, dn, primary, nickname, sam)
        if found is not None:
            self.matcher.record(position, found)  # type: ignore[union-attr]
