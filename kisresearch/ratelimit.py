"""The rate limiter: one pure decision function, and stores that share its state.

KIS allows ``N`` calls per second per app key (20 on a real account, 2 on paper) and answers
call ``N + 1`` with HTTP 500 ``EGW00201``. Every caller that shares an app key -- threads,
processes on one machine, machines -- must share one budget, so the limiter is split in two:

- :func:`decide` and :func:`penalize` are pure functions of a small :class:`LimiterState`;
- a store (:class:`MemoryStore`, :class:`FileStore`, :class:`RedisStore`) loads, passes to them
  and saves that state atomically, and owns the notion of ``now``.

A :class:`Limiter` reserves a slot through its store (atomically, under the store's lock), then
sleeps *outside* any lock until the slot comes, so waiting callers never block each other.

The pure half lives in ``_ratelimit_core``, the stores in ``_ratelimit_stores``; import them
from here.

Arrivals, not departures
------------------------
The server counts calls when they *arrive*. A call that starts at ``s`` arrives at ``s + d``,
where the one-way delay ``d`` varies. Only the spread of ``d`` matters, so say
``d ∈ [0, J]`` (``J`` = ``jitter_allowance``). ``J`` must also cover our own lag between a
reserved start and the request leaving: a late thread wake-up, the GIL, TLS.

Guard: *every start* ``s`` *sees at most* ``L`` *starts (itself included) in*
``(s - (P + J), s]``, where ``P`` is the server's period and ``L`` is ``window_limit``.

Claim: then no window ``[t, t + P)`` holds more than ``L`` arrivals.

Proof: suppose ``[t, t + P)`` holds ``L + 1`` arrivals. Each arrival ``a`` comes from a start
``s`` with ``a - J <= s <= a``, so the ``L + 1`` starts lie in ``[t - J, t + P)``: they span
less than ``P + J``. The latest of them therefore sees the other ``L`` in its guard window,
``L + 1`` in all, which the guard forbids. ∎ A fixed one-second window on the server is one
such ``[t, t + P)``, so the guard covers fixed and sliding windows alike.

Defaults and their maths
------------------------
- ``window_limit`` = ``floor(rate)``: no allowance needs to come off the count, because the
  jitter allowance is in the guard window's *length*, ``P + J``. The guard alone admits at
  most ``L / (P + J)`` calls per second: 20 / 1.03 s = 19.42/s = 97.1 % of the limit
  (2 / 1.03 s = 1.94/s on paper). With ``J`` = 50 ms it would still be 95.2 %.
- ``margin`` = 0.97. The guard alone would let ``L`` calls out in a burst and then stall, so a
  GCRA (a virtual-scheduling leaky bucket with zero burst tolerance) first spaces calls at
  ``T = P / (rate * margin)``: 51.5 ms on a real account, 515 ms on paper. With
  ``margin <= P / (P + J)`` (= 0.9709 for 30 ms) ``L`` consecutive gaps span
  ``L * T >= P + J``, so evenly spaced calls already satisfy the guard and it never binds in
  the steady state: the pace is a smooth 19.4/s, 97 % of the limit. The guard stays as the
  hard guarantee for what spacing alone does not cover: ``cost > 1``, a smaller margin or a
  larger ``J`` set by the user, and sharers whose settings differ.
- ``min_interval`` = ``P / (2 * rate)`` (25 ms real): a floor on the gap between any two
  reservations. The GCRA's spacing is always wider under the defaults; the floor only matters
  when someone loosens the rest (``KIS_MIN_INTERVAL`` is the knob for users who want the
  official samples' fixed pause instead).
- Adaptive (AIMD): a rejection means someone we cannot see shares the key (another program, a
  browser session) or the server is stricter than documented. :func:`penalize` multiplies the
  rate by ``decrease`` (0.5), at most once per ``period`` so that the burst of rejections a
  single overload produces counts once; the rate then regains ``recover`` calls/s per second
  (``rate / 20``: from half to full in about ten seconds) and never drops below ``floor``
  (``rate / 10``).

State, ``now`` and staleness
----------------------------
The state is a few numbers: the GCRA's theoretical arrival time ``tat`` (the earliest start of
the next call), the last ``window_limit`` reserved starts, and the adaptive rate with the time
of the last penalty. It is JSON, so a file or a Redis key can hold it. Stale state is harmless:
old starts fall out of the window and a past ``tat`` is simply ``now``. A state reserving more
than an hour ahead (a clock that jumped back) is discarded.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from ._ratelimit_core import (
    DEFAULT_JITTER_ALLOWANCE,
    DEFAULT_MARGIN,
    LimiterConfig,
    LimiterState,
    decide,
    effective_rate,
    penalize,
)
from ._ratelimit_stores import FileStore, LimiterStore, MemoryStore, RedisStore
from .clock import SYSTEM_CLOCK, Clock
from .config import toolkit_dir
from .errors import ConfigError

__all__ = [
    "DEFAULT_JITTER_ALLOWANCE",
    "DEFAULT_MARGIN",
    "FileStore",
    "Limiter",
    "LimiterConfig",
    "LimiterState",
    "LimiterStore",
    "MemoryStore",
    "NullLimiter",
    "RedisStore",
    "decide",
    "effective_rate",
    "make_limiter",
    "penalize",
]

MAX_LATE_RESERVES = 3  # slots given up in a row before a call goes anyway

log = logging.getLogger(__name__)


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
        cfg = self.config

        def reserve(state: LimiterState | None, now: float) -> tuple[LimiterState, float]:
            return decide(state or LimiterState(), now, cfg, cost)

        # A slot only keeps its promise if the call leaves on time. A thread that wakes late
        # (the GIL held by a long C call, an overloaded machine) would leave bunched with the
        # calls after it, so a late slot is given up -- it stays counted -- and another taken.
        tolerance = cfg.jitter_allowance / 3
        waited = 0.0
        for attempt in range(MAX_LATE_RESERVES + 1):
            wait = self.store.update(reserve)
            decided = self._clock.now()  # after the store's answer: its own latency is not lag
            if wait > 0:
                log.debug("waiting %.3f s for a slot", wait)
                self._clock.sleep(wait)
            late = self._clock.now() - (decided + wait)
            waited += wait + max(late, 0.0)
            if late <= tolerance or attempt == MAX_LATE_RESERVES:
                break
            log.debug("woke %.1f ms late for a slot: taking a new one", late * 1000)
        return waited

    def on_rate_limited(self) -> None:
        """A rejection (EGW00201) was seen: slow every sharer of the store down."""
        cfg = self.config

        def slow(state: LimiterState | None, now: float) -> tuple[LimiterState, float | None]:
            old = state or LimiterState()
            new = penalize(old, now, cfg)
            return new, None if new is old else effective_rate(new, now, cfg)

        rate = self.store.update(slow)
        if rate is not None:
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


def make_limiter(
    spec: str | bool | None,
    cfg: LimiterConfig,
    *,
    key_id: str,
    home: Path,
    clock: Clock = SYSTEM_CLOCK,
) -> Limiter | NullLimiter:
    """Build the limiter named by ``spec`` (the ``limiter=`` argument or ``KIS_LIMITER``).

    ``None``/``"file"`` (default): a :class:`FileStore` at ``home / "limiter-<key_id>.json"``;
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
        path = toolkit_dir(home) / f"limiter-{key_id}.json"
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
