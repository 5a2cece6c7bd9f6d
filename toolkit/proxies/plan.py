"""``ccmig proxies plan``: ``remove-proxy-addresses`` actions (spec: ``ccmig
proxies plan``), one per object with a non-empty ``remove``.

Pure: objects and settings in, a plan out. The values come from
:func:`toolkit.proxies.rules.remove_values`, the same function that fills the
audit's ``remove``, so a plan removes exactly what the audit said it would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.errors import InputError
from toolkit.proxies.model import ProxyKind, ProxyObject, value_type
from toolkit.proxies.read import AD
from toolkit.proxies.rules import Context, malformed_reasons, remove_values
from toolkit.proxies.settings import ProxySettings

KIND = "remove-proxy-addresses"
# msExchPoliciesExcluded holds this GUID when "Automatically update e-mail
# addresses based on e-mail address policy" is off for the object.
POLICIES_EXCLUDED = "{26491cfc-9e50-4857-861b-0cb8df22b5d7}"

# RecipientTypeDetails (PowerShell: names; msExchRecipientTypeDetails: the
# same enumeration's values) -> the cmdlet that edits that recipient's EmailAddresses.
CMDLETS: dict[str, tuple[int, str]] = {
    "UserMailbox": (0x1, "Set-Mailbox"),
    "LinkedMailbox": (0x2, "Set-Mailbox"),
    "SharedMailbox": (0x4, "Set-Mailbox"),
    "RoomMailbox": (0x10, "Set-Mailbox"),
    "EquipmentMailbox": (0x20, "Set-Mailbox"),
    "MailContact": (0x40, "Set-MailContact"),
    "MailUser": (0x80, "Set-MailUser"),
    "MailUniversalDistributionGroup": (0x100, "Set-DistributionGroup"),
    "MailNonUniversalGroup": (0x200, "Set-DistributionGroup"),
    "MailUniversalSecurityGroup": (0x400, "Set-DistributionGroup"),
    "RoomList": (0x4000000, "Set-DistributionGroup"),
    "DynamicDistributionGroup": (0x800, "Set-DynamicDistributionGroup"),
    "PublicFolder": (0x1000, "Set-MailPublicFolder"),
    "RemoteUserMailbox": (0x80000000, "Set-RemoteMailbox"),
    "RemoteRoomMailbox": (0x200000000, "Set-RemoteMailbox"),
    "RemoteEquipmentMailbox": (0x400000000, "Set-RemoteMailbox"),
    "RemoteSharedMailbox": (0x800000000, "Set-RemoteMailbox"),
}
_BY_VALUE = {value: cmdlet for value, cmdlet in CMDLETS.values()}
_BY_NAME = {name.lower(): cmdlet for name, (_, cmdlet) in CMDLETS.items()}
_BY_KIND = {ProxyKind.MAILBOX: "Set-Mailbox", ProxyKind.GROUP: "Set-DistributionGroup"}


def cmdlet_for(obj: ProxyObject, type_details: int | str | None = None) -> str | None:
    """The cmdlet for an object: from its RecipientTypeDetails (a PowerShell
    name, or msExchRecipientTypeDetails), else by kind; None for kind
    ``user`` (no Exchange recipient: LDAP only)."""
    if obj.kind is ProxyKind.USER:
        return None
    details = obj.type_details if type_details is None else type_details
    known = (_BY_NAME.get(details.lower()) if isinstance(details, str)
             else _BY_VALUE.get(details) if details is not None else None)
    if known:
        return known
    if obj.kind is ProxyKind.CUSTOM_RECIPIENT:
        return "Set-MailContact" if "contact" in obj.classes else "Set-MailUser"
    return _BY_KIND[obj.kind]


@dataclass
class ProxyAction:
    id: str
    target: str
    dn: str
    cmdlet: str | None
    values: list[str]
    reason: list[str]
    precondition: str
    blocked: bool = False
    blocked_reason: str | None = None
    kind: str = KIND

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target, "dn": self.dn,
                "cmdlet": self.cmdlet, "values": list(self.values), "reason": list(self.reason),
                "precondition": self.precondition, "blocked": self.blocked,
                "blocked_reason": self.blocked_reason}


@dataclass
class ProxyPlan:
    inputs: dict[str, Any]
    actions: list[ProxyAction] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "actions": [a.as_dict() for a in self.actions]}


def follows_policies(obj: ProxyObject) -> bool:
    return not any(v.strip().lower() == POLICIES_EXCLUDED for v in obj.policies_excluded)


def _policy_check(obj: ProxyObject, values: list[str],
                  policies: Mapping[str, Iterable[str]] | None) -> tuple[bool, str | None, str]:
    """(blocked, blocked_reason, what the precondition says about policies)."""
    if not follows_policies(obj):
        return False, None, "the object does not follow email address policies"
    if policies is None:
        return False, None, ("email address policies were not checked (no --exchange-uri): "
                             "one that still generates these types would stamp them again")
    kinds = {value_type(v) for v in values}
    stamping = sorted(name for name, generated in policies.items() if kinds & set(generated))
    if stamping:
        return True, ("email address policies still generate these types and would stamp the "
                      f"addresses again: {', '.join(stamping)}; fix the policies first"), ""
    return False, None, "no enabled email address policy generates these types"


def _reasons(ctx: Context, i: int, values: list[str]) -> list[str]:
    """The codes the removal answers, in the table's order."""
    obj = ctx.objects[i]
    removed = [v for v in obj.values if v.text in set(values)]
    reason = []
    if any(malformed_reasons(v) for v in removed):
        reason.append("malformed-proxy")
    if any(v.same_key is not None and len(ctx.by_value[v.same_key]) > 1 for v in removed):
        reason.append("duplicate-proxy")
    reason.append("retired-address")
    limit = ctx.settings.max_values
    if limit is not None and len(obj.values) > limit:
        reason.append("too-many-values")
    return reason


def check_dialect(dialect: str) -> None:
    """The 5.5 dialect has no plan (exit 2): nothing writes to Exchange 5.5."""
    if dialect != AD:
        raise InputError("the Exchange 5.5 dialect has no proxies plan (audit it; remove the "
                         "values in the Exchange 5.5 Administrator)", "--dialect")


def make_proxy_plan(objects: Iterable[ProxyObject], settings: ProxySettings, dialect: str,
                    inputs: dict[str, Any],
                    policies: Mapping[str, Iterable[str]] | None = None) -> ProxyPlan:
    """One action per object with a non-empty ``remove``, in key order.

    ``policies``: policy name -> the (upper-case) types its enabled templates
    generate, from ``Get-EmailAddressPolicy``; None when not read (no
    ``--exchange-uri``): then no action is blocked and each says policies
    were not checked.
    """
    check_dialect(dialect)
    ctx = Context.build(objects, settings)
    actions = []
    for i, obj in enumerate(ctx.objects):
        values = list(remove_values(ctx, obj))
        if not values:
            continue
        reason = _reasons(ctx, i, values)
        blocked, why, about = _policy_check(obj, values, policies)
        precondition = ("every value is still on the object (compared as the same) and "
                        "retired-in-use keeps none of them")
        if about:
            precondition += f"; {about}"
        actions.append(ProxyAction(f"{len(actions) + 1:04d}", obj.key, obj.dn,
                                   cmdlet_for(obj), values, reason, precondition, blocked, why))
    return ProxyPlan(inputs, actions)
