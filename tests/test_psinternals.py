"""pypsrp's internals the PowerShell adapter relies on (toolkit/exchange/psinternals.py).

These fail when an installed pypsrp is not the one the adapter was written
for: the release is pinned, and every private attribute, internal object,
signature and log text the adapter uses must still exist and behave as
assumed. (Whole-protocol behaviour against the mock is in test_powershell.py
and test_faults_powershell.py.)
"""

from __future__ import annotations

import inspect
import logging
import tomllib
from importlib.metadata import version
from pathlib import Path

import pypsrp.wsman
import pytest
from pypsrp.complex_objects import ErrorRecord, PSInvocationState
from pypsrp.messages import PipelineInput
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.shell import SignalCode, WinRS
from pypsrp.wsman import WSMan

from toolkit.exchange import psinternals
from toolkit.exchange.pssettings import ExchangeSettings

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_pypsrp_is_the_pinned_one():
    assert version("pypsrp") in psinternals.WRITTEN_FOR
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [d for d in deps if d.startswith("pypsrp")]
    assert pin in {f"pypsrp=={v}" for v in psinternals.WRITTEN_FOR}


@pytest.fixture
def pool() -> RunspacePool:
    """A pool as the adapter builds one (nothing is sent until it is opened)."""
    settings = ExchangeSettings("http://ex01.corp.example/PowerShell", auth="ntlm", username="u",
                                password="p")
    return RunspacePool(WSMan(**settings.wsman_arguments()), configuration_name="Microsoft.Exchange")


def test_invocation_states_are_the_numbers_used():
    assert PSInvocationState.RUNNING == psinternals.RUNNING
    assert PSInvocationState.FAILED == psinternals.FAILED


def test_fragment_size_follows_the_envelope(pool):
    wsman = pool.connection
    assert isinstance(pool._fragmenter.max_size, int)
    psinternals.fit_fragments(wsman, pool, 150 * 1024)
    assert wsman.max_envelope_size == 150 * 1024
    assert wsman.max_payload_size < 150 * 1024
    assert pool._fragmenter.max_size == wsman.max_payload_size - psinternals.FRAGMENT_HEADER
    # every fragment pypsrp cuts then fits the envelope, header included
    inputs = [PipelineInput("x" * 40_000) for _ in range(10)]
    fragments = pool._fragmenter.fragment_multiple(inputs, pool.id, pool.id)
    assert len(fragments) > 1 and all(len(f) <= wsman.max_payload_size for f in fragments)


def test_a_pipeline_is_released_by_its_command_id(pool, monkeypatch):
    ps = PowerShell(pool)
    assert ps._command_id is None and ps.runspace_pool is pool
    assert isinstance(pool.pipelines, dict)
    assert list(inspect.signature(WinRS.signal).parameters)[:3] == ["self", "code", "command_id"]
    sent = []
    monkeypatch.setattr(pool.shell, "signal", lambda code, command_id: sent.append((code, command_id)))
    ps._command_id = "1a2b"
    psinternals.terminate(ps)
    assert sent == [(SignalCode.TERMINATE, "1A2B")]
    pool.pipelines[ps.id] = ps
    psinternals.forget(ps)
    assert ps.id not in pool.pipelines


def test_the_pipeline_attributes_the_receive_loop_reads(pool):
    ps = PowerShell(pool)
    assert ps.output == [] and ps.streams.error == [] and ps.streams.warning == []
    assert "input" in inspect.signature(PowerShell.begin_invoke).parameters
    assert callable(ps.poll_invoke) and callable(ps.stop) and callable(ps.close)


def test_message_encryption_is_seen_on_the_transport():
    over_http = ExchangeSettings("http://ex01/PowerShell", auth="ntlm", username="u", password="p")
    assert psinternals.encrypts_messages(WSMan(**over_http.wsman_arguments()))
    basic = ExchangeSettings("https://ex01/PowerShell", auth="basic", username="u", password="p")
    assert not psinternals.encrypts_messages(WSMan(**basic.wsman_arguments()))


def test_the_transport_can_be_replaced(pool):
    class Fake:
        def send(self, data: bytes) -> bytes:
            return b""

    fake = Fake()
    psinternals.use_transport(pool.connection, fake)
    assert pool.connection.transport is fake


def test_error_records_carry_their_display_string():
    record = ErrorRecord()
    assert not psinternals.has_display_string(record)
    record._to_string = "The operation couldn't be performed."
    assert psinternals.has_display_string(record) and str(record) == record._to_string


def test_pypsrp_never_retries_a_request_by_itself():
    """Writes must be sent once: pypsrp's reconnection retries must stay off."""
    assert inspect.signature(WSMan.__init__).parameters["reconnection_retries"].default == 0
    assert "reconnection_retries" not in ExchangeSettings("https://ex01/PowerShell",
                                                          auth="kerberos").wsman_arguments()


def test_the_log_lines_quieted_are_pypsrps():
    source = inspect.getsource(pypsrp.wsman)
    assert all(text in source for text in psinternals.PYPSRP_NOISE)
    psinternals.quiet_pypsrp_logs()
    psinternals.quiet_pypsrp_logs()
    logger = logging.getLogger("pypsrp.wsman")
    assert logger.filters.count(psinternals._QUIET) == 1
    noisy = logger.makeRecord("pypsrp.wsman", logging.ERROR, __file__, 1,
                              "%s during WSMan request - attempt %d", ("ConnectionError", 1), None)
    assert not logger.filter(noisy)
