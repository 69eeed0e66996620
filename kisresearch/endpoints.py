"""KIS endpoints as data: path, TR id (real and paper), rows per call, cache policy.

A spec knows nothing about HTTP; :meth:`Endpoint.request` turns it and a parameter dict into
a :class:`~kisresearch.transport.Request`. Paper TR ids follow KIS's rule: a leading T, J or C
becomes V (TTTC8434R -> VTTC8434R); quotation TR ids (FHK..., FHP..., HHD...) are the same on
both domains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError
from .transport import Request

QUOTATIONS = "/uapi/domestic-stock/v1/quotations"


def paper_tr_id(tr_id: str) -> str:
    return "V" + tr_id[1:] if tr_id[:1] in ("T", "J", "C") else tr_id


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    tr_id: str
    cache: str  # a policy name from kisresearch.cache.POLICIES
    rows: int | None = None  # most rows one call returns
    real_only: bool = False

    def tr_id_for(self, env: str) -> str:
        return paper_tr_id(self.tr_id) if env == "paper" else self.tr_id

    def request(self, env: str, params: Mapping[str, str], *, tr_cont: str = "") -> Request:
        if self.real_only and env == "paper":
            raise ConfigError(f"{self.name} ({self.tr_id}) is not offered on paper accounts")
        return Request(self.path, self.tr_id_for(env), dict(params), tr_cont=tr_cont,
                       endpoint=self.name)


QUOTE = Endpoint("quote", f"{QUOTATIONS}/inquire-price", "FHKST01010100", "quote")
MULTIQUOTE = Endpoint("multiquote", f"{QUOTATIONS}/intstock-multprice", "FHKST11300006",
                      "quote", rows=30)
DAILY = Endpoint("daily", f"{QUOTATIONS}/inquire-daily-itemchartprice", "FHKST03010100",
                 "daily", rows=100)
MINUTE = Endpoint("minute", f"{QUOTATIONS}/inquire-time-itemchartprice", "FHKST03010200",
                  "intraday", rows=30)
MINUTE_PAST = Endpoint("minute_past", f"{QUOTATIONS}/inquire-time-dailychartprice",
                       "FHKST03010230", "intraday", rows=120, real_only=True)
ORDERBOOK = Endpoint("orderbook", f"{QUOTATIONS}/inquire-asking-price-exp-ccn",
                     "FHKST01010200", "quote")
INVESTORS = Endpoint("investors", f"{QUOTATIONS}/inquire-investor", "FHKST01010900", "daily")
INFO = Endpoint("info", f"{QUOTATIONS}/search-stock-info", "CTPF1002R", "day",
                real_only=True)
ETF = Endpoint("etf", "/uapi/etfetn/v1/quotations/inquire-price", "FHPST02400000", "quote",
               real_only=True)
OVERSEAS_QUOTE = Endpoint("overseas_quote", "/uapi/overseas-price/v1/quotations/price",
                          "HHDFS00000300", "overseas_quote")
OVERSEAS_DAILY = Endpoint("overseas_daily", "/uapi/overseas-price/v1/quotations/dailyprice",
                          "HHDFS76240000", "daily", rows=100)
BALANCE = Endpoint("balance", "/uapi/domestic-stock/v1/trading/inquire-balance", "TTTC8434R",
                   "never", rows=50)

ALL = {e.name: e for e in (QUOTE, MULTIQUOTE, DAILY, MINUTE, MINUTE_PAST, ORDERBOOK, INVESTORS,
                           INFO, ETF, OVERSEAS_QUOTE, OVERSEAS_DAILY, BALANCE)}
