"""The store's layout and changes: spans and rows replaced together, resets, summaries."""

from __future__ import annotations

import multiprocessing as mp
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from kisresearch.store import BarStore, Change, bars
from kisresearch.store import spans as sp

from .test_files import _rows

D = sp.day_key


def test_changes_replace_rows_within_their_span_only(tmp_path: Path) -> None:
    store, ds = BarStore(tmp_path), bars.daily(True)
    jan = _rows("005930", ["2024-01-02", "2024-01-03", "2024-01-04"])
    store.save(ds, [Change("005930", jan, (D(date(2024, 1, 1)), D(date(2024, 1, 4))))])
    newer = _rows("005930", ["2024-01-04", "2024-01-05"]).assign(close=7)
    store.save(ds, [Change("005930", newer, (D(date(2024, 1, 4)), D(date(2024, 1, 7))))])
    view = store.load(ds, ["005930"], D(date(2024, 1, 1)), D(date(2024, 1, 31)))
    assert view.spans("005930") == [(D(date(2024, 1, 1)), D(date(2024, 1, 7)))]
    got = view.of("005930")
    assert got["date"].dt.strftime("%m-%d").tolist() == ["01-02", "01-03", "01-04", "01-05"]
    assert got["close"].tolist() == [100, 101, 7, 7]
    assert view.spans("000660") == [] and len(view.of("000660")) == 0


def test_reset_drops_everything_held_for_the_symbol(tmp_path: Path) -> None:
    store, ds = BarStore(tmp_path), bars.daily(True)
    store.save(ds, [Change("005930", _rows("005930", ["2024-01-02"]), (D(date(2024, 1, 1)),
               D(date(2024, 1, 2))))])  # fmt: skip
    again = _rows("005930", ["2024-02-01"])
    store.save(ds, [Change("005930", again, (D(date(2024, 2, 1)), D(date(2024, 2, 1))), True)])
    view = store.load(ds, ["005930"], 0, D(date(2030, 1, 1)))
    assert view.spans("005930") == [(D(date(2024, 2, 1)), D(date(2024, 2, 1)))]
    assert len(view.of("005930")) == 1


def test_an_empty_span_is_remembered(tmp_path: Path) -> None:
    store, ds = BarStore(tmp_path), bars.daily(True)
    holiday = (D(date(2024, 2, 9)), D(date(2024, 2, 12)))
    store.save(ds, [Change("005930", _rows("005930", []), holiday)])
    assert store.load(ds, ["005930"], *holiday).spans("005930") == [holiday]


def test_minute_changes_land_in_their_month(tmp_path: Path) -> None:
    store, ds = BarStore(tmp_path), bars.MINUTE
    jan31, feb1 = date(2024, 1, 31), date(2024, 2, 1)
    assert ds.paths("005930", sp.minute_key(jan31, sp.time(9)),
                    sp.minute_key(date(2024, 3, 1), sp.time(9))) == [
        "minute/005930/2024-01.parquet", "minute/005930/2024-02.parquet",
        "minute/005930/2024-03.parquet",
    ]  # fmt: skip
    empty = ds.template.iloc[0:0]
    day = (sp.minute_key(feb1, sp.time(9)), sp.minute_key(feb1, sp.time(15, 30)))
    store.save(ds, [Change("005930", empty, day)])
    assert (tmp_path / "minute/005930/2024-02.parquet").exists()
    across = (sp.minute_key(jan31, sp.time(9)), day[1])
    with pytest.raises(ValueError, match="more than one file"):
        store.save(ds, [Change("005930", empty, across)])


def test_summary_and_folder_read_as_one_dataset(tmp_path: Path) -> None:
    store, ds = BarStore(tmp_path), bars.daily(True)
    for code in ("005930", "000660", "035420"):
        rows = _rows(code, ["2024-01-02", "2024-01-03"])
        store.save(ds, [Change(code, rows, (D(date(2024, 1, 2)), D(date(2024, 1, 3))))])
    summary = store.summary()
    assert sorted(summary["symbol"]) == ["000660", "005930", "035420"]
    assert summary["rows"].tolist() == [2, 2, 2]
    assert (summary["first"] == "2024-01-02").all() and (summary["bytes"] > 0).all()
    table = pads.dataset(tmp_path / "daily" / "adjusted", format="parquet").to_table()
    assert table.num_rows == 6
    assert len(pd.read_parquet(tmp_path / "daily" / "adjusted")) == 6


def test_files_holding_fetched_at_in_utc_read_with_the_others(tmp_path: Path) -> None:
    """A file written before instants were kept in Asia/Seoul (``fetched_at`` UTC) reads, and
    joins the newer files' rows, in Asia/Seoul."""
    store, ds = BarStore(tmp_path), bars.daily(True)
    span = (D(date(2024, 1, 2)), D(date(2024, 1, 3)))
    for code in ("005930", "000660"):  # two files (parts 24 and 18)
        store.save(ds, [Change(code, _rows(code, ["2024-01-02", "2024-01-03"]), span)])
    old = tmp_path / ds.path("000660", span[0])
    table = pq.read_table(old)
    at = table.schema.get_field_index("fetched_at")
    utc = table.column(at).cast(pa.timestamp("us", "UTC"))
    pq.write_table(table.set_column(at, "fetched_at", utc), old)
    view = store.load(ds, ["005930", "000660"], *span)
    assert str(view.rows["fetched_at"].dtype) == "datetime64[us, Asia/Seoul]"
    assert (view.rows["fetched_at"] == pd.Timestamp(1.7e9, unit="s", tz="UTC")).all()
    assert len(view.of("000660")) == len(view.of("005930")) == 2


def _writer(folder: str, code: str, n: int) -> None:
    store, ds = BarStore(Path(folder)), bars.daily(True)
    for i in range(n):
        day = date(2024, 1, 1).toordinal() + i
        rows = _rows(code, [date.fromordinal(day).isoformat()])
        store.save(ds, [Change(code, rows, (day, day))])


def test_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    # six codes in one bucket file, written by three processes at once
    ds = bars.daily(True)
    codes: list[str] = []
    n = 0
    while len(codes) < 3:
        code = f"{n:06d}"
        n += 1
        if ds.path(code, 0) == ds.path("005930", 0):
            codes.append(code)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), c, 15)) for c in codes]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    view = BarStore(tmp_path).load(ds, codes, 0, 10**7)
    for code in codes:
        assert len(view.of(code)) == 15
        assert view.spans(code) == [(date(2024, 1, 1).toordinal(), date(2024, 1, 15).toordinal())]
