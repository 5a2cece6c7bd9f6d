"""The one batched-read helper (psreads.Reads.batched) and its retry policy, without a server.

Both batched reads (Get-Recipient, Get-MailboxStatistics) go through it:
batch, place, ask the unplaced one at a time, retry a batch once or fail.
The end-to-end proofs against the mock are test_powershell.py and
test_faults_powershell.py; these pin the policy itself with scripted pipelines.
"""

from __future__ import annotations

import pytest

from toolkit.errors import ConnectionFailure
from toolkit.exchange.psfailures import ErrorInfo, Lost
from toolkit.exchange.psmatch import place
from toolkit.exchange.pspipeline import Invocation
from toolkit.exchange.psreads import Batch, Reads
from toolkit.exchange.pssession import Session
from toolkit.exchange.pssettings import ExchangeSettings

SETTINGS = ExchangeSettings("https://ex01/PowerShell", auth="kerberos", batch_size=2)


class Scripted(Reads):
    """Reads whose pipelines answer from a script: one entry per pipeline run."""

    def __init__(self, script):
        super().__init__(Session(SETTINGS))
        self.session.recover = lambda: None  # no pool to replace
        self.script = list(script)
        self.inputs: list[list[str]] = []
        self.alone: list[str] = []

    def _read(self, commands, input, select, convert):
        self.inputs.append(list(input or []))
        output, errors, lost, *retryable = self.script.pop(0)
        got = Invocation([convert(o) for o in output], list(errors), [])
        return got, (Lost(ConnectionFailure(lost), retryable != [False]) if lost else None)

    def read(self, items):
        def placing(b: Batch):
            return place(b.items, b.output, b.errors, lambda i, o: o == i.upper(), b.complete), True

        def alone(item):
            self.alone.append(item)
            return (item.upper() + "!", None)

        return self.batched("Get-Recipient", items, lambda x: x, ("Name",), str.upper, placing,
                            alone, lambda item, b: (None, "unanswered"))


def test_a_complete_batch_is_placed_and_only_the_unsure_asked_alone():
    gone = ErrorInfo("The operation couldn't be performed because object 'c' couldn't be found.")
    reads = Scripted([(["a", "x", "d"], [gone], None)])  # "b" answered by something else
    assert reads.read(["a", "b", "c", "d"]) == [("A", None), ("B!", None), (None, gone.message),
                                                  ("D", None)]
    assert reads.inputs == [["a", "b", "c", "d"]] and reads.alone == ["b"]
    assert reads.session.retries == 0


def test_a_lost_pipeline_keeps_what_it_placed_and_asks_the_rest_again_once():
    reads = Scripted([(["a", "b"], [], "connection reset"),  # lost in batch 2 (c, d)
                      (["c", "d"], [], None)])
    assert reads.read(["a", "b", "c", "d"]) == [("A", None), ("B", None), ("C", None), ("D", None)]
    assert reads.inputs == [["a", "b", "c", "d"], ["c", "d"]]  # nothing placed is asked twice
    assert reads.session.retries == 1 and reads.alone == []


def test_failures_in_two_batches_are_survived_but_the_same_batch_twice_is_exit_3():
    survived = Scripted([(["a"], [], "reset"), (["b", "c"], [], "reset"), (["d"], [], None)])
    assert [a for a, _ in survived.read(["a", "b", "c", "d"])] == ["A", "B", "C", "D"]
    assert survived.session.retries == 2
    twice = Scripted([(["a"], [], "HTTP 500"), ([], [], "HTTP 500")])
    with pytest.raises(ConnectionFailure) as info:
        twice.read(["a", "b", "c", "d"])
    assert str(info.value) == "Get-Recipient failed again for identities 1-2 (batch 1): HTTP 500"
    assert info.value.exit_code == 3


def test_a_failure_that_is_not_worth_retrying_is_not_retried():
    reads = Scripted([([], [], "authentication failed", False)])
    with pytest.raises(ConnectionFailure, match=r"^Get-Recipient failed for identities 1-2 \(batch 1\)"):
        reads.read(["a", "b"])
    assert reads.session.retries == 0
