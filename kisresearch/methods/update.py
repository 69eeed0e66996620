"""``update``: bring the bar store up to date after a session, for a few symbols or the market.

Daily bars: a symbol whose only missing bar is the latest settled session gets it from the
30-symbol quote call (FHKST11300006; the whole market's day in 84 calls), because after the
session a quote's open, high, low, price, volume and value traded are that day's bar. The
quote is only used when its base price (``inter2_sdpr``) is the close held for the day before:
otherwise something (a split, an ex-rights day) has moved the reference, and the symbol goes
to the chart call, whose check (:mod:`kisresearch.store.adjust`) then refetches its adjusted
history. Symbols held with more than one session missing, or not held at all, use the chart
call (FHKST03010100) for their gaps. 1-min bars: the latest settled session, kept by
``minute_bars``; run daily, the store holds more than KIS's own year.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..plan import validate
from ..store import Change
from ..store import bars as store_bars
from ..store import spans as sp
from ..store.adjust import TOLERANCE
from ..timebase import is_trading_day, latest_session, settled_day
from ._base import Client

INTERVALS = ("D", "1m")
COLUMNS = ["symbol", "interval", "method", "added", "error"]


class Updating(Client, Protocol):
    """What ``update`` uses: the client's other public methods."""

    def symbols(self, market: str = "all") -> pd.DataFrame: ...

    def quotes(self, symbols: Any, *, refresh: bool, progress: bool | None) -> pd.DataFrame: ...

    def history(
        self, symbols: Any, start: object, end: object, *, adjusted: bool, progress: bool | None
    ) -> pd.DataFrame: ...

    def minute_bars(self, symbols: Any, *, progress: bool | None) -> pd.DataFrame: ...


@validate.flags
class UpdateMethods:
    def update(
        self: Updating,
        symbols: str | Iterable[str] = "all",
        intervals: str | Iterable[str] = ("D",),
        *,
        start: object = None,
        adjusted: bool = True,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Bring the bar store up to the latest settled session (18:00 KST on a trading day).

        Parameters
        ----------
        symbols : ``"all"`` (every listed symbol, from :meth:`symbols`), a code or a list.
        intervals : ``"D"`` (daily bars), ``"1m"`` (the latest settled session's 1-min bars),
            or both.
        start : where daily bars of symbols not held yet begin (default: a year ago).
        adjusted : daily bars adjusted (default) or as traded.

        Returns
        -------
        One row per (symbol, interval): ``method`` (``quote``, ``chart``, ``none`` when the
        store was up to date), ``added`` (bars fetched), ``error`` (None, or why not).
        """
        if self.store is None:
            raise ConfigError("update() needs the bar store: this client has store=False")
        wanted = [intervals] if isinstance(intervals, str) else list(intervals)
        for name in wanted:
            validate.choice(name, INTERVALS, "intervals")
        if isinstance(symbols, str) and symbols == "all":
            codes = self.symbols()["symbol"].astype(str).tolist()
        else:
            codes = validate.symbols(symbols)
        today = self.pipeline.today()
        begin = today - timedelta(days=365) if start is None else validate.day(start, "start")
        out: list[pd.DataFrame] = []
        if "D" in wanted:
            out.append(_daily(self, codes, begin, adjusted, progress))
        if "1m" in wanted:
            now = self.pipeline.now()
            day = settled_day(now)
            if latest_session(now) != day:  # a session runs or has not settled: nothing new
                got = pd.DataFrame({"symbol": codes, "method": "none", "added": 0})
            else:
                bars = self.minute_bars(codes, progress=progress)
                got = _outcome(bars, "chart")
            out.append(got.assign(interval="1m"))
        df = pd.concat(out, ignore_index=True) if len(out) > 1 else out[0]
        if "error" not in df:
            df["error"] = None
        df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
        return df[COLUMNS].astype({"added": "int64", "symbol": "str"})


def _outcome(bars: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per symbol of a history/minute_bars frame: bars fetched (not from the store) and the
    error, if any."""
    fresh = (~bars["from_cache"]) & bars["error"].isna()
    per = pd.DataFrame({"symbol": bars["symbol"], "fresh": fresh, "error": bars["error"]})
    grouped = per.groupby("symbol", sort=False)
    errors = grouped["error"].agg(lambda e: next((x for x in e if isinstance(x, str)), None))
    added = grouped["fresh"].sum()
    return pd.DataFrame(
        {
            "symbol": added.index.astype(str),
            "method": [method if n else "none" for n in added],
            "added": added.to_numpy(),
            "error": errors.reindex(added.index).to_numpy(),
        }
    )


def _daily(
    self: Updating, codes: list[str], begin: date, adjusted: bool, progress: bool | None
) -> pd.DataFrame:
    assert self.store is not None
    now = self.pipeline.now()
    settled = settled_day(now)
    dataset = store_bars.daily(adjusted)
    # spans are whole whatever the range; the rows needed are the newest (the close a quote's
    # base price must match), and a symbol held up to the day before is held within a month
    view = self.store.load(dataset, codes, sp.day_key(settled - timedelta(days=31)),
                           sp.day_key(settled))  # fmt: skip
    held_close = view.latest()["close"].to_dict()
    quoted: list[str] = []
    charts: dict[date, list[str]] = {}
    done: list[str] = []
    for code in codes:
        spans = view.spans(code)
        first = sp.key_day(spans[0][0]) if spans else begin
        missing = [
            k for a, b in sp.gaps(spans, sp.day_key(first), sp.day_key(settled))
            for k in range(a, b + 1) if is_trading_day(sp.key_day(k))
        ]  # fmt: skip
        if not missing:
            done.append(code)
        elif (
            spans
            and missing == [sp.day_key(settled)]
            and latest_session(now) == settled
            and code in held_close
        ):
            quoted.append(code)
        else:
            charts.setdefault(first, []).append(code)
    parts = [pd.DataFrame({"symbol": done, "method": "none", "added": 0})]
    if quoted:
        q = self.quotes(quoted, refresh=True, progress=progress)
        close = q.index.map(held_close).to_numpy(dtype=float)
        base = q["base_price"].to_numpy(dtype=float, na_value=float("nan"))
        usable = q["error"].isna().to_numpy() & q["price"].notna().to_numpy()
        usable &= abs(base - close) <= np.maximum(TOLERANCE * close, 2.0)
        by_quote: list[str] = []
        for code, ok in zip(q.index, usable, strict=True):
            if ok:
                by_quote.append(code)
            else:  # no quote, or the reference moved (a capital change): the chart decides
                charts.setdefault(sp.key_day(view.spans(code)[0][0]), []).append(code)
        none = dataset.template.iloc[0:0]
        changes = [
            Change(c, none, (view.spans(c)[-1][1] + 1, sp.day_key(settled))) for c in by_quote
        ]
        self.store.save(dataset, changes, _bars(by_quote, settled, q))
        parts.append(pd.DataFrame({"symbol": by_quote, "method": "quote", "added": 1}))
    for first, group in charts.items():
        bars = self.history(group, first, settled, adjusted=adjusted, progress=progress)
        parts.append(_outcome(bars, "chart"))
    df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts
    ) else parts[0]  # fmt: skip
    order = {c: i for i, c in enumerate(codes)}
    df = df.sort_values("symbol", key=lambda s: s.map(order), kind="stable")
    return df.reset_index(drop=True).assign(interval="D")


def _bars(codes: list[str], day: date, quotes: pd.DataFrame) -> pd.DataFrame:
    """A settled session's daily bars from its quotes (the latest day's raw prices are its
    adjusted ones too), as the store keeps them."""
    q = quotes.loc[codes]
    n = len(codes)
    return pd.DataFrame(
        {
            "symbol": pd.Series(codes, dtype="str"),
            "date": pd.Series([pd.Timestamp(day)] * n, dtype="datetime64[us]"),
            **{c: q[c].to_numpy() for c in ("open", "high", "low")},
            "close": q["price"].to_numpy(),
            "volume": q["volume"].to_numpy(),
            "value_traded": q["value_traded"].to_numpy(),
            "change": q["change"].to_numpy(),
            "change_sign": q["change_sign"].to_numpy(),
            "ex_code": "00",
            "split_rate": 0.0,
            "modified": False,
            "fetched_at": q["fetched_at"].to_numpy(),
        }
    )
