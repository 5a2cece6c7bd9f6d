import sys

from toolkit.mocks.samba.server import main

sys.exit(main())
