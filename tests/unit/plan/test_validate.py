from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kisresearch.plan import validate
from kisresearch.timebase import is_trading_day


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("005930", ["005930"]),
        (" 005930 ", ["005930"]),
        (["005930", "000660", "005930"], ["005930", "000660"]),
        (("000660",), ["000660"]),
        ({"000660", "005930"}, ["000660", "005930"]),
        (pd.Series(["035420", "005930"]), ["035420", "005930"]),
        (pd.Index(["035420"]), ["035420"]),
        (["0000j0"], ["0000J0"]),
    ],
)
def test_symbols_normalise(given, expected):
    assert validate.symbols(given) == expected


@pytest.mark.parametrize("given", ["5930", "0059300", "", "삼성전자", "00593-", ["005930", "x"]])
def test_malformed_symbols_are_named(given):
    with pytest.raises(ValueError) as info:
        validate.symbols(given)
    bad = given[-1] if isinstance(given, list) else given
    assert repr(bad) in str(info.value) or "no symbols" in str(info.value)


@pytest.mark.parametrize("given", [None, 5930, [5930], ["005930", None], b"005930", 1.5])
def test_wrong_types_are_type_errors(given):
    with pytest.raises(TypeError) as info:
        validate.symbols(given)
    assert "str" in str(info.value)


def test_int_code_gets_a_hint():
    with pytest.raises(TypeError, match="005930"):
        validate.symbols([5930])


def test_empty_list_is_an_error():
    with pytest.raises(ValueError, match="no symbols"):
        validate.symbols([])


# --- spans and intervals, in yfinance's words ---------------------------------------------

SATURDAY = date(2024, 3, 2)  # the day before, Friday 1 March, is a KRX holiday (삼일절)


@pytest.mark.parametrize(
    ("period", "first"),
    [
        (None, date(2023, 3, 2)),  # neither start nor period: one year
        ("1d", date(2024, 2, 29)),  # the latest trading day: Thursday, past the holiday
        ("5d", date(2024, 2, 23)),  # 23, 26, 27, 28, 29 February
        ("1mo", date(2024, 2, 2)),
        ("3MO", date(2023, 12, 2)),
        ("6mo", date(2023, 9, 2)),
        ("1y", date(2023, 3, 2)),
        ("2y", date(2022, 3, 2)),
        ("5y", date(2019, 3, 2)),
        ("10y", date(2014, 3, 2)),
        ("ytd", date(2024, 1, 1)),
        ("max", validate.EARLIEST),
    ],
)
def test_periods_count_back_from_today(period, first):
    assert validate.span(None, None, period, SATURDAY, is_trading_day) == (first, SATURDAY)


def test_periods_count_back_from_end_and_keep_to_real_days():
    leap = validate.span(None, "2024-02-29", "1y", SATURDAY, is_trading_day)
    assert leap == (date(2023, 2, 28), date(2024, 2, 29))
    assert validate.span(None, "2023-05-31", "3mo", SATURDAY, is_trading_day)[0] == date(
        2023, 2, 28
    )
    weekdays = validate.span(None, None, "5d", SATURDAY, lambda d: d.weekday() < 5)
    assert weekdays[0] == date(2024, 2, 26)  # overseas: weekdays, the KRX holiday counted


def test_start_wins_over_the_default_and_both_are_refused():
    assert validate.span("2024-01-02", None, None, SATURDAY, is_trading_day)[0] == date(2024, 1, 2)
    with pytest.raises(ValueError, match=r"start='2024-01-02', period='2y'"):
        validate.span("2024-01-02", None, "2y", SATURDAY, is_trading_day)
    with pytest.raises(ValueError, match=r"period='W' is a bar interval: pass it as interval='W'"):
        validate.span("2024-01-02", None, "W", SATURDAY, is_trading_day)  # positionally, as before
    with pytest.raises(ValueError, match=r"'2yr'.*1d, 5d, 1mo"):
        validate.span(None, None, "2yr", SATURDAY, is_trading_day)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("D", "D"), ("d", "D"), ("1d", "D"), ("1wk", "W"), ("1MO", "M"), ("w", "W"), ("Y", "Y")],
)
def test_intervals_take_yfinances_names(given, expected):
    assert validate.interval(given, ("D", "W", "M", "Y")) == expected


def test_an_unknown_interval_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"'Y'.*D, W, M or 1d, 1wk, 1mo$"):
        validate.interval("Y", ("D", "W", "M"))
    with pytest.raises(ValueError, match=r"minute_bars\(\)"):
        validate.interval("1m", ("D", "W", "M", "Y"))


def test_yahoo_suffixes_are_dropped_where_they_fit_the_market():
    given = ["005930.KS", "086520.kq", " 000660.Ks ", "123450.KQ", "005930"]
    assert validate.symbols(given) == ["005930", "086520", "000660", "123450"]  # 123450: unknown


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("005930.KQ", r"'005930.KQ': 005930 is listed on KOSPI, so its Yahoo suffix is \.KS"),
        ("086520.KS", r"086520 is listed on KOSDAQ, so its Yahoo suffix is \.KQ"),
        ("005930.KN", r"'005930.KN'.*use the six-digit code '005930'"),
        ("A005930", r"'A005930'.*use the six-digit code '005930'"),
    ],
)
def test_a_suffix_or_prefix_that_does_not_fit_names_the_code_to_use(given, named):
    with pytest.raises(ValueError, match=named):
        validate.symbols(given)
