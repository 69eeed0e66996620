"""mojito2 0.1.6 (``import mojito``) against the simulator.

Redirect (docs/peer-clients.md section 2): a subclass overriding ``set_base_url``, which the
constructor calls before it issues the token. mojito2 returns KIS's JSON as it came; the
driver reads the fields a user of it reads. One broker per exchange, as mojito2 is used.
"""

from __future__ import annotations

from _common import call, checked, config, newest
from mojito import KoreaInvestment

cfg = config()


class Redirected(KoreaInvestment):
    def set_base_url(self, mock: bool = True) -> None:
        self.base_url = cfg["base_url"]


def broker(exchange: str) -> Redirected:
    return Redirected(cfg["app_key"], cfg["app_secret"], cfg["account"], exchange=exchange)


seoul = broker("서울")
nasdaq = broker("나스닥")
SYMBOL, TICKER = cfg["symbol"], cfg["ticker"]


def quote():
    out = checked(seoul.fetch_price(SYMBOL))["output"]
    keys = {"price": "stck_prpr", "open": "stck_oprc", "high": "stck_hgpr", "low": "stck_lwpr"}
    return {k: out[f] for k, f in keys.items()} | {"volume": out["acml_vol"]}


def daily_row(row, rows, adjusted=True):
    return {
        "date": row["stck_bsop_date"],
        "open": row["stck_oprc"],
        "high": row["stck_hgpr"],
        "low": row["stck_lwpr"],
        "close": row["stck_clpr"],
        "volume": row["acml_vol"],
        "rows": len(rows),
        "adjusted": adjusted,
    }


def chart(timeframe):
    def run():
        rows = checked(seoul.fetch_ohlcv(SYMBOL, timeframe=timeframe))["output2"]
        return daily_row(newest(rows, "stck_bsop_date"), rows)

    return run


def recent30():
    rows = checked(seoul.fetch_ohlcv_recent30(SYMBOL))["output"]
    return daily_row(newest(rows, "stck_bsop_date"), rows)


def minute_bars():
    rows = seoul.fetch_today_1m_ohlcv(SYMBOL)["output2"]  # its own join of the pages
    row = newest(rows, "stck_bsop_date", "stck_cntg_hour")
    return {
        "date": row["stck_bsop_date"],
        "time": row["stck_cntg_hour"],
        "open": row["stck_oprc"],
        "high": row["stck_hgpr"],
        "low": row["stck_lwpr"],
        "close": row["stck_prpr"],
        "volume": row["cntg_vol"],
        "rows": len(rows),
    }


def overseas_price():
    out = checked(nasdaq.fetch_price(TICKER))["output"]
    return {"price": out["last"], "prev_close": out["base"]}


def overseas_daily():
    rows = checked(nasdaq.fetch_ohlcv(TICKER, timeframe="D"))["output2"]
    row = newest(rows, "xymd")
    keys = {"open": "open", "high": "high", "low": "low", "close": "clos", "volume": "tvol"}
    return {"date": row["xymd"], "rows": len(rows), "adjusted": True} | {
        k: row[f] for k, f in keys.items()
    }


def balance():
    got = seoul.fetch_balance()  # fetch_balance joins the pages; no rt_cd of its own
    return {
        "holdings": {r["pdno"]: r["hldg_qty"] for r in got["output1"]},
        "cash": got["output2"][0]["dnca_tot_amt"],
    }


call("quote", quote)
call("daily_chart", chart("D"))
call("weekly_chart", chart("W"))
call("monthly_chart", chart("M"))
call("recent30", recent30)
call("minute_bars", minute_bars)
call("overseas_price", overseas_price)
call("overseas_daily", overseas_daily)
call("balance", balance)
