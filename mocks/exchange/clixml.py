"""The mock's values as CLIXML: what PowerShell's remoting serializer would write.

Kept apart from :mod:`mocks.exchange.objects` (what the values are) because
this is about the wire: the type chains and serialization depth psrpcore
must be handed, and the string escaping PowerShell applies that psrpcore
leaves out for ``<ToString>``.
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

from psrpcore.types import PSList, PSNoteProperty, PSObject

from mocks.exchange.objects import ExCollection, ExEnum, ExObject, ExValue

# What PowerShell's serializer writes as _xHHHH_ (UTF-16 code units): C0 and C1
# controls, DEL, and characters outside the BMP (as their surrogate pair).
_UNSAFE = re.compile("[\u0000-\u001f\u007f-\u009f\ud800-\udfff\U00010000-\U0010ffff]")
_LITERAL_ESCAPE = re.compile("_(?=[xX])")


def clixml_text(value: str) -> str:
    """A string as PowerShell writes it into CLIXML: ``_x`` as ``_x005F_x``, then
    every control character (TAB, CR, LF and NEL included) as ``_xHHHH_``.

    psrpcore escapes ``<S>`` values this way but writes ``<ToString>`` as it
    is given; raw control characters are not even well-formed XML (pypsrp then
    hands the client the undecoded XML), so every ToString the mock sets passes
    through here.
    """
    value = _LITERAL_ESCAPE.sub("_x005F_", value)

    def units(match: re.Match[str]) -> str:
        data = match.group(0).encode("utf-16-be", "surrogatepass")
        return "".join(f"_x{data[i:i + 2].hex().upper()}_" for i in range(0, len(data), 2))

    return _UNSAFE.sub(units, value)



def to_clixml(value: Any, depth: int = 1) -> Any:
    """The psrpcore value that serialises as Exchange would send ``value``.

    ``depth`` follows PowerShell's remoting serializer (default depth 1): an
    output object's properties are written, but a complex property value
    whose depth is used up travels as its ToString string; a collection
    keeps its type chain and ``<LST>``, its items as strings; enums keep
    their type and name.
    """
    if isinstance(value, ExObject | ExValue):
        if depth <= 0:
            return value.to_string if value.to_string is not None else value.type_names[0]
        obj = PSObject()
        obj.PSObject.type_names = list(value.type_names)
        props = [PSNoteProperty(k, to_clixml(v, depth - 1)) for k, v in value.props.items()]
        if isinstance(value, ExObject) and value.extended:
            obj.PSObject.extended_properties = props
        else:
            obj.PSObject.adapted_properties = props
        if value.to_string is not None:
            obj.PSObject.to_string = clixml_text(value.to_string)
        return obj
    if isinstance(value, ExCollection):
        items = PSList([to_clixml(i, depth - 1) for i in value.items])
        items.PSObject.type_names = list(value.type_names)
        return items
    if isinstance(value, ExEnum):
        return value.enum[value.name]
    if isinstance(value, list | tuple):
        return PSList([to_clixml(i, depth - 1) for i in value])
    if depth < 0 and isinstance(value, datetime.datetime | datetime.timedelta | uuid.UUID):
        return str(value)
    return value
