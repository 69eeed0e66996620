"""Bars read from the bar store first, only the gaps fetched: what ``history`` and
``minute_bars`` share (see :mod:`kisresearch.store`).

One call loads, once, the files holding its symbols (a :class:`~kisresearch.store.View`). Each
symbol's batch item fetches the gaps of its coverage within the call's range, at KIS's page
sizes, and saves them as soon as they are in: an interrupted pull keeps every symbol it
finished, and a rerun asks only for the rest. Bars of a session that has not settled
(:func:`~kisresearch.timebase.settled_day`) are returned but never stored. The frame is what a
cold pull returns: stored rows have ``from_cache`` True, and ``attrs["from_store"]`` counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..pipeline.flow import Fetched
from ..shape import frames
from ..shape.frames import Piece, Row
from ..store import BarStore, Change, Dataset, View
from ..store import spans as sp
from ..store.adjust import rewritten
from ._base import NO_ANSWER, describe

log = logging.getLogger("kisresearch.store")

Pages = Callable[[str, sp.Span], list[Fetched]]  # (code, span of keys) -> its pages
Rows = Callable[[str, Fetched], list[Row]]  # (code, page) -> its data rows


@dataclass
class Filled:
    """What one symbol's item fetched: its pages, and whether its held bars were dropped
    (KIS rewrote its adjusted history, so the whole span held was fetched again)."""

    pages: list[Fetched]
    reset: bool = False


class Held:
    """One call's use of the store for one dataset, over keys ``[lo, hi]``."""

    def __init__(
        self,
        store: BarStore,
        dataset: Dataset,
        codes: Sequence[str],
        lo: int,
        hi: int,
        settled: int,
        *,
        useful: Callable[[int, int], bool],
        refresh: bool = False,
        check_adjusted: bool = False,
        slack: float = 2.0,
    ) -> None:
        self.store, self.dataset = store, dataset
        self.lo, self.hi, self.settled = lo, hi, settled
        self.useful = useful  # does a span of keys hold one KIS could have a bar at?
        self.check_adjusted = check_adjusted
        self.slack = slack  # rounding allowed at a seam, in price units
        self.refresh = refresh
        self.view = (
            View(dataset, {}, dataset.template.iloc[0:0])
            if refresh
            else store.load(dataset, codes, lo, hi)
        )
        self.resets: set[str] = set()

    def gaps(self, code: str) -> list[sp.Span]:
        return [g for g in sp.gaps(self.view.spans(code), self.lo, self.hi) if self.useful(*g)]

    def typed(self, code: str, pages: Sequence[Fetched], rows: Rows) -> pd.DataFrame:
        """The rows of ``pages`` as the store keeps them."""
        parts = [Piece(code, rows(code, p), False, p.fetched_at) for p in pages]
        df = frames.long_frame(parts, self.dataset.columns, key=self.dataset.key)
        return df.drop(columns=["error", "from_cache"])

    def item(self, code: str, pages_for: Pages, rows: Rows) -> Filled:
        """Fetch ``code``'s gaps, check its adjusted history, save what settled."""
        todo = self.gaps(code)
        pages = [p for g in todo for p in pages_for(code, g)]
        if not pages:
            return Filled([])
        new = self.typed(code, pages, rows)
        reset = False
        held = self.view.of(code)
        if self.check_adjusted and len(held) and len(new):
            key = self.dataset.key
            why = rewritten(
                held, new, self.dataset.keys(held[key]), self.dataset.keys(new[key]),
                [*self.view.spans(code), *todo], self.slack,
            )  # fmt: skip
            if why:
                span = (min(self.lo, self.view.spans(code)[0][0]), self.hi)
                log.info(
                    "bar store: KIS rewrote %s's adjusted history (%s): fetching it again",
                    code,
                    why,
                )
                pages, todo, reset = pages_for(code, span), [span], True
                new = self.typed(code, pages, rows)
                self.resets.add(code)
        self.save(code, new, todo, reset)
        return Filled(pages, reset)

    def save(self, code: str, rows: pd.DataFrame, spans: Sequence[sp.Span], reset: bool) -> None:
        """Keep ``rows`` as ``code``'s bars in ``spans``, cut at the last settled key."""
        keys = self.dataset.keys(rows[self.dataset.key]) if len(rows) else np.zeros(0)
        changes: list[Change] = []
        for a, b in spans:
            b = min(b, self.settled)
            if a > b:
                continue
            inside = (keys >= a) & (keys <= b)
            part = rows[inside] if len(rows) else rows
            changes.append(Change(code, part.reset_index(drop=True), (a, b), reset and not changes))
        if changes:
            self.store.save(self.dataset, changes)

    def frame(
        self,
        codes: Sequence[str],
        outcomes: Sequence[object],
        rows: Rows,
        empty: Callable[[str], str],
    ) -> tuple[pd.DataFrame, list[Fetched], int]:
        """The call's frame: fresh rows within ``[lo, hi]``, then the held ones (but a reset
        symbol's); a symbol with neither gets ``empty(code)`` (or its fetch error) as its error.
        Also the pages fetched and the number of rows from the store."""
        key = self.dataset.key
        held = self.view.select([c for c in codes if c not in self.resets], self.lo, self.hi)
        counts = held["symbol"].value_counts().to_dict() if len(held) else {}
        pieces: list[Piece] = []
        fetched: list[Fetched] = []
        for outcome in outcomes:
            code = str(getattr(outcome, "item", ""))
            error = getattr(outcome, "error", None)
            got = getattr(outcome, "value", None)
            if error is not None or not isinstance(got, Filled):
                pieces.append(Piece(code, error=describe(error) or NO_ANSWER))
                continue
            found = 0
            for page in got.pages:
                fetched.append(page)
                got_rows = rows(code, page)
                found += len(got_rows)
                pieces.append(Piece(code, got_rows, page.from_cache, page.fetched_at))
            if not found and not counts.get(code):
                pieces.append(Piece(code, error=empty(code)))
        df = frames.long_frame(pieces, self.dataset.columns, key=key, held=held, order=codes)
        if self.resets:  # a reset fetched the whole span held: cut it to the call's range
            keys = self.dataset.keys(df[key].fillna(pd.Timestamp(sp.key_day(self.lo))))
            outside = df[key].notna().to_numpy() & ((keys < self.lo) | (keys > self.hi))
            df = df[~outside].reset_index(drop=True)
        return df, fetched, len(held)
