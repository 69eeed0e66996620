"""Shaping on recorded KIS-shaped payloads (``data/payloads``: every value a string, the
documented field names). Pure: no server, no clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kisresearch.pipeline.flow import merge_pages
from kisresearch.shape import frames
from kisresearch.shape.frames import Col, Piece
from kisresearch.shape.master import parse_master

PAYLOADS = Path(__file__).resolve().parents[3] / "data" / "payloads"


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text("utf-8"))


def kst_epoch(text: str) -> float:
    """Epoch seconds of a KST wall time ``YYYY-MM-DD HH:MM``."""
    return pd.Timestamp(text, tz="Asia/Seoul").timestamp()


# --- kinds and building blocks ------------------------------------------------------------------


def test_kinds_convert_strings_to_typed_columns():
    rows = [
        {"i": "10", "f": "1.50", "s": " a ", "d": "20240131", "k": "20240131093000", "y": "Y"},
        {"i": "-3", "f": "-0.25", "s": "b", "d": "20240201", "k": "20240201153000", "y": "N"},
    ]
    cols = [
        Col("i", "i"),
        Col("i", "I", "Int"),
        Col("f", "f", "float"),
        Col("s", "s", "str"),
        Col("d", "d", "date"),
        Col("k", "k", "kst"),
        Col("y", "y", "yn"),
    ]
    df = frames.table(rows, cols)
    assert df["i"].dtype == "int64" and df["i"].tolist() == [10, -3]
    assert df["I"].dtype == "Int64"
    assert df["f"].dtype == "float64" and df["f"].tolist() == [1.5, -0.25]
    assert df["s"].tolist() == ["a", "b"]
    assert df["d"].dtype.kind == "M" and df["d"][0] == pd.Timestamp("2024-01-31")
    assert str(df["k"].dtype.tz) == "Asia/Seoul"
    assert df["k"][0] == pd.Timestamp("2024-01-31 09:30", tz="Asia/Seoul")
    assert df["y"].dtype == bool and df["y"].tolist() == [True, False]


def test_blank_values_are_missing_and_make_ints_nullable():
    df = frames.table(
        [{"i": "1", "d": ""}, {"i": "  ", "d": "20240131"}, None],
        [Col("i", "i"), Col("d", "d", "date")],
    )
    assert df["i"].dtype == "Int64" and df["i"].isna().tolist() == [False, True, True]
    assert df["d"].isna().tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        (["10", " -3 ", "+4", "0"], "int", [10, -3, 4, 0]),
        (["1.50", "-0.25", "1e3", "7"], "float", [1.5, -0.25, 1000.0, 7.0]),
        (["12.5", "3"], "int", [12, 3]),  # not integer text: rounded by the careful path
        (["x", "3"], "float", [None, 3.0]),
        ([12.7, "3"], "int", [13, 3]),  # not text: the careful path, never int(12.7) = 12
    ],
)
def test_numbers_parse_as_pandas_would_on_every_path(values, kind, expected):
    """Well-formed text takes a quick path; anything else the careful one: alike either way."""
    df = frames.table([{"v": v} for v in values], [Col("v", "v", kind)])
    got = [None if pd.isna(v) else v for v in df["v"].tolist()]
    assert got == expected


def test_rows_missing_a_field_read_it_as_missing():
    rows = [{"a": "1", "b": "x"}, {"a": "2"}, None, {"b": "y", "a": "3"}]
    df = frames.table(rows, [Col("a", "a"), Col("b", "b", "str")])
    assert df["a"].tolist()[:2] == [1, 2] and df["a"].isna().tolist() == [False, False, True, False]
    assert [None if pd.isna(v) else v for v in df["b"]] == ["x", None, None, "y"]


def test_rows_of_drops_the_blank_row_kis_pads_no_data_with():
    assert frames.rows_of(load("daily_empty"), "output2", "stck_bsop_date") == []
    assert frames.rows_of({"output": {"a": "1"}}, "output", "a") == [{"a": "1"}]
    assert frames.rows_of({"output": None}, "output", "a") == []
    assert len(frames.rows_of(load("daily_itemchartprice"), "output2", "stck_bsop_date")) == 5


def test_long_frame_orders_dedupes_and_keeps_error_rows():
    cols = [Col("d", "date", "date"), Col("v", "value")]
    newer = Piece("B", [{"d": "20240103", "v": "3"}, {"d": "20240102", "v": "2"}], True, 100.0)
    older = Piece("B", [{"d": "20240102", "v": "99"}, {"d": "20240101", "v": "1"}], False, 50.0)
    df = frames.long_frame(
        [
            newer,
            older,
            Piece("A", error="no bars"),
            Piece("C", [{"d": "20240105", "v": "5"}], False, 70.0),
        ],
        cols,
        key="date",
    )
    assert df["symbol"].tolist() == ["B", "B", "B", "A", "C"]  # order of first appearance
    assert df["date"].dt.day.tolist()[:3] == [1, 2, 3]  # ascending within a symbol
    assert df["value"].tolist()[:3] == [1, 2, 3]  # the seam's duplicate: the newer page wins
    assert df["from_cache"].tolist() == [False, True, True, False, False]
    assert df["value"].dtype == "Int64"  # the error row has no value
    assert df.loc[3, "error"] == "no bars" and pd.isna(df.loc[3, "date"])
    assert df["error"].isna().sum() == 4
    assert str(df["fetched_at"].dtype) == "datetime64[us, Asia/Seoul]"
    assert df.loc[0, "fetched_at"] == pd.Timestamp(50, unit="s", tz="UTC")
    assert pd.isna(df.loc[3, "fetched_at"])
    assert isinstance(df.index, pd.RangeIndex)


def test_long_frame_of_nothing_has_the_columns():
    df = frames.long_frame([], frames.DAILY_COLUMNS, key="date")
    assert df.empty
    assert list(df.columns) == [
        "symbol",
        *(c.name for c in frames.DAILY_COLUMNS),
        "error",
        "from_cache",
        "fetched_at",
    ]


# --- one shaper per endpoint ------------------------------------------------------------------


def test_daily_bars():
    rows = frames.rows_of(load("daily_itemchartprice"), "output2", "stck_bsop_date")
    df = frames.long_frame([Piece("035720", rows, False, 0.0)], frames.DAILY_COLUMNS, key="date")
    assert df["date"].is_monotonic_increasing and len(df) == 5
    for col in ("open", "high", "low", "close", "volume", "value_traded", "change"):
        assert df[col].dtype == "int64", col
    split = df[df["date"] == "2021-04-15"].iloc[0]
    assert split["split_rate"] == 5.0 and split["modified"]
    assert not df[df["date"] != "2021-04-15"]["modified"].any()
    assert set(df["change_sign"]) <= {"1", "2", "3", "4", "5"}


def test_minute_bars_are_kst_timestamps():
    rows = [
        frames.with_fields(r, _time=frames.minute_stamp(r))
        for r in frames.rows_of(load("time_dailychartprice"), "output2", "stck_cntg_hour")
    ]
    df = frames.long_frame([Piece("005930", rows)], frames.MINUTE_COLUMNS, key="time")
    assert str(df["time"].dtype.tz) == "Asia/Seoul"
    assert df["time"].tolist() == [
        pd.Timestamp(f"2026-11-20 09:0{m}", tz="Asia/Seoul") for m in range(3)
    ]
    assert df["cum_value_traded"].is_monotonic_increasing
    assert df.loc[0, "close"] == 52700 and df["volume"].dtype == "int64"


@pytest.mark.parametrize(
    ("fetched", "expected"),
    [
        ("2026-11-27 10:15", "2026-11-27 10:15:00"),  # in the session: that day
        ("2026-11-27 18:00", "2026-11-27 15:30:00"),  # after the close: that day
        ("2026-11-30 08:00", "2026-11-27 15:30:00"),  # Monday before the open: Friday's
        ("2026-11-29 12:00", "2026-11-27 15:30:00"),  # Sunday: Friday's
    ],
)
def test_book_stamp_dates_a_time_of_day(fetched, expected):
    hour = expected[-8:].replace(":", "")
    stamp = frames.book_stamp(hour, kst_epoch(fetched))
    assert stamp == expected.replace("-", "").replace(" ", "").replace(":", "")
    assert frames.book_stamp("", 0.0) is None


def test_order_book_levels_long_and_wide():
    body = load("asking_price")
    out1 = body["output1"]
    stamp = frames.book_stamp(out1["aspr_acpt_hour"], kst_epoch("2026-11-27 18:00"))
    long = frames.long_frame(
        [Piece("005930", frames.book_levels(out1, stamp))], frames.BOOK_COLUMNS, key="level"
    )
    assert long["level"].tolist() == list(range(1, 11))
    assert (long["ask"].diff().dropna() > 0).all() and (long["bid"].diff().dropna() < 0).all()
    assert long.loc[0, "ask"] == int(out1["askp1"]) and long.loc[9, "bid_size"] == int(
        out1["bidp_rsqn10"]
    )
    assert long["time"].iloc[0] == pd.Timestamp("2026-11-27 15:30", tz="Asia/Seoul")
    wide = frames.by_symbol(
        ["005930"], [{**body["output2"], **out1, "_time": stamp}], [None], frames.BOOK_WIDE_COLUMNS
    )
    assert wide.loc["005930", "total_ask_size"] == int(out1["total_askp_rsqn"])
    assert wide.loc["005930", "total_ask_size"] == long["ask_size"].sum()
    assert wide.loc["005930", "ask_10"] == long.loc[9, "ask"]
    assert wide.loc["005930", "price"] == int(body["output2"]["stck_prpr"])


def test_investors_columns_stay_nullable_and_todays_row_is_missing():
    rows = frames.rows_of(load("investor"), "output", "stck_bsop_date")
    df = frames.long_frame([Piece("005930", rows)], frames.INVESTOR_COLUMNS, key="date")
    assert df["date"].is_monotonic_increasing
    flows = [c.name for c in frames.INVESTOR_COLUMNS if c.kind == "Int"]
    assert len(flows) == 12 and all(df[c].dtype == "Int64" for c in flows)
    assert df.iloc[-1][flows].isna().all()  # today's, before the close: blank in the payload
    day = df.iloc[-2]
    assert day["individual_net"] == -1489517 and day["foreign_net_value_mkrw"] == 41604
    assert day["individual_buy"] - day["individual_sell"] == day["individual_net"]
    assert df["close"].dtype == "int64"


def test_stock_info_row():
    row = frames.info_row(load("stock_info")["output"])
    df = frames.by_symbol(["000050"], [row], [None], frames.INFO_COLUMNS, [True], [1.0])
    got = df.loc["000050"]
    assert got["market"] == "KOSDAQ" and got["name"] == "알파엔터"
    assert got["listed_date"] == pd.Timestamp("2015-02-23") and pd.isna(got["delisted_date"])
    assert got["listed_shares"] == 25899096 and df["listed_shares"].dtype == "int64"
    assert df["halted"].dtype == bool and got["from_cache"]


def test_overseas_change_is_signed_by_sign():
    down = frames.table([{"diff": "1.86", "sign": "5"}, {"diff": "", "sign": "2"}],
                        frames.OVERSEAS_QUOTE_COLUMNS)  # fmt: skip
    assert down["change"].iloc[0] == -1.86 and pd.isna(down["change"].iloc[1])
    out = load("overseas_price")["output"]  # a recorded answer
    row = frames.with_fields(out, _excd="NAS")
    df = frames.by_symbol(["AAPL"], [row], [None], frames.OVERSEAS_QUOTE_COLUMNS)
    got = df.loc["AAPL"]
    assert got["change"] == pytest.approx(got["price"] - got["prev_close"])
    assert df["price"].dtype == "float64" and df["volume"].dtype == "int64"
    rows = [
        frames.with_fields(r, _excd="NAS")
        for r in frames.rows_of(load("overseas_dailyprice"), "output2", "xymd")
    ]
    daily = frames.long_frame([Piece("AAPL", rows)], frames.OVERSEAS_DAILY_COLUMNS, key="date")
    assert daily["date"].is_monotonic_increasing
    assert daily["change"].iloc[1:].to_numpy() == pytest.approx(
        daily["close"].diff().iloc[1:].to_numpy()
    )


def test_balance_pages_join_rows_and_keep_one_summary():
    first, second = load("balance_page1")["body"], load("balance_page2")["body"]
    merged = merge_pages(merge_pages({}, first, "output1"), second, "output1")
    assert len(merged["output1"]) == len(first["output1"]) + len(second["output1"])
    assert merged["output2"] == first["output2"]  # not one summary per page
    held = frames.holdings(frames.rows_of(merged, "output1", "pdno"))
    assert held.index.tolist() == ["007250", "008130", "143090"]
    assert held["quantity"].dtype == "int64" and held["avg_price"].dtype == "float64"
    assert (held["value"] - held["purchase_amount"] == held["pnl"]).all()
    summary = frames.summary(merged["output2"][0])
    assert summary.dtype == "int64" and summary.name == "summary"
    assert summary["total_value"] == summary["cash"] + summary["stock_value"]


def test_quotes_provenance_columns():
    rows = load("intstock_multprice")["output"]
    df = frames.by_symbol(
        ["005930", "000660"],
        rows,
        [None, None],
        frames.MULTIQUOTE_COLUMNS,
        [True, False],
        [0.0, 60.0],
    )
    assert df["from_cache"].tolist() == [True, False]
    assert df["fetched_at"].tolist() == [
        datetime.fromtimestamp(0, UTC),
        datetime.fromtimestamp(60, UTC),
    ]


# --- master files -----------------------------------------------------------------------------


def test_master_files_parse_by_the_fixed_width_layout():
    kospi = parse_master((PAYLOADS / "kospi_code.mst").read_bytes().decode("cp949"), "KOSPI")
    kosdaq = parse_master((PAYLOADS / "kosdaq_code.mst").read_bytes().decode("cp949"), "KOSDAQ")
    assert kospi["symbol"].tolist() == ["005930", "069500", "105620", "112260"]
    sam = kospi.iloc[0]
    assert sam["isin"] == "KR7005930003" and sam["name"] == "삼성전자"
    assert sam["listed_date"] == pd.Timestamp("1975-06-11")
    assert sam["listed_shares"] == 5_969_782_000  # the file counts thousands
    assert sam["group"] == "ST" and kospi.iloc[1]["group"] == "EF"
    assert kospi["halted"].tolist() == [False, False, True, False]
    assert kospi["admin"].tolist() == [False, False, False, True]
    assert kospi.iloc[1]["name"] == "KODEX 200"
    assert kosdaq.iloc[0]["name"] == "알파엔터" and kosdaq.iloc[0]["market"] == "KOSDAQ"
    assert kosdaq.iloc[0]["listed_date"] == pd.Timestamp("2015-02-23")
    for df in (kospi, kosdaq):
        assert df["base_price"].dtype == "int64" and (df["base_price"] > 0).all()
        assert df["roe"].dtype == "float64"


@pytest.mark.parametrize(
    ("columns", "value", "pct", "sign"),
    [
        (frames.MULTIQUOTE_COLUMNS, "inter2_prdy_vrss", "prdy_ctrt", "prdy_vrss_sign"),
        (frames.QUOTE_COLUMNS, "prdy_vrss", "prdy_ctrt", "prdy_vrss_sign"),
        (frames.OVERSEAS_QUOTE_COLUMNS, "diff", "rate", "sign"),
    ],
)
def test_change_signs_come_from_the_sign_code_however_the_magnitude_is_sent(
    columns, value, pct, sign
) -> None:
    rows = [
        {value: "-150", pct: "-1.25", sign: "5"},  # signed, as the simulator sends it
        {value: "150", pct: "1.25", sign: "5"},  # bare magnitude, as audited clients expect
        {value: "300", pct: "30.00", sign: "4"},  # lower limit
        {value: "-150", pct: "-1.25", sign: "2"},  # a minus with an "up" code: the code wins
        {value: "0", pct: "0.00", sign: "3"},
        {value: "-7", pct: "-0.5", sign: ""},  # no code: as sent
    ]
    df = frames.table(rows, columns)
    assert df["change"].tolist() == [-150, -150, -300, 150, 0, -7]
    assert df["change_pct"].tolist() == [-1.25, -1.25, -30.0, 1.25, 0.0, -0.5]
