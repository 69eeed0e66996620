"""The simulator's server-side rules over real HTTP: tokens, the rate window, profiles, faults,
the admin endpoints and the server's lifecycle. Endpoint bodies are in test_sim_data.py."""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from kisresearch.sim import Simulator
from kisresearch.sim.probe import RawClient
from kisresearch.sim.rules import RateLimiter
from kisresearch.sim.timebase import KST

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
BALANCE = "/uapi/domestic-stock/v1/trading/inquire-balance"
RATE_BODY = {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}
SAMSUNG = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}


class Raw(RawClient):
    """The probe client plus a price shortcut."""

    def __init__(self, sim: Simulator, key: str | None = None, secret: str | None = None):
        super().__init__(sim.base_url, key or sim.app_key, secret or sim.app_secret)

    def price(self, **headers: str | None) -> requests.Response:
        return self.get(PRICE, "FHKST01010100", SAMSUNG, headers=headers)


def burst(clients: list[Raw]) -> list[requests.Response]:
    """One price call per client, all released at once on warm connections."""
    for c in clients:
        c.headers("x")
        c.warm()
    gate = threading.Barrier(len(clients))
    out: list[Any] = [None] * len(clients)

    def fire(i: int) -> None:
        gate.wait()
        out[i] = clients[i].price()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def codes(responses: list[requests.Response]) -> list[str]:
    return [r.json()["msg_cd"] for r in responses]


# -- tokens -------------------------------------------------------------------------------


def test_token_issue_answers_like_kis(sim: Simulator) -> None:
    r = Raw(sim).token_call()
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "access_token_token_expired"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    token = body["access_token"]
    assert len(token) <= 350 and token.count(".") == 2
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["jti"] == sim.app_key
    expiry = datetime.strptime(body["access_token_token_expired"], "%Y-%m-%d %H:%M:%S")
    expected = datetime.fromtimestamp(sim.now(), KST).replace(tzinfo=None) + timedelta(days=1)
    assert abs((expiry - expected).total_seconds()) < 120
    assert sim.truth()["tokens_issued"] == 1


def test_token_once_per_interval_then_same_token_within_6h(sim: Simulator) -> None:
    raw = Raw(sim)
    first = raw.issue()
    again = raw.token_call()
    assert again.status_code == 403
    assert again.json() == {
        "error_code": "EGW00133",
        "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
    }
    sim.advance(61)
    reused = raw.token_call()
    assert reused.status_code == 200 and reused.json()["access_token"] == first
    assert reused.json()["expires_in"] < 86400
    assert raw.token_call().status_code == 403  # a reuse answer also starts the interval
    truth = sim.truth()
    assert (truth["tokens_issued"], truth["tokens_reused"]) == (1, 1)
    assert truth["errors"]["EGW00133"] == 2
    sim.advance(6 * 3600)
    fresh = raw.issue()
    assert fresh != first and sim.truth()["tokens_issued"] == 2
    raw.token = first  # the older token is still valid until it expires
    assert raw.price().json()["rt_cd"] == "0"


def test_expired_unknown_and_missing_tokens(sim: Simulator) -> None:
    raw = Raw(sim)
    assert raw.price().status_code == 200
    sim.advance(86400)
    r = raw.price()
    assert r.status_code == 500
    assert r.json() == {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."}
    raw.issue()
    assert raw.price().status_code == 200
    sim.expire_tokens()
    assert raw.price().json()["msg_cd"] == "EGW00123"
    raw.token = "eyJ.not-a-token.x"
    r = raw.price()
    assert r.status_code == 500
    assert r.json() == {"rt_cd": "1", "msg_cd": "EGW00121", "msg1": "유효하지 않은 token 입니다."}
    r = raw.get(PRICE, "FHKST01010100", SAMSUNG, headers={"authorization": None})
    assert r.json()["msg_cd"] == "EGW00121"
    truth = sim.truth()
    assert truth["accepted"] == 2 and truth["rejected"] == 0  # auth failures are not counted


def test_bad_key_or_secret(sim: Simulator) -> None:
    raw = Raw(sim)
    bad_key = raw.token_call(app_key="PSnot-a-key")
    assert bad_key.status_code == 403
    assert bad_key.json() == {
        "error_code": "EGW00103",
        "error_description": "유효하지 않은 AppKey입니다.",
    }
    bad_secret = raw.token_call(app_secret="wrong")
    assert bad_secret.status_code == 403 and bad_secret.json()["error_code"] == "EGW00105"
    raw.issue()
    assert raw.price(appsecret="wrong").json()["msg_cd"] == "EGW00105"
    assert raw.price(appkey="PSnot-a-key").json()["msg_cd"] == "EGW00103"
    assert raw.price(custtype="X").json()["msg_cd"] == "EGW00208"
    assert raw.price(custtype=None).json()["rt_cd"] == "0"  # absent: taken as P, as KIS does
    assert raw.price(custtype="B").json()["rt_cd"] == "0"


def test_token_of_another_key_is_invalid(sim: Simulator) -> None:
    sim.add_app("PSotherkey", "othersecret")
    other = Raw(sim, "PSotherkey", "othersecret")
    other.issue()
    mine = Raw(sim)
    mine.token = other.token
    assert mine.price().json()["msg_cd"] == "EGW00121"


def test_revoke(sim: Simulator) -> None:
    raw = Raw(sim)
    token = raw.issue()
    r = raw.session.post(
        sim.base_url + "/oauth2/revokeP",
        json={"appkey": sim.app_key, "appsecret": sim.app_secret, "token": token},
        timeout=30,
    )
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"}
    assert raw.price().json()["msg_cd"] == "EGW00121"
    assert raw.token_call().status_code == 403  # the issuance interval still applies
    sim.advance(60)
    assert raw.issue() != token


def test_approval_key(sim: Simulator) -> None:
    r = requests.post(
        sim.base_url + "/oauth2/Approval",
        json={
            "grant_type": "client_credentials",
            "appkey": sim.app_key,
            "secretkey": sim.app_secret,
        },
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["approval_key"]


# -- the rate window ---------------------------------------------------------------------


def test_burst_of_25_gives_exactly_20_and_5_egw00201(sim: Simulator) -> None:
    base = Raw(sim)
    base.issue()
    clients = [Raw(sim) for _ in range(25)]
    for c in clients:
        c.token = base.token
    answers = burst(clients)
    ok = [r for r in answers if r.json()["rt_cd"] == "0"]
    limited = [r for r in answers if r.json()["msg_cd"] == "EGW00201"]
    assert (len(ok), len(limited)) == (20, 5)
    for r in limited:
        assert r.status_code == 500 and r.json() == RATE_BODY
        assert (
            r.content == json.dumps(RATE_BODY, ensure_ascii=False, separators=(",", ":")).encode()
        )
        assert "retry-after" not in r.headers
    truth = sim.truth()
    assert (truth["accepted"], truth["rejected"]) == (20, 5)
    assert truth["max_in_window"] == 20
    assert truth["errors"] == {"EGW00201": 5}
    assert truth["by_tr_id"] == {"FHKST01010100": 20}
    assert sum(s["accepted"] for s in truth["per_second"]) == 20
    assert sum(s["rejected"] for s in truth["per_second"]) == 5


def test_rejected_calls_do_not_count_toward_the_window(sim: Simulator) -> None:
    raw = Raw(sim)
    raw.issue()
    assert codes([raw.price() for _ in range(20)]) == ["MCA00000"] * 20
    sim.advance(0.3)
    assert codes([raw.price() for _ in range(10)]) == ["EGW00201"] * 10
    sim.advance(0.75)  # the first 20 left the window; the 10 rejected never entered it
    assert codes([raw.price() for _ in range(20)]) == ["MCA00000"] * 20
    assert sim.truth()["max_in_window"] <= 20


def test_window_refills_after_a_second(sim: Simulator) -> None:
    raw = Raw(sim)
    raw.issue()
    assert [r.status_code for r in (raw.price() for _ in range(21))].count(500) == 1
    sim.advance(1.0)
    assert all(raw.price().status_code == 200 for _ in range(20))


def test_limiter_decisions_sliding_and_fixed() -> None:
    sliding = RateLimiter("sliding", 0.0)
    times = [0.0, 0.1, 0.2, 0.95, 1.05, 1.1, 1.25]
    assert [sliding.decide("k", 3, t, t) for t in times] == [
        True,
        True,
        True,
        False,
        True,
        True,
        True,
    ]
    assert sliding.max_in_window == 3
    fixed = RateLimiter("fixed", 0.0)
    times = [0.7, 0.8, 0.9, 0.95, 1.0, 1.01, 1.02, 1.03]
    assert [fixed.decide("k", 3, t, t) for t in times] == [
        True,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
    ]
    assert fixed.max_in_window == 6  # a fixed window lets 2x the limit through in 1 s
    assert fixed.decide("other", 3, 1.04, 1.04)  # keys are independent


def test_fixed_window_option() -> None:
    with Simulator(window="fixed", rate=5) as sim:
        raw = Raw(sim)
        raw.issue()
        for _ in range(3):  # retried if the burst happens to straddle a second boundary
            sim.advance(1.001 - sim.now() % 1.0)
            sim.reset_truth()
            got = codes([raw.price() for _ in range(7)])
            if len(sim.truth()["per_second"]) == 1:
                break
        assert got == ["MCA00000"] * 5 + ["EGW00201"] * 2


def test_paper_profile_is_2_per_second() -> None:
    with Simulator(profile="paper") as sim:
        base = Raw(sim)
        base.issue()
        clients = [Raw(sim) for _ in range(5)]
        for c in clients:
            c.token = base.token
        assert sorted(codes(burst(clients))) == ["EGW00201"] * 3 + ["MCA00000"] * 2
        assert sim.truth()["max_in_window"] == 2


def test_keys_have_independent_budgets(sim: Simulator) -> None:
    account = sim.add_app("PSsecondkey", "secondsecret")
    assert account.endswith("-01") and account != sim.account
    a, b = Raw(sim), Raw(sim, "PSsecondkey", "secondsecret")
    a.issue()
    b.issue()
    clients = []
    for src in (a, b):
        for _ in range(20):
            c = Raw(sim, src.app_key, src.app_secret)
            c.token = src.token
            clients.append(c)
    assert codes(burst(clients)) == ["MCA00000"] * 40
    assert a.price().json()["msg_cd"] == "EGW00201"
    truth = sim.truth()
    assert truth["max_in_window"] == 20 and truth["accepted"] == 40


def test_paper_key_on_a_real_simulator(sim: Simulator) -> None:
    sim.add_app("PSpaperkey", "papersecret", profile="paper")
    paper = Raw(sim, "PSpaperkey", "papersecret")
    paper.issue()
    assert [paper.price().status_code for _ in range(3)] == [200, 200, 500]


def test_cooldown_blocks_the_key_after_a_rejection() -> None:
    with Simulator(rate=2, cooldown=5.0) as sim:
        raw = Raw(sim)
        raw.issue()
        assert codes([raw.price() for _ in range(3)]) == ["MCA00000"] * 2 + ["EGW00201"]
        sim.advance(1.5)  # the window is empty again, but the key is cooling down
        assert raw.price().json()["msg_cd"] == "EGW00201"
        sim.advance(4.0)
        assert raw.price().json()["rt_cd"] == "0"


def test_rate_limit_status_200_variant() -> None:
    with Simulator(rate=1, rate_limit_status=200) as sim:
        raw = Raw(sim)
        raw.issue()
        raw.price()
        r = raw.price()
        assert r.status_code == 200 and r.json() == RATE_BODY


def test_forty_concurrent_keep_alive_connections() -> None:
    with Simulator(rate=10**6) as sim:
        base = Raw(sim)
        base.issue()
        results: list[int] = []
        lock = threading.Lock()

        def work() -> None:
            c = Raw(sim)
            c.token = base.token
            statuses = [c.price().status_code for _ in range(10)]
            with lock:
                results.extend(statuses)

        threads = [threading.Thread(target=work) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 400
        assert sim.truth()["accepted"] == 400


# -- TR ids and profiles -----------------------------------------------------------------


def test_wrong_and_missing_tr_id(sim: Simulator) -> None:
    raw = Raw(sim)
    r = raw.get(PRICE, "FHKST01010400", SAMSUNG)
    assert r.status_code == 500
    assert r.json() == {"rt_cd": "1", "msg_cd": "OPSQ0002", "msg1": "없는 서비스 코드 입니다"}
    assert raw.get(PRICE, "", SAMSUNG).json()["msg_cd"] == "OPSQ9999"
    assert raw.get(BALANCE, "VTTC8434R", {}).json()["msg_cd"] == "OPSQ0002"
    r = raw.get("/uapi/domestic-stock/v1/quotations/no-such-thing", "FHKST01010100", SAMSUNG)
    assert r.status_code == 404 and r.json()["msg_cd"] == "MCA00124"
    assert sim.truth()["errors"]["OPSQ0002"] == 2


@pytest.mark.parametrize(
    ("path", "tr_id"),
    [
        (BALANCE, "TTTC8434R"),
        ("/uapi/domestic-stock/v1/quotations/search-stock-info", "CTPF1002R"),
        ("/uapi/etfetn/v1/quotations/inquire-price", "FHPST02400000"),
        ("/uapi/domestic-stock/v1/quotations/inquire-time-dailychartprice", "FHKST03010230"),
    ],
)
def test_real_only_trs_on_paper(path: str, tr_id: str) -> None:
    with Simulator(profile="paper", rate=100) as sim:
        r = Raw(sim).get(path, tr_id, {})
        assert r.status_code == 500
        assert r.json() == {"rt_cd": "1", "msg_cd": "EGW00213", "msg1": "모의투자 TR 이 아닙니다."}
