"""Retry policies: classification, backoff, tenacity wiring, the decorator. No real sleeping."""

from __future__ import annotations

import itertools
import logging
import random

import pytest
import tenacity

from kisresearch.errors import (
    APIError,
    BadResponse,
    ConfigError,
    ConnectionFailed,
    CredentialsRejected,
    NotFound,
    RateLimited,
    RequestTimeout,
    TokenInvalid,
    TokenThrottled,
    TransportError,
    api_error,
)
from kisresearch.pipeline.retry import (
    RetryPolicy,
    is_retryable,
    retry_on_rate_limit,
    retrying,
    wait_seconds,
)

FAST = RetryPolicy(initial=0.01)


@pytest.fixture(autouse=True)
def _no_kis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("KIS_"):
            monkeypatch.delenv(name)


class Fixed(random.Random):
    """An rng whose ``random()`` is always ``u``."""

    def __init__(self, u: float) -> None:
        super().__init__()
        self.u = u

    def random(self) -> float:
        return self.u


class Flaky:
    """Raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.raised: list[BaseException] = []

    def __call__(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        if self.errors:
            exc = self.errors.pop(0)
            self.raised.append(exc)
            raise exc
        return "ok"


def rate_limited() -> RateLimited:
    return RateLimited(
        "EGW00201",
        "초당 거래건수를 초과하였습니다.",
        status=500,
        tr_id="FHKST01010100",
        endpoint="quote",
    )


# -- classification --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (rate_limited(), True),
        (api_error("EGW00215", status=500), True),
        (APIError("EGW00201", status=200), True),  # by msg_cd, whatever the class and status
        (api_error("EGW00201", status=200), True),
        (TokenThrottled("EGW00133", status=403), True),
        (ConnectionFailed("reset"), True),
        (RequestTimeout("slow"), True),
        (TransportError("other"), True),
        (BadResponse("html", status=0), True),
        (BadResponse("html", status=502), True),
        (BadResponse("html", status=500), True),
        (BadResponse("html", status=404), False),
        (BadResponse("truncated json", status=200), True),
        (APIError("OPSQ0002", "business"), False),
        (api_error("KIOK0560"), False),
        (NotFound("ZZZ00000"), False),
        (TokenInvalid("EGW00123", status=500), False),
        (CredentialsRejected("EGW00103", status=403), False),
        (ConfigError("bad"), False),
        (ValueError("x"), False),
        (KeyboardInterrupt(), False),
    ],
    ids=lambda v: type(v).__name__ + ("/" + v.msg_cd if isinstance(v, APIError) else ""),
)
def test_is_retryable(exc: BaseException, expected: bool) -> None:
    assert is_retryable(exc) is expected


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_grows_is_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy()
    exc = rate_limited()
    highs = [wait_seconds(policy, n, exc, rng=Fixed(0.0)) for n in range(1, 16)]
    lows = [wait_seconds(policy, n, exc, rng=Fixed(0.999999)) for n in range(1, 16)]
    assert highs[:6] == pytest.approx([0.25, 0.5, 1, 2, 4, 8])
    assert all(b >= a for a, b in itertools.pairwise(highs))  # grows...
    assert max(highs) == 60.0  # ...up to the cap
    assert lows[:3] == pytest.approx([0.125, 0.25, 0.5], rel=1e-5)  # equal jitter: >= half
    rng = random.Random(7)
    for n in range(1, 30):
        w = wait_seconds(policy, n, exc, rng=rng)
        base = min(60.0, 0.25 * 2 ** (n - 1))
        assert base / 2 <= w <= base <= 60.0
    waits = {wait_seconds(policy, 3, exc, rng=rng) for _ in range(20)}
    assert len(waits) > 1  # jittered


def test_backoff_jitter_settings_and_huge_attempts() -> None:
    exc = rate_limited()
    assert wait_seconds(RetryPolicy(jitter=0), 2, exc) == 0.5
    assert wait_seconds(RetryPolicy(jitter=1), 2, exc, rng=Fixed(0.999999)) < 1e-5
    assert wait_seconds(RetryPolicy(multiplier=1e10), 10_000, exc, rng=Fixed(0)) == 60.0
    assert wait_seconds(RetryPolicy(max_wait=5), 30, exc, rng=Fixed(0)) == 5.0


def test_token_throttle_is_waited_out_whatever_the_cap() -> None:
    exc = TokenThrottled("EGW00133", status=403)
    assert wait_seconds(RetryPolicy(), 1, exc) == 61.0
    assert wait_seconds(RetryPolicy(max_wait=5), 4, exc) == 61.0


# -- retrying ---------------------------------------------------------------------------------


def test_retries_then_succeeds_and_reports_each_retry() -> None:
    sleeps: list[float] = []
    seen: list[tuple[BaseException, int, float]] = []
    fn = Flaky(rate_limited(), ConnectionFailed("reset"))
    retryer = retrying(
        FAST, sleep=sleeps.append, on_retry=lambda *a: seen.append(a), rng=Fixed(0.0)
    )
    assert isinstance(retryer, tenacity.Retrying)
    assert retryer(fn, "arg", key="value") == "ok"
    assert fn.calls == 3
    assert sleeps == pytest.approx([0.01, 0.02])
    assert [(e, n) for e, n, _ in seen] == [(fn.raised[0], 1), (fn.raised[1], 2)]
    assert [w for _, _, w in seen] == sleeps


def test_after_the_last_attempt_the_original_error_is_raised() -> None:
    sleeps: list[float] = []
    fn = Flaky(*[rate_limited() for _ in range(10)])
    with pytest.raises(RateLimited) as info:
        retrying(FAST, sleep=sleeps.append)(fn)
    assert info.value is fn.raised[-1]
    assert fn.calls == 6 and len(sleeps) == 5


def test_other_errors_are_raised_at_once() -> None:
    sleeps: list[float] = []
    for exc in (TokenInvalid("EGW00121"), CredentialsRejected("EGW00103"), ValueError("x")):
        fn = Flaky(exc)
        with pytest.raises(type(exc)) as info:
            retrying(FAST, sleep=sleeps.append)(fn)
        assert info.value is exc and fn.calls == 1
    assert sleeps == []


def test_token_throttle_waited_not_hammered() -> None:
    sleeps: list[float] = []
    fn = Flaky(*[TokenThrottled("EGW00133", status=403) for _ in range(10)])
    with pytest.raises(TokenThrottled):
        retrying(RetryPolicy(), sleep=sleeps.append)(fn)
    assert sleeps == [61.0, 61.0]  # two waits of a full minute, then give up
    assert fn.calls == 3
    sleeps.clear()
    mixed = Flaky(TokenThrottled("EGW00133"), rate_limited(), TokenThrottled("EGW00133"))
    assert retrying(RetryPolicy(), sleep=sleeps.append, rng=Fixed(0))(mixed) == "ok"
    assert sleeps == [61.0, 0.5, 61.0]


def test_retry_is_logged_with_context_but_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    fn = Flaky(rate_limited())
    with caplog.at_level(logging.DEBUG, logger="kisresearch.pipeline.retry"):
        retrying(FAST, sleep=lambda s: None, rng=Fixed(0))(fn)
    (record,) = [r for r in caplog.records if r.name == "kisresearch.pipeline.retry"]
    text = record.getMessage()
    for part in (
        "RateLimited",
        "endpoint=quote",
        "tr_id=FHKST01010100",
        "msg_cd=EGW00201",
        "attempt=1/6",
        "wait=0.010s",
    ):
        assert part in text
    assert record.levelno == logging.DEBUG


def test_one_retrying_object_serves_many_calls() -> None:
    retryer = retrying(RetryPolicy(), sleep=lambda s: None)
    for _ in range(3):  # the throttle count is per call, not per object
        fn = Flaky(TokenThrottled("EGW00133"), TokenThrottled("EGW00133"))
        assert retryer(fn) == "ok"


# -- policy settings ----------------------------------------------------------------------------


def test_policy_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RetryPolicy.from_env() == RetryPolicy()
    monkeypatch.setenv("KIS_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("KIS_RETRY_MAX_WAIT", "10")
    assert RetryPolicy.from_env() == RetryPolicy(max_attempts=3, max_wait=10)
    assert RetryPolicy.from_env(max_attempts=9, max_wait=None).max_attempts == 9


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("KIS_RETRY_ATTEMPTS", "many"),
        ("KIS_RETRY_ATTEMPTS", "0"),
        ("KIS_RETRY_ATTEMPTS", "2.5"),
        ("KIS_RETRY_MAX_WAIT", "-1"),
        ("KIS_RETRY_MAX_WAIT", "soon"),
        ("KIS_RETRY_MAX_WAIT", "inf"),
    ],
)
def test_policy_from_env_rejects_nonsense(
    monkeypatch: pytest.MonkeyPatch, var: str, raw: str
) -> None:
    monkeypatch.setenv(var, raw)
    with pytest.raises(ConfigError) as info:
        RetryPolicy.from_env()
    assert var in str(info.value) and raw in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": True},
        {"initial": -1},
        {"multiplier": 0.5},
        {"max_wait": -1},
        {"jitter": 1.5},
        {"token_throttle_wait": -61},
        {"token_throttle_retries": -1},
    ],
)
def test_policy_validation_names_the_setting(kwargs: dict[str, object]) -> None:
    ((name, value),) = kwargs.items()
    with pytest.raises(ConfigError, match=f"{name}={value!r}"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown retry setting"):
        RetryPolicy.from_env(attempts=3)


# -- the decorator ------------------------------------------------------------------------------


def test_decorator_with_arguments() -> None:
    sleeps: list[float] = []
    fn = Flaky(rate_limited(), rate_limited())

    @retry_on_rate_limit(policy=RetryPolicy(max_attempts=3, initial=0.01), sleep=sleeps.append)
    def my_call(symbol: str) -> str:
        """Fetch one symbol."""
        return fn(symbol)

    assert my_call("005930") == "ok"
    assert fn.calls == 3 and len(sleeps) == 2
    assert my_call.__name__ == "my_call" and my_call.__doc__ == "Fetch one symbol."


def test_decorator_bare_uses_the_environment_and_time_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("time.sleep", sleeps.append)
    fn = Flaky(rate_limited(), rate_limited(), rate_limited())

    @retry_on_rate_limit
    def my_call() -> str:
        return fn()

    assert my_call() == "ok"
    assert len(sleeps) == 3 and all(0.125 <= s <= 1.0 for s in sleeps)
    assert my_call.__name__ == "my_call"
    monkeypatch.setenv("KIS_RETRY_ATTEMPTS", "1")  # read at call time
    fn = Flaky(rate_limited())
    with pytest.raises(RateLimited):
        my_call()
    assert fn.calls == 1
