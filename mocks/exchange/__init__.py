"""A mock Exchange remote-PowerShell endpoint (WSMan + PSRP over HTTP).

An unmodified pypsrp client talks to it as to ``http(s)://server/PowerShell``
with configuration ``Microsoft.Exchange``. The organisation comes from an
AD-dialect LDIF (the same file ``--ldif`` reads, DNs kept exactly) and an
optional ``identity,item_count`` CSV, so a test can compare what the toolkit
reads over PowerShell with what it reads from the file.

Layers, one module each: :mod:`.organisation` (the in-memory directory and
Exchange's identity resolution), :mod:`.policies` (email address policies and
re-stamping), :mod:`.objects` and :mod:`.enums` (Exchange-shaped objects and
their CLIXML form), :mod:`.cmdlets` (cmdlet semantics and parameter binding),
:mod:`.addressing` (the ``Set-*`` address edits and ``Get-EmailAddressPolicy``),
:mod:`.psrp` (runspace pool and pipelines on psrpcore's server side),
:mod:`.wsman` (the SOAP envelope), :mod:`.server` (HTTP, auth, request
counter), :mod:`.transport` (the same endpoint without a socket).
"""

from toolkit.mocks.exchange.organisation import Organisation
from toolkit.mocks.exchange.server import MockExchange, MockExchangeServer
from toolkit.mocks.exchange.transport import MockTransport

__all__ = ["MockExchange", "MockExchangeServer", "MockTransport", "Organisation"]
