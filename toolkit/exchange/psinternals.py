"""Every place the PowerShell adapter relies on pypsrp beyond its documented API.

Why a module of its own: pypsrp offers no public way to do a few things the
adapter must do - shrink the PSRP fragment size to the server's envelope,
release a broken pipeline by its command id, tell an error record that
carries a display string, know whether WinRM message encryption is in use,
quiet log lines the adapter reports itself. Those touch private attributes
(``RunspacePool._fragmenter``, ``PowerShell._command_id``,
``ErrorRecord._to_string``) or internal objects (the HTTP transport, the
WinRS shell, pypsrp's log wording), which a pypsrp release may change
without notice. So they are all here, pypsrp is pinned in ``pyproject.toml``
to the release this was written against (:data:`WRITTEN_FOR`), and
``tests/test_psinternals.py`` checks that every attribute and signature used
here still exists and behaves as assumed.

pypsrp is imported lazily (inside the functions): the CLI and the settings
checks must not pay for loading it.
"""

from __future__ import annotations

import logging
from typing import Any

# The pypsrp release this module was written against; pyproject.toml pins it.
WRITTEN_FOR = ("0.9.1",)

# pypsrp.complex_objects.PSInvocationState values (plain ints there).
RUNNING, FAILED = 1, 5

# Bytes of the PSRP fragment header (object id 8, fragment id 8, flags 1,
# length 4) that pypsrp does not subtract from the envelope's payload.
FRAGMENT_HEADER = 21

# pypsrp's own log lines for failures the adapter reports on one line itself.
PYPSRP_NOISE = ("Failed to parse WSManFault message", "during WSMan request",
                "during initial authentication request")


class _Reported(logging.Filter):
    """Drop pypsrp's own reports of failures the adapter reports itself (an ERROR
    for every non-WSMan HTTP error, a traceback for every timeout)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in str(record.msg) for text in PYPSRP_NOISE)


_QUIET = _Reported()


def quiet_pypsrp_logs() -> None:
    """Install the filter on pypsrp's WSMan logger (once; idempotent)."""
    logger = logging.getLogger("pypsrp.wsman")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)


def use_transport(wsman: Any, transport: Any) -> None:
    """Replace pypsrp's HTTP transport (tests: an object with ``send(bytes) -> bytes``)."""
    wsman.transport = transport


def fit_fragments(wsman: Any, pool: Any, limit: int) -> None:
    """Make requests fit an envelope of ``limit`` bytes.

    pypsrp updates ``WSMan.max_payload_size`` publicly, but the runspace
    pool's fragmenter keeps the size it was opened with (pypsrp itself sets
    ``_fragmenter.max_size`` only after its own upgrade to 500 KB).
    """
    wsman.update_max_payload_size(limit)
    pool._fragmenter.max_size = wsman.max_payload_size - FRAGMENT_HEADER


def encrypts_messages(wsman: Any) -> bool:
    """Is WinRM message encryption (NTLM/Kerberos/CredSSP over http) in use?

    Its security context belongs to the connection: when that breaks, only
    a new session (a new handshake) can talk to the server again.
    """
    return bool(getattr(getattr(wsman, "transport", None), "wrap_required", False))


def terminate(ps: Any) -> None:
    """Signal Terminate for a pipeline whose own ``close()`` cannot be trusted
    (its connection broke), by the command id the server knows it by."""
    from pypsrp.shell import SignalCode

    ps.runspace_pool.shell.signal(SignalCode.TERMINATE, str(ps._command_id or ps.id).upper())


def forget(ps: Any) -> None:
    """Drop a pipeline from its pool's table (pypsrp's own ``close()`` does so)."""
    ps.runspace_pool.pipelines.pop(ps.id, None)


def has_display_string(record: Any) -> bool:
    """Does a deserialized error record carry its ToString (the message PowerShell shows)?"""
    return bool(getattr(record, "_to_string", None))
