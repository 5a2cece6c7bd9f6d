"""Cmdlets that edit and govern addresses: ``Set-<recipient> -EmailAddresses``
and ``Get-EmailAddressPolicy``.

The write contract other code relies on (``ccmig apply``/``undo`` of proxy
plans, tests/test_proxies_powershell*.py):

- ``Set-Mailbox``, ``Set-RemoteMailbox``, ``Set-MailUser``, ``Set-MailContact``,
  ``Set-DistributionGroup``, ``Set-DynamicDistributionGroup`` and
  ``Set-MailPublicFolder`` take ``-Identity X -EmailAddresses @{Add=[...];
  Remove=[...]}`` (keys case-insensitive, ``+``/``-`` too) and change what
  later reads return. A list instead of a hashtable replaces every value.
- Each cmdlet finds only its own recipient types (by RecipientTypeDetails),
  as Exchange's identity parameters do: the wrong cmdlet gets Exchange's
  non-terminating "The operation couldn't be performed because object 'X'
  couldn't be found on 'DC01...'." - nothing changes.
- Values compare as Exchange's ProxyAddress does: type and address, case
  ignored. Removing a value that is not there is not an error in Exchange
  (MultiValuedProperty ignores it); when the call changes nothing at all,
  Exchange writes the warning "The command completed successfully but no
  settings of '<identity>' have been modified." - so does the mock.
- An added value the object itself still holds after the call's removes (the
  same value, or one equal but for case: ``ccmail:X`` when ``CCMAIL:X`` is
  added): Exchange's MultiValuedProperty refusal, "The value \\"X\\" is already
  present in the collection." (non-terminating; nothing changes; wording as
  recalled, see :func:`.errors.value_already_present`). ``@{Remove='ccmail:X';
  Add='CCMAIL:X'}`` in one call is accepted: the added value takes the removed
  one's place.
- An added value another object carries: Exchange's "The proxy address
  \\"X\\" is already being used by the proxy addresses or LegacyExchangeDN of
  \\"Y\\". Please choose another proxy address." (non-terminating; nothing
  changes).
- Re-stamping: on a recipient whose EmailAddressPolicyEnabled is true, a
  removed value of a type the applying policy's enabled templates generate
  is put back in the same call, without error (:mod:`.policies`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any

from toolkit.mocks.dn import escape_rdn_value, parent_dn
from toolkit.mocks.exchange.errors import value_already_present
from toolkit.mocks.exchange.objects import ExCollection, ExObject, ad_object_id
from toolkit.mocks.exchange.organisation import Entry, Organisation
from toolkit.mocks.exchange.policies import LOWEST, Policy, restamp

from toolkit.text import fold

if TYPE_CHECKING:
    from toolkit.mocks.exchange.cmdlets import Call

MAILBOXES = frozenset({"UserMailbox", "LinkedMailbox", "SharedMailbox", "LegacyMailbox",
                       "RoomMailbox", "EquipmentMailbox"})
REMOTE_MAILBOXES = frozenset({"RemoteUserMailbox", "RemoteRoomMailbox",
                              "RemoteEquipmentMailbox", "RemoteSharedMailbox"})
GROUPS = frozenset({"MailUniversalDistributionGroup", "MailUniversalSecurityGroup",
                    "MailNonUniversalGroup", "RoomList"})
# Set-* cmdlet (lower case) -> the RecipientTypeDetails its identity parameter resolves.
SETTERS: dict[str, frozenset[str]] = {
    "set-mailbox": MAILBOXES,
    "set-remotemailbox": REMOTE_MAILBOXES,
    "set-mailuser": frozenset({"MailUser"}),
    "set-mailcontact": frozenset({"MailContact"}),
    "set-distributiongroup": GROUPS,
    "set-dynamicdistributiongroup": frozenset({"DynamicDistributionGroup"}),
    "set-mailpublicfolder": frozenset({"PublicFolder"}),
}
NOT_MODIFIED = ("The command completed successfully but no settings of '{}' have been "
                "modified.")


def as_proxy(value: str) -> str:
    return value if ":" in value else f"SMTP:{value}"


def invalid_proxy(value: str) -> str | None:
    """Why EMS would refuse ``value``, or None. Only SMTP syntax is checked."""
    prefix, colon, address = value.partition(":")
    if not colon or not prefix.strip() or not address.strip():
        return f"The address '{value}' is invalid: \"{value}\" isn't a valid proxy address."
    if prefix.upper() == "SMTP":
        local, at, domain = address.rpartition("@")
        if not at or not local or "." not in domain or " " in address:
            return (f"The e-mail address \"{address}\" isn't correct. Please use this format: "
                    "user name, the @ sign, followed by the domain name. For example, "
                    "tonysmith@contoso.com or tony.smith@contoso.com.")
    return None


def _key(value: str) -> str:
    return fold(value)


def _demoted(value: str, primary_type: str) -> str:
    """``value`` as a secondary when it is the primary of ``primary_type``."""
    p, _, rest = value.partition(":")
    return f"{p.lower()}:{rest}" if p.upper() == primary_type and p.isupper() else value


def _apply_proxies(call: Call, entry: Entry, change: tuple[str, list[str], list[str]]) -> bool:
    """Edit ``entry``'s proxies atomically; False (and an error) when refused.

    Removes go first, then adds, all in one write. An added value the object
    still holds after the removes (the same value, or one equal but for case)
    is refused, as Exchange refuses it, and nothing changes; an added value
    equal to a removed one takes that one's place (``@{Remove='ccmail:X';
    Add='CCMAIL:X'}`` turns a secondary into the primary where it stood).
    """
    mode, adds, removes = change
    before = list(entry.texts("proxyaddresses"))
    for value in adds:
        problem = invalid_proxy(value)
        if problem is None:
            owner = call.org.proxy_owner(value, besides=entry)
            if owner is not None:
                problem = (f"The proxy address \"{value}\" is already being used by the proxy "
                           f"addresses or LegacyExchangeDN of \"{call.org.canonical_name(owner.dn)}"
                           "\". Please choose another proxy address.")
        if problem:
            call.fail(problem, "ProxyAddressExistsException"
                      if "already being used" in problem else "DataValidationException")
            return False
    drop = {_key(v) for v in removes}
    # the values kept, a removed value's place held by its key (filled by an equal add)
    slots: list[str | tuple[str]] = ([] if mode == "replace" else
                                     [(_key(v),) if _key(v) in drop else v for v in before])
    for n, value in enumerate(adds):
        if any(isinstance(v, str) and _key(v) == _key(value) for v in slots) or any(
                _key(other) == _key(value) for other in adds[:n]):
            call.error(value_already_present(call.name, value, call.org.server))
            return False
        prefix = value.partition(":")[0]
        if prefix.isupper():  # one primary per address type: demote the others
            slots = [_demoted(v, prefix) if isinstance(v, str) else v for v in slots]
        hole = next((i for i, v in enumerate(slots) if v == (_key(value),)), None)
        if hole is None:
            slots.append(value)
        else:
            slots[hole] = value
    current = [v for v in slots if isinstance(v, str)]
    if entry.policy_enabled:
        kept = {_key(v) for v in current}
        removed = [v for v in before if _key(v) not in kept]
        current += restamp(call.org.policies, entry.dn, removed)
    if current == before:
        return True
    entry.attrs["proxyaddresses"] = list(current)
    primary = [v[5:] for v in current if v.startswith("SMTP:")]
    if primary:  # Exchange keeps ``mail`` equal to the primary SMTP address
        entry.attrs["mail"] = [primary[-1]]
    return True


def _edit(call: Call, entry: Entry) -> None:
    params = call.params
    before = {k: list(v) for k, v in entry.attrs.items()}
    dn_before = entry.dn
    if "EmailAddresses" in params and not _apply_proxies(call, entry, params["EmailAddresses"]):
        return
    if "ExternalEmailAddress" in params:
        target = as_proxy(params["ExternalEmailAddress"])
        problem = invalid_proxy(target)
        if problem:
            call.fail(problem, "DataValidationException")
            return
        entry.attrs["targetaddress"] = [target]
        if not any(_key(v) == _key(target) for v in entry.texts("proxyaddresses")):
            entry.proxies.append(target)
    if "EmailAddressPolicyEnabled" in params:
        if params["EmailAddressPolicyEnabled"]:
            entry.attrs.pop("msexchpoliciesexcluded", None)
        else:
            entry.attrs["msexchpoliciesexcluded"] = ["{26491cfc-9e50-4857-861b-0cb8df22b5d7}"]
    for param, attr in (("DisplayName", "displayname"), ("Alias", "mailnickname")):
        if params.get(param):
            entry.attrs[attr] = [params[param]]
    if "HiddenFromAddressListsEnabled" in params:
        entry.attrs["msexchhidefromaddresslists"] = [
            "TRUE" if params["HiddenFromAddressListsEnabled"] else "FALSE"]
    if params.get("Name"):
        entry.dn = f"CN={escape_rdn_value(params['Name'])},{parent_dn(entry.dn)}"
        entry.attrs["cn"] = [params["Name"]]
    if entry.dn == dn_before and entry.attrs == before:
        call.warning(NOT_MODIFIED.format(call.org.canonical_name(entry.dn)))
        return
    call.org.changed()


def setter(details: Collection[str]) -> Callable[[Call], Iterator[Any]]:
    """A ``Set-<recipient>`` cmdlet that finds only recipients of these type details."""
    def run(call: Call) -> Iterator[Any]:
        for identity in call.identities():
            if identity is None:
                continue
            entry = call.resolve(identity, None, details)
            if entry is not None and call.should_process():
                _edit(call, entry)
        yield from ()

    return run


_DATA = "Microsoft.Exchange.Data"
_ASM = "Microsoft.Exchange.Data, Version=14.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"
TEMPLATE_COLLECTION_TYPES = (
    f"{_DATA}.ProxyAddressTemplateCollection",
    f"{_DATA}.ProxyAddressBaseCollection`1[[{_DATA}.ProxyAddressTemplate, {_ASM}]]",
    f"{_DATA}.MultiValuedProperty`1[[{_DATA}.ProxyAddressTemplate, {_ASM}]]",
    f"{_DATA}.MultiValuedPropertyBase",
    "System.Object",
)
POLICY_TYPES = (
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.EmailAddressPolicy",
    "Microsoft.Exchange.Data.Directory.ADConfigurationObject",
    "Microsoft.Exchange.Data.Directory.ADObject",
    f"{_DATA}.ConfigurableObject",
    "System.Object",
)


def email_address_policy(policy: Policy, org: Organisation) -> ExObject:
    """What ``Get-EmailAddressPolicy`` outputs: templates as ProxyAddressTemplateCollections
    (a ``<LST>`` inside, like EmailAddresses), Priority ``Lowest`` for the default."""
    dcs = ",".join(f"DC={p}" for p in org.domain.split("."))
    dn = (f"CN={escape_rdn_value(policy.name)},CN=Recipient Policies,CN=Corp,"
          f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{dcs}")
    primary = next((t for t in policy.enabled if t.startswith("SMTP:")), None)
    props: dict[str, Any] = {
        "DisabledEmailAddressTemplates": ExCollection(TEMPLATE_COLLECTION_TYPES,
                                                      list(policy.disabled)),
        "DistinguishedName": dn,
        "EnabledEmailAddressTemplates": ExCollection(TEMPLATE_COLLECTION_TYPES,
                                                     list(policy.enabled)),
        "EnabledPrimarySMTPAddressTemplate": primary[5:] if primary else "",
        "ExchangeVersion": "0.1 (8.0.535.0)",
        "Identity": ad_object_id(org, dn, None, to_string=policy.name),
        "IncludedRecipients": "AllRecipients" if policy.recipients is None else None,
        "IsValid": True,
        "LdapRecipientFilter": "(mailNickname=*)",
        "Name": policy.name,
        "Priority": "Lowest" if policy.priority == LOWEST else str(policy.priority),
        "RecipientFilterApplied": True,
    }
    return ExObject(POLICY_TYPES, props, policy.name)


def get_email_address_policy(call: Call) -> Iterator[ExObject]:
    """``Get-EmailAddressPolicy [-Identity NAME]``: policies by priority, default last."""
    org = call.org
    wanted = call.params.get("Identity")
    policies = sorted(org.policies, key=lambda p: p.priority)
    if wanted is not None:
        policies = [p for p in policies if fold(p.name) == fold(wanted)]
        if not policies:
            call.error(_not_found_policy(call, wanted))
            return
    for policy in policies:
        yield email_address_policy(policy, org)


def _not_found_policy(call: Call, identity: str) -> Any:
    from toolkit.mocks.exchange import errors as err

    return err.not_found(call.name, identity, call.org.server, call.org.domain_controller)
