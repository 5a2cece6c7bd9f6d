"""The error records the mock writes, worded and typed as Exchange's.

Two kinds matter to a client: *non-terminating* errors (an identity not
found: the pipeline still completes, the record is only in the error
stream) and *terminating* ones (a bad parameter, script text: the pipeline
fails). :class:`Terminating` carries the latter up to the PSRP layer.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

_EXCEPTION_TAIL = ("System.Exception", "System.Object")
_RUNTIME = ("System.Management.Automation.RuntimeException", "System.SystemException",
            *_EXCEPTION_TAIL)
_LOCALIZED = ("Microsoft.Exchange.Data.LocalizedException", *_EXCEPTION_TAIL)

NO_LANGUAGE = ("The syntax is not supported by this runspace. This can occur if the runspace "
               "is in no-language mode.")
NO_HOST = ("A command that prompts the user failed because the host program or the command "
           "type does not support user interaction. Try a host program that supports user "
           "interaction, such as the Windows PowerShell Console or Windows PowerShell ISE, "
           "and remove prompt-related commands from command types that do not support user "
           "interaction, such as Windows PowerShell workflows.")
INPUT_NOT_BOUND = ("The input object cannot be bound to any parameters for the command either "
                   "because the command does not take pipeline input or the input and its "
                   "properties do not match any of the parameters that take pipeline input.")


@dataclass
class ErrorSpec:
    """Everything an ErrorRecord needs; :mod:`.psrp` turns it into CLIXML."""

    message: str
    exception_types: tuple[str, ...]
    category: str  # a psrpcore ErrorCategory member name
    reason: str
    fqid: str
    activity: str | None = None
    target: Any = None
    target_name: str = ""
    target_type: str = ""


class Terminating(Exception):
    """A terminating error: the pipeline ends in state Failed with ``spec``."""

    def __init__(self, spec: ErrorSpec) -> None:
        super().__init__(spec.message)
        self.spec = spec


def _task_class(cmdlet: str) -> str:
    area = "MapiTasks" if cmdlet.lower().endswith("statistics") else "RecipientTasks"
    return f"Microsoft.Exchange.Management.{area}.{cmdlet.replace('-', '')}"


def exchange_error(cmdlet: str, message: str, exception: str, server: str,
                   category: str = "NotSpecified") -> ErrorSpec:
    """An Exchange task error: FQID shaped like ``[Server=EX01,RequestId=...]``."""
    stamp = datetime.datetime(2024, 1, 1).strftime("%m/%d/%Y %I:%M:%S %p")
    fqid = (f"[Server={server},RequestId={uuid.uuid4()},TimeStamp={stamp}] "
            f"[FailureCategory=Cmdlet-{exception}] {uuid.uuid4().hex[:8].upper()},"
            f"{_task_class(cmdlet)}")
    types = (f"Microsoft.Exchange.Configuration.Tasks.{exception}", *_LOCALIZED)
    return ErrorSpec(message, types, category, exception, fqid, activity=cmdlet)


def not_found(cmdlet: str, identity: str, server: str, dc: str) -> ErrorSpec:
    return exchange_error(
        cmdlet,
        f"The operation couldn't be performed because object '{identity}' couldn't be "
        f"found on '{dc}'.",
        "ManagementObjectNotFoundException", server)


def ambiguous(cmdlet: str, identity: str, server: str) -> ErrorSpec:
    return exchange_error(
        cmdlet,
        f"The operation couldn't be performed because '{identity}' matches multiple entries.",
        "ManagementObjectAmbiguousException", server)


def binding_error(cmdlet: str, message: str, fqid: str) -> ErrorSpec:
    """PowerShell's ParameterBindingException (always terminating)."""
    return ErrorSpec(message, ("System.Management.Automation.ParameterBindingException",
                               *_RUNTIME), "InvalidArgument", "ParameterBindingException",
                     f"{fqid},{cmdlet}", activity=cmdlet)


def command_not_found(name: str) -> ErrorSpec:
    return ErrorSpec(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script "
        "file, or operable program. Check the spelling of the name, or if a path was "
        "included, verify that the path is correct and try again.",
        ("System.Management.Automation.CommandNotFoundException", *_RUNTIME),
        "ObjectNotFound", "CommandNotFoundException", "CommandNotFoundException",
        target=name, target_name=name, target_type="String")


def scripts_not_allowed() -> ErrorSpec:
    return ErrorSpec(NO_LANGUAGE, ("System.Management.Automation.ParseException", *_RUNTIME),
                     "ParserError", "ParseException", "ScriptsNotAllowed")


def no_host(cmdlet: str) -> ErrorSpec:
    return ErrorSpec(NO_HOST, ("System.Management.Automation.Host.HostException", *_RUNTIME),
                     "NotSpecified", "HostException", f"HostFunctionNotImplemented,{cmdlet}",
                     activity=cmdlet)


def input_not_bound(cmdlet: str, item: Any) -> ErrorSpec:
    return ErrorSpec(INPUT_NOT_BOUND, ("System.Management.Automation.ParameterBindingException",
                                       *_RUNTIME), "InvalidArgument",
                     "ParameterBindingException", f"InputObjectNotBound,{cmdlet}",
                     activity=cmdlet, target=item if isinstance(item, str) else None)


def stopped_by_preference(spec: ErrorSpec) -> ErrorSpec:
    """``-ErrorAction Stop``: the same error, now ending the pipeline."""
    return ErrorSpec(
        "The running command stopped because the preference variable \"ErrorActionPreference\""
        f" or common parameter is set to Stop: {spec.message}",
        ("System.Management.Automation.ActionPreferenceStopException", *_RUNTIME),
        spec.category, spec.reason, spec.fqid, spec.activity, spec.target)


def winrm_user_quota(wait_ms: int, requests: int = 5000, seconds: int = 2) -> str:
    """WinRM's refusal when a user's request quota (Exchange: PowerShellMaxCmdlets per
    PowerShellMaxCmdletsTimePeriod) is used up. Wording as WinRM writes it, e.g.
    "The WS-Management service cannot process the request. The user load quota of X
    requests per Y seconds has been exceeded. Send future requests at a slower rate or
    raise the quota for this user. The next request from this user will not be approved
    for at least Z milliseconds." The request was refused: nothing ran."""
    return ("The WS-Management service cannot process the request. The user load quota of "
            f"{requests} requests per {seconds} seconds has been exceeded. Send future "
            "requests at a slower rate or raise the quota for this user. The next request "
            f"from this user will not be approved for at least {wait_ms} milliseconds.")


def destructive_throttled(cmdlet: str, server: str, wait_ms: int, budget: int = 30) -> ErrorSpec:
    """Exchange's budget refusal of a destructive cmdlet (PowerShellMaxDestructiveCmdlets):
    a terminating OverBudgetException, the cmdlet not run. The wording follows
    Exchange's OverBudgetException ("This operation exceeds the throttling budget for
    policy part '...', policy value '...', Budget type: '...'. Suggested backoff time N
    ms."), as recalled; no primary source was found to quote it verbatim."""
    spec = exchange_error(
        cmdlet,
        "This operation exceeds the throttling budget for policy part "
        f"'PowerShellMaxDestructiveCmdlets', policy value '{budget}', Budget type: "
        f"'PowerShell'. Suggested backoff time {wait_ms} ms.",
        "OverBudgetException", server, "ResourceUnavailable")
    spec.exception_types = ("Microsoft.Exchange.Data.Directory.OverBudgetException",
                            *_LOCALIZED)
    return spec


def value_already_present(cmdlet: str, value: str, server: str) -> ErrorSpec:
    """An ``Add`` of a value the object's EmailAddresses already holds in another case
    (ProxyAddress equality ignores case; the type's case only marks the primary):
    Exchange's MultiValuedProperty refuses it with an InvalidOperationException,
    "The value "X" is already present in the collection." - non-terminating, and
    nothing of the call is changed. Wording as recalled from Exchange's
    MultiValuedProperty; no primary source was found to quote it verbatim."""
    spec = exchange_error(cmdlet, f"The value \"{value}\" is already present in the collection.",
                          "InvalidOperationException", server, "InvalidOperation")
    spec.exception_types = ("System.InvalidOperationException", "System.SystemException",
                            *_EXCEPTION_TAIL)
    return spec
