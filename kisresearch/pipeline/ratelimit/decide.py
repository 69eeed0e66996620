"""The pure half of :mod:`kisresearch.pipeline.ratelimit`: settings, state and the decision.

No I/O, no clock: every function takes ``now``. The maths behind the defaults is in
:mod:`kisresearch.pipeline.ratelimit`'s docstring.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from ...config import RATE_BY_ENV, check_setting, env_float, env_str, is_number
from ...errors import ConfigError

DEFAULT_MARGIN = 0.97
DEFAULT_JITTER_ALLOWANCE = 0.03
EPSILON = 1e-6
"""Seconds added to guard deadlines: one float ulp at today's epoch is ~2.4e-7 s."""
MAX_AHEAD = 600.0
"""A state reserving further ahead than this many seconds was written by a clock that ran
ahead (stepped back since, or another machine's): its times are clamped to ``now``. Real
reservations reach this far only with 12,000 callers queued on a real key, 1,200 on a paper
one (the bound was an hour: a state 50 minutes ahead stalled every sharer that long)."""

_ENV_VARS = {
    "rate": "KIS_RATE_LIMIT",
    "margin": "KIS_RATE_MARGIN",
    "min_interval": "KIS_MIN_INTERVAL",
    "window_limit": "KIS_WINDOW_LIMIT",
    "jitter_allowance": "KIS_JITTER_ALLOWANCE",
    "adaptive": "KIS_ADAPTIVE",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# field -> (valid?, what a valid value is)
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "rate": (lambda v: is_number(v) and v > 0, "a number > 0"),
    "period": (lambda v: is_number(v) and v > 0, "a number > 0"),
    "margin": (lambda v: is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "min_interval": (lambda v: v is None or (is_number(v) and v >= 0), "a number >= 0"),
    "window_limit": (
        lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1),
        "an integer >= 1",
    ),
    "jitter_allowance": (lambda v: is_number(v) and v >= 0, "a number >= 0"),
    "adaptive": (lambda v: isinstance(v, bool), "True or False"),
    "decrease": (lambda v: is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "recover": (lambda v: v is None or (is_number(v) and v >= 0), "a number >= 0"),
    "floor": (lambda v: v is None or (is_number(v) and v > 0), "a number > 0"),
}


def _check(label: str, name: str, value: Any) -> None:
    check_setting("limiter", _CHECKS, label, name, value)


@dataclass(frozen=True)
class LimiterConfig:
    """How fast to go. ``None`` fields take the derived defaults explained in the module
    docstring; read the values in force from the properties (``guard_limit``, ...).

    ``rate`` is the server's limit in calls per ``period`` (seconds); ``recover`` and ``floor``
    are in the same unit (``recover`` per second). Invalid values raise
    :class:`~kisresearch.errors.ConfigError` naming the setting and the value.
    """

    rate: float
    period: float = 1.0
    margin: float = DEFAULT_MARGIN
    min_interval: float | None = None
    window_limit: int | None = None
    jitter_allowance: float = DEFAULT_JITTER_ALLOWANCE
    adaptive: bool = True
    decrease: float = 0.5
    recover: float | None = None
    floor: float | None = None

    def __post_init__(self) -> None:
        for name in _CHECKS:
            _check(name, name, getattr(self, name))
        if self.min_rate > self.ceiling:
            raise ConfigError(
                f"limiter setting floor={self.min_rate!r} must not exceed rate * margin "
                f"= {self.ceiling:g}"
            )

    @property
    def ceiling(self) -> float:
        """The target rate, ``rate * margin``: the adaptive rate's upper bound."""
        return self.rate * self.margin

    @property
    def interval(self) -> float:
        """The GCRA's spacing between starts at the ceiling: ``period / (rate * margin)``."""
        return self.period / self.ceiling

    @property
    def guard_window(self) -> float:
        """Seconds over which the guard counts starts: ``period + jitter_allowance``."""
        return self.period + self.jitter_allowance

    @property
    def guard_limit(self) -> int:
        """Most starts allowed in any guard window: ``window_limit`` or ``floor(rate)``."""
        if self.window_limit is not None:
            return self.window_limit
        return max(1, math.floor(self.rate + 1e-9))

    @property
    def min_gap(self) -> float:
        """Least gap between two reservations: ``min_interval`` or ``period / (2 * rate)``."""
        return self.min_interval if self.min_interval is not None else self.period / self.rate / 2

    @property
    def recovery(self) -> float:
        """Rate regained per second without rejections: ``recover`` or ``rate / 20``."""
        return self.recover if self.recover is not None else self.rate / 20

    @property
    def min_rate(self) -> float:
        """The adaptive rate's lower bound: ``floor`` or ``rate / 10`` (at most the ceiling)."""
        return self.floor if self.floor is not None else min(self.rate / 10, self.ceiling)

    @classmethod
    def for_env(cls, env: str = "real", **overrides: Any) -> LimiterConfig:
        """The config for ``"real"`` (20/s) or ``"paper"`` (2/s).

        ``KIS_RATE_LIMIT``, ``KIS_RATE_MARGIN``, ``KIS_MIN_INTERVAL``, ``KIS_WINDOW_LIMIT``,
        ``KIS_JITTER_ALLOWANCE`` and ``KIS_ADAPTIVE`` override the defaults; keyword arguments
        (other than ``None``) override both.
        """
        if env not in RATE_BY_ENV:
            raise ConfigError(f"unknown environment {env!r}: expected 'real' or 'paper'")
        known = {f.name for f in fields(cls)}
        for name in overrides:
            if name not in known:
                raise ConfigError(f"unknown limiter setting {name!r}")
        given = {k: v for k, v in overrides.items() if v is not None}
        values: dict[str, Any] = {"rate": RATE_BY_ENV[env]}
        for name, var in _ENV_VARS.items():
            if name not in given and (raw := env_str(var)) is not None:
                values[name] = _parse_env(name, var, raw)
                _check(var, name, values[name])
        values.update(given)
        return cls(**values)


def _parse_env(name: str, var: str, raw: str) -> Any:
    if name == "adaptive":
        if raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ConfigError(f"{var}={raw!r} is not a boolean (use 1/0, true/false, on/off)")
    if name == "window_limit":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{var}={raw!r} is not an integer") from None
    return env_float(var)


@dataclass(frozen=True)
class LimiterState:
    """Everything the decision needs; plain data that round-trips through JSON.

    ``tat``: earliest start of the next call (GCRA). ``starts``: the last reserved starts,
    ascending, at most ``guard_limit`` of them. ``rate``: the adaptive rate set by the last
    penalty (``None``: at the ceiling). ``penalized_at``: when that penalty happened.
    """

    tat: float = 0.0
    starts: tuple[float, ...] = ()
    rate: float | None = None
    penalized_at: float | None = None

    def to_json(self) -> str:
        data = {
            "v": 1,
            "tat": self.tat,
            "starts": list(self.starts),
            "rate": self.rate,
            "penalized_at": self.penalized_at,
        }
        return json.dumps(data, separators=(",", ":"))

    def ahead(self, now: float) -> float:
        """How far past ``now`` the state reserves, in seconds."""
        latest = max(self.tat, self.starts[-1] if self.starts else 0.0, self.penalized_at or 0.0)
        return latest - now

    def clamped(self, now: float) -> LimiterState:
        """The state with its times no later than ``now``: a reserved start counts as a call
        sent now, so the next ones wait at most one window."""
        penalized = None if self.penalized_at is None else min(self.penalized_at, now)
        return LimiterState(min(self.tat, now), tuple(min(s, now) for s in self.starts),
                            self.rate, penalized)  # fmt: skip

    @classmethod
    def from_json(cls, text: str | bytes) -> LimiterState:
        """Parse :meth:`to_json` output; anything else raises ``ValueError``."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a limiter state")
        tat, starts = data.get("tat"), data.get("starts")
        rate, penalized_at = data.get("rate"), data.get("penalized_at")
        if not (
            is_number(tat)
            and isinstance(starts, list)
            and all(is_number(s) for s in starts)
            and (rate is None or (is_number(rate) and rate > 0))
            and (penalized_at is None or is_number(penalized_at))
        ):
            raise ValueError("malformed limiter state")
        return cls(
            float(data["tat"]),
            tuple(sorted(float(s) for s in starts)),
            None if rate is None else float(rate),
            None if penalized_at is None else float(penalized_at),
        )


def _fresh(state: LimiterState, now: float) -> LimiterState:
    """``state``, clamped to ``now`` if it reserves implausibly far ahead (the stores warn)."""
    return state.clamped(now) if state.ahead(now) > MAX_AHEAD else state


def effective_rate(state: LimiterState, now: float, cfg: LimiterConfig) -> float:
    """The adaptive rate in force at ``now`` (calls per period), within [min_rate, ceiling]."""
    if not cfg.adaptive or state.rate is None:
        return cfg.ceiling
    since = state.penalized_at if state.penalized_at is not None else now
    regained = cfg.recovery * max(0.0, now - since)
    return max(cfg.min_rate, min(cfg.ceiling, state.rate + regained))


def decide(
    state: LimiterState, now: float, cfg: LimiterConfig, cost: int = 1
) -> tuple[LimiterState, float]:
    """PURE: reserve the next slot for ``cost`` calls sent together.

    Returns the new state (with the slot reserved at ``now + wait``) and ``wait``, the seconds
    the caller must wait before sending. The start is the earliest time that satisfies the
    GCRA spacing at the adaptive rate, ``min_interval`` after the previous reservation, and
    the sliding-window guard.
    """
    limit, window = cfg.guard_limit, cfg.guard_window
    if not (isinstance(cost, int) and 1 <= cost <= limit):
        raise ConfigError(f"cost={cost!r} must be an integer from 1 to the window limit {limit}")
    state = _fresh(state, now)
    rate = effective_rate(state, now, cfg)
    start = max(now, state.tat)
    if state.starts:
        start = max(start, state.starts[-1] + cfg.min_gap)
    # Older starts cannot share a guard window with any start from now on.
    recent = [s for s in state.starts if s > now - window]
    excess = len(recent) + cost - limit
    if excess > 0:  # the `excess` oldest starts must leave (start - window, start]
        start = max(start, recent[excess - 1] + window + EPSILON)
    settled = None if cfg.adaptive and rate >= cfg.ceiling else state.rate  # fully recovered
    new = LimiterState(
        tat=start + cost * cfg.period / rate,
        starts=tuple((recent + [start] * cost)[-limit:]),
        rate=settled,
        penalized_at=state.penalized_at,
    )
    return new, start - now


BUSY = 0.9
"""A rejection counts as overload only if the store's sharers started at least this share of
the window's calls in the window before it."""


def busy(state: LimiterState, now: float, cfg: LimiterConfig) -> bool:
    """PURE: were this store's sharers near the limit when a rejection came? If not, slowing
    down cannot help: the answer was spurious (a 20% rate of them held the adaptive rate at
    its floor: 39 s for an 8-s pull), or another client on the key sent the excess (the stats
    warn about that)."""
    recent = sum(1 for s in state.starts if now - cfg.guard_window < s <= now)
    return recent >= BUSY * cfg.guard_limit


def penalize(state: LimiterState, now: float, cfg: LimiterConfig) -> LimiterState:
    """PURE: a rejection was seen: multiply the rate by ``decrease`` (at most once a period)."""
    if not cfg.adaptive:
        return state
    state = _fresh(state, now)
    if state.penalized_at is not None and now - state.penalized_at < cfg.period:
        return state  # the same overload: its other rejections must not compound
    rate = max(cfg.min_rate, effective_rate(state, now, cfg) * cfg.decrease)
    return replace(state, rate=rate, penalized_at=now)
