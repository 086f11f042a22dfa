"""``python -m gridcap`` is the ``gridcap`` command."""

import sys

from gridcap.cli import main

sys.exit(main())
