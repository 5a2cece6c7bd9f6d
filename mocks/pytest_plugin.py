"""pytest plugin for other projects' suites: ``-p mocks.pytest_plugin``.

Provides ``ccmail_directory``: an empty :class:`mocks.ccmail.MockDirectory`
holding the Exchange connector's ``P`` entry in ``HUBPO``, ready for a test
to add users to and hand to :class:`toolkit.audit.AuditInputs`.
"""

from __future__ import annotations

import pytest

from mocks.ccmail import MockDirectory


@pytest.fixture
def ccmail_directory() -> MockDirectory:
    return MockDirectory.build(HUBPO=[("EXCH", "P", "", "MSExchangeCCMC EXSRV01")])
