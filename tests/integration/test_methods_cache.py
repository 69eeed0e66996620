"""Cache provenance and resume: every method reads its answers back from the cache on a second
call (``from_cache`` all True, no new request), ``refresh=True`` / ``cache=False`` go to the
server, and an interrupted bulk pull, run again, fetches only what is missing."""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable
from datetime import date

import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.pipeline import flow
from kisresearch.sim import Simulator
from kisresearch.sim.timebase import Session, trading_days
from kisresearch.timebase import latest_session, settled_day


@pytest.fixture
def sim(home):
    with Simulator(rate=200) as s:
        yield s


@pytest.fixture
def kis(sim):
    with kr.KIS(simulator=sim, progress=False) as client:  # the cache in the private home
        yield client


def last_week(sim) -> date:
    today = Session(sim.clock.now_kst()).day
    return [d for d in trading_days(today) if d < today][-5]


CALLS: dict[str, Callable[[kr.KIS, date], pd.DataFrame]] = {
    "history": lambda k, d: k.history(["005930", "000660"], "2023-01-01", "2023-12-31"),
    "history_to_today": lambda k, d: k.history("005930", d),
    "minute_bars_past": lambda k, d: k.minute_bars("005930", date=d, start="09:00", end="11:00"),
    "minute_bars_today": lambda k, d: k.minute_bars("005930", start="09:00", end="09:40"),
    "orderbook": lambda k, d: k.orderbook(["005930", "000660"]),
    "investors": lambda k, d: k.investors("005930"),
    "info": lambda k, d: k.info(["005930", "000660"]),
    "quotes": lambda k, d: k.quotes(["005930", "000660"]),
    "overseas_quotes": lambda k, d: k.overseas_quotes(["AAPL", "MSFT"]),
    "overseas_history": lambda k, d: k.overseas_history(
        "AAPL", start="2023-01-01", end="2023-12-31"
    ),
}


@pytest.mark.parametrize("method", list(CALLS))
def test_second_call_comes_from_the_cache(kis, sim, method):
    call = CALLS[method]
    day = last_week(sim)
    first = call(kis, day)
    sent = sim.truth()["accepted"]
    assert sent > 0 and not first["from_cache"].any() and first["error"].isna().all()
    again = call(kis, day)
    now = sim.now()
    running = method == "history_to_today" and settled_day(now) < latest_session(now)
    if running:  # its bar is still changing: asked again, the settled days read back
        assert sim.truth()["accepted"] == sent + 1 and not again["from_cache"].iloc[-1]
        assert again.attrs["from_store"] == len(again) - 1
        return
    assert sim.truth()["accepted"] == sent  # zero new requests
    assert again["from_cache"].all()
    if "from_store" in again.attrs:  # daily bars come back from the bar store, not as pages
        assert again.attrs["from_store"] == len(again) and again.attrs["answers"] == 0
    else:
        assert again.attrs["from_cache"] == again.attrs["answers"] == first.attrs["answers"]
    values = [c for c in first.columns if c not in ("from_cache", "fetched_at")]
    pd.testing.assert_frame_equal(first[values], again[values])
    assert (again["fetched_at"] == first["fetched_at"]).all()  # the original fetch time


@pytest.mark.parametrize("option", [{"refresh": True}, {"cache": False}])
def test_refresh_and_no_cache_go_to_the_server(kis, sim, option):
    kis.history("005930", "2023-01-01", "2023-03-31")
    sent = sim.truth()["accepted"]
    df = kis.history("005930", "2023-01-01", "2023-03-31", **option)
    assert sim.truth()["accepted"] == sent + 1 and not df["from_cache"].any()
    again = kis.history("005930", "2023-01-01", "2023-03-31")
    assert again["from_cache"].all()  # refresh stored its answer; cache=False left it alone


def test_rows_say_which_answers_came_from_the_cache(kis, sim):
    kis.history("005930", "2023-01-01", "2023-12-31")
    df = kis.history(["005930", "000660"], "2023-01-01", "2023-12-31")
    assert sim.truth()["by_tr_id"]["FHKST03010100"] == 3 + 3
    cached = df["symbol"] == "005930"
    assert df.loc[cached, "from_cache"].all() and not df.loc[~cached, "from_cache"].any()
    # 005930's bars come from the bar store, 000660's in three fresh pages
    assert df.attrs["from_store"] == cached.sum() and df.attrs["answers"] == 3


def test_interrupted_pull_resumes_with_only_what_is_missing(sim, monkeypatch):
    codes = kr.universe().query("group == 'ST'")["symbol"].head(8).tolist()
    span = ("2023-01-01", "2023-08-31")  # about 165 trading days: two pages a symbol
    pages = 2 * len(codes)
    with kr.KIS(simulator=sim, progress=False, workers=2) as kis:
        real = kis.pipeline.fetch
        seen: list[int] = []
        lock = threading.Lock()

        def fetch(*args: object, **kwargs: object) -> object:
            with lock:
                if not flow._CACHE_ONLY.get():  # the cache-only try before the pool: not a call
                    seen.append(1)
                if len(seen) == 5:  # two symbols done, the third begun
                    _thread.interrupt_main()  # Ctrl-C, from inside a batch item
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(kis.pipeline, "fetch", fetch)
        with pytest.raises(kr.BatchInterrupted) as info:
            kis.history(codes, *span)
        kis.pipeline.runner.close()  # let the calls already running finish (and be cached)
        monkeypatch.undo()
        outcomes = info.value.outcomes
        assert any(o.ok for o in outcomes) and not all(o.ok for o in outcomes)
        first = sim.truth()["by_tr_id"]["FHKST03010100"]
        assert 0 < first < pages

        df = kis.history(codes, *span)
    second = sim.truth()["by_tr_id"]["FHKST03010100"] - first
    assert first + second == pages  # nothing fetched twice
    assert df["error"].isna().all() and list(dict.fromkeys(df["symbol"])) == codes
    days = [d for d in trading_days(date(2023, 8, 31)) if d.year == 2023 and d.month <= 8]
    assert df.groupby("symbol")["date"].nunique().eq(len(days)).all()
    assert df["from_cache"].any() and not df["from_cache"].all()
    assert df.attrs["from_store"] == df["from_cache"].sum()  # the symbols finished before


def test_balance_is_never_read_from_the_cache(kis, sim):
    kis.balance()
    again, _ = kis.balance()
    assert again.attrs["from_cache"] == 0 and sim.truth()["by_tr_id"]["TTTC8434R"] == 4


def test_a_long_pull_uses_no_item_timeout_by_default(kis, sim):
    assert kis.pipeline.runner.timeout is None
    with pytest.raises(ValueError, match="item_timeout"):
        kr.KIS(simulator=sim, item_timeout=0)


def test_a_warm_pull_is_read_before_the_pool_and_a_cold_one_goes_straight_to_it(kis, sim):
    codes = kr.universe()["symbol"].head(40).tolist()
    kis.quotes(codes, detail=True)  # cold: 16 misses in a row, then the pool for all 40
    assert kis.cache.stats()["misses"] == 40 and sim.truth()["accepted"] == 40  # counted once
    batches = len(kis.pipeline.runner.history)
    warm = kis.quotes(codes, detail=True)
    # was: 100 cached answers put through 100 futures of the pool, 65 ms of a 95-ms call
    assert warm["from_cache"].all() and len(kis.pipeline.runner.history) == batches
    assert kis.cache.stats()["hits"] == 40 and sim.truth()["accepted"] == 40
    half = kis.quotes([*codes[:20], *kr.universe()["symbol"].iloc[40:60]], detail=True)
    assert half["from_cache"].sum() == 20 and sim.truth()["accepted"] == 60  # the rest pooled
