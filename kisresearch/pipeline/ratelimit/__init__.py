"""The rate limiter: one pure decision function, and stores that share its state.

KIS allows ``N`` calls per second per app key (20 on a real account, 2 on paper) and answers
call ``N + 1`` with HTTP 500 ``EGW00201``. Every caller that shares an app key -- threads,
processes on one machine, machines -- must share one budget, so the limiter is split in two:

- :func:`decide` and :func:`penalize` are pure functions of a small :class:`LimiterState`;
- a store (:class:`MemoryStore`, :class:`FileStore`, :class:`RedisStore`) loads, passes to them
  and saves that state atomically, and owns the notion of ``now``.

A :class:`Limiter` reserves a slot through its store (atomically, under the store's lock), then
sleeps *outside* any lock until the slot comes, so waiting callers never block each other.

The pure half lives in :mod:`.decide`, the stores in :mod:`.stores`, the :class:`Limiter` that
joins them in :mod:`.limiter`; import them from here.

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

from .decide import (
    DEFAULT_JITTER_ALLOWANCE,
    DEFAULT_MARGIN,
    LimiterConfig,
    LimiterState,
    decide,
    effective_rate,
    penalize,
)
from .limiter import MAX_LATE_RESERVES, Limiter, NullLimiter, make_limiter
from .stores import FileStore, LimiterStore, MemoryStore, RedisStore

__all__ = [
    "DEFAULT_JITTER_ALLOWANCE",
    "DEFAULT_MARGIN",
    "MAX_LATE_RESERVES",
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
