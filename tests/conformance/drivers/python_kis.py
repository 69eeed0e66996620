"""python-kis 2.1.6 (``import pykis``) against the simulator.

Redirect (docs/peer-clients.md section 2): ``pykis.kis`` imported the two domains by name and
reads them at call time, so both are set there. Each TR is called through the module function
that sends it (``kis.stock(...)`` would add a CTPF1604R call to every one of them).
"""

from __future__ import annotations

from datetime import date, timedelta

import pykis.kis
from _common import KisAnswerError, call, config
from pykis import PyKis
from pykis.api.account.balance import balance
from pykis.api.stock.daily_chart import domestic_daily_chart, foreign_daily_chart
from pykis.api.stock.day_chart import domestic_day_chart
from pykis.api.stock.info import info, quotable_market
from pykis.api.stock.order_book import domestic_orderbook
from pykis.api.stock.quote import domestic_quote, foreign_quote

cfg = config()
pykis.kis.REAL_DOMAIN = pykis.kis.VIRTUAL_DOMAIN = cfg["base_url"]
kis = PyKis(
    id="conformance",
    account=cfg["account"],
    appkey=cfg["app_key"],
    secretkey=cfg["app_secret"],
    keep_token=False,
    use_websocket=False,
)
SYMBOL, TICKER = cfg["symbol"], cfg["ticker"]
MARKET = "NASDAQ"  # python-kis's name for EXCD NAS
today = date.today()


def bar(chart):
    if not chart.bars:
        raise KisAnswerError("the client returned no bars")
    last = max(chart.bars, key=lambda b: b.time)
    return {
        "date": last.time.date().isoformat(),
        "time": last.time.strftime("%H:%M:%S"),
        "open": last.open,
        "high": last.high,
        "low": last.low,
        "close": last.close,
        "volume": last.volume,
        "rows": len(chart.bars),
        "adjusted": False,  # python-kis's default (adjust=False)
    }


def quote():
    q = domestic_quote(kis, SYMBOL)
    return {"price": q.price, "open": q.open, "high": q.high, "low": q.low, "volume": q.volume}


def chart(period, days):
    return lambda: bar(
        domestic_daily_chart(kis, SYMBOL, start=today - timedelta(days=days), period=period)
    )


def orderbook():
    book = domestic_orderbook(kis, SYMBOL)
    ask, bid = book.asks[0], book.bids[0]
    return {"ask1": ask.price, "ask1_size": ask.volume, "bid1": bid.price, "bid1_size": bid.volume}


def stock_info():
    got = info(kis, SYMBOL, market="KR", use_cache=False)
    return {"name": got.name_kor, "isin": got.std_code}


def overseas_market():
    return {"market": quotable_market(kis, TICKER, market=MARKET, use_cache=False)}


def overseas_detail():
    q = foreign_quote(kis, TICKER, MARKET)
    return {"price": q.price, "prev_close": q.prev_price}


def overseas_daily():
    chart = foreign_daily_chart(kis, TICKER, MARKET, start=today - timedelta(days=30))
    return bar(chart)


def account_balance():
    got = balance(kis, cfg["account"], country="KR")
    return {
        "holdings": {s.symbol: s.quantity for s in got.stocks},
        "cash": got.deposits["KRW"].amount,
    }


call("quote", quote)
call("daily_chart", chart("day", 60))
call("weekly_chart", chart("week", 365))
call("monthly_chart", chart("month", 3 * 365))
call("minute_bars", lambda: bar(domestic_day_chart(kis, SYMBOL)))
call("orderbook", orderbook)
call("info", stock_info)
call("overseas_market", overseas_market)
call("overseas_detail", overseas_detail)
call("overseas_daily", overseas_daily)
call("balance", account_balance)
