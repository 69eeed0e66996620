"""The simulator's clock, the KRX trading calendar and the price walk anchored on :data:`REF_DAY`.

One :class:`SimClock` drives everything time-dependent in the simulator: the rate window, token
issuance and expiry, and "today" for market data. It is built on ``time.monotonic()`` (so a
wall-clock jump never opens or closes a rate window) plus an offset that :meth:`SimClock.advance`
moves forward; the epoch reading is the wall time at start-up plus the monotonic time elapsed
since, plus the same offset.

Market hours, trading days and holidays are KRX's, from :mod:`kisresearch.timebase` (the one
module outside ``sim/`` that the simulator imports: the client and the simulator follow one
exchange calendar; it imports only the standard library).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np

from ..timebase import KST, is_trading_day

OPEN_MINUTE = 9 * 60  # 09:00
CLOSE_MINUTE = 15 * 60 + 30  # 15:30
SESSION_MINUTES = CLOSE_MINUTE - OPEN_MINUTE + 1  # 1-min bars labelled 09:00 .. 15:30
FIRST_DAY = date(2010, 1, 4)  # no market data before this
REF_DAY = date(2025, 1, 2)  # universe.csv base prices are closes on this day


@lru_cache(maxsize=12)
def calendar(until_year: int, is_open: Callable[[date], bool] = is_trading_day) -> tuple[date, ...]:
    """Every day ``is_open`` accepts from :data:`FIRST_DAY` through the end of ``until_year``."""
    days: list[date] = []
    day, end = FIRST_DAY, date(until_year, 12, 31)
    while day <= end:
        if is_open(day):
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def trading_days(until: date) -> tuple[date, ...]:
    """Every trading day from :data:`FIRST_DAY` through the end of the year after ``until``.

    Market data for a day never depends on how far this horizon reaches."""
    return calendar(until.year + 1)


def period_key(day: date, period: str) -> tuple[int, ...]:
    """What the days of one bar share: the ISO week (``W``), the month (``M``), the year
    (``Y``), else the day itself."""
    if period == "W":
        iso = day.isocalendar()
        return (iso[0], iso[1])
    if period == "M":
        return (day.year, day.month)
    if period == "Y":
        return (day.year,)
    return (day.toordinal(),)


def anchored_walk(
    steps: np.ndarray, days: Sequence[date], base: float, squash: float
) -> np.ndarray:
    """Prices from daily log-return ``steps`` over ``days``: their running sum, shifted so the
    price on :data:`REF_DAY` is ``base``, and squashed to within ``base * exp(+-squash)``."""
    x = np.cumsum(steps)
    x -= x[max(0, bisect.bisect_right(days, REF_DAY) - 1)]
    return base * np.exp(squash * np.tanh(x / squash))


def ymd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def parse_ymd(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def parse_hms(text: str) -> int | None:
    """``HHMMSS`` -> seconds after midnight, or None."""
    if len(text) != 6 or not text.isdigit():
        return None
    h, m, s = int(text[:2]), int(text[2:4]), int(text[4:])
    if h > 23 or m > 59 or s > 59:
        return None
    return h * 3600 + m * 60 + s


def minute_label(index: int) -> str:
    """``HHMMSS`` label of the ``index``-th 1-min bar of a session (0 = 09:00)."""
    minute = OPEN_MINUTE + index
    return f"{minute // 60:02d}{minute % 60:02d}00"


class Session:
    """The latest session that has opened at a given instant.

    ``day`` is today if today is a trading day and it is 09:00 KST or later, else the previous
    trading day. ``last_minute`` is the index of the latest 1-min bar formed (``SESSION_MINUTES
    - 1`` once the session has closed), and ``closed`` says whether the day's numbers are final.
    """

    __slots__ = ("closed", "day", "last_minute", "now")

    def __init__(self, now: datetime) -> None:
        self.now = now
        today = now.date()
        minute = now.hour * 60 + now.minute
        if is_trading_day(today) and minute >= OPEN_MINUTE:
            self.day = today
            self.last_minute = min(minute, CLOSE_MINUTE) - OPEN_MINUTE
            self.closed = minute >= CLOSE_MINUTE
        else:
            day = today - timedelta(days=1)
            while not is_trading_day(day):
                day -= timedelta(days=1)
            self.day = day
            self.last_minute = SESSION_MINUTES - 1
            self.closed = True

    def __repr__(self) -> str:
        return f"Session({self.day}, last_minute={self.last_minute}, closed={self.closed})"


class SimClock:
    """Monotonic time plus an offset that only moves forward; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def now(self) -> float:
        """Epoch seconds on the simulator's clock."""
        return self._wall0 + (time.monotonic() - self._mono0) + self._offset

    def now_kst(self) -> datetime:
        return datetime.fromtimestamp(self.now(), KST)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulator's clock only moves forward")
        with self._lock:
            self._offset += seconds

    @property
    def offset(self) -> float:
        return self._offset
