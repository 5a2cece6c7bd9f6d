"""A small subset of Exchange's OPATH ``-Filter`` syntax.

Supported: ``Property -eq|-ne|-like|-notlike 'value'`` (also ``"value"``,
``$true``, ``$false``, ``$null``), joined by ``-and``/``-or``/``-not`` and
parentheses. Multi-valued properties (``EmailAddresses``) match when any
value does. Anything else is refused with Exchange's "Invalid filter syntax"
error rather than silently matching everything.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from toolkit.mocks.exchange.errors import Terminating, binding_error
from toolkit.mocks.exchange.objects import ExCollection, ExObject

Predicate = Callable[[ExObject], bool]

_TOKEN = re.compile(r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<op>-[A-Za-z]+)|'(?P<sq>(?:[^']|'')*)'
                      |"(?P<dq>(?:[^"]|"")*)"|(?P<var>\$[A-Za-z]+)|(?P<word>[^\s()'"]+))""",
                    re.VERBOSE)
_COMPARE = {"-eq", "-ne", "-like", "-notlike"}


def _invalid(cmdlet: str, text: str, pos: int) -> Terminating:
    return Terminating(binding_error(
        cmdlet, "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": "
        "\"Invalid filter syntax. For a description of the filter parameter syntax see the "
        f"command help. \"{text}\" at position {pos + 1}.\"", "ParameterBindingFailed"))


def _tokens(cmdlet: str, text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _invalid(cmdlet, text, pos)
        kind = m.lastgroup or ""
        value: Any = m.group(kind)
        if kind == "sq":
            kind, value = "value", value.replace("''", "'")
        elif kind == "dq":
            kind, value = "value", value.replace('""', '"')
        elif kind == "var":
            names = {"$true": True, "$false": False, "$null": None}
            if value.lower() not in names:
                raise _invalid(cmdlet, text, m.start(kind))
            kind, value = "value", names[value.lower()]
        elif kind == "op":
            value = value.lower()
        out.append((kind, value, m.start(m.lastgroup or 0)))
        pos = m.end()
    return out


def _values(obj: ExObject, prop: str) -> list[Any] | None:
    found = obj.find(prop)
    if found is None:
        return None
    value = found[1]
    if isinstance(value, ExCollection):
        return list(value.items)
    return [value]


def _matches(values: list[Any], op: str, wanted: Any) -> bool:
    def one(v: Any) -> bool:
        if wanted is None or isinstance(wanted, bool):
            return v == wanted
        text = "" if v is None else str(v)
        if op in ("-like", "-notlike"):
            return fnmatch.fnmatchcase(text.casefold(), str(wanted).casefold())
        return text.casefold() == str(wanted).casefold()

    hit = any(one(v) for v in values) if values else one(None)
    return not hit if op in ("-ne", "-notlike") else hit


def compile_filter(cmdlet: str, text: str, known: ExObject) -> Predicate:
    """A predicate over the cmdlet's output objects; ``known`` lists valid properties."""
    tokens = _tokens(cmdlet, text)
    pos = 0

    def peek() -> tuple[str, Any, int] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, Any, int]:
        nonlocal pos
        if pos >= len(tokens):
            raise _invalid(cmdlet, text, len(text) - 1)
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:
        left = term()
        while (t := peek()) and t[:2] == ("op", "-or"):
            take()
            right = term()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while (t := peek()) and t[:2] == ("op", "-and"):
            take()
            right = factor()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def factor() -> Predicate:
        kind, value, at = take()
        if (kind, value) == ("op", "-not"):
            inner = factor()
            return lambda o: not inner(o)
        if kind == "lp":
            inner = expr()
            if take()[0] != "rp":
                raise _invalid(cmdlet, text, at)
            return inner
        if kind != "word":
            raise _invalid(cmdlet, text, at)
        if known.find(value) is None:
            raise Terminating(binding_error(
                cmdlet, "Cannot bind parameter 'Filter' to the target. Exception setting "
                f"\"Filter\": \"\"{value}\" is not a recognized filterable property.\"",
                "ParameterBindingFailed"))
        op_kind, op, op_at = take()
        if op_kind != "op" or op not in _COMPARE:
            raise _invalid(cmdlet, text, op_at)
        val_kind, wanted, val_at = take()
        if val_kind not in ("value", "word"):
            raise _invalid(cmdlet, text, val_at)
        prop = value
        return lambda o: _matches(_values(o, prop) or [], op, wanted)

    predicate = expr()
    if pos != len(tokens):
        raise _invalid(cmdlet, text, tokens[pos][2])
    return predicate
