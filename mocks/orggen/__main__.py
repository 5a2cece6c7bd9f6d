"""``python -m toolkit.mocks.orggen OUT --people N --seed S ...`` (``scripts/make-org``)."""

import sys

from toolkit.mocks.orggen.cli import main

sys.exit(main())
