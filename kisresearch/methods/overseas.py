"""Overseas stocks: ``overseas_quotes`` (HHDFS00000300) and ``overseas_history``
(HHDFS76240000). Symbols are exchange tickers (``"AAPL"``, ``"BRK.B"``, ``"00700"``), one
exchange per call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from ..plan import endpoints as ep
from ..plan import validate
from ..shape import frames
from ..shape.frames import Row
from ..store import bars as store_bars
from ..store import spans as sp
from ..timebase import kst
from ._base import Client, Fetched, one_each, pieces, shaping
from .held import Held


def _day(text: Any) -> date | None:
    try:
        return datetime.strptime(str(text).strip(), "%Y%m%d").date()
    except ValueError:
        return None


def _row(row: Row, exchange: str) -> dict[str, Any]:
    return frames.with_fields(row, _excd=exchange)


@validate.flags
class OverseasMethods:
    def overseas_quotes(
        self: Client,
        symbols: str | Iterable[str],
        exchange: str = "NAS",
        *,
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Current prices of overseas tickers on one exchange: one HHDFS00000300 call each.

        ``exchange`` is KIS's code: ``NAS``, ``NYS``, ``AMS`` (``BAQ``/``BAY``/``BAA`` for
        the US day session), ``HKS``, ``TSE``, ``SHS``, ``SZS``, ``HSX``, ``HNX``. US quotes
        are real time, others 15 minutes late.

        Returns
        -------
        DataFrame indexed by ``symbol`` (str, the ticker) in the order asked:

        - ``exchange`` (str)
        - ``price`` (last), ``prev_close``, ``change`` (signed), ``change_pct`` (float64, in
          the exchange's currency)
        - ``change_sign`` (str: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down)
        - ``volume`` (int64), ``value_traded`` (float64), ``decimals`` (int64: price decimals)
        - ``error``, ``from_cache``, ``fetched_at``: as in :meth:`quotes`
        """
        tickers = validate.tickers(symbols)
        excd = validate.choice(exchange, ep.EXCHANGES, "exchange")

        def one(ticker: str) -> Fetched:
            return self.pipeline.fetch(
                ep.OVERSEAS_QUOTE,
                ep.overseas_quote_params(ticker, excd),
                symbol=ticker,
                use_cache=cache,
                refresh=refresh,
            )

        def extract(answer: Fetched) -> dict[str, Any] | None:
            out = answer.body.get("output")
            if isinstance(out, Mapping) and not frames.blank(out.get("last")):
                return _row(out, excd)
            return None

        each = one_each(self.pipeline.run(tickers, one, "overseas_quotes", progress), extract)
        df = frames.by_symbol(
            tickers,
            each.rows,
            each.errors,
            frames.OVERSEAS_QUOTE_COLUMNS,
            each.from_cache,
            each.fetched_at,
        )
        return self.pipeline.provenance(df, ep.OVERSEAS_QUOTE, each.answers)

    def overseas_history(
        self: Client,
        symbols: str | Iterable[str],
        exchange: str = "NAS",
        *,
        start: object = None,
        end: object = None,
        period: str | None = None,
        interval: str = "D",
        adjusted: bool = True,
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Daily, weekly or monthly bars of overseas tickers over any span (HHDFS76240000,
        100 bars a call, paged back from ``end`` by ``BYMD`` invisibly).

        Parameters
        ----------
        symbols, exchange : as in :meth:`overseas_quotes`.
        start, end, period : as in :meth:`history` (one year by default); dates are the
            exchange's trading dates, and ``"1d"``/``"5d"`` count weekdays (its holidays are not
            known here). ``end=None`` asks KIS for the latest bars.
        interval : ``"D"``, ``"W"`` or ``"M"`` (also ``"1d"``, ``"1wk"``, ``"1mo"``). Week and
            month bars are whole periods (the first may begin before ``start``).
        adjusted : adjusted prices (``MODP=1``) or as traded.
        cache, refresh : as in :meth:`history`; daily bars are read from the bar store first
            and kept there once final (the next day, 10:00 KST).

        Returns
        -------
        A long DataFrame, RangeIndex, sorted by symbol (in the order asked) and date:

        - ``symbol`` (str), ``exchange`` (str), ``date`` (datetime64, no time zone)
        - ``open``, ``high``, ``low``, ``close`` (float64), ``volume`` (int64),
          ``value_traded`` (float64), ``change`` (signed), ``change_pct`` (float64)
        - ``error``, ``from_cache``, ``fetched_at``: as in :meth:`history`
        """
        tickers = validate.tickers(symbols)
        excd = validate.choice(exchange, ep.EXCHANGES, "exchange")
        bar = validate.interval(interval, tuple(ep.OVERSEAS_INTERVALS))
        first, last = validate.span(start, end, period, self.pipeline.today(), _weekday)
        cap = ep.OVERSEAS_DAILY.rows or 100

        def found(page: Fetched) -> list[Row]:
            return frames.rows_of(page.body, "output2", "xymd")

        def rows(_: str, page: Fetched) -> list[Row]:
            out: list[Row] = []
            for r in found(page):
                d = _day(r["xymd"])
                if d is not None and first <= d <= last:
                    out.append(_row(r, excd))
            return out

        def fetch(ticker: str, start: date, page_end: date | None, use: bool) -> list[Fetched]:
            got: list[Fetched] = []
            while True:
                params = ep.overseas_daily_params(ticker, excd, page_end, bar, adjusted)
                page = self.pipeline.fetch(
                    ep.OVERSEAS_DAILY, params, symbol=ticker, use_cache=use, refresh=refresh
                )
                got.append(page)
                dates = [d for r in found(page) if (d := _day(r["xymd"]))]
                following = ep.next_end(dates, cap, bar, start, page_end)
                if following is None:
                    return got
                page_end = following

        def empty(_: str) -> str:
            return f"no bars from {first} to {last}"

        if self.store is not None and cache and bar == "D":
            now = self.pipeline.now()
            today = self.pipeline.today()
            held = Held(
                self.store,
                store_bars.overseas(excd, adjusted),
                tickers,
                sp.day_key(first),
                sp.day_key(min(last, today)),
                sp.day_key(overseas_settled(now)),
                useful=_weekdays_in,
                refresh=refresh,
                check_adjusted=adjusted,
                slack=0.02,
                endpoint=ep.OVERSEAS_DAILY.name,
                page_rows=cap,
            )

            def pages(ticker: str, span: sp.Span) -> list[Fetched]:
                return fetch(ticker, sp.key_day(span[0]), sp.key_day(span[1]), False)

            outcomes = held.run(self.pipeline, tickers, pages, rows, "overseas_history", progress)
            df, fetched, from_store = held.frame(tickers, outcomes, empty)
            return self.pipeline.provenance(df, ep.OVERSEAS_DAILY, fetched, from_store=from_store)

        def cold(ticker: str) -> list[Fetched]:
            return fetch(ticker, first, None if end is None else last, cache)

        item = shaping(cold, rows, frames.OVERSEAS_DAILY_COLUMNS)
        outcomes = self.pipeline.run(tickers, item, "overseas_history", progress)
        parts, fetched = pieces(outcomes, empty)
        df = frames.long_frame(parts, frames.OVERSEAS_DAILY_COLUMNS, key="date")
        return self.pipeline.provenance(df, ep.OVERSEAS_DAILY, fetched)


def overseas_settled(now: float) -> date:
    """The latest exchange date whose daily bar is final by ``now``: the day after it, 10:00
    KST, every exchange KIS serves has closed it (New York's after-hours included)."""
    return (kst(now) - timedelta(hours=34)).date()


def _weekday(day: date) -> bool:
    return day.weekday() < 5


def _weekdays_in(a: int, b: int) -> bool:
    return any(_weekday(sp.key_day(k)) for k in range(a, min(b, a + 6) + 1))
