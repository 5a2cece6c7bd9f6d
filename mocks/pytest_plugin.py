"""pytest plugin for other projects' suites, loaded by installing ccmig.

Registered through the ``pytest11`` entry point, so a suite gets these
fixtures without ``-p``. Because it then loads into every suite on a machine
where ccmig is installed, it defines only fixtures named ``ccmig_*`` (never a
name a suite may use itself), imports nothing heavy at load time (the mock is
imported when a test asks for it) and changes nothing when it loads.

``ccmig_ccmail_directory``: an empty :class:`toolkit.mocks.ccmail.MockDirectory`
holding the Exchange connector's ``P`` entry in ``HUBPO``, ready for a test to
add users to and hand to :class:`toolkit.audit.AuditInputs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from toolkit.mocks.ccmail import MockDirectory


@pytest.fixture
def ccmig_ccmail_directory() -> MockDirectory:
    from toolkit.mocks.ccmail import MockDirectory

    return MockDirectory.build(HUBPO=[("EXCH", "P", "", "MSExchangeCCMC EXSRV01")])
