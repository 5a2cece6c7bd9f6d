"""The data a test slapd is loaded with: the schema as slapd knows it, the LDIF slapadd reads.

Why a module apart from the server: this is text work that needs no slapd
process - read the schema files, fold DNs, write LDIF - and the tests use its
answers (:func:`attribute_aliases`, :func:`dn_key`) to compare what they
loaded with what they read back. :func:`prepare_data` re-writes entries read
from an export as ldifde or ldapsearch write it (UTF-16 with BOM, ``version:``,
comments, folding, base64; read by :func:`toolkit.exchange.ldif.read_ldif`)
in the plain form ``slapadd -q`` accepts, adding the suffix entry and any
missing parent containers. :func:`schema_files` are also what the server's
cn=config includes, so the loader and slapd cannot disagree on the schema.
"""

from __future__ import annotations

import base64
import functools
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.mocks.dn import ava_parts, split_dn, split_rdn
from toolkit.mocks.slapd import SlapdError

from toolkit.exchange.ldif import read_ldif
from toolkit.model import AttrValue, RawEntry

HERE = Path(__file__).resolve().parent
SCHEMA_FILE = HERE / "ccmig-schema.ldif"
SYSTEM_SCHEMA_DIR = Path("/etc/ldap/schema")
STANDARD_SCHEMAS = ("core", "cosine", "inetorgperson")

# Attribute types slapd defines itself (core.ldif lists them only as comments),
# each as (first name, other names...).
_BUILTIN_ATTRIBUTES = (
    ("objectClass",), ("aliasedObjectName", "aliasedEntryName"), ("cn", "commonName"),
    ("description",), ("seeAlso",), ("userPassword",), ("name",), ("distinguishedName",),
    ("labeledURI",), ("uid", "userid"), ("ref",), ("structuralObjectClass",),
    ("entryUUID",), ("entryCSN",), ("creatorsName",), ("createTimestamp",),
    ("modifiersName",), ("modifyTimestamp",), ("entryDN",), ("hasSubordinates",),
    ("subschemaSubentry",), ("contextCSN",),
)  # fmt: skip

# Object classes slapd defines itself: name -> (kind, superclasses).
_BUILTIN_CLASSES = {
    "top": ("ABSTRACT", ()),
    "alias": ("STRUCTURAL", ("top",)),
    "referral": ("STRUCTURAL", ("top",)),
    "extensibleobject": ("AUXILIARY", ("top",)),
    "glue": ("STRUCTURAL", ("top",)),
    "subentry": ("STRUCTURAL", ("top",)),
    "subschema": ("AUXILIARY", ()),
    "dynamicobject": ("AUXILIARY", ("top",)),
}

# Classes for the parent entries the loader creates, by RDN attribute type.
_PARENT_CLASSES = {
    "dc": ("top", "domain"),
    "o": ("top", "organization"),
    "ou": ("top", "organizationalUnit"),
    "cn": ("top", "container"),
    "c": ("top", "country"),
    "l": ("top", "locality"),
}

_SUP = re.compile(r"\bSUP\s+(?:\(\s*([^)]*)\)|([\w-]+))")
_NAMES = re.compile(r"\bNAME\s+(?:\(\s*((?:'[^']*'\s*)+)\)|'([^']*)')")


@dataclass
class LoadReport:
    """What :func:`prepare_data` wrote: counts, added parents, dropped attributes."""

    entries: int = 0
    added_parents: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- schema knowledge


def schema_files() -> list[Path]:
    """The schema files in load order: the server includes them, :func:`_schema` reads them."""
    return [SYSTEM_SCHEMA_DIR / f"{n}.ldif" for n in STANDARD_SCHEMAS] + [SCHEMA_FILE]


@functools.cache
def _schema() -> tuple[dict[str, str], dict[str, tuple[str, tuple[str, ...]]]]:
    """(attribute name -> first name, class name -> (kind, superclasses)), lower case."""
    aliases = {n.lower(): names[0].lower() for names in _BUILTIN_ATTRIBUTES for n in names}
    classes = dict(_BUILTIN_CLASSES)
    for path in schema_files():
        if not path.exists():
            raise SlapdError(f"schema file missing: {path}")
        for entry in read_ldif(path):
            for definition in entry.texts("olcattributetypes"):
                names = _names(definition)
                for n in names:
                    aliases[n] = names[0]
            for definition in entry.texts("olcobjectclasses"):
                kind = next((k for k in ("AUXILIARY", "ABSTRACT") if f" {k}" in definition), "STRUCTURAL")
                sup = _SUP.search(definition)
                sups = tuple(x.strip().lower() for x in re.split(r"[$\s]+", sup.group(1) or sup.group(2))
                             if x.strip()) if sup else ()  # fmt: skip
                for n in _names(definition):
                    classes[n] = (kind, sups)
    return aliases, classes


def _names(definition: str) -> list[str]:
    m = _NAMES.search(definition)
    if not m:
        return []
    names = re.findall(r"'([^']*)'", m.group(1)) if m.group(1) else [m.group(2)]
    return [n.lower() for n in names]


def attribute_aliases() -> dict[str, str]:
    """Every attribute name the server knows (lower case) -> its first name (lower case).

    slapd returns an attribute under its first name: ``rfc822Mailbox`` comes
    back as ``mail``, ``Target-Address`` as ``targetAddress``, ``userid`` as
    ``uid``. Tests use this map to compare what they loaded with what they read.
    """
    return dict(_schema()[0])


def structural_class(object_classes: Iterable[str]) -> str | None:
    """The entry's structural class as slapd would compute it (most derived one).

    Written by the loader when it skips schema checking, because slapd
    refuses to modify an entry without ``structuralObjectClass``. With two
    unrelated chains (AD's ``user`` plus ``inetOrgPerson``) the deepest wins.
    """
    classes = _schema()[1]

    def ancestors(name: str) -> set[str]:
        out: set[str] = set()
        todo = list(classes.get(name, ("", ()))[1])
        while todo:
            c = todo.pop()
            if c not in out:
                out.add(c)
                todo.extend(classes.get(c, ("", ()))[1])
        return out

    given = [c for c in object_classes if classes.get(c.lower(), ("",))[0] == "STRUCTURAL"]
    if not given:
        return None
    return max(given, key=lambda c: len(ancestors(c.lower())))


# ---------------------------------------------------------------- DN handling


def _fold_value(value: AttrValue) -> AttrValue:
    return value.lower() if isinstance(value, str) else value


def _rdn_parts(rdn: str) -> tuple[str, str]:
    try:
        return ava_parts(rdn)
    except ValueError as exc:
        raise SlapdError(str(exc)) from None


def dn_key(dn: str) -> tuple[str, ...]:
    """A comparison key for a DN: case and escaping insensitive (good enough here)."""
    key = []
    for rdn in split_dn(dn):
        parts = []
        for ava in split_rdn(rdn):
            name, value = _rdn_parts(ava)
            parts.append(f"{name.lower()}={' '.join(value.split()).lower()}")
        key.append("+".join(sorted(parts)))
    return tuple(key)


# ---------------------------------------------------------------- LDIF writing


def _safe(value: str) -> bool:
    """RFC 2849 SAFE-STRING, restricted to printable ASCII (C-speed checks)."""
    if not value:
        return True
    return value.isascii() and value.isprintable() and value[0] not in " :<" and value[-1] != " "


def ldif_line(name: str, value: AttrValue) -> str:
    """One ``name: value`` line, base64 when RFC 2849 says plain text is unsafe."""
    if isinstance(value, str) and _safe(value):
        return f"{name}: {value}\n"
    data = value if isinstance(value, bytes) else value.encode("utf-8")
    return f"{name}:: {base64.b64encode(data).decode('ascii')}\n"


def _parent_entry(dn: str) -> str:
    first = split_dn(dn)[0]
    if len(split_rdn(first)) > 1:
        raise SlapdError(f"cannot create parent entry {dn!r} (multi-valued RDN): put it in the LDIF")
    attr, value = _rdn_parts(first)
    classes = _PARENT_CLASSES.get(attr.lower())
    if classes is None:
        raise SlapdError(f"cannot create parent entry {dn!r}: put it in the LDIF")
    text = ldif_line("dn", dn)
    for oc in classes:
        text += ldif_line("objectClass", oc)
    return text + ldif_line(attr, value) + "\n"


def prepare_data(
    entries: Iterable[RawEntry],
    base_dn: str,
    out: Path,
    *,
    drop_unknown: bool = False,
    add_structural: bool = False,
) -> LoadReport:
    """Write ``entries`` as slapadd input to ``out``; return what was written.

    Adds the suffix and missing parents (before the data, parents first).
    Values of two names of one attribute (``mail`` and ``rfc822Mailbox``,
    ``targetAddress`` and ``Target-Address``) are merged, a value repeated
    across them kept once (case-insensitively), because slapd stores them as
    one attribute and refuses a repeated value. Attributes the schema does not
    know are an error naming them, or dropped (``drop_unknown=True``).
    ``add_structural`` writes ``structuralObjectClass`` (see
    :func:`structural_class`) for a load without schema checking.
    """
    aliases = _schema()[0]
    base_key = dn_key(base_dn)
    if not base_key:
        raise SlapdError("base DN is empty")
    report = LoadReport()
    seen: set[tuple[str, ...]] = set()
    needed: dict[tuple[str, ...], str] = {}
    unknown: dict[str, str] = {}
    body = out.with_suffix(".body")
    with body.open("w", encoding="utf-8") as fh:
        for entry in entries:
            key = dn_key(entry.dn)
            if key[-len(base_key) :] != base_key or len(key) < len(base_key):
                raise SlapdError(f"{entry.where or entry.dn}: entry is outside {base_dn!r}")
            seen.add(key)
            rdns = split_dn(entry.dn)
            for i in range(1, len(key) - len(base_key) + 1):
                needed.setdefault(key[i:], ",".join(rdns[i:]))
            merged: dict[str, list[AttrValue]] = {}
            for name, values in entry.attrs.items():
                canonical = aliases.get(name)
                if canonical is None:
                    if drop_unknown:
                        report.dropped[name] = report.dropped.get(name, 0) + len(values)
                    else:
                        unknown.setdefault(name, entry.where or entry.dn)
                    continue
                if canonical not in merged:
                    merged[canonical] = list(values)
                    continue
                # A second name of the same attribute (rfc822Mailbox after mail).
                target = merged[canonical]
                have = {_fold_value(v) for v in target}
                for v in values:
                    if _fold_value(v) not in have:
                        target.append(v)
                        have.add(_fold_value(v))
            if add_structural and "structuralobjectclass" not in merged:
                structural = structural_class(v for v in merged.get("objectclass", ()) if isinstance(v, str))
                if structural:
                    merged["structuralobjectclass"] = [structural]
            lines = [ldif_line("dn", entry.dn)]
            for name, values in merged.items():
                lines += [ldif_line(name, v) for v in values]
            fh.write("".join(lines) + "\n")
            report.entries += 1
    if unknown:
        body.unlink(missing_ok=True)
        names = ", ".join(f"{n} ({w})" for n, w in sorted(unknown.items())[:10])
        raise SlapdError(
            f"attributes the test schema does not know: {names}; "
            "drop them with --drop-unknown-attributes (drop_unknown=True)"
        )
    missing = [(k, dn) for k, dn in needed.items() if k not in seen]
    if base_key not in seen and base_key not in needed:
        missing.append((base_key, base_dn))
    missing.sort(key=lambda item: len(item[0]))
    with out.open("w", encoding="utf-8") as fh:
        for _, dn in missing:
            fh.write(_parent_entry(dn))
            report.added_parents.append(dn)
        with body.open("r", encoding="utf-8") as src:
            shutil.copyfileobj(src, fh, 1 << 20)
    body.unlink()
    return report
