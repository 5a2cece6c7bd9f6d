import sys

from mocks.samba.server import main

sys.exit(main())
