"""The six proxy finding codes (spec: ``ccmig proxies audit``), one function each.

Each rule is ``(ctx, index) -> ProxyFinding | None`` and holds its code's
whole predicate; :data:`RULES` lists them in the table's order, so a row's
findings come out in that order and its status is the most severe. Codes and
severities are declared once, in :data:`SEVERITY`.

The helpers :func:`retired_targets`, :func:`kept_values` and
:func:`remove_values` are shared by the rules and by ``remove`` (and by the
plan), so a row's findings and the values a plan removes can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from operator import attrgetter

from toolkit.ccmail.address import parse
from toolkit.model import DirEntry, new_finding
from toolkit.multimap import Index
from toolkit.proxies.model import (
    ProxyFinding,
    ProxyKind,
    ProxyObject,
    ProxyRow,
    ProxyValue,
    SameKey,
    new_row,
    same_key_of,
    value_type,
)
from toolkit.proxies.settings import CCMAIL, ProxySettings
from toolkit.text import CONTROL, fold

SEVERITY = {
    "malformed-proxy": "error",
    "duplicate-proxy": "error",
    "retired-target": "error",
    "retired-in-use": "error",
    "retired-address": "warning",
    "too-many-values": "warning",
}
CODES = tuple(SEVERITY)
Key = SameKey


@dataclass(frozen=True)
class Context:
    """The objects (sorted by key) and what every rule may look up."""

    objects: tuple[ProxyObject, ...]
    settings: ProxySettings
    # *the same* value -> the objects carrying it, ascending (the toolkit's
    # multimap: one object stored bare; by_value[key] gives a list)
    by_value: Index
    # the objects carrying a value some other object carries too, each with its
    # values' keys (None: no type) as build folded them: duplicate-proxy reads
    # only these, and does not fold again (most objects share none)
    sharing: dict[int, list[Key | None]] = field(default_factory=dict)
    # remove_values' last answer (object, values): retired-address and the row
    # ask for the same object's, one after the other
    last_removal: list = field(default_factory=list)

    @classmethod
    def build(cls, objects: Iterable[ProxyObject], settings: ProxySettings) -> Context:
        # by key, ties by DN: sorted by the key alone (strings: the sort's fast
        # compare, ~0.04 s less at 100,000 people), by both only when two
        # keys are equal (DNs that fold alike)
        ordered = sorted(objects, key=_KEY)
        if any(a.key == b.key for a, b in pairwise(ordered)):
            ordered.sort(key=_ORDER)  # (stable: equal keys and DNs stay in read order)
        # One object's position stored bare, not a list a key (Index): nearly every
        # value is on one object (at 100,000 people ~300,000 keys: a list each
        # cost ~20 MB, own RSS 303.5 -> 282.2 MB). Index.add written out: an
        # object carrying a value twice is filed once.
        index = Index()
        keep = index.setdefault
        key_of = same_key_of
        keys_of: list[list[Key | None]] = []
        for i, obj in enumerate(ordered):
            # v.same_key written out (same_key_of: no call a value; a type
            # with a ":" takes the call)
            keys = [None if (t := v.type) is None else f"{t}:{fold(v.address)}"
                    if ":" not in t else key_of(t, v.address) for v in obj.values]
            keys_of.append(keys)
            for key in keys:
                if key is not None:
                    have = keep(key, i)
                    if have is not i:  # (i itself: this object's key, filed already)
                        if have.__class__ is not list:
                            index[key] = [have, i]
                        elif have[-1] != i:
                            have.append(i)
        sharing = {i: keys_of[i] for _, holders in index.several() for i in holders}
        return cls(tuple(ordered), settings, index, sharing)


_ORDER = attrgetter("key", "dn")  # rows by key (then DN): the lambda's tuple, made in C
_KEY = attrgetter("key")


def finding(code: str, message: str, action: str) -> ProxyFinding:
    return new_finding(code, SEVERITY[code], message, action)


def describe(obj: ProxyObject) -> str:
    return f"{_KIND_TEXT[obj.kind]} {obj.dn}"


_KIND_TEXT = {kind: kind.value for kind in ProxyKind}  # .value through the enum costs ~0.3 µs


def quoted(values: Iterable[str]) -> str:
    return ", ".join([f"'{v}'" for v in values])


# --------------------------------------------------------------------------- shared predicates


def malformed_reasons(v: ProxyValue) -> list[str]:
    """Why a value is malformed (empty: it is not)."""
    if v.undecodable:
        return ["not valid UTF-8"]
    if _plainly_well_formed(v):
        return []
    reasons = []
    if v.type is None:
        reasons.append("no type")
    elif not v.address:
        reasons.append("empty address")
    if v.text[:1].isspace() or v.text[-1:].isspace():
        reasons.append("value begins or ends with white space")
    elif v.type is not None and (v.address[:1].isspace() or v.address[-1:].isspace()):
        reasons.append("address begins or ends with white space")
    if CONTROL.search(v.text):
        reasons.append("control character")
    if v.type == "SMTP" and v.address and not _one_at(v.address):
        reasons.append("SMTP address is not text@text with exactly one '@'")
    return reasons


def _plainly_well_formed(v: ProxyValue) -> bool:
    """True only for a value none of :func:`malformed_reasons`' tests below
    it can fault: it has a type and an address, its text is printable (so no
    control character, and no white space but U+0020: every other white
    space character is a control character or a separator, and those are not
    printable), starts and ends with no space, nor does its address start
    with one (it ends where the text does), and an SMTP address has one
    ``@`` between text. False says nothing: the full tests then decide.

    Why: malformed-proxy tests every value (37,602 at 10,000 people). Under
    callgrind (gc off, as the CLI runs) malformed_reasons cost ~9,400
    instructions a value with its full tests (three ``isspace`` tests, the
    CONTROL search, a list), ~8,300 with a regular expression as shortcut
    and ~6,400 with this one (``str.isprintable`` is one pass in C).
    ``tests/test_proxies_fast.py`` holds the two together over random and
    hostile values and every character of the first planes."""
    text, address, kind = v.text, v.address, v.type
    return (kind is not None and address != "" and text.endswith(address) and text.isprintable()
            and text[0] != " " and text[-1] != " " and address[0] != " "
            and (kind != "SMTP" or _one_at(address)))


def _one_at(address: str) -> bool:
    local, at, domain = address.partition("@")
    return bool(at) and bool(local) and bool(domain) and "@" not in domain


def retired_targets(ctx: Context, obj: ProxyObject) -> list[str]:
    """A custom recipient's targetAddress values of a retired type."""
    if obj.kind is not ProxyKind.CUSTOM_RECIPIENT:
        return []
    return [t for t in obj.targets if value_type(t) in ctx.settings.retired]


def kept_values(ctx: Context, obj: ProxyObject) -> list[tuple[int, ProxyValue, tuple[DirEntry, ...]]]:
    """(position, value, matching user entries) of every value retired-in-use keeps."""
    entries = ctx.settings.user_entries
    if not ctx.settings.retires_ccmail or not entries:
        return []
    out = []
    for n, v in enumerate(obj.values):
        if v.type != CCMAIL:
            continue
        prefix = v.text[: len(v.text) - len(v.address) - 1]
        parsed = parse(v.text, prefix, v.address, "proxy")
        if parsed.error is None and parsed.key is not None and parsed.key[0] in entries:
            out.append((n, v, entries[parsed.key[0]]))
    return out


def remove_values(ctx: Context, obj: ProxyObject) -> tuple[str, ...]:
    """What a plan removes: every value of a retired type that retired-in-use
    does not keep, as read, in value order; nothing for a retired target.

    The same answer, cheaper (the row and retired-address both ask, and most
    objects carry no value of a retired type, or no CCMAIL one): the last
    object's answer is remembered, and targets and kept values are looked at
    only when there is something to remove."""
    last = ctx.last_removal
    if last and last[0] is obj:
        return last[1]  # type: ignore[no-any-return]
    retired = ctx.settings.retired
    remove = tuple([v.text for v in obj.values if v.type in retired])
    if remove:
        if obj.targets and retired_targets(ctx, obj):
            remove = ()
        else:
            # kept_values keeps CCMAIL values only: none to look for otherwise
            kept = {n for n, _, _ in kept_values(ctx, obj)} if CCMAIL in retired else None
            if kept:
                remove = tuple(v.text for n, v in enumerate(obj.values)
                               if v.type in retired and n not in kept)
    last[:] = (obj, remove)
    return remove


# --------------------------------------------------------------------------- rules


def malformed_proxy(ctx: Context, i: int) -> ProxyFinding | None:
    obj = ctx.objects[i]
    if all(map(_plainly_well_formed, obj.values)):  # the common case, one call a value
        return None
    bad = [(v, r) for v in obj.values if (r := malformed_reasons(v))]
    if not bad:
        return None
    what = "; ".join(f"'{v.text}' ({', '.join(r)})" for v, r in bad)
    return finding(
        "malformed-proxy",
        f"{describe(obj)} carries malformed address value(s): {what}",
        "Remove or replace each malformed value whole in Exchange; never let a tool strip "
        "characters from it (that makes a different address).",
    )


def duplicate_proxy(ctx: Context, i: int) -> ProxyFinding | None:
    keys = ctx.sharing.get(i)
    if keys is None:  # no value of it is on another object
        return None
    objects, by_value, raw = ctx.objects, ctx.by_value, dict.__getitem__
    clashes = []
    seen = None  # the shared keys named so far (a value twice on this object: named once)
    for v, key in zip(objects[i].values, keys, strict=True):  # key: v.same_key
        if key is None:
            continue
        holders = raw(by_value, key)  # distinct objects, this one among them (bare: alone)
        if holders.__class__ is not list:  # this object alone (most values: one look-up each)
            continue
        if seen is None:
            seen = {key}
        elif key in seen:
            continue
        else:
            seen.add(key)
        names = ", ".join([describe(objects[j]) for j in holders if j != i])
        clashes.append(f"'{v.text}' is also on {names}")
    if not clashes:
        return None
    return finding(
        "duplicate-proxy",
        f"{describe(objects[i])}: " + "; ".join(clashes),
        "Decide which object keeps each address and remove it from the others: Exchange "
        "bounces mail to a duplicated address (5.1.4) and Entra Connect refuses duplicate "
        "SMTP proxies.",
    )


def retired_target(ctx: Context, i: int) -> ProxyFinding | None:
    obj = ctx.objects[i]
    targets = retired_targets(ctx, obj) if obj.targets else ()  # most objects have none
    if not targets:
        return None
    kinds = sorted({value_type(t) or "" for t in targets})
    return finding(
        "retired-target",
        f"{describe(obj)}: its targetAddress {quoted(targets)} is of retired type "
        f"{', '.join(kinds)}: mail to it is routed by an address type that no longer routes",
        "Deal with the object as a whole: re-target it to an address that routes, or remove "
        "it. Its address values are left alone until then.",
    )


def retired_in_use(ctx: Context, i: int) -> ProxyFinding | None:
    obj = ctx.objects[i]
    kept = kept_values(ctx, obj)
    if not kept:
        return None
    parts = []
    for _, v, entries in kept:
        named = ", ".join(sorted((_entry_text(e) for e in entries), key=lambda t: (fold(t), t)))
        parts.append(f"'{v.text}' matches user entry {named}")
    return finding(
        "retired-in-use",
        f"{describe(obj)} carries CCMAIL value(s) cc:Mail still uses, kept: " + "; ".join(parts),
        "Keep these CCMAIL values while cc:Mail has a user entry of that name; finish the "
        "migration and remove the entry first, then plan again.",
    )


def retired_address(ctx: Context, i: int) -> ProxyFinding | None:
    obj = ctx.objects[i]
    remove = remove_values(ctx, obj)  # empty with retired-target: the object goes as a whole
    if not remove:
        return None
    kinds = sorted({value_type(t) or "" for t in remove})
    return finding(
        "retired-address",
        f"{describe(obj)} carries {len(remove)} value(s) of retired type(s) "
        f"{', '.join(kinds)}: {quoted(remove)}",
        "Remove them: `ccmig proxies plan`, then `ccmig apply` (nothing routes by these "
        "types any more; X500, SIP, EUM and SMTP are never removed).",
    )


def too_many_values(ctx: Context, i: int) -> ProxyFinding | None:
    obj = ctx.objects[i]
    limit = ctx.settings.max_values
    if limit is None or len(obj.values) <= limit:
        return None
    return finding(
        "too-many-values",
        f"{describe(obj)} has {len(obj.values)} address values, more than {limit}",
        "Remove the addresses no longer needed (retired types first): Entra Connect refuses "
        "objects whose proxyAddresses grow too large (LargeObject).",
    )


Rule = Callable[[Context, int], ProxyFinding | None]
RULES: tuple[Rule, ...] = (
    malformed_proxy, duplicate_proxy, retired_target, retired_in_use, retired_address,
    too_many_values,
)


def active_rules(settings: ProxySettings) -> tuple[Rule, ...]:
    """:data:`RULES` less those that find nothing under ``settings``, whatever
    the objects (each rule's own predicate says so too: this only spares the
    call per object). Nothing retired: no retired-* code; retired-in-use
    needs CCMAIL retired and exports; too-many-values a limit."""
    idle: set[Rule] = set()
    if not settings.retired:
        idle |= {retired_target, retired_in_use, retired_address}
    if not (settings.retires_ccmail and settings.user_entries):
        idle.add(retired_in_use)
    if settings.max_values is None:
        idle.add(too_many_values)
    return tuple(rule for rule in RULES if rule not in idle)


def _entry_text(e: DirEntry) -> str:
    return f"'{e.name}' (Locn {e.locn} in {e.file_po}'s directory)"


# --------------------------------------------------------------------------- rows


def evaluate(objects: Iterable[ProxyObject], settings: ProxySettings,
             rules: tuple[Rule, ...] | None = None) -> list[ProxyRow]:
    """One row per object with at least one finding, sorted by key.
    ``rules``: :func:`active_rules` unless given (tests give :data:`RULES`)."""
    ctx = Context.build(objects, settings)
    if rules is None:
        rules = active_rules(settings)
    return rows_between(ctx, rules, 0, len(ctx.objects))


def rows_between(ctx: Context, rules: tuple[Rule, ...], start: int, stop: int) -> list[ProxyRow]:
    """The rows of ``ctx.objects[start:stop]``, in order: each object's rules
    read the context only (``last_removal`` remembers per process), so ranges
    can be evaluated apart, in any order, in either process
    (:meth:`toolkit.proxies.run.PreparedAudit.map_ranges`)."""
    rows = []
    objects = ctx.objects
    for i in range(start, stop):
        obj = objects[i]
        findings = tuple([f for rule in rules if (f := rule(ctx, i)) is not None])
        if findings:
            rows.append(new_row(obj.key, obj.dn, obj.kind, len(obj.values),
                                remove_values(ctx, obj), findings))
    return rows
