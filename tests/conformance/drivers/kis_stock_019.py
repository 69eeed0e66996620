"""korea-investment-stock 0.19.0 (``import korea_investment_stock``) against the simulator.

Redirect (docs/peer-clients.md section 2): the base URL is fixed in ``__init__``, which also
wants a token, so the constructor gets a ``token_storage`` holding a placeholder; then the
broker and its token manager get the simulator's URL and the client issues its own token
(``issue_access_token(force=True)``). Every method is called with its default arguments.
"""

from __future__ import annotations

from _common import call, checked, config, newest
from korea_investment_stock import KoreaInvestment, TokenStorage

cfg = config()


class Placeholder(TokenStorage):
    """Says a token is held until the client saves the one it issues."""

    def __init__(self) -> None:
        self.token = {"access_token": "placeholder"}

    def save_token(self, token_data):
        self.token = token_data
        return True

    def load_token(self, api_key, api_secret):
        return self.token

    def check_token_valid(self, api_key, api_secret):
        return True

    def delete_token(self, api_key, api_secret):
        return True


broker = KoreaInvestment(
    api_key=cfg["app_key"],
    api_secret=cfg["app_secret"],
    acc_no=cfg["account"],
    token_storage=Placeholder(),
)
broker.base_url = broker._token_manager.base_url = cfg["base_url"]
broker.issue_access_token(force=True)
SYMBOL, TICKER = cfg["symbol"], cfg["ticker"]


def quote():
    out = checked(broker.fetch_domestic_price(SYMBOL))["output"]
    keys = {"price": "stck_prpr", "open": "stck_oprc", "high": "stck_hgpr", "low": "stck_lwpr"}
    return {k: out[f] for k, f in keys.items()} | {"volume": out["acml_vol"]}


def chart(period):
    def run():
        rows = checked(broker.fetch_domestic_chart(SYMBOL, period=period))["output2"]
        row = newest(rows, "stck_bsop_date")
        keys = {"open": "stck_oprc", "high": "stck_hgpr", "low": "stck_lwpr"}
        return {k: row[f] for k, f in keys.items()} | {
            "date": row["stck_bsop_date"],
            "close": row["stck_clpr"],
            "volume": row["acml_vol"],
            "rows": len(rows),
            "adjusted": True,
        }

    return run


def minute_bars():
    rows = checked(broker.fetch_domestic_minute_chart(SYMBOL))["output2"]
    row = newest(rows, "stck_bsop_date", "stck_cntg_hour")
    keys = {"open": "stck_oprc", "high": "stck_hgpr", "low": "stck_lwpr", "close": "stck_prpr"}
    return {k: row[f] for k, f in keys.items()} | {
        "date": row["stck_bsop_date"],
        "time": row["stck_cntg_hour"],
        "volume": row["cntg_vol"],
        "rows": len(rows),
    }


def info():
    out = checked(broker.fetch_stock_info(SYMBOL, "KR"))["output"]
    return {"name": out["prdt_abrv_name"], "isin": out["std_pdno"], "kind": out["prdt_clsf_name"]}


def stock_info():
    out = checked(broker.fetch_search_stock_info(SYMBOL, "KR"))["output"]
    return {
        "name": out["prdt_abrv_name"],
        "isin": out["std_pdno"],
        "listed_shares": out["lstg_stqt"],
    }


def overseas_detail():
    out = checked(broker.fetch_price_detail_oversea(TICKER, "US"))["output"]
    return {"price": out["last"], "prev_close": out["base"]}


def overseas_daily(ticker):
    rows = checked(broker.fetch_overseas_chart(ticker, "US"))["output2"]
    row = newest(rows, "xymd")
    keys = {"open": "open", "high": "high", "low": "low", "close": "clos", "volume": "tvol"}
    return {"date": row["xymd"], "rows": len(rows), "adjusted": True} | {
        k: row[f] for k, f in keys.items()
    }


call("quote", quote)
call("daily_chart", chart("D"))
call("weekly_chart", chart("W"))
call("monthly_chart", chart("M"))
call("minute_bars", minute_bars)
call("info", info)
call("stock_info", stock_info)
call("overseas_detail", overseas_detail)
call("overseas_daily", lambda: overseas_daily(TICKER))
# fetch_overseas_chart always sends EXCD=NYS for "US": a ticker listed there shows the rest
call("overseas_daily_nys", lambda: overseas_daily(cfg["nys_ticker"]))
