"""The simulator's bodies over real HTTP: fields, row caps, order, paging, consistency between
endpoints, determinism, the master files and the shipped universe."""

from __future__ import annotations

import io
import itertools
import zipfile
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import requests

from kisresearch.sim import Simulator
from kisresearch.sim.make_universe import default_path, generate, render
from kisresearch.sim.market import tick_size
from kisresearch.sim.master import KOSDAQ_WIDTHS, KOSPI_WIDTHS
from kisresearch.sim.timebase import KST, is_trading_day
from kisresearch.sim.universe import domestic

Q = "/uapi/domestic-stock/v1/quotations/"
PRICE = Q + "inquire-price"
MULTI = Q + "intstock-multprice"
CHART = Q + "inquire-daily-itemchartprice"
DAILY = Q + "inquire-daily-price"
MINUTES = Q + "inquire-time-itemchartprice"
PAST_MINUTES = Q + "inquire-time-dailychartprice"
BOOK = Q + "inquire-asking-price-exp-ccn"
INVESTOR = Q + "inquire-investor"
INFO = Q + "search-stock-info"
ETF = "/uapi/etfetn/v1/quotations/inquire-price"
OV_PRICE = "/uapi/overseas-price/v1/quotations/price"
OV_DAILY = "/uapi/overseas-price/v1/quotations/dailyprice"
BALANCE = "/uapi/domestic-stock/v1/trading/inquire-balance"


class Raw:
    """A bare client that re-issues its token when the simulator's clock has moved on."""

    def __init__(self, sim: Simulator, key: str | None = None, secret: str | None = None):
        self.sim, self.key = sim, key or sim.app_key
        self.secret = secret or sim.app_secret
        self.session = requests.Session()
        self.token = ""

    def call(
        self, path: str, tr_id: str, params: dict[str, str], tr_cont: str = ""
    ) -> requests.Response:
        for _ in range(2):
            if not self.token:
                r = self.session.post(
                    self.sim.base_url + "/oauth2/tokenP",
                    json={
                        "grant_type": "client_credentials",
                        "appkey": self.key,
                        "appsecret": self.secret,
                    },
                    timeout=30,
                )
                assert r.status_code == 200, r.text
                self.token = r.json()["access_token"]
            r = self.session.get(
                self.sim.base_url + path,
                params=params,
                timeout=60,
                headers={
                    "authorization": f"Bearer {self.token}",
                    "appkey": self.key,
                    "appsecret": self.secret,
                    "tr_id": tr_id,
                    "custtype": "P",
                    "tr_cont": tr_cont,
                },
            )
            if r.json().get("msg_cd") != "EGW00123":
                return r
            self.token = ""
        return r

    def ok(
        self, path: str, tr_id: str, params: dict[str, str], tr_cont: str = ""
    ) -> dict[str, Any]:
        r = self.call(path, tr_id, params, tr_cont)
        body = r.json()
        assert r.status_code == 200 and body["rt_cd"] == "0", r.text
        assert r.headers["content-type"] == "application/json; charset=utf-8"
        assert r.headers["tr_id"] == tr_id
        assert_all_strings(body)
        return body


def assert_all_strings(value: Any) -> None:
    if isinstance(value, dict):
        for v in value.values():
            assert_all_strings(v)
    elif isinstance(value, list):
        for v in value:
            assert_all_strings(v)
    else:
        assert isinstance(value, str), value


def sym(code: str, **extra: str) -> dict[str, str]:
    return {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code, **extra}


def chart(code: str, start: str, end: str, period: str = "D", adj: str = "0") -> dict[str, str]:
    return sym(
        code,
        FID_INPUT_DATE_1=start,
        FID_INPUT_DATE_2=end,
        FID_PERIOD_DIV_CODE=period,
        FID_ORG_ADJ_PRC=adj,
    )


def today_minutes(code: str, hour: str) -> dict[str, str]:
    return sym(code, FID_INPUT_HOUR_1=hour, FID_PW_DATA_INCU_YN="Y", FID_ETC_CLS_CODE="")


def balance_params(sim: Simulator, fk: str = "", nk: str = "") -> dict[str, str]:
    cano, product = sim.account.split("-")
    return {
        "CANO": cano,
        "ACNT_PRDT_CD": product,
        "AFHR_FLPR_YN": "N",
        "OFL_YN": "",
        "INQR_DVSN": "02",
        "UNPR_DVSN": "01",
        "FUND_STTL_ICLD_YN": "N",
        "FNCG_AMT_AUTO_RDPT_YN": "N",
        "PRCS_DVSN": "00",
        "CTX_AREA_FK100": fk,
        "CTX_AREA_NK100": nk,
    }


def advance_to(sim: Simulator, hour: int, minute: int, second: int = 20) -> datetime:
    """Move the simulator's clock to the next trading day at HH:MM:SS KST."""
    now = datetime.fromtimestamp(sim.now(), KST)
    day = now.date()
    while True:
        target = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=KST)
        if is_trading_day(day) and target.timestamp() > sim.now() + 1:
            break
        day += timedelta(days=1)
    sim.advance(target.timestamp() - sim.now())
    return target


@pytest.fixture
def raw(sim: Simulator) -> Raw:
    return Raw(sim)


@pytest.fixture(scope="module")
def big() -> Any:
    """A simulator with no practical rate limit, shared by the read-only checks."""
    with Simulator(rate=10**6) as s:
        yield s


@pytest.fixture(scope="module")
def client(big: Simulator) -> Raw:
    return Raw(big)


# -- quotes ------------------------------------------------------------------------------

PRICE_FIELDS = ["stck_prpr", "prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "acml_vol", "acml_tr_pbmn", "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_mxpr", "stck_llam", "stck_sdpr", "per", "pbr", "eps", "bps", "hts_avls", "lstn_stcn", "hts_frgn_ehrt", "w52_hgpr", "w52_lwpr", "w52_hgpr_date", "w52_lwpr_date", "d250_hgpr", "d250_lwpr", "vol_tnrt", "aspr_unit", "bstp_kor_isnm", "iscd_stat_cls_code", "temp_stop_yn"]


def test_inquire_price(client: Raw) -> None:
    out = client.ok(PRICE, "FHKST01010100", sym("005930"))["output"]
    assert set(PRICE_FIELDS) <= set(out)
    p, base = int(out["stck_prpr"]), int(out["stck_sdpr"])
    assert int(out["prdy_vrss"]) == p - base
    assert int(out["stck_lwpr"]) <= p <= int(out["stck_hgpr"])
    assert int(out["stck_llam"]) < p < int(out["stck_mxpr"])
    assert int(out["aspr_unit"]) == tick_size(p)
    assert p % tick_size(p) == 0
    assert out["bstp_kor_isnm"] == "전기전자" and out["stck_shrn_iscd"] == "005930"
    assert int(out["w52_lwpr"]) <= p <= int(out["w52_hgpr"])


def test_halted_and_admin_symbols_are_flagged(client: Raw) -> None:
    universe = domestic()
    halted = next(s for s in universe.values() if s.halted)
    admin = next(s for s in universe.values() if s.admin)
    out = client.ok(PRICE, "FHKST01010100", sym(halted.code))["output"]
    assert out["temp_stop_yn"] == "Y" and out["iscd_stat_cls_code"] == "58"
    assert out["acml_vol"] == "0" and out["prdy_vrss"] == "0"
    out = client.ok(PRICE, "FHKST01010100", sym(admin.code))["output"]
    assert out["iscd_stat_cls_code"] == "51"


def test_unknown_symbol_and_bad_parameters(client: Raw) -> None:
    r = client.call(PRICE, "FHKST01010100", sym("999999"))
    assert r.status_code == 500 and r.json()["rt_cd"] == "1"
    assert r.json()["msg_cd"] == "APBK0013"
    r = client.call(PRICE, "FHKST01010100", {"FID_INPUT_ISCD": "005930"})
    assert r.json()["msg_cd"] == "OPSQ2001" and r.json()["rt_cd"] == "2"
    r = client.call(
        PRICE, "FHKST01010100", {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "005930"}
    )
    assert r.json()["msg_cd"] == "OPSQ2001"  # query keys are upper case
    r = client.call(CHART, "FHKST03010100", chart("005930", "20240101", "20240301", "Q"))
    assert r.json()["msg1"] == "ERROR : INPUT INVALID_CHECK_FID_PERIOD_DIV_CODE"
    r = client.call(OV_PRICE, "HHDFS00000300", {"AUTH": "", "EXCD": "NAS", "SYMB": "NOPE"})
    assert r.json()["msg_cd"] == "APBK0013"


def test_multi_price_30_symbols(client: Raw) -> None:
    codes = sorted(domestic())[:29]
    params: dict[str, str] = {}
    for n, code in enumerate([*codes[:10], "999999", *codes[10:]], start=1):
        params[f"FID_COND_MRKT_DIV_CODE_{n}"] = "J"
        params[f"FID_INPUT_ISCD_{n}"] = code
    rows = client.ok(MULTI, "FHKST11300006", params)["output"]
    assert [r["inter_shrn_iscd"] for r in rows] == codes  # the unknown one is just missing
    fields = ["inter_kor_isnm", "inter2_prpr", "inter2_prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "acml_vol", "inter2_oprc", "inter2_hgpr", "inter2_lwpr", "inter2_askp", "inter2_bidp", "inter2_prdy_clpr", "inter2_sdpr", "total_askp_rsqn", "total_bidp_rsqn"]
    assert all(set(fields) <= set(r) for r in rows)
    single = client.ok(PRICE, "FHKST01010100", sym(codes[3]))["output"]
    assert rows[3]["inter2_prpr"] == single["stck_prpr"]
    params["FID_COND_MRKT_DIV_CODE_31"] = "J"
    params["FID_INPUT_ISCD_31"] = codes[0]
    r = client.call(MULTI, "FHKST11300006", params)
    assert r.status_code == 500 and r.json()["msg_cd"] == "OPSQ2001"


def test_order_book_is_on_the_tick_grid(client: Raw) -> None:
    for code in ("005930", "207940", "069500", sorted(domestic())[100]):
        body = client.ok(BOOK, "FHKST01010200", sym(code))
        book, exp = body["output1"], body["output2"]
        asks = [int(book[f"askp{i}"]) for i in range(1, 11)]
        bids = [int(book[f"bidp{i}"]) for i in range(1, 11)]
        etf = domestic()[code].is_etf
        assert asks[0] > bids[0] == int(exp["stck_prpr"])
        for a, b in itertools.pairwise(asks):
            assert b - a == tick_size(a, etf)
        for a, b in itertools.pairwise(bids):
            assert a - b == tick_size(b, etf)
        sizes = [int(book[f"askp_rsqn{i}"]) for i in range(1, 11)]
        assert int(book["total_askp_rsqn"]) == sum(sizes)


def test_stock_info_and_etf(client: Raw) -> None:
    out = client.ok(INFO, "CTPF1002R", {"PRDT_TYPE_CD": "300", "PDNO": "005930"})["output"]
    assert out["pdno"] == "00000A005930" and out["prdt_abrv_name"] == "삼성전자"
    assert out["std_pdno"] == "KR7005930003" and out["mket_id_cd"] == "STK"
    for field in (
        "prdt_name",
        "prdt_eng_name",
        "lstg_stqt",
        "scts_mket_lstg_dt",
        "kosdaq_mket_lstg_dt",
        "lstg_abol_dt",
        "std_idst_clsf_cd_name",
        "tr_stop_yn",
        "admn_item_yn",
        "bfdy_clpr",
    ):
        assert field in out
    etf = client.ok(ETF, "FHPST02400000", sym("069500"))["output"]
    for field in ("stck_prpr", "nav", "prdy_last_nav", "trc_errt", "dprt", "etf_ntas_ttam"):
        assert field in etf
    assert abs(float(etf["nav"]) / int(etf["stck_prpr"]) - 1) < 0.01
    assert client.call(ETF, "FHPST02400000", sym("005930")).json()["rt_cd"] == "1"


# -- bars --------------------------------------------------------------------------------


def dates(rows: list[dict[str, str]], key: str = "stck_bsop_date") -> list[str]:
    return [r[key] for r in rows]


def test_daily_chart_caps_order_range_and_trading_days(client: Raw) -> None:
    body = client.ok(CHART, "FHKST03010100", chart("005930", "20240101", "20250630"))
    rows = body["output2"]
    assert len(rows) == 100
    ds = dates(rows)
    assert ds == sorted(ds, reverse=True) and len(set(ds)) == 100
    assert ds[0] <= "20250630" and ds[-1] >= "20240101"
    assert all(is_trading_day(datetime.strptime(d, "%Y%m%d").date()) for d in ds)
    for field in (
        "stck_clpr",
        "stck_oprc",
        "stck_hgpr",
        "stck_lwpr",
        "acml_vol",
        "acml_tr_pbmn",
        "flng_cls_code",
        "prtt_rate",
        "mod_yn",
        "prdy_vrss_sign",
        "prdy_vrss",
    ):
        assert field in rows[0]
    assert {"hts_kor_isnm", "stck_prpr", "stck_prdy_clpr"} <= set(body["output1"])
    # the next chunk: DATE_2 = oldest returned - 1 day, no overlap, no gap
    oldest = datetime.strptime(ds[-1], "%Y%m%d").date()
    nxt = client.ok(
        CHART,
        "FHKST03010100",
        chart("005930", "20240101", (oldest - timedelta(days=1)).strftime("%Y%m%d")),
    )["output2"]
    assert dates(nxt)[0] < ds[-1]
    everything = client.ok(CHART, "FHKST03010100", chart("005930", "20240101", "20240331"))
    assert len(everything["output2"]) < 100
    assert (
        client.ok(CHART, "FHKST03010100", chart("005930", "20240301", "20240101"))["output2"] == []
    )


def test_daily_chart_adjusted_and_raw_differ_across_a_split(client: Raw) -> None:
    span = ("20180420", "20180515")  # 005930 split 50:1 on 2018-05-04
    adj = client.ok(CHART, "FHKST03010100", chart("005930", *span, adj="0"))["output2"]
    raw = client.ok(CHART, "FHKST03010100", chart("005930", *span, adj="1"))["output2"]
    assert dates(adj) == dates(raw)
    by_day = {
        a["stck_bsop_date"]: (int(a["stck_clpr"]), int(r["stck_clpr"]))
        for a, r in zip(adj, raw, strict=True)
    }
    before, after = by_day["20180503"], by_day["20180504"]
    assert before[1] == pytest.approx(before[0] * 50, rel=0.01)  # raw pre-split price
    assert after[0] == after[1]
    split_row = next(r for r in raw if r["stck_bsop_date"] == "20180504")
    assert split_row["prtt_rate"] == "50.00"
    assert abs(int(split_row["prdy_vrss"])) < after[1] * 0.3  # vs the split-adjusted base


@pytest.mark.parametrize(("period", "most"), [("W", 100), ("M", 100), ("Y", 17)])
def test_period_bars(client: Raw, period: str, most: int) -> None:
    rows = client.ok(CHART, "FHKST03010100", chart("000660", "20100101", "20991231", period))[
        "output2"
    ]
    assert 0 < len(rows) <= most
    ds = dates(rows)
    assert ds == sorted(ds, reverse=True)
    keyed = {d[:6] if period == "M" else d[:4] for d in ds}
    if period != "W":
        assert len(keyed) == len(ds)  # one bar per month / year
    daily = client.ok(CHART, "FHKST03010100", chart("000660", ds[1][:6] + "01", ds[1]))["output2"]
    if period == "M":
        month = [r for r in daily if r["stck_bsop_date"][:6] == ds[1][:6]]
        assert int(rows[1]["stck_hgpr"]) == max(int(r["stck_hgpr"]) for r in month)
        assert int(rows[1]["acml_vol"]) == sum(int(r["acml_vol"]) for r in month)
        assert rows[1]["stck_clpr"] == month[0]["stck_clpr"]


def test_daily_price_is_last_30(client: Raw) -> None:
    rows = client.ok(
        DAILY, "FHKST01010400", sym("035720", FID_PERIOD_DIV_CODE="D", FID_ORG_ADJ_PRC="0")
    )["output"]
    assert len(rows) == 30 and dates(rows) == sorted(dates(rows), reverse=True)
    quote = client.ok(PRICE, "FHKST01010100", sym("035720"))["output"]
    assert rows[0]["stck_clpr"] == quote["stck_prpr"]
    for field in ("stck_oprc", "stck_hgpr", "stck_lwpr", "acml_vol", "prdy_vrss", "prdy_ctrt"):
        assert field in rows[0]


def test_today_minute_bars_agree_with_the_quote_during_the_session(
    sim: Simulator, raw: Raw
) -> None:
    advance_to(sim, 10, 15)
    body = raw.ok(MINUTES, "FHKST03010200", today_minutes("005930", "153000"))
    rows = body["output2"]
    assert len(rows) == 30
    hours = dates(rows, "stck_cntg_hour")
    assert hours[0] == "101500" and hours == sorted(hours, reverse=True)  # future = now
    assert hours[-1] == "094600"
    quote = raw.ok(PRICE, "FHKST01010100", sym("005930"))["output"]
    assert rows[0]["stck_prpr"] == quote["stck_prpr"]
    assert rows[0]["acml_tr_pbmn"] == quote["acml_tr_pbmn"]
    today = raw.ok(CHART, "FHKST03010100", chart("005930", "20000101", "20991231"))["output2"][0]
    assert today["stck_bsop_date"] == rows[0]["stck_bsop_date"]
    for a, b in (
        ("stck_clpr", "stck_prpr"),
        ("stck_oprc", "stck_oprc"),
        ("stck_hgpr", "stck_hgpr"),
        ("stck_lwpr", "stck_lwpr"),
        ("acml_vol", "acml_vol"),
    ):
        assert today[a] == quote[b]
    early = raw.ok(MINUTES, "FHKST03010200", today_minutes("005930", "090500"))["output2"]
    assert dates(early, "stck_cntg_hour") == [f"090{m}00" for m in range(5, -1, -1)]
    assert raw.ok(MINUTES, "FHKST03010200", today_minutes("005930", "085900"))["output2"] == []
    # a minute later the newest bar moves on and the day's volume only grows
    sim.advance(60)
    later = raw.ok(MINUTES, "FHKST03010200", today_minutes("005930", "153000"))["output2"]
    assert later[0]["stck_cntg_hour"] == "101600"
    later_quote = raw.ok(PRICE, "FHKST01010100", sym("005930"))["output"]
    assert int(later_quote["acml_vol"]) >= int(quote["acml_vol"])


def test_investor_rows_and_todays_empty_row(sim: Simulator, raw: Raw) -> None:
    advance_to(sim, 11, 0)
    rows = raw.ok(INVESTOR, "FHKST01010900", sym("000660"))["output"]
    assert 25 <= len(rows) <= 31 and dates(rows) == sorted(dates(rows), reverse=True)
    assert rows[0]["frgn_ntby_qty"] == "" and rows[0]["stck_clpr"] != ""
    assert rows[1]["frgn_ntby_qty"] != ""
    r = rows[1]
    for who in ("prsn", "frgn", "orgn"):
        assert int(r[f"{who}_ntby_qty"]) == int(r[f"{who}_shnu_vol"]) - int(r[f"{who}_seln_vol"])
    advance_to(sim, 15, 31)  # the next trading day, after the close: the row is filled
    rows = raw.ok(INVESTOR, "FHKST01010900", sym("000660"))["output"]
    assert rows[0]["frgn_ntby_qty"] != ""


def test_past_minute_bars(client: Raw, big: Simulator) -> None:
    day = date.fromtimestamp(big.now()) - timedelta(days=10)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    rows = client.ok(
        PAST_MINUTES,
        "FHKST03010230",
        sym(
            "005380",
            FID_INPUT_DATE_1=day.strftime("%Y%m%d"),
            FID_INPUT_HOUR_1="150000",
            FID_PW_DATA_INCU_YN="Y",
        ),
    )["output2"]
    assert len(rows) == 120
    assert rows[0]["stck_cntg_hour"] == "150000" and rows[-1]["stck_cntg_hour"] == "130100"
    assert {r["stck_bsop_date"] for r in rows} == {day.strftime("%Y%m%d")}


# -- overseas ----------------------------------------------------------------------------


def test_overseas_price_and_daily_paging(client: Raw) -> None:
    out = client.ok(OV_PRICE, "HHDFS00000300", {"AUTH": "", "EXCD": "NAS", "SYMB": "AAPL"})[
        "output"
    ]
    assert {"rsym", "zdiv", "base", "last", "sign", "diff", "rate", "tvol", "tamt", "ordy"} <= set(
        out
    )
    params = {"AUTH": "", "EXCD": "NAS", "SYMB": "AAPL", "GUBN": "0", "BYMD": "", "MODP": "1"}
    first = client.ok(OV_DAILY, "HHDFS76240000", params)["output2"]
    assert len(first) == 100 and dates(first, "xymd") == sorted(dates(first, "xymd"), reverse=True)
    assert first[0]["clos"] == out["last"]
    oldest = datetime.strptime(first[-1]["xymd"], "%Y%m%d").date()
    params["BYMD"] = (oldest - timedelta(days=1)).strftime("%Y%m%d")
    second = client.ok(OV_DAILY, "HHDFS76240000", params)["output2"]
    assert second[0]["xymd"] < first[-1]["xymd"]
    for excd, symb in (("NYS", "JPM"), ("AMS", "SPY"), ("HKS", "00700"), ("TSE", "7203")):
        client.ok(OV_PRICE, "HHDFS00000300", {"AUTH": "", "EXCD": excd, "SYMB": symb})


# -- balance -----------------------------------------------------------------------------


def pages(client: Raw, sim: Simulator, tr_id: str) -> tuple[list[str], list[list[str]]]:
    markers, seen = [], []
    fk = nk = ""
    cont = ""
    for _ in range(10):
        r = client.call(BALANCE, tr_id, balance_params(sim, fk, nk), tr_cont=cont)
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


def test_balance_pages_real(sim: Simulator, raw: Raw) -> None:
    markers, seen = pages(raw, sim, "TTTC8434R")
    assert markers == ["F", "D"] and [len(p) for p in seen] == [50, 15]
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


def test_balance_context_needs_tr_cont_n(sim: Simulator, raw: Raw) -> None:
    first = raw.ok(BALANCE, "TTTC8434R", balance_params(sim))
    ctx = (first["ctx_area_fk100"].strip(), first["ctx_area_nk100"].strip())
    again = raw.call(BALANCE, "TTTC8434R", balance_params(sim, *ctx))  # no tr_cont: N
    assert again.headers["tr_cont"] == "F"
    assert again.json()["output1"][0]["pdno"] == first["output1"][0]["pdno"]
    nxt = raw.call(BALANCE, "TTTC8434R", balance_params(sim, *ctx), tr_cont="N")
    assert nxt.headers["tr_cont"] == "D" and len(nxt.json()["output1"]) == 15
    bad = raw.call(BALANCE, "TTTC8434R", balance_params(sim, ctx[0], "garbage"), tr_cont="N")
    assert bad.json()["msg_cd"] == "OPSQ2001"


def test_balance_pages_paper() -> None:
    with Simulator(profile="paper", rate=100) as sim:
        raw = Raw(sim)
        markers, seen = pages(raw, sim, "VTTC8434R")
        assert markers == ["F", "M", "M", "D"]
        assert [len(p) for p in seen] == [20, 20, 20, 5]
        flat = [c for p in seen for c in p]
        assert len(set(flat)) == 65 == len(flat)
        body = raw.call(BALANCE, "VTTC8434R", balance_params(sim)).json()
        assert body["msg_cd"] == "20310000"


def test_balance_wrong_account_and_missing_params(sim: Simulator, raw: Raw) -> None:
    params = balance_params(sim)
    r = raw.call(BALANCE, "TTTC8434R", {**params, "CANO": "12345678"})
    assert r.status_code == 500
    assert r.json() == {
        "rt_cd": "1",
        "msg_cd": "OPSQ2000",
        "msg1": "ERROR : INPUT INVALID_CHECK_ACNO",
    }
    del params["PRCS_DVSN"]
    assert raw.call(BALANCE, "TTTC8434R", params).json()["msg_cd"] == "OPSQ2001"
    other = sim.add_app("PSacct2", "secret2")
    assert other != sim.account
    mine = Raw(sim, "PSacct2", "secret2")
    cano, product = other.split("-")
    rows = mine.ok(
        BALANCE, "TTTC8434R", {**balance_params(sim), "CANO": cano, "ACNT_PRDT_CD": product}
    )["output1"]
    assert len(rows) == 30


# -- determinism, universe, master files -------------------------------------------------


def test_same_seed_same_data_other_seed_other_data(client: Raw) -> None:
    params = chart("051910", "20230101", "20230601")
    with Simulator(rate=100) as a, Simulator(rate=100, seed=7) as b:
        same = Raw(a).ok(CHART, "FHKST03010100", params)["output2"]
        other = Raw(b).ok(CHART, "FHKST03010100", params)["output2"]
    mine = client.ok(CHART, "FHKST03010100", params)["output2"]
    assert same == mine and other != mine
    narrow = client.ok(CHART, "FHKST03010100", chart("051910", "20230301", "20230310"))["output2"]
    assert all(r in mine for r in narrow)  # a bar does not depend on the range asked for


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
    client: Raw, big: Simulator, name: str, tail: int, widths: tuple[int, ...]
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
