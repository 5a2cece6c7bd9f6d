"""The library API a runbook imports, with the in-memory cc:Mail mock swapped in."""

from __future__ import annotations

import pytest
from toolkit.mocks.ccmail import MockDirectory

from tests.orgkit import Org, mailbox
from toolkit.audit import AuditInputs, ldif_source, run_audit
from toolkit.errors import InputError
from toolkit.exchange.dialects import recipients
from toolkit.exchange.ldif import read_ldif
from toolkit.model import Dialect


def _org(tmp_path) -> Org:
    org = Org(tmp_path / "org")
    org.objects = [
        mailbox("Smith, John", "SMTP:js@corp.example", "CCMAIL:Smith, John at EXCH",
                "ccmail:Smith, John at PO1"),
        mailbox("Doe, Jane", "CCMAIL:Doe, Jane at EXCH", "ccmail:Doe, Jane at PO2"),
    ]
    org.write()
    return org


def statuses(result) -> dict[str, str]:
    return {row.ccmail_name: row.status for row in result.rows}


def test_kb_fix_on_the_mock_directory(tmp_path, ccmig_ccmail_directory: MockDirectory):
    org = _org(tmp_path)
    cc = ccmig_ccmail_directory
    cc.add("PO1", "Smith, John", messages=3)
    cc.add("PO2", "Doe, Jane", "L")
    cc.add("PO2", "Kept, Karl", "L")
    inputs = AuditInputs(source=ldif_source(org.root / "org.ldif"), directory=cc)
    before = run_audit(inputs)
    assert before.exchange_pos == ["EXCH"]  # inferred from the connector's P entry
    assert statuses(before) == {"Smith, John": "stale-ccmail-mailbox",
                                "Doe, Jane": "stale-ccmail-mailbox",
                                "Kept, Karl": "not-migrated"}

    # KB Q253306: delete the users from their post offices ...
    assert [e.file_po for e in cc.delete("Smith, John")] == ["PO1"]
    cc.delete("Doe, Jane", po="PO2")
    middle = run_audit(inputs)
    assert statuses(middle)["Smith, John"] == "awaiting-dirsync"
    assert {r.route for r in middle.rows if r.dn} == {"undeliverable"}

    # ... and the next dirsync creates entries pointing at Exchange.
    found = list(recipients(read_ldif(org.root / "org.ldif"), Dialect.AD))
    report = cc.dirsync(found, ["EXCH"], connector_po="HUBPO")
    assert sorted(e.name for e in report.added) == ["Doe, Jane", "Smith, John"]
    assert all((e.locn, e.addr, e.file_po) == ("r", "EXCH", "HUBPO") for e in report.added)
    after = run_audit(inputs)
    assert statuses(after) == {"Smith, John": "complete", "Doe, Jane": "complete",
                               "Kept, Karl": "not-migrated"}
    assert {r.route for r in after.rows if r.dn} == {"exchange"}


def test_dirsync_refuses_a_name_that_still_exists(tmp_path, ccmig_ccmail_directory):
    org = _org(tmp_path)
    ccmig_ccmail_directory.add("PO1", "SMITH, john")
    found = list(recipients(read_ldif(org.root / "org.ldif"), Dialect.AD))
    report = ccmig_ccmail_directory.dirsync(found, ["EXCH"], connector_po="HUBPO")
    assert [e.name for e in report.added] == ["Doe, Jane"]
    assert len(report.refused) == 1 and "Smith, John" in report.refused[0]
    assert "14013" in report.refused[0]


def test_dirsync_deletes_entries_of_names_gone_from_exchange(tmp_path, ccmig_ccmail_directory):
    org = _org(tmp_path)
    ccmig_ccmail_directory.add("HUBPO", "Gone, Gary", "r", "EXCH")
    ccmig_ccmail_directory.add("PO1", "Local, Lou", "L")
    found = list(recipients(read_ldif(org.root / "org.ldif"), Dialect.AD))
    report = ccmig_ccmail_directory.dirsync(found, ["EXCH"], connector_po="HUBPO")
    assert [e.name for e in report.deleted] == ["Gone, Gary"]
    assert [e.name for e in ccmig_ccmail_directory.find("Local, Lou")] == ["Local, Lou"]


def test_no_exchange_po_is_an_input_error(tmp_path):
    org = _org(tmp_path)
    inputs = AuditInputs(source=ldif_source(org.root / "org.ldif"),
                         directory=MockDirectory.build(PO1=["Smith, John"]))
    with pytest.raises(InputError, match="--exchange-po"):
        run_audit(inputs)
