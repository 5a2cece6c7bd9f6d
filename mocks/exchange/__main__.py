"""``python -m toolkit.mocks.exchange --ldif FILE [--stats FILE] [--policies FILE.json]
--port PORT [--https]``.

Prints ONE JSON line ``{"uri", "username", "password", "pid"}`` (plus
``"ca_file"`` with ``--https``) on stdout, then serves until killed, so a
benchmark or a shell script can start it, read one line and connect.

``--fault KIND[:ACTION[:CMDLET]][,skip=N][,count=N][,after]`` (repeatable)
arms an injected fault, e.g. ``--fault reset:Command:Set-Mailbox,after``
(the change is made, the answer lost) or ``--fault http-500:Receive,skip=3``;
KIND is ``http-500``, ``wsman-fault``, ``reset``, or a throttling refusal
(``throttle-winrm``, ``throttle-cmdlet``; ``wait=MS`` is the wait it names),
e.g. ``--fault throttle-cmdlet:Command:Set-Mailbox,wait=200``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from toolkit.mocks.exchange.server import InjectedFault, MockExchange, MockExchangeServer

from toolkit.errors import CcmigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mock-exchange", description=__doc__.splitlines()[0])
    parser.add_argument("--ldif", required=True, help="AD-dialect LDIF: the organisation")
    parser.add_argument("--stats", help="CSV identity,item_count for Get-MailboxStatistics")
    parser.add_argument("--policies", metavar="FILE.json",
                        help="email address policies to add to the default one "
                             "(mocks/exchange/policies.py describes the format)")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any)")
    parser.add_argument("--https", action="store_true", help="serve TLS, self-signed certificate")
    parser.add_argument("--username", default="CORP\\exadmin", help="the one user name")
    # ccmig's default --exchange-auth is negotiate: the mock accepts it (falling back to
    # NTLM, as a domain-less client does with Exchange) unless told --basic-only.
    parser.add_argument("--basic-only", action="store_true",
                        help="accept Basic auth only (default: Basic and Negotiate/NTLM)")
    parser.add_argument("--ntlm", action="store_true",
                        help="accepted for old scripts: Negotiate/NTLM is on by default")
    parser.add_argument("--no-select-object", action="store_true",
                        help="do not expose Select-Object (test a client's fallback)")
    parser.add_argument("--max-envelope-kb", type=int, default=500,
                        help="WinRM's MaxEnvelopeSizekb (500; WinRM 2.0 used 150)")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="inject a fault: KIND[:ACTION[:CMDLET]][,skip=N][,count=N][,after]"
                             "[,wait=MS]")
    args = parser.parse_args(argv)
    try:
        faults = [InjectedFault.parse(spec) for spec in args.fault]
    except ValueError as exc:
        parser.error(str(exc))
    password = os.environ.get("MOCK_EXCHANGE_PASSWORD") or None
    commands = None
    if args.no_select_object:
        from toolkit.mocks.exchange.cmdlets import IMPLEMENTATIONS

        commands = [c for c in IMPLEMENTATIONS if c != "select-object"]
    try:
        core = MockExchange.from_files(args.ldif, args.stats, args.policies,
                                       username=args.username,
                                       password=password, commands=commands,
                                       auth_methods=("basic",) if args.basic_only else ("basic", "ntlm"),
                                       max_envelope_kb=args.max_envelope_kb)
        core.faults.extend(faults)
        server = MockExchangeServer(core, port=args.port, https=args.https).start()
    except CcmigError as exc:
        print(f"mock-exchange: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mock-exchange: cannot listen on port {args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    line = {"uri": server.uri, "username": core.username, "password": core.password,
            "pid": os.getpid()}
    if server.ca_file:
        line["ca_file"] = str(server.ca_file)
    print(json.dumps(line), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (server.stop(), sys.exit(0)))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
