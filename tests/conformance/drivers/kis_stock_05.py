"""korea-investment-stock 0.5.0 (``import korea_investment_stock``) against the simulator.

Redirect (docs/peer-clients.md section 2): a subclass overriding ``set_base_url``, which the
constructor calls before it looks for (``~/.cache/mojito2/token.dat``) or issues a token.
Calls go through the public ``*_list`` wrappers; the quote has none of its own
(``fetch_price_list`` asks CTPF1604R first), so its private method is called by name.
"""

from __future__ import annotations

from _common import call, checked, config
from korea_investment_stock import KoreaInvestment

cfg = config()


class Redirected(KoreaInvestment):
    def set_base_url(self, mock: bool = True) -> None:
        self.base_url = cfg["base_url"]


broker = Redirected(cfg["app_key"], cfg["app_secret"], cfg["account"])
SYMBOL, TICKER = cfg["symbol"], cfg["ticker"]


def only(results):
    if len(results) != 1:
        raise ValueError(f"expected one result, got {results!r}")
    return checked(results[0])["output"]


def quote():
    out = checked(broker._KoreaInvestment__fetch_domestic_price("J", SYMBOL))["output"]
    keys = {"price": "stck_prpr", "open": "stck_oprc", "high": "stck_hgpr", "low": "stck_lwpr"}
    return {k: out[f] for k, f in keys.items()} | {"volume": out["acml_vol"]}


def info():
    out = only(broker.fetch_stock_info_list([(SYMBOL, "KR")]))
    return {"name": out["prdt_abrv_name"], "isin": out["std_pdno"], "kind": out["prdt_clsf_name"]}


def stock_info():
    out = only(broker.fetch_search_stock_info_list([(SYMBOL, "KR")]))
    return {
        "name": out["prdt_abrv_name"],
        "isin": out["std_pdno"],
        "listed_shares": out["lstg_stqt"],
    }


def overseas_detail():
    out = only(broker.fetch_price_detail_oversea_list([(TICKER, "US")]))
    return {"price": out["last"], "prev_close": out["base"]}


call("quote", quote)
call("info", info)
call("stock_info", stock_info)
call("overseas_detail", overseas_detail)
