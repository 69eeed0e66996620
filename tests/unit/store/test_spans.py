"""Span arithmetic of the bar store, and the settle rules it relies on."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kisresearch.store import spans as sp
from kisresearch.timebase import KST, latest_session, settled_day

spans_st = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=8)


@given(spans_st, st.integers(0, 60), st.integers(0, 60))
def test_gaps_and_coverage_partition_the_range(raw: list[tuple[int, int]], a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    covered = sp.merge(raw)
    held = {k for s0, s1 in covered for k in range(s0, s1 + 1)}
    holes = sp.gaps(covered, start, end)
    missing = {k for s0, s1 in holes for k in range(s0, s1 + 1)}
    assert missing == set(range(start, end + 1)) - held
    assert holes == sp.merge(holes)  # sorted, disjoint, not adjacent
    clipped = {k for s0, s1 in sp.clip(covered, start, end) for k in range(s0, s1 + 1)}
    assert clipped == held & set(range(start, end + 1))


def test_merge_joins_adjacent_and_drops_empty() -> None:
    assert sp.merge([(5, 7), (1, 3), (4, 4), (9, 8)]) == [(1, 7)]


def test_keys_round_trip() -> None:
    assert sp.key_day(sp.day_key(date(2024, 2, 29))) == date(2024, 2, 29)
    k = sp.minute_key(date(2024, 3, 4), time(15, 30))
    assert sp.key_minute(k) == datetime(2024, 3, 4, 15, 30)


@pytest.mark.parametrize(
    "raw", [{"a": 1}, [[1]], [[2, 1]], [["1", 2]], [[True, 2]], "x", [[1, 2, 3]]]
)
def test_from_json_refuses_malformed(raw: object) -> None:
    with pytest.raises(ValueError):
        sp.from_json(raw)


def test_from_json_round_trip() -> None:
    assert sp.from_json(sp.to_json([(1, 2), (5, 9)])) == [(1, 2), (5, 9)]


def _at(y: int, m: int, d: int, hh: int, mm: int = 0) -> float:
    return datetime(y, m, d, hh, mm, tzinfo=KST).timestamp()


@pytest.mark.parametrize(
    ("now", "latest", "settled"),
    [
        (_at(2024, 3, 4, 8, 59), date(2024, 2, 29), date(2024, 2, 29)),  # Mon 8:59, Fri a holiday
        (_at(2024, 3, 4, 9, 0), date(2024, 3, 4), date(2024, 2, 29)),  # open: running
        (_at(2024, 3, 4, 17, 59), date(2024, 3, 4), date(2024, 2, 29)),  # after hours
        (_at(2024, 3, 4, 18, 0), date(2024, 3, 4), date(2024, 3, 4)),  # final
        (_at(2024, 3, 1, 12, 0), date(2024, 2, 29), date(2024, 2, 29)),  # 3/1 holiday
        (_at(2024, 3, 3, 12, 0), date(2024, 2, 29), date(2024, 2, 29)),  # Sunday
    ],
)
def test_latest_and_settled_follow_the_krx_calendar(
    now: float, latest: date, settled: date
) -> None:
    assert latest_session(now) == latest
    assert settled_day(now) == settled
