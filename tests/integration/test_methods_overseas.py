"""Overseas quotes and bars end to end against the simulator."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.sim import Simulator
from kisresearch.sim.overseas import _exchange_days


@pytest.fixture
def sim(home):
    with Simulator(rate=200) as s:
        yield s


@pytest.fixture
def kis(sim):
    with kr.KIS(simulator=sim, cache=False, progress=False) as client:
        yield client


def test_overseas_quotes(kis, sim):
    df = kis.overseas_quotes(["aapl", "MSFT", "ZZZZ"])
    assert list(df.index) == ["AAPL", "MSFT", "ZZZZ"]
    ok = df.loc[["AAPL", "MSFT"]]
    assert ok["error"].isna().all() and (ok["exchange"] == "NAS").all()
    assert df["price"].dtype == "float64" and (ok["price"] > 0).all()
    assert (ok["change"] - (ok["price"] - ok["prev_close"])).abs().max() < 1e-6
    assert df.loc["ZZZZ", "error"].startswith("NOTFOUND")
    assert sim.truth()["by_tr_id"] == {"HHDFS00000300": 3}
    hk = kis.overseas_quotes("00700", exchange="hks")
    assert hk.loc["00700", "exchange"] == "HKS" and hk["error"].isna().all()


def test_overseas_history_pages_without_seams(kis, sim):
    start, end = date(2023, 6, 1), date(2024, 6, 28)
    df = kis.overseas_history(["AAPL", "ZZZZ"], start=start, end=end)
    aapl = df[df["symbol"] == "AAPL"]
    expected = [d for d in _exchange_days(2025) if start <= d <= end]
    assert len(expected) > 200  # three pages
    assert [d.date() for d in aapl["date"]] == expected
    assert sim.truth()["by_tr_id"]["HHDFS76240000"] == 3 + 1
    assert aapl["change"].iloc[1:].to_numpy() == pytest.approx(
        aapl["close"].diff().iloc[1:].to_numpy()
    )
    assert df[df["symbol"] == "ZZZZ"]["error"].item().startswith("NOTFOUND")
    assert df.attrs["tr_id"] == "HHDFS76240000"


def test_overseas_weekly_across_a_seam_matches_daily(kis, sim):
    start, end = "2022-01-03", "2024-06-28"  # about 130 weeks
    weekly = kis.overseas_history("MSFT", start=start, end=end, interval="W")
    assert sim.truth()["by_tr_id"]["HHDFS76240000"] == 2
    daily = kis.overseas_history("MSFT", start=start, end=end)
    groups = daily.groupby(daily["date"].dt.to_period("W"))
    expected = pd.DataFrame(
        {
            "date": groups["date"].max(),
            "open": groups["open"].first(),
            "close": groups["close"].last(),
            "high": groups["high"].max(),
            "low": groups["low"].min(),
            "volume": groups["volume"].sum(),
        }
    )
    cols = ["date", "open", "close", "high", "low", "volume"]
    pd.testing.assert_frame_equal(weekly[cols], expected.reset_index(drop=True)[cols])


def test_overseas_history_defaults_to_a_year_and_takes_yfinances_names(kis):
    today = kis.pipeline.today()
    year = kis.overseas_history("AAPL")
    assert year["error"].isna().all() and len(year) > 200
    assert year["date"].min().date() >= today.replace(year=today.year - 1)
    monthly = kis.overseas_history("AAPL", period="ytd", interval="1mo")
    assert monthly["date"].min().year == today.year or monthly["error"].notna().all()


def test_overseas_history_up_to_today(kis, sim):
    df = kis.overseas_history("SPY", "AMS", start=date.today() - timedelta(days=10))
    assert sim.truth()["by_tr_id"]["HHDFS76240000"] == 1
    assert df["error"].isna().all() and (df["exchange"] == "AMS").all()
