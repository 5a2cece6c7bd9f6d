"""The PowerShell session's lifecycle: one runspace pool, opened, fitted, replaced, closed.

Why a layer of its own: every read and write needs an open pool, and after
a transport failure the pool may be dead (a server restart, or NTLM/Kerberos
message encryption whose security context belonged to the broken
connection). The pipeline layer only marks the session :attr:`suspect`; the
session replaces the pool before the next use (:meth:`recover`), so no
caller has to know how a pool dies or is reborn.

The envelope size is read once per pool (WinRM's MaxEnvelopeSizekb) so no
request is ever larger than the server accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from toolkit.errors import InputError
from toolkit.exchange import psinternals
from toolkit.exchange.psfailures import failure, one_line
from toolkit.exchange.pssettings import ExchangeSettings

log = logging.getLogger(__name__)

Commands = Sequence[tuple[str, Sequence[tuple[str, Any]]]]

_WSMAN_CONFIG = "{http://schemas.microsoft.com/wbem/wsman/1/config}"


class Session:
    """One runspace pool on Exchange's endpoint, (re)opened on demand.

    ``transport`` replaces pypsrp's HTTP transport (an object with
    ``send(bytes) -> bytes``, ``endpoint`` and ``close()``): tests use it to
    run the full protocol without a socket.
    """

    def __init__(self, settings: ExchangeSettings, transport: Any = None) -> None:
        self.settings = settings
        self._transport = transport
        self.wsman: Any = None
        self.pool: Any = None
        self.suspect = False  # the pool may be dead: open a new one before the next use
        self.select: bool | None = None  # Select-Object available? None: not yet known
        self.retries = 0  # reads asked again after a transport failure (for tests and logs)
        psinternals.quiet_pypsrp_logs()

    def open(self) -> None:
        """Open the pool (no-op when open). InputError for a setup problem, else exit 3."""
        if self.pool is not None:
            return
        from pypsrp.powershell import RunspacePool
        from pypsrp.wsman import WSMan

        try:
            wsman = WSMan(**self.settings.wsman_arguments())
        except (ValueError, ImportError) as exc:
            raise InputError(one_line(str(exc)), "--exchange-auth") from None
        if self._transport is not None:
            psinternals.use_transport(wsman, self._transport)
        pool = RunspacePool(wsman, configuration_name=self.settings.configuration_name)
        try:
            pool.open()
        except KeyboardInterrupt:
            raise
        except ImportError as exc:  # e.g. CredSSP without requests-credssp: a setup problem
            wsman.close()
            raise InputError(one_line(str(exc)), "--exchange-auth") from None
        except Exception as exc:
            wsman.close()
            raise failure(self.settings, exc) from None
        self.wsman, self.pool = wsman, pool
        self.suspect = False
        self._fit_envelope(wsman, pool)
        log.info("PowerShell session open: %s (%s)", self.settings.uri,
                 self.settings.configuration_name)

    @staticmethod
    def _fit_envelope(wsman: Any, pool: Any) -> None:
        """Never send more than the server accepts (WinRM's MaxEnvelopeSizekb).

        pypsrp assumes 500 KB once the pool is open (the default since Windows
        Server 2012); WinRM 2.0 (Server 2008 R2, Exchange 2010's platform)
        defaults to 150 KB and answers a larger request with HTTP 413. The
        setting is read once (one Get); a server that does not answer it keeps
        pypsrp's size.
        """
        try:
            config = wsman.get_server_config()
            value = config.find(f"{_WSMAN_CONFIG}Config/{_WSMAN_CONFIG}MaxEnvelopeSizekb")
            limit = int((value.text or "").strip()) * 1024 if value is not None else 0
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # not offered (an IIS-hosted endpoint may refuse it)
            log.debug("could not read the server's MaxEnvelopeSizekb: %s", exc)
            return
        if 8192 <= limit < wsman.max_envelope_size:
            log.info("server accepts envelopes of at most %d bytes", limit)
            psinternals.fit_fragments(wsman, pool, limit)

    def ensure_open(self) -> Any:
        """The open pool (opened now if needed)."""
        if self.pool is None:
            self.open()
        return self.pool

    def close(self) -> None:
        """Close the runspace pool (WSMan Delete); a failure here loses no data."""
        pool, wsman = self.pool, self.wsman
        self.pool = self.wsman = None
        if pool is None:
            return
        try:
            pool.close()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            log.warning("closing the PowerShell session failed: %s",
                        one_line(str(exc), self.settings.password))
        finally:
            wsman.close()

    def recover(self) -> None:
        """Before the next use: a pool that may be dead is replaced by a new one."""
        if not self.suspect:
            return
        pool, wsman = self.pool, self.wsman
        self.pool = self.wsman = None
        self.suspect = False
        try:
            if pool is not None:
                pool.close()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the old shell may be gone already
            log.debug("closing the old runspace pool failed: %s", exc)
        finally:
            if wsman is not None:
                wsman.close()
        log.info("opening a new PowerShell session after a transport failure")
        self.open()

    def powershell(self, commands: Commands, select: Sequence[str] | None = None) -> Any:
        """A pypsrp PowerShell of cmdlets and parameters only (never script text).

        ``select`` appends ``Select-Object -Property`` unless the endpoint has
        been found not to offer it.
        """
        from pypsrp.powershell import PowerShell

        ps = PowerShell(self.ensure_open())
        full = list(commands)
        if select and self.select is not False:
            full.append(("Select-Object", [("Property", list(select))]))
        for name, params in full:
            ps.add_cmdlet(name)
            for pname, value in params:
                ps.add_parameter(pname, value)
        return ps
