"""The bar store end to end on the simulator: what it holds is never asked again, what it
returns is what a cold pull returns, adjusted history rewritten by a split is fetched again,
running sessions are never kept as final, and a damaged file costs only its own bars."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.plan import endpoints as ep
from kisresearch.shape import frames
from kisresearch.sim import Simulator
from kisresearch.sim.listings import domestic
from kisresearch.store import Finished
from kisresearch.store import bars as store_bars
from kisresearch.store import spans as sp
from kisresearch.timebase import KST, is_trading_day

CODES = ["005930", "000660", "035420"]
VALUES = ["symbol", "date", "open", "high", "low", "close", "volume", "value_traded", "change",
          "change_sign", "ex_code", "split_rate", "modified", "error"]  # fmt: skip


def calls(sim: Simulator) -> int:
    return int(sim.truth()["by_tr_id"].get("FHKST03010100", 0))


def same_as_cold(kis: kr.KIS, got: pd.DataFrame, *args: object, **kw: object) -> None:
    cold = kis.history(*args, cache=False, **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got[VALUES], cold[VALUES])
    assert (got.dtypes == cold.dtypes).all()


@pytest.fixture
def sim(home):
    with Simulator(rate=200) as s:
        yield s


@pytest.fixture
def kis(sim):
    with kr.KIS(simulator=sim, progress=False) as client:
        yield client


def test_only_new_bars_are_fetched_and_the_rest_read_back(kis, sim, home):
    first = kis.history(CODES, "2023-01-01", "2024-06-30")
    assert calls(sim) == 12 and first.attrs["from_store"] == 0
    wider = kis.history(CODES, "2023-01-01", "2024-12-31")  # six months more: two pages each
    assert calls(sim) == 12 + 6
    assert wider.attrs["from_store"] == len(first) and wider.attrs["answers"] == 6
    same_as_cold(kis, wider, CODES, "2023-01-01", "2024-12-31")
    sent = calls(sim)
    sub = kis.history(CODES, "2023-06-01", "2024-03-31")
    assert calls(sim) == sent
    assert sub["from_cache"].all() and sub.attrs["from_store"] == len(sub)
    same_as_cold(kis, sub, CODES, "2023-06-01", "2024-03-31")
    sent = calls(sim)
    with kr.KIS(simulator=sim, progress=False, cache=False) as other:  # a new client
        again = other.history(CODES[::-1], "2023-02-01", "2024-11-30")
    assert calls(sim) == sent and again.attrs["from_store"] == len(again)
    assert list(dict.fromkeys(again["symbol"])) == CODES[::-1]  # the order asked
    same_as_cold(kis, again, CODES[::-1], "2023-02-01", "2024-11-30")


def test_empty_spans_are_remembered_and_errors_match_a_cold_pull(kis, sim):
    listed_later = next(s.code for s in domestic().values() if s.listed > date(2024, 6, 1))
    args = ([listed_later, "005930"], "2024-01-02", "2024-02-28")
    kis.history(*args)
    sent = calls(sim)
    again = kis.history(*args)  # before its listing: known to have no bars
    assert calls(sim) == sent
    same_as_cold(kis, again, *args)
    assert again["error"].iloc[0].startswith("no bars") and again["error"].iloc[1:].isna().all()
    holidays = ("005930", "2024-02-09", "2024-02-12")  # Lunar New Year and a weekend
    sent = calls(sim)
    assert kis.history(*holidays)["error"].iloc[0].startswith("no bars")
    assert calls(sim) == sent  # no trading day in the span: nothing to ask
    same_as_cold(kis, kis.history(*holidays), *holidays)
    sent = calls(sim)
    unknown = kis.history(["999999", "005930"], "2024-01-02", "2024-02-28")
    assert calls(sim) == sent + 1  # an error is not kept: asked again, as a cold pull would
    same_as_cold(kis, unknown, ["999999", "005930"], "2024-01-02", "2024-02-28")


def test_refresh_rewrites_and_no_cache_bypasses_the_store(kis, sim):
    kis.history("005930", "2024-01-01", "2024-03-31")
    sent = calls(sim)
    fresh = kis.history("005930", "2024-01-01", "2024-03-31", refresh=True)
    assert calls(sim) == sent + 1 and not fresh["from_cache"].any()
    kis.history("000660", "2024-01-01", "2024-03-31", cache=False)
    assert set(kis.store.summary()["symbol"]) == {"005930"}
    assert kis.history("005930", "2024-01-01", "2024-03-31").attrs["answers"] == 0


def test_store_folder_is_owner_only_and_holds_no_secret(kis, sim, home):
    kis.history(CODES, "2024-01-01", "2024-03-31")
    root = home / "store" / sim.data_id
    assert root.is_dir() and (root.stat().st_mode & 0o077) == 0
    for path in root.rglob("*"):
        if path.is_file():
            assert (path.stat().st_mode & 0o077) == 0
            data = path.read_bytes()
            for secret in (sim.app_key, sim.app_secret, sim.account.split("-")[0]):
                assert secret.encode() not in data


def test_a_corrupt_file_is_set_aside_and_only_its_bars_fetched_again(kis, sim, caplog):
    kis.history(CODES, "2024-01-01", "2024-03-31")
    files = sorted((kis.store.folder / "daily" / "adjusted").glob("part-*.parquet"))
    assert len(files) == 3  # the three codes fall in three different files
    files[0].write_bytes(b"PAR1 torn")
    sent = calls(sim)
    with caplog.at_level(logging.WARNING, "kisresearch.store"):
        df = kis.history(CODES, "2024-01-01", "2024-03-31")
    assert str(files[0]) in caplog.text
    assert calls(sim) == sent + 1  # one symbol's quarter: one page
    same_as_cold(kis, df, CODES, "2024-01-01", "2024-03-31")


def _next_trading_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def _advance_to(sim: Simulator, day: date, at: time) -> None:
    target = datetime.combine(day, at, KST).timestamp()
    sim.advance(max(0.0, target - sim.now()))


def test_the_running_session_is_returned_but_never_kept(kis, sim):
    tomorrow = _next_trading_day(sim.clock.now_kst().date())
    _advance_to(sim, tomorrow, time(10, 30))  # a session running
    df = kis.history("005930", tomorrow - timedelta(days=20), tomorrow)
    assert df["date"].max() == pd.Timestamp(tomorrow)
    held = kis.store.summary()
    assert held["last"].max() < tomorrow.isoformat()
    sent = calls(sim)
    later = kis.history("005930", tomorrow - timedelta(days=20), tomorrow)
    assert calls(sim) == sent + 1  # only the running day, asked again
    assert later["volume"].iloc[-1] >= df["volume"].iloc[-1]
    _advance_to(sim, tomorrow, time(18, 5))  # the session has settled
    kis.history("005930", tomorrow - timedelta(days=20), tomorrow)
    assert kis.store.summary()["last"].max() == tomorrow.isoformat()
    sent = calls(sim)
    kis.history("005930", tomorrow - timedelta(days=20), tomorrow)
    assert calls(sim) == sent


def test_a_split_after_the_bars_were_stored_rewrites_adjusted_history(home, caplog):
    now = datetime.now(KST)
    today = now.date() if is_trading_day(now.date()) and now.time() >= time(9) else None
    split = _next_trading_day(today or now.date())
    split = _next_trading_day(split) if today is None else split
    code = "000660"
    with (
        Simulator(rate=200, splits={code: (split, 5)}) as sim,
        kr.KIS(simulator=sim, progress=False) as kis,
    ):
        start = split - timedelta(days=200)
        before = kis.history(code, start)
        raw_before = kis.history(code, start, adjusted=False)
        _advance_to(sim, _next_trading_day(split), time(19))
        sent = calls(sim)
        with caplog.at_level(logging.INFO, "kisresearch.store"):
            after = kis.history(code, start)
        assert "rewrote 000660's adjusted history" in caplog.text
        assert calls(sim) > sent + 1  # the whole span again, not only the new days
        assert not after["from_cache"].any()
        same_as_cold(kis, after, code, start)
        # the days held before: a session running at the first pull was returned, not kept
        held = before["date"] < pd.Timestamp(today) if today else before["date"].notna()
        was = before[held].set_index("date")["close"]
        old = after.set_index("date")["close"].reindex(was.index)
        assert len(was) > 100 and was.index.max() < pd.Timestamp(split)
        assert ((was / old).round() == 5).all()  # every earlier bar in the new units
        raw_after = kis.history(code, start, adjusted=False)
        kept = raw_after[raw_after["date"].isin(raw_before["date"][held])]
        assert kept["from_cache"].all()  # raw bars never change: read back, not refetched
        pd.testing.assert_frame_equal(
            kept[VALUES].reset_index(drop=True), raw_before[held][VALUES].reset_index(drop=True),
            check_dtype=False,
        )  # fmt: skip


def minute_calls(sim: Simulator) -> int:
    by = sim.truth()["by_tr_id"]
    return int(by.get("FHKST03010230", 0) + by.get("FHKST03010200", 0))


MINUTE_VALUES = ["symbol", "time", "open", "high", "low", "close", "volume", "cum_value_traded",
                 "error"]  # fmt: skip


def test_minute_bars_of_settled_days_are_kept_and_windows_widen_by_new_pages(kis, sim):
    today = sim.clock.now_kst().date()
    day = today - timedelta(days=7)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    codes = ["005930", "000660"]
    morning = kis.minute_bars(codes, date=day, start="09:00", end="10:59")  # 120 bars: 1 page
    assert minute_calls(sim) == 2 and morning.attrs["from_store"] == 0
    whole = kis.minute_bars(codes, date=day)  # 391 bars; 271 new: 3 pages each
    assert minute_calls(sim) == 2 + 6 and whole.attrs["from_store"] == len(morning)
    sent = minute_calls(sim)
    lunch = kis.minute_bars(codes, date=day, start="11:30", end="13:00")
    assert minute_calls(sim) == sent and lunch["from_cache"].all()
    for got, window in ((whole, {}), (lunch, {"start": "11:30", "end": "13:00"})):
        cold = kis.minute_bars(codes, date=day, cache=False, **window)
        pd.testing.assert_frame_equal(got[MINUTE_VALUES], cold[MINUTE_VALUES])
        assert (got.dtypes == cold.dtypes).all()
    assert whole.groupby("symbol").size().tolist() == [391, 391]


def test_today_minute_bars_are_kept_once_the_session_settles(kis, sim):
    tomorrow = _next_trading_day(sim.clock.now_kst().date())
    _advance_to(sim, tomorrow, time(11, 0))
    kis.minute_bars("005930", start="09:00", end="09:59")
    kis.minute_bars("005930", start="09:00", end="09:59")
    assert not (kis.store.folder / "minute").exists()  # a running session is never kept
    _advance_to(sim, tomorrow, time(18, 30))
    first = kis.minute_bars("005930")
    sent = minute_calls(sim)
    _advance_to(sim, _next_trading_day(tomorrow), time(8, 0))  # the next morning, before open
    again = kis.minute_bars("005930", date=tomorrow)  # a past day now, from the store
    assert minute_calls(sim) == sent and again.attrs["from_store"] == len(first) == 391
    pd.testing.assert_frame_equal(first[MINUTE_VALUES], again[MINUTE_VALUES])


def test_paper_accounts_read_kept_minute_bars_of_past_days(home):
    with Simulator(rate=200) as sim, kr.KIS(simulator=sim, progress=False) as kis:
        tomorrow = _next_trading_day(sim.clock.now_kst().date())
        _advance_to(sim, tomorrow, time(18, 30))
        kept = kis.minute_bars("005930")
        _advance_to(sim, _next_trading_day(tomorrow), time(8, 0))
        folder = kis.store.folder.parent
    with Simulator(rate=200, profile="paper") as paper:
        paper.advance(sim.now() - paper.now())
        with kr.KIS(simulator=paper, progress=False, store=folder) as pk:
            assert paper.data_id == sim.data_id  # the same bars: one store folder
            again = pk.minute_bars("005930", date=tomorrow)
            assert len(again) == len(kept) and again["from_cache"].all()
            with pytest.raises(kr.ConfigError, match="real"):
                pk.minute_bars("000660", date=tomorrow)  # not kept: KIS would refuse it


def test_update_takes_a_settled_session_from_quotes_and_the_rest_from_charts(home):
    codes = [s.code for s in domestic().values() if s.listed < date(2020, 1, 1)][:90]
    split_code, late = codes[0], codes[2]
    with Simulator(rate=200) as probe:
        today = probe.clock.now_kst().date()
    day = _next_trading_day(today)
    with (
        Simulator(rate=200, splits={split_code: (day, 2)}) as sim,
        kr.KIS(simulator=sim, progress=False) as kis,
    ):
        if is_trading_day(today):  # held up to the session before `day`, whatever the hour
            _advance_to(sim, today, time(18, 30))
        start = day - timedelta(days=40)
        kis.history([c for c in codes if c != late], start)
        kis.history(late, start, day - timedelta(days=10))  # behind by more than a session
        _advance_to(sim, day, time(18, 30))
        sim.reset_truth()
        report = kis.update(codes, start=start)
        by = report.set_index("symbol")
        assert report["error"].isna().all() and list(report["symbol"]) == codes
        assert by.at[split_code, "method"] == "chart"  # its base price moved: a split
        assert by.at[late, "method"] == "chart"
        assert (by.drop([split_code, late])["method"] == "quote").all()
        calls_by = sim.truth()["by_tr_id"]
        assert calls_by["FHKST11300006"] == 3  # 89 quoted symbols, 30 a call
        assert calls_by["FHKST03010100"] > 2  # the split symbol's history again, and the late one's
        sent = calls(sim)
        held = kis.history(codes, start, day)
        assert calls(sim) == sent and held["from_cache"].all()
        same_as_cold(kis, held, codes, start, day)  # the quoted bars are the chart's bars
        sent = calls(sim)
        again = kis.update(codes, start=start)
        assert (again["method"] == "none").all() and calls(sim) == sent


def test_overseas_daily_bars_use_the_same_store(kis, sim):
    args = (["AAPL", "MSFT"], "NAS")
    first = kis.overseas_history(*args, start="2024-01-01", end="2024-06-30")
    sent = sim.truth()["by_tr_id"]["HHDFS76240000"]
    wider = kis.overseas_history(*args, start="2023-10-01", end="2024-09-30")
    added = sim.truth()["by_tr_id"]["HHDFS76240000"] - sent
    assert 0 < added <= 2 * 2 and wider.attrs["from_store"] == len(first)
    cold = kis.overseas_history(*args, start="2023-10-01", end="2024-09-30", cache=False)
    keep = [c for c in cold.columns if c not in ("from_cache", "fetched_at")]
    pd.testing.assert_frame_equal(wider[keep], cold[keep])
    sent = sim.truth()["by_tr_id"]["HHDFS76240000"]
    kis.overseas_history(*args, start="2024-02-01", end="2024-03-31")
    assert sim.truth()["by_tr_id"]["HHDFS76240000"] == sent
    assert (kis.store.folder / "overseas" / "NAS" / "daily" / "adjusted").is_dir()


def test_read_gives_what_is_held_without_a_request(kis, sim):
    kis.history(CODES, "2024-01-01", "2024-03-31")
    kis.history("005930", "2024-01-01", "2024-03-31", adjusted=False)
    sent = sim.truth()["accepted"]
    store = kr.BarStore(kis.store.folder)  # no client needed
    got = store.read(CODES[::-1], "2024-02-01", "2024-02-29")
    want = kis.history(CODES[::-1], "2024-02-01", "2024-02-29")
    cols = [c for c in got.columns if c != "fetched_at"]
    pd.testing.assert_frame_equal(got[cols], want[cols])
    everything = store.read()
    assert sorted(set(everything["symbol"])) == sorted(CODES)
    assert list(dict.fromkeys(everything["symbol"])) == sorted(CODES)
    assert set(store.read(adjusted=False)["symbol"]) == {"005930"}
    assert sim.truth()["accepted"] == sent
    with pytest.raises(ValueError, match="interval"):
        store.read(interval="W")


def test_the_files_read_as_they_are_in_pyarrow_polars_and_duckdb(kis, sim):
    import duckdb
    import polars as pl
    import pyarrow.dataset as pads

    folder = kis.store.folder / "daily" / "adjusted"
    glob = str(folder / "*.parquet")
    cols = ["symbol", "date", "close", "volume"]
    kis.history(CODES, "2023-01-01", "2024-06-30")
    want = kis.store.read(CODES)[cols].sort_values(["symbol", "date"]).reset_index(drop=True)
    assert len(want) > 3 * 300

    def same(got: pd.DataFrame) -> None:
        got = got[cols].sort_values(["symbol", "date"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)

    same(pads.dataset(folder, format="parquet").to_table().to_pandas())
    same(pl.read_parquet(glob).to_pandas())
    same(duckdb.sql(f"select * from read_parquet('{glob}')").df())
    same(pd.read_parquet(folder))


def test_the_journal_of_a_pull_that_died_is_read_and_later_merged(kis, sim):
    kis.history(CODES, "2024-01-01", "2024-03-31")
    first, last = date(2024, 4, 1), date(2024, 6, 30)
    params = ep.daily_params("000660", first, last, "D", True, "J")
    page = kis.pipeline.fetch(ep.DAILY, params, use_cache=False)  # what a pull fetches
    done = Finished(
        "000660", [(frames.rows_of(page.body, "output2", "stck_bsop_date"), page.fetched_at)],
        [(sp.day_key(first), sp.day_key(last))],
    )  # fmt: skip
    entry = kis.store.note(store_bars.daily(True), done)
    sent = calls(sim)  # a pull finished 000660's quarter, journalled it, and was killed
    again = kis.history(CODES, "2024-01-01", "2024-06-30")
    assert calls(sim) == sent + 2 * 1  # the other two symbols' quarter only
    assert again[again["symbol"] == "000660"]["from_cache"].all()
    same_as_cold(kis, again, CODES, "2024-01-01", "2024-06-30")
    assert entry.exists()  # young: its pull may still be running and merge it itself
    files = kis.store.folder / "daily" / "adjusted"
    assert pd.read_parquet(files).query("symbol == '000660'")["date"].max() < pd.Timestamp(
        "2024-04-01"
    )  # fmt: skip
    later = kr.BarStore(kis.store.folder)
    later.stale_after = 0.0  # as if a minute had passed
    assert len(later.read("000660")) == len(again[again["symbol"] == "000660"])
    assert not entry.exists()  # merged into the files, then deleted
    held = pd.read_parquet(files).query("symbol == '000660'")
    assert held["date"].max() == again["date"].max()


PULL = """
import sys
import kisresearch as kr
key, secret, url, home, store = sys.argv[1:6]
codes = sys.argv[6].split(",")
with kr.KIS(key, secret, base_url=url, env="real", home=home, store=store, progress=False,
            workers=4) as kis:
    kis.history(codes, "2023-01-01", "2023-08-31")
"""


@pytest.mark.slow
def test_kill_9_mid_pull_loses_only_the_symbols_in_flight_and_a_rerun_resumes(tmp_path, home):
    import os
    import signal
    import subprocess
    import sys
    import time as clock

    codes = [s.code for s in domestic().values() if s.listed < date(2022, 1, 1)][:100]
    with Simulator(rate=100) as sim:
        args = [sim.app_key, sim.app_secret, sim.base_url, str(tmp_path / "h"), str(tmp_path / "s")]
        proc = subprocess.Popen([sys.executable, "-c", PULL, *args, ",".join(codes)])
        try:
            while calls(sim) < 120 and proc.poll() is None:
                clock.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(30)
        first = calls(sim)
        assert 120 <= first < 200  # two pages a symbol: the pull was cut short
        with kr.KIS(sim.app_key, sim.app_secret, base_url=sim.base_url, env="real",
                    home=tmp_path / "h", store=tmp_path / "s", progress=False) as kis:  # fmt: skip
            df = kis.history(codes, "2023-01-01", "2023-08-31")
            second = calls(sim) - first
            # fetched twice at most: the pages of the four symbols in flight (two each); those
            # finished were journalled at once, merged or not
            assert first + second <= 200 + 4 * 2
            assert df.attrs["from_store"] > 0 and df["error"].isna().all()
            same_as_cold(kis, df, codes, "2023-01-01", "2023-08-31")


def test_threads_and_clients_sharing_a_store_lose_nothing(sim, home):
    import threading

    codes = [s.code for s in domestic().values() if s.listed < date(2022, 1, 1)][:24]
    spans = [("2023-01-01", "2023-06-30"), ("2023-04-01", "2023-12-31")]
    errors: list[BaseException] = []

    def pull(part: list[str], span: tuple[str, str]) -> None:
        try:
            with kr.KIS(simulator=sim, progress=False, workers=4) as kis:
                kis.history(part, *span)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=pull, args=(codes[i::2], spans[i % 2])) for i in range(2)
    ] + [threading.Thread(target=pull, args=(codes, spans[1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    with kr.KIS(simulator=sim, progress=False) as kis:
        df = kis.history(codes, "2023-04-01", "2023-12-31")
        assert df["from_cache"].all()
        same_as_cold(kis, df, codes, "2023-04-01", "2023-12-31")


def test_an_unusable_store_folder_is_refused_at_construction_by_name(sim, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(kr.ConfigError, match="not-a-folder"):
        kr.KIS(simulator=sim, store=blocker)
    with pytest.raises(TypeError, match="store"):
        kr.KIS(simulator=sim, store=3)  # type: ignore[arg-type]
    with kr.KIS(simulator=sim, store=False) as kis:
        assert kis.store is None
        with pytest.raises(kr.ConfigError, match="store=False"):
            kis.update("005930")


def test_store_reads_count_as_cache_hits_in_the_stats(kis, sim):
    kis.history(CODES, "2024-01-01", "2024-06-30")  # 2 pages a symbol, fetched
    before = kis.stats.summary()
    kis.history(CODES, "2024-01-01", "2024-09-30")  # those again from the store, 1 new page each
    after = kis.stats.summary()
    assert after["cache_hits"] - before["cache_hits"] == 3 * 2
    assert after["cache_misses"] - before["cache_misses"] == 3
