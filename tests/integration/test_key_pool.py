"""A key pool: one client, several app keys, on a simulator that registers each with its own
window, token and account. Calls go to the key with the earliest free slot; a key whose tokens
are rejected rests, then drops out; the account's calls use the account's key."""

from __future__ import annotations

import threading
import warnings

import pytest

import kisresearch as kr
from kisresearch.sim import Simulator


@pytest.fixture
def sim(home):
    with Simulator() as s:  # real profile: 20 calls/s per key
        yield s


def codes(n: int, skip: int = 0) -> list[str]:
    return kr.universe()["symbol"].iloc[skip : skip + n].tolist()


def test_one_pull_spreads_over_three_keys_with_one_token_each(sim):
    keys = sim.pool(3)
    with kr.KIS(simulator=sim, keys=keys, cache=False, progress=False, workers=12) as kis:
        df = kis.quotes(codes(90), detail=True)
        summary = kis.stats.summary()
    assert df["error"].isna().all() and len(df) == 90
    by_key = summary["by_key"]
    assert sorted(by_key) == ["key 1", "key 2", "key 3"]
    assert sum(k["calls"] for k in by_key.values()) == summary["calls"]
    assert sum(k["ok"] for k in by_key.values()) == summary["ok"] == 90
    assert all(k["calls"] >= 15 for k in by_key.values())  # all three did a share
    assert summary["limit"] == 60
    truth = sim.truth()
    assert truth["tokens_issued"] == 3
    assert truth["max_in_window"] <= 20  # the server counts each key's window apart


def test_a_key_kept_busy_by_another_client_gets_fewer_calls(sim):
    # key 2 is also used by a second client (same limiter file): the pool sees its slots
    # taken and sends its calls to keys 1 and 3; round-robin would give each key a third
    keys = sim.pool(3)
    other = kr.KIS(keys[1]["app_key"], keys[1]["app_secret"], base_url=sim.base_url,
                   env="real", cache=False, progress=False)  # fmt: skip
    busy = threading.Thread(target=lambda: other.quotes(codes(60, skip=200), detail=True))
    with kr.KIS(simulator=sim, keys=keys, cache=False, progress=False, workers=12) as kis:
        busy.start()
        kis.quotes(codes(90), detail=True)
        busy.join(60)
        by_key = kis.stats.summary()["by_key"]
    other.close()
    shared = by_key.get("key 2", {"calls": 0})["calls"]  # absent when it made no call at all
    assert shared < min(by_key["key 1"]["calls"], by_key["key 3"]["calls"])


def test_a_key_whose_tokens_are_rejected_rests_then_drops_out(sim):
    keys = sim.pool(3)
    sim.reject_tokens(keys[1]["app_key"])
    with kr.KIS(simulator=sim, keys=keys, cache=False, progress=False, workers=6) as kis:
        first = kis.quotes(codes(40), detail=True)  # key 2's token rejected: it rests a minute
        assert first["error"].isna().all(), first["error"].dropna().to_dict()
        rejected = kis.stats.summary()["by_key"]["key 2"]["calls"]  # the calls then in flight
        assert 1 <= rejected <= 6
        sim.advance(61)  # the client's clock follows the simulator's
        with pytest.warns(RuntimeWarning, match=r"key 2 of the key pool dropped out"):
            second = kis.quotes(codes(40, skip=40), detail=True)  # a new token, rejected too
        assert second["error"].isna().all()
        issued = kis.stats.summary()["tokens_issued"]  # asked for: KIS may answer the same one
        dropped = kis.stats.summary()["by_key"]["key 2"]["calls"]
        sim.advance(61)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            third = kis.quotes(codes(40, skip=80), detail=True)
        assert third["error"].isna().all()
        assert kis.stats.summary()["by_key"]["key 2"]["calls"] == dropped  # never again
        assert kis.stats.summary()["tokens_issued"] == issued == 4  # 2 for key 2, no more
        assert repr(kis.keys) == "KeyPool(3 keys, 2 live)"


def test_every_key_rejected_is_a_clear_error(sim):
    keys = sim.pool(2)
    for key in keys:
        sim.reject_tokens(key["app_key"])
    with kr.KIS(simulator=sim, keys=keys, cache=False, progress=False) as kis:
        first = kis.quotes(codes(1), detail=True)  # key 1, then key 2: each rests a minute
        assert first["error"].str.contains("EGW00121").all(), first["error"].to_dict()
        sim.advance(61)  # (with more calls now, one would wait that minute for a token)
        with pytest.warns(RuntimeWarning, match="dropped out"):  # one key, or both, here
            second = kis.quotes(codes(4, skip=4), detail=True)  # new tokens, rejected too
            after = kis.quotes(codes(4, skip=8), detail=True)
        errors = second["error"].to_dict()
        assert second["error"].str.contains("EGW00121|rejected the tokens").all(), errors
    assert after["error"].str.contains("tokens of all 2 app keys").all(), after["error"].to_dict()


def test_the_account_is_asked_with_its_own_key(sim):
    keys = sim.pool(3)
    with kr.KIS(simulator=sim, progress=False, cache=False) as alone:
        expected = alone.balance().holdings
    with kr.KIS(simulator=sim, keys=keys, cache=False, progress=False) as kis:
        for _ in range(6):  # on any other key the simulator, like KIS, refuses the account
            got = kis.balance().holdings
            assert got.index.equals(expected.index) and got["quantity"].equals(expected["quantity"])
        assert set(kis.stats.summary()["by_key"]) == {"key 1"}


def test_kis_simulator_makes_a_pool_and_kis_keys_names_one(sim, monkeypatch):
    with kr.KIS.simulator(keys=2, cache=False, progress=False) as kis:
        assert len(kis.keys) == 2
        kis.quotes(codes(10), detail=True)
        assert set(kis.stats.summary()["by_key"]) == {"key 1", "key 2"}
    keys = sim.pool(2)
    monkeypatch.setenv("KIS_KEYS", " , ".join(f"{k['app_key']}:{k['app_secret']}" for k in keys))
    with kr.KIS(base_url=sim.base_url, env="real", cache=False, progress=False) as kis:
        assert len(kis.keys) == 2
        assert kis.quotes(codes(10), detail=True)["error"].isna().all()


@pytest.mark.parametrize(
    ("keys", "error", "message"),
    [
        ([], TypeError, "non-empty list"),
        ("PSKEY:SECRET", TypeError, "non-empty list"),
        ([("PSKEY",)], TypeError, r"keys=\[0\] must be an \(app_key, app_secret\) pair"),
        ([("PSKEY", "")], ValueError, r"keys=\[0\] needs an app_key and an app_secret"),
        ([{"app_key": "PSKEY", "secret": "S"}], ValueError, "unknown fields"),
        ([("PSKEY", "S1"), ("PSKEY", "S2")], ValueError, "names one app key twice"),
        (
            [
                {"app_key": "A", "app_secret": "S", "env": "real"},
                {"app_key": "B", "app_secret": "T", "env": "paper"},
            ],
            ValueError,
            "one environment",
        ),
    ],
)
def test_bad_keys_are_refused_before_any_request(home, keys, error, message):
    with pytest.raises(error, match=message) as caught:
        kr.KIS(keys=keys, base_url="http://127.0.0.1:9", progress=False)
    assert "SECRET" not in str(caught.value) and "S1" not in str(caught.value)


def test_keys_and_app_key_together_are_refused(home):
    with pytest.raises(ValueError, match="either keys= or app_key="):
        kr.KIS("A", "S", keys=[("B", "T")], base_url="http://127.0.0.1:9")


@pytest.mark.redis
def test_pools_sharing_redis_share_each_keys_budget(sim, redis_url):
    # two clients (as on two machines: nothing shared but Redis and, for one token a key, the
    # token files) pull at once over the same three keys; without the shared budget they
    # would send up to 2 x 20 calls a second on each key
    keys = sim.pool(3)
    pools = [
        kr.KIS(simulator=sim, keys=keys, limiter=redis_url, cache=False, progress=False,
               workers=12)
        for _ in range(2)
    ]  # fmt: skip
    pulls = [
        threading.Thread(target=lambda k=k, i=i: k.quotes(codes(90, skip=90 * i), detail=True))
        for i, k in enumerate(pools)
    ]
    for t in pulls:
        t.start()
    for t in pulls:
        t.join(60)
    for k in pools:
        k.close()
    truth = sim.truth()
    assert truth["accepted"] == 180 and truth["max_in_window"] <= 20
    assert truth["rejected"] <= 2  # a stray late send at most; unshared, dozens
    assert truth["tokens_issued"] == 3
