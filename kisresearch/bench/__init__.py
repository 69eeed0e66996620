"""``kisresearch bench``: the engine (runner.py), its scenarios, the simulator and worker
processes it drives, and the report. Imported only by :mod:`kisresearch.cli`."""
