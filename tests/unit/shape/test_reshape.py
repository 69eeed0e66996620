"""kr.wide / kr.long on frames shaped as the methods shape them (recorded payloads, no server)."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.shape import reshape


def bars() -> pd.DataFrame:
    """Two symbols on different days (000660 misses the 3rd), and an error row."""
    return pd.DataFrame(
        {
            "symbol": pd.Series(["005930", "005930", "000660", "000660", "999999"], dtype="str"),
            "date": pd.to_datetime(
                ["2024-01-02", "2024-01-03", "2024-01-02", "2024-01-04", None]
            ).astype("datetime64[us]"),
            "close": pd.array([78500, 77000, 137500, 138000, None], dtype="Int64"),
            "volume": pd.Series([1, 2, 3, 4, 0], dtype="int64"),
            "modified": [False, True, False, False, False],
            "error": [None, None, None, None, "no bars"],
        },
    )


def test_wide_is_time_by_symbol_in_the_frames_order_with_holes_missing():
    table = kr.wide(bars(), "volume")
    assert list(table.columns) == ["005930", "000660"]  # the error row has no date
    assert table.columns.name == "symbol" and table.index.name == "date"
    assert table.index.is_monotonic_increasing and len(table) == 3
    assert table["005930"].dtype == "Int64"  # int64 with a hole: nullable, not float
    assert pd.isna(table.loc["2024-01-04", "005930"])
    assert table.loc["2024-01-02", "000660"] == 3
    flags = kr.wide(bars(), "modified")
    assert flags["005930"].dtype == "boolean"


def test_wide_without_holes_keeps_the_dtype_and_long_restores_it():
    full = bars().iloc[:2]
    table = kr.wide(full, "volume")
    assert table["005930"].dtype == "int64"
    for field in ("close", "volume", "modified"):
        back = kr.long(kr.wide(bars(), field), field)
        data = bars().dropna(subset=["date"])[["symbol", "date", field]].reset_index(drop=True)
        pd.testing.assert_frame_equal(back, data)


def test_minute_bars_keep_their_zone_and_quotes_over_time_pivot_on_fetched_at():
    times = pd.to_datetime(["2024-01-02 09:00", "2024-01-02 09:01"]).tz_localize("Asia/Seoul")
    minutes = pd.DataFrame({"symbol": ["005930", "005930"], "time": times, "close": [1, 2]})
    table = kr.wide(minutes, "close")
    assert str(table.index.dtype) == "datetime64[us, Asia/Seoul]" and table.index.name == "time"
    stamps = pd.to_datetime(["2024-01-02 01:00", "2024-01-02 01:05"], utc=True)
    pulls = [
        pd.DataFrame(
            {"price": [p, p * 2], "fetched_at": [t, t]},
            index=pd.Index(["005930", "000660"], name="symbol"),
        )
        for p, t in zip((10, 11), stamps, strict=True)
    ]
    prices = kr.wide(pd.concat(pulls), "price")
    assert prices.index.name == "fetched_at" and prices["000660"].tolist() == [20, 22]


def test_bad_frames_are_named():
    with pytest.raises(ValueError, match="'closing'"):
        kr.wide(bars(), "closing")
    with pytest.raises(ValueError, match="one of date, time, fetched_at"):
        kr.wide(pd.DataFrame({"symbol": ["005930"], "close": [1]}), "close")
    doubled = pd.concat([bars(), bars().iloc[:1]])
    with pytest.raises(ValueError, match="'005930' has more than one row at date=2024-01-02"):
        kr.wide(doubled, "close")


def test_the_docstring_example_runs():
    assert doctest.testmod(reshape).failed == 0
