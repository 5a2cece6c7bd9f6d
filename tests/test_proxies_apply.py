"""toolkit.proxies.apply with an in-memory write path: the re-check before each
write (values compared as *the same*, ``retired-in-use`` evaluated again
against the plan's exports), the journal's before/after, throttling retries
with the wait named or 30 s, and undo adding back only what is absent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from tests.orgkit import entry as ccentry
from tests.orgkit import podir
from toolkit.ccmail.directory import read_directory_file
from toolkit.errors import CcmigError, ConnectionFailure
from toolkit.exchange.psfailures import Throttled
from toolkit.proxies.apply import (
    DEFAULT_THROTTLE_WAIT,
    Pacing,
    apply_proxy_plan,
    undo_proxy_journal,
)
from toolkit.remediation.journal import read_journal

DN = "CN=Smith\\, John,OU=Staff,DC=corp,DC=example"
VALUES = ["SMTP:john@corp.example", "CCMAIL:Smith, John at PO1", "MS:CORP/HQ/JSMITH"]


class Fake:
    """An object store with scripted refusals: what a write path must handle."""

    path = "ldap"

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = {k: list(v) for k, v in values.items()}
        self.refuse: list[BaseException] = []
        self.edits: list[tuple[str, list[str], list[str]]] = []

    def can_write(self, action: dict[str, Any]) -> str | None:
        return None

    def read(self, dn: str) -> list[str] | None:
        return list(self.values[dn]) if dn in self.values else None

    def edit(self, dn: str, cmdlet: str | None, *, remove: Sequence[str] = (),
             add: Sequence[str] = ()) -> None:
        self.edits.append((dn, list(remove), list(add)))
        if self.refuse:
            raise self.refuse.pop(0)
        self.values[dn] = [v for v in self.values[dn] if v not in remove] + list(add)


def plan(values: list[str], inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"inputs": {"retire": ["CCMAIL", "MS"], "ccmail_decommissioned": True, **(inputs or {})},
            "actions": [{"id": "0001", "kind": "remove-proxy-addresses", "target": "dn:x",
                         "dn": DN, "cmdlet": "Set-Mailbox", "values": values,
                         "reason": ["retired-address"], "precondition": "", "blocked": False,
                         "blocked_reason": None}]}


def test_values_compare_as_the_same_and_are_written_as_stored(tmp_path):
    fake = Fake({DN: ["SMTP:john@corp.example", "ccmail:SMITH,  John at po1", "MS:CORP/HQ/JSMITH"]})
    out = apply_proxy_plan(plan(VALUES[1:]), fake, yes=True, journal_path=str(tmp_path / "j"))
    assert [o.status for o in out] == ["applied"]
    # the delete names the stored value, never the plan's spelling of it
    assert fake.edits == [(DN, ["ccmail:SMITH,  John at po1", "MS:CORP/HQ/JSMITH"], [])]
    (e,) = read_journal(tmp_path / "j").entries
    assert e.change["before"] == ["SMTP:john@corp.example", "ccmail:SMITH,  John at po1",
                                  "MS:CORP/HQ/JSMITH"]
    records = [json.loads(line) for line in (tmp_path / "j").read_text().splitlines()]
    done = next(r for r in records if r["type"] == "done")
    assert done["after"] == ["SMTP:john@corp.example"] and done["reappeared"] == []


def test_a_value_now_kept_by_retired_in_use_skips(tmp_path):
    fake = Fake({DN: list(VALUES)})
    po = tmp_path / "PO1.txt"
    po.write_text(podir("PO1", ccentry("Smith, John", "L")), encoding="utf-8")
    entries = list(read_directory_file(f"PO1={po}").entries)
    out = apply_proxy_plan(plan(VALUES[1:], {"ccmail_decommissioned": False}), fake, yes=True,
                           journal_path=str(tmp_path / "j"), entries=entries)
    assert [o.status for o in out] == ["skipped"]
    assert "retired-in-use" in out[0].detail
    assert fake.edits == []
    # the same without that entry in the exports: written
    out = apply_proxy_plan(plan(VALUES[1:]), fake, yes=True, journal_path=str(tmp_path / "j"),
                           entries=[])
    assert [o.status for o in out] == ["applied"]


def test_dry_run_checks_as_yes_does_and_writes_nothing(tmp_path):
    fake = Fake({DN: list(VALUES)})
    out = apply_proxy_plan(plan(VALUES[1:]), fake, yes=False, journal_path=str(tmp_path / "j"))
    assert [o.status for o in out] == ["would-apply"]
    assert repr("MS:CORP/HQ/JSMITH") in out[0].detail
    fake.values[DN].remove("MS:CORP/HQ/JSMITH")
    out = apply_proxy_plan(plan(VALUES[1:]), fake, yes=False, journal_path=str(tmp_path / "j"))
    assert [o.status for o in out] == ["skipped"]
    assert fake.edits == [] and not (tmp_path / "j").exists()


def test_missing_object_is_skipped_saying_so(tmp_path):
    out = apply_proxy_plan(plan(VALUES[1:]), Fake({}), yes=True, journal_path=str(tmp_path / "j"))
    assert out[0].status == "skipped" and "not found" in out[0].detail


def test_throttling_waits_what_it_names_else_30s_and_nothing_else_is_retried(tmp_path):
    fake = Fake({DN: list(VALUES)})
    fake.refuse = [Throttled("busy", 2.5), Throttled("busy", None)]
    slept: list[float] = []
    out = apply_proxy_plan(plan(VALUES[1:]), fake, yes=True, journal_path=str(tmp_path / "j"),
                           pacing=Pacing(3, sleep=slept.append))
    assert [o.status for o in out] == ["applied"]
    assert slept == [2.5, DEFAULT_THROTTLE_WAIT]
    assert len(fake.edits) == 3
    states = [e.state for e in read_journal(tmp_path / "j").entries]
    assert states == ["failed", "failed", "done"]  # each refused attempt journalled, not run
    # a refusal that is not throttling: reported once, never sent again
    fake2 = Fake({DN: list(VALUES)})
    fake2.refuse = [CcmigError("no such value")]
    out = apply_proxy_plan(plan(VALUES[1:]), fake2, yes=True, journal_path=str(tmp_path / "k"),
                           pacing=Pacing(3, sleep=slept.append))
    assert [o.status for o in out] == ["failed"] and len(fake2.edits) == 1
    # a lost answer: exit 3, sent once, settled by the next run from the object
    fake3 = Fake({DN: list(VALUES)})
    fake3.refuse = [ConnectionFailure("reset")]
    with pytest.raises(ConnectionFailure, match="outcome unknown"):
        apply_proxy_plan(plan(VALUES[1:]), fake3, yes=True, journal_path=str(tmp_path / "l"))
    assert len(fake3.edits) == 1
    fake3.values[DN] = ["SMTP:john@corp.example"]  # it had been made
    out = apply_proxy_plan(plan(VALUES[1:]), fake3, yes=True, journal_path=str(tmp_path / "l"))
    assert [o.status for o in out] == ["already-done"] and len(fake3.edits) == 1


def test_undo_adds_back_only_what_is_still_absent(tmp_path):
    fake = Fake({DN: list(VALUES)})
    apply_proxy_plan(plan(VALUES[1:]), fake, yes=True, journal_path=str(tmp_path / "j"))
    fake.values[DN].append("ms:corp/hq/jsmith")  # someone put one back (as the same)
    dry = undo_proxy_journal(str(tmp_path / "j"), lambda path: fake, yes=False)
    assert [o.status for o in dry] == ["would-revert"]
    assert "MS:" not in dry[0].detail and "CCMAIL:Smith, John at PO1" in dry[0].detail
    out = undo_proxy_journal(str(tmp_path / "j"), lambda path: fake, yes=True)
    assert [o.status for o in out] == ["reverted"]
    assert fake.edits[-1] == (DN, [], ["CCMAIL:Smith, John at PO1"])
    assert sorted(fake.values[DN]) == sorted(["SMTP:john@corp.example", "ms:corp/hq/jsmith",
                                              "CCMAIL:Smith, John at PO1"])


def test_undo_sends_a_throttled_add_again_after_the_wait(tmp_path):
    fake = Fake({DN: list(VALUES)})
    apply_proxy_plan(plan(VALUES[1:]), fake, yes=True, journal_path=str(tmp_path / "j"))
    fake.refuse = [Throttled("busy", 4.0)]
    slept: list[float] = []
    out = undo_proxy_journal(str(tmp_path / "j"), lambda path: fake, yes=True,
                             pacing=Pacing(3, sleep=slept.append))
    assert [o.status for o in out] == ["reverted"] and slept == [4.0]
    assert sorted(fake.values[DN]) == sorted(VALUES)


def test_already_done_only_for_what_this_journal_removed_from_this_object(tmp_path):
    other = "CN=Other,OU=Staff,DC=corp,DC=example"
    fake = Fake({DN: list(VALUES), other: list(VALUES)})
    moved = plan(VALUES[1:])
    moved["actions"][0]["dn"] = other
    apply_proxy_plan(moved, fake, yes=True, journal_path=str(tmp_path / "j"))
    fake.values[DN] = ["SMTP:john@corp.example"]  # gone, but not by this journal's write
    out = apply_proxy_plan(plan(VALUES[1:]), fake, yes=True, journal_path=str(tmp_path / "j"))
    assert [o.status for o in out] == ["skipped"]
