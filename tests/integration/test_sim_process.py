"""``KIS.simulator(process=True)`` from a plain script: no main guard, and no server left over."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

# A script as a researcher writes one: no ``if __name__ == "__main__":`` guard, no close().
SCRIPT = """
import sys
import kisresearch as kr

kis = kr.KIS.simulator(process=True, progress=False, cache=False)
df = kis.quotes(["005930", "000660"])
print(kis.sim.pid, len(df), int(df["error"].notna().sum()), flush=True)
if sys.argv[1:] == ["wait"]:
    sys.stdin.readline()  # until killed
"""


def gone(pid: int, within: float = 20.0) -> bool:
    """Whether process ``pid`` has exited (or is a zombie no one reaped) within ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def script(tmp_path, home):
    path = tmp_path / "pull.py"  # a file: multiprocessing's spawn re-imports those
    path.write_text(SCRIPT)
    return path


def test_a_script_without_a_main_guard_gets_its_quotes_and_leaves_no_server(script):
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120,
        cwd=script.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pid, rows, errors = map(int, done.stdout.split())
    assert (rows, errors) == (2, 0) and pid != os.getpid()
    assert gone(pid)


def test_the_server_stops_when_its_parent_is_killed(script):
    with subprocess.Popen(
        [sys.executable, str(script), "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, cwd=script.parent,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            pid, rows, errors = map(int, proc.stdout.readline().split())
            assert (rows, errors) == (2, 0)
            assert not gone(pid, within=0.5)  # serving while its parent lives
        finally:
            proc.kill()  # SIGKILL: no atexit, no finally
    assert gone(pid)
