"""The :class:`Limiter`: reserves a slot through a store, then sleeps outside any lock.

The design and its maths are in the package docstring (:mod:`kisresearch.pipeline.ratelimit`).
"""

from __future__ import annotations

import getpass
import logging
import math
import os
import re
import tempfile
from pathlib import Path

from ...config import env_str, private_dir
from ...errors import ConfigError
from ...timebase import SYSTEM_CLOCK, Clock
from .decide import (
    LimiterConfig,
    LimiterState,
    busy,
    decide,
    effective_rate,
    penalize,
)
from .stores import FileStore, LimiterStore, MemoryStore, RedisStore

__all__ = ["MAX_LATE_RESERVES", "Limiter", "NullLimiter", "make_limiter"]

MAX_LATE_RESERVES = 3  # slots given up in a row before a call goes anyway

log = logging.getLogger("kisresearch.ratelimit")


class Limiter:
    """Paces calls through a store. Thread-safe; reserves atomically, sleeps outside locks."""

    def __init__(
        self,
        config: LimiterConfig,
        store: LimiterStore | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self.store: LimiterStore = store if store is not None else MemoryStore(clock)
        self._clock = clock

    def acquire(self, cost: int = 1) -> float:
        """Block until ``cost`` calls may be sent; return the seconds waited."""
        return self.wait(self.reserve(cost), cost)

    def reserve(self, cost: int = 1) -> tuple[float, float]:
        """Reserve the next slot for ``cost`` calls: (seconds until it, when that was decided).
        :meth:`wait` then waits for it; :meth:`acquire` is the two together."""
        cfg = self.config

        def reserve(state: LimiterState | None, now: float) -> tuple[LimiterState, float]:
            return decide(state or LimiterState(), now, cfg, cost)

        wait = self.store.update(reserve)
        return wait, self._clock.now()  # after the store's answer: its own latency is not lag

    def wait(self, reserved: tuple[float, float], cost: int = 1) -> float:
        """Sleep until a slot :meth:`reserve` gave; return the seconds waited in all."""
        # A slot only keeps its promise if the call leaves on time. A thread that wakes late
        # (the GIL held by a long C call, an overloaded machine) would leave bunched with the
        # calls after it, so a late slot is given up -- it stays counted -- and another taken.
        tolerance = self.config.jitter_allowance / 3
        waited = 0.0
        for attempt in range(MAX_LATE_RESERVES + 1):
            wait, decided = reserved if attempt == 0 else self.reserve(cost)
            if wait > 0:
                log.debug("waiting %.3f s for a slot", wait)
                self._clock.sleep(wait)
            late = self._clock.now() - (decided + wait)
            waited += wait + max(late, 0.0)
            if late <= tolerance or attempt == MAX_LATE_RESERVES:
                break
            log.debug("woke %.1f ms late for a slot: taking a new one", late * 1000)
        return waited

    def next_free(self, cost: int = 1) -> float:
        """Seconds until a slot for ``cost`` calls would be free, reserving nothing."""
        cfg = self.config

        def look(state: LimiterState | None, now: float) -> tuple[LimiterState, float]:
            current = state or LimiterState()
            return current, decide(current, now, cfg, cost)[1]

        return self.store.update(look)

    def on_rate_limited(self) -> None:
        """A rejection (EGW00201) was seen: slow every sharer of the store down."""
        cfg = self.config

        def slow(state: LimiterState | None, now: float) -> tuple[LimiterState, float | None]:
            old = state or LimiterState()
            if not busy(old, now, cfg):  # far under the limit: slowing down cannot help
                return old, -1.0
            new = penalize(old, now, cfg)
            return new, None if new is old else effective_rate(new, now, cfg)

        rate = self.store.update(slow)
        if rate == -1.0:
            log.debug("rate limited by the server while far under the limit: pace kept")
        elif rate is not None:
            log.info("rate limited by the server: pacing at %.2f calls per %g s", rate, cfg.period)

    @property
    def current_rate(self) -> float:
        """The adaptive rate in force now, in calls per ``config.period``."""
        cfg = self.config

        def read(state: LimiterState | None, now: float) -> tuple[LimiterState, float]:
            current = state or LimiterState()
            return current, effective_rate(current, now, cfg)

        return self.store.update(read)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Limiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        cfg = self.config
        return f"Limiter({cfg.ceiling:g} per {cfg.period:g} s, {self.store!r})"


class NullLimiter:
    """No limit: ``acquire`` returns at once. For a server or a key nobody else uses."""

    def __init__(self, config: LimiterConfig | None = None) -> None:
        self.config = config

    def acquire(self, cost: int = 1) -> float:
        return 0.0

    def reserve(self, cost: int = 1) -> tuple[float, float]:
        return 0.0, 0.0

    def wait(self, reserved: tuple[float, float], cost: int = 1) -> float:
        return 0.0

    def next_free(self, cost: int = 1) -> float:
        return 0.0

    def on_rate_limited(self) -> None:
        pass

    @property
    def current_rate(self) -> float:
        return math.inf

    def close(self) -> None:
        pass

    def __enter__(self) -> NullLimiter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __repr__(self) -> str:
        return "NullLimiter()"


_OFF = {"off", "false", "0", "no"}


def machine_dir() -> Path:
    """The folder for this user's limiter state on this machine, owner-only: every toolkit
    folder shares it (``KIS_LIMITER_DIR``, else ``kisresearch-<user>`` in the system's
    temporary folder). Two toolkit folders each with its own state on one key went over the
    limit: 20 rejections per 200 calls."""
    folder = env_str("KIS_LIMITER_DIR")
    if folder is None:
        user = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
        folder = os.path.join(tempfile.gettempdir(), f"kisresearch-{user}")
    return private_dir(folder, "limiter folder")


def make_limiter(
    spec: str | bool | None,
    cfg: LimiterConfig,
    *,
    key_id: str,
    clock: Clock = SYSTEM_CLOCK,
) -> Limiter | NullLimiter:
    """Build the limiter named by ``spec`` (the ``limiter=`` argument or ``KIS_LIMITER``).

    ``None``/``"file"`` (default): a :class:`FileStore` at ``limiter-<key_id>.json`` in
    :func:`machine_dir` (one per user and machine, whatever the toolkit folder: processes with
    different ``home=`` on one key share it; other users of the key need Redis);
    ``"memory"``: this process only; ``"redis://host:port/db"``: a :class:`RedisStore` keyed
    ``kisresearch:limiter:<key_id>``; ``False``/``"off"``: a :class:`NullLimiter`.
    ``key_id`` is a hash of the app key, never the key itself.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key_id):  # never echo it: it might be the key
        raise ConfigError("key_id must be 1-64 letters, digits, '-' or '_' (a hash of the app key)")
    name = spec.strip().lower() if isinstance(spec, str) else spec
    if name is False or name in _OFF:
        return NullLimiter(cfg)
    if name is None or name is True or name == "file":
        path = machine_dir() / f"limiter-{key_id}.json"
        return Limiter(cfg, FileStore(path, clock), clock=clock)
    if name == "memory":
        return Limiter(cfg, MemoryStore(clock), clock=clock)
    if isinstance(spec, str) and name.startswith(("redis://", "rediss://", "unix://")):
        return Limiter(cfg, RedisStore(spec.strip(), f"kisresearch:limiter:{key_id}"), clock=clock)
    if isinstance(spec, str) and "://" in spec:
        shown = spec.split("://", 1)[0] + "://"  # the rest may hold a password
    else:
        shown = str(spec)
    raise ConfigError(
        f"unknown limiter {shown!r}: expected 'file', 'memory', 'off' or a redis:// URL"
    )
