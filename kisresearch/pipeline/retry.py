"""Retry policies on tenacity: which errors are retried, how long to wait, and how often.

Which errors (:func:`is_retryable`):

- ``EGW00201`` / ``EGW00215`` (:class:`~kisresearch.errors.RateLimited`, recognised by
  ``msg_cd`` whatever the HTTP status): the limiter has already been told; back off and retry.
- :class:`~kisresearch.errors.TransportError`: a refused or dropped connection, a timeout, or
  a garbage body with HTTP status 0 or >= 500 (a proxy's HTML error page).
- ``EGW00133`` (:class:`~kisresearch.errors.TokenThrottled`): tokens are issued once a minute,
  so this one is *waited out* (``token_throttle_wait``, 61 s, whatever ``max_wait`` says) and
  retried at most ``token_throttle_retries`` times: never hammered.
- Nothing else: business errors, bad settings, rejected credentials, and ``TokenInvalid``
  (the auth layer re-issues the token itself) are raised at once.

How long (:func:`wait_seconds`): exponential backoff, ``initial * multiplier ** (attempt - 1)``
capped at ``max_wait``, with *equal jitter*: the wait is drawn uniformly from
``[base * (1 - jitter), base]``. With the default ``jitter=0.5`` a retry never comes sooner than
half the backoff (a rate-limited call retried at once only adds to the overload) while the
spread still scatters callers that failed together. ``jitter=1`` is full jitter, ``0`` none.

After the last attempt the *original* exception is raised, not ``tenacity.RetryError``.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ParamSpec, TypeVar, overload

import tenacity

from ..config import check_setting, env_float, env_str, is_number
from ..errors import (
    RATE_LIMIT_CODES,
    APIError,
    BadResponse,
    ConfigError,
    RateLimited,
    TokenThrottled,
    TransportError,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_THROTTLES = "_kis_token_throttles"  # per-call counter kept on tenacity's RetryCallState


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_attempts": (lambda v: _int(v) and v >= 1, "an integer >= 1"),
    "initial": (lambda v: is_number(v) and v >= 0, "a number >= 0"),
    "multiplier": (lambda v: is_number(v) and v >= 1, "a number >= 1"),
    "max_wait": (lambda v: is_number(v) and v >= 0, "a number >= 0"),
    "jitter": (lambda v: is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "token_throttle_wait": (lambda v: is_number(v) and v >= 0, "a number >= 0"),
    "token_throttle_retries": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
}


def _check(label: str, name: str, value: Any) -> None:
    check_setting("retry", _CHECKS, label, name, value)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry (see the module docstring for the maths).

    ``max_attempts`` counts the first try. Invalid values raise
    :class:`~kisresearch.errors.ConfigError` naming the setting and the value.
    """

    max_attempts: int = 6
    initial: float = 0.25
    multiplier: float = 2.0
    max_wait: float = 60.0
    jitter: float = 0.5
    token_throttle_wait: float = 61.0
    token_throttle_retries: int = 2

    def __post_init__(self) -> None:
        for name in _CHECKS:
            _check(name, name, getattr(self, name))

    @classmethod
    def from_env(cls, **overrides: Any) -> RetryPolicy:
        """The defaults, then ``KIS_RETRY_ATTEMPTS`` and ``KIS_RETRY_MAX_WAIT``, then keyword
        arguments (other than ``None``)."""
        known = {f.name for f in fields(cls)}
        for name in overrides:
            if name not in known:
                raise ConfigError(f"unknown retry setting {name!r}")
        values: dict[str, Any] = {}
        raw = env_str("KIS_RETRY_ATTEMPTS")
        if raw is not None:
            try:
                values["max_attempts"] = int(raw)
            except ValueError:
                raise ConfigError(f"KIS_RETRY_ATTEMPTS={raw!r} is not an integer") from None
            _check("KIS_RETRY_ATTEMPTS", "max_attempts", values["max_attempts"])
        max_wait = env_float("KIS_RETRY_MAX_WAIT")
        if max_wait is not None:
            _check("KIS_RETRY_MAX_WAIT", "max_wait", max_wait)
            values["max_wait"] = max_wait
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def is_retryable(exc: BaseException) -> bool:
    """True for rate limits, transient transport faults and EGW00133; False for the rest."""
    if isinstance(exc, APIError):
        return isinstance(exc, RateLimited | TokenThrottled) or exc.msg_cd in RATE_LIMIT_CODES
    if isinstance(exc, BadResponse):
        # a broken body on 200 or 5xx is a passing fault (every call here is a read); a 4xx
        # page says the request itself is wrong
        return not 400 <= exc.status < 500
    return isinstance(exc, TransportError)


def wait_seconds(
    policy: RetryPolicy,
    attempt: int,
    exc: BaseException | None,
    *,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based) raised ``exc``."""
    if isinstance(exc, TokenThrottled):
        return policy.token_throttle_wait
    try:
        base = policy.initial * policy.multiplier ** max(attempt - 1, 0)
    except OverflowError:
        base = math.inf
    base = min(base, policy.max_wait)
    u = (rng or random).random()
    return base * (1.0 - policy.jitter * u)


def _exception(rs: tenacity.RetryCallState) -> BaseException | None:
    return rs.outcome.exception() if rs.outcome is not None else None


def retrying(
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
    rng: random.Random | None = None,
) -> tenacity.Retrying:
    """A ``tenacity.Retrying`` for ``policy``: call it as ``retrying(policy)(fn, *args)``.

    ``on_retry(exc, attempt_number, wait)`` runs before each sleep. ``rng`` makes the jitter
    reproducible in tests.
    """

    def stop(rs: tenacity.RetryCallState) -> bool:
        if isinstance(_exception(rs), TokenThrottled):
            seen = getattr(rs, _THROTTLES, 0) + 1
            setattr(rs, _THROTTLES, seen)
            if seen > policy.token_throttle_retries:
                return True
        return rs.attempt_number >= policy.max_attempts

    def wait(rs: tenacity.RetryCallState) -> float:
        return wait_seconds(policy, rs.attempt_number, _exception(rs), rng=rng)

    def before_sleep(rs: tenacity.RetryCallState) -> None:
        exc = _exception(rs)
        assert exc is not None  # only failed attempts are retried
        log.debug(
            "retry after %s: endpoint=%s tr_id=%s msg_cd=%s attempt=%d/%d wait=%.3fs",
            type(exc).__name__,
            getattr(exc, "endpoint", "") or "-",
            getattr(exc, "tr_id", "") or "-",
            getattr(exc, "msg_cd", "") or "-",
            rs.attempt_number,
            policy.max_attempts,
            rs.upcoming_sleep,
        )
        if on_retry is not None:
            on_retry(exc, rs.attempt_number, rs.upcoming_sleep)

    return tenacity.Retrying(
        stop=stop,
        wait=wait,
        retry=tenacity.retry_if_exception(is_retryable),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


@overload
def retry_on_rate_limit(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def retry_on_rate_limit(
    func: None = None,
    *,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def retry_on_rate_limit(
    func: Callable[P, R] | None = None,
    *,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry your own function that calls KIS, with the toolkit's policy.

    Usable bare (``@retry_on_rate_limit``) or with arguments
    (``@retry_on_rate_limit(policy=RetryPolicy(max_attempts=3))``). Without a ``policy``, the
    environment's (:meth:`RetryPolicy.from_env`) is read at each call; without ``sleep``,
    ``time.sleep`` is looked up at each call too.
    """

    def decorate(f: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(f)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            retryer = retrying(policy or RetryPolicy.from_env(), sleep=sleep or time.sleep)
            return retryer(f, *args, **kwargs)

        return wrapper

    return decorate(func) if func is not None else decorate
