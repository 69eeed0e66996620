"""A pull holds about its result's size: each symbol's pages are kept as typed columns once
its item has them, not as the dicts KIS's JSON parses into (about 1.4 kB a daily bar, five
times the frame and more)."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import date, timedelta

import numpy as np
import pytest

import kisresearch as kr
from kisresearch.methods import _base
from kisresearch.shape import frames

MB = 1024 * 1024


@pytest.fixture(scope="module")
def kis():
    # the server in a process of its own: its allocations are not the client's
    with kr.KIS.simulator(
        process=True, rate=1000, limiter=False, cache=False, store=False, progress=False
    ) as client:
        yield client


def test_a_pull_traces_at_most_twice_its_frame(home, kis):
    codes = list(kis.symbols()["symbol"][:200])
    end = date(2025, 6, 30)
    start = end - timedelta(days=365)
    kis.history(codes[:8], start, end)  # the first call's set-up is not the pull's
    gc.collect()
    tracemalloc.start()
    try:
        df = kis.history(codes, start, end)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = df.memory_usage(deep=True).sum()
    assert len(df) > 200 * 200 and df["error"].isna().all()
    assert peak <= 2 * size + 2 * MB, (peak / MB, size / MB)


def test_the_items_keep_typed_columns_not_pages(home, kis):
    kept: list[tuple[dict[str, type], list[int]]] = []
    real = _base.shaped

    def spy(*args, **kw):
        got = real(*args, **kw)
        kept.append(
            (
                {n: type(p.values) for n, p in got.columns.items()},
                [len(p.rows) for p, _ in got.runs],
            )
        )
        return got

    _base.shaped = spy
    try:
        df = kis.history(["005930", "000660"], date(2024, 1, 1), date(2024, 12, 31))
    finally:
        _base.shaped = real
    assert len(kept) == 2 and len(df) > 400
    for kinds, rows in kept:
        assert set(kinds) == {c.name for c in frames.DAILY_COLUMNS}
        assert set(kinds.values()) == {np.ndarray}  # numbers, stamps, flags and text codes
        assert len(rows) == 3 and set(rows) == {0}  # three pages, no row dict kept
