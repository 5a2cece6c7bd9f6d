"""Exceptions that map one-to-one onto the spec's exit codes.

Every adapter raises one of these instead of leaking library exceptions, so
the CLI can print one line and exit with the documented code, never a
traceback.
"""

from __future__ import annotations


class CcmigError(Exception):
    """Base class: ``exit_code`` is what the CLI returns."""

    exit_code = 2


class InputError(CcmigError):
    """Usage, configuration or input error (exit 2).

    ``where`` is ``file:line`` (or an option name) so the message always says
    which input is at fault.
    """

    exit_code = 2

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ConnectionFailure(CcmigError):
    """Connection, authentication or server error, incomplete search (exit 3)."""

    exit_code = 3
