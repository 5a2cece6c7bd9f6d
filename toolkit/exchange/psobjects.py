"""Normalise Exchange's wire objects as pypsrp 0.9 hands them over.

pypsrp turns what it does not know into ``GenericComplexObject``: Exchange's
objects, ``Selected.*`` objects from ``Select-Object``, enums (with their
ToString), and - the trap - ``EmailAddresses``, a ``ProxyAddressCollection``
whose ``<LST>`` pypsrp leaves as a raw XML string. These helpers read all of
those shapes (and plain Python values, should a later pypsrp decode them),
so callers never depend on which one arrives.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from toolkit.model import AttrValue, RawEntry

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_BYTES = re.compile(r"\(([\d,.\s\u00a0\u202f']+)\s*bytes\)")
_COLLECTION_TAGS = ("LST", "IE", "QUE", "STK")


class WireFormatError(ValueError):
    """A value arrived in a shape the normaliser cannot read faithfully."""


def decode_clixml_string(text: str) -> str:
    """Undo CLIXML string escaping (``_x000A_``, surrogate pairs, ``_x005F_``)."""
    if "_x" not in text and "_X" not in text:
        return text
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def prop(obj: Any, name: str) -> Any:
    """Property ``name`` of a wire object (adapted, then extended), case-insensitive."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        bags: list[dict[str, Any]] = [obj]
    else:
        bags = [getattr(obj, "adapted_properties", None) or {},
                getattr(obj, "extended_properties", None) or {}]
    for bag in bags:
        if name in bag:
            return bag[name]
    low = name.lower()
    for bag in bags:
        for key, value in bag.items():
            if str(key).lower() == low:
                return value
    return None


def _is_generic(value: Any) -> bool:
    return hasattr(value, "property_sets") and hasattr(value, "adapted_properties")


def text(value: Any) -> str | None:
    """A scalar as Exchange displays it (ToString for objects and enums)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float | uuid.UUID):
        return str(value)
    if _is_generic(value):
        shown = getattr(value, "to_string", None)
        if shown is not None:
            return str(shown)
        if len(value.property_sets) == 1 and not isinstance(value.property_sets[0], list):
            return text(value.property_sets[0])
        raise WireFormatError(f"no display string for object of type {_type(value)}")
    return str(value)


def _type(value: Any) -> str:
    types = getattr(value, "types", None) or [type(value).__name__]
    return str(types[0])


def _raw_items(xml: str) -> list[str]:
    """Items of a raw ``<LST>...</LST>`` (or IE/QUE/STK) string, in order."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise WireFormatError(f"unreadable collection XML: {exc}") from None
    if root.tag not in _COLLECTION_TAGS:
        raise WireFormatError(f"expected a collection, found <{root.tag}>")
    items: list[str] = []
    for child in root:
        if child.tag == "Nil":
            continue
        if child.tag == "Obj":
            shown = child.find("ToString")
            if shown is None:
                raise WireFormatError("collection item without a display string")
            items.append(decode_clixml_string(shown.text or ""))
        elif child.tag == "Ref":
            raise WireFormatError("collection item given by reference")
        else:
            items.append(decode_clixml_string(child.text or ""))
    return items


def texts(value: Any) -> list[str]:
    """A multi-valued property as a list of strings, in the order Exchange sent it.

    Reads ``ProxyAddressCollection`` and other ``MultiValuedProperty``
    objects (raw ``<LST>`` inside), plain lists, and a lone string. A
    collection flattened to its display string (space-joined, ambiguous for
    addresses with spaces) is refused rather than guessed at.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [t for t in (text(v) for v in value) if t is not None]
    if _is_generic(value):
        items: list[str] = []
        found = False
        for part in value.property_sets:
            if isinstance(part, list):
                items += texts(part)
                found = True
            elif isinstance(part, str) and part.lstrip().startswith("<"):
                items += _raw_items(part)
                found = True
        if found:
            return items
        if not value.property_sets and not value.adapted_properties and \
                not value.extended_properties and getattr(value, "to_string", None) in (None, ""):
            return []
        raise WireFormatError(f"cannot read a list from object of type {_type(value)}")
    raise WireFormatError(f"cannot read a list from {type(value).__name__}")


_TYPE_TOKEN = re.compile(r"(?:^|\s)[A-Za-z0-9]{1,12}:(?!/)")


def addresses(value: Any) -> list[str]:
    """EmailAddresses as a list of ``TYPE:address`` strings, in Exchange's order.

    Like :func:`texts`, but a lone string holding several ``TYPE:`` prefixes
    is a collection flattened to its display form (addresses joined with
    spaces, and cc:Mail addresses contain spaces): refused, not guessed.
    """
    if isinstance(value, str) and len(_TYPE_TOKEN.findall(value)) > 1:
        raise WireFormatError("EmailAddresses arrived flattened to one string; cannot split it")
    return texts(value)


def integer(value: Any) -> int | None:
    """A count (``ItemCount``) as int; digits with separators are accepted."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise WireFormatError("expected a number, found a boolean")
    if isinstance(value, int):
        return value
    if _is_generic(value):
        numbers = [p for p in value.property_sets if isinstance(p, int) and not isinstance(p, bool)]
        if len(numbers) == 1:
            return numbers[0]
    shown = text(value)
    digits = re.sub(r"[\s,.'\u00a0\u202f]", "", shown or "")
    if not digits.isdigit():
        raise WireFormatError(f"expected a count, found {shown!r}")
    return int(digits)


def byte_count(value: Any) -> int | None:
    """Bytes of a ByteQuantifiedSize such as ``1.5 MB (1,572,864 bytes)``."""
    shown = text(value)
    if shown is None:
        return None
    m = _BYTES.search(shown)
    if not m:
        raise WireFormatError(f"expected a size like '1 KB (1,024 bytes)', found {shown!r}")
    return int(re.sub(r"\D", "", m.group(1)))


def guid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    shown = text(value)
    try:
        return uuid.UUID(shown) if shown else None
    except ValueError:
        raise WireFormatError(f"expected a GUID, found {shown!r}") from None


def dn_of(value: Any) -> str | None:
    """DN of an ADObjectId-like value (its DistinguishedName), else its display."""
    inner = prop(value, "DistinguishedName") if _is_generic(value) else None
    return text(inner) if inner else text(value)


_USER = ["top", "person", "organizationalPerson", "user"]
_CLASSES: dict[str, list[str]] = {
    "UserMailbox": _USER,
    "MailUser": _USER,
    "MailContact": ["top", "person", "organizationalPerson", "contact"],
    "MailUniversalDistributionGroup": ["top", "group"],
    "MailUniversalSecurityGroup": ["top", "group"],
    "MailNonUniversalGroup": ["top", "group"],
    "DynamicDistributionGroup": ["top", "msExchDynamicDistributionList"],
}


# msExchPoliciesExcluded holds this GUID when a recipient does not follow email
# address policies: what EmailAddressPolicyEnabled $false is in AD.
POLICIES_EXCLUDED = "{26491cfc-9e50-4857-861b-0cb8df22b5d7}"


def flag(value: Any) -> bool | None:
    """A Boolean property (a bool, or its display string); None when absent."""
    if value is None or isinstance(value, bool):
        return value
    shown = (text(value) or "").strip().lower()
    if shown in ("true", "false"):
        return shown == "true"
    raise WireFormatError(f"expected a Boolean, found {shown!r}")


def raw_entry(obj: Any, where: str | None = None) -> RawEntry:
    """An Exchange recipient (Get-Recipient view) as an AD-dialect :class:`RawEntry`.

    Attributes are what an LDAP read of the same object gives, so
    :mod:`toolkit.exchange.dialects` classifies both alike: object classes
    and ``homeMDB`` come from RecipientType (a mailbox gets its Database),
    ``proxyAddresses`` from EmailAddresses in order, ``targetAddress`` from
    ExternalEmailAddress, ``mailNickname`` from Alias, ``mail`` from
    PrimarySmtpAddress (AD keeps ``mail`` equal to it).
    """
    dn = text(prop(obj, "DistinguishedName"))
    if not dn:
        raise WireFormatError("recipient without DistinguishedName")
    kind = text(prop(obj, "RecipientType")) or ""
    attrs: dict[str, list[AttrValue]] = {"objectclass": list(_CLASSES.get(kind, ["top", kind]))}

    def put(name: str, value: str | None) -> None:
        if value:
            attrs[name] = [value]

    put("cn", text(prop(obj, "Name")))
    put("displayname", text(prop(obj, "DisplayName")))
    put("givenname", text(prop(obj, "FirstName")))
    put("sn", text(prop(obj, "LastName")))
    put("samaccountname", text(prop(obj, "SamAccountName")))
    put("userprincipalname", text(prop(obj, "UserPrincipalName")))
    put("mail", text(prop(obj, "PrimarySmtpAddress")))
    put("mailnickname", text(prop(obj, "Alias")))
    put("legacyexchangedn", text(prop(obj, "LegacyExchangeDN")))
    proxies = addresses(prop(obj, "EmailAddresses"))
    if proxies:
        attrs["proxyaddresses"] = list(proxies)
    put("targetaddress", text(prop(obj, "ExternalEmailAddress")))
    put("recipienttypedetails", text(prop(obj, "RecipientTypeDetails")))
    if flag(prop(obj, "EmailAddressPolicyEnabled")) is False:
        attrs["msexchpoliciesexcluded"] = [POLICIES_EXCLUDED]
    if kind == "UserMailbox":
        database = dn_of(prop(obj, "Database"))
        server = text(prop(obj, "ServerName"))
        if database:
            attrs["homemdb"] = [database]
        else:
            attrs["msexchhomeservername"] = [server or "(mailbox without database)"]
    object_guid = guid(prop(obj, "Guid"))
    if object_guid is not None:
        attrs["objectguid"] = [object_guid.bytes_le]
    return RawEntry(dn, attrs, where)
