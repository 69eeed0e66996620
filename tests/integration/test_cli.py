"""The ``kisresearch`` command as a user runs it: output, options, and what the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kisresearch.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_writes_no_progress_bar_into_a_log_and_captions_its_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
    env["KIS_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "kisresearch.cli", "demo"],  # no -q; stderr is a pipe
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "req/s" not in done.stderr and "%|" not in done.stderr, done.stderr[-500:]
    lines = done.stdout.splitlines()
    table = next(i for i, line in enumerate(lines) if line.split()[:1] == ["price"])
    assert "first 10 of the 100 detail quotes" in lines[table - 1]


def test_readme_names_every_demo_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    options = re.findall(r"^\s+(-\w), --[\w-]+", capsys.readouterr().out, re.M)
    readme = (ROOT / "README.md").read_text()
    assert "-q" in options
    for option in (o for o in options if o != "-h"):
        assert f"kisresearch demo {option}" in readme


def test_git_ignores_what_jupyter_writes() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".ipynb_checkpoints/" in ignored
