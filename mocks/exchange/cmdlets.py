"""Exchange cmdlet semantics over the in-memory organisation.

Each cmdlet is a generator over its input: objects flow lazily through the
pipeline (``Get-Recipient | Select-Object``), so output reaches the client
while later identities are still being resolved, and stopping the pipeline
stops the work. Errors go to the sink as they happen, interleaved with
output as PowerShell interleaves them. Not-found and ambiguous identities
are non-terminating errors, as in Exchange.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from toolkit.mocks.dn import escape_rdn_value, parent_dn
from toolkit.mocks.exchange import errors as err
from toolkit.mocks.exchange.addressing import (
    SETTERS,
    as_proxy,
    get_email_address_policy,
    invalid_proxy,
    setter,
)
from toolkit.mocks.exchange.binding import Param, Signature, bind, check_mandatory
from toolkit.mocks.exchange.errors import ErrorSpec, Terminating
from toolkit.mocks.exchange.objects import (
    ExCollection,
    ExObject,
    mailbox_statistics,
    reduced_recipient,
    view,
)
from toolkit.mocks.exchange.opath import Predicate, compile_filter
from toolkit.mocks.exchange.organisation import MAIL_CONTACT, MAILBOX, Entry, Organisation

from toolkit.text import fold


class Sink(Protocol):
    """Where a running pipeline writes (implemented by the PSRP layer)."""

    def output(self, value: Any) -> None: ...
    def error(self, spec: ErrorSpec) -> None: ...
    def warning(self, message: str) -> None: ...


@dataclass(frozen=True)
class CommandCall:
    """One command of a pipeline as the client sent it."""

    name: str
    arguments: tuple[tuple[str | None, Any], ...]
    is_script: bool = False


_RECIPIENT_ID = "Microsoft.Exchange.Configuration.Tasks.RecipientIdParameter"
_MAILBOX_ID = "Microsoft.Exchange.Configuration.Tasks.MailboxIdParameter"
_CONTACT_ID = "Microsoft.Exchange.Configuration.Tasks.MailContactIdParameter"
_STATS_ID = "Microsoft.Exchange.Configuration.Tasks.GeneralMailboxOrMailUserIdParameter"
_TASKS = "Microsoft.Exchange.Configuration.Tasks"
_DC = Param("DomainController", "string", type_name="Microsoft.Exchange.Data.Fqdn")
_READ = (
    Param("ResultSize", "resultsize", type_name="Microsoft.Exchange.Data.Unlimited`1[System.UInt32]"),
    Param("Filter", "string"), Param("OrganizationalUnit", "string"), Param("Anr", "string"),
    Param("RecipientTypeDetails", "strings"), Param("ReadFromDomainController", "switch"),
    Param("IgnoreDefaultScope", "switch"), Param("SortBy", "string"), _DC,
)
_PROXY_EDIT = (
    Param("EmailAddresses", "proxies", type_name="Microsoft.Exchange.Data.ProxyAddressCollection"),
    Param("EmailAddressPolicyEnabled", "bool", type_name="System.Boolean"),
    Param("DisplayName", "string"), Param("Alias", "string"),
    Param("HiddenFromAddressListsEnabled", "bool", type_name="System.Boolean"),
    Param("Force", "switch"), _DC,
)


def _ident(type_name: str, mandatory: bool = False) -> Param:
    return Param("Identity", "identity", 0, mandatory, True, type_name)


SIGNATURES: dict[str, Signature] = {s.cmdlet.lower(): s for s in (
    Signature("Get-Recipient", (_ident(_RECIPIENT_ID), Param("RecipientType", "strings"), *_READ),
              exclusive=(frozenset({"Identity", "Anr"}),)),
    Signature("Get-Mailbox", (_ident(_MAILBOX_ID), *_READ),
              exclusive=(frozenset({"Identity", "Anr"}),)),
    Signature("Get-MailContact", (_ident(_CONTACT_ID), *_READ),
              exclusive=(frozenset({"Identity", "Anr"}),)),
    Signature("Get-MailboxStatistics", (
        _ident(_STATS_ID), Param("Database", "string"), Param("Server", "string"),
        Param("Archive", "switch"), Param("IncludeMoveReport", "switch"), _DC),
        exclusive=(frozenset({"Identity", "Database", "Server"}),)),
    Signature("Set-Mailbox", (_ident(_MAILBOX_ID, True), *_PROXY_EDIT), should_process=True),
    Signature("Set-MailContact", (
        _ident(_CONTACT_ID, True), *_PROXY_EDIT, Param("Name", "string"),
        Param("ExternalEmailAddress", "string", type_name="Microsoft.Exchange.Data.ProxyAddress"),
    ), should_process=True),
    *(Signature(f"Set-{noun}", (_ident(f"{_TASKS}.{id_type}", True), *_PROXY_EDIT),
                should_process=True) for noun, id_type in (
        ("RemoteMailbox", "RemoteMailboxIdParameter"), ("MailUser", "MailUserIdParameter"),
        ("DistributionGroup", "DistributionGroupIdParameter"),
        ("DynamicDistributionGroup", "DynamicGroupIdParameter"),
        ("MailPublicFolder", "MailPublicFolderIdParameter"))),
    Signature("Get-EmailAddressPolicy", (
        _ident(f"{_TASKS}.EmailAddressPolicyIdParameter"),
        Param("IncludeMailboxSettingOnlyPolicy", "switch"), _DC)),
    Signature("Remove-MailContact", (_ident(_CONTACT_ID, True), _DC), should_process=True),
    Signature("New-MailContact", (
        Param("Name", "string", 0, True),
        Param("ExternalEmailAddress", "string", None, True,
              type_name="Microsoft.Exchange.Data.ProxyAddress"),
        Param("Alias", "string"), Param("DisplayName", "string"), Param("FirstName", "string"),
        Param("LastName", "string"), Param("OrganizationalUnit", "string"),
        Param("PrimarySmtpAddress", "string"), _DC), should_process=True),
    Signature("Select-Object", (
        Param("Property", "strings", 0), Param("ExpandProperty", "string"),
        Param("ExcludeProperty", "strings"), Param("First", "int"), Param("Last", "int"),
        Param("Skip", "int"), Param("Unique", "switch"),
        Param("InputObject", "any", pipeline=True))),
)}

_MORE_DEFAULT = (
    "By default, only the first 1000 items are returned. Use the ResultSize parameter to "
    "specify the number of items returned. To return all items, specify \"-ResultSize "
    "Unlimited\". Be aware that, depending on the actual number of items, returning all "
    "items can take a long time and consume a large amount of memory. Also, we don't "
    "recommend storing the results in a variable. Instead, pipe the results to another task "
    "or script to perform batch changes.")
_MORE_EXPLICIT = ("There are more results available than are currently displayed. To view "
                  "them, increase the value for the ResultSize parameter.")


class Call:
    """One bound command at run time: parameters, input, error routing."""

    def __init__(self, engine: Engine, sig: Signature, params: dict[str, Any],
                 stream: Iterable[Any] | None, sink: Sink) -> None:
        self.engine = engine
        self.org = engine.org
        self.sig = sig
        self.params = params
        self.input = stream
        self.sink = sink

    @property
    def name(self) -> str:
        return self.sig.cmdlet

    def error(self, spec: ErrorSpec) -> None:
        action = str(self.params.get("ErrorAction", "Continue")).lower()
        if action == "stop":
            raise Terminating(err.stopped_by_preference(spec))
        if action not in ("silentlycontinue", "ignore"):
            self.sink.error(spec)

    def warning(self, message: str) -> None:
        if str(self.params.get("WarningAction", "Continue")).lower() not in (
                "silentlycontinue", "ignore"):
            self.sink.warning(message)

    def identities(self) -> Iterator[str | None]:
        """``-Identity`` once, or each pipeline input (by value or by property name)."""
        if self.input is None:
            yield self.params.get("Identity")
            return
        for item in self.input:
            if "Identity" in self.params:
                self.error(err.input_not_bound(self.name, item))
                continue
            if isinstance(item, ExObject):
                found = item.find("Identity") or item.find("DistinguishedName")
                value = found[1] if found else None
            elif isinstance(item, str | int):
                value = item
            else:  # a deserialised object sent back as input: bind by property name
                value = getattr(item, "Identity", None) or getattr(item, "DistinguishedName", None)
            if value is None or isinstance(value, list | tuple | dict):
                self.error(err.input_not_bound(self.name, item))
                continue
            yield str(value) if not isinstance(value, ExObject) else str(value.to_string)

    def resolve(self, identity: str, types: set[str] | None,
                details: Collection[str] | None = None) -> Entry | None:
        hits = self.org.resolve(identity, types, details)
        if not hits:
            self.error(err.not_found(self.name, identity, self.org.server,
                                     self.org.domain_controller))
            return None
        if len(hits) > 1:
            self.error(err.ambiguous(self.name, identity, self.org.server))
            return None
        return hits[0]

    def fail(self, message: str, exception: str) -> None:
        self.error(err.exchange_error(self.name, message, exception, self.org.server))

    def should_process(self) -> bool:
        """False under -WhatIf; terminating when a prompt would be needed."""
        if self.params.get("WhatIf"):
            return False
        if self.params.get("Confirm", None) is not False and self.name.startswith("Remove-"):
            raise Terminating(err.no_host(self.name))
        return True


# -- readers ---------------------------------------------------------------------


def _reader(types: set[str] | None, noun: str) -> Callable[[Call], Iterator[Any]]:
    def run(call: Call) -> Iterator[Any]:
        predicate = _filter(call)
        limit = call.params.get("ResultSize", 1000) if "ResultSize" in call.params else 1000
        wanted_types = {fold(t) for t in call.params.get("RecipientType", [])}
        wanted_details = {fold(t) for t in call.params.get("RecipientTypeDetails", [])}
        for identity in call.identities():
            if identity is not None:
                entry = call.resolve(identity, types)
                if entry is not None:
                    yield view(entry, call.org, noun)
                continue
            shown = 0
            for entry in call.org.iter(types):
                if wanted_types and fold(entry.recipient_type) not in wanted_types:
                    continue
                if wanted_details and fold(entry.type_details) not in wanted_details:
                    continue
                obj = view(entry, call.org, noun)
                if predicate is not None and not predicate(obj):
                    continue
                if limit is not None and shown >= limit:
                    call.warning(_MORE_EXPLICIT if "ResultSize" in call.params else _MORE_DEFAULT)
                    break
                shown += 1
                yield obj

    return run


def _filter(call: Call) -> Predicate | None:
    text = call.params.get("Filter")
    if not text:
        return None
    sample = next(iter(call.org.entries), None)
    known = reduced_recipient(sample, call.org) if sample else ExObject((), {})
    return compile_filter(call.name, text, known)


def get_mailbox_statistics(call: Call) -> Iterator[Any]:
    for identity in call.identities():
        if identity is None:
            raise Terminating(err.binding_error(
                call.name, "Cannot process command because of one or more missing mandatory "
                "parameters: Identity.", "MissingMandatoryParameter"))
        entry = call.resolve(identity, {MAILBOX})
        if entry is None:
            continue
        if entry.item_count is None:
            call.warning(f"The user hasn't logged on to mailbox '{call.org.canonical_name(entry.dn)}'"
                         f" ('{entry.guid}'), so there is no data to return. After the user logs"
                         " on, this warning will no longer appear.")
            continue
        yield mailbox_statistics(entry, call.org)


# -- writers (the address edits live in :mod:`.addressing`) -------------------------


def remove_mail_contact(call: Call) -> Iterator[Any]:
    for identity in call.identities():
        if identity is None:
            continue
        entry = call.resolve(identity, {MAIL_CONTACT})
        if entry is not None and call.should_process():
            call.org.remove(entry)
    yield from ()


def new_mail_contact(call: Call) -> Iterator[Any]:
    if call.input is not None:
        for item in call.input:
            call.error(err.input_not_bound(call.name, item))
        return
    p = call.params
    name, target = p["Name"], as_proxy(p["ExternalEmailAddress"])
    problem = invalid_proxy(target)
    if problem:
        call.fail(problem, "DataValidationException")
        return
    ou = p.get("OrganizationalUnit")
    parent = call.org.users_container()
    if ou:
        hits = [parent_dn(e.dn) for e in call.org.entries
                if fold(ou) in (fold(parent_dn(e.dn)), fold(call.org.canonical_name(parent_dn(e.dn))))]
        if not hits:
            raise Terminating(err.not_found(call.name, ou, call.org.server,
                                            call.org.domain_controller))
        parent = hits[0]
    dn = f"CN={escape_rdn_value(name)},{parent}"
    if call.org.resolve(dn):
        call.fail(f"The name \"{name}\" is already being used. Please try another name.",
                  "ADObjectAlreadyExistsException")
        return
    owner = call.org.proxy_owner(target)
    if owner is not None:
        call.fail(f"The proxy address \"{target}\" is already being used by the proxy addresses "
                  f"or LegacyExchangeDN of \"{call.org.canonical_name(owner.dn)}\". Please choose "
                  "another proxy address.", "ProxyAddressExistsException")
        return
    if not call.should_process():
        return
    alias = p.get("Alias") or "".join(c for c in name if c.isalnum() or c in "._-")
    prefix, _, address = target.partition(":")
    proxies = [f"{prefix.upper()}:{address}"]
    if p.get("PrimarySmtpAddress"):
        proxies.append(f"SMTP:{p['PrimarySmtpAddress']}")
    attrs: dict[str, list[Any]] = {
        "objectclass": ["top", "person", "organizationalPerson", "contact"],
        "cn": [name], "name": [name], "displayname": [p.get("DisplayName") or name],
        "mailnickname": [alias], "targetaddress": [target], "proxyaddresses": proxies,
        "legacyexchangedn": [f"/o=Corp/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                             f"/cn=Recipients/cn={alias}"],
    }
    smtp = [v[5:] for v in proxies if v.startswith("SMTP:")]
    if smtp:
        attrs["mail"] = [smtp[-1]]
    for param, attr in (("FirstName", "givenname"), ("LastName", "sn")):
        if p.get(param):
            attrs[attr] = [p[param]]
    entry = call.org.add(Entry(dn, attrs, uuid.uuid4(), MAIL_CONTACT, MAIL_CONTACT))
    yield view(entry, call.org, "mailcontact")


# -- Select-Object -------------------------------------------------------------


def select_object(call: Call) -> Iterator[Any]:
    p = call.params
    first, skip = p.get("First"), p.get("Skip", 0)
    patterns: list[str] = p.get("Property") or []
    taken = 0
    for index, item in enumerate(call.input or []):
        if index < skip:
            continue
        if first is not None and taken >= first:
            break
        taken += 1
        if p.get("ExpandProperty"):
            found = item.find(p["ExpandProperty"]) if isinstance(item, ExObject) else None
            if found is None:
                call.error(ErrorSpec(
                    f"Property \"{p['ExpandProperty']}\" cannot be found.",
                    ("System.Management.Automation.PSArgumentException", "System.Object"),
                    "InvalidArgument", "PSArgumentException",
                    "ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
                    activity=call.name))
                continue
            value = found[1]
            if isinstance(value, ExCollection):
                yield from value.items
            else:
                yield value
            continue
        if not patterns:
            yield item
            continue
        yield _project(item, patterns, p.get("ExcludeProperty") or [])


def _project(item: Any, patterns: list[str], exclude: list[str]) -> ExObject:
    source = item if isinstance(item, ExObject) else ExObject(("System.String",), {})
    props: dict[str, Any] = {}
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            for key, value in source.props.items():
                if fnmatch.fnmatchcase(key.lower(), pattern.lower()):
                    props.setdefault(key, value)
        else:
            found = source.find(pattern)
            props.setdefault(found[0] if found else pattern, found[1] if found else None)
    for pattern in exclude:
        props = {k: v for k, v in props.items()
                 if not fnmatch.fnmatchcase(k.lower(), pattern.lower())}
    first_type = source.type_names[0] if source.type_names else "System.Object"
    return ExObject((f"Selected.{first_type}", "System.Management.Automation.PSCustomObject",
                     "System.Object"), props, extended=True)


IMPLEMENTATIONS: dict[str, Callable[[Call], Iterator[Any]]] = {
    "get-recipient": _reader(None, "recipient"),
    "get-mailbox": _reader({MAILBOX}, "mailbox"),
    "get-mailcontact": _reader({MAIL_CONTACT}, "mailcontact"),
    "get-mailboxstatistics": get_mailbox_statistics,
    **{name: setter(details) for name, details in SETTERS.items()},
    "get-emailaddresspolicy": get_email_address_policy,
    "remove-mailcontact": remove_mail_contact,
    "new-mailcontact": new_mail_contact,
    "select-object": select_object,
}


class Engine:
    """Runs pipelines of cmdlets against one organisation.

    ``commands`` lists what the session exposes: with ``Select-Object``
    removed the engine behaves like an endpoint whose role does not grant
    it, which lets a client's fallback be tested.
    """

    def __init__(self, org: Organisation, *, commands: Iterable[str] | None = None) -> None:
        self.org = org
        names = set(IMPLEMENTATIONS) if commands is None else {c.lower() for c in commands}
        self.commands = {n: IMPLEMENTATIONS[n] for n in names if n in IMPLEMENTATIONS}

    def run(self, statements: list[list[CommandCall]], inputs: list[Any] | None,
            sink: Sink) -> Iterator[None]:
        """Generator: yields after each output object; raises :class:`Terminating`."""
        throttled, self.org.throttle_next = self.org.throttle_next, None
        if throttled is not None:  # an injected budget refusal: nothing runs
            raise Terminating(throttled)
        bound_all = [[self._bind(c, j > 0 or (i == 0 and inputs is not None))
                      for j, c in enumerate(statement)]
                     for i, statement in enumerate(statements)]
        for i, bound in enumerate(bound_all):
            stream: Iterable[Any] | None = inputs if i == 0 else None
            for sig, params in bound:
                stream = self.commands[sig.cmdlet.lower()](Call(self, sig, params, stream, sink))
            for value in stream or ():
                sink.output(value)
                yield

    def _bind(self, call: CommandCall, piped: bool) -> tuple[Signature, dict[str, Any]]:
        if call.is_script:
            raise Terminating(err.scripts_not_allowed())
        name = call.name.strip()
        if name.lower() not in self.commands:
            raise Terminating(err.command_not_found(name))
        sig = SIGNATURES[name.lower()]
        params = bind(sig, call.arguments)
        check_mandatory(sig, params, piped or sig.cmdlet == "Select-Object")
        return sig, params

