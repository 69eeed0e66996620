"""The bar store: which bars are held, for which spans, and reading and writing them.

Layout under the store folder (``store=`` / ``KIS_STORE``, default ``<toolkit folder>/store``),
one folder per data source (``kis`` for KIS's servers, ``sim-<seed>`` for a simulator):

- ``daily/adjusted/part-NN.parquet``, ``daily/raw/part-NN.parquet``: domestic daily bars, the
  symbols spread over 64 files by a hash of the code;
- ``minute/<symbol>/<YYYY-MM>.parquet``: domestic 1-min bars (as traded), a file per month;
- ``overseas/<EXCD>/daily/{adjusted,raw}/part-NN.parquet``: overseas daily bars.

Each folder reads as one dataset: ``pd.read_parquet(".../daily/adjusted")``, or
``pyarrow.dataset``, ``polars.scan_parquet(".../*.parquet")``, DuckDB's ``read_parquet``. The
columns are those of :meth:`KIS.history` / :meth:`KIS.minute_bars` /
:meth:`KIS.overseas_history` without ``error`` and ``from_cache``: ``symbol``, the bar's
``date`` (or ``time``), its values, and ``fetched_at`` (Asia/Seoul, when KIS answered).
Coverage (the spans asked and answered, bars or none) is in each file's metadata under
``kisresearch``.

A pull writes each finished symbol at once to the dataset's journal (``_journal/*.entry``: its
rows as KIS sent them, JSON; hidden from dataset readers by the ``_``) and merges the journal
into the files about once a second and when it ends; :class:`BarStore` reads the journal on
top of the files.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import locked
from ..shape import frames
from ..shape.frames import Col
from . import files
from . import spans as sp

log = logging.getLogger("kisresearch.store")
T = TypeVar("T")

BUCKETS = 64
JOURNAL = "_journal"  # in each dataset's folder: finished symbols not merged yet
STALE_AFTER = 60.0  # seconds: an older journal entry's pull died; the next load merges it
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class Dataset:
    """One kind of bars: a folder, its columns (as in the frames) and its key column."""

    folder: str
    columns: tuple[Col, ...]
    key: str  # "date" (keys are day ordinals) or "time" (minute ordinals, KST wall time)

    @property
    def monthly(self) -> bool:
        return self.key == "time"

    @cached_property
    def template(self) -> pd.DataFrame:
        """An empty frame with the stored columns and dtypes."""
        empty = frames.long_frame([], self.columns, key=self.key)
        return empty.drop(columns=["error", "from_cache"])

    def keys(self, values: pd.Series) -> np.ndarray:
        """The integer keys of a key column (see :mod:`.spans`)."""
        if self.monthly:
            wall = values.dt.tz_localize(None).to_numpy().astype("datetime64[m]").astype(np.int64)
            return wall + _EPOCH_ORDINAL * sp.MINUTES_A_DAY
        return values.to_numpy().astype("datetime64[D]").astype(np.int64) + _EPOCH_ORDINAL

    def path(self, symbol: str, key: int) -> str:
        """The file (relative to the source folder) holding ``symbol``'s bars at ``key``."""
        if self.monthly:
            day = sp.key_day(key // sp.MINUTES_A_DAY)
            return f"{self.folder}/{symbol}/{day:%Y-%m}.parquet"
        return f"{self.folder}/part-{zlib.crc32(symbol.encode()) % BUCKETS:02d}.parquet"

    def paths(self, symbol: str, start: int, end: int) -> list[str]:
        if not self.monthly:
            return [self.path(symbol, start)]
        first, last = sp.key_day(start // sp.MINUTES_A_DAY), sp.key_day(end // sp.MINUTES_A_DAY)
        months = pd.period_range(f"{first:%Y-%m}", f"{last:%Y-%m}", freq="M")
        return [f"{self.folder}/{symbol}/{m.strftime('%Y-%m')}.parquet" for m in months]


def daily(adjusted: bool) -> Dataset:
    return Dataset(f"daily/{'adjusted' if adjusted else 'raw'}", frames.DAILY_COLUMNS, "date")


MINUTE = Dataset("minute", frames.MINUTE_COLUMNS, "time")


def overseas(exchange: str, adjusted: bool) -> Dataset:
    kind = "adjusted" if adjusted else "raw"
    return Dataset(f"overseas/{exchange}/daily/{kind}", frames.OVERSEAS_DAILY_COLUMNS, "date")


@dataclass
class Change:
    """New bars of one symbol: ``rows`` (typed, within ``span``) replace what was held in
    ``span``; ``reset`` first drops everything held for the symbol (adjusted bars rewritten)."""

    symbol: str
    rows: pd.DataFrame
    span: sp.Span
    reset: bool = False


Raw = Mapping[str, Any]  # a row as KIS sent it


@dataclass
class Finished:
    """A symbol a pull has fetched: its rows as KIS sent them, page by page with each page's
    fetch time, the spans they answer, and whether they replace everything held."""

    symbol: str
    pages: list[tuple[list[Raw], float]]
    spans: list[sp.Span]
    reset: bool = False


def settle(dataset: Dataset, done: Sequence[Finished]) -> tuple[list[Change], pd.DataFrame | None]:
    """What :meth:`BarStore.save` takes for finished symbols: their changes, and their rows
    typed in one go, only those inside the spans (pages may reach past a gap)."""
    pieces = [frames.Piece(d.symbol, rows, False, at) for d in done for rows, at in d.pages]
    got = frames.long_frame(pieces, dataset.columns, key=dataset.key)
    got = got[got[dataset.key].notna()].drop(columns=["error", "from_cache"])
    keys = dataset.keys(got[dataset.key]) if len(got) else np.zeros(0, dtype=np.int64)
    at = got.groupby("symbol", sort=False).indices if len(got) else {}
    none = dataset.template.iloc[0:0]
    changes: list[Change] = []
    keep: list[np.ndarray] = []
    for d in done:
        changes += [
            Change(d.symbol, none, span, d.reset and n == 0) for n, span in enumerate(d.spans)
        ]
        mine = at.get(d.symbol)
        if mine is not None:
            inside = np.zeros(len(mine), dtype=bool)
            for a, b in d.spans:
                inside |= (keys[mine] >= a) & (keys[mine] <= b)
            keep.append(mine[inside])
    return changes, (got.iloc[np.concatenate(keep)] if keep else None)


class View:
    """What the store held of some symbols when loaded: spans per symbol, and their rows in
    one frame, symbol by symbol (in the order asked), each symbol's oldest first."""

    def __init__(
        self,
        dataset: Dataset,
        covered: dict[str, list[sp.Span]],
        rows: pd.DataFrame,
        at: dict[str, tuple[int, int]] | None = None,
    ):
        self.dataset = dataset
        self.covered = covered
        self.rows = rows
        self.at = at or {}  # symbol -> (first row, row after its last)

    @classmethod
    def empty(cls, dataset: Dataset) -> View:
        return cls(dataset, {}, dataset.template.iloc[0:0].copy())

    def spans(self, symbol: str) -> list[sp.Span]:
        return self.covered.get(symbol, [])

    def of(self, symbol: str) -> pd.DataFrame:
        """The rows held for ``symbol``, oldest first."""
        a, b = self.at.get(symbol, (0, 0))
        return self.rows.iloc[a:b]

    def latest(self) -> pd.DataFrame:
        """Each symbol's newest held row, indexed by symbol."""
        last = [b - 1 for _, b in self.at.values()]
        return self.rows.iloc[last].set_index("symbol")

    def select(self, symbols: Iterable[str], start: int, end: int) -> pd.DataFrame:
        """The rows of ``symbols`` (in that order) with keys in ``[start, end]``."""
        keys = self.dataset.keys(self.rows[self.dataset.key]) if len(self.rows) else None
        pieces: list[np.ndarray] = []
        for symbol in symbols:
            a, b = self.at.get(symbol, (0, 0))
            if keys is not None and a < b:
                lo, hi = np.searchsorted(keys[a:b], [start, end + 1]) + a
                pieces.append(np.arange(lo, hi))
        if not pieces:
            return self.rows.iloc[0:0]
        take = np.concatenate(pieces)
        return self.rows if len(take) == len(self.rows) else self.rows.iloc[take]


def _each(work: Callable[[str], T], rels: Sequence[str]) -> list[T]:
    """``work`` on each file, up to 8 at a time (Parquet's decoding and encoding, and the disk,
    free the GIL)."""
    if len(rels) < 2:
        return [work(rel) for rel in rels]
    with ThreadPoolExecutor(min(8, len(rels))) as pool:
        return list(pool.map(work, rels))


def _assemble(
    dataset: Dataset, tables: list[pa.Table], order: Sequence[str] | None, lo: int, hi: int
) -> View:
    """The rows of ``tables`` (files' tables, each sorted by symbol and key as
    :func:`files.write` leaves them) of the symbols in ``order`` (None: all, sorted) with keys in
    ``[lo, hi]``, as a :class:`View` without spans. Each symbol's rows in a table are one run,
    so the frame is those runs' slices put in order (no copy until the one to pandas)."""
    rank = {s: i for i, s in enumerate(order)} if order is not None else None
    runs: list[tuple[int | str, int, int, int, int, str]] = []
    for n, table in enumerate(tables):
        table, names, edges, keys = _runs(dataset, table)
        tables[n] = table
        for symbol, a, b in zip(names, edges[:-1], edges[1:], strict=True):
            place = symbol if rank is None else rank.get(symbol)
            if place is None:
                continue
            first, last = np.searchsorted(keys[a:b], [lo, hi + 1]) + a
            if first < last:
                runs.append((place, int(keys[first]), n, int(first), int(last), symbol))
    if not runs:
        return View.empty(dataset)
    runs.sort()
    at: dict[str, tuple[int, int]] = {}
    offset = 0
    for _, _, _, a, b, symbol in runs:
        at[symbol] = (at.get(symbol, (offset, 0))[0], offset + b - a)
        offset += b - a
    joined = pa.concat_tables([tables[n].slice(a, b - a) for _, _, n, a, b, _ in runs])
    return View(dataset, {}, files.cast(joined.to_pandas(), dataset.template), at)


def _runs(dataset: Dataset, table: pa.Table) -> tuple[pa.Table, list[str], list[int], np.ndarray]:
    """``table`` sorted by symbol and key (as written; sorted here if not), its symbols' runs
    (names, and edges: run ``i`` is rows ``edges[i]:edges[i + 1]``) and its rows' keys."""
    coded = pc.dictionary_encode(table.column("symbol").combine_chunks())
    ids = coded.indices.to_numpy(zero_copy_only=False)
    keys = dataset.keys(table.column(dataset.key).to_pandas())
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    dictionary = coded.dictionary.to_pylist()
    names = [dictionary[i] for i in ids[np.concatenate([[0], cuts])]] if len(ids) else []
    rising = np.diff(keys) >= 0
    rising[cuts - 1] = True
    if not (rising.all() and all(x < y for x, y in itertools.pairwise(names))):
        ordered = table.sort_by([("symbol", "ascending"), (dataset.key, "ascending")])
        return _runs(dataset, ordered)
    return table, names, [0, *cuts.tolist(), len(ids)], keys


class BarStore:
    """Bars held on disk for one data source (see the module docstring for the layout)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stale_after = STALE_AFTER

    def __repr__(self) -> str:
        return f"BarStore({str(self.folder)!r})"

    def note(self, dataset: Dataset, done: Finished) -> Path:
        """Write a symbol a pull has finished to the dataset's journal, at once, until
        :meth:`save` merges it into the files (then the pull deletes the entry). Loads read
        the journal on top of the files, so what a pull has finished survives ``kill -9``; an
        entry older than :attr:`stale_after` seconds (its pull died) is merged by the next load.
        """
        name = f"{time.time_ns():020d}-{os.getpid()}-{threading.get_ident()}.entry"
        path = self.folder / dataset.folder / JOURNAL / name
        pages = [([dict(r) for r in rows], at) for rows, at in done.pages]
        entry = {"symbol": done.symbol, "pages": pages, "spans": done.spans, "reset": done.reset}
        files.write_entry(path, {"format": files.FORMAT, **entry})
        return path

    def _journal(self, dataset: Dataset, wanted: set[str] | None) -> list[Finished]:
        """The journal's live entries of ``wanted`` symbols (None: all), oldest first; stale
        ones are merged into the files first."""
        live = []
        for path in sorted((self.folder / dataset.folder / JOURNAL).glob("*.entry")):
            entry = files.read_entry(path)
            if entry is None:
                continue
            done = Finished(
                str(entry["symbol"]),
                [(list(rows), float(at)) for rows, at in entry["pages"]],
                [(int(a), int(b)) for a, b in entry["spans"]],
                bool(entry["reset"]),
            )
            if time.time_ns() - int(path.name.split("-")[0]) > self.stale_after * 1e9:
                log.info("bar store: merging %s, left by a pull that did not finish", path.name)
                self.save(dataset, *settle(dataset, [done]))
                path.unlink(missing_ok=True)
            elif wanted is None or done.symbol in wanted:
                live.append(done)
        return live

    def load(self, dataset: Dataset, symbols: Sequence[str], start: int, end: int) -> View:
        """Read, once each, the files holding ``symbols`` between keys ``start`` and ``end``."""
        paths = dict.fromkeys(p for s in symbols for p in dataset.paths(s, start, end))
        return self._view(dataset, list(paths), list(dict.fromkeys(symbols)), start, end)

    def _view(
        self, dataset: Dataset, rels: Sequence[str], order: Sequence[str] | None, lo: int, hi: int
    ) -> View:
        covered: dict[str, list[sp.Span]] = {}
        wanted = set(order) if order is not None else None
        journal = self._journal(dataset, wanted)  # before the files: a merge may come between
        tables: list[pa.Table] = []
        read = _each(lambda rel: files.read_table(self.folder / rel, dataset.template), rels)
        for table, spans_of in read:
            for symbol, spans in spans_of.items():
                if wanted is None or symbol in wanted:
                    covered[symbol] = sp.merge([*covered.get(symbol, []), *spans])
            if table is not None and table.num_rows:
                tables.append(table)
        view = _assemble(dataset, tables, order, lo, hi)
        if journal:  # finished by a pull not yet merged (running, or killed): on top
            part = files.Part(view.rows, covered)
            for done in journal:
                part.rows = _apply(dataset, part, *settle(dataset, [done]))
            table = pa.Table.from_pandas(part.rows, preserve_index=False)
            view = _assemble(dataset, [table], order, lo, hi)
        view.covered = covered
        return view

    def save(
        self, dataset: Dataset, changes: Sequence[Change], rows: pd.DataFrame | None = None
    ) -> None:
        """Apply ``changes`` file by file, each under its lock, each file replaced atomically.
        ``rows``: more rows for the changes' symbols, many symbols in one frame (each row within
        its symbol's change span), cheaper than a frame per change."""
        by_file: dict[str, list[Change]] = {}
        for change in changes:
            rel = dataset.path(change.symbol, change.span[0])
            if rel != dataset.path(change.symbol, change.span[1]):
                raise ValueError(f"a change of {change.symbol} spans more than one file")
            by_file.setdefault(rel, []).append(change)
        extra: dict[str, pd.DataFrame] = {}
        if rows is not None and len(rows):
            where = {c.symbol: dataset.path(c.symbol, c.span[0]) for c in changes}
            at = rows.groupby(rows["symbol"].map(where), sort=False).indices
            extra = {str(rel): rows.iloc[i] for rel, i in at.items()}

        def rewrite(rel: str) -> None:
            path = self.folder / rel
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with locked(files.lock_path(path)):
                part = files.read(path, dataset.template)
                part.rows = _apply(dataset, part, by_file[rel], extra.get(rel))
                files.write(path, part, dataset.key)

        _each(rewrite, list(by_file))

    def read(
        self,
        symbols: str | Iterable[str] | None = None,
        start: object = None,
        end: object = None,
        *,
        interval: str = "D",
        adjusted: bool = True,
        exchange: str | None = None,
    ) -> pd.DataFrame:
        """The bars held, without asking anyone: the columns of :meth:`KIS.history`
        (``interval="D"``), :meth:`KIS.minute_bars` (``"1m"``, prices as traded) or, with
        ``exchange``, :meth:`KIS.overseas_history`, without ``error`` and ``from_cache``;
        sorted by symbol (in the order given, default all held) and time. ``start``/``end``
        are dates (or, for ``"1m"``, times) in any form ``pd.Timestamp`` reads."""
        if interval not in ("D", "1m") or (interval == "1m" and exchange is not None):
            raise ValueError(f"interval must be 'D' or '1m' (domestic), got {interval!r}")
        dataset = (
            MINUTE if interval == "1m"
            else overseas(exchange, adjusted) if exchange is not None
            else daily(adjusted)
        )  # fmt: skip
        lo, hi = _bound(start, dataset, 0), _bound(end, dataset, 10**9)
        if symbols is None:  # everything held: every file of the dataset
            pattern = "*/*.parquet" if dataset.monthly else "part-*.parquet"
            found = sorted((self.folder / dataset.folder).glob(pattern))
            rels = [str(p.relative_to(self.folder)) for p in found]
            view = self._view(dataset, rels, None, lo, hi)
        else:
            codes = [symbols] if isinstance(symbols, str) else list(symbols)
            view = self.load(dataset, codes, lo, hi)
        return view.rows.reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """What is held: one row per (dataset, symbol) with ``first``, ``last`` (the covered
        span's ends), ``spans``, ``rows`` and ``bytes`` (of the files holding it, shared
        files split by rows)."""
        out: list[dict[str, object]] = []
        for path in sorted(self.folder.rglob("*.parquet")):
            rel = path.relative_to(self.folder)
            name = str(rel.parent) if rel.parts[0] != "minute" else "minute"
            dataset = MINUTE if name == "minute" else _dataset_of(name)
            part = files.read(path, dataset.template)
            counts = part.rows["symbol"].value_counts() if len(part.rows) else pd.Series()
            total = max(1, len(part.rows))
            size = path.stat().st_size
            for symbol, spans in part.spans.items():
                n = int(counts.get(symbol, 0))
                out.append(
                    {
                        "dataset": name,
                        "symbol": symbol,
                        "first": _label(dataset, spans[0][0]) if spans else None,
                        "last": _label(dataset, spans[-1][1]) if spans else None,
                        "spans": len(spans),
                        "rows": n,
                        "bytes": size * n // total if len(part.rows) else 0,
                    }
                )
        names = ["dataset", "symbol", "first", "last", "spans", "rows", "bytes"]
        df = pd.DataFrame(out, columns=names)
        if not len(df):
            return df
        agg = df.groupby(["dataset", "symbol"], sort=True).agg(
            first=("first", "min"), last=("last", "max"), spans=("spans", "sum"),
            rows=("rows", "sum"), bytes=("bytes", "sum"),
        )  # fmt: skip
        return agg.reset_index()


def _apply(
    dataset: Dataset, part: files.Part, changes: Sequence[Change], extra: pd.DataFrame | None
) -> pd.DataFrame:
    rows = part.rows
    keep = np.ones(len(rows), dtype=bool)
    if len(rows):
        keys = dataset.keys(rows[dataset.key])
        symbols = rows["symbol"].to_numpy()
        for change in changes:
            mine = symbols == change.symbol
            if change.reset:
                keep &= ~mine
            else:
                a, b = change.span
                keep &= ~(mine & (keys >= a) & (keys <= b))
    for change in changes:
        before = [] if change.reset else part.spans.get(change.symbol, [])
        part.spans[change.symbol] = sp.merge([*before, change.span])
    new = [c.rows for c in changes if len(c.rows)]
    if extra is not None and len(extra):
        new.append(extra)
    kept = rows[keep] if not keep.all() else rows
    if new:
        added = files.cast(pd.concat(new, ignore_index=True) if len(new) > 1 else new[0],
                           dataset.template)  # fmt: skip
        kept = pd.concat([kept, added], ignore_index=True) if len(kept) else added
    return kept if len(kept) else dataset.template.iloc[0:0].copy()


def _dataset_of(name: str) -> Dataset:
    parts = name.split("/")
    if parts[0] == "overseas":
        return overseas(parts[1], parts[-1] == "adjusted")
    return daily(parts[-1] == "adjusted")


def _bound(value: object, dataset: Dataset, default: int) -> int:
    if value is None:
        return default
    stamp = pd.Timestamp(value)
    if dataset.monthly:
        return sp.minute_key(stamp.date(), stamp.time())
    return sp.day_key(stamp.date())


def _label(dataset: Dataset, key: int) -> str:
    if dataset.monthly:
        return sp.key_minute(key).strftime("%Y-%m-%d %H:%M")
    return sp.key_day(key).isoformat()
