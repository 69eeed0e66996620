"""Input checks that run before any request: each bad value is named in the error.

Everything here is pure (``today`` is passed in), raises :class:`~kisresearch.errors.ConfigError`
(a ``ValueError``) for a bad value and ``TypeError`` for a value of the wrong kind.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..timebase import KST

T = TypeVar("T")
R = TypeVar("R")

EARLIEST = date(1900, 1, 1)

_SYMBOL = re.compile(r"^[0-9A-Za-z]{6}$")
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


def _codes(value: object, pattern: re.Pattern[str], what: str, expected: str) -> list[str]:
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
        code = item.strip()
        if code.isascii() and pattern.match(code):  # ASCII first: "ß".upper() is "SS"
            out[code.upper()] = None
        else:
            bad.append(repr(item))
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise ConfigError(
            f"malformed {what}{'s' if len(bad) > 1 else ''} {shown}: expected {expected}"
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
    duplicates collapse, letters are upper-cased. Anything else raises before any request:
    ``TypeError`` for a value that is not a string, ``ValueError`` (ConfigError) listing the
    malformed codes.
    """
    return _codes(value, _SYMBOL, what, "six letters or digits such as '005930'")


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
