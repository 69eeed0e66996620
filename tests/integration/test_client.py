"""`kis.quotes()` end to end over real HTTP against the embedded simulator."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import kisresearch as kr
from kisresearch.errors import ConfigError
from kisresearch.pipeline.ratelimit.limiter import machine_dir
from tests.conftest import SimClock, to_quiet


@pytest.fixture
def kis(sim, home):
    with kr.KIS(simulator=sim, cache=False, progress=False) as client:
        yield client


def test_quotes_default_uses_the_30_symbol_call(kis, sim):
    df = kis.quotes(["005930", "000660", "005930", "035420"])
    assert list(df.index) == ["005930", "000660", "035420"]
    assert df.index.name == "symbol"
    assert df.loc["005930", "name"] == "삼성전자"
    assert df["price"].dtype == "int64" and (df["price"] > 0).all()
    assert df["change_pct"].dtype == "float64"
    assert df["volume"].dtype == "int64"
    assert df["error"].isna().all()
    assert sim.truth()["by_tr_id"] == {"FHKST11300006": 1}
    assert df.attrs["tr_id"] == "FHKST11300006" and df.attrs["env"] == "simulator"


def test_hundred_symbols_cost_four_calls(kis, sim):
    codes = kr.universe()["symbol"].head(100)
    df = kis.quotes(codes)
    assert len(df) == 100 and df["error"].isna().all()
    assert sim.truth()["by_tr_id"]["FHKST11300006"] == 4


def test_unknown_symbol_gets_an_error_and_spares_the_rest(kis):
    df = kis.quotes(["005930", "999999", "000660"])
    assert df.loc["999999", "error"]
    assert pd.isna(df.loc["999999", "price"])
    assert df["price"].dtype == "Int64"  # nullable because one row has no value
    assert df.loc[["005930", "000660"], "error"].isna().all()


def test_an_unknown_symbol_answered_as_a_success_is_an_error_row_not_zeros(kis, sim):
    # KIS answers an unknown code with rt_cd 0 and stck_prpr "0" (as the simulator does)
    df = kis.quotes(["005930", "999999"], detail=True)
    assert df.loc["999999", "error"].startswith("NOTFOUND: KIS has no such symbol")
    assert df.loc["999999", ["price", "volume"]].isna().all()  # missing, never 0
    again = kis.quotes(["999999"], detail=True)  # not kept in the cache as if it were data
    assert sim.truth()["by_tr_id"]["FHKST01010100"] == 3 and again["error"].notna().all()


def test_a_field_kis_leaves_out_is_missing_not_an_error(kis, sim):
    from kisresearch.sim.quotes import incomplete

    assert incomplete("004050") and not incomplete("005930")  # bstp_kor_isnm left out
    df = kis.quotes(["005930", "004050"], detail=True)
    assert df["error"].isna().all() and (df["price"] > 0).all()
    assert pd.isna(df.loc["004050", "sector"]) and df.loc["005930", "sector"]


def test_detail_quotes_one_call_per_symbol_with_valuation(kis, sim):
    df = kis.quotes(["005930", "000660", "999999"], detail=True)
    assert sim.truth()["by_tr_id"]["FHKST01010100"] == 3
    ok = df.loc[["005930", "000660"]]
    assert ok["error"].isna().all()
    for col in ("per", "pbr", "eps", "foreign_pct"):
        assert df[col].dtype == "float64"
    assert (ok["listed_shares"] > 0).all()
    assert df["w52_high_date"].dtype.kind == "M"
    assert df["halted"].dtype == "boolean"  # the unknown symbol's flag is <NA>, not False
    assert not ok["halted"].any() and pd.isna(df.loc["999999", "halted"])
    assert df.loc["999999", "error"]


def test_same_quotes_from_both_calls_agree(kis, sim):
    to_quiet(sim)  # after the close: prices hold still between the two calls
    a = kis.quotes(["005930", "000660"])
    b = kis.quotes(["005930", "000660"], detail=True)
    assert (a["price"] == b["price"]).all()


@pytest.mark.parametrize("bad", [["005930", "12345"], "", [None], 5930, ["삼성전자"]])
def test_bad_symbols_fail_before_any_request(kis, sim, bad):
    with pytest.raises((ValueError, TypeError)):
        kis.quotes(bad)
    truth = sim.truth()
    assert truth["accepted"] == 0 and truth["tokens_issued"] == 0


def test_bad_market_is_named(kis):
    with pytest.raises(ValueError, match="'Q'"):
        kis.quotes("005930", market="Q")


def test_env_without_credentials_names_the_variables(home):
    with pytest.raises(ConfigError) as info:
        kr.KIS(env="real")
    assert "KIS_APP_KEY" in str(info.value) and "KIS_APP_SECRET" in str(info.value)
    with pytest.raises(ConfigError, match="KIS_APP_SECRET"):
        kr.KIS(app_key="k", env="paper")
    with pytest.raises(ConfigError, match="'demo'"):
        kr.KIS(app_key="k", app_secret="s", env="demo")


@pytest.mark.filterwarnings("ignore::kisresearch.SimulatorWarning")  # the fallback, meant
def test_no_credentials_means_the_embedded_simulator(home):
    with kr.KIS(progress=False, cache=False) as kis:
        assert kis.sim is not None
        assert kis.quotes("005930")["error"].isna().all()


def test_no_secret_in_repr_or_errors(kis, sim):
    text = repr(kis) + repr(kis.auth) + repr(kis.pipeline.credentials)
    kis.quotes("005930")
    token = kis.auth.token()
    for secret in (sim.app_key, sim.app_secret, sim.account, token):
        assert secret not in text
    df = kis.quotes(["999999"], detail=True)
    for secret in (sim.app_key, sim.app_secret, token):
        assert secret not in df.loc["999999", "error"]


def test_expired_token_is_replaced_mid_session(sim, home):
    import time

    clock = SimClock(sim, time.time())
    with kr.KIS(simulator=sim, cache=False, progress=False, clock=clock) as kis:
        kis.quotes("005930")
        sim.expire_tokens()
        df = kis.quotes("000660", detail=True)  # EGW00123 -> wait out the minute -> new token
    assert df["error"].isna().all()
    truth = sim.truth()
    assert truth["tokens_issued"] == 2
    assert truth["errors"].get("EGW00123") == 1 and "EGW00133" not in truth["errors"]


@pytest.mark.filterwarnings("ignore::kisresearch.SimulatorWarning")  # the fallback, meant
def test_bad_setting_leaves_no_simulator_running(home):
    import threading

    before = set(threading.enumerate())
    for bad in ({"limiter": "bogus://x"}, {"rate": 0}, {"limiter_options": {"margin": 2}}):
        with pytest.raises(ConfigError):
            kr.KIS(**bad)
    assert set(threading.enumerate()) <= before


def test_rate_given_twice_must_agree(sim, home):
    with pytest.raises(ConfigError, match="disagree"):
        kr.KIS(simulator=sim, rate=10, limiter_options={"rate": 20})
    with kr.KIS(simulator=sim, rate=10, limiter_options={"rate": 10}) as kis:
        assert kis.limiter_config.rate == 10


def test_limiter_and_token_files_are_per_server(home):
    with kr.KIS.simulator(seed=1) as a, kr.KIS.simulator(seed=1) as b:
        assert a.auth.path != b.auth.path  # same key, two servers
        a.quotes("005930")
        b.quotes("005930")
        folder = machine_dir()
        names = sorted(p.name for p in folder.iterdir() if p.name.startswith("limiter-"))
    assert len(names) == 2


def test_clients_with_different_toolkit_folders_share_one_limiter(sim, tmp_path):
    # was: each folder had its own limiter state, and two of them on one key went over
    with (
        kr.KIS(simulator=sim, home=tmp_path / "a", progress=False) as a,
        kr.KIS(simulator=sim, home=tmp_path / "b", progress=False) as b,
    ):
        assert a.home != b.home and a.limiter.store.path == b.limiter.store.path
        a.quotes(["005930"], detail=True)
        assert b.limiter.store.path.read_text() == a.limiter.store.path.read_text()


def test_simulator_time_is_the_clients_time(home):
    import time

    with kr.KIS.simulator() as kis:
        kis.quotes("005930", detail=True)
        kis.sim.expire_tokens()
        kis.sim.advance(61)  # the client's one-token-a-minute rule sees this too
        started = time.monotonic()
        assert kis.quotes("000660", detail=True)["error"].isna().all()
        assert time.monotonic() - started < 30  # not the real 60-s wait
        assert kis.sim.truth()["tokens_issued"] == 2


def test_simulator_in_its_own_process(home):
    from kisresearch.sim import Faults

    with kr.KIS.simulator(process=True, profile="paper", progress=False) as kis:
        sim = kis.sim
        assert sim.pid != os.getpid() and kis.limiter_config.rate == 2
        assert kis.quotes(["005930", "000660"])["error"].isna().all()
        sim.faults = Faults(html_500=1.0)
        assert sim.faults == Faults(html_500=1.0)
        sim.faults = None
        sim.expire_tokens()
        sim.advance(61)  # moves the client's clock too: the re-issue does not wait a minute
        assert kis.quotes("035420", detail=True)["error"].isna().all()
        truth = sim.truth()
        assert truth["tokens_issued"] == 2 and truth["accepted"] >= 2
        sim.reset_truth()
        assert sim.truth()["accepted"] == 0
        proc = sim._proc
    assert proc.poll() is not None  # stopped with the client


@pytest.mark.parametrize(
    ("call", "name", "value"),
    [
        (lambda k: k.history("005930", adjusted="False"), "adjusted", "'False'"),
        (lambda k: k.quotes("005930", detail=1), "detail", "1"),
        (lambda k: k.minute_bars("005930", cache="no"), "cache", "'no'"),
        (lambda k: k.orderbook("005930", wide="yes"), "wide", "'yes'"),
        (lambda k: k.overseas_history("AAPL", refresh=0), "refresh", "0"),
        (lambda k: k.update("005930", progress="off"), "progress", "'off'"),
    ],
)
def test_a_flag_that_is_not_a_bool_is_refused_by_name_before_any_request(
    kis, sim, call, name, value
):
    # "False" is truthy: taken as it comes, it would act as True without a word
    with pytest.raises(TypeError, match=f"^{name} must be True.*False.*, got {value}$"):
        call(kis)
    assert sim.truth()["accepted"] == 0


def test_numpy_bools_are_flags_too(kis, sim):
    import numpy as np

    df = kis.quotes("005930", detail=np.True_)
    assert df["error"].isna().all() and sim.truth()["by_tr_id"] == {"FHKST01010100": 1}
