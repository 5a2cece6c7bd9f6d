"""Build small organisations in a few lines and audit them through the CLI.

Tests describe objects and cc:Mail entries as Python values; this module
writes real LDIF and directory files, so every test exercises the readers too.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

from toolkit.cli.main import cli


def _safe(value: str) -> bool:
    return (
        value.isascii()
        and not value.startswith((" ", ":", "<"))
        and not value.endswith(" ")
        and all(c >= " " and c != "\x7f" for c in value)
    )


def attr_line(name: str, value: str | bytes) -> str:
    if isinstance(value, bytes) or not _safe(value):
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        return f"{name}:: {base64.b64encode(data).decode()}"
    return f"{name}: {value}"


@dataclass
class Obj:
    dn: str
    attrs: list[tuple[str, str | bytes]] = field(default_factory=list)

    def ldif(self) -> str:
        lines = [attr_line("dn", self.dn)] + [attr_line(k, v) for k, v in self.attrs]
        return "\n".join(lines) + "\n"


def _dn(cn: str) -> str:
    return f"CN={cn.replace(',', chr(92) + ',')},OU=Staff,DC=corp,DC=example"


def mailbox(cn: str, *proxies: str, target: str | None = None, **extra: str) -> Obj:
    attrs: list[tuple[str, str | bytes]] = [("objectClass", c) for c in
                                            ("top", "person", "organizationalPerson", "user")]
    attrs += [("cn", cn), ("homeMDB", "CN=DB1,CN=EXSRV01"),
              ("mailNickname", extra.pop("nick", cn.replace(", ", ".").replace(" ", "")))]
    attrs += [("proxyAddresses", p) for p in proxies]
    if target:
        attrs.append(("targetAddress", target))
    attrs += list(extra.items())
    return Obj(_dn(cn), attrs)


def contact(cn: str, target: str | None, *proxies: str) -> Obj:
    attrs: list[tuple[str, str | bytes]] = [("objectClass", c) for c in
                                            ("top", "person", "organizationalPerson", "contact")]
    attrs.append(("cn", cn))
    if target:
        attrs.append(("targetAddress", target))
    attrs += [("proxyAddresses", p) for p in proxies]
    return Obj(_dn(cn), attrs)


def mail_user(cn: str, target: str, *proxies: str) -> Obj:
    attrs: list[tuple[str, str | bytes]] = [("objectClass", c) for c in ("top", "user")]
    attrs += [("cn", cn), ("targetAddress", target)]
    attrs += [("proxyAddresses", p) for p in proxies]
    return Obj(_dn(cn), attrs)


def group(cn: str, *proxies: str) -> Obj:
    attrs: list[tuple[str, str | bytes]] = [("objectClass", "top"), ("objectClass", "group"),
                                            ("cn", cn)]
    attrs += [("proxyAddresses", p) for p in proxies]
    return Obj(_dn(cn), attrs)


def entry(name: str, locn: str = "L", addr: str | None = None, messages: int | None = None,
          comments: str | None = None) -> str:
    lines = [f"Name: {name}", f"Locn: {locn}"]
    if addr is not None:
        lines.append(f"Addr: {addr}")
    if comments is not None:
        lines.append(f"Comments: {comments}")
    if messages is not None:
        lines.append(f"Messages: {messages}")
    return "\n".join(lines)


def podir(po: str, *entries: str) -> str:
    return "\n\n".join([f"Post office: {po}", *entries]) + "\n"


CONNECTOR = entry("EXCH", "P", comments="MSExchangeCCMC EXSRV01")


@dataclass
class Org:
    """An organisation on disk: ``org.ldif`` plus one file per PO."""

    root: Path
    objects: list[Obj] = field(default_factory=list)
    dirs: dict[str, str] = field(default_factory=dict)

    def write(self) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        text = "version: 1\n\n" + "\n".join(o.ldif() for o in self.objects)
        (self.root / "org.ldif").write_text(text, encoding="utf-8")
        args = ["--ldif", str(self.root / "org.ldif")]
        for po, content in self.dirs.items():
            path = self.root / f"{po}.txt"
            path.write_text(content, encoding="utf-8")
            args += ["--ccmail-dir", str(path)]
        return args


def ccmig(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def audit(org: Org, *extra: str, exchange_po: str = "EXCH") -> list[dict]:
    args = ["audit", *org.write(), "--format", "json", "--fail-on", "never"]
    if exchange_po:
        args += ["--exchange-po", exchange_po]
    code, out, err = ccmig(*args, *extra)
    assert code == 0, err
    return json.loads(out)


def by_name(rows: list[dict]) -> dict[str, dict]:
    """Rows keyed by the CN in their DN (or the cc:Mail key for cc:Mail users)."""
    out = {}
    for row in rows:
        if row["dn"]:
            out[row["dn"].split(",OU=")[0][3:].replace("\\,", ",")] = row
        else:
            out[row["key"]] = row
    return out


def codes(row: dict) -> list[str]:
    return [f["code"] for f in row["findings"]]
