"""Directory entries -> :class:`ProxyObject` per dialect (spec: Objects and values).

The same function serves LDIF and live LDAP, so both give the same rows. The
readers hand over :class:`~toolkit.model.RawEntry` objects (attribute names
lower case, values in the order read); this module only picks and orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from toolkit.exchange.dialects import Chunked, classify_55, classify_ad, close_chunks
from toolkit.model import AttrValue, Kind, RawEntry
from toolkit.proxies.model import ProxyKind, ProxyObject, ProxyValue, new_object, parse_value
from toolkit.text import fold

AD, EXCHANGE55 = "ad", "exchange55"

# What an LDAP search asks for, per dialect (AD also the attributes that pick
# the cmdlet and tell whether email address policies apply).
LDAP_ATTRIBUTES = {
    AD: ("objectClass", "proxyAddresses", "targetAddress", "homeMDB", "msExchHomeServerName",
         "msExchRecipientTypeDetails", "msExchPoliciesExcluded"),
    EXCHANGE55: ("objectClass", "otherMailbox", "mail", "rfc822Mailbox", "textEncodedORAddress",
                 "targetAddress", "Target-Address"),
}
# An LDIF read keeps these (lower case); every other line is still checked.
LDIF_ATTRIBUTES = frozenset(a.lower() for names in LDAP_ATTRIBUTES.values() for a in names)

# Server-side selection; classification below decides. AD: presence filters
# (any value at all); 5.5: by class, as the audit (otherMailbox has no
# matching rule there).
LDAP_FILTERS = {
    AD: "(&(|(objectClass=user)(objectClass=inetOrgPerson)(objectClass=contact)"
        "(objectClass=group))(!(objectClass=computer))(|(proxyAddresses=*)(targetAddress=*)))",
    EXCHANGE55: "(|(objectClass=organizationalPerson)(objectClass=groupOfNames)"
                "(objectClass=remote-address)(objectClass=custom-recipient))",
}


def _texts(values: Iterable[AttrValue]) -> list[str]:
    return [v for v in values if isinstance(v, str)]


# The audit's kind -> the same kind here (a dict look-up: ProxyKind(kind.value)
# goes through Enum.__call__ and the .value property, both in Python).
_BY_VALUE = {kind.value: kind for kind in ProxyKind}
_KINDS = {kind: _BY_VALUE[kind.value] for kind in Kind if kind.value in _BY_VALUE}


def _kind_ad(classes: frozenset[str], entry: RawEntry) -> ProxyKind | None:
    """The audit's AD classification (one rule, in toolkit.exchange.dialects),
    never a computer, plus ``user`` for a user that is neither a mailbox nor
    a custom recipient: it still carries addresses worth checking."""
    if "computer" in classes:
        return None
    kind = classify_ad(classes, entry)  # type: ignore[arg-type]  # read only
    if kind is not None:
        return _KINDS[kind]
    if "user" in classes or "inetorgperson" in classes:
        return ProxyKind.USER
    return None


def _kind_55(classes: frozenset[str], entry: RawEntry) -> ProxyKind | None:
    """The audit's Exchange 5.5 classification, unchanged."""
    kind = classify_55(classes, entry)  # type: ignore[arg-type]
    return None if kind is None else _KINDS[kind]


def _proxy_values(raw: Iterable[AttrValue]) -> tuple[ProxyValue, ...]:
    """proxyAddresses as read: each text parsed (case tells the primary),
    bytes that were not UTF-8 kept as undecodable values."""
    parse = parse_value
    return tuple([parse(v) if v.__class__ is str else _other_value(v) for v in raw])


def _other_value(raw: AttrValue) -> ProxyValue:
    if isinstance(raw, bytes):
        return ProxyValue.undecodable_bytes(raw)
    return parse_value(raw)  # a str subclass (no reader makes one): parsed as text


def _values_55(entry: RawEntry) -> list[ProxyValue]:
    """otherMailbox as ``TYPE:address``, then mail as ``SMTP:`` values, then
    textEncodedORAddress as ``X400:``. ``rfc822Mailbox`` is ``mail`` under
    its other name (an LDAP server returns one of them): it is read only
    when there is no ``mail``, so an LDIF export holding both counts each
    address once, as the same directory read over LDAP does."""
    values: list[ProxyValue] = []
    for raw in entry.get("othermailbox"):
        if isinstance(raw, bytes):
            values.append(ProxyValue.undecodable_bytes(raw))
        elif "$" in raw:
            kind, _, address = raw.partition("$")
            values.append(ProxyValue.typed(kind, address))
        else:  # not TYPE$address: no type, shown as read
            values.append(ProxyValue(raw, None, ""))
    for raw in entry.get("mail") or entry.get("rfc822mailbox"):
        values.append(ProxyValue.undecodable_bytes(raw) if isinstance(raw, bytes)
                      else ProxyValue.typed("SMTP", raw))
    for raw in entry.get("textencodedoraddress"):
        values.append(ProxyValue.undecodable_bytes(raw) if isinstance(raw, bytes)
                      else ProxyValue.typed("X400", raw))
    return values


def _targets(entry: RawEntry, dialect: str) -> tuple[str, ...]:
    raw = entry.get("targetaddress")
    if not raw and dialect == AD:  # most objects: no target
        return ()
    raw = list(raw)
    if dialect == EXCHANGE55:
        raw += entry.get("target-address")
    texts = (v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v for v in raw)
    return tuple(t for t in texts if t.strip())


def _type_details(entry: RawEntry) -> int | str | None:
    """msExchRecipientTypeDetails (LDAP/LDIF: a number), else RecipientTypeDetails
    by name (PowerShell: ``recipienttypedetails``, see psobjects.raw_entry)."""
    attrs = entry.attrs
    if "msexchrecipienttypedetails" not in attrs and "recipienttypedetails" not in attrs:
        return None  # neither was read (most LDIF exports): no look-up of each
    first = entry.first("msexchrecipienttypedetails")
    try:
        if first is not None:
            return int(first.strip())
    except ValueError:
        pass
    named = entry.first("recipienttypedetails")
    return named.strip() if named and named.strip() else None


# objectClass values exactly as read -> their string values lower-cased: a
# directory holds a handful of objectClass lists, each on thousands of objects.
# Bounded, so hostile input cannot grow it.
_CLASSES: dict[tuple[AttrValue, ...], frozenset[str]] = {}
_CLASSES_MAX = 4096


def object_classes(values: Iterable[AttrValue]) -> frozenset[str]:
    """The object's classes: its string ``objectClass`` values, lower case.
    Remembered per list of values: one look-up instead of a set and a
    frozenset per object (``tests/test_proxies_fast.py``)."""
    key = tuple(values)
    classes = _CLASSES.get(key)
    if classes is None:
        classes = frozenset(c.lower() for c in _texts(values))
        if len(_CLASSES) < _CLASSES_MAX:
            _CLASSES[key] = classes
    return classes


# What crosses from the process that decoded an entry to the one that makes
# its object (:func:`object_parts`): plain values, which pickle in C. The
# values as read (AD: proxyAddresses, str or bytes) or, in 5.5, each value's
# fields; the objectClass values as read (this process's remembered
# frozenset is shared by every object of the class list).
Parts = tuple[str, str, str, tuple[Any, ...], tuple[str, ...], tuple[AttrValue, ...],
              "int | str | None", tuple[str, ...], "str | None"]


def object_parts(entry: RawEntry, dialect: str) -> Parts | None:
    """What makes the object an entry stands for, or None: not a recipient
    class of the dialect, or no address value and no non-blank target
    (spec: Objects and values). :func:`from_parts` makes the object."""
    attrs = entry.attrs  # entry.get(name), without the method call
    class_values = attrs.get("objectclass", ())
    classes = object_classes(class_values)
    if dialect == AD:
        kind = _kind_ad(classes, entry)
        if kind is None:
            return None
        values: tuple[Any, ...] = tuple(attrs.get("proxyaddresses", ()))
    else:
        kind = _kind_55(classes, entry)
        if kind is None:
            return None
        values = tuple([(v.text, v.type, v.address, v.primary, v.undecodable)
                        for v in _values_55(entry)])
    targets = _targets(entry, dialect)
    if not values and not targets:
        return None
    excluded = attrs.get("msexchpoliciesexcluded")
    return ("dn:" + fold(entry.dn), entry.dn, kind.value, values, targets, tuple(class_values),
            _type_details(entry) if dialect == AD else None,
            tuple(_texts(excluded)) if excluded else (), entry.where)


def from_parts(parts: Parts, dialect: str) -> ProxyObject:
    """The object :func:`object_parts` describes (its values parsed here)."""
    key, dn, kind, values, targets, class_values, details, excluded, where = parts
    made = (_proxy_values(values) if dialect == AD
            else tuple([ProxyValue(*fields) for fields in values]))
    return new_object(key, dn, _BY_VALUE[kind], made, targets, object_classes(class_values),
                      details, excluded, where)


def to_object(entry: RawEntry, dialect: str) -> ProxyObject | None:
    """The object an entry stands for, or None (:func:`object_parts`)."""
    parts = object_parts(entry, dialect)
    return None if parts is None else from_parts(parts, dialect)


def read_objects(entries: Iterable[RawEntry], dialect: str) -> Iterator[ProxyObject]:
    """The objects ``entries`` stand for, in order. Entries read in chunks
    (:class:`~toolkit.exchange.dialects.Chunked`: an LDAP page, a block of
    LDIF) are decoded in two processes (:func:`decoded_parts`)."""
    if isinstance(entries, Chunked):
        for parts in decoded_parts(entries, dialect):
            yield from_parts(parts, dialect)
        return
    for entry in entries:
        found = to_object(entry, dialect)
        if found is not None:
            yield found


def decoded_parts(source: Chunked, dialect: str) -> Iterator[Parts]:
    """The :func:`object_parts` of the entries of ``source`` that stand for
    objects, in order, about half of its chunks decoded by a forked worker
    (:func:`toolkit.parallel.ordered_map`; all here where none can be
    forked), the first error at its turn, as one process.

    Why parts: a :class:`ProxyObject` with its values took ~5 times as long
    to pickle and unpickle as to make, so every object is made here, from
    plain values. Why not the entries (as session 15 sent them): the entry's
    attribute names and lists cost the unpickling more than its parts, and
    the DN's folding and the classification done where the chunk was
    decoded spare this process, which makes every object, that work for
    half of them. Measured at 100,000 people (LDIF, 40,000 entries, this
    process's work for an entry the worker decoded): unpickling the entry,
    a ``RawEntry`` and the object 14.6 us; unpickling its parts and the
    object 10.9 us.
    """
    from toolkit.parallel import ordered_map

    decode = source.decode

    def parts_of(chunk: Any) -> list[Parts]:
        return [parts for e in decode(chunk) if (parts := object_parts(e, dialect)) is not None]

    chunks = source.chunks()
    complete = False
    try:
        for part in ordered_map(parts_of, chunks):
            yield from part
        complete = True
    finally:  # a read cut short stops now: its connection, its file (as read_table)
        close_chunks(chunks)
        source.finished(complete)
