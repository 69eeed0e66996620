"""Bars read from the bar store first, only the gaps fetched: what ``history`` and
``minute_bars`` share (see :mod:`kisresearch.store`).

One call loads, once, the files holding its symbols (a :class:`~kisresearch.store.View`). Each
symbol's batch item fetches the gaps of its coverage within the call's range, at KIS's page
sizes. A finished symbol goes to the store's journal at once, and the journal is merged into
the files at most :data:`FLUSH_SECONDS` apart (each merge rewrites the files it touches, so
one per symbol would cost more than the pull) and when the call ends, also when it is
interrupted: ``kill -9`` loses only the symbols in flight, and a rerun asks only for them.
Bars of a session that has not settled (:func:`~kisresearch.timebase.settled_day`) are
returned but never stored. The frame is what a
cold pull returns: stored rows have ``from_cache`` True, and ``attrs["from_store"]`` counts them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..observe.stats import StatsManager
from ..pipeline.batch import Outcome
from ..pipeline.flow import Fetched, Pipeline
from ..shape import frames
from ..shape.frames import Block, Row
from ..store import BarStore, Dataset, Finished, View
from ..store import spans as sp
from ..store.adjust import rewritten
from ..store.bars import settle
from ._base import pieces, shaped

log = logging.getLogger("kisresearch.store")

FLUSH_SECONDS = 1.0

Pages = Callable[[str, sp.Span], list[Fetched]]  # (code, span of keys) -> its pages
Rows = Callable[[str, Fetched], list[Row]]  # (code, page) -> its data rows


CHECKED = ("date", "close", "change", "modified", "split_rate", "ex_code")  # for adjust


@dataclass
class Pending:
    """A finished symbol in the journal (``entry``), not merged into the files yet."""

    done: Finished
    entry: Path


@dataclass(frozen=True, slots=True)
class Filled(Block):
    """What one symbol's item fetched, shaped, and whether its held bars were dropped (KIS
    rewrote its adjusted history, so the whole span held was fetched again)."""

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
        endpoint: str = "daily",
        page_rows: int = 100,
    ) -> None:
        self.store, self.dataset = store, dataset
        self.lo, self.hi, self.settled = lo, hi, settled
        self.useful = useful  # does a span of keys hold one KIS could have a bar at?
        self.check_adjusted = check_adjusted
        self.slack = slack  # rounding allowed at a seam, in price units
        self.endpoint, self.page_rows = endpoint, page_rows  # for the stats: pages saved
        self._stats: StatsManager | None = None
        self.view = View.empty(dataset) if refresh else store.load(dataset, codes, lo, hi)
        self.resets: set[str] = set()
        self._pending: list[Pending] = []
        self._lock = threading.Lock()
        self._flushed = time.monotonic()
        self._ended = False

    def run(
        self, pipeline: Pipeline, codes: Sequence[str], pages_for: Pages, rows: Rows, desc: str,
        progress: bool | None,
    ) -> list[Outcome[Any, Any]]:  # fmt: skip
        """One batch item per symbol (:meth:`item`); what is pending is written at the end,
        whatever ends the call."""
        self._stats = pipeline.stats
        try:
            return pipeline.run(codes, lambda c: self.item(c, pages_for, rows), desc, progress)
        finally:
            self._ended = True  # items still running after an interrupt write at once
            self.flush()

    def gaps(self, code: str) -> list[sp.Span]:
        return [g for g in sp.gaps(self.view.spans(code), self.lo, self.hi) if self.useful(*g)]

    def item(self, code: str, pages_for: Pages, rows: Rows) -> Filled:
        """Fetch ``code``'s gaps, check its adjusted history, queue what settled."""
        todo = self.gaps(code)
        pages = [p for g in todo for p in pages_for(code, g)]
        if not pages:
            return Filled({}, ())
        reset = False
        held = self.view.of(code)
        if self.check_adjusted and len(held):
            key = self.dataset.key
            checked = [c for c in self.dataset.columns if c.name in CHECKED]
            new = frames.table([r for p in pages for r in rows(code, p)], checked)
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
                self.resets.add(code)
        spans = [(a, min(b, self.settled)) for a, b in todo if a <= min(b, self.settled)]
        if spans:
            self.keep(code, pages, spans, reset, rows)
        got = shaped(code, pages, rows, self.dataset.columns)
        return Filled(got.columns, got.runs, reset)

    def keep(
        self, code: str, pages: list[Fetched], spans: list[sp.Span], reset: bool, rows: Rows
    ) -> None:
        """Journal ``code``'s settled bars at once (``kill -9`` then loses only the symbols in
        flight); merge the journal into the files if the last merge is a while ago."""
        done = Finished(code, [(rows(code, p), p.fetched_at) for p in pages], spans, reset)
        entry = self.store.note(self.dataset, done)
        with self._lock:
            self._pending.append(Pending(done, entry))
        self.flush(due=self._ended)

    def flush(self, due: bool = True) -> None:
        """Merge the journalled symbols into the files (``due=False``: only if the last merge
        is a while ago), their rows typed in one go; then delete their entries."""
        with self._lock:
            if not self._pending or (not due and time.monotonic() - self._flushed < FLUSH_SECONDS):
                return
            taken, self._pending = self._pending, []
            self._flushed = time.monotonic()
        self.store.save(self.dataset, *settle(self.dataset, [w.done for w in taken]))
        for w in taken:
            w.entry.unlink(missing_ok=True)

    def frame(
        self,
        codes: Sequence[str],
        outcomes: Sequence[Outcome[Any, Any]],
        empty: Callable[[str], str],
    ) -> tuple[pd.DataFrame, list[Fetched], int]:
        """The call's frame: fresh rows within ``[lo, hi]``, then the held ones (but a reset
        symbol's); a symbol with neither gets ``empty(code)`` (or its fetch error) as its error.
        Also the pages fetched and the number of rows from the store."""
        key = self.dataset.key
        held = self.view.select([c for c in codes if c not in self.resets], self.lo, self.hi)
        counts = held["symbol"].value_counts().to_dict() if len(held) else {}
        parts, fetched = pieces(outcomes, empty, counts)
        if self._stats is not None:  # pages the store saved are hits, pages fetched misses
            saved = sum(-(-int(n) // self.page_rows) for n in counts.values())
            self._stats.record_cache(self.endpoint, True, saved)
            self._stats.record_cache(self.endpoint, False, len(fetched))
        df = frames.long_frame(parts, self.dataset.columns, key=key, held=held, order=codes)
        if self.resets:  # a reset fetched the whole span held: cut it to the call's range
            keys = self.dataset.keys(df[key].fillna(pd.Timestamp(sp.key_day(self.lo))))
            outside = df[key].notna().to_numpy() & ((keys < self.lo) | (keys > self.hi))
            df = df[~outside].reset_index(drop=True)
        return df, fetched, len(held)
