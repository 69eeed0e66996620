"""Bad input fails with a ValueError (or TypeError) naming the value, before any request:
the server sees nothing, not even a token request. Plus the parsers in ``validate``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.errors import ConfigError
from kisresearch.plan import validate

TODAY = date(2024, 6, 14)


@pytest.fixture
def kis(sim, home):
    with kr.KIS(simulator=sim, progress=False) as client:
        yield client


FUTURE = (date.today() + timedelta(days=30)).isoformat()
BAD: list[tuple[str, Callable[[kr.KIS], object], str]] = [
    ("start after end", lambda k: k.history("005930", "2024-02-01", "2024-01-01"), "2024-02-01"),
    ("start in the future", lambda k: k.history("005930", FUTURE), FUTURE),
    ("unparseable start", lambda k: k.history("005930", "2024-13-01"), "2024-13-01"),
    ("words for a date", lambda k: k.history("005930", "yesterday"), "yesterday"),
    ("unknown interval", lambda k: k.history("005930", "2024-01-01", interval="H"), "'H'"),
    ("malformed symbol", lambda k: k.history(["005930", "5930"], "2024-01-01"), "'5930'"),
    ("unknown market", lambda k: k.history("005930", "2024-01-01", market="Q"), "'Q'"),
    (
        "minute start after end",
        lambda k: k.minute_bars("005930", start="14:00", end="10:00"),
        "14:00",
    ),
    ("minute bad time", lambda k: k.minute_bars("005930", start="25:00"), "25:00"),
    ("minute future date", lambda k: k.minute_bars("005930", date=FUTURE), FUTURE),
    ("orderbook symbol", lambda k: k.orderbook("00593O!"), "00593O!"),
    ("investors symbol", lambda k: k.investors(["12345"]), "12345"),
    ("info symbol", lambda k: k.info("삼성전자"), "삼성전자"),
    ("ticker charset", lambda k: k.overseas_quotes("AA$"), "AA$"),
    ("ticker length", lambda k: k.overseas_quotes("A" * 17), "A" * 17),
    ("unknown exchange", lambda k: k.overseas_quotes("AAPL", exchange="NASDAQ"), "NASDAQ"),
    (
        "overseas interval",
        lambda k: k.overseas_history("AAPL", start="2024-01-01", interval="Y"),
        "'Y'",
    ),
    (
        "overseas start after end",
        lambda k: k.overseas_history("AAPL", start="2024-02-01", end="2024-01-01"),
        "2024-02-01",
    ),
    (
        "overseas bad exchange",
        lambda k: k.overseas_history("AAPL", "XXX", start="2024-01-01"),
        "XXX",
    ),
    ("symbols market", lambda k: k.symbols("KONEX"), "KONEX"),
]


@pytest.mark.parametrize(("case", "call", "named"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_fails_before_any_request(kis, sim, case, call, named):
    with pytest.raises(ValueError) as info:
        call(kis)
    assert named in str(info.value)
    truth = sim.truth()
    assert truth["accepted"] == 0 and truth["rejected"] == 0 and truth["tokens_issued"] == 0


@pytest.mark.parametrize("bad", [None, 20240101, [5930], b"005930"])
def test_wrong_types_are_type_errors(kis, sim, bad):
    with pytest.raises(TypeError):
        kis.history(bad, "2024-01-01")
    with pytest.raises(TypeError):
        kis.history("005930", bad if bad is not None else 1.5)
    assert sim.truth()["accepted"] == 0


def test_real_only_calls_fail_on_paper_before_any_request(home):
    with kr.KIS.simulator(profile="paper", progress=False) as kis:
        last_week = date.today() - timedelta(days=7)
        with pytest.raises(ValueError, match="FHKST03010230"):
            kis.minute_bars("005930", date=last_week)
        with pytest.raises(ValueError, match="CTPF1002R"):
            kis.info("005930")
        truth = kis.sim.truth()
        assert truth["accepted"] == 0 and truth["tokens_issued"] == 0


def test_every_date_form_gives_the_same_frame(kis, sim):
    forms = [
        "2024-03-04",
        "20240304",
        date(2024, 3, 4),
        datetime(2024, 3, 4, 15),
        pd.Timestamp("2024-03-04"),
    ]
    frames = [
        kis.history("005930", start, "2024-03-08").drop(columns=["from_cache", "fetched_at"])
        for start in forms
    ]
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other)
    assert sim.truth()["accepted"] == 1  # the rest came from the cache


# --- validate ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2024-06-14",
        "20240614",
        " 2024/06/14 ",
        date(2024, 6, 14),
        datetime(2024, 6, 14, 23, 59),
        pd.Timestamp("2024-06-14 10:00"),
        datetime(2024, 6, 13, 20, 0, tzinfo=UTC),  # 05:00 on the 14th in Seoul
        pd.Timestamp("2024-06-14 09:00", tz="Asia/Seoul"),
    ],
)
def test_day_forms(value):
    assert validate.day(value) == TODAY


@pytest.mark.parametrize("value", ["2024-02-30", "14/06/2024", "", "today", pd.NaT])
def test_bad_days(value):
    with pytest.raises(ValueError):
        validate.day(value, "start")


def test_date_range_defaults_and_clips_to_today():
    assert validate.date_range("2024-01-01", None, TODAY) == (date(2024, 1, 1), TODAY)
    assert validate.date_range("2024-01-01", "2030-01-01", TODAY) == (date(2024, 1, 1), TODAY)
    assert validate.date_range(TODAY, TODAY, TODAY) == (TODAY, TODAY)
    with pytest.raises(ConfigError, match="after end=today"):
        validate.date_range("2024-07-01", None, TODAY)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10:30", time(10, 30)),
        ("10:30:15", time(10, 30, 15)),
        ("1030", time(10, 30)),
        ("103015", time(10, 30, 15)),
        (time(10, 30, 15, 999), time(10, 30, 15)),
        (datetime(2024, 1, 2, 10, 30), time(10, 30)),
    ],
)
def test_time_of_day_forms(value, expected):
    assert validate.time_of_day(value, "start") == expected


def test_tickers_normalise():
    assert validate.tickers(["aapl", "BRK.B", "00700", "aapl", "BF-B"]) == [
        "AAPL",
        "BRK.B",
        "00700",
        "BF-B",
    ]
    assert validate.tickers(pd.Series(["msft"])) == ["MSFT"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50123456-01", ("50123456", "01")),
        ("5012345601", ("50123456", "01")),
        (" 50123456-22 ", ("50123456", "22")),
    ],
)
def test_account_forms(value, expected):
    assert validate.account(value) == expected


def test_choice_is_case_insensitive_and_lists_the_options():
    assert validate.choice("w", ("D", "W"), "interval") == "W"
    with pytest.raises(ConfigError, match="expected one of D, W"):
        validate.choice("H", ("D", "W"), "interval")


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"workers": 2.5}, ValueError, "2.5"),
        ({"workers": "4"}, TypeError, "'4'"),
        ({"workers": 0}, ValueError, "workers"),
        ({"rate": 0}, ValueError, "rate=0"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": "10"}, TypeError, "'10'"),
        ({"cache_ttl": {"quotez": 60}}, ValueError, "'quotez'"),
        ({"item_timeout": -1}, ValueError, "item_timeout"),
    ],
)
def test_bad_client_settings_are_named(sim, home, options, error, named):
    with pytest.raises(error, match=named):
        kr.KIS(simulator=sim, progress=False, **options)
    assert sim.truth()["tokens_issued"] == 0


def test_cache_ttl_takes_endpoint_names():
    with kr.KIS.simulator(progress=False, cache_ttl={"daily": 60, "master": 3600}) as kis:
        assert kis.cache is not None and kis.cache.ttl_overrides["master"] == 3600


@pytest.mark.parametrize("value", ["0059ß", "00593ı", "００５９３０"])
def test_non_ascii_codes_are_refused(value):
    with pytest.raises(ValueError, match=repr(value)):
        validate.symbols(value)


def test_missing_values_in_a_series_are_named():
    with pytest.raises(TypeError, match="None/NaN"):
        validate.symbols(pd.Series(["005930", None]))


@pytest.mark.parametrize(
    "value", [date(1, 1, 1), "1899-12-31", datetime(9999, 12, 31, 23, tzinfo=UTC)]
)
def test_dates_out_of_range_are_refused(value):
    with pytest.raises(ValueError, match="start"):
        validate.day(value, "start")


def test_seven_digit_dates_are_ambiguous():
    with pytest.raises(ValueError, match="2024111"):
        validate.day("2024111")
