"""README's "Conventions", checked on every kind of frame the client returns, pulled over HTTP
from the simulator: one time convention (trading days naive, instants in Asia/Seoul, text
stamps ISO 8601 at +09:00) and one missing-value marker per column family."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.observe import logs

INSTANT = "datetime64[us, Asia/Seoul]"
DAY = "datetime64[us]"
INSTANTS = {"time", "fetched_at"}  # every other datetime column is a trading day
DAYS = {"date", "listed_date", "delisted_date", "w52_high_date", "w52_low_date"}
KST = timedelta(hours=9)


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    """Every kind of frame, with an unknown symbol where the method takes symbols, and the
    client's stats saved in each format after the pulls."""
    folder = tmp_path_factory.mktemp("conventions")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIS_HOME", str(folder / "home"))
        mp.setenv("KIS_LIMITER_DIR", str(folder / "limiters"))
        with kr.KIS.simulator(rate=200, progress=False) as kis:
            ask = ["005930", "999999"]
            history = kis.history(ask, period="1mo")
            frames = {
                "quotes": kis.quotes(ask),
                "quotes detail": kis.quotes(ask, detail=True),
                "history": history,
                "minute_bars": kis.minute_bars(ask),
                "orderbook": kis.orderbook(ask),
                "orderbook wide": kis.orderbook(ask, wide=True),
                "investors": kis.investors(ask),
                "info": kis.info(ask),
                "overseas_quotes": kis.overseas_quotes(["AAPL", "ZZZZZ"], exchange="NAS"),
                "overseas_history": kis.overseas_history(
                    ["AAPL", "ZZZZZ"], exchange="NAS", period="1mo"
                ),
                "balance holdings": kis.balance().holdings,
                "symbols": kis.symbols(),
                "bar store": kis.store.read("005930"),
            }
            files = {f: kis.stats.save(folder / f"stats.{f}", f) for f in ("json", "jsonl", "csv")}
            yield frames, kis.stats.summary(), kis.stats.frame(), files


def test_every_datetime_is_a_naive_trading_day_or_an_instant_in_seoul(pulled):
    frames, _, _, _ = pulled
    for kind, df in frames.items():
        for name, dtype in df.dtypes.items():
            if dtype.kind != "M":
                continue
            assert name in INSTANTS | DAYS, (kind, name, "a datetime column README does not name")
            values = df[name].dropna()
            if name in INSTANTS:
                assert str(dtype) == INSTANT, (kind, name, dtype)
            else:
                assert str(dtype) == DAY, (kind, name, dtype)
                assert (values == values.dt.normalize()).all(), (kind, name, "not a day")
        if kind == "bar store":  # a file's rows: no provenance attrs
            continue
        stamp = df.attrs["fetched_at"]
        assert pd.Timestamp(stamp).utcoffset() == KST, (kind, stamp)
        if "fetched_at" in df and df["fetched_at"].notna().any():
            assert pd.Timestamp(stamp) == df["fetched_at"].max(), (kind, stamp)
    assert len(frames["minute_bars"].dropna(subset="time")) > 0
    assert frames["history"]["date"].notna().sum() > 10


def test_stats_and_their_files_keep_the_same_clock(pulled):
    _, summary, frame, files = pulled
    assert pd.Timestamp(summary["started"]).utcoffset() == KST
    assert str(frame.index.dtype) == INSTANT
    saved = json.loads(files["json"].read_text())
    stamps = [saved["summary"]["started"]] + [s["time"] for s in saved["seconds"]]
    stamps += [json.loads(line)["time"] for line in files["jsonl"].read_text().splitlines()]
    with files["csv"].open() as fh:
        stamps += [r["time"] for r in csv.DictReader(fh)]
    assert len(stamps) > 3
    assert all(pd.Timestamp(s).utcoffset() == KST for s in stamps), stamps
    exported = pd.DatetimeIndex([pd.Timestamp(s["time"]) for s in saved["seconds"]])
    assert (exported == frame.index[: len(exported)]).all()  # the same instants


def test_log_lines_are_stamped_in_kst(home):
    stream = io.StringIO()
    for json_lines in (True, False):
        logs.configure("INFO", json=json_lines, stream=stream)
        logging.getLogger("kisresearch.test").info("hello")
    logs.unconfigure()
    first, second = stream.getvalue().splitlines()
    assert pd.Timestamp(json.loads(first)["time"]).utcoffset() == KST
    assert pd.Timestamp(second.split(" ")[0]).utcoffset() == KST


def _missing(value: object, dtype: object) -> bool:
    """``value`` is the documented marker of ``dtype``'s family."""
    family = str(dtype)
    if family in ("Int64", "boolean"):
        return value is pd.NA
    if family in ("float64", "str"):
        return isinstance(value, float) and math.isnan(value)
    if family.startswith("datetime64"):
        return value is pd.NaT
    return False  # int64, bool, object: not a family with a missing value in a data column


def test_a_row_without_data_has_its_familys_marker_in_every_column(pulled):
    frames, _, _, _ = pulled
    checked = 0
    for kind, df in frames.items():
        if "error" not in df:
            continue
        bad = df[df["error"].notna()]
        assert len(bad) == 1, kind
        row = bad.iloc[0]
        for name, dtype in df.dtypes.items():
            if name == "symbol":
                continue
            value = row[name]
            if name == "error":
                assert isinstance(value, str) and value, kind
            elif name == "from_cache":
                assert dtype == "bool" and value is np.False_, kind
            else:
                assert _missing(value, dtype), (kind, name, dtype, value)
                checked += 1
        good = df[df["error"].isna()]
        assert good["error"].map(lambda e: e is None).all(), kind  # None on a data row
    assert checked > 150


def _bar(err: str) -> str:
    """The last state of the tqdm bar written to ``err``."""
    return err.replace("\r", "\n").strip().splitlines()[-1]


def test_progress_bars_count_symbols_with_the_calls_per_second(home, capsys, monkeypatch):
    monkeypatch.delenv("KIS_PROGRESS", raising=False)
    with kr.KIS.simulator(rate=200, progress=True, cache=False) as kis:
        capsys.readouterr()
        kis.history(["005930", "000660", "035420"], "2023-01-01", "2024-12-31")
        history = _bar(capsys.readouterr().err)
        pages = kis.stats.totals["calls"]
        kis.quotes(kis.symbols()["symbol"][:70])
        quotes = _bar(capsys.readouterr().err)
        assert kis.stats.totals["calls"] - pages == 3  # 70 symbols: three calls of 30
    assert pages == 15  # five pages a symbol; the bar counts the symbols
    for bar, symbols in ((history, 3), (quotes, 70)):
        assert f"{symbols}/{symbols}" in bar and "symbol" in bar and "req" not in bar, bar
        rate = float(bar.split("calls/s=")[1].split(",")[0])
        assert rate > 0, bar
