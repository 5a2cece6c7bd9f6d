"""The lab's stand-in for ``ldifde -i``: import a ccmig plan's LDIF into an org LDIF.

``ccmig plan --format ldif`` writes the Exchange-side changes (add a proxy
address, delete a custom recipient) for ``ldifde -i -f FILE`` on a domain
controller. The demo organisation is an LDIF file, so in the lab::

    python -m toolkit.mocks.ldifde org.ldif changes.ldif

makes the same changes to ``org.ldif`` (every other record byte for byte as it
was), and the next audit, plan or mock dirsync reads them. Only what ccmig's
plans write is understood: ``changetype: modify`` with ``add:`` and ``delete:``
of values (applied in order, as one change: a value equal but for case to one
the object holds cannot be added, as AD refuses it), and ``changetype: delete``.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from toolkit.exchange.ldif_write import ldif_line


def _unfold(record: str) -> list[str]:
    lines: list[str] = []
    for line in record.split("\n"):
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines


def _value(line: str) -> tuple[str, str]:
    name, _, rest = line.partition(":")
    if rest.startswith(":"):
        return name.casefold(), base64.b64decode(rest[1:].strip()).decode("utf-8")
    return name.casefold(), rest.strip()


def _dn(record: str) -> str | None:
    for line in _unfold(record):
        name, value = _value(line)
        if name == "dn":
            return value.casefold()
    return None


Op = tuple[str, str, list[str]]  # ('add' | 'delete', attribute, values)


def changes(text: str) -> list[tuple[str, str, list[Op]]]:
    """(dn, 'modify' | 'delete', [(op, attribute, values)]) per change record."""
    out = []
    for record in text.replace("\r\n", "\n").split("\n\n"):
        lines = [_value(line) for line in _unfold(record)]
        if not lines or lines[0][0] != "dn":
            continue
        kind = dict(lines).get("changetype", "")
        ops: list[Op] = []
        op: Op | None = None
        for name, value in lines[1:]:
            if name in ("add", "delete") and kind == "modify":
                op = (name, value.casefold(), [])
                ops.append(op)
            elif name == "-":
                op = None
            elif op is not None and name == op[1]:
                op[2].append(value)
        out.append((lines[0][1].casefold(), kind, ops))
    return out


def _logical(record: str) -> list[str]:
    """A record's lines, each with its continuation lines (raw text kept)."""
    out: list[str] = []
    for line in record.split("\n"):
        if line.startswith(" ") and out:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


class Refused(Exception):
    """The directory refused one change record (nothing of it was made)."""


def _modify(record: str, dn: str, ops: list[Op]) -> str:
    """One modify, as AD applies it: every part in order, or none (the record is
    returned unchanged with the error). Values compare case-insensitively, as
    AD compares proxyAddresses (Unicode String syntax)."""
    tail = "\n" if record.endswith("\n") else ""
    lines = _logical(record.rstrip("\n"))

    def has(attr: str, value: str) -> int | None:
        for i, line in enumerate(lines):
            if line.startswith("#") or line.partition(":")[0].casefold() != attr:
                continue  # (other attributes may be binary: never decoded)
            if _value(line.replace("\n ", ""))[1].casefold() == value.casefold():
                return i
        return None

    for kind, attr, values in ops:
        for value in values:
            at = has(attr, value)
            if kind == "add" and at is not None:
                # ldifde: "Add error on entry starting on line N: Attribute Or Value Exists"
                raise Refused(f"entry {dn}: Attribute Or Value Exists: {attr}: {value}")
            if kind == "delete" and at is None:
                raise Refused(f"entry {dn}: No Such Attribute: {attr}: {value}")
            if kind == "add":
                lines.append(ldif_line(attr, value))
            else:
                del lines[at]  # type: ignore[arg-type]
    return "\n".join(lines) + tail


def import_ldif(org: Path, change_file: Path) -> list[str]:
    """Apply the changes to ``org`` in place; what was done, one line each.

    Like ``ldifde -i`` without ``-k``: records are applied in order, and the
    first one the directory refuses stops the import (the ones before it stay
    made) with the directory's error.
    """
    records = org.read_text(encoding="utf-8").split("\n\n")
    index = {_dn(r): n for n, r in enumerate(records) if _dn(r)}
    done, drop = [], set()

    def save() -> None:
        org.write_text("\n\n".join(r for n, r in enumerate(records) if n not in drop),
                       encoding="utf-8")

    for dn, kind, ops in changes(change_file.read_text(encoding="utf-8-sig")):
        n = index.get(dn)
        if n is None:
            save()
            raise SystemExit(f"{change_file}: no object {dn!r} in {org}")
        if kind == "delete":
            drop.add(n)
            done.append(f"deleted {dn}")
        elif kind == "modify":
            try:
                records[n] = _modify(records[n], dn, ops)
            except Refused as refused:
                save()
                raise SystemExit(f"{change_file}: {refused}") from None
            done += [f"{'added' if op == 'add' else 'deleted'} {attr}: {value} "
                     f"{'to' if op == 'add' else 'from'} {dn}"
                     for op, attr, values in ops for value in values]
    save()
    return done


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m toolkit.mocks.ldifde ORG.ldif CHANGES.ldif", file=sys.stderr)
        return 2
    for line in import_ldif(Path(args[0]), Path(args[1])):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
