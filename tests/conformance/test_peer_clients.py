"""Four released KIS clients, unchanged, against the simulator: one test per (client, call).

A test fails when the client's call raised or got an error answer (the message lists every
HTTP answer the call got: status, rt_cd, msg_cd, msg1), or when the values it read differ from
what kisresearch's own client reads from the same simulator. The driver of each client
(``drivers/``) says which of the client's functions sends each call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

import kisresearch as kr

from .conftest import EXCHANGE, NYS_TICKER, SYMBOL, TICKER, Run

pytestmark = pytest.mark.conformance

Values = Mapping[str, Any]
Expect = Callable[[kr.KIS, Values], dict[str, Any]]

CALLS: dict[str, tuple[str, ...]] = {  # client -> its calls, as its driver names them
    "python-kis": (
        "quote",
        "daily_chart",
        "weekly_chart",
        "monthly_chart",
        "minute_bars",
        "orderbook",
        "info",
        "overseas_market",
        "overseas_detail",
        "overseas_daily",
        "balance",
    ),
    "kis-stock-0.19": (
        "quote",
        "daily_chart",
        "weekly_chart",
        "monthly_chart",
        "minute_bars",
        "info",
        "stock_info",
        "overseas_detail",
        "overseas_daily",
        "overseas_daily_nys",
    ),
    "kis-stock-0.5": ("quote", "info", "stock_info", "overseas_detail"),
    "mojito2": (
        "quote",
        "daily_chart",
        "weekly_chart",
        "monthly_chart",
        "recent30",
        "minute_bars",
        "overseas_price",
        "overseas_daily",
        "balance",
    ),
}


def _digits(text: Any) -> str:
    return re.sub(r"\D", "", str(text))


def _day(text: Any) -> date:
    return datetime.strptime(_digits(text)[:8], "%Y%m%d").date()


def quote(kis: kr.KIS, v: Values) -> dict[str, Any]:
    row = kis.quotes(SYMBOL, detail=True).loc[SYMBOL]
    return {k: row[k] for k in ("price", "open", "high", "low", "volume")}


def bars(interval: str, back: int) -> Expect:
    """The bar dated as the client's newest, from ``history`` starting ``back`` days before
    (so that bar covers its whole period)."""

    def expect(kis: kr.KIS, v: Values) -> dict[str, Any]:
        day = _day(v["date"])
        df = kis.history(
            SYMBOL, day - timedelta(days=back), day, interval=interval, adjusted=bool(v["adjusted"])
        )
        rows = df[df["date"] == pd.Timestamp(day)]
        assert not rows.empty, f"kisresearch has no {interval} bar dated {day}"
        row = rows.iloc[-1]
        return {"date": day} | {k: row[k] for k in ("open", "high", "low", "close", "volume")}

    return expect


def minute(kis: kr.KIS, v: Values) -> dict[str, Any]:
    at = datetime.strptime(_digits(v["date"])[:8] + _digits(v["time"])[:6], "%Y%m%d%H%M%S")
    df = kis.minute_bars(SYMBOL)
    rows = df[df["time"].dt.tz_localize(None) == pd.Timestamp(at)]
    assert not rows.empty, f"kisresearch has no minute bar at {at}"
    row = rows.iloc[0]
    return {k: row[k] for k in ("open", "high", "low", "close", "volume")}


def orderbook(kis: kr.KIS, v: Values) -> dict[str, Any]:
    row = kis.orderbook(SYMBOL, wide=True).loc[SYMBOL]
    return {
        "ask1": row["ask_1"],
        "ask1_size": row["ask_size_1"],
        "bid1": row["bid_1"],
        "bid1_size": row["bid_size_1"],
    }


def info(*extra: str) -> Expect:
    def expect(kis: kr.KIS, v: Values) -> dict[str, Any]:
        row = kis.info(SYMBOL).loc[SYMBOL]
        return {k: row[k] for k in ("name", "isin", *extra)}

    return expect


def overseas_quote(kis: kr.KIS, v: Values) -> dict[str, Any]:
    row = kis.overseas_quotes(TICKER, EXCHANGE).loc[TICKER]
    return {"price": row["price"], "prev_close": row["prev_close"]}


def overseas_bars(ticker: str, exchange: str) -> Expect:
    def expect(kis: kr.KIS, v: Values) -> dict[str, Any]:
        day = _day(v["date"])
        df = kis.overseas_history(
            ticker, exchange, start=day - timedelta(days=10), end=day, adjusted=v["adjusted"]
        )
        rows = df[df["date"] == pd.Timestamp(day)]
        assert not rows.empty, f"kisresearch has no {ticker} bar dated {day}"
        row = rows.iloc[0]
        return {"date": day} | {k: row[k] for k in ("open", "high", "low", "close", "volume")}

    return expect


def balance(kis: kr.KIS, v: Values) -> dict[str, Any]:
    holdings, summary = kis.balance()
    return {"holdings": holdings["quantity"].to_dict(), "cash": summary["cash"]}


EXPECT: dict[str, Expect] = {
    "quote": quote,
    "daily_chart": bars("D", 0),
    "weekly_chart": bars("W", 14),
    "monthly_chart": bars("M", 62),
    "recent30": bars("D", 0),
    "minute_bars": minute,
    "orderbook": orderbook,
    "info": info(),
    "stock_info": info("listed_shares"),
    "overseas_market": lambda kis, v: {"market": "NASDAQ"},  # python-kis's name for NAS
    "overseas_price": overseas_quote,
    "overseas_detail": overseas_quote,
    "overseas_daily": overseas_bars(TICKER, EXCHANGE),
    "overseas_daily_nys": overseas_bars(NYS_TICKER, "NYS"),
    "balance": balance,
}


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, date):
        return _day(got) == want
    if isinstance(want, str):
        return str(got) == want
    try:
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


def mismatches(got: Values, want: Mapping[str, Any]) -> list[str]:
    out = []
    for key, value in want.items():
        if key not in got:
            out.append(f"{key}: the driver read nothing, the simulator holds {value!r}")
        elif isinstance(value, Mapping):
            inner = got[key] if isinstance(got[key], Mapping) else {}
            diff = sorted(set(inner) ^ set(value)) + [
                k for k in value if k in inner and not _same(inner[k], value[k])
            ]
            if diff:
                out.append(f"{key}: {len(inner)} read vs {len(value)} held, differing {diff[:8]}")
        elif not _same(got[key], value):
            out.append(f"{key}: the client read {got[key]!r}, the simulator holds {value!r}")
    return out


def answers(line: Mapping[str, Any]) -> str:
    return "\n".join(
        f"  {h['tr_id']} {h['path']} -> HTTP {h['status']} rt_cd={h['rt_cd']} "
        f"{h['msg_cd']} {h['msg1']}"
        for h in line["http"]
    )


# Calls that fail against the real server too, by the client's own doing: expected to fail
# here (strict: the day one passes, the simulator has gone lenient where KIS is not)
CLIENT_BUGS = {
    ("python-kis", "balance"): "python-kis 2.1.6 sends INQR_DVSN=02, refused by KIS since "
    "2026-02-10 (python-kis issue #81, PR #82); the simulator answers as KIS does",
    ("kis-stock-0.19", "overseas_daily"): "0.19's fetch_overseas_chart sends EXCD=NYS for every "
    "US ticker; AAPL is on NAS, so KIS answers it empty (overseas_daily_nys: the call works)",
}
CASES = [
    pytest.param(client, name, id=f"{client}-{name}",
                 marks=[pytest.mark.xfail(strict=True, reason=CLIENT_BUGS[client, name])]
                 if (client, name) in CLIENT_BUGS else [])
    for client, names in CALLS.items() for name in names
]  # fmt: skip


@pytest.mark.parametrize(("client", "call"), CASES)
def test_peer_client_call(
    client: str, call: str, peer_run: Callable[[str], Run], ours: kr.KIS
) -> None:
    run = peer_run(client)
    line = run.lines.get(call)
    if line is None:
        pytest.fail(
            f"the driver printed no line for {call} (exit {run.returncode}):\n{run.stderr[-3000:]}"
        )
    assert line["ok"], f"{client} {call}: {line['error']}\n{answers(line)}"
    wrong = mismatches(line["values"], EXPECT[call](ours, line["values"]))
    assert not wrong, f"{client} {call}:\n  " + "\n  ".join(wrong)
