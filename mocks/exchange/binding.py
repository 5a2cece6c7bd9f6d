"""PowerShell parameter binding, as strict as the real one.

Names are case-insensitive and may be abbreviated to a unique prefix; an
unknown or ambiguous name, a parameter given twice, or a value that does not
convert is a terminating ParameterBindingException. ``-Identity`` takes ONE
value: an array is refused with Exchange's own message, which is why a
client must batch through pipeline input instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.mocks.exchange.errors import Terminating, binding_error

# kinds: identity, string, strings, switch, bool, int, resultsize, proxies, any
COMMON = (
    ("Verbose", "switch"), ("Debug", "switch"), ("ErrorAction", "string"),
    ("WarningAction", "string"), ("InformationAction", "string"), ("ErrorVariable", "string"),
    ("WarningVariable", "string"), ("InformationVariable", "string"),
    ("OutVariable", "string"), ("OutBuffer", "int"), ("PipelineVariable", "string"),
)
SHOULD_PROCESS = (("WhatIf", "switch"), ("Confirm", "switch"))
_ACTIONS = {"continue", "stop", "silentlycontinue", "ignore", "inquire", "suspend"}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    position: int | None = None
    mandatory: bool = False
    pipeline: bool = False  # binds pipeline input (by value, or by property name)
    type_name: str = "System.String"


@dataclass(frozen=True)
class Signature:
    """A cmdlet's parameters (its own, plus the common ones)."""

    cmdlet: str
    params: tuple[Param, ...]
    should_process: bool = False
    exclusive: tuple[frozenset[str], ...] = ()  # names that belong to different parameter sets

    def all_params(self) -> list[Param]:
        extra = COMMON + (SHOULD_PROCESS if self.should_process else ())
        return [*self.params, *(Param(n, k) for n, k in extra)]


def _lookup(sig: Signature, given: str) -> Param:
    name = given.lstrip("-").rstrip(":")
    params = sig.all_params()
    exact = [p for p in params if p.name.lower() == name.lower()]
    if exact:
        return exact[0]
    prefixed = [p for p in params if p.name.lower().startswith(name.lower())] if name else []
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        names = ", ".join(p.name for p in prefixed)
        raise Terminating(binding_error(
            sig.cmdlet, f"Parameter cannot be processed because the parameter name '{name}' is "
            f"ambiguous. Possible matches include: {names}.", "AmbiguousParameter"))
    raise Terminating(binding_error(
        sig.cmdlet, f"A parameter cannot be found that matches parameter name '{name}'.",
        "NamedParameterNotFound"))


def _net_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "System.Collections.Hashtable"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "System.Object[]"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32"
    return "System.String"


def _cannot_convert(sig: Signature, p: Param, value: Any, why: str) -> Terminating:
    return Terminating(binding_error(
        sig.cmdlet, f"Cannot bind parameter '{p.name}'. Cannot convert the \"{value}\" value of "
        f"type \"{_net_type(value)}\" to type \"{p.type_name}\". {why}".strip(),
        "CannotConvertArgument"))


def convert(sig: Signature, p: Param, value: Any) -> Any:
    """The value as the cmdlet sees it, or a terminating binding error."""
    is_list = isinstance(value, Sequence) and not isinstance(value, str | bytes)
    if p.kind == "identity":
        if is_list or isinstance(value, Mapping):
            raise Terminating(binding_error(
                sig.cmdlet, f"Cannot convert '{_net_type(value)}' to the type "
                f"'{p.type_name}' required by parameter '{p.name}'. Specified method is not "
                "supported.", "CannotConvertArgument"))
        return None if value is None else str(value)
    if p.kind == "switch":
        if value is None:
            return True
        if isinstance(value, bool):
            return value
        raise _cannot_convert(sig, p, value, "Only Boolean values are accepted.")
    if p.kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower().lstrip("$") in ("true", "false"):
            return str(value).lower().lstrip("$") == "true"
        raise _cannot_convert(sig, p, value, "Boolean parameters accept only Boolean values.")
    if p.kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _cannot_convert(sig, p, value,
                                  "Input string was not in a correct format.") from None
    if p.kind == "resultsize":
        if isinstance(value, str) and value.strip().lower() == "unlimited":
            return None
        try:
            size = int(value)
        except (TypeError, ValueError):
            size = 0
        if size < 1:
            raise _cannot_convert(sig, p, value, "Use a positive number or \"Unlimited\".")
        return size
    if p.kind == "strings":
        if value is None:
            return []
        return [str(v) for v in value] if is_list else [str(value)]
    if p.kind == "string":
        if value is None:
            return None
        return " ".join(str(v) for v in value) if is_list else str(value)
    if p.kind == "proxies":
        return _proxy_change(sig, p, value)
    return value


def _proxy_change(sig: Signature, p: Param, value: Any) -> tuple[str, list[str], list[str]]:
    """``@{Add=...; Remove=...}`` -> ("delta", adds, removes); a list -> ("replace", ...)."""
    def listed(v: Any) -> list[str]:
        if v is None:
            return []
        if isinstance(v, Sequence) and not isinstance(v, str):
            return [str(i) for i in v]
        return [str(v)]

    if isinstance(value, Mapping):
        keys = {str(k).lower(): v for k, v in value.items()}
        unknown = set(keys) - {"add", "remove", "+", "-"}
        if unknown:
            raise _cannot_convert(sig, p, "System.Collections.Hashtable", "The hash table "
                                  "may only contain the keys Add and Remove.")
        adds = listed(keys.get("add")) + listed(keys.get("+"))
        removes = listed(keys.get("remove")) + listed(keys.get("-"))
        return "delta", adds, removes
    return "replace", listed(value), []


def bind(sig: Signature, arguments: Sequence[tuple[str | None, Any]]) -> dict[str, Any]:
    """Bind ``(name or None, value)`` pairs; canonical names as keys."""
    bound: dict[str, Any] = {}
    positional = sorted((p for p in sig.params if p.position is not None),
                        key=lambda p: p.position or 0)
    for name, value in arguments:
        if name is None or name == "":
            p = next((q for q in positional if q.name not in bound), None)
            if p is None:
                raise Terminating(binding_error(
                    sig.cmdlet, f"A positional parameter cannot be found that accepts "
                    f"argument '{value}'.", "PositionalParameterNotFound"))
        else:
            p = _lookup(sig, name)
        if p.name in bound:
            raise Terminating(binding_error(
                sig.cmdlet, f"Cannot bind parameter because parameter '{p.name}' is specified "
                "more than once. To provide multiple values to parameters that can accept "
                "multiple values, use the array syntax.", "ParameterAlreadyBound"))
        bound[p.name] = convert(sig, p, value)
        if p.name in ("ErrorAction", "WarningAction") and str(bound[p.name]).lower() not in _ACTIONS:
            raise _cannot_convert(sig, p, value, "Specify one of: Continue, Stop, "
                                  "SilentlyContinue, Ignore.")
    for group in sig.exclusive:
        if len(group & bound.keys()) > 1:
            raise Terminating(binding_error(
                sig.cmdlet, "Parameter set cannot be resolved using the specified named "
                "parameters.", "AmbiguousParameterSet"))
    return bound


def check_mandatory(sig: Signature, bound: Mapping[str, Any], piped: bool) -> None:
    """Mandatory parameters missing with no host to prompt: terminating."""
    missing = [p.name for p in sig.params
               if p.mandatory and p.name not in bound and not (piped and p.pipeline)]
    if missing:
        raise Terminating(binding_error(
            sig.cmdlet, "Cannot process command because of one or more missing mandatory "
            f"parameters: {' '.join(missing)}.", "MissingMandatoryParameter"))
