"""Dated series for many symbols, paged past KIS's row caps: ``history``, ``minute_bars``,
``investors``.

One batch item per symbol: a symbol's pages are fetched in order inside its item (each page
depends on the one before), every page through ``pipeline.fetch`` (its own cache entry, its own slot
of the rate limit), while symbols run in parallel. A page stored in the cache stays there if a run
is interrupted, so running the same call again fetches only what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..plan import endpoints as ep
from ..plan import validate
from ..shape import frames
from ..shape.frames import Row
from ..store import bars as store_bars
from ..store import spans as sp
from ..timebase import is_trading_day, latest_session, settled_day
from ._base import Client, Fetched, pieces, shaping
from .held import Held


def _day(text: Any) -> date | None:
    try:
        return datetime.strptime(str(text).strip(), "%Y%m%d").date()
    except ValueError:
        return None


def _hms(text: Any) -> time | None:
    try:
        return datetime.strptime(str(text).strip(), "%H%M%S").time()
    except ValueError:
        return None


def _trading_days_in(a: int, b: int) -> bool:
    """Whether day keys ``[a, b]`` hold a KRX trading day."""
    return any(is_trading_day(sp.key_day(k)) for k in range(a, b + 1))


@validate.flags
class BarMethods:
    def history(
        self: Client,
        symbols: str | Iterable[str],
        start: object = None,
        end: object = None,
        period: str | None = None,
        interval: str = "D",
        adjusted: bool = True,
        *,
        market: str = "J",
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Daily, weekly, monthly or yearly bars over any span (FHKST03010100).

        KIS returns at most 100 bars a call; longer spans are paged back from ``end``
        invisibly (two years of daily bars: 5 calls a symbol). Symbols run in parallel under
        the rate limit. Daily bars are read from the bar store first (:attr:`KIS.store`,
        :mod:`kisresearch.store`): only the days it does not hold are asked, settled sessions
        are kept (a session still running is asked on every call: its bar is still changing),
        and a symbol whose adjusted history KIS has rewritten (a split) is fetched
        again; weekly, monthly and yearly bars go through the response cache only.

        Parameters
        ----------
        symbols : a code or a list/Series/Index of six-character codes.
        start, end : ``"2024-01-31"``, ``"20240131"``, ``date``, ``datetime`` or
            ``pd.Timestamp``; ``end=None`` (and any end after today) is today in KST.
        period : instead of ``start``, a span back from ``end`` in yfinance's words: ``"1d"``,
            ``"5d"`` (the latest 1 or 5 KRX trading days), ``"1mo"``, ``"3mo"``, ``"6mo"``,
            ``"1y"``, ``"2y"``, ``"5y"``, ``"10y"`` (from the same calendar day), ``"ytd"``,
            ``"max"`` (:data:`kisresearch.plan.validate.PERIODS`). Neither ``start`` nor
            ``period``: one year (``"1y"``); both: an error.
        interval : ``"D"``, ``"W"``, ``"M"`` or ``"Y"`` (also ``"1d"``, ``"1wk"``, ``"1mo"``). A
            week/month/year bar is dated by its last trading day in the range; the first one
            covers only the days from ``start``.
        adjusted : prices and volumes adjusted for splits and other capital changes
            (``FID_ORG_ADJ_PRC=0``), or as traded (``False``).
        cache, refresh : ``cache=False`` skips the cache and the bar store; ``refresh=True``
            fetches anew (and rewrites what the store holds for the range).

        Returns
        -------
        A long DataFrame, RangeIndex, sorted by symbol (in the order asked) and date:

        - ``symbol`` (str), ``date`` (datetime64, the trading day; no time zone)
        - ``open``, ``high``, ``low``, ``close``, ``volume`` (shares), ``value_traded`` (KRW),
          ``change`` (vs the previous bar's close) (int64)
        - ``change_sign`` (str: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down),
          ``ex_code`` (str, KIS ``flng_cls_code``: 00 none, 01 ex-rights, 02 ex-dividend, ...),
          ``split_rate`` (float64, ``prtt_rate``), ``modified`` (bool: the bar was adjusted)
        - ``error`` (object): None on data rows. A symbol with no bars in the range (unknown,
          not yet listed, a holiday-only range, a KIS error) is one row with ``date`` NaT,
          values missing (integer columns then nullable Int64, ``modified`` nullable boolean)
          and ``error`` saying why
        - ``from_cache`` (bool), ``fetched_at`` (datetime64 Asia/Seoul) of the page holding the row

        ``df.attrs`` holds ``endpoint``, ``tr_id``, ``env``, ``fetched_at``, ``answers`` (pages
        fetched), ``from_cache`` (pages from the cache) and, for daily bars, ``from_store`` (rows
        read from the bar store; those rows have ``from_cache`` True).
        """
        codes = validate.symbols(symbols)
        bar = validate.interval(interval, ep.INTERVALS)
        market = validate.choice(market, ep.MARKETS, "market")
        first, last = validate.span(start, end, period, self.pipeline.today(), is_trading_day)
        cap = ep.DAILY.rows or 100

        def rows(_: str, page: Fetched) -> list[Row]:
            return frames.rows_of(page.body, "output2", "stck_bsop_date")

        def fetch(code: str, start: date, end: date, use_cache: bool) -> list[Fetched]:
            got: list[Fetched] = []
            page_end: date | None = end
            while page_end is not None:
                params = ep.daily_params(code, start, page_end, bar, adjusted, market)
                page = self.pipeline.fetch(
                    ep.DAILY, params, symbol=code, use_cache=use_cache, refresh=refresh
                )
                got.append(page)
                dates = [d for r in rows(code, page) if (d := _day(r["stck_bsop_date"]))]
                page_end = ep.next_end(dates, cap, bar, start, page_end)
            return got

        def empty(_: str) -> str:
            return f"no bars from {first} to {last}"

        if self.store is not None and cache and bar == "D":
            now = self.pipeline.now()
            held = Held(
                self.store,
                store_bars.daily(adjusted),
                codes,
                sp.day_key(first),
                sp.day_key(min(last, latest_session(now))),
                sp.day_key(settled_day(now)),
                useful=_trading_days_in,
                refresh=refresh,
                check_adjusted=adjusted,
                endpoint=ep.DAILY.name,
                page_rows=cap,
            )

            def pages(code: str, span: sp.Span) -> list[Fetched]:
                return fetch(code, sp.key_day(span[0]), sp.key_day(span[1]), False)

            outcomes = held.run(self.pipeline, codes, pages, rows, "history", progress)
            df, fetched, from_store = held.frame(codes, outcomes, empty)
            return self.pipeline.provenance(df, ep.DAILY, fetched, from_store=from_store)

        item = shaping(lambda c: fetch(c, first, last, cache), rows, frames.DAILY_COLUMNS)
        outcomes = self.pipeline.run(codes, item, "history", progress)
        parts, fetched = pieces(outcomes, empty)
        df = frames.long_frame(parts, frames.DAILY_COLUMNS, key="date")
        return self.pipeline.provenance(df, ep.DAILY, fetched)

    def minute_bars(
        self: Client,
        symbols: str | Iterable[str],
        date: object = None,
        start: object = None,
        end: object = None,
        *,
        market: str = "J",
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """1-minute bars of one session, paged past KIS's row caps.

        ``date=None`` reads the latest session with FHKST03010200, 30 bars a call (a whole
        session is 14 calls a symbol): today's, or before the open and on days without
        trading the last one, as KIS answers. ``date=today`` is today's session only. A past
        ``date`` uses FHKST03010230, 120 bars a call (4 a session): real accounts only (KIS
        keeps about a year), so on a paper account it raises before any request, unless the bar
        store holds the whole window. Sessions that have settled (18:00 KST) are read from and
        kept in the bar store, so only minutes it does not hold are asked; ``attrs["from_store"]``
        counts the rows read from it.

        Parameters
        ----------
        date : the trading day (see :meth:`history` for the accepted forms), or None.
        start, end : times of day in KST (``"10:30"``, ``"103000"``, ``datetime.time``);
            default the whole session, 09:00 to 15:30.

        Returns
        -------
        A long DataFrame, RangeIndex, sorted by symbol (in the order asked) and time:

        - ``symbol`` (str), ``time`` (datetime64 Asia/Seoul: the bar's minute)
        - ``open``, ``high``, ``low``, ``close``, ``volume`` (shares in the minute),
          ``cum_value_traded`` (KRW traded that day up to the bar) (int64); prices as traded
        - ``error``, ``from_cache``, ``fetched_at``: as in :meth:`history`; a symbol without
          bars in the window is one row with ``time`` NaT and ``error`` set
        """
        codes = validate.symbols(symbols)
        market = validate.choice(market, ep.MARKETS, "market")
        now = self.pipeline.now()
        today = self.pipeline.today()
        day = None if date is None else validate.day(date, "date")
        if day is not None and day > today:
            raise ConfigError(f"date={date!r} is in the future (today is {today} in KST)")
        past = day is not None and day < today
        endpoint = ep.MINUTE_PAST if past else ep.MINUTE
        first = ep.SESSION_OPEN if start is None else validate.time_of_day(start, "start")
        last = ep.SESSION_CLOSE if end is None else validate.time_of_day(end, "end")
        if first > last:
            raise ConfigError(f"start={start!r} is after end={end!r}")
        cap = endpoint.rows or 30
        wanted: dict[str, str] = {}  # code -> the session day (YYYYMMDD) its rows must have
        session = day or latest_session(now)
        held: Held | None = None
        if self.store is not None and cache and session <= settled_day(now):
            held = Held(
                self.store,
                store_bars.MINUTE,
                codes,
                sp.minute_key(session, first),
                sp.minute_key(session, last),
                sp.minute_key(session, last),
                useful=lambda a, b: True,
                refresh=refresh,
                endpoint=endpoint.name,
                page_rows=cap,
            )
            wanted.update(dict.fromkeys(codes, ep.ymd(session)))
        if held is None or any(held.gaps(c) for c in codes):
            endpoint.check_env(self.env, "minute_bars for a past day")

        def rows(code: str, page: Fetched) -> list[Row]:
            session = wanted.get(code)
            out: list[Row] = []
            for r in frames.rows_of(page.body, "output2", "stck_cntg_hour"):
                t = _hms(r["stck_cntg_hour"])
                if t is None or str(r.get("stck_bsop_date", "")).strip() != session:
                    continue  # another day's bars (KIS may add the previous session's)
                if first <= t <= last:
                    out.append(frames.with_fields(r, _time=frames.minute_stamp(r)))
            return out

        def fetch(code: str, start: time, end: time, use_cache: bool) -> list[Fetched]:
            got: list[Fetched] = []
            hour: time | None = end
            while hour is not None:
                params = ep.minute_params(code, hour, day if past else None, market)
                page = self.pipeline.fetch(
                    endpoint, params, symbol=code, use_cache=use_cache, refresh=refresh
                )
                got.append(page)
                found = frames.rows_of(page.body, "output2", "stck_cntg_hour")
                if code not in wanted:
                    wanted[code] = (
                        ep.ymd(day)
                        if day
                        else (str(found[0].get("stck_bsop_date", "")).strip() if found else "")
                    )
                times = [
                    t
                    for r in found
                    if str(r.get("stck_bsop_date", "")).strip() == wanted[code]
                    and (t := _hms(r["stck_cntg_hour"])) is not None
                ]
                hour = ep.next_hour(times, cap, start, hour)
            return got

        label = str(day) if past else "the current session"

        def empty(_: str) -> str:
            return f"no 1-min bars for {label} between {first:%H:%M} and {last:%H:%M}"

        if held is not None:
            store = held

            def pages(code: str, span: sp.Span) -> list[Fetched]:
                a, b = sp.key_minute(span[0]).time(), sp.key_minute(span[1]).time()
                return fetch(code, a, b, False)

            outcomes = store.run(self.pipeline, codes, pages, rows, "minute_bars", progress)
            df, fetched, from_store = store.frame(codes, outcomes, empty)
            return self.pipeline.provenance(df, endpoint, fetched, from_store=from_store)

        item = shaping(lambda c: fetch(c, first, last, cache), rows, frames.MINUTE_COLUMNS)
        outcomes = self.pipeline.run(codes, item, "minute_bars", progress)
        parts, fetched = pieces(outcomes, empty)
        df = frames.long_frame(parts, frames.MINUTE_COLUMNS, key="time")
        return self.pipeline.provenance(df, endpoint, fetched)

    def investors(
        self: Client,
        symbols: str | Iterable[str],
        *,
        market: str = "J",
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Daily net buying by individuals, foreigners and institutions over the last
        trading days KIS keeps for this TR (about 30): one FHKST01010900 call per symbol.

        Returns
        -------
        A long DataFrame, RangeIndex, sorted by symbol (in the order asked) and date:

        - ``symbol`` (str), ``date`` (datetime64), ``close``, ``change`` (int64)
        - for ``who`` in ``individual``, ``foreign``, ``institution``: ``{who}_net`` (net
          shares bought), ``{who}_buy``, ``{who}_sell`` (shares), ``{who}_net_value_mkrw``
          (net value, million KRW), all nullable Int64: KIS fills today's row only after the
          close, so before that its investor columns are <NA>
        - ``error``, ``from_cache``, ``fetched_at``: as in :meth:`history`
        """
        codes = validate.symbols(symbols)
        market = validate.choice(market, ep.MARKETS, "market")

        def fetch(code: str) -> list[Fetched]:
            return [
                self.pipeline.fetch(
                    ep.INVESTORS,
                    ep.symbol_params(code, market),
                    symbol=code,
                    use_cache=cache,
                    refresh=refresh,
                )
            ]

        def rows(_: str, page: Fetched) -> list[Row]:
            return frames.rows_of(page.body, "output", "stck_bsop_date")

        item = shaping(fetch, rows, frames.INVESTOR_COLUMNS)
        outcomes = self.pipeline.run(codes, item, "investors", progress)
        parts, fetched = pieces(outcomes, lambda _: "no investor data")
        df = frames.long_frame(parts, frames.INVESTOR_COLUMNS, key="date")
        return self.pipeline.provenance(df, ep.INVESTORS, fetched)
