"""Remote PowerShell in ``scripts/bench``: WSMan requests, bytes and time
to read many identities' EmailAddresses and item counts from the mock
Exchange endpoint, batched against one request per identity.

Why apart: it measures ccmig's session in this process against
``toolkit.mocks.exchange``, not a command's process tree, and takes nothing
from the LDAP measurements but the organisation they built
(``bench_measurements.Setup``) and the LDAP audit's rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bench_measurements import Setup


def powershell(s: Setup, audit_json: str, identities: int, single: int, batches: list[int],
               log: Callable[[str], None]) -> dict[str, Any]:
    """WSMan requests, bytes and time to read EmailAddresses and item counts of
    mailboxes (DNs from an audit's rows) through ccmig's session - one streamed,
    projected pipeline per read, at each ``batches`` size (``--batch-size``: the
    unit a failed read is retried in) - versus one invocation per identity and
    read (``one_by_one``, extrapolated), and versus whole objects from an
    endpoint without Select-Object (``unprojected``, on ``single`` identities).
    The mock's objects carry Exchange 2010's full property sets (about 100 for
    Get-Recipient, 45 for Get-MailboxStatistics): projection keeps them off the wire.
    """
    from toolkit.mocks.exchange import MockExchange, MockExchangeServer, Organisation
    from toolkit.mocks.exchange.cmdlets import IMPLEMENTATIONS

    from toolkit.exchange import psobjects as pso
    from toolkit.exchange.powershell import (
        ADDRESS_PROPERTIES,
        STATS_PROPERTIES,
        ExchangeSession,
        ExchangeSettings,
    )

    with open(audit_json, encoding="utf-8") as fh:
        dns = [r["dn"] for r in json.load(fh) if r["kind"] == "mailbox"]
    ids = dns[:identities]
    single_ids = dns[:single]
    t = time.perf_counter()
    # Item counts are set directly (a stats file would be matched line by line).
    org = Organisation.from_files(s.org / "org.ldif")
    wanted = set(ids)
    for n, entry in enumerate(e for e in org.entries if e.dn in wanted):
        entry.item_count = 100 + n
    core = MockExchange(org, password="bench-pw")
    bare = MockExchange(org, password="bench-pw",
                        commands=[c for c in IMPLEMENTATIONS if c != "select-object"])
    load = time.perf_counter() - t
    out: dict[str, Any] = {"mock_load_s": round(load, 2)}

    def batched(session: ExchangeSession, chosen: list[str]) -> tuple[int, int]:
        addresses = session.email_addresses(chosen)
        stats = session.mailbox_stats(chosen)
        return (sum(1 for a in addresses if a.found),
                sum(1 for x in stats if x.item_count is not None))

    def one_by_one(session: ExchangeSession, chosen: list[str]) -> tuple[int, int]:
        found = counted = 0
        for dn in chosen:  # what a naive client does: one invocation per identity and read
            got = session.run("Get-Recipient", {"Identity": dn}, select=ADDRESS_PROPERTIES)
            found += len(got.output) == 1 and pso.prop(got.output[0], "EmailAddresses") is not None
            got = session.run("Get-MailboxStatistics", {"Identity": dn}, select=STATS_PROPERTIES)
            counted += bool(got.output and pso.integer(pso.prop(got.output[0], "ItemCount"))
                            is not None)
        return found, counted

    plan = [(f"batch_{size}", core, size, ids, batched) for size in batches]
    plan += [("one_by_one", core, 500, single_ids, one_by_one),
             ("unprojected", bare, 500, single_ids, batched)]
    for label, mock, size, chosen, read in plan:
        with MockExchangeServer(mock) as srv:
            settings = ExchangeSettings(srv.uri, auth="basic", username=mock.username,
                                        password="bench-pw", allow_unencrypted=True,
                                        timeout=600, batch_size=size)
            with ExchangeSession(settings) as session:
                mock.actions.clear()
                before, sent = srv.requests, mock.bytes_out
                t = time.perf_counter()
                found, counted = read(session, chosen)
                seconds = time.perf_counter() - t
                requests = srv.requests - before
                wire = mock.bytes_out - sent
                actions = dict(mock.actions)
        out[label] = {
            "identities": len(chosen), "batch_size": size,
            "requests": requests, "seconds": round(seconds, 3),
            "requests_per_1000": round(requests * 1000 / max(len(chosen), 1), 2),
            "response_bytes_per_identity": round(wire / max(len(chosen), 1)),
            "addresses_found": found, "item_counts": counted, "wsman_actions": actions,
        }
        log(f"  powershell {label:11s} {len(chosen):6d} identities  {requests:6d} requests "
            f"{seconds:8.2f} s  {actions}")
    single_run = out["one_by_one"]
    scale = len(ids) / max(single_run["identities"], 1)
    single_run["extrapolated_to"] = len(ids)
    single_run["extrapolated_requests"] = round(single_run["requests"] * scale)
    single_run["extrapolated_seconds"] = round(single_run["seconds"] * scale, 1)
    return out
