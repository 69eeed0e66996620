"""The limiter's pure parts: config, state, decide, penalize; property tests on arrivals."""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kisresearch.errors import ConfigError
from kisresearch.pipeline.ratelimit import (
    LimiterConfig,
    LimiterState,
    decide,
    effective_rate,
    penalize,
)
from kisresearch.pipeline.ratelimit.decide import MAX_AHEAD

T0 = 1_700_000_000.0
REAL = LimiterConfig(rate=20)
PAPER = LimiterConfig(rate=2)


@pytest.fixture(autouse=True)
def _no_kis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("KIS_"):
            monkeypatch.delenv(name)


def run(
    cfg: LimiterConfig, n: int, now: float = T0, state: LimiterState | None = None, cost: int = 1
) -> tuple[LimiterState, list[float]]:
    """``n`` callers arriving together at ``now``: their reserved start times."""
    state = state or LimiterState()
    starts = []
    for _ in range(n):
        state, wait = decide(state, now, cfg, cost)
        starts.append(now + wait)
    return state, starts


def max_in_window(times: list[float], width: float) -> int:
    """Most of ``times`` in any half-open window ``[t, t + width)``."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + width) - i for i, t in enumerate(times)), default=0)


# -- config --------------------------------------------------------------------------------


def test_defaults_reach_97_percent_with_a_30ms_allowance() -> None:
    assert REAL.ceiling == pytest.approx(19.4)
    assert REAL.guard_limit == 20
    assert REAL.guard_window == pytest.approx(1.03)
    assert REAL.min_gap == pytest.approx(0.025)
    assert REAL.recovery == pytest.approx(1.0)
    assert REAL.min_rate == pytest.approx(2.0)
    # spacing alone already satisfies the guard: L gaps of 1/(rate*margin) span >= P + J
    assert REAL.guard_limit * REAL.period / REAL.ceiling >= REAL.guard_window
    assert PAPER.guard_limit == 2 and PAPER.ceiling == pytest.approx(1.94)
    assert LimiterConfig(rate=0.5).guard_limit == 1


def test_for_env_rates_and_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LimiterConfig.for_env("real").rate == 20
    assert LimiterConfig.for_env("paper").rate == 2
    monkeypatch.setenv("KIS_RATE_LIMIT", "10")
    monkeypatch.setenv("KIS_RATE_MARGIN", "0.9")
    monkeypatch.setenv("KIS_MIN_INTERVAL", "0.2")
    monkeypatch.setenv("KIS_WINDOW_LIMIT", "8")
    monkeypatch.setenv("KIS_JITTER_ALLOWANCE", "0.05")
    monkeypatch.setenv("KIS_ADAPTIVE", "off")
    cfg = LimiterConfig.for_env("real")
    assert (cfg.rate, cfg.margin, cfg.min_interval, cfg.window_limit) == (10, 0.9, 0.2, 8)
    assert (cfg.jitter_allowance, cfg.adaptive) == (0.05, False)
    # arguments win over the environment; None means "not given"
    cfg = LimiterConfig.for_env("paper", margin=0.8, window_limit=None, adaptive=True)
    assert (cfg.margin, cfg.window_limit, cfg.adaptive) == (0.8, 8, True)


@pytest.mark.parametrize(
    ("var", "raw", "words"),
    [
        ("KIS_RATE_MARGIN", "1.5", ["KIS_RATE_MARGIN", "1.5", "(0, 1]"]),
        ("KIS_RATE_MARGIN", "0", ["KIS_RATE_MARGIN", "0"]),
        ("KIS_RATE_MARGIN", "lots", ["KIS_RATE_MARGIN", "lots"]),
        ("KIS_RATE_LIMIT", "-3", ["KIS_RATE_LIMIT", "-3"]),
        ("KIS_MIN_INTERVAL", "-0.1", ["KIS_MIN_INTERVAL", "-0.1"]),
        ("KIS_JITTER_ALLOWANCE", "-1", ["KIS_JITTER_ALLOWANCE", "-1"]),
        ("KIS_WINDOW_LIMIT", "2.5", ["KIS_WINDOW_LIMIT", "2.5"]),
        ("KIS_WINDOW_LIMIT", "0", ["KIS_WINDOW_LIMIT", "0"]),
        ("KIS_ADAPTIVE", "maybe", ["KIS_ADAPTIVE", "maybe"]),
    ],
)
def test_for_env_rejects_nonsense_naming_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, var: str, raw: str, words: list[str]
) -> None:
    monkeypatch.setenv(var, raw)
    with pytest.raises(ConfigError) as info:
        LimiterConfig.for_env("real")
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"rate": 0}, ["rate=0"]),
        ({"rate": -20}, ["rate=-20"]),
        ({"rate": math.nan}, ["rate=nan"]),
        ({"rate": 20, "margin": 0}, ["margin=0"]),
        ({"rate": 20, "margin": 1.01}, ["margin=1.01", "(0, 1]"]),
        ({"rate": 20, "period": 0}, ["period=0"]),
        ({"rate": 20, "min_interval": -1}, ["min_interval=-1"]),
        ({"rate": 20, "jitter_allowance": -0.03}, ["jitter_allowance=-0.03"]),
        ({"rate": 20, "window_limit": 0}, ["window_limit=0"]),
        ({"rate": 20, "decrease": 0}, ["decrease=0"]),
        ({"rate": 20, "recover": -1}, ["recover=-1"]),
        ({"rate": 20, "floor": 0}, ["floor=0"]),
        ({"rate": 20, "floor": 25}, ["floor=25"]),
        ({"rate": 20, "adaptive": "yes"}, ["adaptive='yes'"]),
    ],
)
def test_config_validation(kwargs: dict[str, object], words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        LimiterConfig(**kwargs)  # type: ignore[arg-type]
    for word in words:
        assert word in str(info.value)


def test_for_env_rejects_unknown_environment_and_setting() -> None:
    with pytest.raises(ConfigError, match="'demo'"):
        LimiterConfig.for_env("demo")
    with pytest.raises(ConfigError, match="'speed'"):
        LimiterConfig.for_env("real", speed=3)


# -- state ---------------------------------------------------------------------------------


def test_state_json_round_trip() -> None:
    state, _ = run(REAL, 5)
    state = penalize(state, T0 + 0.1, REAL)
    text = state.to_json()
    assert json.loads(text)["v"] == 1
    assert LimiterState.from_json(text) == state
    assert LimiterState.from_json(text.encode()) == state
    assert LimiterState.from_json(LimiterState().to_json()) == LimiterState()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{}",
        '{"v": 2, "tat": 0, "starts": []}',
        '{"v": 1, "tat": "x", "starts": []}',
        '{"v": 1, "tat": 0, "starts": [1, "a"]}',
        '{"v": 1, "tat": 0, "starts": [], "rate": -1}',
        "not json",
    ],
)
def test_state_from_json_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        LimiterState.from_json(text)


def test_state_stays_small() -> None:
    state, _ = run(REAL, 500)
    assert len(state.starts) == REAL.guard_limit
    assert len(state.to_json()) < 600


# -- decide ----------------------------------------------------------------------------------


def test_spacing_at_rate_times_margin() -> None:
    _, starts = run(REAL, 10)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert starts[0] == T0
    assert gaps == pytest.approx([1 / 19.4] * 9, abs=1e-6)  # floats at epoch: ulp ~2e-7
    _, starts = run(PAPER, 3)
    assert [s - T0 for s in starts] == pytest.approx([0, 1 / 1.94, 2 / 1.94], abs=1e-6)


def test_first_call_after_idle_goes_at_once() -> None:
    state, _ = run(REAL, 30)
    state, wait = decide(state, T0 + 60, REAL)
    assert wait == 0
    assert state.starts == (T0 + 60,)  # old starts pruned


def test_callers_queue_in_order_and_the_clock_moving_changes_nothing() -> None:
    state, wait1 = decide(LimiterState(), T0, REAL)
    state, wait2 = decide(state, T0 + 0.01, REAL)
    assert wait1 == 0
    assert T0 + 0.01 + wait2 == pytest.approx(T0 + 1 / 19.4)


def test_window_guard_catches_bunching() -> None:
    # margin 1: spacing alone would put the 21st start at exactly 1.000 s
    cfg = LimiterConfig(rate=20, margin=1.0)
    _, starts = run(cfg, 21)
    assert starts[19] - starts[0] == pytest.approx(0.95)
    assert starts[20] - starts[0] >= cfg.guard_window
    assert max_in_window(starts, cfg.guard_window) <= cfg.guard_limit


def test_window_guard_against_a_burst_from_another_sharer() -> None:
    # a sharer with looser settings left 20 starts within 100 ms
    burst = tuple(T0 + i * 0.005 for i in range(20))
    state = LimiterState(tat=T0 + 0.1, starts=burst)
    _, wait = decide(state, T0 + 0.1, REAL)
    assert T0 + 0.1 + wait == pytest.approx(T0 + REAL.guard_window, abs=1e-5)


def test_min_interval_is_a_floor_on_spacing() -> None:
    cfg = LimiterConfig(rate=20, min_interval=0.2)
    _, starts = run(cfg, 4)
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([0.2] * 3, abs=1e-6)
    # ...even when it is longer than the guard window
    _, starts = run(LimiterConfig(rate=20, min_interval=2.0), 3)
    assert [s - T0 for s in starts] == pytest.approx([0, 2, 4], abs=1e-6)
    # the derived default never binds: the GCRA's spacing is wider
    assert REAL.min_gap < REAL.period / REAL.ceiling


def test_cost_reserves_several_calls_at_once() -> None:
    state, wait = decide(LimiterState(), T0, REAL, cost=3)
    assert wait == 0
    assert state.starts == (T0, T0, T0)
    assert state.tat == pytest.approx(T0 + 3 / 19.4)
    _, wait = decide(state, T0, REAL, cost=1)
    assert wait == pytest.approx(3 / 19.4)


def test_cost_counts_against_the_window_guard() -> None:
    cfg = LimiterConfig(rate=4, margin=1.0)  # guard: 4 starts per 1.03 s
    state, waits = LimiterState(), []
    for cost in (3, 2):
        state, wait = decide(state, T0, cfg, cost)
        waits.append(wait)
    # 3 + 2 > 4: the second reservation waits until the first has left the guard window
    assert waits[0] == 0 and waits[1] >= cfg.guard_window


@pytest.mark.parametrize("cost", [0, -1, 21, 1.5])
def test_impossible_cost_is_rejected(cost: int) -> None:
    with pytest.raises(ConfigError, match="cost"):
        decide(LimiterState(), T0, REAL, cost)


def test_decide_is_pure() -> None:
    state = LimiterState(tat=T0 + 0.2, starts=(T0, T0 + 0.1))
    assert decide(state, T0, REAL) == decide(state, T0, REAL)
    assert state == LimiterState(tat=T0 + 0.2, starts=(T0, T0 + 0.1))


def test_state_far_in_the_future_is_clamped_to_now() -> None:
    ahead = T0 + 3000  # under the old one-hour bound: every sharer stalled ~50 minutes
    state = LimiterState(tat=ahead, starts=(ahead,) * 20)
    assert MAX_AHEAD < 3000
    _, wait = decide(state, T0, REAL)
    assert 0 < wait <= REAL.guard_window + 1e-6  # clamped starts count as sent now: a window


# -- adaptive ------------------------------------------------------------------------------


def test_penalty_halves_the_rate_at_most_once_per_period() -> None:
    state = penalize(LimiterState(), T0, REAL)
    assert effective_rate(state, T0, REAL) == pytest.approx(9.7)
    same = penalize(state, T0 + 0.5, REAL)  # the same overload's other rejections
    assert same is state
    later = penalize(state, T0 + 1.0, REAL)
    # 9.7 regained 1.0/s for a second, then halved
    assert effective_rate(later, T0 + 1.0, REAL) == pytest.approx(10.7 / 2)


def test_penalties_stop_at_the_floor() -> None:
    state = LimiterState()
    for i in range(20):
        state = penalize(state, T0 + i * 1.0, REAL)
    assert effective_rate(state, T0 + 19, REAL) == pytest.approx(REAL.min_rate)


def test_additive_recovery_back_to_the_ceiling() -> None:
    state = penalize(LimiterState(), T0, REAL)
    assert effective_rate(state, T0 + 4, REAL) == pytest.approx(9.7 + 4.0)
    assert effective_rate(state, T0 + 9.7, REAL) == pytest.approx(19.4)
    assert effective_rate(state, T0 + 100, REAL) == pytest.approx(19.4)
    # the spacing follows the adaptive rate
    s, _wait = decide(state, T0, REAL)
    assert s.tat - T0 == pytest.approx(1 / 9.7, abs=1e-6)
    # once fully recovered, decide forgets the penalty
    s, _ = decide(state, T0 + 20, REAL)
    assert s.rate is None
    assert s.penalized_at == T0


def test_not_adaptive_ignores_penalties() -> None:
    cfg = LimiterConfig(rate=20, adaptive=False)
    state = LimiterState()
    assert penalize(state, T0, cfg) is state
    penalized = penalize(state, T0, REAL)
    assert effective_rate(penalized, T0, cfg) == pytest.approx(19.4)
    # ...and does not erase another sharer's penalty
    assert decide(penalized, T0, cfg)[0].rate == penalized.rate


# -- properties ----------------------------------------------------------------------------

RATES = st.sampled_from([2.0, 3.0, 5.0, 10.0, 20.0])
# arrival delays: anywhere in [0, J], with the extremes (the worst case) well represented
DELAY = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))


@settings(max_examples=150, deadline=None, database=None)
@given(
    rate=RATES,
    allowance=st.sampled_from([0.0, 0.01, 0.03, 0.05]),
    margin=st.sampled_from([0.9, 0.97, 1.0]),
    events=st.lists(
        st.tuples(
            st.floats(0.0, 0.3),  # gap before the next request
            st.integers(1, 2),  # cost
            DELAY,
            st.booleans(),  # a rejection is reported just before it
        ),
        min_size=5,
        max_size=250,
    ),
)
def test_arrivals_never_exceed_the_limit_in_any_period(
    rate: float, allowance: float, margin: float, events: list[tuple[float, int, float, bool]]
) -> None:
    cfg = LimiterConfig(rate=rate, margin=margin, jitter_allowance=allowance)
    state, now, arrivals = LimiterState(), T0, []
    for gap, cost, delay, rejected in events:
        now += gap
        if rejected:
            state = penalize(state, now, cfg)
        state, wait = decide(state, now, cfg, cost)
        arrivals += [now + wait + delay * allowance] * cost
    assert max_in_window(arrivals, cfg.period) <= math.floor(rate)


@settings(max_examples=30, deadline=None, database=None)
@given(rate=RATES, allowance=st.floats(0.0, 0.03), seed=st.integers(0, 2**32 - 1))
def test_sustained_throughput_is_at_least_95_percent(
    rate: float, allowance: float, seed: int
) -> None:
    cfg = LimiterConfig(rate=rate, jitter_allowance=allowance)
    rnd = random.Random(seed)
    state, now, arrivals = LimiterState(), T0, []
    for _ in range(1500):  # a backlogged caller: asks again the moment it may send
        state, wait = decide(state, now, cfg)
        now += wait
        arrivals.append(now + rnd.uniform(0, allowance))
    assert max_in_window(arrivals, cfg.period) <= math.floor(rate)
    arrivals.sort()
    throughput = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert throughput >= 0.95 * rate


def test_throughput_with_a_larger_allowance_comes_from_the_guard() -> None:
    # J = 50 ms with the default margin: the guard binds, 20 per 1.05 s = 95.2 %
    cfg = LimiterConfig(rate=20, jitter_allowance=0.05)
    _, starts = run(cfg, 2000)
    assert max_in_window(starts, cfg.guard_window) <= 20
    assert (len(starts) - 1) / (starts[-1] - starts[0]) >= 0.95 * 20
