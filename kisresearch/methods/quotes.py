"""The current state of many symbols: ``quotes`` and ``orderbook``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..plan import endpoints as ep
from ..plan import validate
from ..shape import frames
from ..shape.markets import with_market
from ._base import NO_ANSWER, Client, Fetched, describe, one_each

MULTIQUOTE_SIZE = 30


@validate.flags
class QuoteMethods:
    def quotes(
        self: Client,
        symbols: str | Iterable[str],
        *,
        detail: bool = False,
        market: str = "J",
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Current prices for many symbols.

        By default one intstock-multprice call (FHKST11300006) per 30 symbols;
        ``detail=True`` makes one inquire-price call (FHKST01010100) per symbol and adds
        valuation columns. ``cache=False`` skips the cache, ``refresh=True`` fetches anew
        and stores the answer.

        Returns
        -------
        DataFrame indexed by ``symbol`` (str) in the order asked, duplicates collapsed.
        Integer columns are int64, flags bool (nullable Int64 / boolean when a row has no
        value), ``*_pct`` and ratios float64, dates datetime64; the missing value of each is
        in README's "Conventions".

        - both: ``price``, ``change``, ``change_sign`` (str: 1 upper limit, 2 up, 3 flat,
          4 lower limit, 5 down), ``change_pct``, ``open``, ``high``, ``low``, ``base_price``,
          ``upper_limit``, ``lower_limit``, ``volume``, ``value_traded`` (KRW)
        - default: ``name``, ``market`` (KOSPI, KOSDAQ, KONEX), ``market_kr`` (KIS's label:
          코스피, 코스닥, 코넥스), ``prev_close``, ``ask``, ``bid``, ``ask_size``,
          ``bid_size``, ``total_ask_size``, ``total_bid_size``
        - ``detail=True``: ``sector``, ``turnover_pct``, ``per``, ``pbr``, ``eps``, ``bps``,
          ``market_cap_100m_krw`` (hundred-million KRW), ``listed_shares``, ``foreign_pct``,
          ``w52_high``, ``w52_high_date``, ``w52_low``, ``w52_low_date``, ``tick_size``,
          ``status_code``, ``halted`` (bool)
        - ``error`` (object): None, or why the row has no data (unknown symbol, KIS error...)
        - ``from_cache`` (bool), ``fetched_at`` (datetime64 Asia/Seoul; NaT without an answer)

        ``df.attrs`` holds ``endpoint``, ``tr_id``, ``env``, ``fetched_at``, ``answers`` (calls
        or pages behind the frame) and ``from_cache`` (how many of them came from the cache).
        """
        codes = validate.symbols(symbols)
        market = validate.choice(market, ep.MARKETS, "market")
        if detail:

            def plan(code: str) -> tuple[ep.Endpoint, dict[str, str]]:
                return ep.QUOTE, ep.symbol_params(code, market)

            def one(code: str) -> Fetched:
                return self.pipeline.fetch(
                    *plan(code), symbol=code, use_cache=cache, refresh=refresh
                )

            each = one_each(self.pipeline.run(codes, one, "quotes", progress, plan), _price)
            df = frames.by_symbol(
                codes,
                each.rows,
                each.errors,
                frames.QUOTE_COLUMNS,
                each.from_cache,
                each.fetched_at,
            )
            return self.pipeline.provenance(df, ep.QUOTE, each.answers)

        rows: dict[str, Mapping[str, Any] | None] = dict.fromkeys(codes)
        errors: dict[str, str | None] = dict.fromkeys(codes)
        source: dict[str, Fetched | None] = dict.fromkeys(codes)
        fetched: list[Fetched] = []
        chunks = [codes[i : i + MULTIQUOTE_SIZE] for i in range(0, len(codes), MULTIQUOTE_SIZE)]

        def plan_many(chunk: list[str]) -> tuple[ep.Endpoint, dict[str, str]]:
            params: dict[str, str] = {}
            for n, code in enumerate(chunk, 1):
                params[f"FID_COND_MRKT_DIV_CODE_{n}"] = market
                params[f"FID_INPUT_ISCD_{n}"] = code
            return ep.MULTIQUOTE, params

        def many(chunk: list[str]) -> Fetched:
            return self.pipeline.fetch(*plan_many(chunk), use_cache=cache, refresh=refresh)

        for out in self.pipeline.run(chunks, many, "quotes", progress, plan_many, size=len):
            got = out.value
            if out.error is not None or not isinstance(got, Fetched):
                for code in out.item:
                    errors[code] = describe(out.error) or NO_ANSWER
                continue
            fetched.append(got)
            by_code = {
                str(r.get("inter_shrn_iscd", "")).strip(): r
                for r in frames.rows_of(got.body, "output", "inter_shrn_iscd")
            }
            for code in out.item:
                rows[code] = by_code.get(code)
                if rows[code] is None:
                    errors[code] = NO_ANSWER
                else:
                    source[code] = got

        df = frames.by_symbol(
            codes,
            [rows[c] for c in codes],
            [errors[c] for c in codes],
            frames.MULTIQUOTE_COLUMNS,
            [bool(s and s.from_cache) for s in source.values()],
            [s.fetched_at if s else None for s in source.values()],
        )
        return self.pipeline.provenance(with_market(df), ep.MULTIQUOTE, fetched)

    def orderbook(
        self: Client,
        symbols: str | Iterable[str],
        *,
        wide: bool = False,
        market: str = "J",
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Ten ask and bid levels per symbol: one inquire-asking-price-exp-ccn call
        (FHKST01010200) per symbol.

        The default is long, one row per (symbol, level), because depth analysis groups and
        filters by level (``df[df.level <= 3].groupby("symbol").ask_size.sum()``) and plots a
        book with one ``pivot``; ``wide=True`` gives one row per symbol, with the totals and the
        expected auction price KIS adds.

        Returns
        -------
        Long (default): a DataFrame with a RangeIndex, sorted by symbol (order asked), level:

        - ``symbol`` (str), ``level`` (int64: 1 = best, 10 = deepest)
        - ``ask``, ``ask_size``, ``bid``, ``bid_size`` (int64; 0 where KIS has no level, e.g.
          beyond the daily price limits)
        - ``time`` (datetime64 Asia/Seoul): when KIS took the book. KIS sends the time of day
          only; the date is the fetch's KST date, or the weekday before when that time had not
          come yet (a book fetched before the open is the last session's; holidays are not
          known to the client)
        - ``error`` (object), ``from_cache`` (bool), ``fetched_at`` (datetime64 Asia/Seoul)

        A symbol without a book (unknown, error) is one row with its values missing (the
        integer columns are then nullable Int64) and ``error`` set.

        Wide: indexed by ``symbol``: ``ask_1`` .. ``ask_10``, ``ask_size_1`` .. ``ask_size_10``,
        ``bid_1`` .. ``bid_10``, ``bid_size_1`` .. ``bid_size_10``, ``total_ask_size``,
        ``total_bid_size``, ``price`` (last), ``expected_price``, ``expected_volume`` (the
        auction's expected fill; 0 in the continuous session), all int64; ``time``, ``error``,
        ``from_cache``, ``fetched_at`` as above.

        ``df.attrs`` holds the provenance (see :meth:`quotes`).
        """
        codes = validate.symbols(symbols)
        market = validate.choice(market, ep.MARKETS, "market")

        def one(code: str) -> Fetched:
            return self.pipeline.fetch(
                ep.ORDERBOOK,
                ep.symbol_params(code, market),
                symbol=code,
                use_cache=cache,
                refresh=refresh,
            )

        each = one_each(self.pipeline.run(codes, one, "orderbook", progress), _book)
        if wide:
            df = frames.by_symbol(
                codes,
                each.rows,
                each.errors,
                frames.BOOK_WIDE_COLUMNS,
                each.from_cache,
                each.fetched_at,
            )
        else:
            parts = [
                frames.Piece(code, frames.book_levels(book, book.get("_time")), cached, at)
                if book is not None
                else frames.Piece(code, error=error or NO_ANSWER)
                for code, book, error, cached, at in zip(
                    codes, each.rows, each.errors, each.from_cache, each.fetched_at, strict=True
                )
            ]
            df = frames.long_frame(parts, frames.BOOK_COLUMNS, key="level")
        return self.pipeline.provenance(df, ep.ORDERBOOK, each.answers)


def _price(answer: Fetched) -> Mapping[str, Any] | None:
    out = answer.body.get("output")
    return out if isinstance(out, Mapping) and not frames.blank(out.get("stck_prpr")) else None


def _book(answer: Fetched) -> dict[str, Any] | None:
    """``output1`` and ``output2`` of an order book in one row, plus ``_time``; None if the
    answer holds no book."""
    out1, out2 = answer.body.get("output1"), answer.body.get("output2")
    if not isinstance(out1, Mapping) or frames.blank(out1.get("askp1")):
        return None
    stamp = frames.book_stamp(out1.get("aspr_acpt_hour"), answer.fetched_at)
    return {**(out2 if isinstance(out2, Mapping) else {}), **out1, "_time": stamp}
