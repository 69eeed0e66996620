"""The simulator's fault injection, admin endpoints and server lifecycle, over real HTTP."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from kisresearch.sim import Faults, Simulator
from kisresearch.sim.probe import RawClient

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
RATE_BODY = {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}
SAMSUNG = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}


class Raw(RawClient):
    def __init__(self, sim: Simulator) -> None:
        super().__init__(sim.base_url, sim.app_key, sim.app_secret)

    def price(self) -> requests.Response:
        return self.get(PRICE, "FHKST01010100", SAMSUNG)


# -- faults ------------------------------------------------------------------------------


def test_each_fault_kind_is_produced_and_counted(sim: Simulator) -> None:
    raw = Raw(sim)
    raw.issue()
    sim.faults = Faults(rate_limit=1.0)
    r = raw.price()
    assert r.status_code == 500 and r.json() == RATE_BODY
    sim.faults = Faults(html_500=1.0)
    r = raw.price()
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    sim.faults = Faults(malformed_json=1.0)
    r = raw.price()
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content.decode("utf-8", "replace"))
    sim.faults = Faults(slow=1.0, slow_seconds=0.2)
    r = raw.price()
    assert r.status_code == 200 and r.json()["rt_cd"] == "0"
    assert r.elapsed.total_seconds() >= 0.2
    sim.faults = Faults(drop=1.0)
    with pytest.raises(requests.ConnectionError):
        raw.price()
    sim.faults = None
    assert raw.price().status_code == 200
    truth = sim.truth()
    assert truth["faults"] == {
        "rate_limit": 1,
        "html_500": 1,
        "malformed_json": 1,
        "slow": 1,
        "drop": 1,
    }
    assert (truth["accepted"], truth["rejected"]) == (5, 1)  # a spurious EGW00201 is not counted


def test_faults_spare_oauth_admin_and_master_files() -> None:
    everything = Faults(
        rate_limit=0.2, html_500=0.2, drop=0.2, slow=0.2, malformed_json=0.2, slow_seconds=0.0
    )
    with Simulator(faults=everything) as sim:
        raw = Raw(sim)
        raw.issue()
        assert requests.get(sim.base_url + "/__sim/truth", timeout=30).ok
        zipped = requests.get(sim.base_url + "/common/master/kosdaq_code.mst.zip", timeout=60)
        assert zipped.status_code == 200 and zipped.content[:2] == b"PK"
        assert sim.truth()["faults"] == {}


def test_faults_validate() -> None:
    with pytest.raises(ValueError):
        Faults(drop=1.5)
    with pytest.raises(ValueError):
        Faults(drop=0.6, slow=0.6)


def test_fault_mix_follows_the_probabilities(sim: Simulator) -> None:
    sim.faults = Faults(html_500=0.5, slow=0.0)
    raw = Raw(sim)
    raw.issue()
    statuses = []
    for _ in range(4):
        sim.advance(1.0)
        statuses += [raw.price().status_code for _ in range(20)]
    html = sim.truth()["faults"].get("html_500", 0)
    assert statuses.count(500) == html and 15 <= html <= 65  # 80 draws at p = 0.5


# -- admin and lifecycle -----------------------------------------------------------------


def test_admin_endpoints(sim: Simulator) -> None:
    raw = Raw(sim)
    raw.issue()
    raw.price()
    base = sim.base_url
    truth = requests.get(base + "/__sim/truth", timeout=30).json()
    assert truth["accepted"] == 1 and truth["tokens_issued"] == 1
    assert set(truth) >= {
        "accepted",
        "rejected",
        "tokens_issued",
        "max_in_window",
        "per_second",
        "by_tr_id",
        "errors",
        "faults",
    }
    info = requests.get(base + "/__sim/info", timeout=30).json()
    assert info["app_key"] == sim.app_key and info["account"] == sim.account
    assert requests.post(base + "/__sim/reset", timeout=30).json() == {"ok": True}
    assert sim.truth()["accepted"] == 0 and sim.truth()["max_in_window"] == 0
    assert raw.token_call().status_code == 403
    assert requests.post(base + "/__sim/advance", params={"seconds": "61"}, timeout=30).ok
    assert raw.token_call().status_code == 200
    assert requests.post(base + "/__sim/expire_tokens", timeout=30).ok
    assert raw.price().json()["msg_cd"] == "EGW00123"
    r = requests.post(base + "/__sim/faults", json={"html_500": 1.0}, timeout=30)
    assert r.json()["ok"] and sim.faults == Faults(html_500=1.0)
    assert requests.post(base + "/__sim/faults", json={}, timeout=30).ok and sim.faults is None
    assert requests.post(base + "/__sim/faults", json={"drop": 2}, timeout=30).status_code == 400
    assert (
        requests.post(base + "/__sim/advance", params={"seconds": "x"}, timeout=30).status_code
        == 400
    )
    assert requests.get(base + "/__sim/nope", timeout=30).status_code == 404


def sim_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kisresearch-sim")]


def test_stop_closes_everything_and_leaves_no_thread() -> None:
    sim = Simulator(faults=Faults(slow=1.0, slow_seconds=120.0)).start()
    idle = Raw(sim)
    idle.issue()
    idle.warm()  # an idle keep-alive connection
    errors: list[BaseException] = []

    hanger = Raw(sim)
    hanger.token = idle.token

    def hang() -> None:
        try:
            hanger.price()
        except requests.RequestException as exc:
            errors.append(exc)

    t = threading.Thread(target=hang)
    t.start()
    while sim.truth()["faults"].get("slow", 0) == 0:  # wait until it sleeps in the server
        threading.Event().wait(0.01)
    assert sim_threads()
    sim.stop()
    t.join()
    assert sim_threads() == []
    assert len(errors) == 1  # the sleeping request was cut off, not answered
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{sim.port}/__sim/truth", timeout=5)
    sim.stop()  # idempotent


def test_lifecycle_errors_and_serve_forever() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.base_url
    done = threading.Event()

    def serve() -> None:
        sim.serve_forever()
        done.set()

    t = threading.Thread(target=serve)
    t.start()
    while sim._server is None:
        threading.Event().wait(0.01)
    assert requests.get(sim.base_url + "/__sim/info", timeout=30).ok
    with pytest.raises(RuntimeError):
        sim.start()
    sim.stop()
    t.join()
    assert done.is_set() and sim_threads() == []
    with pytest.raises(ValueError):
        Simulator(profile="demo")
    with pytest.raises(ValueError):
        Simulator(window="leaky")
    assert "stopped" in repr(sim)
