"""One bar-store file: typed rows and spans together, replaced atomically, owner-only; a corrupt
file is moved aside with a warning that names it."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kisresearch.store import bars, files


def _rows(symbol: str, days: list[str]) -> pd.DataFrame:
    ds = bars.daily(True)
    n = len(days)
    df = pd.DataFrame(
        {
            "symbol": [symbol] * n,
            "date": pd.to_datetime(days),
            **{c: list(range(100, 100 + n)) for c in ("open", "high", "low", "close")},
            "volume": [10] * n,
            "value_traded": [1000] * n,
            "change": [1] * n,
            "change_sign": ["2"] * n,
            "ex_code": ["00"] * n,
            "split_rate": [0.0] * n,
            "modified": [False] * n,
            "fetched_at": pd.to_datetime([1.7e9] * n, unit="s", utc=True),
        }
    )
    return files.cast(df, ds.template)


def test_round_trip_keeps_dtypes_spans_and_mode(tmp_path: Path) -> None:
    ds = bars.daily(True)
    path = tmp_path / "part-00.parquet"
    rows = _rows("005930", ["2024-01-03", "2024-01-02"])
    files.write(path, files.Part(rows, {"005930": [(1, 5)], "000000": [(2, 3)]}), "date")
    back = files.read(path, ds.template)
    assert back.spans == {"005930": [(1, 5)], "000000": [(2, 3)]}
    pd.testing.assert_frame_equal(back.rows, rows.iloc[::-1].reset_index(drop=True))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    # readable as it is by another reader
    assert pq.read_table(path).num_rows == 2


def test_missing_file_is_an_empty_part(tmp_path: Path) -> None:
    ds = bars.daily(False)
    part = files.read(tmp_path / "nope.parquet", ds.template)
    assert part.spans == {} and len(part.rows) == 0
    assert list(part.rows.columns) == list(ds.template.columns)


@pytest.mark.parametrize("content", [b"", b"PAR1garbage", b"not parquet at all"])
def test_corrupt_file_moved_aside_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / "part-07.parquet"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, "kisresearch.store"):
        part = files.read(path, bars.daily(True).template)
    assert part.spans == {} and len(part.rows) == 0
    assert not path.exists()
    aside = [p.name for p in tmp_path.iterdir()]
    assert len(aside) == 1 and aside[0].startswith("_part-07.parquet.corrupt-")
    assert str(path) in caplog.text and aside[0] in caplog.text


def test_foreign_parquet_without_our_metadata_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "part-01.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(path)
    assert len(files.read(path, bars.daily(True).template).rows) == 0
    assert not path.exists()


def test_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = bars.daily(True)
    path = tmp_path / "part-00.parquet"
    files.write(path, files.Part(_rows("005930", ["2024-01-02"]), {"005930": [(1, 2)]}), "date")

    def boom(*_: object, **__: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        files.write(path, files.Part(_rows("005930", []), {}), "date")
    assert len(files.read(path, ds.template).rows) == 1
    assert list(tmp_path.iterdir()) == [path]
