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

import contextlib
import http.client
import json
import multiprocessing as mp
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

START_TIMEOUT = 60.0  # seconds a spawned server may take to import and bind


@dataclass(frozen=True)
class AppKey:
    """One registered app key on the bench's simulator."""

    name: str
    app_key: str
    app_secret: str
    profile: str


def _serve(conn: Connection, options: dict[str, Any], apps: list[tuple[str, str]]) -> None:
    """Child process: start a simulator, register ``apps`` (name, profile), report, serve
    until the parent says stop or goes away (its end of the pipe closes)."""
    from .sim import Simulator

    sim = Simulator(**options)
    keys: dict[str, dict[str, str]] = {}
    for name, profile in apps:
        key = "PS" + secrets.token_hex(17)  # 36 characters, like a KIS app key
        secret = secrets.token_urlsafe(135)[:180]
        sim.add_app(key, secret, profile)
        keys[name] = {"app_key": key, "app_secret": secret, "profile": profile}
    sim.start()
    conn.send({"base_url": sim.base_url, "pid": os.getpid(), "keys": keys})
    try:
        while True:
            if conn.poll(1.0):
                conn.recv()  # any message means stop
                break
    except (EOFError, OSError):
        pass  # the parent is gone
    finally:
        sim.stop()
        conn.close()


class SimProcess:
    """A :class:`~kisresearch.sim.Simulator` serving from a spawned process.

    ``options`` go to the simulator (profile, window, jitter, latency, ...); ``apps`` maps
    a key name to its profile (``"real"``/``"paper"``).
    """

    def __init__(self, options: Mapping[str, Any], apps: Mapping[str, str]) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._conn = parent
        self._proc = ctx.Process(
            target=_serve,
            args=(child, dict(options), list(apps.items())),
            name="kisresearch-bench-sim",
            daemon=True,
        )
        self._proc.start()
        child.close()
        try:
            if not parent.poll(START_TIMEOUT):
                raise EOFError
            info = parent.recv()
        except (EOFError, OSError):
            self._kill()
            raise RuntimeError(
                f"the simulator process did not start (exit code {self._proc.exitcode})"
            ) from None
        self.base_url: str = info["base_url"]
        self.pid: int = info["pid"]
        self.options = dict(options)
        self.keys = {
            name: AppKey(name, k["app_key"], k["app_secret"], k["profile"])
            for name, k in info["keys"].items()
        }
        host, port = urlsplit(self.base_url).hostname, urlsplit(self.base_url).port
        assert host == "127.0.0.1" and port is not None
        self._port = port

    def __repr__(self) -> str:
        return f"SimProcess({self.base_url}, pid={self.pid})"

    def key(self, name: str) -> AppKey:
        return self.keys[name]

    # -- admin ---------------------------------------------------------------------------
    def _admin(self, method: str, path: str) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        try:
            conn.request(method, path, body=b"" if method == "POST" else None)
            resp = conn.getresponse()
            data = json.loads(resp.read().decode("utf-8"))
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {data}")
        return dict(data)

    def truth(self) -> dict[str, Any]:
        """What the server saw since the last reset."""
        return self._admin("GET", "/__sim/truth")

    def reset(self) -> None:
        self._admin("POST", "/__sim/reset")

    def rss_kb(self) -> int | None:
        return rss_kb(self.pid)

    # -- lifecycle -----------------------------------------------------------------------
    def stop(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._kill()
        self._conn.close()

    def _kill(self) -> None:
        self._proc.terminate()
        self._proc.join(5)

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


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


def rss_kb(pid: int | str = "self") -> int | None:
    """Resident memory of a process in KiB (``VmRSS`` in ``/proc/<pid>/status``), or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def scenario_keys(names: Sequence[str]) -> dict[str, str]:
    """App-key names to profiles for the scenarios to run (paper keys end in ``paper``)."""
    return {n: "paper" if n.endswith("paper") else "real" for n in names}
