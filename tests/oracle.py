"""Independent test oracle for ``ccmig audit``, transcribed from spec.md alone.

This module re-implements the audit rules directly from the contract
(/work/shared/spec.md: *Inputs* (dialect classification), *The directory
layer*, *Output of ccmig audit*, *Which rows*, *Terms*, *Finding codes*,
``route``) without looking at the main implementation (``toolkit.rules``,
``toolkit.audit``, ``toolkit.ccmail.address``, ``toolkit.text``). It is meant
to be naive and obviously correct: quadratic loops, one function per spec
sentence, comments quoting the sentence implemented. Only the LDIF reader
(``toolkit.exchange.ldif.read_ldif``) is reused, for the mechanics of LDIF
(folding, base64); the cc:Mail directory files are parsed here (a small,
strict reader for the well-formed files the differential test writes).

``oracle_rows`` returns the JSON rows of ``ccmig audit --format json``; the
``message``/``action`` texts are placeholders (the differential test ignores
them).

Ambiguities (the reading chosen here is the most literal one)
--------------------------------------------------------------
A1. *White space* (parsing, folding, ``ccmail_name``) is taken as Python's
    notion (``str.split()``: Unicode white space, including the control
    characters TAB, LF, VT, FF, CR, FS..US, NEL). Since issue 13 the spec
    says "A control character (Unicode Cc: TAB, CR, LF, NEL, ...) anywhere in
    the name or PO makes the value invalid -- checked on the value as read,
    before any folding": a name holding a TAB or LF is invalid, although
    folding would have turned it into a space. ``ccmail_name`` says "space
    runs folded" but the parsed name is already white-space folded.
A2. *Folded* is applied in the order written: NFC, trim, fold white space,
    ``casefold()`` (no second NFC after case folding).
A3. ``multiple-primaries``: "more than one valid upper-case ``CCMAIL:``
    value". A custom recipient's ``targetAddress`` is a cc:Mail value and only
    mailboxes and groups have it "count as a lower-case proxy", so an
    upper-case ``CCMAIL:`` target on a custom recipient counts here (a contact
    with target ``CCMAIL:A at PO1`` and proxy ``CCMAIL:A at PO1`` gets
    ``multiple-primaries``).
A4. Exchange 5.5: a ``targetAddress`` / ``Target-Address`` is read on every
    kind (Terms: "a targetAddress of that type" is a cc:Mail value; on a
    mailbox or group it "counts as a lower-case proxy", and in 5.5 case does
    not matter, so it can become the primary "first address at X" when no
    ``otherMailbox`` value is at X). Its type separator is ``:``
    (domain.md: Target Address ``TYPE:value``); ``otherMailbox`` uses ``$``.
A5. Classification precedence follows the order the spec lists the classes:
    AD ``contact`` > ``group`` > ``user``/``inetOrgPerson``; 5.5
    ``remote-address``/``custom-recipient`` > ``organizationalPerson`` >
    ``groupOfNames``. "non-empty" ``homeMDB``/``msExchHomeServerName`` means a
    value that is not empty after trimming; "has a targetAddress" means a
    value that is not empty after trimming.
A6. A value without a type separator (no ``:`` for proxies/targets, no ``$``
    for ``otherMailbox``) has no type, so it is not a cc:Mail value at all (not
    an invalid one).
A7. ``ccmail-user`` rows: when several ``L``/``l`` entries fold to the same
    (name, PO), the spec (since issue 13) says "the spelling that sorts first
    by code point"; ``old_post_office`` ("the entry's PO") is read as that
    entry's PO, ties in the name broken by the PO's code points.
A8. ``unconfirmed-migration``: "the stale entries" are every cc:Mail user
    entry that routes to a cc:Mail mailbox and whose folded name equals the
    primary name or an old address's name (each entry counted once); their
    ``Messages`` are summed whatever their ``Locn`` (``R``/``r`` too).
A9. ``duplicate-address`` and ``name-conflict`` compare against other
    *Exchange recipients* (objects classified as mailbox, custom recipient or
    group); non-recipients "take part in no rule". The orphan exception is per
    pair of objects: for object A and another object B sharing folded
    address K, the pair is exempt iff one is a mailbox for which K is an old
    address and the other is a custom recipient. ``name-conflict``'s "unless
    the two form an orphan-custom-recipient pair" means: one is a mailbox,
    the other a custom recipient carrying *any* of that mailbox's old
    addresses.
A10. ``route`` for a mailbox without a cc:Mail name (e.g. only invalid
    values, or only a lower-case value at X in AD): not stale, and no entry
    can have "its cc:Mail name", so ``undeliverable``.
A11. ``missing-secondary-address`` needs a primary ("the mailbox's primary
    name"); the entry's PO is compared folded with X and with the old
    addresses' POs.
A12. Keys: ``dn:`` + Folded(DN); rows sorted by Python string order of key.
    Mailbox-stats identities are matched to DNs Folded too ("case-insensitively"
    in the stats bullet, but Terms: Folded is "for every comparison").
A13. ``targetAddress`` is single-valued in AD, but an LDIF may carry several
    values (or 5.5 both ``targetAddress`` and ``Target-Address``): the custom
    recipient's primary is the first *valid* cc:Mail target ("invalid values
    never count").
A14. The type is the text before the separator exactly as written: a type
    with surrounding white space (`` CCMAIL:``, ``CCMAIL :``) is not
    ``CCMAIL``, so such a value is not a cc:Mail value.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.exchange.ldif import read_ldif

# Ambiguity A3 / disagreement D1: does a custom recipient's upper-case
# targetAddress count towards multiple-primaries? The literal text says yes;
# the project decided no (its primary is the target; real contacts carry it as
# a proxy too). The diff test follows the decision; test_recorded_disagreement
# flips this switch to keep the literal reading on record.
A3_CR_TARGET_COUNTS = False

SEVERITY = {
    "invalid-address": "error",
    "duplicate-address": "error",
    "name-conflict": "error",
    "stale-ccmail-mailbox": "error",
    "orphan-custom-recipient": "error",
    "missing-primary-address": "warning",
    "multiple-primaries": "warning",
    "missing-secondary-address": "warning",
    "unconfirmed-migration": "warning",
    "awaiting-dirsync": "warning",
    "source-mismatch": "warning",
    "not-migrated": "info",
}
# "Finding codes, most severe first" -- the table's order.
TABLE_ORDER = list(SEVERITY)


# --------------------------------------------------------------------------- Terms


def squeeze(s: str) -> str:
    """Trimmed, runs of white space folded to one space (ambiguity A1)."""
    return " ".join(s.split())


def fold(s: str) -> str:
    # "*Folded* (for every comparison and key): NFC-normalised, trimmed,
    # white-space runs folded to one space, Unicode case folding
    # (str.casefold())."
    return squeeze(unicodedata.normalize("NFC", s)).casefold()


@dataclass
class Value:
    """One cc:Mail value on an Exchange object."""

    raw: str
    prefix: str  # the type as written, e.g. "CCMAIL", "ccMail"
    source: str  # "proxy" or "target"
    name: str | None = None
    po: str | None = None
    valid: bool = False

    @property
    def key(self) -> tuple[str, str]:
        assert self.valid and self.name is not None and self.po is not None
        return (fold(self.name), fold(self.po))


def split_at(rest: str) -> tuple[str, str] | None:
    # "the part after the type is split at the last occurrence of ` at ` in
    # any case, searching from the end (`Cole, At at PO1` -> `Cole, At` / `PO1`)"
    i = len(rest) - 4
    while i >= 0:
        w = rest[i:i + 4]
        if w[0] == " " and w[1] in "aA" and w[2] in "tT" and w[3] == " ":
            return rest[:i], rest[i + 4:]
        i -= 1
    return None


def is_valid_po(po: str) -> bool:
    # "its PO is empty or holds anything but ASCII letters, digits, `-`, `_`"
    if po == "":
        return False
    return all(("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9") or ch in "-_"
               for ch in po)


def is_valid_name(name: str) -> bool:
    # "its name is empty or holds `"`, `[`, `]` or a control character
    # (Unicode category Cc)"
    if name == "":
        return False
    return not any(ch in '"[]' or unicodedata.category(ch) == "Cc" for ch in name)


def parse_value(raw: str, sep: str, source: str) -> Value | None:
    """A cc:Mail value, or None when the raw string is not of type CCMAIL."""
    # "A *cc:Mail value*: a proxyAddresses value (AD) or otherMailbox value
    # (5.5) whose type is `CCMAIL` in any case, or a targetAddress of that type."
    if sep not in raw:
        return None  # ambiguity A6: no type at all
    prefix, rest = raw.split(sep, 1)
    if prefix.upper() != "CCMAIL":
        return None
    v = Value(raw, prefix, source)
    parts = split_at(rest)
    if parts is None:
        return v  # "does not parse" -> invalid
    # "A control character (Unicode Cc: TAB, CR, LF, NEL, ...) anywhere in the
    # name or PO makes the value invalid -- checked on the value as read,
    # before any folding."
    if any(unicodedata.category(ch) == "Cc" for ch in parts[0] + parts[1]):
        return v
    # "Name and PO are then trimmed and runs of white space folded to one
    # space; then validated (see invalid-address). `/` escapes are not
    # interpreted."
    v.name, v.po = squeeze(parts[0]), squeeze(parts[1])
    v.valid = is_valid_name(v.name) and is_valid_po(v.po)
    return v


# --------------------------------------------------------------------------- Exchange side


def texts(attrs: dict, name: str) -> list[str]:
    return [v for v in attrs.get(name.lower(), []) if isinstance(v, str)]


def has_nonempty(attrs: dict, name: str) -> bool:
    return any(v.strip() for v in texts(attrs, name))


def classify(attrs: dict, dialect: str) -> str | None:
    classes = {c.strip().casefold() for c in texts(attrs, "objectclass")}
    if dialect == "ad":
        # "`contact` -> custom recipient; `group` (any type) -> group; an
        # object of class `user` or `inetOrgPerson` that is not a `computer`
        # -> mailbox if `homeMDB` or `msExchHomeServerName` is non-empty, else
        # custom recipient (a mail-enabled user) if it has a `targetAddress`;
        # everything else is not a recipient and takes part in no rule."
        if "contact" in classes:
            return "custom-recipient"
        if "group" in classes:
            return "group"
        if ("user" in classes or "inetorgperson" in classes) and "computer" not in classes:
            if has_nonempty(attrs, "homeMDB") or has_nonempty(attrs, "msExchHomeServerName"):
                return "mailbox"
            if has_nonempty(attrs, "targetAddress"):
                return "custom-recipient"
        return None
    # "Exchange 5.5 dialect: `remote-address` or `custom-recipient` -> custom
    # recipient; `organizationalPerson` -> mailbox; `groupOfNames` -> group."
    if "remote-address" in classes or "custom-recipient" in classes:
        return "custom-recipient"
    if "organizationalperson" in classes:
        return "mailbox"
    if "groupofnames" in classes:
        return "group"
    return None


@dataclass
class Obj:
    dn: str
    kind: str
    values: list[Value]  # every cc:Mail value, proxies first, then targets
    item_count: int | None = None
    primary: Value | None = None
    old: list[Value] = field(default_factory=list)
    ccmail_name: str | None = None

    def valid_values(self) -> list[Value]:
        return [v for v in self.values if v.valid]

    def addr_keys(self) -> set[tuple[str, str]]:
        return {v.key for v in self.valid_values()}


def read_objects(ldif_path: str, dialect: str) -> list[Obj]:
    objs = []
    for entry in read_ldif(ldif_path):
        kind = classify(entry.attrs, dialect)
        if kind is None:
            continue  # "not a recipient and takes part in no rule"
        values: list[Value] = []
        # "Readers keep attribute values in the order read, with an object's
        # `targetAddress` after its proxies (some rules depend on value order)."
        if dialect == "ad":
            for raw in texts(entry.attrs, "proxyAddresses"):
                v = parse_value(raw, ":", "proxy")
                if v:
                    values.append(v)
            targets = texts(entry.attrs, "targetAddress")
        else:
            # "Addresses come from `otherMailbox` (`type$address`), ..."
            for raw in texts(entry.attrs, "otherMailbox"):
                v = parse_value(raw, "$", "proxy")
                if v:
                    values.append(v)
            # "a custom recipient's target from `targetAddress` (or
            # `Target-Address`)" -- ambiguity A4.
            targets = texts(entry.attrs, "targetAddress") + texts(entry.attrs, "target-address")
        for raw in targets:
            v = parse_value(raw, ":", "target")
            if v:
                values.append(v)
        objs.append(Obj(entry.dn, kind, values))
    return objs


def at_x(po: str, xset: set[str]) -> bool:
    # '"At X" means at any PO in X.'
    return fold(po) in xset


def compute_primary(o: Obj, dialect: str, xset: set[str]) -> Value | None:
    # "*Primary* cc:Mail address (invalid values never count):"
    valid = o.valid_values()

    def proxy_rule() -> Value | None:
        if dialect == "ad":
            # "AD dialect, mailbox or group: the last upper-case `CCMAIL:`
            # proxy in value order, wherever its PO is"
            # "On a mailbox or group a cc:Mail `targetAddress` counts as a
            # lower-case proxy."
            last = None
            for v in valid:
                if v.source == "proxy" and v.prefix == "CCMAIL":
                    last = v
            return last
        # "5.5 dialect, mailbox or group: the first address at X."
        for v in valid:
            if at_x(v.po, xset):
                return v
        return None

    if o.kind == "custom-recipient":
        # "Custom recipient: its cc:Mail `targetAddress` in any case; else as
        # above for its dialect (AD: last upper-case `CCMAIL:` proxy; 5.5:
        # first address at X)."
        for v in valid:
            if v.source == "target":
                return v
        if dialect == "ad":
            last = None
            for v in valid:
                if v.source == "proxy" and v.prefix == "CCMAIL":
                    last = v
            return last
        for v in valid:
            if v.source == "proxy" and at_x(v.po, xset):
                return v
        return None
    return proxy_rule()


def compute_old(o: Obj, xset: set[str]) -> list[Value]:
    # "A mailbox's *old addresses*: its cc:Mail addresses at a PO other than X
    # (a lower-case value at X is neither primary nor old)."
    if o.kind != "mailbox":
        return []
    return [v for v in o.valid_values() if not at_x(v.po, xset)]


# --------------------------------------------------------------------------- cc:Mail side


@dataclass
class Entry:
    name: str
    locn: str
    file_po: str
    addr: str = ""
    messages: int | None = None

    def is_user(self) -> bool:
        # "A cc:Mail *user entry*: `L l R r` (aliases `A a` and POs `P p` are
        # not users)."
        return self.locn in ("L", "l", "R", "r")

    def po(self) -> str:
        # "Its PO: the file's PO for `L`/`l`, and for `R`/`r` with an empty
        # `Addr`; otherwise the first word of `Addr`, taken at face value"
        # "`Addr` missing, empty or blank are the same."
        if self.locn in ("L", "l"):
            return self.file_po
        words = self.addr.split()
        if not words:
            return self.file_po
        return words[0]

    def routes_to_exchange(self, xset: set[str]) -> bool:
        # "It *routes to Exchange* when its PO is X, else to a cc:Mail mailbox."
        return at_x(self.po(), xset)


def read_dir_file(arg: str) -> list[Entry]:
    """Strict reader for well-formed directory files (header or PO=FILE)."""
    po = None
    path = Path(arg)
    if "=" in arg and not path.exists():
        po, rest = arg.split("=", 1)
        path = Path(rest)
    data = path.read_bytes()
    # "UTF-8 if the file starts with a UTF-8 BOM or decodes as UTF-8, else cp850"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp850")
    # "CRLF or LF."
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    records: list[list[tuple[str, str]]] = [[]]
    for line in lines:
        if not line.strip():
            if records[-1]:
                records.append([])
            continue
        key, colon, value = line.partition(":")
        assert colon, f"oracle: line without colon in {path}: {line!r}"
        records[-1].append((key.strip().casefold(), value.strip()))
    records = [r for r in records if r]
    if records and records[0][0][0] == "post office":
        header = squeeze(records[0][0][1])
        assert po is None or fold(po) == fold(header), "oracle: header/prefix disagree"
        po = header
        records = records[1:]
    assert po, f"oracle: no PO for {path}"
    entries = []
    for rec in records:
        d: dict[str, str] = {}
        for k, v in rec:
            assert k not in ("name", "locn") or k not in d, "oracle: repeated Name/Locn"
            d.setdefault(k, v)
        messages = d.get("messages", "")
        entries.append(Entry(squeeze(d["name"]), d["locn"], po, d.get("addr", ""),
                             int(messages) if messages else None))
    return entries


# --------------------------------------------------------------------------- rules


def is_orphan_pair(m: Obj, c: Obj) -> bool:
    # "orphan-custom-recipient: a custom recipient carries one of the
    # mailbox's old addresses (as targetAddress or proxy)"
    if m.kind != "mailbox" or c.kind != "custom-recipient":
        return False
    old_keys = {v.key for v in m.old}
    return any(k in old_keys for k in c.addr_keys())


def shared_is_exempt(a: Obj, b: Obj, key: tuple[str, str]) -> bool:
    # "except a mailbox's old address shared with a custom recipient, which is
    # their orphan-custom-recipient pair (two custom recipients sharing it are
    # still duplicates)"
    for m, c in ((a, b), (b, a)):
        if m.kind == "mailbox" and c.kind == "custom-recipient" and key in {v.key for v in m.old}:
            return True
    return False


def oracle_rows(ldif_path, ccmail_files: list[str], exchange_pos: list[str], dialect="ad",
                stats: dict[str, int] | None = None) -> list[dict]:
    ldif_path = str(ldif_path)
    xset = {fold(p) for p in exchange_pos}
    objs = read_objects(ldif_path, dialect)
    # "The directory is the union of all `--ccmail-dir` files."
    entries: list[Entry] = []
    for f in ccmail_files:
        entries += read_dir_file(str(f))
    users = [e for e in entries if e.is_user()]

    # "An identity matches a mailbox, case-insensitively, by DN" -- compared
    # Folded, since Terms says "*Folded* (for every comparison and key)".
    for identity, count in (stats or {}).items():
        for o in objs:
            if o.kind == "mailbox" and fold(o.dn) == fold(identity):
                o.item_count = count

    for o in objs:
        o.primary = compute_primary(o, dialect, xset)
        o.old = compute_old(o, xset)
        if o.kind == "mailbox":
            # "Its *cc:Mail name*: the primary name, else the name of its
            # first old address in value order, else none."
            if o.primary is not None:
                o.ccmail_name = o.primary.name
            elif o.old:
                o.ccmail_name = o.old[0].name
        elif o.primary is not None:
            o.ccmail_name = o.primary.name

    def entry_names_match(e: Entry, name: str | None) -> bool:
        # "Entries match by folded name, whatever their PO."
        return name is not None and fold(e.name) == fold(name)

    def stale_entries(m: Obj) -> list[Entry]:
        # "the mailbox's primary name or one of its old addresses' names
        # matches a cc:Mail user entry that routes to a cc:Mail mailbox"
        names = ([m.primary.name] if m.primary else []) + [v.name for v in m.old]
        out = []
        for e in users:
            if e.routes_to_exchange(xset):
                continue
            if any(entry_names_match(e, n) for n in names):
                out.append(e)
        return out

    def reaches_exchange(m: Obj) -> bool:
        # "a user entry with its cc:Mail name routes to Exchange"
        return any(entry_names_match(e, m.ccmail_name) and e.routes_to_exchange(xset)
                   for e in users)

    rows = []
    for o in objs:
        # "Every Exchange object classified as mailbox, custom recipient or
        # group that has at least one cc:Mail value, valid or not."
        if not o.values:
            continue
        others = [b for b in objs if b is not o]
        codes: set[str] = set()

        # invalid-address: "a cc:Mail value on the object does not parse, or
        # its name is empty or holds ... Invalid values take no part in any
        # other rule"
        if any(not v.valid for v in o.values):
            codes.add("invalid-address")

        # duplicate-address: "the same folded cc:Mail address (name and PO) is
        # on this object and on another object"
        for k in o.addr_keys():
            for b in others:
                if k in b.addr_keys() and not shared_is_exempt(o, b, k):
                    codes.add("duplicate-address")

        # name-conflict: "another Exchange object's primary has the same folded
        # name as this object's primary while the two folded addresses differ,
        # unless the two form an orphan-custom-recipient pair ... Objects
        # without a primary take no part"
        if o.primary is not None:
            for b in others:
                if b.primary is None:
                    continue
                if fold(b.primary.name) != fold(o.primary.name):
                    continue
                if b.primary.key == o.primary.key:
                    continue
                if is_orphan_pair(o, b) or is_orphan_pair(b, o):
                    continue
                codes.add("name-conflict")

        stale: list[Entry] = []
        if o.kind == "mailbox":
            stale = stale_entries(o)
            if stale:
                codes.add("stale-ccmail-mailbox")

        # orphan-custom-recipient: "reported on both rows"
        if o.kind == "mailbox" and any(is_orphan_pair(o, b) for b in others):
            codes.add("orphan-custom-recipient")
        if o.kind == "custom-recipient" and any(is_orphan_pair(b, o) for b in others):
            codes.add("orphan-custom-recipient")

        # missing-primary-address: "the mailbox has a valid cc:Mail value but
        # no primary at X"
        if (o.kind == "mailbox" and o.valid_values()
                and not (o.primary is not None and at_x(o.primary.po, xset))):
            codes.add("missing-primary-address")

        # multiple-primaries: "AD dialect: the object has more than one valid
        # upper-case `CCMAIL:` value" (ambiguity A3)
        if dialect == "ad":
            n = 0
            for v in o.valid_values():
                if v.prefix != "CCMAIL":
                    continue
                if v.source == "target" and o.kind in ("mailbox", "group"):
                    continue  # "counts as a lower-case proxy"
                if v.source == "target" and not A3_CR_TARGET_COUNTS:
                    continue  # project decision D1: a custom recipient's target is its primary
                n += 1
            if n > 1:
                codes.add("multiple-primaries")

        if o.kind == "mailbox":
            # missing-secondary-address: "a cc:Mail user entry has the
            # mailbox's primary name and a PO other than X, and the mailbox has
            # no old address (of any name) at that PO"
            if o.primary is not None:
                for e in users:
                    if not entry_names_match(e, o.primary.name):
                        continue
                    if at_x(e.po(), xset):
                        continue
                    if not any(fold(v.po) == fold(e.po()) for v in o.old):
                        codes.add("missing-secondary-address")

            # unconfirmed-migration: "with stale-ccmail-mailbox: the Exchange
            # item count is known and lower than the sum of `Messages` over the
            # stale entries that have one (none known: no finding)"
            if stale and o.item_count is not None:
                known = [e.messages for e in stale if e.messages is not None]
                if known and o.item_count < sum(known):
                    codes.add("unconfirmed-migration")

            # awaiting-dirsync: "the mailbox has a cc:Mail name, is not stale,
            # and no cc:Mail user entry with its cc:Mail name routes to
            # Exchange"
            if o.ccmail_name is not None and not stale and not reaches_exchange(o):
                codes.add("awaiting-dirsync")

        findings = [{"code": c, "severity": SEVERITY[c], "message": "", "action": ""}
                    for c in TABLE_ORDER if c in codes]

        # "`route` (mailbox and `ccmail-user` rows; null on others):
        # `ccmail-mailbox` for a `ccmail-user` row or a stale mailbox; else
        # `exchange` if a user entry with its cc:Mail name routes to Exchange;
        # else `undeliverable`."
        route = None
        if o.kind == "mailbox":
            if stale:
                route = "ccmail-mailbox"
            elif reaches_exchange(o):
                route = "exchange"
            else:
                route = "undeliverable"

        # "`old_post_office`: mailbox: the PO of its first old address; custom
        # recipient: its primary's PO unless that is X; ... else null."
        old_po = None
        if o.kind == "mailbox" and o.old:
            old_po = o.old[0].po
        if o.kind == "custom-recipient" and o.primary is not None and not at_x(o.primary.po, xset):
            old_po = o.primary.po

        rows.append({
            "key": "dn:" + fold(o.dn),
            "dn": o.dn,
            "kind": o.kind,
            "ccmail_name": o.ccmail_name,
            "old_post_office": old_po,
            "route": route,
            "status": findings[0]["code"] if findings else "complete",
            "findings": findings,
        })

    # "One `ccmail-user` row per distinct (name, PO) among `L`/`l` entries for
    # which no mailbox has that valid address and no mailbox has that name as
    # its primary's name. Custom recipients never suppress it; it always
    # carries `not-migrated`."
    mailboxes = [o for o in objs if o.kind == "mailbox"]
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.locn not in ("L", "l"):
            continue
        groups.setdefault((fold(e.name), fold(e.po())), []).append(e)
    for k, group in groups.items():
        # "a cc:Mail user row of several entries with one folded name and PO:
        # the spelling that sorts first by code point" (ambiguity A7)
        e = min(group, key=lambda g: (squeeze(g.name), g.po()))
        if any(k in m.addr_keys() for m in mailboxes):
            continue
        if any(m.primary is not None and fold(m.primary.name) == k[0] for m in mailboxes):
            continue
        rows.append({
            # "for cc:Mail-only rows, `ccmail:<name>@<po>` folded as in Terms"
            "key": "ccmail:" + k[0] + "@" + k[1],
            "dn": None,
            "kind": "ccmail-user",
            "ccmail_name": squeeze(e.name),
            "old_post_office": e.po(),
            "route": "ccmail-mailbox",
            "status": "not-migrated",
            "findings": [{"code": "not-migrated", "severity": "info", "message": "",
                          "action": ""}],
        })

    # "Rows are sorted by `key`"
    return sorted(rows, key=lambda r: r["key"])


def write_stats_csv(path: Path, stats: dict[str, int]) -> None:
    """The ``--mailbox-stats`` file: header ``identity,item_count``."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["identity", "item_count"])
        for identity, count in stats.items():
            w.writerow([identity, count])
