"""Deterministic domestic market data: daily bars, 1-min bars, snapshots and order books.

Every number is a pure function of (seed, symbol, trading day): a symbol's daily path is drawn
from ``numpy.random`` streams seeded with (seed, symbol), read from their start one fixed-size row
per trading day, so a day's bar never depends on which range was asked for or on how far the
calendar reaches.

Model (raw prices, on the KRX tick grid):
- close: a squashed random walk of log returns anchored so that the close on
  :data:`~kisresearch.sim.timebase.REF_DAY` is the universe's ``base_price``; daily moves stay far
  inside the +-30% limits, so limit prices are computed and reported but never hit;
- open: a small gap from the base price (the previous close, split-adjusted); high/low extend
  beyond open/close; volume and traded value follow listed shares and the size of the move;
- a stock split (universe ``split_date``/``split_ratio``) multiplies earlier raw prices by the
  ratio; "adjusted" series divide them back (FID_ORG_ADJ_PRC=0);
- a halted symbol trades flat with zero volume from its ``status_since`` day;
- 1-min bars (09:00-15:30, 391 bars) are a bridge from the open to the close squeezed into the
  day's [low, high]; they aggregate exactly to the daily bar, and a session in progress shows the
  aggregate of the bars formed so far, so quotes, today's daily row and minute bars agree.

Built lazily and cached (LRU) per symbol and per (symbol, day).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Generic, TypeVar

import numpy as np

from .formats import sign_code
from .listings import Foreign, Symbol, domestic
from .overseas import ForeignDaily, build_foreign
from .timebase import (
    FIRST_DAY,
    SESSION_MINUTES,
    Session,
    SimClock,
    anchored_walk,
    trading_days,
    ymd,
)

_BOUNDS = np.array([2000, 5000, 20000, 50000, 200000, 500000])
_TICKS = np.array([1, 5, 10, 50, 100, 500, 1000])

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def tick_size(price: float, etf: bool = False) -> int:
    """KRX quote unit (호가단위) for a price; ETFs trade in 5-won steps (1 below 2,000)."""
    if etf:
        return 1 if price < 2000 else 5
    return int(_TICKS[bisect.bisect_right(_BOUNDS.tolist(), price)])


def tick_up(price: int, etf: bool = False) -> int:
    return price + tick_size(price, etf)


def tick_down(price: int, etf: bool = False) -> int:
    return price - tick_size(price - 1, etf)


def _ticks(p: np.ndarray, etf: bool) -> np.ndarray:
    if etf:
        return np.where(p < 2000, 1, 5)
    return _TICKS[np.searchsorted(_BOUNDS, p, side="right")]


def round_tick(p: np.ndarray, etf: bool = False) -> np.ndarray:
    t = _ticks(p, etf)
    return (np.round(p / t) * t).astype(np.int64)


def ceil_tick(p: np.ndarray, etf: bool = False) -> np.ndarray:
    t = _ticks(p, etf)
    return (np.ceil(p / t - 1e-9) * t).astype(np.int64)


def floor_tick(p: np.ndarray, etf: bool = False) -> np.ndarray:
    t = _ticks(p, etf)
    return np.maximum(t, np.floor(p / t + 1e-9) * t).astype(np.int64)


def price_limits(base: int, etf: bool = False) -> tuple[int, int]:
    """(upper, lower) daily price limits: base +-30% on the tick grid."""
    up = floor_tick(np.array([base * 1.3]), etf)[0]
    lo = ceil_tick(np.array([base * 0.7]), etf)[0]
    return int(up), int(lo)


class LRU(Generic[K, V]):
    """A small thread-safe LRU cache around a builder function."""

    def __init__(self, build: Callable[[K], V], size: int) -> None:
        self._build = build
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = self._build(key)  # built outside the lock; a rare double build is harmless
        with self._lock:
            self._data[key] = value
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value


@dataclass(frozen=True, eq=False)
class Daily:
    """One symbol's daily bars over its trading days (raw prices, raw share counts)."""

    sym: Symbol
    days: tuple[date, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    value: np.ndarray
    base: np.ndarray  # previous close in the day's share units (기준가)
    factor: np.ndarray  # split factor: raw = adjusted * factor
    flow: np.ndarray  # (n, 2) uniform draws in [-1, 1) for investor flows

    def split(self, i: int) -> int:
        """The split ratio taking effect on day ``i`` (0 = none)."""
        f = self.factor
        return int(f[i - 1] // f[i]) if i > 0 and f[i - 1] != f[i] else 0


def build_daily(sym: Symbol, seed: int, until: date) -> Daily:
    cal = trading_days(until)
    i0 = bisect.bisect_left(cal, max(sym.listed, FIRST_DAY))
    days = cal[i0:]
    n = len(days)
    etf = sym.is_etf
    # Two streams, each read from its start, so day i's draws never depend on the horizon.
    z = np.clip(np.random.default_rng([seed, sym.key, 0]).standard_normal(n), -4.0, 4.0)
    u = np.random.default_rng([seed, sym.key, 1]).random((n, 6), dtype=np.float32)
    sigma = 0.009 if etf else 0.011 + 0.021 * (sym.key % 1000) / 1000
    r = sigma * z + 0.00015
    adj = anchored_walk(r, days, sym.base_price, 1.4)
    factor = np.ones(n, dtype=np.int64)
    if sym.split_day is not None and sym.split_ratio > 1:
        factor[: bisect.bisect_left(days, sym.split_day)] = sym.split_ratio
    close = round_tick(adj * factor, etf)
    prev = np.empty(n)
    prev[1:] = close[:-1] * factor[1:] / factor[:-1]
    prev[0] = adj[0] * factor[0] * np.exp(-r[0])
    base = round_tick(prev, etf)
    open_ = round_tick(base * np.exp(0.6 * sigma * (u[:, 0] - 0.5)), etf)
    high = ceil_tick(np.maximum(open_, close) * np.exp(0.8 * sigma * u[:, 1] ** 2), etf)
    low = floor_tick(np.minimum(open_, close) * np.exp(-0.8 * sigma * u[:, 2] ** 2), etf)
    turnover = (0.004 if etf else 0.001) + 0.008 * ((sym.key >> 10) % 1000) / 1000
    noise = np.exp(0.9 * (u[:, 3] - 0.5))
    shares = sym.listed_shares * turnover * noise * (1 + 8 * np.abs(r))
    volume = np.maximum(1, shares / factor).astype(np.int64)
    value = (volume * (open_ + high + low + 2 * close) / 5).astype(np.int64)
    if sym.halted and sym.status_since is not None:
        h = bisect.bisect_left(days, sym.status_since)
        if 0 < h < n:
            last = close[h - 1]
            for arr in (open_, high, low, close, base):
                arr[h:] = last
            volume[h:] = 0
            value[h:] = 0
    small = [a.astype(np.int32) for a in (open_, high, low, close, base)]  # cache memory
    return Daily(sym, days, small[0], small[1], small[2], small[3], volume, value, small[4],
                 factor.astype(np.int32), 2 * u[:, 4:6] - 1)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Minutes:
    """One day's 391 one-minute bars (09:00-15:30), raw prices."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class DayBar:
    """One symbol's complete bar for one trading day, plus what quotes need around it; small,
    so many of them stay cached after the symbol's full series has been evicted."""

    sym: Symbol
    idx: int  # index of the day in the symbol's series
    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    base: int
    prev_volume: int
    avg_volume: float  # mean daily volume over the 20 trading days up to this one
    factor: int  # split factor on this day (raw = adjusted * factor)
    split: int  # split ratio taking effect on this day (0 = none)
    flow: tuple[float, float]  # investor-flow draws in [-1, 1)


def day_bar(d: Daily, i: int) -> DayBar:
    return DayBar(
        d.sym, i, d.days[i], int(d.open[i]), int(d.high[i]), int(d.low[i]), int(d.close[i]),
        int(d.volume[i]), int(d.value[i]), int(d.base[i]),
        int(d.volume[i - 1]) if i > 0 else 0, float(d.volume[max(0, i - 19) : i + 1].mean()),
        int(d.factor[i]), d.split(i), (float(d.flow[i, 0]), float(d.flow[i, 1])),
    )  # fmt: skip


def build_minutes(bar: DayBar, seed: int) -> Minutes:
    n = SESSION_MINUTES
    o, h, lo, c = bar.open, bar.high, bar.low, bar.close
    vol, val = bar.volume, bar.value
    etf = bar.sym.is_etf
    rng = np.random.default_rng([seed, bar.sym.key, bar.day.toordinal()])
    walk = np.cumsum(rng.standard_normal(n))
    noise = rng.lognormal(0.0, 0.5, n)
    if h == lo:
        closes = np.full(n, c, dtype=np.int64)
        ih = il = 0
    else:
        t = np.linspace(0.0, 1.0, n)
        bridge = walk - t * walk[-1]
        scale = float(np.abs(bridge).max()) or 1.0
        path = (o + (c - o) * t) / (h - lo) + 0.6 * bridge / scale
        span = float(path.max() - path.min()) or 1.0
        mapped = lo + (path - path.min()) / span * (h - lo)
        ih, il = int(np.argmax(mapped)), int(np.argmin(mapped))
        closes = np.clip(round_tick(mapped, etf), lo, h)
    closes[-1] = c
    opens = np.empty(n, dtype=np.int64)
    opens[0] = o
    opens[1:] = closes[:-1]
    wiggle = rng.random((n, 2)) < 0.5  # a tick of range beyond open/close, half the time
    top, bottom = np.maximum(opens, closes), np.minimum(opens, closes)
    highs = np.minimum(h, top + wiggle[:, 0] * _ticks(top, etf))
    lows = np.maximum(lo, bottom - wiggle[:, 1] * _ticks(bottom - 1, etf))
    highs[ih] = h
    lows[il] = lo
    k = np.arange(n)
    weights = (1 + 2.5 * np.exp(-k / 25) + 1.5 * np.exp(-(n - 2 - k) / 20)) * noise
    weights[-1] = weights[:-1].sum() * 0.08  # the closing auction
    volumes = np.floor(vol * weights / weights.sum()).astype(np.int64)
    volumes[-1] += vol - int(volumes.sum())
    traded = volumes * (opens + highs + lows + closes) / 4
    if traded.sum() > 0:
        values = np.floor(val * traded / traded.sum()).astype(np.int64)
        values[-1] += val - int(values.sum())
    else:
        values = np.zeros(n, dtype=np.int64)
    return Minutes(opens, highs, lows, closes, volumes, values)


@dataclass(frozen=True)
class Snapshot:
    """A symbol's state in a session: the day's bar so far (raw prices)."""

    bar: DayBar  # the complete day
    horizon: int  # the key of the symbol's series in the cache (a year)
    minute: int  # index of the latest 1-min bar included (SESSION_MINUTES - 1 = full day)
    final: bool  # the day's bar is complete
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    upper: int
    lower: int

    @property
    def sym(self) -> Symbol:
        return self.bar.sym

    @property
    def idx(self) -> int:
        return self.bar.idx

    @property
    def day(self) -> date:
        return self.bar.day

    @property
    def base(self) -> int:
        return self.bar.base

    @property
    def prev_volume(self) -> int:
        return self.bar.prev_volume

    @property
    def change(self) -> int:
        return self.close - self.base

    @property
    def sign(self) -> str:
        return sign_code(self.close, self.base, self.upper, self.lower)

    @property
    def tick(self) -> int:
        return tick_size(self.close, self.sym.is_etf)


class Market:
    """Lazily built, cached market data on the simulator's clock.

    Three caches: full daily series per symbol (LRU ``cache``, ~200 kB each), single day bars
    (many, tiny: quotes of a whole universe stay warm) and 1-min bars per symbol-day."""

    def __init__(
        self,
        seed: int,
        clock: SimClock,
        *,
        cache: int = 128,
        splits: Mapping[str, tuple[date, int]] | None = None,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.symbols = dict(domestic())
        for code, (day, ratio) in (splits or {}).items():
            if code not in self.symbols or ratio < 2:
                raise ValueError(f"splits: unknown code {code!r} or ratio {ratio!r} below 2")
            self.symbols[code] = replace(self.symbols[code], split_day=day, split_ratio=ratio)
        self._daily: LRU[tuple[str, int], Daily] = LRU(self._build_daily, cache)
        self._bars: LRU[tuple[str, int, int], DayBar] = LRU(self._build_bar, 16384)
        self._minutes: LRU[tuple[str, int, int], Minutes] = LRU(self._build_minutes, 512)
        self._foreign: LRU[tuple[Foreign, int], ForeignDaily] = LRU(
            lambda k: build_foreign(k[0], seed, k[1]), 64
        )

    def _build_daily(self, key: tuple[str, int]) -> Daily:
        return build_daily(self.symbols[key[0]], self.seed, date(key[1], 1, 1))

    def _build_bar(self, key: tuple[str, int, int]) -> DayBar:
        return day_bar(self._daily.get((key[0], key[1])), key[2])

    def _build_minutes(self, key: tuple[str, int, int]) -> Minutes:
        return build_minutes(self._bars.get(key), self.seed)

    def foreign_daily(self, ticker: Foreign, year: int) -> ForeignDaily:
        return self._foreign.get((ticker, year))

    def session(self) -> Session:
        return Session(self.clock.now_kst())

    def daily(self, code: str, session: Session) -> Daily:
        return self._daily.get((code, session.now.year))

    def history(self, snap: Snapshot) -> Daily:
        """The full daily series a snapshot belongs to."""
        return self._daily.get((snap.sym.code, snap.horizon))

    def minutes(self, code: str, session: Session, idx: int) -> Minutes:
        return self._minutes.get((code, session.now.year, idx))

    def index(self, sym: Symbol, session: Session, day: date) -> int:
        """Index of the last trading day <= ``day`` in the symbol's series (-1 if none), from
        the calendar alone (no series is built)."""
        cal = trading_days(date(session.now.year, 1, 1))
        first = bisect.bisect_left(cal, max(sym.listed, FIRST_DAY))
        last = bisect.bisect_right(cal, day) - 1
        return last - first if last >= first else -1

    def snapshot(self, code: str, session: Session, day: date | None = None) -> Snapshot | None:
        """The symbol's bar for ``day`` (default: the session day), partial while in progress.

        None if the symbol is unknown or had not listed by then."""
        sym = self.symbols.get(code)
        if sym is None:
            return None
        target = session.day if day is None else min(day, session.day)
        idx = self.index(sym, session, target)
        if idx < 0:
            return None
        year = session.now.year
        bar = self._bars.get((code, year, idx))
        upper, lower = price_limits(bar.base, sym.is_etf)
        if bar.day != session.day or session.closed:
            return Snapshot(bar, year, SESSION_MINUTES - 1, True, bar.open, bar.high, bar.low,
                            bar.close, bar.volume, bar.value, upper, lower)  # fmt: skip
        m = self.minutes(code, session, idx)
        k = session.last_minute + 1
        return Snapshot(
            bar, year, k - 1, False, int(m.open[0]), int(m.high[:k].max()),
            int(m.low[:k].min()), int(m.close[k - 1]), int(m.volume[:k].sum()),
            int(m.value[:k].sum()), upper, lower,
        )  # fmt: skip

    def factor_now(self, snap: Snapshot, session: Session) -> int:
        """The split factor of the session day in ``snap``'s series: adjusted prices are
        relative to it (a split after the session day is not known yet)."""
        d = self.history(snap)
        return int(d.factor[min(len(d.days) - 1, self.index(snap.sym, session, session.day))])

    def range_stats(self, snap: Snapshot, start: date) -> tuple[int, str, int, str]:
        """(high, high day, low, low day) over trading days from ``start`` to the snapshot's
        day, adjusted to its split factor, counting the day's bar so far."""
        d = self.history(snap)
        i0 = max(0, bisect.bisect_left(d.days, start))
        f = d.factor[i0 : snap.idx] / d.factor[snap.idx]
        highs = np.round(d.high[i0 : snap.idx] / f).astype(np.int64)
        lows = np.round(d.low[i0 : snap.idx] / f).astype(np.int64)
        highs = np.append(highs, snap.high)
        lows = np.append(lows, snap.low)
        ih, il = int(np.argmax(highs)), int(np.argmin(lows))
        return (int(highs[ih]), ymd(d.days[i0 + ih]), int(lows[il]), ymd(d.days[i0 + il]))

    def book(self, snap: Snapshot) -> tuple[list[int], list[int], list[int], list[int]]:
        """Ten ask and bid levels around the last price: (asks, bids, ask sizes, bid sizes).

        The best bid is the last price and the best ask one tick above; levels step one tick
        at a time (the tick of each level), and levels beyond the price limits are 0."""
        etf = snap.sym.is_etf
        asks, bids = [tick_up(snap.close, etf)], [snap.close]
        for _ in range(9):
            asks.append(tick_up(asks[-1], etf))
            bids.append(tick_down(bids[-1], etf))
        rng = np.random.default_rng([self.seed, snap.sym.key, snap.day.toordinal(), snap.minute])
        size = max(1.0, snap.bar.avg_volume / 3000)
        qty = (size * rng.lognormal(0.0, 0.7, 20)).astype(np.int64) + 1
        if snap.sym.halted:
            qty[:] = 0
        ask_q, bid_q = [int(q) for q in qty[:10]], [int(q) for q in qty[10:]]
        for i in range(10):
            if asks[i] > snap.upper:
                asks[i], ask_q[i] = 0, 0
            if bids[i] < snap.lower:
                bids[i], bid_q[i] = 0, 0
        return asks, bids, ask_q, bid_q


def one_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28) + timedelta(days=1)
