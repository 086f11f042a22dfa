"""``python -m benchmarks`` (from the repository root) or ``python -m gridcap.benchmarks``:
the benchmark suite, with the same flags as ``gridcap bench``."""

import sys

from .cli import main

sys.exit(main())
