"""One printed form for DNs, whichever server or export they came from."""

from __future__ import annotations

import re

from toolkit.text import has_control

_SPECIAL = ',+"\\<>;='
_HEX = re.compile(r"(?:\\[0-9A-Fa-f]{2})+")


def display_dn(dn: str) -> str:
    """RFC 4514 minimal escaping: ``\\2C`` -> ``\\,``, hex UTF-8 -> characters.

    OpenLDAP returns ``cn=Smith\\2C John``; AD and ldifde write ``CN=Smith\\,
    John``. Both are the same DN; this form makes row keys, ``check`` and
    ``--mailbox-stats`` DNs agree whichever server (or LDIF) they came from.
    """

    def repl(match: re.Match[str]) -> str:
        data = bytes.fromhex(match.group(0).replace("\\", ""))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return match.group(0)
        at_start = match.start() > 0 and dn[match.start() - 1] == "="
        at_end = match.end() == len(dn) or dn[match.end()] in ",+"
        out = []
        for n, c in enumerate(text):
            edge = (n == 0 and at_start and c in " #") or (n == len(text) - 1 and at_end
                                                            and c == " ")
            if c in _SPECIAL or edge:
                out.append("\\" + c)
            elif has_control(c):
                out.append(f"\\{ord(c):02X}")
            else:
                out.append(c)
        return "".join(out)

    return _HEX.sub(repl, dn) if "\\" in dn else dn
