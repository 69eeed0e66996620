"""Run the benchmark from a checkout: ``python benchmarks/run.py [--quick] [...]``.

The same as ``kisresearch bench``; the engine lives in :mod:`kisresearch.bench.runner` so that an
installed wheel has it too. See ``benchmarks/README.md``. This entry puts the checkout first
on ``sys.path`` (the spawned server and worker processes inherit it), so it measures this
checkout's code even when another copy of the package is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kisresearch.bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
