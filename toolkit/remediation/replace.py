"""A primary cc:Mail address whose address is already on the object in another case.

A mailbox with ``missing-primary-address`` may already carry the address the
plan would add, only not as the primary: ``ccmail:Smith, John at EXCH`` (or
``ccmail:smith, john at exch``) where the plan adds ``CCMAIL:Smith, John at
EXCH``. Active Directory compares ``proxyAddresses`` values case-insensitively,
so ``ldifde -i`` of a plain ``add:`` fails with "attribute or value exists",
and Exchange refuses to add a value its collection already holds. The change
that works is a *replacement*: remove that value and add the primary in one
call (one LDAP modify, one ``Set-Mailbox``), which also keeps the object from
ever having neither.

Plan, apply and undo decide "the same address" here, with the spec's folding
of cc:Mail addresses (name and PO folded), so all three agree on which value
is replaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from toolkit.ccmail.address import is_ccmail_type, parse

REPLACES = "replaces"  # the target key; absent from plans made before it existed


def address_key(value: str) -> tuple[str, str] | None:
    """The folded (name, PO) of a valid cc:Mail value ``TYPE:name at PO``, else None."""
    prefix, colon, address = value.partition(":")
    if not colon or not is_ccmail_type(prefix):
        return None
    return parse(value, prefix, address, "proxy").key


def counterpart(values: Iterable[str], address: str) -> tuple[bool, str | None]:
    """Is ``address`` already on the object (same type as written, same folded
    address), and else the first value that carries its address in another form
    (the value, exactly as on the object), which adding it would collide with."""
    key = address_key(address)
    prefix = address.partition(":")[0]
    if key is None:
        return False, None
    same = [v for v in values if address_key(v) == key]
    if any(v.partition(":")[0] == prefix for v in same):
        return True, None
    return False, (same[0] if same else None)


def moved(planned: dict[str, Any], current: dict[str, Any]) -> str | None:
    """Why the plan's add-primary-address no longer fits the current state, or None.

    The reviewed action is a plain add or a replacement of one value; when the
    current state calls for the other kind of change (the value it replaces is
    gone, or one now collides), applying it as reviewed would be refused or
    would change something the admin did not review: plan again.
    """
    was, now = planned.get(REPLACES), current.get(REPLACES)
    if was is None and now is None:
        return None
    if was is None:
        return (f"'{now}' now carries this address in another case: the plan adds it, the "
                "current state needs a replacement; plan again")
    if now is None:
        return f"'{was}', which it replaces, is no longer on the object; plan again"
    return None  # the same address (maybe in another case now): the write re-reads it
