"""The test doubles' one DN splitter (RFC 4514, as AD, ldifde and OpenLDAP write DNs).

Why one: the mock Exchange (identity resolution, canonical names, new
contacts' DNs) and the slapd loader (parent entries, comparison keys) must
cut a DN at the same places. Two hand-written splitters disagreed at the
edges (quoted values, ``;`` separators, an escaped backslash before ``+``),
so a DN one mock accepted the other could split differently.

Splitting keeps every escape (``\\,`` ``\\+`` ``\\\\`` ``\\2C``) in the piece it
belongs to; :func:`unescape` is applied only to a single value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}")
_SPECIAL = ',+"\\<>;='


def _cuts(text: str, separators: str) -> Iterator[int]:
    """Positions of the separators in ``text`` that are neither escaped nor quoted."""
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c in separators and not quoted:
            yield i
        i += 1


def _strip(text: str) -> str:
    """Strip white space around a piece, but not an escaped trailing space (``\\ ``)."""
    text = text.lstrip()
    end = len(text.rstrip())
    slashes = len(text[:end]) - len(text[:end].rstrip("\\"))
    return text[: end + 1] if end < len(text) and slashes % 2 else text[:end]


def _split(text: str, separators: str) -> list[str]:
    pieces, start = [], 0
    for cut in _cuts(text, separators):
        pieces.append(_strip(text[start:cut]))
        start = cut + 1
    pieces.append(_strip(text[start:]))
    return [p for p in pieces if p]


@functools.lru_cache(maxsize=65536)
def split_dn(dn: str) -> tuple[str, ...]:
    """RDNs of a DN as written (escapes kept), leftmost first; cut at unescaped ``,`` or ``;``."""
    return tuple(_split(dn, ",;"))


def split_rdn(rdn: str) -> list[str]:
    """The attribute-value assertions of one (possibly multi-valued) RDN, cut at unescaped ``+``."""
    return _split(rdn, "+")


def parent_dn(dn: str) -> str:
    """The DN without its first RDN, the rest exactly as written; "" for a one-RDN DN."""
    cut = next(_cuts(dn, ",;"), None)
    return _strip(dn[cut + 1 :]) if cut is not None else ""


def unescape(value: str) -> str:
    """RFC 4514 value unescaping: ``\\,`` and ``\\2C`` both mean a comma; hex is UTF-8."""
    if "\\" not in value:
        return value
    raw = bytearray()
    i = 0
    while i < len(value):
        if value[i] == "\\" and _HEX_PAIR.fullmatch(value, i + 1, i + 3):
            raw += bytes.fromhex(value[i + 1 : i + 3])
            i += 3
        elif value[i] == "\\" and i + 1 < len(value):
            raw += value[i + 1].encode()
            i += 2
        else:
            raw += value[i].encode()
            i += 1
    return raw.decode("utf-8", "replace")


def ava_parts(ava: str) -> tuple[str, str]:
    """(type, unescaped value) of one ``type=value``; ValueError without ``=``."""
    name, eq, value = ava.partition("=")
    if not eq:
        raise ValueError(f"bad RDN {ava!r}")
    return name.strip(), unescape(_strip(value))


@functools.lru_cache(maxsize=65536)
def rdns(dn: str) -> tuple[tuple[str, str], ...]:
    """Each RDN as (type, unescaped value), leftmost first (cached: DNs repeat).

    A multi-valued RDN gives its whole text after the first ``=`` as value.
    """
    out = []
    for rdn in split_dn(dn):
        kind, _, value = rdn.partition("=")
        out.append((kind.strip(), unescape(_strip(value))))
    return tuple(out)


def escape_rdn_value(value: str) -> str:
    """RFC 4514 escaping for a value written into a new DN (New-MailContact)."""
    chars = ["\\" + c if c in _SPECIAL else c for c in value]
    if chars and chars[0] in ("#", " "):
        chars[0] = "\\" + chars[0]
    if chars and chars[-1] == " ":
        chars[-1] = "\\ "
    return "".join(chars)
