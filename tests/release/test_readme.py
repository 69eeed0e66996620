"""The README's Python examples run, in order, as one script on the embedded simulator.

A block preceded by ``<!-- not run ... -->`` (one that needs real credentials) is skipped.
The script runs in a subprocess, so it meets the package as a user's kernel would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"(<!-- not run[^>]*-->\s*)?```python\n(.*?)```", re.S)


def runnable_blocks() -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(README.read_text()) if not m.group(1)]


def test_readme_examples_run(tmp_path: Path) -> None:
    blocks = runnable_blocks()
    assert len(blocks) >= 5
    script = "\n".join(blocks) + "\nprint('README OK')\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
    env.update(KIS_HOME=str(tmp_path / "home"), KIS_PROGRESS="0", MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("README OK")
    assert (tmp_path / "pull.png").stat().st_size > 0
    assert (tmp_path / "pull.jsonl.gz").stat().st_size > 0
