"""Released third-party KIS clients, run unchanged against the embedded simulator.

Each client gets a throwaway venv (``python -m venv`` + ``pip install <pkg>==<ver> <deps>``)
under ``$KIS_CONFORMANCE_VENVS`` (default ``~/.cache/kisresearch-conformance``), reused while
it holds the pinned versions. Its driver (``drivers/<name>.py``) runs once per module in a
subprocess with a scratch HOME and CWD (the clients write token files there) and prints one
JSON line per data call; the tests read those lines. docs/peer-clients.md is the research
behind what each driver calls and how it points its client at the simulator.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kisresearch as kr
from kisresearch.sim import Simulator
from tests.conftest import to_quiet

DRIVERS = Path(__file__).parent / "drivers"
PREFIX = "CONFORMANCE "
SYMBOL, TICKER, EXCHANGE = "005930", "AAPL", "NAS"  # both listed by kisresearch/sim/listings.py
NYS_TICKER = "JPM"
# pip's own words when it could not reach the index (only these make a skip, not a failure)
OFFLINE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Max retries exceeded",
    "ConnectTimeoutError",
    "ProxyError",
)


@dataclass(frozen=True)
class Peer:
    package: str
    version: str
    extras: tuple[str, ...]  # what a plain install misses (docs/peer-clients.md section 6)
    driver: str

    @property
    def folder(self) -> str:
        return f"{self.package}-{self.version}"


PEERS = {
    "python-kis": Peer("python-kis", "2.1.6", ("typing_extensions",), "python_kis.py"),
    "kis-stock-0.19": Peer("korea-investment-stock", "0.19.0", (), "kis_stock_019.py"),
    "kis-stock-0.5": Peer("korea-investment-stock", "0.5.0", ("plotly",), "kis_stock_05.py"),
    "mojito2": Peer("mojito2", "0.1.6", ("pandas",), "mojito2.py"),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: a released KIS client run unchanged against the simulator"
    )


def venv_root() -> Path:
    folder = os.environ.get("KIS_CONFORMANCE_VENVS")
    return Path(folder) if folder else Path.home() / ".cache" / "kisresearch-conformance"


_CHECK = """import importlib.metadata as m, sys
pkg, ver, *extras = sys.argv[1:]
assert m.version(pkg) == ver, m.version(pkg)
for name in extras:
    m.version(name)
"""


def _has_pins(python: Path, peer: Peer) -> bool:
    if not python.exists():
        return False
    argv = [str(python), "-c", _CHECK, peer.package, peer.version, *peer.extras]
    return subprocess.run(argv, capture_output=True, timeout=60).returncode == 0


class NoVenv(Exception):
    def __init__(self, reason: str, offline: bool) -> None:
        super().__init__(reason)
        self.reason, self.offline = reason, offline


def ensure_venv(peer: Peer) -> Path:
    """The python of ``peer``'s venv, made if it is missing or lacks the pins; :class:`NoVenv`
    if pip fails (``offline`` when it could not reach the index)."""
    home = venv_root() / peer.folder
    python = home / "bin" / "python"
    if _has_pins(python, peer):
        return python
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=120)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--retries", "2"]
    done = subprocess.run(
        [*pip, f"{peer.package}=={peer.version}", *peer.extras],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        output = done.stdout + done.stderr
        if any(word in output for word in OFFLINE):
            raise NoVenv(f"pip could not reach the package index for {peer.folder}", True)
        raise NoVenv(f"pip install of {peer.folder} failed:\n{output[-3000:]}", False)
    return python


@pytest.fixture(scope="module")
def peer_sim() -> Iterator[Simulator]:
    """One simulator for every client: 200 calls/s (the clients' own pacing is not under test),
    no tokenP interval (each client and our own client take a token), at 20:00 KST so prices
    hold still between a client's call and ours."""
    with Simulator(rate=200, token_interval=0) as sim:
        to_quiet(sim)
        yield sim


@pytest.fixture(scope="module")
def ours(peer_sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[kr.KIS]:
    """kisresearch's own client on the same simulator: what the answers should hold."""
    home = tmp_path_factory.mktemp("ours")
    with kr.KIS(simulator=peer_sim, home=home, cache=False, progress=False) as kis:
        yield kis


@dataclass(frozen=True)
class Run:
    lines: dict[str, dict[str, Any]]  # call name -> the driver's line
    returncode: int
    stderr: str


def drive(peer: Peer, python: Path, sim: Simulator, scratch: Path) -> Run:
    """Run ``peer``'s driver against ``sim`` with ``scratch`` as HOME and CWD."""
    cfg = {
        "base_url": sim.base_url,
        "app_key": sim.app_key,
        "app_secret": sim.app_secret,
        "account": sim.account,
        "symbol": SYMBOL,
        "ticker": TICKER,
        "nys_ticker": NYS_TICKER,
    }
    env = {  # nothing of ours: no KIS_*, no proxies; a Korean user's clock
        "HOME": str(scratch),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TZ": "Asia/Seoul",
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # nothing written into tests/conformance/drivers
    }
    done = subprocess.run(
        [str(python), str(DRIVERS / peer.driver), json.dumps(cfg)],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    found = [json.loads(x[len(PREFIX) :]) for x in done.stdout.splitlines() if x.startswith(PREFIX)]
    return Run({x["call"]: x for x in found}, done.returncode, done.stderr)


@pytest.fixture(scope="module")
def peer_run(peer_sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """``peer_run(name)``: that client's driver run against ``peer_sim``, once a module (a venv
    pip could not make is also tried once: offline, its tests skip; otherwise they fail)."""
    runs: dict[str, Run | NoVenv] = {}

    def run(name: str) -> Run:
        if name not in runs:
            try:
                python = ensure_venv(PEERS[name])
            except NoVenv as exc:
                runs[name] = exc
            else:
                runs[name] = drive(PEERS[name], python, peer_sim, tmp_path_factory.mktemp(name))
        got = runs[name]
        if isinstance(got, NoVenv):
            if got.offline:
                pytest.skip(got.reason)
            pytest.fail(got.reason)
        return got

    return run
