"""Input checks that run before any request: each bad value is named in the error.

Everything here is pure (``today`` is passed in), raises :class:`~kisresearch.errors.ConfigError`
(a ``ValueError``) for a bad value and ``TypeError`` for a value of the wrong kind.
"""

from __future__ import annotations

import functools
import inspect
import re
from calendar import monthrange
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..shape.markets import YAHOO_SUFFIXES, known_markets
from ..timebase import KST

T = TypeVar("T")
R = TypeVar("R")

EARLIEST = date(1900, 1, 1)

_SYMBOL = re.compile(r"^[0-9A-Za-z]{6}$")
_YAHOO = re.compile(r"^([0-9A-Za-z]{6})(\.K[SQ])$", re.IGNORECASE)
_SIX_DIGITS = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_TICKER = re.compile(r"^[0-9A-Za-z.\-]{1,16}$")
_ACCOUNT = re.compile(r"^(\d{8})-?(\d{2})$", re.ASCII)
_DATE = re.compile(r"^([0-9]{4})([-/.]?)([0-9]{2})\2([0-9]{2})$")  # 2024-01-31, 20240131
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$|^(\d{2})(\d{2})(\d{2})?$", re.ASCII)


def _items(value: object, what: str) -> list[object]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        raise TypeError(
            f"{what}s must be a str or a list/Series of str, not a mapping "
            f"({type(value).__name__}); pass list(d) or d.values() explicitly"
        )
    if value is None or isinstance(value, (bytes, int, float)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{what}s must be a str or a list/Series of str, not {value!r}")
    return list(value)


def _codes(
    value: object,
    pattern: re.Pattern[str],
    what: str,
    expected: str,
    bare: Callable[[str], str] = str.strip,
) -> list[str]:
    out: dict[str, None] = {}
    bad: list[str] = []
    for item in _items(value, what):
        if not isinstance(item, str) and _missing(item):
            raise TypeError(f"{what} {item!r} is a missing value (None/NaN), not a str")
        if not isinstance(item, str):
            hint = ""
            if (
                what == "symbol"
                and isinstance(item, int)
                and not isinstance(item, bool)
                and 0 <= item < 10**6
            ):
                hint = f" (codes are text: {item} -> {item:06d}; read them with dtype=str)"
            raise TypeError(f"{what} {item!r} is a {type(item).__name__}, not a str{hint}")
        code = bare(item)
        if code.isascii() and pattern.match(code):  # ASCII first: "ß".upper() is "SS"
            out[code.upper()] = None
        else:
            bad.append(repr(item))
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        six = _SIX_DIGITS.search(bad[0]) if what == "symbol" else None
        hint = f"; for {bad[0]} use the six-digit code {six.group(1)!r}" if six else ""
        raise ConfigError(
            f"malformed {what}{'s' if len(bad) > 1 else ''} {shown}: expected {expected}{hint}"
        )
    if not out:
        raise ConfigError(f"no {what}s given")
    return list(out)


def _missing(item: object) -> bool:
    """None, NaN or NaT (what a pandas Series holds where a value is missing)."""
    return item is None or (isinstance(item, float) and item != item) or item is pd.NaT


def symbols(value: object, *, what: str = "symbol") -> list[str]:
    """Normalise one symbol or an iterable of symbols to a list of unique six-character codes.

    Accepts a str, list, tuple, set, pandas Series or Index. Order is kept (a set is sorted),
    duplicates collapse, letters are upper-cased, and Yahoo's suffixes are dropped
    (``"005930.KS"`` is ``"005930"``) once checked against the market where it is known
    (:func:`~kisresearch.shape.markets.known_markets`: ``"005930.KQ"`` is refused, naming
    ``.KS``). Anything else raises before any request: ``TypeError`` for a value that is not a
    string, ``ValueError`` (ConfigError) listing the malformed codes.
    """
    return _codes(value, _SYMBOL, what, "six letters or digits such as '005930'", _unsuffixed)


def _unsuffixed(item: str) -> str:
    """``item`` stripped, without a Yahoo suffix that fits its market."""
    code = item.strip()
    found = _YAHOO.match(code)
    if found is None:
        return code
    bare, suffix = found.group(1).upper(), found.group(2).upper()
    market = known_markets().get(bare)
    if market is not None and YAHOO_SUFFIXES[suffix] != market:
        right = next(s for s, m in YAHOO_SUFFIXES.items() if m == market)
        raise ConfigError(
            f"symbol {item!r}: {bare} is listed on {market}, so its Yahoo suffix is {right}, "
            f"not {suffix}; KIS needs no suffix: {bare!r}"
        )
    return bare


def tickers(value: object) -> list[str]:
    """Like :func:`symbols`, for overseas tickers: 1-16 of ``A-Z 0-9 . -`` (``"BRK.B"``,
    ``"00700"``), upper-cased."""
    return _codes(value, _TICKER, "ticker", "1-16 letters, digits, '.' or '-' such as 'AAPL'")


def day(value: object, what: str = "date") -> date:
    """A calendar day from ``"2024-01-31"``, ``"20240131"``, a ``date``, a ``datetime`` or a
    ``pd.Timestamp``, from 1900 on. An aware datetime is read in KST (the market's zone)."""
    found = _day(value, what)
    if found < EARLIEST:
        raise ConfigError(f"{what}={value!r} is before {EARLIEST}: no market data that old")
    return found


def _day(value: object, what: str) -> date:
    if isinstance(value, datetime):  # pd.Timestamp is a datetime too
        return _in_kst(value, what).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        found = _DATE.match(value.strip())
        try:
            if found is None:
                raise ValueError
            return date(int(found.group(1)), int(found.group(3)), int(found.group(4)))
        except ValueError:
            raise ConfigError(
                f"{what}={value!r} is not a date: use 'YYYY-MM-DD' or 'YYYYMMDD'"
            ) from None
    raise TypeError(f"{what} must be a str, date, datetime or pandas Timestamp, not {value!r}")


def _in_kst(value: datetime, what: str) -> datetime:
    """``value`` read in KST if it is aware, as is if naive; NaT and out-of-range raise."""
    if value != value:  # NaT
        raise ConfigError(f"{what} is missing (NaT)")
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(KST)
    except OverflowError:
        raise ConfigError(f"{what}={value!r} is out of range") from None


def date_range(start: object, end: object, today: date) -> tuple[date, date]:
    """``(start, end)`` as dates; ``end=None`` is ``today`` and an end after today is today.
    Raises if ``start`` comes after ``end``."""
    first = day(start, "start")
    last = today if end is None else min(day(end, "end"), today)
    if first > last:
        shown = "today" if end is None else repr(end)
        raise ConfigError(f"start={start!r} is after end={shown} ({first} > {last})")
    return first, last


PERIODS = ("1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max")
DEFAULT_PERIOD = "1y"
_PERIOD = re.compile(r"^(\d+)(d|mo|y)$")


def span(
    start: object,
    end: object,
    period: object,
    today: date,
    trading_day: Callable[[date], bool],
) -> tuple[date, date]:
    """The days of a bar request, ``(first, last)``: ``start`` to ``end`` as in
    :func:`date_range`, or ``period`` back from ``end`` (None: today), in yfinance's words
    (:data:`PERIODS`): ``"1d"``, ``"5d"`` the latest 1 or 5 days that ``trading_day`` holds up
    to ``end``; ``"1mo"`` ... ``"10y"`` from the same calendar day that many months or years
    before (the 29th of February a year back is the 28th); ``"ytd"`` from the 1st of January;
    ``"max"`` from 1900. Neither given: :data:`DEFAULT_PERIOD`. Both given is an error."""
    if isinstance(period, str) and period.strip().upper() in ("D", "W", "M", "Y"):
        raise ConfigError(
            f"period={period!r} is a bar interval: pass it as interval={period!r} "
            "(period, before interval, is a span such as '1y')"
        )
    if start is not None and period is not None:
        raise ConfigError(
            f"give start or period, not both (start={start!r}, period={period!r}): "
            "period counts back from end"
        )
    if start is not None:
        return date_range(start, end, today)
    name = period.strip().lower() if isinstance(period, str) else period
    if name is None:
        name = DEFAULT_PERIOD
    if name not in PERIODS:
        raise ConfigError(f"unknown period {period!r}: expected one of {', '.join(PERIODS)}")
    last = today if end is None else min(day(end, "end"), today)
    if name == "max":
        return EARLIEST, last
    if name == "ytd":
        return date(last.year, 1, 1), last
    found = _PERIOD.match(name)
    assert found is not None
    count, unit = int(found.group(1)), found.group(2)
    if unit == "d":
        first = last + timedelta(days=1)
        while count:
            first -= timedelta(days=1)
            count -= trading_day(first)
        return first, last
    months = count * (12 if unit == "y" else 1)
    year, month = divmod(last.year * 12 + last.month - 1 - months, 12)
    month += 1
    return date(year, month, min(last.day, monthrange(year, month)[1])), last


_INTERVAL_ALIASES = {"1d": "D", "1wk": "W", "1mo": "M"}  # yfinance's names


def interval(value: object, allowed: Sequence[str]) -> str:
    """A bar interval as KIS names it (one of ``allowed``, such as ``D W M Y``), from that name
    in any case or yfinance's ``"1d"``, ``"1wk"``, ``"1mo"``."""
    if isinstance(value, str):
        name = _INTERVAL_ALIASES.get(value.strip().lower(), value.strip().upper())
        if name in allowed:
            return name
    aliases = [a for a, n in _INTERVAL_ALIASES.items() if n in allowed]
    minute = isinstance(value, str) and value.strip().lower() in ("1m", "1min", "1t")
    raise ConfigError(
        f"unknown interval {value!r}: expected one of {', '.join(allowed)} "
        f"or {', '.join(aliases)}" + ("; 1-minute bars come from minute_bars()" if minute else "")
    )


def time_of_day(value: object, what: str) -> time:
    """A time of day from ``"10:30"``, ``"10:30:00"``, ``"1030"``, ``"103000"``, a ``time`` or
    a ``datetime`` (its time; an aware one read in KST)."""
    if isinstance(value, datetime):
        return _in_kst(value, what).time().replace(microsecond=0, tzinfo=None)
    if isinstance(value, time):
        return value.replace(microsecond=0, tzinfo=None)
    if isinstance(value, str):
        found = _TIME.match(value.strip())
        try:
            if found is None:
                raise ValueError
            h, m, sec = (found.group(i) or found.group(i + 3) for i in (1, 2, 3))
            return time(int(h), int(m), int(sec or 0))
        except ValueError:
            raise ConfigError(
                f"{what}={value!r} is not a time of day: use 'HH:MM' or 'HHMMSS'"
            ) from None
    raise TypeError(f"{what} must be a str, time or datetime, not {value!r}")


def choice(value: object, allowed: Sequence[str], what: str) -> str:
    """``value`` upper-cased if it is one of ``allowed``; else an error listing them."""
    if isinstance(value, str) and value.strip().upper() in allowed:
        return value.strip().upper()
    raise ConfigError(f"unknown {what} {value!r}: expected one of {', '.join(allowed)}")


def account(value: str | None) -> tuple[str, str]:
    """``(CANO, ACNT_PRDT_CD)`` from ``"NNNNNNNN-NN"`` or ten digits.

    The number is a credential: errors never show it, they name ``KIS_ACCOUNT``.
    """
    if not value:
        raise ConfigError(
            "this call needs an account: set KIS_ACCOUNT (or pass account=) "
            "as 'NNNNNNNN-NN', the 8-digit account and the 2-digit product code"
        )
    found = _ACCOUNT.match(value.strip())
    if found is None:
        raise ConfigError(
            f"KIS_ACCOUNT (or account=) is malformed ({len(value)} characters): "
            "expected 'NNNNNNNN-NN' or 10 digits"
        )
    return found.group(1), found.group(2)


_FLAGS = {"bool": False, "bool | None": True}  # annotation -> None allowed


def flags(cls: type[T]) -> type[T]:
    """Make each public method of ``cls`` refuse, before any request, a value other than True
    or False (or None where the annotation allows it) for its ``bool`` parameters:
    ``adjusted="False"`` would otherwise act as True. A ``TypeError`` names the parameter."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        sig = inspect.signature(fn)
        checked = {p.name: _FLAGS[p.annotation] for p in sig.parameters.values()
                   if p.annotation in _FLAGS}  # fmt: skip
        if checked:
            setattr(cls, name, _flagged(fn, sig, checked))
    return cls


def _flagged(fn: Callable[..., R], sig: inspect.Signature, checked: dict[str, bool]) -> Any:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> R:
        given = sig.bind_partial(*args, **kwargs).arguments
        for name, optional in checked.items():
            if name in given:
                value = given[name]
                if not (isinstance(value, bool | np.bool_) or (value is None and optional)):
                    allowed = "True, False or None" if optional else "True or False"
                    raise TypeError(f"{name} must be {allowed}, got {value!r}")
        return fn(*args, **kwargs)

    return call
