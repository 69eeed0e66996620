"""The domestic methods end to end over HTTP against the simulator: paging seams, shapes,
unknown symbols, cross-checks between endpoints."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.sim import Simulator
from kisresearch.sim.timebase import Session, trading_days


@pytest.fixture
def sim(home):
    with Simulator(rate=200) as s:  # the limit is not the point here
        yield s


@pytest.fixture
def kis(sim):
    with kr.KIS(simulator=sim, cache=False, progress=False) as client:
        yield client


def calls(sim, tr_id: str) -> int:
    return int(sim.truth()["by_tr_id"].get(tr_id, 0))


def days_between(start: date, end: date) -> list[date]:
    return [d for d in trading_days(end) if start <= d <= end]


def session(sim) -> Session:
    return Session(sim.clock.now_kst())


# --- history --------------------------------------------------------------------------------


def test_history_250_days_is_three_pages_without_seams(kis, sim):
    days = [d for d in trading_days(date(2023, 12, 31)) if d.year >= 2022][:250]
    df = kis.history("005930", days[0], days[-1])
    assert calls(sim, "FHKST03010100") == 3  # 100 + 100 + 50
    assert [d.date() for d in df["date"]] == days  # none duplicated, none dropped, in order
    assert df["error"].isna().all() and df["close"].dtype == "int64"
    assert (df["symbol"] == "005930").all()
    assert df.attrs["answers"] == 3 and df.attrs["tr_id"] == "FHKST03010100"


def test_history_takes_yfinances_spans_and_intervals(kis, sim):
    today = kis.pipeline.today()
    year = kis.history("005930")  # no span given: one year up to today
    a_year_ago = today.replace(year=today.year - 1)
    same = kis.history("005930", start=a_year_ago)
    where = ["from_cache", "fetched_at"]  # the second call reads the bar store
    pd.testing.assert_frame_equal(year.drop(columns=where), same.drop(columns=where))
    assert year["date"].min().date() >= a_year_ago and len(year) > 200
    two = kis.history("005930", period="2y", interval="1d")
    assert two["date"].min().date() >= today.replace(year=today.year - 2)
    assert len(two) > len(year) + 200
    weekly = kis.history("005930", period="6mo", interval="1wk")
    assert (
        weekly["close"].tolist()
        == kis.history("005930", period="6mo", interval="W")["close"].tolist()
    )
    assert kis.history("005930", period="5d")["date"].nunique() == 5


def test_history_of_many_symbols_is_long_and_in_the_order_asked(kis, sim):
    df = kis.history(["000660", "005930", "000660", "999999"], "2024-03-01", "2024-03-31")
    assert list(dict.fromkeys(df["symbol"])) == ["000660", "005930", "999999"]
    for code in ("000660", "005930"):
        part = df[df["symbol"] == code]
        assert part["date"].is_monotonic_increasing and part["date"].is_unique
        assert len(part) == len(days_between(date(2024, 3, 1), date(2024, 3, 31)))
    bad = df[df["symbol"] == "999999"]
    assert len(bad) == 1 and bad["error"].item().startswith("NOTFOUND")
    assert pd.isna(bad["date"].item()) and df["close"].dtype == "Int64"


def aggregate(daily: pd.DataFrame, freq: str) -> pd.DataFrame:
    groups = daily.groupby(daily["date"].dt.to_period(freq))
    return pd.DataFrame(
        {
            "date": groups["date"].max(),
            "open": groups["open"].first(),
            "high": groups["high"].max(),
            "low": groups["low"].min(),
            "close": groups["close"].last(),
            "volume": groups["volume"].sum(),
        }
    ).reset_index(drop=True)


def test_weekly_bars_across_a_page_seam_match_the_daily_bars(kis, sim):
    start, end = "2021-01-01", "2023-06-30"  # about 130 weeks: two pages
    weekly = kis.history("000660", start, end, interval="W")
    assert calls(sim, "FHKST03010100") == 2
    daily = kis.history("000660", start, end)
    expected = aggregate(daily, "W")
    cols = ["date", "open", "high", "low", "close", "volume"]
    pd.testing.assert_frame_equal(weekly[cols], expected[cols], check_dtype=False)


def test_monthly_bars_across_a_page_seam(kis, sim):
    monthly = kis.history("005930", "2015-01-01", "2024-06-30", interval="M")
    assert calls(sim, "FHKST03010100") == 2 and len(monthly) == 114
    months = monthly["date"].dt.to_period("M")
    assert months.is_unique and (months.diff().iloc[1:] == months.iloc[1] - months.iloc[0]).all()
    # the seam (page 2 ends Feb 2016) against one call that holds the four months whole
    around = kis.history("005930", "2016-01-01", "2016-04-30", interval="M")
    cols = ["date", "open", "high", "low", "close", "volume"]
    seam = monthly[(monthly["date"] >= "2016-01-01") & (monthly["date"] <= "2016-04-30")]
    pd.testing.assert_frame_equal(seam[cols].reset_index(drop=True), around[cols])


def test_yearly_bars(kis):
    df = kis.history("005930", "2015-01-01", "2024-12-31", interval="Y")
    assert df["date"].dt.year.tolist() == list(range(2015, 2025))


def test_adjusted_and_raw_differ_across_a_split(kis):
    # 035720 split 1:5 on 2021-04-15 in the simulator's universe
    adj = kis.history("035720", "2021-04-01", "2021-04-30").set_index("date")
    raw = kis.history("035720", "2021-04-01", "2021-04-30", adjusted=False).set_index("date")
    before, after = adj.index < "2021-04-15", adj.index >= "2021-04-15"
    assert ((raw["close"] / adj["close"])[before].round() == 5).all()
    assert (raw["volume"][before] * 5 == adj["volume"][before]).all()
    assert (
        (raw.loc[after, ["open", "close", "volume"]] == adj.loc[after, ["open", "close", "volume"]])
        .all()
        .all()
    )
    assert adj.loc["2021-04-15", "modified"] and not raw["modified"].any()


def test_empty_range_is_one_error_row(kis):
    df = kis.history(["005930"], "2024-01-01", "2024-01-01")  # New Year's Day
    assert len(df) == 1 and df["error"].item() == "no bars from 2024-01-01 to 2024-01-01"


def test_end_defaults_to_today(kis, sim):
    df = kis.history("005930", date.today() - timedelta(days=10))
    assert df["date"].max().date() == session(sim).day


def test_history_of_100_symbols_runs_through_the_batch_engine(kis, sim):
    codes = kr.universe().query("group == 'ST'")["symbol"].head(100)
    df = kis.history(codes, "2024-01-01", "2024-12-31")
    truth = sim.truth()
    assert truth["by_tr_id"]["FHKST03010100"] == 300 and truth["rejected"] == 0
    assert (
        df.groupby("symbol")
        .size()
        .eq(len(days_between(date(2024, 1, 1), date(2024, 12, 31))))
        .all()
    )
    assert kis.pipeline.runner.history[-1].desc == "history"  # pooled: batches were recorded


# --- minute bars ----------------------------------------------------------------------------


def past_day(sim, back: int = 5) -> date:
    today = session(sim).day
    return [d for d in trading_days(today) if d < today][-back]


def test_past_day_minute_bars_page_and_add_up_to_the_daily_bar(kis, sim):
    day = past_day(sim)
    df = kis.minute_bars(["005930"], date=day)
    assert calls(sim, "FHKST03010230") == 4  # 391 bars, 120 a call
    expected = pd.date_range(f"{day} 09:00", f"{day} 15:30", freq="min", tz="Asia/Seoul")
    assert df["time"].tolist() == list(expected)
    bar = kis.history("005930", day, day, adjusted=False).iloc[0]
    assert df["open"].iloc[0] == bar["open"] and df["close"].iloc[-1] == bar["close"]
    assert df["high"].max() == bar["high"] and df["low"].min() == bar["low"]
    assert df["volume"].sum() == bar["volume"]
    assert df.attrs["tr_id"] == "FHKST03010230"


def test_minute_window_pages_only_as_far_as_needed(kis, sim):
    day = past_day(sim)
    df = kis.minute_bars(["005930", "000660", "999999"], date=str(day), start="10:00", end="12:00")
    assert calls(sim, "FHKST03010230") == 2 * 2 + 1
    for code in ("005930", "000660"):
        times = df[df["symbol"] == code]["time"]
        assert len(times) == 121 and times.is_unique and times.is_monotonic_increasing
        assert times.iloc[0].strftime("%H:%M") == "10:00"
        assert times.iloc[-1].strftime("%H:%M") == "12:00"
    assert df[df["symbol"] == "999999"]["error"].item().startswith("NOTFOUND")


def test_todays_minute_bars(kis, sim):
    before = session(sim)
    df = kis.minute_bars("005930")
    after = session(sim)
    n = len(df)
    assert before.last_minute + 1 <= n <= after.last_minute + 1
    assert calls(sim, "FHKST03010200") == math.ceil(n / 30)  # a whole session: 14
    assert df["time"].is_unique and df["time"].is_monotonic_increasing
    assert {t.date() for t in df["time"]} == {after.day}
    assert df["time"].iloc[0].strftime("%H:%M") == "09:00"
    assert df.attrs["tr_id"] == "FHKST03010200"


def test_a_day_without_trading_is_an_error_row(kis, sim):
    sunday = session(sim).day - timedelta(days=session(sim).day.weekday() + 1)
    df = kis.minute_bars("005930", date=sunday)
    assert len(df) == 1 and df["error"].item().startswith("no 1-min bars for")


# --- order book, investors, info, quotes --------------------------------------------------


def test_orderbook_long_and_wide(kis, sim):
    long = kis.orderbook(["005930", "999999"])
    book = long[long["symbol"] == "005930"]
    assert book["level"].tolist() == list(range(1, 11))
    assert (book["ask"] > book["bid"]).all() and book["ask"].is_monotonic_increasing
    assert long[long["symbol"] == "999999"]["error"].item().startswith("APBK0013")
    assert str(long["time"].dtype.tz) == "Asia/Seoul"
    wide = kis.orderbook("005930", wide=True)
    assert list(wide.index) == ["005930"]
    assert wide.loc["005930", "bid_1"] == book["bid"].iloc[0]
    assert wide.loc["005930", "total_bid_size"] == book["bid_size"].sum()
    assert calls(sim, "FHKST01010200") == 3


def test_investors(kis, sim):
    df = kis.investors(["005930", "000660"])
    assert calls(sim, "FHKST01010900") == 2
    one = df[df["symbol"] == "005930"]
    assert len(one) == 30 and one["date"].is_unique and one["date"].is_monotonic_increasing
    assert one["individual_net"].dtype == "Int64"
    closed = one.dropna(subset=["foreign_net"])
    assert (
        (closed["individual_net"] + closed["foreign_net"] + closed["institution_net"]) == 0
    ).all()  # the simulator's individuals take the other side
    bars = kis.history("005930", one["date"].min(), one["date"].max(), adjusted=False)
    assert one["close"].tolist() == bars["close"].tolist()


def test_info_matches_the_universe(kis, sim):
    df = kis.info(["005930", "000050", "999999"])
    known = kr.universe().set_index("symbol")
    for code in ("005930", "000050"):
        assert df.loc[code, "name"] == known.loc[code, "name"]
        assert df.loc[code, "market"] == known.loc[code, "market"]
        assert df.loc[code, "listed_date"] == known.loc[code, "listed_date"]
        assert df.loc[code, "listed_shares"] == known.loc[code, "listed_shares"]
    assert df.loc["999999", "error"].startswith("KIOK0560")
    assert df.attrs["tr_id"] == "CTPF1002R"


def test_quotes_say_where_rows_came_from(sim, home):
    with kr.KIS(simulator=sim, progress=False) as kis:
        first = kis.quotes(["005930", "999999"])
        again = kis.quotes(["005930", "999999"])
    assert (
        not first["from_cache"].any() and str(first.loc["005930", "fetched_at"].tz) == "Asia/Seoul"
    )
    assert again.loc["005930", "from_cache"] and not again.loc["999999", "from_cache"]
    stored = again.loc["005930", "fetched_at"] - first.loc["005930", "fetched_at"]
    assert abs(stored.total_seconds()) < 1  # the cache's own stamp, taken as it stored it
    assert pd.isna(again.loc["999999", "fetched_at"])


# --- the universe from master files -------------------------------------------------------


def test_symbols_from_the_master_files_cached_for_a_day(sim, home, monkeypatch):
    with kr.KIS(simulator=sim, progress=False) as kis:
        downloads: list[str] = []
        real = kis.pipeline.download

        def download(url: str) -> bytes:
            downloads.append(url)
            return real(url)

        monkeypatch.setattr(kis.pipeline, "download", download)
        df = kis.symbols()
        shipped = kr.universe()
        assert set(df["symbol"]) == set(shipped["symbol"])
        assert df["market"].tolist() == sorted(df["market"], key=["KOSPI", "KOSDAQ"].index)
        one = df.set_index("symbol").loc["005930"]
        assert one["name"] == "삼성전자" and one["isin"] == "KR7005930003"
        assert one["listed_date"] == pd.Timestamp("1975-06-11")
        assert len(downloads) == 2
        assert downloads[0] == sim.base_url + "/common/master/kospi_code.mst.zip"
        assert sim.truth()["accepted"] == 0  # no token, no rate budget

        again = kis.symbols()
        assert len(downloads) == 2 and again.attrs["from_cache"] == 2
        pd.testing.assert_frame_equal(df, again)
        kosdaq = kis.symbols("kosdaq", refresh=True)
        assert len(downloads) == 3 and set(kosdaq["market"]) == {"KOSDAQ"}
        assert len(kosdaq) == (shipped["market"] == "KOSDAQ").sum()
        kis.symbols("KOSPI", cache=False)
        assert len(downloads) == 4


def test_master_files_stay_cached_across_simulators_on_new_ports(home):
    with Simulator(rate=200) as first, kr.KIS(simulator=first, progress=False) as kis:
        kis.symbols()
        port = first.base_url
    with Simulator(rate=200) as second, kr.KIS(simulator=second, progress=False) as kis:
        assert second.base_url != port  # a new kernel's simulator: a new random port
        again = kis.symbols()
        assert again.attrs["from_cache"] == 2 and again.attrs["answers"] == 2
        assert kis.cache.report().loc["master", "entries"] == 2  # not two more for each port


# --- one vocabulary -------------------------------------------------------------------------

MARKETS = {"KOSPI", "KOSDAQ", "KONEX"}


def test_every_frame_names_symbols_and_markets_alike(kis):
    codes = ["005930", "000660", "035720", "086520"]  # three on KOSPI, one on KOSDAQ
    shipped = kr.universe().set_index("symbol").loc[codes, "market"]
    listed = kis.symbols().set_index("symbol").loc[codes, "market"]
    quotes = kis.quotes(codes)
    info = kis.info(codes)
    assert quotes.index.name == info.index.name == "symbol"
    for frame in (listed, quotes["market"], info["market"]):
        assert set(frame) <= MARKETS
        assert frame.to_dict() == shipped.to_dict()
    korean = {"KOSPI": "코스피", "KOSDAQ": "코스닥"}
    assert quotes["market_kr"].to_dict() == shipped.map(korean).to_dict()
    assert list(quotes.columns[:3]) == ["name", "market", "market_kr"]


def test_yahoo_suffixes_are_dropped(kis):
    df = kis.quotes(["005930.KS", "086520.kq", "000660"])
    assert list(df.index) == ["005930", "086520", "000660"] and df["error"].isna().all()
