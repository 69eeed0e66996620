"""The simulator in a process of its own: ``KIS.simulator(process=True)``.

In-process, the simulator and the client share one GIL: a long C call in the kernel (a big
plot) delays the client's sends *and* the server's clock together, which a remote KIS never
does. A :class:`SimulatorProcess` serves the same HTTP API from its own process and offers the
same handles as :class:`~kisresearch.sim.Simulator` (credentials, ``truth()``, ``advance()``,
``expire_tokens()``, ``faults``) through the admin endpoints. The bench builds on it.

The process is a new interpreter (``sys.executable``) with the parent's ``sys.path`` running
:func:`main`, not a multiprocessing child: it never imports the caller's main module, so a
script without an ``if __name__ == "__main__":`` guard, a notebook and a REPL all work alike.
It reads its options (pickled) from its stdin, writes one line of JSON (its address, pid and
keys) to its stdout, and serves until its stdin closes: when the parent stops it, exits or
dies.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pickle
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Self
from urllib.parse import urlsplit

from .rules import Faults

START_TIMEOUT = 60.0  # seconds a new server may take to import and bind


@dataclass(frozen=True)
class AppKey:
    """An extra app key registered on a :class:`SimulatorProcess` (its own window and token)."""

    name: str
    app_key: str
    app_secret: str
    profile: str


_BOOT = "import sys, json; sys.path[:] = json.loads(sys.argv[1]); import {0}; {0}.main()"


def main() -> None:
    """The server's side: read (options, apps) from stdin, start a simulator, register
    ``apps`` (name, profile), report on stdout, serve until stdin closes."""
    from .simulator import Simulator

    stdin = sys.stdin.buffer
    options, apps = pickle.load(stdin)
    sim = Simulator(**options)
    keys: dict[str, dict[str, str]] = {}
    for name, profile in apps:
        key = "PS" + secrets.token_hex(17)  # 36 characters, like a KIS app key
        secret = secrets.token_urlsafe(135)[:180]
        sim.add_app(key, secret, profile)
        keys[name] = {"app_key": key, "app_secret": secret, "profile": profile}
    sim.start()
    try:
        print(json.dumps({"base_url": sim.base_url, "pid": os.getpid(), "keys": keys}), flush=True)
        while stdin.read(4096):  # anything written is ignored; the end is the signal
            pass
    finally:
        sim.stop()


class SimulatorProcess:
    """A :class:`~kisresearch.sim.Simulator` serving from a process of its own.

    ``options`` go to the simulator (profile, rate, window, jitter, latency, faults, seed...);
    ``apps`` maps extra key names to their profile (``"real"``/``"paper"``).
    """

    def __init__(self, apps: dict[str, str] | None = None, **options: Any) -> None:
        # what the server says, kept for an error that needs it (closed by stop())
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT.format(__name__), json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin = self._proc.stdin
        try:
            pickle.dump((dict(options), list((apps or {}).items())), self._stdin)
            self._stdin.flush()
            started = json.loads(self._first_line(self._proc.stdout))
        except (OSError, ValueError):
            self._kill()
            self._stderr.seek(0)
            said = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            self._close()
            raise RuntimeError(
                f"the simulator process did not start (exit code {self._proc.returncode})"
                + (f": {said[-1]}" if said else "")
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

    @staticmethod
    def _first_line(out: IO[bytes]) -> bytes:
        """The server's report, or OSError if none comes within :data:`START_TIMEOUT`."""
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(out.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        if not got or not got[0]:
            raise OSError("no report")
        return got[0]

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
        with contextlib.suppress(OSError):
            self._stdin.close()  # the server's signal to stop
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        self._close()

    def _kill(self) -> None:
        self._proc.kill()
        self._proc.wait(5)

    def _close(self) -> None:
        for f in (self._stdin, self._proc.stdout, self._stderr):
            with contextlib.suppress(OSError):
                f.close()  # type: ignore[union-attr]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
