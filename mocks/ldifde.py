"""The lab's stand-in for ``ldifde -i``: import a ccmig plan's LDIF into an org LDIF.

``ccmig plan --format ldif`` writes the Exchange-side changes (add a proxy
address, delete a custom recipient) for ``ldifde -i -f FILE`` on a domain
controller. The demo organisation is an LDIF file, so in the lab::

    python -m toolkit.mocks.ldifde org.ldif changes.ldif

makes the same changes to ``org.ldif`` (every other record byte for byte as it
was), and the next audit, plan or mock dirsync reads them. Only what ccmig's
plans write is understood: ``changetype: modify`` with ``add:`` of values, and
``changetype: delete``.
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


def changes(text: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(dn, 'modify' | 'delete', [(attribute, value) added]) per change record."""
    out = []
    for record in text.replace("\r\n", "\n").split("\n\n"):
        lines = [_value(line) for line in _unfold(record)]
        if not lines or lines[0][0] != "dn":
            continue
        kind = dict(lines).get("changetype", "")
        added, attr = [], None
        for name, value in lines[1:]:
            if name == "add":
                attr = value.casefold()
            elif name == "-":
                attr = None
            elif attr is not None and name == attr:
                added.append((name, value))
        out.append((lines[0][1].casefold(), kind, added))
    return out


def import_ldif(org: Path, change_file: Path) -> list[str]:
    """Apply the changes to ``org`` in place; what was done, one line each."""
    records = org.read_text(encoding="utf-8").split("\n\n")
    index = {_dn(r): n for n, r in enumerate(records) if _dn(r)}
    done, drop = [], set()
    for dn, kind, added in changes(change_file.read_text(encoding="utf-8-sig")):
        n = index.get(dn)
        if n is None:
            raise SystemExit(f"{change_file}: no object {dn!r} in {org}")
        if kind == "delete":
            drop.add(n)
            done.append(f"deleted {dn}")
        elif kind == "modify":
            tail = "\n" if records[n].endswith("\n") else ""
            records[n] = records[n].rstrip("\n") + "".join(
                "\n" + ldif_line(name, value) for name, value in added) + tail
            done += [f"added {name}: {value} to {dn}" for name, value in added]
    org.write_text("\n\n".join(r for n, r in enumerate(records) if n not in drop),
                   encoding="utf-8")
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
