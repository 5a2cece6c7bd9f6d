"""Writing LDIF values safely (RFC 2849 SAFE-STRING, else base64)."""

from __future__ import annotations

import base64

_UNSAFE_START = (" ", ":", "<")


def is_safe(value: str) -> bool:
    return (
        value.isascii()
        and not value.startswith(_UNSAFE_START)
        and not value.endswith(" ")
        and all(" " <= c != "\x7f" for c in value)
    )


def ldif_line(name: str, value: str | bytes) -> str:
    """``name: value``, or ``name:: base64`` when the value is not a SAFE-STRING."""
    if isinstance(value, str) and is_safe(value):
        return f"{name}: {value}"
    data = value if isinstance(value, bytes) else value.encode("utf-8")
    return f"{name}:: {base64.b64encode(data).decode('ascii')}"
