"""The benchmark's servers, each in its own process: the KIS simulator and a Redis server.

The simulator runs in a *spawned* process, as a remote server would: the client under test and
the server never share one GIL, so a busy client cannot delay the server's clock or vice
versa. The bench talks to it like any client (HTTP on 127.0.0.1), reads what it saw from
``GET /__sim/truth`` and clears it with ``POST /__sim/reset`` between scenarios.

Each scenario gets its own app key (:meth:`SimProcess.key`), registered when the server
starts: a key has its own rate window and its own token, so scenarios cannot spill calls into
each other's window, and no scenario waits for the once-a-minute token rule because of another.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..sim.process import AppKey, SimulatorProcess

__all__ = ["AppKey", "RedisProcess", "SimProcess", "free_port", "rss_kb", "scenario_keys"]


SIM_OPTIONS: dict[str, Any] = {
    "profile": "real",
    "window": "sliding",
    "jitter": (0.0, 0.03),
    "latency": (0.01, 0.06),
    "seed": 0,
}
"""The simulator's settings for every scenario (keys on the paper profile get 2/s)."""


class SimProcess(SimulatorProcess):
    """The bench's simulator process: ``options`` go to the simulator, ``apps`` maps a key
    name to its profile (each scenario has its own key, window and token)."""

    def __init__(self, options: Mapping[str, Any], apps: Mapping[str, str]) -> None:
        super().__init__(apps=dict(apps), **options)

    def key(self, name: str) -> AppKey:
        return self.keys[name]

    def reset(self) -> None:
        self.reset_truth()

    def rss_kb(self) -> int | None:
        return rss_kb(self.pid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """A throwaway ``redis-server`` on a free port of 127.0.0.1 (no persistence)."""

    def __init__(self, binary: str) -> None:
        self.port = free_port()
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start within 10 s")

    @classmethod
    def start(cls) -> RedisProcess | None:
        """A running server, or None when ``redis-server`` or the ``redis`` package is
        missing."""
        binary = shutil.which("redis-server")
        try:
            import redis  # noqa: F401
        except ImportError:
            return None
        return cls(binary) if binary else None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def __enter__(self) -> RedisProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss_kb(pid: int | str = "self", field: str = "VmRSS") -> int | None:
    """Resident memory of a process in KiB (``VmRSS`` in ``/proc/<pid>/status``; ``VmHWM``:
    its peak), or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def scenario_keys(names: Sequence[str]) -> dict[str, str]:
    """App-key names to profiles for the scenarios to run (paper keys end in ``paper``)."""
    return {n: "paper" if n.endswith("paper") else "real" for n in names}
