"""The simulator's account and reference data over real HTTP: balance paging, the master
files, the shipped universe and the tick table."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import requests

from kisresearch.sim import Simulator
from kisresearch.sim.listings import domestic
from kisresearch.sim.make_listings import default_path, generate, render
from kisresearch.sim.market import tick_size
from kisresearch.sim.master import KOSDAQ_WIDTHS, KOSPI_WIDTHS
from kisresearch.sim.probe import RawClient

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
BALANCE = "/uapi/domestic-stock/v1/trading/inquire-balance"


def sym(code: str) -> dict[str, str]:
    return {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code}


def balance_params(sim: Simulator, fk: str = "", nk: str = "") -> dict[str, str]:
    cano, product = sim.account.split("-")
    return {
        "CANO": cano,
        "ACNT_PRDT_CD": product,
        "AFHR_FLPR_YN": "N",
        "OFL_YN": "",
        "INQR_DVSN": "01",
        "UNPR_DVSN": "01",
        "FUND_STTL_ICLD_YN": "N",
        "FNCG_AMT_AUTO_RDPT_YN": "N",
        "PRCS_DVSN": "00",
        "CTX_AREA_FK100": fk,
        "CTX_AREA_NK100": nk,
    }


@pytest.fixture
def raw(sim: Simulator) -> RawClient:
    return RawClient.of(sim, reissue=True)


@pytest.fixture(scope="module")
def big() -> Any:
    with Simulator(rate=10**6) as s:
        yield s


@pytest.fixture(scope="module")
def client(big: Simulator) -> RawClient:
    return RawClient.of(big, reissue=True)


# -- balance -----------------------------------------------------------------------------


def pages(client: RawClient, sim: Simulator, tr_id: str) -> tuple[list[str], list[list[str]]]:
    markers, seen = [], []
    fk = nk = ""
    cont = ""
    for _ in range(10):
        r = client.get(BALANCE, tr_id, balance_params(sim, fk, nk), tr_cont=cont)
        body = r.json()
        assert r.status_code == 200 and body["rt_cd"] == "0", r.text
        assert len(body["ctx_area_fk100"]) == 100 and len(body["ctx_area_nk100"]) == 100
        assert len(body["output2"]) == 1
        markers.append(r.headers["tr_cont"])
        seen.append([row["pdno"] for row in body["output1"]])
        if r.headers["tr_cont"] in ("D", "E"):
            break
        fk, nk, cont = body["ctx_area_fk100"], body["ctx_area_nk100"], "N"
    return markers, seen


def test_balance_pages_real(sim: Simulator, raw: RawClient) -> None:
    markers, seen = pages(raw, sim, "TTTC8434R")
    assert markers == ["M", "D"] and [len(p) for p in seen] == [50, 15]
    flat = [c for p in seen for c in p]
    assert len(set(flat)) == 65 == len(flat)
    body = raw.ok(BALANCE, "TTTC8434R", balance_params(sim))
    total = int(body["output2"][0]["scts_evlu_amt"])
    rows = body["output1"]
    assert {
        "pdno",
        "prdt_name",
        "hldg_qty",
        "ord_psbl_qty",
        "pchs_avg_pric",
        "pchs_amt",
        "prpr",
        "evlu_amt",
        "evlu_pfls_amt",
        "evlu_pfls_rt",
    } <= set(rows[0])
    assert int(rows[0]["evlu_amt"]) == int(rows[0]["hldg_qty"]) * int(rows[0]["prpr"])
    assert total >= sum(int(r["evlu_amt"]) for r in rows)
    for field in (
        "dnca_tot_amt",
        "nxdy_excc_amt",
        "prvs_rcdl_excc_amt",
        "tot_evlu_amt",
        "nass_amt",
        "evlu_pfls_smtl_amt",
    ):
        assert field in body["output2"][0]


def test_balance_context_continues_with_or_without_tr_cont_n(
    sim: Simulator, raw: RawClient
) -> None:
    first = raw.ok(BALANCE, "TTTC8434R", balance_params(sim))
    ctx = (first["ctx_area_fk100"].strip(), first["ctx_area_nk100"].strip())
    for tr_cont in ("N", ""):  # KIS's pages ask for N; mojito2 0.1.6 pages without it
        nxt = raw.get(BALANCE, "TTTC8434R", balance_params(sim, *ctx), tr_cont=tr_cont)
        assert nxt.headers["tr_cont"] == "D" and len(nxt.json()["output1"]) == 15
    bad = raw.get(BALANCE, "TTTC8434R", balance_params(sim, ctx[0], "garbage"), tr_cont="N")
    assert bad.json()["msg_cd"] == "OPSQ2001"
    bare = {k: v for k, v in balance_params(sim).items() if not k.startswith("CTX_AREA_")}
    plain = raw.get(BALANCE, "TTTC8434R", bare)  # a first page without the context areas
    assert plain.json()["rt_cd"] == "0" and plain.headers["tr_cont"] == "M"
    assert plain.json()["output1"] == first["output1"]


def test_balance_pages_paper() -> None:
    with Simulator(profile="paper", rate=100) as sim:
        raw = RawClient.of(sim, reissue=True)
        markers, seen = pages(raw, sim, "VTTC8434R")
        assert markers == ["M", "M", "M", "D"]
        assert [len(p) for p in seen] == [20, 20, 20, 5]
        flat = [c for p in seen for c in p]
        assert len(set(flat)) == 65 == len(flat)
        body = raw.get(BALANCE, "VTTC8434R", balance_params(sim)).json()
        assert body["msg_cd"] == "20310000"


def test_balance_wrong_account_and_missing_params(sim: Simulator, raw: RawClient) -> None:
    params = balance_params(sim)
    r = raw.get(BALANCE, "TTTC8434R", {**params, "CANO": "12345678"})
    assert r.status_code == 500
    assert r.json() == {
        "rt_cd": "1",
        "msg_cd": "OPSQ2000",
        "msg1": "ERROR : INPUT INVALID_CHECK_ACNO",
    }
    refused = raw.get(BALANCE, "TTTC8434R", {**params, "INQR_DVSN": "02"}).json()
    assert refused["msg1"] == "ERROR : INPUT INVALID_CHECK_INQR_DVSN"  # since 2026-02-10
    assert refused["rt_cd"] == "2"
    del params["PRCS_DVSN"]
    assert raw.get(BALANCE, "TTTC8434R", params).json()["msg_cd"] == "OPSQ2001"
    other = sim.add_app("PSacct2", "secret2")
    assert other != sim.account
    mine = RawClient(sim.base_url, "PSacct2", "secret2", reissue=True)
    cano, product = other.split("-")
    rows = mine.ok(
        BALANCE, "TTTC8434R", {**balance_params(sim), "CANO": cano, "ACNT_PRDT_CD": product}
    )["output1"]
    assert len(rows) == 30


def test_universe_file_is_the_generators_output() -> None:
    assert default_path().read_text("utf-8") == render(generate())
    universe = domestic()
    assert 2400 <= len(universe) <= 2700
    for code, name in (
        ("005930", "삼성전자"),
        ("000660", "SK하이닉스"),
        ("373220", "LG에너지솔루션"),
        ("035420", "NAVER"),
        ("247540", "에코프로비엠"),
        ("069500", "KODEX 200"),
    ):
        assert universe[code].name == name
    assert universe["069500"].is_etf and universe["247540"].market == "KOSDAQ"
    assert sum(s.is_etf for s in universe.values()) >= 10
    assert all(len(c) == 6 and c.isdigit() for c in universe)


def test_tick_sizes() -> None:
    assert [
        tick_size(p)
        for p in (
            1999,
            2000,
            4995,
            5000,
            19990,
            20000,
            49950,
            50000,
            199900,
            200000,
            499500,
            500000,
        )
    ] == [1, 5, 5, 10, 10, 50, 50, 100, 100, 500, 500, 1000]
    assert tick_size(30000, etf=True) == 5


@pytest.mark.parametrize(
    ("name", "tail", "widths"),
    [("kospi_code.mst", 228, KOSPI_WIDTHS), ("kosdaq_code.mst", 222, KOSDAQ_WIDTHS)],
)
def test_master_files(
    client: RawClient, big: Simulator, name: str, tail: int, widths: tuple[int, ...]
) -> None:
    r = requests.get(f"{big.base_url}/common/master/{name}.zip", timeout=60)
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.namelist() == [name]
        text = zf.read(name).decode("cp949")
    lines = text.splitlines(keepends=True)
    market = "KOSPI" if name.startswith("kospi") else "KOSDAQ"
    universe = {c: s for c, s in domestic().items() if s.market == market}
    assert len(lines) == len(universe)
    assert sum(widths) == tail - 1
    parsed = {}
    for line in lines:
        head, fixed = line[: len(line) - tail], line[-tail:]
        assert fixed.endswith("\n") and len(fixed) == tail
        fields, pos = [], 0
        for w in widths:
            fields.append(fixed[pos : pos + w])
            pos += w
        parsed[head[0:9].rstrip()] = (head[9:21], head[21:].strip(), fields)
    code = "005930" if market == "KOSPI" else "247540"
    isin, kor, fields = parsed[code]
    assert kor == universe[code].name and isin.startswith("KR7" + code)
    assert fields[0] == "ST"
    quote = client.ok(PRICE, "FHKST01010100", sym(code))["output"]
    base_idx = 31 if market == "KOSPI" else 26
    assert int(fields[base_idx]) in (int(quote["stck_sdpr"]), int(quote["stck_prpr"]))
    shares_idx = base_idx + 19
    assert int(fields[shares_idx]) == universe[code].listed_shares // 1000
    halted = next((s for s in universe.values() if s.halted), None)
    if halted is not None:
        assert parsed[halted.code][2][base_idx + 3] == "Y"
    if market == "KOSPI":
        assert parsed["069500"][2][0] == "EF"
    assert requests.get(f"{big.base_url}/common/master/nope.zip", timeout=30).status_code == 404
