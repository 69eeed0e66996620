"""Bad input fails early and says what was wrong.

A table of malformed symbols, dates, intervals, exchanges, settings and credentials: each must
raise the stated error type (a :class:`~kisresearch.errors.ConfigError` is a ``ValueError``),
with a message naming the bad value, and nothing may reach the network: the simulator sees no
call and issues no token, and no HTTP request leaves the process at all (the ``wire``
fixture counts every request ``requests`` sends).

Then property-based fuzzing (hypothesis): symbol lists and date ranges of any shape raise
nothing but ``ValueError`` / ``TypeError``, and valid symbol lists give a frame indexed by
the normalised input. Most examples exercise the validation layer alone (invalid input must
fail before any request anyway); a few go through ``KIS.quotes`` / ``KIS.history`` over HTTP.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kisresearch as kr
from kisresearch.pipeline.retry import RetryPolicy
from kisresearch.plan import validate
from kisresearch.sim import Simulator

# -- the network tripwire ------------------------------------------------------------------


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL that ``requests`` sends during the test (the client's only way out)."""
    sent: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(request.url))
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return sent


def assert_silent(sim: Simulator, wire: list[str]) -> None:
    truth = sim.truth()
    assert truth["accepted"] == 0 and truth["rejected"] == 0
    assert truth["tokens_issued"] == 0 and truth["tokens_reused"] == 0
    assert truth["errors"] == {}
    assert wire == []


# -- the table -----------------------------------------------------------------------------


@dataclass
class Env:
    """What a case may use: the simulator, a private toolkit folder, a scratch folder."""

    sim: Simulator
    home: Path
    tmp: Path
    _kis: kr.KIS | None = None

    @property
    def kis(self) -> kr.KIS:
        """A client on the simulator, made on first use (making it sends nothing)."""
        if self._kis is None:
            self._kis = self.make(cache=False)
        return self._kis

    def make(self, **options: Any) -> kr.KIS:
        settings: dict[str, Any] = dict(simulator=self.sim, home=self.home, progress=False)
        return kr.KIS(**{**settings, **options})

    def keyed(self, **options: Any) -> kr.KIS:
        """A client that reaches the simulator by URL and keys, not as ``simulator=``: no
        account comes with it."""
        return kr.KIS(
            app_key=self.sim.app_key,
            app_secret=self.sim.app_secret,
            base_url=self.sim.base_url,
            home=self.home,
            progress=False,
            **options,
        )


def has(method: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not hasattr(kr.KIS, method), reason=f"KIS.{method}() does not exist yet"
    )


def case(
    id: str,
    call: Callable[[Env], Any],
    error: type[Exception] | tuple[type, ...],
    *named: str,
    marks: Any = (),
) -> Any:
    return pytest.param(call, error, named, id=id, marks=marks)


def _file(env: Env) -> str:
    path = env.tmp / "not-a-folder"
    path.write_text("x")
    return str(path)


SYMBOLS = [
    case("five-digits", lambda e: e.kis.quotes("12345"), ValueError, "'12345'"),
    case("seven-digits", lambda e: e.kis.quotes("0059300"), ValueError, "'0059300'"),
    case("empty-str", lambda e: e.kis.quotes(""), ValueError, "''"),
    case("none", lambda e: e.kis.quotes(None), TypeError, "None"),
    case("int", lambda e: e.kis.quotes(5930), TypeError, "5930"),
    case("int-in-list", lambda e: e.kis.quotes(["005930", 7]), TypeError, "symbol 7 ", "000007"),
    case("dict", lambda e: e.kis.quotes({"005930": 1}), TypeError, "mapping"),
    case("nested-list", lambda e: e.kis.quotes([["005930"]]), TypeError, "['005930']"),
    case("empty-list", lambda e: e.kis.quotes([]), ValueError, "no symbols"),
    case("hangul-name", lambda e: e.kis.quotes(["삼성전자"]), ValueError, "'삼성전자'"),
    case("bytes", lambda e: e.kis.quotes(b"005930"), TypeError, "b'005930'"),
    case("float", lambda e: e.kis.quotes(5930.0), TypeError, "5930.0"),
    case("bool", lambda e: e.kis.quotes(True), TypeError, "True"),
    case(
        "none-in-series", lambda e: e.kis.quotes(pd.Series(["005930", None])), TypeError, "nan"
    ),  # pandas stores the None as NaN
    case("nan-in-list", lambda e: e.kis.quotes(["005930", math.nan]), TypeError, "nan"),
    case(
        "many-bad",
        lambda e: e.kis.quotes(["1", "22", "005930", "333"]),
        ValueError,
        "'1'",
        "'22'",
        "'333'",
    ),
    case("detail", lambda e: e.kis.quotes(["0059300"], detail=True), ValueError, "'0059300'"),
    case("market", lambda e: e.kis.quotes("005930", market="Q"), ValueError, "'Q'"),
    case(
        "non-ascii-letter",
        lambda e: e.kis.quotes("0059ß"),
        ValueError,
        "'0059ß'",
    ),
    case("dotless-i", lambda e: e.kis.quotes(["00593ı"]), ValueError, "'00593ı'"),
    case("fullwidth-digits", lambda e: e.kis.quotes("００５９３０"), ValueError, "'００５９３０'"),
    case(
        "orderbook",
        lambda e: e.kis.orderbook("0059300"),
        ValueError,
        "'0059300'",
        marks=has("orderbook"),
    ),
    case(
        "investors",
        lambda e: e.kis.investors(["005930", 7]),
        TypeError,
        "symbol 7 ",
        marks=has("investors"),
    ),
    case("info", lambda e: e.kis.info("12345"), ValueError, "'12345'", marks=has("info")),
]

DATES = [
    case(
        "month-13",
        lambda e: e.kis.history("005930", start="2024-13-01"),
        ValueError,
        "'2024-13-01'",
        marks=has("history"),
    ),
    case(
        "fullwidth-date",
        lambda e: e.kis.history("005930", start="２０２４-01-05"),
        ValueError,
        "'２０２４-01-05'",
        marks=has("history"),
    ),
    case(
        "feb-30",
        lambda e: e.kis.history("005930", start="2024-01-01", end="2024-02-30"),
        ValueError,
        "'2024-02-30'",
        marks=has("history"),
    ),
    case(
        "start-after-end",
        lambda e: e.kis.history("005930", start="2024-06-01", end="2024-01-01"),
        ValueError,
        "'2024-06-01'",
        "'2024-01-01'",
        marks=has("history"),
    ),
    case(
        "start-in-future",
        lambda e: e.kis.history("005930", start=date.today() + timedelta(days=30)),
        ValueError,
        "start=",
        marks=has("history"),
    ),
    case(
        "int-date",
        lambda e: e.kis.history("005930", start=20240101),
        TypeError,
        "20240101",
        marks=has("history"),
    ),
    case(
        "interval",
        lambda e: e.kis.history("005930", start="2024-01-02", interval="H"),
        ValueError,
        "'H'",
        marks=has("history"),
    ),
    case(
        "yahoo-suffix-of-the-other-market",
        lambda e: e.kis.quotes(["000660", "005930.KQ"]),
        ValueError,
        "'005930.KQ'",
        ".KS",
    ),
    case(
        "start-and-period",
        lambda e: e.kis.history("005930", start="2024-01-02", period="2y"),
        ValueError,
        "start='2024-01-02', period='2y'",
        marks=has("history"),
    ),
    case(
        "period",
        lambda e: e.kis.history("005930", period="2yr"),
        ValueError,
        "'2yr'",
        marks=has("history"),
    ),
    case(
        "interval-1m",
        lambda e: e.kis.history("005930", interval="1m"),
        ValueError,
        "minute_bars()",
        marks=has("history"),
    ),
    case(
        "overseas-start-and-period",
        lambda e: e.kis.overseas_history("AAPL", start="2024-01-02", period="ytd"),
        ValueError,
        "period='ytd'",
        marks=has("overseas_history"),
    ),
    case(
        "bad-symbol-first",
        lambda e: e.kis.history("12345", start="2024-13-01"),
        ValueError,
        "'12345'",
        marks=has("history"),
    ),
    case(
        "seven-digit-date",
        lambda e: e.kis.history("005930", start="2024111"),
        ValueError,
        "'2024111'",
        marks=has("history"),
    ),  # 2024-11-01 or 2024-01-11?
    case(
        "aware-datetime-at-the-edge",
        lambda e: e.kis.history("005930", start=datetime(1, 1, 1, tzinfo=UTC)),
        ValueError,
        "start",
        marks=has("history"),
    ),
    case(
        "minute-time",
        lambda e: e.kis.minute_bars("005930", start="25:00"),
        ValueError,
        "'25:00'",
        marks=has("minute_bars"),
    ),
    case(
        "overseas-exchange",
        lambda e: e.kis.overseas_quotes("AAPL", exchange="XXX"),
        ValueError,
        "'XXX'",
        marks=has("overseas_quotes"),
    ),
    case(
        "overseas-ticker",
        lambda e: e.kis.overseas_quotes("AAPL$"),
        ValueError,
        "'AAPL$'",
        marks=has("overseas_quotes"),
    ),
    case(
        "overseas-history-date",
        lambda e: e.kis.overseas_history("AAPL", start="2024-13-01"),
        ValueError,
        "'2024-13-01'",
        marks=has("overseas_history"),
    ),
    case(
        "overseas-history-interval",
        lambda e: e.kis.overseas_history("AAPL", start="2024-01-02", interval="Y"),
        ValueError,
        "'Y'",
        marks=has("overseas_history"),
    ),
    case(
        "symbols-market",
        lambda e: e.kis.symbols(market="NASDAQ"),
        ValueError,
        "'NASDAQ'",
        marks=has("symbols"),
    ),
]

SETTINGS = [
    case("workers-0", lambda e: e.make(workers=0), ValueError, "workers", "0"),
    case(
        "workers-float",
        lambda e: e.make(workers=2.5),
        ValueError,
        "workers",
        "2.5",
    ),
    case(
        "workers-str",
        lambda e: e.make(workers="4"),
        TypeError,
        "workers",
        "'4'",
    ),
    case(
        "rate-0",
        lambda e: e.make(rate=0),
        ValueError,
        "rate",
        "0",
    ),
    case("rate-negative", lambda e: e.make(rate=-1), ValueError, "rate=-1"),
    case("rate-nan", lambda e: e.make(rate=math.nan), ValueError, "rate=nan"),
    case("limiter-scheme", lambda e: e.make(limiter="ftp://x"), ValueError, "ftp://"),
    case(
        "limiter-redis-unreachable",
        lambda e: e.make(limiter="redis://127.0.0.1:1/0"),
        ValueError,
        "127.0.0.1:1",
    ),
    case(
        "limiter-margin",
        lambda e: e.make(limiter_options={"margin": 1.5}),
        ValueError,
        "margin=1.5",
    ),
    case(
        "limiter-unknown-option",
        lambda e: e.make(limiter_options={"rat": 5}),
        (ValueError, TypeError),
        "rat",
    ),
    case("cache-is-a-file", lambda e: e.make(cache=_file(e)), ValueError, "not-a-folder"),
    case(
        "cache-etc-passwd",
        lambda e: e.make(cache="/etc/passwd"),
        ValueError,
        "/etc/passwd",
        marks=pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd here"),
    ),
    case(
        "home-is-a-file",
        lambda e: kr.KIS(simulator=e.sim, home=_file(e)),
        ValueError,
        "not-a-folder",
    ),
    case(
        "timeout-0",
        lambda e: e.make(timeout=0),
        ValueError,
        "timeout",
        "0",
    ),
    case("timeout-negative", lambda e: e.make(timeout=-1), ValueError, "timeout", "-1"),
    case("timeout-str", lambda e: e.make(timeout="10"), TypeError, "timeout", "'10'"),
    case(
        "cache-ttl-unknown-endpoint",
        lambda e: e.make(cache_ttl={"quotez": 60}),
        ValueError,
        "'quotez'",
    ),
    case(
        "retry-policy",
        lambda e: e.make(retry=RetryPolicy(max_attempts=0)),
        ValueError,
        "max_attempts=0",
    ),
]

CREDENTIALS = [
    case(
        "env-demo",
        lambda e: kr.KIS(
            env="demo",
            app_key="PSkey0123456789",
            app_secret="secret0123456789",
            base_url=e.sim.base_url,
            home=e.home,
        ),
        ValueError,
        "'demo'",
    ),
    case(
        "env-real-without-keys",
        lambda e: kr.KIS(env="real", home=e.home),
        ValueError,
        "KIS_APP_KEY",
        "KIS_APP_SECRET",
    ),
    case(
        "env-paper-without-secret",
        lambda e: kr.KIS(env="paper", app_key="PSkey0123456789", home=e.home),
        ValueError,
        "KIS_APP_SECRET",
    ),
    case(
        "balance-without-account",
        lambda e: e.keyed().balance(),
        ValueError,
        "KIS_ACCOUNT",
        marks=has("balance"),
    ),
    case(
        "balance-malformed-account",
        lambda e: e.keyed(account="1234-56").balance(),
        ValueError,
        "KIS_ACCOUNT",
        marks=has("balance"),
    ),
]


@pytest.mark.parametrize(("call", "error", "named"), SYMBOLS + DATES + SETTINGS + CREDENTIALS)
def test_bad_input_is_refused_before_any_request(sim, home, tmp_path, wire, call, error, named):
    env = Env(sim, home, tmp_path)
    try:
        with pytest.raises(error) as info:
            call(env)
    finally:
        if env._kis is not None:
            env._kis.close()
    message = str(info.value)
    for text in named:
        assert text in message, f"{text!r} not named in {message!r}"
    assert_silent(sim, wire)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        (
            {"KIS_ENV": "demo", "KIS_APP_KEY": "PSkey0123456789", "KIS_APP_SECRET": "s" * 20},
            "'demo'",
        ),
        ({"KIS_APP_KEY": "PSkey0123456789", "KIS_ENV": "paper"}, "KIS_APP_SECRET"),
        ({"KIS_LIMITER": "ftp://x"}, "ftp://"),
        ({"KIS_RETRY_ATTEMPTS": "many"}, "KIS_RETRY_ATTEMPTS"),
        ({"KIS_RETRY_MAX_WAIT": "soon"}, "KIS_RETRY_MAX_WAIT"),
    ],
    ids=["env", "secret", "limiter", "retry-attempts", "retry-max-wait"],
)
def test_bad_settings_from_the_environment(sim, home, wire, monkeypatch, variables, named):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    options: dict[str, Any] = {"home": home}
    if "KIS_APP_KEY" not in variables:
        options["simulator"] = sim
    else:
        options["base_url"] = sim.base_url
    with pytest.raises(ValueError, match=re.escape(named)):
        kr.KIS(**options)
    assert_silent(sim, wire)


def test_a_refused_input_leaves_the_client_usable(sim, home, wire):
    with kr.KIS(simulator=sim, home=home, cache=False, progress=False) as kis:
        with pytest.raises(ValueError):
            kis.quotes(["005930", "12345"])
        assert_silent(sim, wire)
        df = kis.quotes(["005930"])
    assert list(df.index) == ["005930"] and df["error"].isna().all()
    assert sim.truth()["tokens_issued"] == 1


# -- property-based fuzzing ----------------------------------------------------------------

CODE = re.compile(r"[0-9A-Z]{6}")
KNOWN = frozenset(kr.universe()["symbol"])
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(FUZZ, max_examples=25)


def normalised(value: Any) -> list[str]:
    """The documented normalisation of a *valid* symbol input: a str is one symbol, a set
    is sorted, order kept, whitespace stripped, upper-cased, duplicates collapsed."""
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, set | frozenset):
        items = sorted(value, key=str)
    else:
        items = list(value)
    return list(dict.fromkeys(item.strip().upper() for item in items))


text_codes = st.text(alphabet="0123456789ABCDEFabcdef \t", min_size=4, max_size=8)
valid_codes = st.builds(
    lambda code, pad, lower: " " * pad + (code.lower() if lower else code) + " " * pad,
    st.sampled_from(["005930", "000660", "035420", "999999", "A05930", "0000J0"]),
    st.integers(0, 2),
    st.booleans(),
)
scalars = st.one_of(
    st.text(max_size=10),
    text_codes,
    valid_codes,
    st.integers(),
    st.none(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=8),
)
containers = st.one_of(
    st.lists(scalars, max_size=6),
    st.lists(st.one_of(valid_codes, st.lists(valid_codes, max_size=2)), max_size=4),
    st.lists(scalars, max_size=6).map(tuple),
    st.sets(st.one_of(text_codes, valid_codes), max_size=5),
    st.lists(st.one_of(valid_codes, text_codes, st.none()), max_size=6).map(
        lambda xs: pd.Series(xs, dtype=object)
    ),
    st.lists(valid_codes, max_size=6).map(lambda xs: pd.Index(xs, dtype=object)),
    st.dictionaries(text_codes, st.integers(), max_size=3),
)
symbol_inputs = st.one_of(scalars, containers)


def _check_symbols(value: Any, got: list[str]) -> None:
    assert got == normalised(value)
    assert got and all(CODE.fullmatch(code) for code in got)


@FUZZ
@given(value=symbol_inputs)
def test_fuzz_symbols_validate(value):
    try:
        got = validate.symbols(value)
    except (ValueError, TypeError):
        return
    _check_symbols(value, got)


@pytest.fixture(scope="module")
def fuzz_kis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[kr.KIS, Simulator]]:
    """One client for the fuzzing that goes over HTTP (built once, not per example)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("KIS_")]:
            mp.delenv(name)
        with (
            Simulator(rate=500) as sim,
            kr.KIS(
                simulator=sim,
                home=tmp_path_factory.mktemp("kis-fuzz"),
                cache=False,
                progress=False,
                limiter="memory",
            ) as kis,
        ):
            yield kis, sim


@FEW
@given(value=st.one_of(st.lists(valid_codes, min_size=1, max_size=5), containers, scalars))
def test_fuzz_quotes_over_http(fuzz_kis, value):
    kis, sim = fuzz_kis
    before = sim.truth()["accepted"]
    try:
        df = kis.quotes(value)
    except (ValueError, TypeError):
        assert sim.truth()["accepted"] == before  # refused before any request
        return
    _check_symbols(value, list(df.index))
    assert df.index.name == "symbol" and df.index.is_unique
    for code, error in df["error"].items():  # a row is data, or says why it is not
        assert (error is None) == (code in KNOWN), (code, error)
    assert sim.truth()["tokens_issued"] == 1


# Dates: strings (random, and near-valid), dates, datetimes (naive and aware), Timestamps,
# numbers and None.
TODAY = date(2026, 6, 15)
offsets = st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-23 * 60, 23 * 60))
plain_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
date_strings = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789-/. ", max_size=11),
    plain_dates.map(str),
    plain_dates.map(lambda d: d.strftime("%Y%m%d")),
    st.builds(
        lambda y, m, d: f"{y}-{m:02d}-{d:02d}",
        st.integers(1990, 2030),
        st.integers(0, 13),
        st.integers(0, 32),
    ),
)
date_values = st.one_of(
    date_strings,
    plain_dates,
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31)),
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31), timezones=offsets
    ),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31)).map(
        pd.Timestamp
    ),
    st.just(pd.NaT),
    st.integers(),
    st.floats(),
    st.none(),
)


def _as_day(value: Any) -> date | None:
    """The documented reading of a valid date value, or None if it is not one."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(validate.KST)
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                return None
    return None


@FUZZ
@given(start=date_values, end=date_values)
def test_fuzz_date_ranges_validate(start, end):
    try:
        first, last = validate.date_range(start, end, TODAY)
    except (ValueError, TypeError):
        return
    assert type(first) is date and type(last) is date
    assert first <= last <= TODAY
    expected_first = _as_day(start)
    if expected_first is not None:
        assert first == expected_first
    expected_last = TODAY if end is None else _as_day(end)
    if expected_last is not None:
        assert last == min(expected_last, TODAY)


@FUZZ
@given(start=plain_dates, end=plain_dates)
def test_fuzz_swapped_bounds_are_named(start, end):
    if start <= min(end, TODAY):
        assert validate.date_range(start, end, TODAY) == (start, min(end, TODAY))
        return
    with pytest.raises(ValueError, match="start=") as info:
        validate.date_range(start, end, TODAY)
    assert str(start) in str(info.value)


@has("history")
@settings(FUZZ, max_examples=12)
@given(
    codes=st.lists(st.sampled_from(["005930", "000660", "999999"]), min_size=1, max_size=3),
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31)),
    days=st.integers(-40, 60),
    kind=st.sampled_from(["str", "date", "timestamp"]),
)
def test_fuzz_history_over_http(fuzz_kis, codes, start, days, kind):
    kis, sim = fuzz_kis
    end = start + timedelta(days=days)
    shape: dict[str, Callable[[date], Any]] = {
        "str": lambda d: d.isoformat(),
        "date": lambda d: d,
        "timestamp": pd.Timestamp,
    }
    before = sim.truth()["accepted"]
    try:
        df = kis.history(codes, start=shape[kind](start), end=shape[kind](end))
    except ValueError as exc:
        assert days < 0 and "start=" in str(exc)  # only swapped bounds are refused
        assert sim.truth()["accepted"] == before
        return
    assert days >= 0
    assert list(dict.fromkeys(df["symbol"])) == list(dict.fromkeys(codes))
    assert not df.duplicated(["symbol", "date"]).any()
    rows = df[df["error"].isna()]
    assert rows["date"].between(pd.Timestamp(start), pd.Timestamp(end)).all()
    assert set(df.loc[df["error"].notna(), "symbol"]) <= {"999999"} | (
        set(codes) if rows.empty else set()
    )
