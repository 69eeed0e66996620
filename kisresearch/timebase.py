"""The one place for time: the Clock seam, KST, and KRX's sessions, trading days and holidays.

``Clock.now()`` is wall-clock epoch seconds, because limiter state and token expiry are shared
with other processes (and, through Redis, other machines), where only the wall clock is common.
Tests inject a fake clock whose ``sleep`` advances ``now`` instead of blocking.

Market time is KRX's: KST (UTC+9, no daylight saving since 1988), regular session 09:00-15:30
on trading days. Trading days are weekdays minus KRX's holidays: fixed-date holidays every year,
lunar and substitute holidays for 2020-2027 (later years get the fixed-date ones only). Every
function that asks "is this a trading day" takes ``holidays``: ``None`` means KRX's list here,
a collection of dates means exactly those (``()``: weekdays only).

This module imports only the standard library, so the simulator (which plays the same exchange)
shares it.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Collection
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol

__all__ = [
    "CLOSE",
    "KST",
    "OPEN",
    "SETTLED",
    "SYSTEM_CLOCK",
    "Clock",
    "FollowingClock",
    "Holidays",
    "SystemClock",
    "is_krx_holiday",
    "is_trading_day",
    "iso_kst",
    "krx_session",
    "kst",
    "latest_session",
    "next_open",
    "previous_trading_day",
    "settled_day",
    "until_next_open",
]

KST = timezone(timedelta(hours=9), "KST")  # Asia/Seoul
OPEN = time(9, 0)
CLOSE = time(15, 30)
SETTLED = time(18, 0)  # after-hours trading has ended: a session's numbers are final

Holidays = Collection[date] | None


# --- clocks ------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.time`` and ``time.sleep``."""

    def now(self) -> float:
        return _time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()


class FollowingClock:
    """Another clock's ``now`` (a simulator's: wall time plus what ``sim.advance()`` added) with
    real sleeps, so that the client's token and cache rules see the same "now" as the server."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now())

    def sleep(self, seconds: float) -> None:
        SYSTEM_CLOCK.sleep(seconds)

    def __repr__(self) -> str:
        return "FollowingClock()"


# --- the KRX calendar --------------------------------------------------------------------------

_FIXED_HOLIDAYS = frozenset(
    {(1, 1), (3, 1), (5, 1), (5, 5), (6, 6), (8, 15), (10, 3), (10, 9), (12, 25), (12, 31)}
)
_LUNAR_AND_OTHER = {
    2020: ("0124", "0127", "0415", "0430", "0817", "0930", "1001", "1002"),
    2021: ("0211", "0212", "0519", "0816", "0920", "0921", "0922", "1004", "1011"),
    2022: ("0131", "0201", "0202", "0309", "0601", "0909", "0912", "1010"),
    2023: ("0123", "0124", "0529", "0928", "0929", "1002"),
    2024: ("0209", "0212", "0410", "0515", "0916", "0917", "0918"),
    2025: ("0127", "0128", "0129", "0130", "0303", "0506", "0603", "1006", "1007", "1008"),
    2026: ("0216", "0217", "0218", "0302", "0525", "0603", "0817", "0924", "0925", "1005"),
    2027: ("0208", "0209", "0513", "0816", "0914", "0915", "0916", "1004", "1011"),
}


def is_krx_holiday(day: date) -> bool:
    """A KRX holiday on a date that could be a weekday (fixed-date, lunar or substitute)."""
    if (day.month, day.day) in _FIXED_HOLIDAYS:
        return True
    return f"{day.month:02d}{day.day:02d}" in _LUNAR_AND_OTHER.get(day.year, ())


def is_trading_day(day: date, holidays: Holidays = None) -> bool:
    """A weekday that is not a holiday (``holidays=None``: KRX's list)."""
    if day.weekday() >= 5:
        return False
    return not is_krx_holiday(day) if holidays is None else day not in holidays


def kst(now: float) -> datetime:
    """``now`` (epoch seconds) as an aware KST datetime."""
    return datetime.fromtimestamp(now, KST)


def iso_kst(now: float) -> str:
    """``now`` (epoch seconds) as ISO 8601 in KST, the toolkit's one way to print a time."""
    return kst(now).isoformat()


def krx_session(now: float, holidays: Holidays = None) -> bool:
    """True while KRX's regular session runs: trading days, 09:00 <= t < 15:30 KST."""
    t = kst(now)
    return is_trading_day(t.date(), holidays) and OPEN <= t.time() < CLOSE


def next_open(now: float, holidays: Holidays = None) -> float:
    """Epoch seconds of the first session open strictly after ``now`` (Fri 16:00 -> Mon 09:00)."""
    t = kst(now)
    day = t.date() if t.time() < OPEN else t.date() + timedelta(days=1)
    while not is_trading_day(day, holidays):
        day += timedelta(days=1)
    return datetime.combine(day, OPEN, KST).timestamp()


def until_next_open(now: float, holidays: Holidays = None) -> float:
    return next_open(now, holidays) - now


def previous_trading_day(day: date, holidays: Holidays = None) -> date:
    """The last trading day strictly before ``day``."""
    day -= timedelta(days=1)
    while not is_trading_day(day, holidays):
        day -= timedelta(days=1)
    return day


def latest_session(now: float, holidays: Holidays = None) -> date:
    """The trading day of the latest session that has opened by ``now`` (before Monday's open:
    Friday's)."""
    t = kst(now)
    if is_trading_day(t.date(), holidays) and t.time() >= OPEN:
        return t.date()
    return previous_trading_day(t.date(), holidays)


def settled_day(now: float, holidays: Holidays = None) -> date:
    """The latest trading day whose numbers are final by ``now``: its session closed and its
    after-hours trading over (:data:`SETTLED`, 18:00 KST). Bars up to it may be kept as final."""
    t = kst(now)
    if is_trading_day(t.date(), holidays) and t.time() >= SETTLED:
        return t.date()
    return previous_trading_day(t.date(), holidays)
