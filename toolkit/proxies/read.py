"""Directory entries -> :class:`ProxyObject` per dialect (spec: Objects and values).

The same function serves LDIF and live LDAP, so both give the same rows. The
readers hand over :class:`~toolkit.model.RawEntry` objects (attribute names
lower case, values in the order read); this module only picks and orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from toolkit.exchange.dialects import Chunked, _close, classify_55, classify_ad
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


def to_object(entry: RawEntry, dialect: str) -> ProxyObject | None:
    """The object an entry stands for, or None: not a recipient class of the
    dialect, or no address value and no non-blank target."""
    attrs = entry.attrs  # entry.get(name), without the method call
    classes = object_classes(attrs.get("objectclass", ()))
    if dialect == AD:
        kind = _kind_ad(classes, entry)
        if kind is None:
            return None
        values = _proxy_values(attrs.get("proxyaddresses", ()))
    else:
        kind = _kind_55(classes, entry)
        if kind is None:
            return None
        values = tuple(_values_55(entry))
    targets = _targets(entry, dialect)
    if not values and not targets:
        return None
    excluded = attrs.get("msexchpoliciesexcluded")
    return new_object(
        "dn:" + fold(entry.dn), entry.dn, kind, values, targets, classes,
        _type_details(entry) if dialect == AD else None,
        tuple(_texts(excluded)) if excluded else (), entry.where)


def read_objects(entries: Iterable[RawEntry], dialect: str) -> Iterator[ProxyObject]:
    """The objects ``entries`` stand for, in order. Entries read in chunks
    (:class:`~toolkit.exchange.dialects.Chunked`: an LDAP page, a block of
    LDIF) are decoded in two processes (:func:`decoded`)."""
    if isinstance(entries, Chunked):
        entries = decoded(entries)
    for entry in entries:
        found = to_object(entry, dialect)
        if found is not None:
            yield found


def decoded(source: Chunked) -> Iterator[RawEntry]:
    """The entries of ``source``, in order, about half of its chunks decoded
    by a forked worker (:func:`toolkit.parallel.ordered_map`; all here where
    none can be forked), the first error at its turn, as one process.

    Why only the decoding: a decoded entry crosses from the worker as a
    plain tuple (name, attributes, where: pickled in C), while a
    :class:`ProxyObject` with its values took ~5 times as long to pickle and
    unpickle as to make; so every object is made here. Measured at 100,000
    people (LDIF, one process): decoding 2.43 s, making the objects 1.40 s,
    unpickling half of the entries 0.22 s.
    """
    from toolkit.parallel import ordered_map

    decode = source.decode

    def plain(chunk: Any) -> list[tuple[str, dict[str, list[AttrValue]], str | None]]:
        return [(e.dn, e.attrs, e.where) for e in decode(chunk)]

    chunks = source.chunks()
    complete = False
    try:
        for part in ordered_map(plain, chunks):
            for dn, attrs, where in part:
                yield RawEntry(dn, attrs, where)
        complete = True
    finally:  # a read cut short stops now: its connection, its file (as read_table)
        _close(chunks)
        source.finished(complete)
