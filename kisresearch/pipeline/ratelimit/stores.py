"""Where :mod:`kisresearch.pipeline.ratelimit` keeps its state: memory, a file, or Redis.

A store loads the state, applies ``fn(state_or_None, now)`` and saves the new state,
atomically, and owns the notion of ``now``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ...config import locked, owner_only, write_private
from ...errors import ConfigError
from ...timebase import SYSTEM_CLOCK, Clock
from .decide import MAX_AHEAD, LimiterState

log = logging.getLogger("kisresearch.ratelimit")

T = TypeVar("T")


class LimiterStore(Protocol):
    """Loads the state, applies ``fn(state_or_None, now)`` and saves its result, atomically."""

    def update(self, fn: Callable[[LimiterState | None, float], tuple[LimiterState, T]]) -> T: ...

    def close(self) -> None: ...


RETRY_SHARED = 1.0  # seconds between tries of a Redis that did not answer
DOUBT_WAIT = 1.0  # seconds (KIS's window): what unreadable state costs the next call


def _load(raw: str | bytes | None, where: str, now: float) -> LimiterState | None:
    """The stored state; unreadable state means "a window's calls may have just gone out"
    (the next call waits :data:`DOUBT_WAIT`), and times ahead of ``now`` are clamped to it."""
    if not raw:
        return None
    try:
        state = LimiterState.from_json(raw)
    except ValueError:  # includes JSONDecodeError, UnicodeDecodeError
        log.warning("unreadable limiter state in %s: waiting %.0f s, then starting afresh",
                    where, DOUBT_WAIT)  # fmt: skip
        return LimiterState(tat=now + DOUBT_WAIT)
    ahead = state.ahead(now)
    if ahead > MAX_AHEAD:
        log.warning("limiter state in %s reserves %.0f s ahead of this clock (a clock stepped "
                    "back, or machines with skewed clocks sharing it): clamped to now",
                    where, ahead)  # fmt: skip
        return state.clamped(now)
    return state


class MemoryStore:
    """State in this process only: a lock and ``clock.now()``."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state: LimiterState | None = None

    def update(self, fn: Callable[[LimiterState | None, float], tuple[LimiterState, T]]) -> T:
        with self._lock:
            self._state, result = fn(self._state, self._clock.now())
            return result

    @property
    def state(self) -> LimiterState | None:
        return self._state

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "MemoryStore()"


class FileStore:
    """State in a JSON file (mode 0600) shared by every process on this machine.

    Each update takes an exclusive lock on the lock file beside it (``.<name>.lock``, through
    :func:`kisresearch.config.locked`: the system's lock on a descriptor of its own, so other
    threads and forked children are excluded too), reads the state, and replaces the file
    atomically (a temporary file renamed over it), so a reader never sees half a write.
    """

    def __init__(self, path: str | os.PathLike[str], clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(f".{self.path.name}.lock")
        self._clock = clock
        try:
            for p in (self.path, self._lock_path):
                os.close(os.open(p, os.O_RDWR | os.O_CREAT, 0o600))
                owner_only(p, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"cannot use limiter state file {str(self.path)!r}: {exc.strerror}"
            ) from None

    def update(self, fn: Callable[[LimiterState | None, float], tuple[LimiterState, T]]) -> T:
        with locked(self._lock_path):
            now = self._clock.now()
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                raw = b""
            state = _load(raw, str(self.path), now)
            new, result = fn(state, now)
            if new is not state:  # whole, under the lock; no fsync: a state lives a second
                write_private(self.path, new.to_json().encode(), sync=False)
            return result

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"


# Read the state and the server's clock in one round trip (a missing key reads as false).
_READ = "return {redis.call('GET', KEYS[1]), redis.call('TIME')}"
# Compare-and-set: write only if nobody wrote since we read.
_CAS = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


def _where(url: str) -> str:
    """``host:port`` of a Redis URL: never its user name or password."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return parts.path
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    except ValueError:
        return "an unparseable URL"


class RedisStore:
    """State in one Redis key, shared by every machine that uses the same app key.

    Two Lua scripts make each update atomic with optimistic concurrency: one reads the state
    and the Redis server's ``TIME`` (so machines with skewed clocks agree on ``now``), the
    other writes the new state only if the key still holds what was read; a caller that lost
    the race decides again. The key expires ``ttl`` seconds after its last reservation.

    While Redis does not answer (a restart, a network blip), the limiter paces on a local
    store at half its rate (each call takes two local slots: the other sharers are left the
    rest), says so once in a warning, and tries Redis again every :data:`RETRY_SHARED`
    seconds: a blip delays calls, it fails none.
    """

    def __init__(self, url: str, key: str, *, ttl: float = 3600.0, timeout: float = 5.0) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                "the Redis limiter store needs the redis package: pip install 'kisresearch[redis]'"
            ) from None
        self.key = key
        self.where = _where(url)
        self._ttl = ttl
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            self._client.ping()
        except (redis.RedisError, ValueError, OSError) as exc:
            reason = str(exc)
            password = _password(url)
            if password:
                reason = reason.replace(password, "***")
            raise ConfigError(
                f"cannot reach Redis at {self.where} for the rate limiter: "
                f"{type(exc).__name__}: {reason}"
            ) from None
        self._read = self._client.register_script(_READ)
        self._cas = self._client.register_script(_CAS)
        self._down: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError,
                                                   OSError)  # fmt: skip
        self._local = MemoryStore()
        self._local_until = 0.0  # monotonic time until which Redis is not tried
        self._lost = False  # Redis did not answer the last try
        self._lock = threading.Lock()

    def update(self, fn: Callable[[LimiterState | None, float], tuple[LimiterState, T]]) -> T:
        if time.monotonic() >= self._local_until:
            # back from local pacing, Redis may have lost the key (a restart): our own calls
            # of the last window stand in for it
            seed = self._local.state if self._lost else None
            try:
                result = self._shared(fn, seed)
            except self._down as exc:
                with self._lock:
                    self._local_until = time.monotonic() + RETRY_SHARED
                    first, self._lost = not self._lost, True
                if first:  # the window's calls may have just gone out: start a window late
                    self._local.update(lambda _, now: (LimiterState(tat=now + DOUBT_WAIT), None))
                    why = type(exc).__name__
                    log.warning("Redis at %s does not answer (%s): pacing at half the rate "
                                "on this process until it does", self.where, why)  # fmt: skip
            else:
                if self._lost:
                    with self._lock:
                        self._lost = False
                    log.warning("Redis at %s answers again: pacing shared", self.where)
                return result

        def twice(state: LimiterState | None, now: float) -> tuple[LimiterState, T]:
            half, _ = fn(state, now)  # the first slot is left unused: half the pace
            return fn(half, now)

        return self._local.update(twice)

    def _shared(
        self,
        fn: Callable[[LimiterState | None, float], tuple[LimiterState, T]],
        seed: LimiterState | None = None,
    ) -> T:
        while True:
            raw, (seconds, micros) = self._read(keys=[self.key])
            now = int(seconds) + int(micros) / 1e6
            state = _load(raw, f"Redis key {self.key!r} at {self.where}", now) or seed
            new, result = fn(state, now)
            if new is state:
                return result
            horizon = max(new.tat, new.starts[-1] if new.starts else now) - now
            expire_ms = max(1, int((max(horizon, 0.0) + self._ttl) * 1000))
            if self._cas(keys=[self.key], args=[raw or b"", new.to_json(), expire_ms]):
                return result
            log.debug("limiter state changed under us in Redis; deciding again")

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r}, key={self.key!r})"


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None
