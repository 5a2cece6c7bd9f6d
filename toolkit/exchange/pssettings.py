"""Settings for Exchange remote PowerShell, validated before anything connects.

Kept apart from the session so the CLI can build and check them (exit 2 on a
bad URI, a missing password, Basic auth in clear) without importing pypsrp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from toolkit.errors import InputError

AUTH_METHODS = ("kerberos", "negotiate", "ntlm", "basic", "credssp", "certificate")
# Methods that cannot work without a password, and those that use one when a
# user is named (Negotiate may also use a Kerberos ticket).
PASSWORD_REQUIRED = ("basic", "credssp", "ntlm")
PASSWORD_USED = (*PASSWORD_REQUIRED, "negotiate")


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    """How to reach Exchange. Validated on creation (:class:`InputError`).

    Certificate validation is on by default (``ca_file`` is the CA bundle
    used instead of the system's); Basic auth over ``http://`` sends the password in clear and is
    refused unless ``allow_unencrypted`` (Kerberos/NTLM/Negotiate/CredSSP
    over http use WinRM message encryption instead). ``timeout`` bounds
    connecting; the HTTP read timeout is kept above the WSMan operation
    timeout, during which the server may legitimately hold a Receive.

    ``batch_size`` is the unit a read is retried in: all identities of one
    read stream through ONE pipeline (up to 50,000), and when its transport
    fails, the batch it failed in is asked again, once (a second failure of
    that batch is exit 3). It no longer sets the identities per invocation,
    so the default (500) costs nothing in round trips.
    """

    uri: str
    auth: str = "negotiate"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    allow_unencrypted: bool = False
    batch_size: int = 500
    timeout: float = 30.0
    operation_timeout: int = 20
    configuration_name: str = "Microsoft.Exchange"
    certificate_pem: str | None = None
    certificate_key_pem: str | None = None

    def __post_init__(self) -> None:
        parts = self._parts()
        https = parts.scheme == "https"
        where = "--exchange-uri"
        if self.auth not in AUTH_METHODS:
            raise InputError(f"unknown auth {self.auth!r}; use one of {', '.join(AUTH_METHODS)}",
                             "--exchange-auth")
        if self.auth in PASSWORD_REQUIRED and not (self.username and self.password):
            raise InputError(f"{self.auth} auth needs a user name and a password",
                             "--exchange-user")
        if self.auth == "basic" and not https and not self.allow_unencrypted:
            raise InputError("Basic auth over http:// sends the password in clear; use https:// "
                             "or say --allow-unencrypted", where)
        if self.auth == "certificate":
            if not https:
                raise InputError("certificate auth needs an https:// URI", where)
            if not (self.certificate_pem and self.certificate_key_pem):
                raise InputError("certificate auth needs a certificate and its key",
                                 "--exchange-auth")
        if self.batch_size < 1:
            raise InputError("batch size must be at least 1", "--batch-size")
        if self.timeout <= 0 or self.operation_timeout < 1:
            raise InputError("timeouts must be positive", "--timeout")

    def _parts(self) -> Any:
        if "@" in self.uri.split("//", 1)[-1].split("/", 1)[0]:
            # Never echo it: the part before '@' may be a password.
            raise InputError("the URI must not hold a user name or password (use "
                             "--exchange-user and the keyring)", "--exchange-uri")
        try:
            parts = urlsplit(self.uri)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise InputError(f"bad URI {self.uri!r}: {exc}", "--exchange-uri") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"expected http(s)://server/PowerShell, got {self.uri!r}",
                             "--exchange-uri")
        return parts

    def wsman_arguments(self) -> dict[str, Any]:
        """Keyword arguments for :class:`pypsrp.wsman.WSMan`."""
        parts = self._parts()
        https = parts.scheme == "https"
        verify: bool | str = not self.insecure_skip_verify
        if self.ca_file and not self.insecure_skip_verify:
            verify = self.ca_file
        path = parts.path.lstrip("/") or "PowerShell"
        if parts.query:
            path = f"{path}?{parts.query}"
        args: dict[str, Any] = dict(
            server=parts.hostname, port=parts.port or (443 if https else 80), path=path,
            ssl=https, auth=self.auth, username=self.username, password=self.password,
            cert_validation=verify, connection_timeout=math.ceil(self.timeout),
            read_timeout=max(math.ceil(self.timeout), self.operation_timeout + 10),
            operation_timeout=self.operation_timeout,
            encryption="never" if self.auth in ("basic", "certificate") else "auto",
        )
        if self.auth == "certificate":
            args.update(certificate_pem=self.certificate_pem,
                        certificate_key_pem=self.certificate_key_pem)
        return args
