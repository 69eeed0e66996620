"""Run the benchmark from a checkout: ``python benchmarks/run.py [--quick] [...]``.

The same as ``kisresearch bench``; the engine lives in :mod:`kisresearch.bench` so that an
installed wheel has it too. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import sys

from kisresearch.bench import main

if __name__ == "__main__":
    sys.exit(main())
