"""The cc:Mail address grammar of spec.md (Terms, and ``invalid-address``).

``Smith, John at PO1``: split at the *last* `` at `` (any case), trim, fold
white space, then validate. ``/`` escapes are deliberately not interpreted.
"""

from __future__ import annotations

import re
import unicodedata

from toolkit.model import CcmailValue
from toolkit.text import fold, squeeze

_PO_OK = re.compile(r"[A-Za-z0-9_-]+")
_NAME_BAD = frozenset('"[]')


def is_ccmail_type(prefix: str) -> bool:
    return prefix.upper() == "CCMAIL"


def split_address(address: str) -> tuple[str, str] | None:
    """Split ``name at PO`` at the last `` at `` in any case; None if absent.

    Only ASCII ``a``/``t`` are case-mapped so string offsets stay valid.
    """
    probe = address.replace("A", "a").replace("T", "t")
    cut = probe.rfind(" at ")
    if cut < 0:
        return None
    return address[:cut], address[cut + 4 :]


def name_problem(name: str) -> str | None:
    if not name:
        return "empty name"
    bad = sorted({c for c in name if c in _NAME_BAD})
    if bad:
        return "name holds " + " ".join(repr(c) for c in bad)
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "name holds a control character"
    return None


def po_problem(po: str) -> str | None:
    if not po:
        return "empty post office"
    if not _PO_OK.fullmatch(po):
        return "post office may hold only ASCII letters, digits, '-' and '_'"
    return None


def parse(raw: str, prefix: str, address: str, source: str) -> CcmailValue:
    """Build a :class:`CcmailValue` from one cc:Mail value, valid or not."""
    value = CcmailValue(raw=raw, prefix=prefix, source=source)
    parts = split_address(address)
    if parts is None:
        value.error = "no ' at ' between name and post office"
        return value
    name, po = squeeze(parts[0]), squeeze(parts[1])
    value.name, value.po = name, po
    value.error = name_problem(name) or po_problem(po)
    if value.error is None:
        value.key = (fold(name), fold(po))
    return value


def format_address(name: str, po: str) -> str:
    return f"{name} at {po}"
