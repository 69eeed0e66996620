"""Overseas quotes (HHDFS00000300) and daily bars (HHDFS76240000) for a few tickers per
exchange. Daily bars only (no intraday): a US session counts as complete on the next KST
calendar day, an Asian one after 17:00 KST. Exchange days are weekdays except 1 January and
25 December. Deterministic per (seed, EXCD, SYMB, day), like the domestic data."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from .formats import product_info, sign_code
from .listings import Foreign
from .timebase import anchored_walk, calendar, period_key, ymd

Row = dict[str, str]
MAX_ROWS = 100
US = frozenset({"NAS", "NYS", "AMS"})
_PERIOD = {"1": "W", "2": "M"}  # GUBN -> timebase.period_key (else "0": days)


def _is_exchange_day(day: date) -> bool:
    return day.weekday() < 5 and (day.month, day.day) not in ((1, 1), (12, 25))


def _exchange_days(until_year: int) -> tuple[date, ...]:
    return calendar(until_year, _is_exchange_day)


@dataclass(frozen=True, eq=False)
class ForeignDaily:
    ticker: Foreign
    days: tuple[date, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def build_foreign(ticker: Foreign, seed: int, until_year: int) -> ForeignDaily:
    days = _exchange_days(until_year + 1)
    n = len(days)
    rng = np.random.default_rng([seed, ticker.key])
    z = np.clip(rng.standard_normal((n, 5)), -4.0, 4.0)
    sigma = 0.012 + 0.012 * (ticker.key % 100) / 100
    close = anchored_walk(sigma * z[:, 0] + 0.0003, days, ticker.base_price, 1.6)
    prev = np.concatenate(([close[0]], close[:-1]))
    open_ = prev * np.exp(0.3 * sigma * z[:, 1])
    high = np.maximum(open_, close) * np.exp(np.abs(0.5 * sigma * z[:, 2]))
    low = np.minimum(open_, close) * np.exp(-np.abs(0.5 * sigma * z[:, 3]))
    places = 2 if ticker.decimals > 1 else 0
    volume = (2e6 * 300 / ticker.base_price * np.exp(0.4 * z[:, 4])).astype(np.int64)
    o, h, lo, c = (np.round(a, places) for a in (open_, high, low, close))
    return ForeignDaily(ticker, days, o, h, lo, c, volume)


def last_complete_day(ticker: Foreign, now_kst: datetime) -> date:
    today = now_kst.date()
    if ticker.excd in US or now_kst.hour < 17:
        return today - timedelta(days=1)
    return today


def fmt(value: float, ticker: Foreign) -> str:
    return f"{value:.{ticker.decimals}f}"


def price_output(fd: ForeignDaily, day: date) -> Row:
    """``output`` of the overseas price TR for the last complete session on or before ``day``."""
    t = fd.ticker
    i = bisect.bisect_right(fd.days, day) - 1
    last, base = float(fd.close[i]), float(fd.close[i - 1])
    diff = last - base
    return {
        "rsym": f"D{t.excd}{t.symb}",
        "zdiv": str(t.decimals),
        "base": fmt(base, t),
        "pvol": str(int(fd.volume[i - 1])),
        "last": fmt(last, t),
        "sign": sign_code(round(last * 100), round(base * 100)),
        "diff": fmt(abs(diff), t),
        "rate": f"{diff / base * 100:.2f}",
        "tvol": str(int(fd.volume[i])),
        "tamt": str(int(fd.volume[i] * last)),
        "ordy": "매수가능",
    }


_KRW = {"USD": 1390.0, "HKD": 178.5, "JPY": 9.2}  # a fixed exchange rate per currency
_ETP = {"QQQ", "SPY", "GLD", "IWM"}


def price_detail_output(fd: ForeignDaily, day: date) -> Row:
    """``output`` of price-detail (HHDFS76200200): the price TR's session, with its range, a
    year's high and low, size, valuation and the won values (field names from KIS's sample)."""
    t = fd.ticker
    i = bisect.bisect_right(fd.days, day) - 1
    last, base = float(fd.close[i]), float(fd.close[i - 1])
    year = slice(max(0, i - 251), i + 1)
    hi = max(range(year.start, i + 1), key=lambda k: fd.high[k])
    lo = min(range(year.start, i + 1), key=lambda k: fd.low[k])
    shares = 1_000_000 * (t.key % 9000 + 1000)
    rate = _KRW[t.currency]
    eps = base / (15 + t.key % 20)

    def won(price: float, ref: float) -> tuple[str, str, str, str]:
        diff = (price - ref) * rate
        return (f"{price * rate:.2f}", f"{abs(diff):.2f}", f"{diff / (ref * rate) * 100:.2f}",
                sign_code(round(price * 100), round(ref * 100)))  # fmt: skip

    t_xprc, t_xdif, t_xrat, t_xsgn = won(last, base)
    prev_base = float(fd.close[i - 2])
    p_xprc, p_xdif, p_xrat, p_xsgn = won(base, prev_base)
    return {
        "rsym": f"D{t.excd}{t.symb}",
        "zdiv": str(t.decimals),
        "curr": t.currency,
        "vnit": "1",
        "open": fmt(float(fd.open[i]), t),
        "high": fmt(float(fd.high[i]), t),
        "low": fmt(float(fd.low[i]), t),
        "last": fmt(last, t),
        "base": fmt(base, t),
        "pvol": str(int(fd.volume[i - 1])),
        "pamt": str(int(fd.volume[i - 1] * base)),
        "uplp": "0" if t.excd in US else fmt(base * 1.3, t),  # US exchanges have no limit
        "dnlp": "0" if t.excd in US else fmt(base * 0.7, t),
        "h52p": fmt(float(fd.high[hi]), t),
        "h52d": ymd(fd.days[hi]),
        "l52p": fmt(float(fd.low[lo]), t),
        "l52d": ymd(fd.days[lo]),
        "perx": f"{last / eps:.2f}",
        "pbrx": f"{1 + t.key % 40 / 10:.2f}",
        "epsx": f"{eps:.2f}",
        "bpsx": f"{last / (1 + t.key % 40 / 10):.2f}",
        "shar": str(shares),
        "mcap": str(shares // 100),
        "tomv": str(int(shares * last)),
        "t_xprc": t_xprc, "t_xdif": t_xdif, "t_xrat": t_xrat, "t_xsgn": t_xsgn,
        "p_xprc": p_xprc, "p_xdif": p_xdif, "p_xrat": p_xrat, "p_xsng": p_xsgn,
        "t_rate": f"{rate:.2f}",
        "p_rate": f"{rate:.2f}",
        "e_ordyn": "매매 가능",
        "e_hogau": fmt(10 ** -min(t.decimals, 2), t),
        "e_icod": "ETF" if t.symb in _ETP else "Common Stock",
        "e_parp": "0",
        "tvol": str(int(fd.volume[i])),
        "tamt": str(int(fd.volume[i] * last)),
        "etyp_nm": "ETF" if t.symb in _ETP else "",
    }  # fmt: skip


def search_info(ticker: Foreign, kind: str) -> Row:
    """``output`` of product basics (CTPF1604R) for an overseas ticker."""
    clsf = "ETF" if ticker.symb in _ETP else "주권"
    return product_info(ticker.symb, kind, ticker.name, ticker.name, ticker.symb, clsf, "")


def daily_rows(fd: ForeignDaily, end: date, gubn: str) -> list[Row]:
    """``output2`` of the overseas daily TR: up to 100 day/week/month bars ending on ``end``,
    newest first."""
    t = fd.ticker
    i = bisect.bisect_right(fd.days, end) - 1
    groups: list[list[int]] = []
    key: tuple[int, ...] | None = None
    while i >= 1:
        k = period_key(fd.days[i], _PERIOD.get(gubn, "D"))
        if k != key:
            if len(groups) == MAX_ROWS:
                break
            groups.append([])
            key = k
        groups[-1].append(i)
        i -= 1
    rows: list[Row] = []
    for g in groups:
        first, last = g[-1], g[0]
        close, base = float(fd.close[last]), float(fd.close[first - 1])
        diff = close - base
        rows.append(
            {
                "xymd": ymd(fd.days[last]),
                "clos": fmt(close, t),
                "sign": sign_code(round(close * 100), round(base * 100)),
                "diff": fmt(abs(diff), t),
                "rate": f"{diff / base * 100:.2f}",
                "open": fmt(float(fd.open[first]), t),
                "high": fmt(float(fd.high[first : last + 1].max()), t),
                "low": fmt(float(fd.low[first : last + 1].min()), t),
                "tvol": str(int(fd.volume[first : last + 1].sum())),
                "tamt": str(int(fd.volume[first : last + 1].sum() * close)),
                "pbid": fmt(close, t),
                "vbid": "100",
                "pask": fmt(close, t),
                "vask": "100",
            }
        )
    return rows
