"""Streaming LDIF reader (RFC 2849 content records, as ldifde and ldapsearch write).

Yields :class:`~toolkit.model.RawEntry` one record at a time so a 100,000
object export never sits in memory as text. Any malformation is an
:class:`~toolkit.errors.InputError` naming ``file:line``: a report built on a
half-read export would be a lie.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from toolkit.errors import InputError
from toolkit.exchange.dn import display_dn
from toolkit.model import AttrValue, RawEntry

# Attributes whose base64 values are binary by nature: never guess text.
BINARY_ATTRS = frozenset({"objectguid", "objectsid", "msexchmailboxguid", "sidhistory"})

_ATTR_NAME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;[A-Za-z0-9-]+)*$")


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without line ending); UTF-8 or UTF-16 with a BOM."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read LDIF file: {exc.strerror}", str(path)) from None
    with fh:
        head = fh.read(4)
        fh.seek(0)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            yield from _utf16_lines(path, fh)
            return
        if head.startswith(codecs.BOM_UTF8):
            fh.read(3)
        for number, raw in enumerate(fh, 1):
            if b"\x00" in raw:
                raise InputError("NUL byte: not an LDIF text file", f"{path}:{number}")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("not valid UTF-8", f"{path}:{number}") from None
            yield number, text.rstrip("\r\n")


def _utf16_lines(path: Path, fh) -> Iterator[tuple[int, str]]:
    decoder = codecs.getincrementaldecoder("utf-16")("strict")
    number = 0
    pending = ""
    while True:
        chunk = fh.read(1 << 16)
        try:
            pending += decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise InputError("not valid UTF-16", f"{path}:{number + 1}") from None
        *lines, pending = pending.split("\n")
        for line in lines:
            number += 1
            if "\x00" in line:
                raise InputError("NUL character: not an LDIF text file", f"{path}:{number}")
            yield number, line.rstrip("\r")
        if not chunk:
            break
    if pending:
        number += 1
        yield number, pending.rstrip("\r")


def _logical_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """Unfold continuation lines; drop comments; ``None`` marks a record break."""
    current: list[str] = []
    start = 0
    in_comment = False
    for number, line in _text_lines(path):
        if line.startswith(" "):
            if in_comment:
                continue
            if not current:
                raise InputError("continuation line with nothing to continue", f"{path}:{number}")
            current.append(line[1:])
            continue
        if current:
            yield start, "".join(current)
            current = []
        in_comment = False
        if line.startswith("#"):
            in_comment = True
            continue
        if not line.strip():
            yield number, None
            continue
        current = [line]
        start = number
    if current:
        yield start, "".join(current)


def _decode_value(path: Path, number: int, attr: str, sep: str, value: str) -> AttrValue:
    if sep == ":":
        return value.lstrip(" ")
    if sep == "<":
        raise InputError(f"URL values (':<') are not supported for {attr!r}", f"{path}:{number}")
    try:
        data = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"bad base64 value for {attr!r}", f"{path}:{number}") from None
    if attr in BINARY_ATTRS:
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def read_ldif(path: str | Path) -> Iterator[RawEntry]:
    """Yield every entry of an LDIF export, attribute values in file order."""
    path = Path(path)
    dn: str | None = None
    attrs: dict[str, list[AttrValue]] = {}
    where = ""
    seen_version = False
    for number, line in _logical_lines(path):
        if line is None:
            if dn is not None:
                yield RawEntry(dn, attrs, where)
                dn, attrs = None, {}
            continue
        name, sep, value = _split(path, number, line)
        lname = name.split(";", 1)[0].lower()
        if dn is None:
            if lname == "version" and not seen_version and sep == ":":
                seen_version = True
                continue
            if lname != "dn":
                raise InputError(f"record must start with 'dn:', found {name!r}", f"{path}:{number}")
            decoded = _decode_value(path, number, "dn", sep, value)
            if isinstance(decoded, bytes):
                raise InputError("dn is not valid UTF-8", f"{path}:{number}")
            dn, where = display_dn(decoded.strip()), f"{path}:{number}"
            continue
        if lname == "dn":
            raise InputError("second 'dn:' in one record (missing blank line?)", f"{path}:{number}")
        if lname == "changetype":
            if value.strip().lower() != "add":
                raise InputError(
                    f"changetype {value.strip()!r} is not an export record", f"{path}:{number}"
                )
            continue
        attrs.setdefault(lname, []).append(_decode_value(path, number, lname, sep, value))
    if dn is not None:
        yield RawEntry(dn, attrs, where)


def _split(path: Path, number: int, line: str) -> tuple[str, str, str]:
    name, colon, rest = line.partition(":")
    if not colon:
        raise InputError("expected 'attribute: value'", f"{path}:{number}")
    if not _ATTR_NAME.match(name):
        raise InputError(f"bad attribute name {name[:40]!r}", f"{path}:{number}")
    if rest.startswith(":"):
        return name, "::", rest[1:]
    if rest.startswith("<"):
        return name, "<", rest[1:]
    return name, ":", rest
