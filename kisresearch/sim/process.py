"""The simulator in a spawned process of its own: ``KIS.simulator(process=True)``.

In-process, the simulator and the client share one GIL: a long C call in the kernel (a big
plot) delays the client's sends *and* the server's clock together, which a remote KIS never
does. A :class:`SimulatorProcess` serves the same HTTP API from its own process and offers the
same handles as :class:`~kisresearch.sim.Simulator` (credentials, ``truth()``, ``advance()``,
``expire_tokens()``, ``faults``) through the admin endpoints. The bench builds on it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing as mp
import os
import secrets
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Self
from urllib.parse import urlsplit

from .rules import Faults

START_TIMEOUT = 60.0  # seconds a spawned server may take to import and bind


@dataclass(frozen=True)
class AppKey:
    """An extra app key registered on a :class:`SimulatorProcess` (its own window and token)."""

    name: str
    app_key: str
    app_secret: str
    profile: str


def _serve(conn: Connection, options: dict[str, Any], apps: list[tuple[str, str]]) -> None:
    """Child process: start a simulator, register ``apps`` (name, profile), report, serve
    until the parent says stop or goes away (its end of the pipe closes)."""
    from .simulator import Simulator

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
        while not conn.poll(1.0):
            pass
    except (EOFError, OSError):
        pass  # the parent is gone
    finally:
        sim.stop()
        conn.close()


class SimulatorProcess:
    """A :class:`~kisresearch.sim.Simulator` serving from a spawned process.

    ``options`` go to the simulator (profile, rate, window, jitter, latency, faults, seed...);
    ``apps`` maps extra key names to their profile (``"real"``/``"paper"``).
    """

    def __init__(self, apps: dict[str, str] | None = None, **options: Any) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._conn = parent
        args = (child, dict(options), list((apps or {}).items()))
        self._proc = ctx.Process(target=_serve, args=args, name="kisresearch-sim", daemon=True)
        self._proc.start()
        child.close()
        try:
            if not parent.poll(START_TIMEOUT):
                raise EOFError
            started = parent.recv()
        except (EOFError, OSError):
            self._kill()
            raise RuntimeError(
                f"the simulator process did not start (exit code {self._proc.exitcode})"
            ) from None
        self.base_url: str = started["base_url"]
        self.pid: int = started["pid"]
        self.options = dict(options)
        self.keys = {
            name: AppKey(name, k["app_key"], k["app_secret"], k["profile"])
            for name, k in started["keys"].items()
        }
        self._port = int(urlsplit(self.base_url).port or 0)
        info = self._admin("GET", "/__sim/info")
        self.app_key: str = info["app_key"]
        self.app_secret: str = info["app_secret"]
        self.account: str = info["account"]
        self.profile: str = info["profile"]
        self.rate: int = info["rate"]
        self.data_id: str = info["data_id"]
        self._offset = float(info["now"]) - time.time()

    def __repr__(self) -> str:
        return f"SimulatorProcess(profile={self.profile!r}, {self.base_url}, pid={self.pid})"

    def start(self) -> Self:
        """Already serving since construction (kept for the Simulator's interface)."""
        return self

    # -- the Simulator's handles, over the admin endpoints ------------------------------------
    def _admin(self, method: str, path: str, body: bytes = b"") -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        try:
            conn.request(method, path, body=body if method == "POST" else None)
            resp = conn.getresponse()
            data = json.loads(resp.read().decode("utf-8"))
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {data}")
        return dict(data)

    def now(self) -> float:
        """The simulator's epoch time, without a round trip: wall time + what was advanced."""
        return time.time() + self._offset

    def truth(self) -> dict[str, Any]:
        return self._admin("GET", "/__sim/truth")

    def reset_truth(self) -> None:
        self._admin("POST", "/__sim/reset")

    def advance(self, seconds: float) -> None:
        self._admin("POST", f"/__sim/advance?seconds={float(seconds)!r}")
        self._offset += float(seconds)

    def expire_tokens(self) -> None:
        self._admin("POST", "/__sim/expire_tokens")

    @property
    def faults(self) -> Faults | None:
        data = self._admin("GET", "/__sim/info")["faults"]
        return Faults(**data) if data else None

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        body = json.dumps(value.to_dict() if value else {}).encode()
        self._admin("POST", "/__sim/faults", body)

    # -- lifecycle -------------------------------------------------------------------------
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
