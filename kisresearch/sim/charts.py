"""Bar bodies: period bars (FHKST03010100, FHKST01010400) and 1-min bars (FHKST03010200,
FHKST03010230). Rows are newest first; every value is a string."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from .formats import pct, sign_code
from .market import Daily, Market, Snapshot
from .quotes import Fundamentals
from .timebase import SESSION_MINUTES, Session, minute_label, period_key, ymd

Row = dict[str, str]
MAX_PERIOD_ROWS = 100
DAILY_PRICE_ROWS = 30
TODAY_MINUTE_ROWS = 30
PAST_MINUTE_ROWS = 120


@dataclass
class Bar:
    day: date  # the last trading day in the bar
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    base: int  # the close before the bar's first day, in the bar's units
    split: int  # split ratio taking effect on a day in the bar (0 = none)


def _bar(
    day: date,
    prices: Iterable[int],  # open, high, low, close, base
    volume: int,
    value: int,
    factor: int,
    split: int,
    adjusted: bool,
) -> Bar:
    """A day's raw values as a bar; ``adjusted`` divides the prices by the split ``factor``
    and multiplies the volume by it."""
    f = factor if adjusted else 1
    o, h, lo, c, base = (x if f == 1 else round(x / f) for x in prices)
    return Bar(day, o, h, lo, c, volume * f, value, base, split)


def _day_bar(snap: Snapshot, adjusted: bool, now: int) -> Bar:
    prices = (snap.open, snap.high, snap.low, snap.close, snap.base)
    b = snap.bar
    return _bar(snap.day, prices, snap.volume, snap.value, b.factor // now, b.split, adjusted)


def _array_bar(d: Daily, i: int, adjusted: bool, now: int) -> Bar:
    prices = (int(a[i]) for a in (d.open, d.high, d.low, d.close, d.base))
    volume, value, factor = int(d.volume[i]), int(d.value[i]), int(d.factor[i]) // now
    return _bar(d.days[i], prices, volume, value, factor, d.split(i), adjusted)


def _iter_days(
    mk: Market, session: Session, code: str, start: date, end: date, adjusted: bool
) -> Iterator[Bar]:
    """Daily bars for trading days in [start, end] (clipped at the session day), newest
    first. The session day's bar is partial while it runs. Adjusted prices are in the units
    of the session day: a split after it is not known yet."""
    last = mk.snapshot(code, session, end)
    if last is None:
        return
    d = mk.history(last)
    now = mk.factor_now(last, session)
    for idx in range(last.idx, -1, -1):
        if d.days[idx] < start:
            return
        if idx == last.idx:
            yield _day_bar(last, adjusted, now)
        else:
            yield _array_bar(d, idx, adjusted, now)


def period_bars(
    mk: Market,
    session: Session,
    code: str,
    start: date,
    end: date,
    period: str,
    adjusted: bool,
    limit: int,
) -> list[Bar]:
    """Bars of period D/W/M/Y built from the trading days in [start, end], newest first, at
    most ``limit``. A week/month/year bar is dated by its last trading day in the range."""
    out: list[Bar] = []
    current: list[Bar] = []
    key: tuple[int, ...] | None = None
    for bar in _iter_days(mk, session, code, start, end, adjusted):
        k = period_key(bar.day, period)
        if key is not None and k != key:
            out.append(_merge(current))
            if len(out) == limit:
                return out
            current = []
        key = k
        current.append(bar)
    if current:
        out.append(_merge(current))
    return out[:limit]


def _merge(newest_first: list[Bar]) -> Bar:
    first, last = newest_first[-1], newest_first[0]
    return Bar(
        last.day,
        first.open,
        max(b.high for b in newest_first),
        min(b.low for b in newest_first),
        last.close,
        sum(b.volume for b in newest_first),
        sum(b.value for b in newest_first),
        first.base,
        max(b.split for b in newest_first),
    )


def chart_summary(mk: Market, snap: Snapshot) -> Row:
    """``output1`` of the period-bar TR: the symbol's current snapshot."""
    sym, p = snap.sym, snap.close
    d, i = mk.history(snap), max(0, snap.idx - 1)
    fund = Fundamentals.of(sym)
    return {
        "prdy_vrss": str(snap.change),
        "prdy_vrss_sign": snap.sign,
        "prdy_ctrt": pct(p - snap.base, snap.base),
        "stck_prdy_clpr": str(snap.base),
        "acml_vol": str(snap.volume),
        "acml_tr_pbmn": str(snap.value),
        "hts_kor_isnm": sym.name,
        "stck_prpr": str(p),
        "stck_shrn_iscd": sym.code,
        "prdy_vol": str(snap.prev_volume),
        "stck_mxpr": str(snap.upper),
        "stck_llam": str(snap.lower),
        "stck_oprc": str(snap.open),
        "stck_hgpr": str(snap.high),
        "stck_lwpr": str(snap.low),
        "stck_prdy_oprc": str(int(d.open[i])),
        "stck_prdy_hgpr": str(int(d.high[i])),
        "stck_prdy_lwpr": str(int(d.low[i])),
        "askp": str(p + snap.tick),
        "bidp": str(p),
        "prdy_vrss_vol": str(snap.volume - snap.prev_volume),
        "vol_tnrt": pct(snap.volume, sym.listed_shares),
        "stck_fcam": str(sym.par_value),
        "lstn_stcn": str(sym.listed_shares),
        "cpfn": str(sym.par_value * sym.listed_shares // 100_000_000),
        "hts_avls": str(p * sym.listed_shares // 100_000_000),
        "per": f"{p / fund.eps:.2f}" if fund.eps else "0.00",
        "eps": f"{fund.eps:.2f}",
        "pbr": f"{p / fund.bps:.2f}" if fund.bps else "0.00",
    }


def period_row(bar: Bar, adjusted: bool) -> Row:
    """One ``output2`` row of inquire-daily-itemchartprice."""
    return {
        "stck_bsop_date": ymd(bar.day),
        "stck_clpr": str(bar.close),
        "stck_oprc": str(bar.open),
        "stck_hgpr": str(bar.high),
        "stck_lwpr": str(bar.low),
        "acml_vol": str(bar.volume),
        "acml_tr_pbmn": str(bar.value),
        "flng_cls_code": "00",
        "prtt_rate": f"{bar.split:.2f}" if bar.split else "0.00",
        "mod_yn": "Y" if adjusted and bar.split else "N",
        "prdy_vrss_sign": sign_code(bar.close, bar.base),
        "prdy_vrss": str(bar.close - bar.base),
        "revl_issu_reas": "",
    }


def daily_price_row(bar: Bar, prev_volume: int, foreign_pct: float) -> Row:
    """One ``output`` row of inquire-daily-price (FHKST01010400)."""
    return {
        "stck_bsop_date": ymd(bar.day),
        "stck_oprc": str(bar.open),
        "stck_hgpr": str(bar.high),
        "stck_lwpr": str(bar.low),
        "stck_clpr": str(bar.close),
        "acml_vol": str(bar.volume),
        "prdy_vrss_vol_rate": pct(bar.volume, prev_volume),
        "prdy_vrss": str(bar.close - bar.base),
        "prdy_vrss_sign": sign_code(bar.close, bar.base),
        "prdy_ctrt": pct(bar.close - bar.base, bar.base),
        "hts_frgn_ehrt": f"{foreign_pct:.2f}",
        "frgn_ntby_qty": "0",
        "flng_cls_code": "00",
        "acml_prtt_rate": "0.00",
    }


def minute_rows(
    mk: Market, session: Session, snap: Snapshot, last_minute: int, limit: int
) -> list[Row]:
    """Up to ``limit`` 1-min bars of the snapshot's day, from ``last_minute`` back, newest
    first (raw prices; ``acml_tr_pbmn`` accumulates over the day)."""
    m = mk.minutes(snap.sym.code, session, snap.idx)
    last_minute = min(last_minute, snap.minute, SESSION_MINUTES - 1)
    day = ymd(snap.day)
    acml = m.value[: last_minute + 1].cumsum()
    rows: list[Row] = []
    for k in range(last_minute, max(-1, last_minute - limit), -1):
        rows.append(
            {
                "stck_bsop_date": day,
                "stck_cntg_hour": minute_label(k),
                "stck_prpr": str(int(m.close[k])),
                "stck_oprc": str(int(m.open[k])),
                "stck_hgpr": str(int(m.high[k])),
                "stck_lwpr": str(int(m.low[k])),
                "cntg_vol": str(int(m.volume[k])),
                "acml_tr_pbmn": str(int(acml[k])),
            }
        )
    return rows


def minute_summary(snap: Snapshot) -> Row:
    """``output1`` of the 1-min bar TRs."""
    return {
        "prdy_vrss": str(snap.change),
        "prdy_vrss_sign": snap.sign,
        "prdy_ctrt": pct(snap.change, snap.base),
        "stck_prdy_clpr": str(snap.base),
        "acml_vol": str(snap.volume),
        "acml_tr_pbmn": str(snap.value),
        "hts_kor_isnm": snap.sym.name,
        "stck_prpr": str(snap.close),
    }
