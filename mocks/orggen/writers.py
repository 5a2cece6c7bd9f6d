"""The files of a generated organisation, written the way the real tools wrote them.

Why by hand and streamed: the readers must survive the real thing (``version: 1``,
comments, lines folded at 76 characters, base64 for anything that is not an
LDIF SAFE-STRING, optional UTF-16 LE with a BOM as ``ldifde -u`` writes; DOS
code page 850 for cc:Mail Export files), and 200,000 people must not become a
list of every entry. :class:`LdifWriter` writes the Exchange export,
:class:`CcmailWriter` one post office's directory file, :class:`ExpectedWriter`
``expected-codes.json``.
"""

from __future__ import annotations

import base64
import codecs
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

# RFC 2849 SAFE-STRING, made stricter: printable ASCII, no leading space,
# colon or '<', no trailing space (editors strip those), no controls.
LDIF_WIDTH = 76
# Attributes whose values repeat across the whole file (per site at most).
_CONSTANT_ATTRS = frozenset({"changetype", "objectClass", "groupType", "homeMDB",
                             "msExchHomeServerName"})


def _plain_ascii(value: str) -> bool:
    """RFC 2849 SAFE-STRING, stricter: printable ASCII, no trailing space."""
    return (
        value.isascii()
        and value.isprintable()
        and value != ""
        and value[0] not in " :<"
        and value[-1] != " "
    )


def _plain_wide(value: str) -> bool:
    """UTF-16 (ldifde -u) files carry printable non-ASCII text unencoded."""
    return (
        bool(value)
        and value.isprintable()
        and value[0] not in " :<"
        and not value.endswith(" ")
    )


class LdifWriter:
    """Writes LDIF records one at a time, folded at 76 characters.

    ``utf16``: UTF-16 LE with a BOM and CRLF, non-ASCII printable values in
    the clear (as ``ldifde -u``); otherwise the file is pure ASCII: every
    value that is not a SAFE-STRING goes out base64 (``attr:: ...``).
    """

    def __init__(self, path: Path, *, utf16: bool = False, crlf: bool = False) -> None:
        self.eol = "\r\n" if (crlf or utf16) else "\n"
        self._plain: Callable[[str], object]
        if utf16:
            raw = path.open("wb")
            raw.write(codecs.BOM_UTF16_LE)
            self._fh: IO[str] = io.TextIOWrapper(
                io.BufferedWriter(raw, 1 << 20), encoding="utf-16-le", newline=""
            )
            self._plain = _plain_wide
        else:
            self._fh = path.open("w", encoding="ascii", newline="", buffering=1 << 20)
            self._plain = _plain_ascii
        self.entries = 0
        self._cache: dict[tuple[str, str], str] = {}

    def comment(self, text: str) -> None:
        self._fh.write(f"# {text}{self.eol}" if text else f"#{self.eol}")

    def raw(self, text: str) -> None:
        self._fh.write(text + self.eol)

    def line(self, name: str, value: str | bytes) -> str:
        """One attribute line, base64 when the value is not safe, folded at 76."""
        if isinstance(value, bytes):
            text = name + ":: " + base64.b64encode(value).decode()
        elif self._plain(value):
            text = name + ": " + value
        else:
            text = name + ":: " + base64.b64encode(value.encode()).decode()
        if len(text) <= LDIF_WIDTH:
            return text
        step = LDIF_WIDTH - 1
        parts = [text[:LDIF_WIDTH]]
        parts += [" " + text[i : i + step] for i in range(LDIF_WIDTH, len(text), step)]
        return self.eol.join(parts)

    def entry(self, dn: str, attrs: Sequence[tuple[str, str | bytes]]) -> None:
        line, cache = self.line, self._cache
        lines = [line("dn", dn)]
        for name, value in attrs:
            if name in _CONSTANT_ATTRS:  # a few hundred distinct values: render once
                text = cache.get((name, value))  # type: ignore[arg-type]
                if text is None:
                    text = cache[(name, value)] = line(name, value)  # type: ignore[index]
                lines.append(text)
            else:
                lines.append(line(name, value))
        lines.append("")
        lines.append("")
        self._fh.write(self.eol.join(lines))
        self.entries += 1

    def close(self) -> None:
        self._fh.close()


class CcmailWriter:
    """One post office's directory in the spec's keyword-colon format."""

    def __init__(self, path: Path, po: str, *, encoding: str, crlf: bool) -> None:
        self.po = po
        self.path = path
        self.eol = "\r\n" if crlf else "\n"
        self._fh = path.open("w", encoding=encoding, newline="", buffering=1 << 18)
        self._fh.write(f"Post office: {po}{self.eol}")
        self.counts: dict[str, int] = {}

    def record(self, fields: Sequence[tuple[str, str | None]], locn: str) -> None:
        eol = self.eol
        out = [eol]
        for key, value in fields:
            if value is None:
                continue
            out.append(f"{key}: {value}{eol}" if value else f"{key}:{eol}")
        self._fh.write("".join(out))
        self.counts[locn] = self.counts.get(locn, 0) + 1

    def close(self) -> None:
        self._fh.close()


class ExpectedWriter:
    """``expected-codes.json``, streamed: objects first, summary last."""

    def __init__(self, path: Path, head: dict[str, Any]) -> None:
        self._fh = path.open("w", encoding="utf-8", newline="\n", buffering=1 << 18)
        self._fh.write("{\n")
        for key, value in head.items():
            self._fh.write(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
        self._fh.write('"objects": [')
        self._sep = "\n"
        self._quote: Callable[[str], str] = json.encoder.encode_basestring

    def add(self, key: str, dn: str | None, kind: str, scenario: str, role: str,
            code: str | None, person: int) -> None:
        """One object; formatted by hand because json.dumps per object cost a fifth
        of the run time at 200,000 people."""
        q = self._quote
        self._fh.write(
            f'{self._sep}{{"key": {q(key)}, "dn": {q(dn) if dn is not None else "null"}, '
            f'"kind": {q(kind)}, "scenario": {q(scenario)}, "role": {q(role)}, '
            f'"code": {q(code) if code is not None else "null"}, "person": {person}}}'
        )
        self._sep = ",\n"

    def close(self, summary: dict[str, Any]) -> None:
        self._fh.write("\n],\n")
        self._fh.write(f'"summary": {json.dumps(summary, ensure_ascii=False, indent=1)}\n}}\n')
        self._fh.close()
