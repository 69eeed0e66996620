"""KIS endpoints as data: path, TR id (real and paper), rows per call, cache policy, paging.

A spec knows nothing about HTTP; :meth:`Endpoint.request` turns it and a parameter dict into
a :class:`~kisresearch.pipeline.transport.Request`. Paper TR ids follow KIS's rule: a leading
T, J or C becomes V (TTTC8434R -> VTTC8434R); quotation TR ids (FHK..., FHP..., HHD...) are the
same on both domains.

Below the specs: the query parameters each method sends (``*_params``) and the paging rules
(``next_*``), all pure. Paging (``kis-api-facts.md`` §4, §6):

- period bars (FHKST03010100, HHDFS76240000) are capped at 100 rows, newest first, and are
  paged by moving the end date back: the next chunk ends the day before the *period* of the
  oldest bar returned. For daily bars that is "oldest - 1 day" as KIS documents; for weekly,
  monthly and yearly bars it is the day before that week/month/year began, so a period is never
  split across two chunks;
- 1-min bars (FHKST03010200: 30 rows, FHKST03010230: 120 rows) are paged by moving
  ``FID_INPUT_HOUR_1`` to the minute before the oldest bar returned;
- the balance (TTTC8434R) is paged by KIS's ``tr_cont`` / ``ctx_area_*`` continuation.

A short page (fewer rows than the cap) is the last one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ..errors import ConfigError
from ..pipeline.transport import Request

QUOTATIONS = "/uapi/domestic-stock/v1/quotations"
SESSION_OPEN = time(9, 0)
SESSION_CLOSE = time(15, 30)


def paper_tr_id(tr_id: str) -> str:
    return "V" + tr_id[1:] if tr_id[:1] in ("T", "J", "C") else tr_id


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    tr_id: str
    cache: str  # a policy name from kisresearch.pipeline.cache.POLICIES
    rows: int | None = None  # most rows one call returns
    real_only: bool = False
    rows_key: str | None = None  # the body part holding the rows; pages append to it only
    # (part, field) that is "0" or blank when KIS has no such symbol: it answers rt_cd 0
    absent: tuple[str, str] | None = None
    account: bool = False  # about the client's account: sent with that account's app key

    def missing(self, body: Mapping[str, Any]) -> str | None:
        """Why ``body`` (a success) says the symbol does not exist, or None."""
        if self.absent is None:
            return None
        part, name = self.absent
        got = body.get(part)
        value = got.get(name) if isinstance(got, Mapping) else None
        if value is None or str(value).strip() not in ("", "0"):
            return None
        return f"KIS has no such symbol ({part}.{name} is {value!r})"

    def tr_id_for(self, env: str) -> str:
        return paper_tr_id(self.tr_id) if env == "paper" else self.tr_id

    def request(self, env: str, params: Mapping[str, str], *, tr_cont: str = "") -> Request:
        if self.real_only and env == "paper":
            raise ConfigError(f"{self.name} ({self.tr_id}) is not offered on paper accounts")
        return Request(
            self.path, self.tr_id_for(env), dict(params), tr_cont=tr_cont, endpoint=self.name
        )

    def check_env(self, env: str, what: str) -> None:
        """Raise before any request if this endpoint does not exist on ``env``."""
        if self.real_only and env == "paper":
            raise ConfigError(
                f"{what} needs a real account: {self.tr_id} is not offered on "
                "paper (모의투자 미지원)"
            )


QUOTE = Endpoint(
    "quote", f"{QUOTATIONS}/inquire-price", "FHKST01010100", "quote",
    absent=("output", "stck_prpr"),
)  # fmt: skip
MULTIQUOTE = Endpoint(
    "multiquote", f"{QUOTATIONS}/intstock-multprice", "FHKST11300006", "quote", rows=30
)
DAILY = Endpoint(
    "daily",
    f"{QUOTATIONS}/inquire-daily-itemchartprice",
    "FHKST03010100",
    "daily",
    rows=100,
    rows_key="output2",
    absent=("output1", "stck_prpr"),
)
MINUTE = Endpoint(
    "minute",
    f"{QUOTATIONS}/inquire-time-itemchartprice",
    "FHKST03010200",
    "intraday",
    rows=30,
    rows_key="output2",
    absent=("output1", "stck_prpr"),
)
MINUTE_PAST = Endpoint(
    "minute_past",
    f"{QUOTATIONS}/inquire-time-dailychartprice",
    "FHKST03010230",
    "intraday",
    rows=120,
    real_only=True,
    rows_key="output2",
    absent=("output1", "stck_prpr"),
)
ORDERBOOK = Endpoint(
    "orderbook", f"{QUOTATIONS}/inquire-asking-price-exp-ccn", "FHKST01010200", "quote"
)
INVESTORS = Endpoint(
    "investors", f"{QUOTATIONS}/inquire-investor", "FHKST01010900", "daily", rows_key="output"
)
INFO = Endpoint("info", f"{QUOTATIONS}/search-stock-info", "CTPF1002R", "day", real_only=True)
ETF = Endpoint(
    "etf", "/uapi/etfetn/v1/quotations/inquire-price", "FHPST02400000", "quote", real_only=True
)
OVERSEAS_QUOTE = Endpoint(
    "overseas_quote", "/uapi/overseas-price/v1/quotations/price", "HHDFS00000300",
    "overseas_quote", absent=("output", "last"),
)  # fmt: skip
OVERSEAS_DAILY = Endpoint(
    "overseas_daily",
    "/uapi/overseas-price/v1/quotations/dailyprice",
    "HHDFS76240000",
    "daily",
    rows=100,
    rows_key="output2",
    absent=("output1", "rsym"),
)
BALANCE = Endpoint(
    "balance",
    "/uapi/domestic-stock/v1/trading/inquire-balance",
    "TTTC8434R",
    "never",
    rows=50,
    rows_key="output1",
    account=True,
)

ALL = {
    e.name: e
    for e in (
        QUOTE,
        MULTIQUOTE,
        DAILY,
        MINUTE,
        MINUTE_PAST,
        ORDERBOOK,
        INVESTORS,
        INFO,
        ETF,
        OVERSEAS_QUOTE,
        OVERSEAS_DAILY,
        BALANCE,
    )
}

INTERVALS = ("D", "W", "M", "Y")  # FID_PERIOD_DIV_CODE
OVERSEAS_INTERVALS = {"D": "0", "W": "1", "M": "2"}  # GUBN
EXCHANGES = ("NAS", "NYS", "AMS", "BAQ", "BAY", "BAA", "HKS", "TSE", "SHS", "SZS", "HSX", "HNX")
MARKETS = ("J", "NX", "UN")  # FID_COND_MRKT_DIV_CODE: KRX, NXT, both


def ymd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"  # strftime does not pad year 1


def hms(t: time) -> str:
    return t.strftime("%H%M%S")


# --- query parameters -------------------------------------------------------------------------


def daily_params(
    code: str, start: date, end: date, interval: str, adjusted: bool, market: str = "J"
) -> dict[str, str]:
    """inquire-daily-itemchartprice: ``FID_ORG_ADJ_PRC`` is ``0`` adjusted, ``1`` raw."""
    return {
        "FID_COND_MRKT_DIV_CODE": market,
        "FID_INPUT_ISCD": code,
        "FID_INPUT_DATE_1": ymd(start),
        "FID_INPUT_DATE_2": ymd(end),
        "FID_PERIOD_DIV_CODE": interval,
        "FID_ORG_ADJ_PRC": "0" if adjusted else "1",
    }


def minute_params(code: str, hour: time, day: date | None, market: str = "J") -> dict[str, str]:
    """Today's bars (``day`` None, FHKST03010200) or a past day's (FHKST03010230, which adds
    ``FID_INPUT_DATE_1``; ``FID_FAKE_TICK_INCU_YN`` is sent blank as public clients do)."""
    params = {
        "FID_ETC_CLS_CODE": "",
        "FID_COND_MRKT_DIV_CODE": market,
        "FID_INPUT_ISCD": code,
        "FID_INPUT_HOUR_1": hms(hour),
        "FID_PW_DATA_INCU_YN": "Y",
    }
    if day is not None:
        params["FID_INPUT_DATE_1"] = ymd(day)
        params["FID_FAKE_TICK_INCU_YN"] = ""
    return params


def symbol_params(code: str, market: str = "J") -> dict[str, str]:
    """The two parameters of the single-symbol quotation TRs (price, order book, investors)."""
    return {"FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": code}


def info_params(code: str) -> dict[str, str]:
    return {"PRDT_TYPE_CD": "300", "PDNO": code}


def overseas_quote_params(ticker: str, exchange: str) -> dict[str, str]:
    return {"AUTH": "", "EXCD": exchange, "SYMB": ticker}


def overseas_daily_params(
    ticker: str, exchange: str, end: date | None, interval: str, adjusted: bool
) -> dict[str, str]:
    """dailyprice: ``BYMD`` blank means today; ``MODP`` ``1`` is adjusted."""
    return {
        "AUTH": "",
        "EXCD": exchange,
        "SYMB": ticker,
        "GUBN": OVERSEAS_INTERVALS[interval],
        "BYMD": "" if end is None else ymd(end),
        "MODP": "1" if adjusted else "0",
        "KEYB": "",
    }


def balance_params(cano: str, product: str) -> dict[str, str]:
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
        "CTX_AREA_FK100": "",
        "CTX_AREA_NK100": "",
    }


# --- paging rules -----------------------------------------------------------------------------


def period_start(day: date, interval: str) -> date:
    """The first day of the week (Monday), month or year holding ``day``; ``day`` for D."""
    if interval == "W":
        return day - timedelta(days=day.weekday())
    if interval == "M":
        return day.replace(day=1)
    if interval == "Y":
        return day.replace(month=1, day=1)
    return day


def next_end(
    dates: Sequence[date], cap: int, interval: str, start: date, end: date | None
) -> date | None:
    """The end date of the next (older) chunk of period bars, or None when done.

    ``dates`` are the bar dates of the chunk that ended on ``end`` (None: today).
    """
    if len(dates) < cap:
        return None
    following = period_start(min(dates), interval) - timedelta(days=1)
    if following < start or (end is not None and following >= end):
        return None
    return following


def next_hour(times: Sequence[time], cap: int, start: time, hour: time) -> time | None:
    """``FID_INPUT_HOUR_1`` of the next (older) page of 1-min bars, or None when done.

    ``times`` are the bar times of the page asked up to ``hour``; ``start`` the earliest wanted.
    """
    if len(times) < cap:
        return None
    oldest = min(times)
    if oldest <= max(start, SESSION_OPEN):
        return None
    following = (datetime.combine(date.min, oldest) - timedelta(minutes=1)).time()
    return following if following < hour else None
