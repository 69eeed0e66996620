"""Span arithmetic for the bar store: pure functions on closed integer intervals.

A span ``(a, b)`` holds every key ``a <= k <= b``; keys are day ordinals
(``date.toordinal()``) for daily bars and minute ordinals (:func:`minute_key`) for 1-min bars.
A symbol's coverage is a sorted list of disjoint, non-adjacent spans: what has been asked of KIS
and answered (bars, or known to have none: holidays, halts, before listing).

>>> merge([(1, 3), (4, 6), (9, 9)])
[(1, 6), (9, 9)]
>>> gaps([(1, 6), (9, 9)], 0, 10)
[(0, 0), (7, 8), (10, 10)]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

Span = tuple[int, int]

MINUTES_A_DAY = 24 * 60


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint spans; overlapping or adjacent ones joined."""
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[0] <= s[1]):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def gaps(covered: Iterable[Span], start: int, end: int) -> list[Span]:
    """The parts of ``[start, end]`` that ``covered`` does not hold, oldest first."""
    out: list[Span] = []
    at = start
    for a, b in merge(covered):
        if b < at:
            continue
        if a > end:
            break
        if a > at:
            out.append((at, a - 1))
        at = max(at, b + 1)
    if at <= end:
        out.append((at, end))
    return out


def clip(spans: Iterable[Span], start: int, end: int) -> list[Span]:
    """``spans`` cut to ``[start, end]``."""
    return merge((max(a, start), min(b, end)) for a, b in spans if a <= end and b >= start)


def day_key(day: date) -> int:
    return day.toordinal()


def key_day(key: int) -> date:
    return date.fromordinal(key)


def minute_key(day: date, t: time) -> int:
    """Minutes since 0001-01-01 00:00 (KST wall time) of ``t`` on ``day``."""
    return day.toordinal() * MINUTES_A_DAY + t.hour * 60 + t.minute


def key_minute(key: int) -> datetime:
    day, minute = divmod(key, MINUTES_A_DAY)
    return datetime.combine(date.fromordinal(day), time()) + timedelta(minutes=minute)


def to_json(spans: Iterable[Span]) -> list[list[int]]:
    return [[a, b] for a, b in spans]


def from_json(raw: object) -> list[Span]:
    """Spans from a file's metadata; anything malformed raises ValueError."""
    if not isinstance(raw, list):
        raise ValueError(f"spans must be a list, got {type(raw).__name__}")
    out: list[Span] = []
    for item in raw:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
            or item[0] > item[1]
        ):
            raise ValueError(f"bad span {item!r}")
        out.append((item[0], item[1]))
    return merge(out)
