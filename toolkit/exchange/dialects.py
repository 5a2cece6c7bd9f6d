"""Classify raw directory objects as recipients (spec: Inputs, dialects).

The same functions serve LDIF and LDAP, so both give the same rows. Values
are kept in the order read, with the ``targetAddress`` after the proxies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from toolkit.ccmail.address import is_ccmail_type, parse
from toolkit.model import CcmailValue, Dialect, Kind, RawEntry, Recipient

# Attributes the toolkit reads (spec); LDAP searches request exactly these.
AD_ATTRIBUTES = (
    "cn", "sn", "givenName", "displayName", "sAMAccountName", "userPrincipalName",
    "mail", "mailNickname", "proxyAddresses", "targetAddress", "legacyExchangeDN",
    "homeMDB", "msExchHomeServerName", "objectGUID", "objectClass",
)  # fmt: skip
EX55_ATTRIBUTES = (
    "cn", "sn", "givenName", "displayName", "uid", "mail", "rfc822Mailbox",
    "textEncodedORAddress", "otherMailbox", "targetAddress", "Target-Address",
    "objectClass", "legacyExchangeDN", "mailNickname",
)  # fmt: skip


def _split_typed(value: str, sep: str) -> tuple[str, str] | None:
    """``TYPE<sep>address`` at the first separator; None when there is none.

    The type is taken exactly as written: ``' CCMAIL'`` is not ``CCMAIL``
    (Exchange would not route it as one either).
    """
    cut = value.find(sep)
    if cut <= 0:
        return None
    return value[:cut], value[cut + 1 :]


def ccmail_value(value: str, sep: str, source: str) -> CcmailValue | None:
    typed = _split_typed(value, sep)
    if typed is None or not is_ccmail_type(typed[0]):
        return None
    return parse(value, typed[0], typed[1], source)


def _classify_ad(classes: set[str], entry: RawEntry) -> Kind | None:
    if "contact" in classes:
        return Kind.CUSTOM_RECIPIENT
    if "group" in classes:
        return Kind.GROUP
    if ("user" in classes or "inetorgperson" in classes) and "computer" not in classes:
        if entry.first("homemdb") or entry.first("msexchhomeservername"):
            return Kind.MAILBOX
        if entry.first("targetaddress"):
            return Kind.CUSTOM_RECIPIENT
    return None


def _classify_55(classes: set[str], entry: RawEntry) -> Kind | None:
    if "remote-address" in classes or "custom-recipient" in classes:
        return Kind.CUSTOM_RECIPIENT
    if "organizationalperson" in classes:
        return Kind.MAILBOX
    if "groupofnames" in classes:
        return Kind.GROUP
    return None


def to_recipient(entry: RawEntry, dialect: Dialect) -> Recipient | None:
    """The recipient an entry stands for, or None if it takes part in no rule."""
    classes = {c.lower() for c in entry.texts("objectclass")}
    if dialect is Dialect.AD:
        kind = _classify_ad(classes, entry)
        sep, proxy_attr, targets = ":", "proxyaddresses", entry.texts("targetaddress")
    else:
        kind = _classify_55(classes, entry)
        sep, proxy_attr = "$", "othermailbox"  # type$address; targets are TYPE:address
        targets = entry.texts("targetaddress") + entry.texts("target-address")
    if kind is None:
        return None
    values: list[CcmailValue] = []
    smtp: list[str] = []
    primary_smtp = None
    for raw in entry.texts(proxy_attr):
        value = ccmail_value(raw, sep, "proxy")
        if value is not None:
            values.append(value)
            continue
        typed = _split_typed(raw, sep)
        if typed and typed[0].upper() == "SMTP":
            smtp.append(typed[1])
            if typed[0] == "SMTP" and dialect is Dialect.AD:  # last one wins
                primary_smtp = typed[1]
    for raw in targets:  # all cc:Mail targets, after the proxies (spec: value order)
        value = ccmail_value(raw, ":", "target")
        if value is not None:
            values.append(value)
    mail = entry.first("mail") or entry.first("rfc822mailbox")
    if dialect is Dialect.EXCHANGE55:
        primary_smtp = mail
        smtp = [m for m in entry.texts("mail") + entry.texts("rfc822mailbox")] + smtp
    return Recipient(
        dn=entry.dn,
        kind=kind,
        values=values,
        primary_smtp=primary_smtp,
        smtp=smtp,
        nickname=entry.first("mailnickname") or entry.first("uid"),
        sam=entry.first("samaccountname"),
        upn=entry.first("userprincipalname"),
        mail=mail,
        subtype=_subtype(kind, classes),
        legacy_dn=entry.first("legacyexchangedn"),
    )


def _subtype(kind: Kind, classes: set[str]) -> str:
    """What exactly the object is, for remediation (a contact is removed with
    ``Remove-MailContact``; a mail-enabled user is not a contact)."""
    if kind is Kind.CUSTOM_RECIPIENT:
        for name in ("contact", "remote-address", "custom-recipient"):
            if name in classes:
                return name
        return "mail-user"
    return kind.value


def recipients(
    entries: Iterable[RawEntry],
    dialect: Dialect,
    keep: Callable[[Recipient], bool] | None = None,
) -> Iterator[Recipient]:
    """Stream recipients; ``keep`` drops those not needed (default: cc:Mail ones)."""
    keep = keep or (lambda r: bool(r.values))
    for entry in entries:
        recipient = to_recipient(entry, dialect)
        if recipient is not None and keep(recipient):
            yield recipient
