"""The REST endpoints: path -> TR ids per profile -> handler, and parameter validation.

A handler gets a :class:`Ctx` and returns the body's outputs (``output`` or ``output1`` +
``output2``, plus any top-level extras such as the balance's context areas) and the response
``tr_cont``; it raises :class:`KisError` for an error body.

Error bodies chosen here (HTTP 500, KIS shape; codes from the facts file, the official error
table in kis-ai-extensions, or public fixtures -- none of them confirmed against the live API):

========================================  ========  ====================================
case                                      msg_cd    msg1
========================================  ========  ====================================
tr_id not the one of this path            OPSQ0002  없는 서비스 코드 입니다
no tr_id header                           OPSQ9999  tr_id 없음
real-only TR (or a real TR id) on paper   EGW00213  모의투자 TR 이 아닙니다.
missing / invalid query parameter         OPSQ2001  ERROR : INPUT INVALID_CHECK_<PARAM>
                                                    (rt_cd "2", as observed for TTTC8434R)
wrong account number (CANO/ACNT_PRDT_CD)  OPSQ2000  ERROR : INPUT INVALID_CHECK_ACNO
unknown symbol (order book, investors,    APBK0013  조회 가능한 데이터가 없습니다
30-day prices, ETF price)
========================================  ========  ====================================

An unknown (or not yet listed) symbol is not an error on the quote and chart TRs: HTTP 200,
``rt_cd`` 0, numeric fields ``"0"`` (``stck_prpr`` "0": python-kis 2.1.6 reads exactly that as
"not found", in its quote, daily chart and minute chart) and no rows; overseas, empty strings
(``last`` "", ``rsym`` "": python-kis and korea-investment-stock; python-kis issue #47).
Product search (CTPF1604R, CTPF1002R) answers ``rt_cd`` 7 "조회할 자료가 없습니다", HTTP 200
(both clients move to the next product type on it; the ``msg_cd`` KIOK0560 is ours).

An unknown path answers HTTP 404 with ``MCA00124`` "해당 서비스를 찾을수 없습니다.".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from . import charts, overseas, quotes
from .account import BALANCE_PARAMS, Account, balance_page, context, parse_position
from .listings import Symbol, foreign
from .market import Market
from .quotes import Fundamentals
from .rules import App
from .timebase import SESSION_MINUTES, Session, parse_hms, parse_ymd

Body = dict[str, Any]
OK_MSG = ("MCA00000", "정상처리 되었습니다.")
MULTI_MAX = 30
DOMESTIC = "/uapi/domestic-stock/v1/quotations/"


class KisError(Exception):
    """An error answer in KIS's body shape."""

    def __init__(self, msg_cd: str, msg1: str, *, status: int = 500, rt_cd: str = "1") -> None:
        super().__init__(f"{msg_cd} {msg1}")
        self.msg_cd, self.msg1, self.status, self.rt_cd = msg_cd, msg1, status, rt_cd

    def body(self) -> Body:
        return {"rt_cd": self.rt_cd, "msg_cd": self.msg_cd, "msg1": self.msg1}


def invalid(param: str) -> KisError:
    return KisError("OPSQ2001", f"ERROR : INPUT INVALID_CHECK_{param}", rt_cd="2")


def unknown_symbol() -> KisError:
    return KisError("APBK0013", "조회 가능한 데이터가 없습니다")


@dataclass(frozen=True)
class Ctx:
    params: Mapping[str, str]
    tr_cont: str
    app: App
    account: Account | None
    market: Market
    session: Session

    def need(self, name: str, allowed: tuple[str, ...] | None = None) -> str:
        if name not in self.params:
            raise invalid(name)
        value = self.params[name].strip()
        if allowed is not None and value not in allowed:
            raise invalid(name)
        return value

    def symbol(
        self,
        name: str = "FID_INPUT_ISCD",
        market: str = "FID_COND_MRKT_DIV_CODE",
        markets: tuple[str, ...] = ("J", "NX", "UN"),
    ) -> Symbol:
        sym = self.known(name, market, markets)
        if sym is None:
            raise unknown_symbol()
        return sym

    def known(
        self,
        name: str = "FID_INPUT_ISCD",
        market: str = "FID_COND_MRKT_DIV_CODE",
        markets: tuple[str, ...] = ("J", "NX", "UN"),
    ) -> Symbol | None:
        """The symbol asked for, None if the market does not list it (yet)."""
        self.need(market, markets)
        code = self.need(name)
        if not code:
            raise invalid(name)
        sym = self.market.symbols.get(code)
        return None if sym is None or sym.listed > self.session.day else sym

    def date(self, name: str, blank: date | None = None) -> date:
        """A ``YYYYMMDD`` parameter; with ``blank``, an empty one means that day and year 0000
        (python-kis sends ``00000101`` for "from the start") the earliest day."""
        text = self.need(name)
        if blank is not None and (not text or (text.isdigit() and text[:4] == "0000")):
            return blank if text == "" else date.min
        day = parse_ymd(text)
        if day is None:
            raise invalid(name)
        return day

    def hour(self, name: str = "FID_INPUT_HOUR_1") -> int:
        """An ``HHMMSS`` parameter in seconds; empty or ``000000`` (what korea-investment-stock
        and python-kis send for "the latest") is the end of the day."""
        text = self.need(name)
        if text.strip("0") == "":
            return 24 * 3600 - 1
        hour = parse_hms(text)
        if hour is None:
            raise invalid(name)
        return hour


Result = tuple[Body, str]


def _snap(ctx: Ctx, sym: Symbol) -> Any:
    snap = ctx.market.snapshot(sym.code, ctx.session)
    if snap is None:
        raise unknown_symbol()
    return snap


def _zeros(row: Mapping[str, str]) -> dict[str, str]:
    """``row``'s fields as an unknown symbol gets them: numbers "0", text blank."""
    return {k: "0" if _number(v) else "" for k, v in row.items()}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _anyone(ctx: Ctx) -> Any:
    """A snapshot of the first listed symbol: the field layout of an answer."""
    return _snap(ctx, next(iter(ctx.market.symbols.values())))


def inquire_price(ctx: Ctx) -> Result:
    sym = ctx.known()
    if sym is None:
        return {"output": _zeros(quotes.price_output(ctx.market, _anyone(ctx)))}, ""
    out = quotes.price_output(ctx.market, _snap(ctx, sym))
    if quotes.incomplete(sym.code):  # a documented field KIS leaves out now and then
        del out["bstp_kor_isnm"]
    return {"output": out}, ""


def multi_price(ctx: Ctx) -> Result:
    rows = []
    used = [k for k in ctx.params if k.startswith(("FID_INPUT_ISCD_", "FID_COND_MRKT_DIV_CODE_"))]
    for key in used:
        suffix = key.rsplit("_", 1)[1]
        if not suffix.isdigit() or not 1 <= int(suffix) <= MULTI_MAX:
            raise invalid(key)
    numbers = sorted({int(k.rsplit("_", 1)[1]) for k in used})
    if not numbers:
        raise invalid("FID_INPUT_ISCD_1")
    for n in numbers:
        ctx.need(f"FID_COND_MRKT_DIV_CODE_{n}", ("J", "NX", "UN"))
        code = ctx.need(f"FID_INPUT_ISCD_{n}")
        snap = ctx.market.snapshot(code, ctx.session)
        if snap is not None:  # unknown codes are simply missing from the output
            rows.append(quotes.multi_price_row(ctx.market, snap))
    return {"output": rows}, ""


def daily_itemchart(ctx: Ctx) -> Result:
    sym = ctx.known()
    today = ctx.session.day
    start, end = ctx.date("FID_INPUT_DATE_1", date.min), ctx.date("FID_INPUT_DATE_2", today)
    period = ctx.need("FID_PERIOD_DIV_CODE", ("D", "W", "M", "Y"))
    adjusted = ctx.need("FID_ORG_ADJ_PRC", ("0", "1")) == "0"
    if sym is None:
        return {"output1": _zeros(charts.chart_summary(ctx.market, _anyone(ctx))),
                "output2": []}, ""  # fmt: skip
    snap = _snap(ctx, sym)
    bars = charts.period_bars(
        ctx.market, ctx.session, sym.code, start, end, period, adjusted, charts.MAX_PERIOD_ROWS
    )
    return {
        "output1": charts.chart_summary(ctx.market, snap),
        "output2": [charts.period_row(b, adjusted) for b in bars],
    }, ""


def daily_price(ctx: Ctx) -> Result:
    sym = ctx.symbol()
    period = ctx.need("FID_PERIOD_DIV_CODE", ("D", "W", "M"))
    adjusted = ctx.need("FID_ORG_ADJ_PRC", ("0", "1")) == "0"
    session = ctx.session
    bars = charts.period_bars(
        ctx.market,
        session,
        sym.code,
        sym.listed,
        session.day,
        period,
        adjusted,
        charts.DAILY_PRICE_ROWS + 1,
    )
    fund = Fundamentals.of(sym)
    rows = [
        charts.daily_price_row(b, bars[i + 1].volume if i + 1 < len(bars) else 0, fund.foreign_pct)
        for i, b in enumerate(bars[: charts.DAILY_PRICE_ROWS])
    ]
    return {"output": rows}, ""


def today_minutes(ctx: Ctx) -> Result:
    sym = ctx.known()
    hour = ctx.hour()
    ctx.need("FID_ETC_CLS_CODE")
    ctx.need("FID_PW_DATA_INCU_YN", ("Y", "N"))
    if sym is None:
        return {"output1": _zeros(charts.minute_summary(_anyone(ctx))), "output2": []}, ""
    snap = _snap(ctx, sym)
    last = hour // 60 - 9 * 60
    if last < 0 and ctx.session.day != ctx.session.now.date():
        # before today's session (a night, a weekend) the bars are the last session's; an
        # hour before any open (mojito2 sends the caller's clock, 05:15) is after its close
        last = SESSION_MINUTES - 1
    rows = charts.minute_rows(ctx.market, ctx.session, snap, last, charts.TODAY_MINUTE_ROWS)
    return {"output1": charts.minute_summary(snap), "output2": rows}, ""


def past_minutes(ctx: Ctx) -> Result:
    sym = ctx.known()
    day = ctx.date("FID_INPUT_DATE_1")
    hour = ctx.hour()
    ctx.need("FID_PW_DATA_INCU_YN", ("Y", "N"))
    if sym is None:
        return {"output1": _zeros(charts.minute_summary(_anyone(ctx))), "output2": []}, ""
    snap = _snap(ctx, sym)
    rows: list[dict[str, str]] = []
    past = ctx.market.snapshot(sym.code, ctx.session, day)
    if past is not None and past.day == day and day > ctx.session.day - timedelta(days=365):
        rows = charts.minute_rows(
            ctx.market, ctx.session, past, hour // 60 - 9 * 60, charts.PAST_MINUTE_ROWS
        )
    return {"output1": charts.minute_summary(snap), "output2": rows}, ""


def asking_price(ctx: Ctx) -> Result:
    snap = _snap(ctx, ctx.symbol())
    out1, out2 = quotes.asking_price(ctx.market, snap)
    return {"output1": out1, "output2": out2}, ""


def investor(ctx: Ctx) -> Result:
    sym = ctx.symbol()
    return {"output": quotes.investor_rows(ctx.market, ctx.session, sym.code)}, ""


def stock_info(ctx: Ctx) -> Result:
    ctx.need("PRDT_TYPE_CD", ("300",))
    code = ctx.need("PDNO")
    sym = ctx.market.symbols.get(code)
    if sym is None:
        raise no_data()
    return {"output": quotes.stock_info(ctx.market, ctx.session, sym)}, ""


# PRDT_TYPE_CD of search-info for the exchanges the simulator lists (KIS's sample lists them)
PRODUCT_TYPES = {"300": None, "512": "NAS", "513": "NYS", "529": "AMS", "501": "HKS", "515": "TSE"}


def no_data() -> KisError:
    """What product search answers for a product it does not have: HTTP 200, ``rt_cd`` 7
    (python-kis and korea-investment-stock move to the next product type on exactly that)."""
    return KisError("KIOK0560", "조회할 자료가 없습니다", status=200, rt_cd="7")


def search_info(ctx: Ctx) -> Result:
    """Product basics (CTPF1604R): one product type at a time, ``rt_cd`` 7 if not of it."""
    kind = ctx.need("PRDT_TYPE_CD")
    if kind not in PRODUCT_TYPES:
        raise invalid("PRDT_TYPE_CD")
    code = ctx.need("PDNO")
    excd = PRODUCT_TYPES[kind]
    if excd is None:
        sym = ctx.market.symbols.get(code)
        if sym is None or sym.listed > ctx.session.day:
            raise no_data()
        return {"output": quotes.search_info(sym)}, ""
    ticker = foreign().get((excd, code))
    if ticker is None:
        raise no_data()
    return {"output": overseas.search_info(ticker, kind)}, ""


def etf_price(ctx: Ctx) -> Result:
    sym = ctx.symbol(markets=("J",))
    if not sym.is_etf:
        raise unknown_symbol()
    return {"output": quotes.etf_price(ctx.market, _snap(ctx, sym))}, ""


def _foreign(ctx: Ctx) -> tuple[Any, date, bool]:
    """The ticker's daily series and its last complete day; ``known`` False (and a stand-in
    ticker's series, for the field layout) if the exchange does not list it."""
    ctx.need("AUTH")
    excd = ctx.need("EXCD")
    if excd not in {e for e, _ in foreign()}:
        raise invalid("EXCD")
    ticker = foreign().get((excd, ctx.need("SYMB")))
    known = ticker is not None
    ticker = ticker or next(iter(foreign().values()))
    now = ctx.session.now
    fd = ctx.market.foreign_daily(ticker, now.year)
    return fd, overseas.last_complete_day(ticker, now), known


def _blank(row: Mapping[str, str], known: bool) -> dict[str, str]:
    return dict(row) if known else dict.fromkeys(row, "")


def overseas_price(ctx: Ctx) -> Result:
    fd, day, known = _foreign(ctx)
    return {"output": _blank(overseas.price_output(fd, day), known)}, ""


def overseas_detail(ctx: Ctx) -> Result:
    fd, day, known = _foreign(ctx)
    return {"output": _blank(overseas.price_detail_output(fd, day), known)}, ""


def overseas_daily(ctx: Ctx) -> Result:
    fd, last, known = _foreign(ctx)
    gubn = ctx.need("GUBN", ("0", "1", "2"))
    ctx.need("MODP", ("0", "1"))
    bymd = ctx.need("BYMD")
    end = last
    if bymd:
        day = parse_ymd(bymd)
        if day is None:
            raise invalid("BYMD")
        end = min(day, last)
    rows = overseas.daily_rows(fd, end, gubn) if known else []
    t = fd.ticker
    head = {"rsym": f"D{t.excd}{t.symb}", "zdiv": str(t.decimals), "nrec": str(len(rows))}
    return {"output1": _blank(head, known), "output2": rows}, ""


def balance(ctx: Ctx) -> Result:
    for name in BALANCE_PARAMS:
        if not name.startswith("CTX_AREA_"):  # a first page may leave them out
            ctx.need(name)
    acct = ctx.account
    cano, product = ctx.need("CANO"), ctx.need("ACNT_PRDT_CD")
    if acct is None or cano != acct.cano or product != acct.product:
        raise KisError("OPSQ2000", "ERROR : INPUT INVALID_CHECK_ACNO")
    ctx.need("AFHR_FLPR_YN", ("N", "Y", "X"))
    ctx.need("INQR_DVSN", ("01",))  # 02 refused since 2026-02-10 (python-kis PR #82)
    ctx.need("UNPR_DVSN", ("01",))
    ctx.need("FUND_STTL_ICLD_YN", ("N", "Y"))
    ctx.need("FNCG_AMT_AUTO_RDPT_YN", ("N", "Y"))
    ctx.need("PRCS_DVSN", ("00", "01"))
    start = 0
    nk = ctx.params.get("CTX_AREA_NK100", "").strip()
    if nk:  # continues with or without tr_cont N (mojito2 0.1.6 never sends it)
        pos = parse_position(acct, nk)
        if pos is None:
            raise invalid("CTX_AREA_NK100")
        start = pos
    rows, summary, nxt = balance_page(ctx.market, ctx.session, acct, ctx.app.profile, start)
    fk, nk_next = context(acct, dict(ctx.params), nxt)
    tr_cont = "D" if nxt is None else "M"  # KIS: F or M, more follows; mojito2 pages on M only
    paper = ctx.app.profile == "paper"
    msg = (
        ("20310000", "모의투자 조회가 완료되었습니다.")
        if paper
        else ("KIOK0510", "조회가 완료되었습니다")
    )
    return {
        "ctx_area_fk100": fk,
        "ctx_area_nk100": nk_next,
        "output1": rows,
        "output2": [summary],
        "_msg": (msg[0], msg[1].ljust(80)),
    }, tr_cont


@dataclass(frozen=True)
class Endpoint:
    path: str
    real: str | None  # TR id on the real profile
    paper: str | None  # TR id on the paper profile (None = real only)
    handler: Callable[[Ctx], Result]

    def tr_id(self, profile: str) -> str | None:
        return self.real if profile == "real" else self.paper


_ENDPOINTS = (
    Endpoint(DOMESTIC + "inquire-price", "FHKST01010100", "FHKST01010100", inquire_price),
    Endpoint(DOMESTIC + "intstock-multprice", "FHKST11300006", "FHKST11300006", multi_price),
    Endpoint(
        DOMESTIC + "inquire-daily-itemchartprice", "FHKST03010100", "FHKST03010100", daily_itemchart
    ),
    Endpoint(DOMESTIC + "inquire-daily-price", "FHKST01010400", "FHKST01010400", daily_price),
    Endpoint(
        DOMESTIC + "inquire-time-itemchartprice", "FHKST03010200", "FHKST03010200", today_minutes
    ),
    Endpoint(DOMESTIC + "inquire-time-dailychartprice", "FHKST03010230", None, past_minutes),
    Endpoint(
        DOMESTIC + "inquire-asking-price-exp-ccn", "FHKST01010200", "FHKST01010200", asking_price
    ),
    Endpoint(DOMESTIC + "inquire-investor", "FHKST01010900", "FHKST01010900", investor),
    Endpoint(DOMESTIC + "search-stock-info", "CTPF1002R", None, stock_info),
    Endpoint(DOMESTIC + "search-info", "CTPF1604R", None, search_info),
    Endpoint("/uapi/etfetn/v1/quotations/inquire-price", "FHPST02400000", None, etf_price),
    Endpoint(
        "/uapi/overseas-price/v1/quotations/price", "HHDFS00000300", "HHDFS00000300", overseas_price
    ),
    Endpoint(
        "/uapi/overseas-price/v1/quotations/price-detail", "HHDFS76200200", None, overseas_detail
    ),
    Endpoint(
        "/uapi/overseas-price/v1/quotations/dailyprice",
        "HHDFS76240000",
        "HHDFS76240000",
        overseas_daily,
    ),
    Endpoint("/uapi/domestic-stock/v1/trading/inquire-balance", "TTTC8434R", "VTTC8434R", balance),
)
ROUTES: dict[str, Endpoint] = {e.path: e for e in _ENDPOINTS}
SUCCESS_MSG = {"search-stock-info": ("KIOK0530", "조회되었습니다".ljust(80))}


def dispatch(ep: Endpoint, tr_id: str, ctx: Ctx) -> tuple[int, Body, str]:
    """Check the TR id against the path and the key's profile, run the handler; returns
    (HTTP status, body, response tr_cont)."""
    try:
        if not tr_id:
            raise KisError("OPSQ9999", "tr_id 없음")
        expected = ep.tr_id(ctx.app.profile)
        if tr_id != expected:
            if ctx.app.profile == "paper" and tr_id in (ep.real, ep.paper):
                raise KisError("EGW00213", "모의투자 TR 이 아닙니다.")
            raise KisError("OPSQ0002", "없는 서비스 코드 입니다")
        outputs, tr_cont = ep.handler(ctx)
    except KisError as err:
        return err.status, err.body(), ""
    msg_cd, msg1 = outputs.pop("_msg", None) or SUCCESS_MSG.get(ep.path.rsplit("/", 1)[1], OK_MSG)
    return 200, {"rt_cd": "0", "msg_cd": msg_cd, "msg1": msg1, **outputs}, tr_cont


def not_found() -> tuple[int, Body]:
    return 404, {"rt_cd": "1", "msg_cd": "MCA00124", "msg1": "해당 서비스를 찾을수 없습니다."}
