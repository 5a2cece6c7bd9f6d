"""Email address policies of the mock organisation, and Exchange's re-stamping.

Why the mock needs them: a policy whose *enabled* templates still generate a
type stamps that type's addresses back onto every recipient that follows
policies (EmailAddressPolicyEnabled). Removing a ``CCMAIL:`` value from such
a recipient "works" - the cmdlet reports no error - and the value is there
again on the next read. ``ccmig proxies plan`` blocks those actions and
``apply`` reports values that reappear; the mock must behave that way or
neither can be tested.

The organisation starts with Exchange's ``Default Policy`` (priority
``Lowest``), whose one enabled template generates SMTP addresses only. More
come from a JSON file (``scripts/mock-exchange --policies FILE``)::

    [{"name": "Legacy cc:Mail", "priority": 1,
      "enabled": ["SMTP:%g.%s@corp.example", "CCMAIL:%s, %g at HUBPO"],
      "disabled": ["MS:CORP/EXCH/%g%s"],
      "recipients": ["CN=Smith\\\\, John,OU=Staff,DC=corp,DC=example"]}]

``recipients`` (DNs) narrows whom the policy applies to (default: everyone);
a policy named ``Default Policy`` replaces the built-in one. As in Exchange,
ONE policy applies to a recipient: the one with the highest priority (the
lowest number) among those that include it.

What the mock does not model (a real Exchange 2016/2019/SE may differ):
templates are not expanded (``%g.%s``); re-stamping puts back exactly the
value that was removed, where Exchange would generate the template's
address (usually the same value for an address the policy made).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import InputError
from toolkit.text import fold

DEFAULT_NAME = "Default Policy"
LOWEST = 2**31 - 1  # "Lowest": the default policy's priority, after every other


@dataclass
class Policy:
    """One email address policy: templates as ``TYPE:template`` strings."""

    name: str
    enabled: list[str]
    disabled: list[str] = field(default_factory=list)
    priority: int = LOWEST
    recipients: frozenset[str] | None = None  # folded DNs; None: every recipient

    @property
    def generated_types(self) -> set[str]:
        """Upper-case types of the enabled templates (those it stamps)."""
        return {t.partition(":")[0].upper() for t in self.enabled if ":" in t}

    def includes(self, dn: str) -> bool:
        return self.recipients is None or fold(dn) in self.recipients


def default_policy(domain: str) -> Policy:
    """Exchange's built-in policy: one enabled template, the primary SMTP address."""
    return Policy(DEFAULT_NAME, [f"SMTP:@{domain}"])


def load_policies(path: str | Path) -> list[Policy]:
    """Policies from a JSON file (see the module docstring); exit 2 when malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read policies: {exc}", str(path)) from None
    if not isinstance(data, list):
        raise InputError("expected a JSON list of policies", str(path))
    out: list[Policy] = []
    for n, item in enumerate(data, 1):
        where = f"{path}: policy {n}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError("a policy is an object with a string 'name'", where)
        lists = {k: item.get(k, []) for k in ("enabled", "disabled")}
        if not all(isinstance(v, list) and all(isinstance(t, str) and ":" in t for t in v)
                   for v in lists.values()):
            raise InputError("'enabled' and 'disabled' are lists of 'TYPE:template' strings",
                             where)
        priority = item.get("priority", LOWEST)
        if not isinstance(priority, int) or priority < 1:
            raise InputError("'priority' is a positive integer", where)
        recipients = item.get("recipients")
        if recipients is not None and not (
                isinstance(recipients, list) and all(isinstance(r, str) for r in recipients)):
            raise InputError("'recipients' is a list of DNs", where)
        out.append(Policy(item["name"], list(lists["enabled"]), list(lists["disabled"]),
                          priority, None if recipients is None
                          else frozenset(fold(r) for r in recipients)))
    return out


def merge(base: Sequence[Policy], extra: Iterable[Policy]) -> list[Policy]:
    """``base`` with ``extra`` added; a policy of the same name replaces the old one."""
    extra = list(extra)
    names = {fold(p.name) for p in extra}
    return [*[p for p in base if fold(p.name) not in names], *extra]


def applying(policies: Iterable[Policy], dn: str) -> Policy | None:
    """The ONE policy that applies to ``dn``: highest priority among those including it."""
    candidates = [p for p in policies if p.includes(dn)]
    return min(candidates, key=lambda p: p.priority) if candidates else None


def restamp(policies: Iterable[Policy], dn: str, removed: Sequence[str]) -> list[str]:
    """The removed values the applying policy stamps straight back (its enabled types)."""
    policy = applying(policies, dn)
    if policy is None:
        return []
    kinds = policy.generated_types
    return [v for v in removed if v.partition(":")[0].upper() in kinds]
