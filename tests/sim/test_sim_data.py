"""The simulator's bodies over real HTTP: fields, row caps, order, paging, consistency between
endpoints, determinism, the master files and the shipped universe."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from kisresearch.sim import Simulator
from kisresearch.sim.listings import domestic
from kisresearch.sim.market import tick_size
from kisresearch.sim.probe import RawClient
from kisresearch.sim.timebase import KST, is_trading_day

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
def raw(sim: Simulator) -> RawClient:
    return RawClient.of(sim, reissue=True)


@pytest.fixture(scope="module")
def big() -> Any:
    """A simulator with no practical rate limit, shared by the read-only checks; its clock is
    moved past a session's close so that nothing moves between two calls of a test."""
    with Simulator(rate=10**6) as s:
        advance_to(s, 16, 0)
        yield s


@pytest.fixture(scope="module")
def client(big: Simulator) -> RawClient:
    return RawClient.of(big, reissue=True)


# -- quotes ------------------------------------------------------------------------------

PRICE_FIELDS = [
    "stck_prpr",
    "prdy_vrss",
    "prdy_vrss_sign",
    "prdy_ctrt",
    "acml_vol",
    "acml_tr_pbmn",
    "stck_oprc",
    "stck_hgpr",
    "stck_lwpr",
    "stck_mxpr",
    "stck_llam",
    "stck_sdpr",
    "per",
    "pbr",
    "eps",
    "bps",
    "hts_avls",
    "lstn_stcn",
    "hts_frgn_ehrt",
    "w52_hgpr",
    "w52_lwpr",
    "w52_hgpr_date",
    "w52_lwpr_date",
    "d250_hgpr",
    "d250_lwpr",
    "vol_tnrt",
    "aspr_unit",
    "bstp_kor_isnm",
    "iscd_stat_cls_code",
    "temp_stop_yn",
]


def test_inquire_price(client: RawClient) -> None:
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


def test_halted_and_admin_symbols_are_flagged(client: RawClient) -> None:
    universe = domestic()
    halted = next(s for s in universe.values() if s.halted)
    admin = next(s for s in universe.values() if s.admin)
    out = client.ok(PRICE, "FHKST01010100", sym(halted.code))["output"]
    assert out["temp_stop_yn"] == "Y" and out["iscd_stat_cls_code"] == "58"
    assert out["acml_vol"] == "0" and out["prdy_vrss"] == "0"
    out = client.ok(PRICE, "FHKST01010100", sym(admin.code))["output"]
    assert out["iscd_stat_cls_code"] == "51"


def test_unknown_symbol_and_bad_parameters(client: RawClient) -> None:
    r = client.get(PRICE, "FHKST01010100", sym("999999"))  # unknown: a success, price "0"
    assert r.status_code == 200 and r.json()["rt_cd"] == "0"
    out = r.json()["output"]
    assert out["stck_prpr"] == "0" and out["acml_vol"] == "0" and out["bstp_kor_isnm"] == ""
    r = client.get(CHART, "FHKST03010100", chart("999999", "20240101", "20240301", "D"))
    assert r.json()["rt_cd"] == "0" and r.json()["output1"]["stck_prpr"] == "0"
    assert r.json()["output2"] == []
    r = client.get(PRICE, "FHKST01010100", {"FID_INPUT_ISCD": "005930"})
    assert r.json()["msg_cd"] == "OPSQ2001" and r.json()["rt_cd"] == "2"
    r = client.get(
        PRICE, "FHKST01010100", {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "005930"}
    )  # lower-case names, as mojito2 sends them: KIS answers them
    assert r.json()["rt_cd"] == "0" and r.json()["output"]["stck_shrn_iscd"] == "005930"
    r = client.get(CHART, "FHKST03010100", chart("005930", "20240101", "20240301", "Q"))
    assert r.json()["msg1"] == "ERROR : INPUT INVALID_CHECK_FID_PERIOD_DIV_CODE"
    r = client.get(OV_PRICE, "HHDFS00000300", {"AUTH": "", "EXCD": "NAS", "SYMB": "NOPE"})
    assert r.json()["rt_cd"] == "0" and r.json()["output"]["last"] == ""
    assert r.json()["output"]["rsym"] == ""


def test_multi_price_30_symbols(client: RawClient) -> None:
    codes = sorted(domestic())[:29]
    params: dict[str, str] = {}
    for n, code in enumerate([*codes[:10], "999999", *codes[10:]], start=1):
        params[f"FID_COND_MRKT_DIV_CODE_{n}"] = "J"
        params[f"FID_INPUT_ISCD_{n}"] = code
    rows = client.ok(MULTI, "FHKST11300006", params)["output"]
    assert [r["inter_shrn_iscd"] for r in rows] == codes  # the unknown one is just missing
    fields = [
        "inter_kor_isnm",
        "inter2_prpr",
        "inter2_prdy_vrss",
        "prdy_vrss_sign",
        "prdy_ctrt",
        "acml_vol",
        "inter2_oprc",
        "inter2_hgpr",
        "inter2_lwpr",
        "inter2_askp",
        "inter2_bidp",
        "inter2_prdy_clpr",
        "inter2_sdpr",
        "total_askp_rsqn",
        "total_bidp_rsqn",
    ]
    assert all(set(fields) <= set(r) for r in rows)
    single = client.ok(PRICE, "FHKST01010100", sym(codes[3]))["output"]
    assert rows[3]["inter2_prpr"] == single["stck_prpr"]
    params["FID_COND_MRKT_DIV_CODE_31"] = "J"
    params["FID_INPUT_ISCD_31"] = codes[0]
    r = client.get(MULTI, "FHKST11300006", params)
    assert r.status_code == 500 and r.json()["msg_cd"] == "OPSQ2001"


def test_order_book_is_on_the_tick_grid(client: RawClient) -> None:
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


def test_stock_info_and_etf(client: RawClient) -> None:
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
    assert client.get(ETF, "FHPST02400000", sym("005930")).json()["rt_cd"] == "1"


# -- bars --------------------------------------------------------------------------------


def dates(rows: list[dict[str, str]], key: str = "stck_bsop_date") -> list[str]:
    return [r[key] for r in rows]


def test_daily_chart_caps_order_range_and_trading_days(client: RawClient) -> None:
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


def test_daily_chart_adjusted_and_raw_differ_across_a_split(client: RawClient) -> None:
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
def test_period_bars(client: RawClient, period: str, most: int) -> None:
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


def test_daily_price_is_last_30(client: RawClient) -> None:
    rows = client.ok(
        DAILY, "FHKST01010400", sym("035720", FID_PERIOD_DIV_CODE="D", FID_ORG_ADJ_PRC="0")
    )["output"]
    assert len(rows) == 30 and dates(rows) == sorted(dates(rows), reverse=True)
    quote = client.ok(PRICE, "FHKST01010100", sym("035720"))["output"]
    assert rows[0]["stck_clpr"] == quote["stck_prpr"]
    for field in ("stck_oprc", "stck_hgpr", "stck_lwpr", "acml_vol", "prdy_vrss", "prdy_ctrt"):
        assert field in rows[0]


def test_today_minute_bars_agree_with_the_quote_during_the_session(
    sim: Simulator, raw: RawClient
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


def test_today_minute_bars_before_the_open_are_the_last_sessions(
    sim: Simulator, raw: RawClient
) -> None:
    """mojito2 asks with the hour on the caller's clock, then pages back by the hours it got:
    at 07:30 (or on a weekend) the bars are the last session's, an hour before the open
    meaning its close."""
    at = advance_to(sim, 7, 30)
    chart_rows = raw.ok(CHART, "FHKST03010100", chart("005930", "20000101", "20991231"))
    last_session = chart_rows["output2"][0]["stck_bsop_date"]
    assert last_session < at.strftime("%Y%m%d")
    for hour in ("073000", "153000", "000000"):
        rows = raw.ok(MINUTES, "FHKST03010200", today_minutes("005930", hour))["output2"]
        assert len(rows) == 30, hour
        assert rows[0]["stck_cntg_hour"] == "153000"
        assert {r["stck_bsop_date"] for r in rows} == {last_session}
    rows = raw.ok(MINUTES, "FHKST03010200", today_minutes("005930", "120000"))["output2"]
    assert (rows[0]["stck_cntg_hour"], rows[-1]["stck_cntg_hour"]) == ("120000", "113100")


def test_investor_rows_and_todays_empty_row(sim: Simulator, raw: RawClient) -> None:
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


def test_past_minute_bars(client: RawClient, big: Simulator) -> None:
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


def test_overseas_price_and_daily_paging(client: RawClient) -> None:
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


# -- determinism, universe, master files -------------------------------------------------


def test_same_seed_same_data_other_seed_other_data(client: RawClient) -> None:
    params = chart("051910", "20230101", "20230601")
    with Simulator(rate=100) as a, Simulator(rate=100, seed=7) as b:
        same = RawClient.of(a, reissue=True).ok(CHART, "FHKST03010100", params)["output2"]
        other = RawClient.of(b, reissue=True).ok(CHART, "FHKST03010100", params)["output2"]
    mine = client.ok(CHART, "FHKST03010100", params)["output2"]
    assert same == mine and other != mine
    narrow = client.ok(CHART, "FHKST03010100", chart("051910", "20230301", "20230310"))["output2"]
    assert all(r in mine for r in narrow)  # a bar does not depend on the range asked for


SEARCH_INFO = Q + "search-info"
OV_DETAIL = "/uapi/overseas-price/v1/quotations/price-detail"
# what python-kis 2.1.6 reads from each (docs/peer-clients.md 1.1), plus korea-investment-
# stock's prdt_clsf_name and rsym
INFO_READ = ["shtn_pdno", "std_pdno", "prdt_abrv_name", "prdt_name120", "prdt_eng_abrv_name",
             "prdt_eng_name120", "prdt_type_cd", "prdt_clsf_name"]  # fmt: skip
DETAIL_READ = ["rsym", "last", "e_icod", "tvol", "tamt", "tomv", "t_xsgn", "e_ordyn", "base",
               "pvol", "open", "high", "low", "uplp", "dnlp", "vnit", "e_hogau", "zdiv", "t_rate",
               "epsx", "bpsx", "perx", "pbrx", "h52p", "l52p", "h52d", "l52d"]  # fmt: skip


def test_product_basics_by_product_type(client: RawClient) -> None:
    out = client.ok(SEARCH_INFO, "CTPF1604R", {"PDNO": "005930", "PRDT_TYPE_CD": "300"})["output"]
    assert set(INFO_READ) <= set(out) and out["shtn_pdno"] == "005930"
    assert out["std_pdno"].startswith("KR7005930") and out["prdt_clsf_name"] == "주권"
    us = client.ok(SEARCH_INFO, "CTPF1604R", {"PDNO": "AAPL", "PRDT_TYPE_CD": "512"})["output"]
    assert us["prdt_type_cd"] == "512" and us["prdt_eng_name"] == "Apple"
    for params in (
        {"PDNO": "AAPL", "PRDT_TYPE_CD": "513"},
        {"PDNO": "999999", "PRDT_TYPE_CD": "300"},
    ):
        r = client.get(SEARCH_INFO, "CTPF1604R", params)  # not of this type: rt_cd 7, HTTP 200
        assert r.status_code == 200 and r.json()["rt_cd"] == "7"
    r = client.get(SEARCH_INFO, "CTPF1604R", {"PDNO": "005930", "PRDT_TYPE_CD": "999"})
    assert r.json()["msg1"] == "ERROR : INPUT INVALID_CHECK_PRDT_TYPE_CD"


def test_overseas_price_detail_agrees_with_the_price(client: RawClient) -> None:
    q = {"AUTH": "", "EXCD": "NAS", "SYMB": "AAPL"}
    out = client.ok(OV_DETAIL, "HHDFS76200200", q)["output"]
    price = client.ok(OV_PRICE, "HHDFS00000300", q)["output"]
    assert set(DETAIL_READ) <= set(out)
    assert out["last"] == price["last"] and out["base"] == price["base"]
    assert float(out["l52p"]) <= float(out["low"]) <= float(out["high"]) <= float(out["h52p"])
    blank = client.ok(OV_DETAIL, "HHDFS76200200", {**q, "SYMB": "NOPE"})["output"]
    assert blank["last"] == blank["rsym"] == "" and set(blank) == set(out)


def test_the_defaults_peer_clients_send_mean_from_the_start_and_the_latest(
    client: RawClient,
) -> None:
    # python-kis: FID_INPUT_DATE_1 00000101 and HOUR 000000; korea-investment-stock: blanks
    for start, end in (("00000101", ""), ("", "")):
        rows = client.ok(CHART, "FHKST03010100", chart("005930", start, end))["output2"]
        newest = client.ok(CHART, "FHKST03010100", chart("005930", "20000101", "99991231"))
        assert len(rows) == 100 and rows[0] == newest["output2"][0]
    today = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930", "FID_ETC_CLS_CODE": "",
             "FID_PW_DATA_INCU_YN": "N"}  # fmt: skip
    latest = client.ok(MINUTES, "FHKST03010200",
                       {**today, "FID_INPUT_HOUR_1": "235959"})["output2"]  # fmt: skip
    for hour in ("000000", ""):
        got = client.ok(MINUTES, "FHKST03010200",
                        {**today, "FID_INPUT_HOUR_1": hour})["output2"]  # fmt: skip
        assert got == latest
