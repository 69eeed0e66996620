"""Shared fixtures: a fake clock, the embedded simulator, a private toolkit folder, redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kisresearch.plan.validate import KST


class FakeClock:
    """A clock whose ``sleep`` advances ``now`` instead of blocking; thread-safe enough for
    tests (float assignment is atomic under the GIL)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.t += seconds

    def advance(self, seconds: float) -> None:
        self.t += seconds


class SimClock(FakeClock):
    """A fake clock that also moves the simulator's token clock when it sleeps."""

    def __init__(self, sim: object, start: float) -> None:
        super().__init__(start)
        self.sim = sim

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if seconds > 0:
            self.sim.advance(seconds)  # type: ignore[attr-defined]


def _quiet_epoch() -> float:
    """The next 20:00 KST at least an hour away: no session is running then."""
    now = datetime.now(KST)
    target = now.replace(hour=20, minute=0, second=0, microsecond=0)
    while target - now < timedelta(hours=1):
        target += timedelta(days=1)
    return target.timestamp()


QUIET = _quiet_epoch()


def to_quiet(sim: Any) -> None:
    """Move ``sim`` to 20:00 KST, when prices hold still: for tests comparing two pulls."""
    sim.advance(QUIET - sim.now())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private toolkit folder; also clears KIS_* variables so tests never see real keys."""
    import os

    for name in list(os.environ):
        if name.startswith("KIS_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "kishome"
    monkeypatch.setenv("KIS_HOME", str(folder))
    monkeypatch.setenv("KIS_LIMITER_DIR", str(tmp_path / "limiters"))  # machine-wide otherwise
    return folder


@pytest.fixture
def sim() -> Iterator[object]:
    """A fresh embedded simulator (real profile, no jitter) per test."""
    from kisresearch.sim import Simulator

    with Simulator() as s:
        yield s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A real redis-server on ``port``, answering (the binary must be installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; .ci/run installs the Debian package")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("redis-server did not start")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server started for the session."""
    port = _free_port()
    proc = start_redis(port)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# The developers' fast path is `python -m pytest -m "not slow"`; the README's command runs all.
# Slow: whole modules that drive many simulated pulls or other processes, the notebooks (real
# Jupyter kernels) and single tests measured at a second or more on a 2-core machine.
SLOW_MODULES = (
    "test_faults.py",
    "test_restart.py",
    "test_bench.py",
    "test_packaging.py",
    "test_readme.py",
    "test_stats_e2e.py",
    "test_bad_input.py",
)
SLOW_TESTS = (
    "test_two_processes_starting_together_issue_one_token",
    "test_two_processes_writing_at_once",
    "test_history_of_100_symbols_runs_through_the_batch_engine",
    "test_symbols_from_the_master_files_cached_for_a_day",
    "test_processes_sharing_a_file_store_never_exceed_the_window",
    "test_master_files",
    "test_faults_spare_oauth_admin_and_master_files",
    "test_dashboard_follows_a_real_pull",
    "test_a_pull_traces_at_most_twice_its_frame",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if (
            path.suffix == ".ipynb"
            or path.name in SLOW_MODULES
            or item.name.split("[")[0] in SLOW_TESTS
        ):
            item.add_marker(pytest.mark.slow)
