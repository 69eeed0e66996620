"""Pure shapers: KIS JSON (every value a string) -> typed pandas DataFrames.

A frame is described by a tuple of :class:`Col` (KIS field, our column, kind). Kinds, each
with the dtype and missing value of its family in README's "Conventions":
``int`` -> int64 (nullable ``Int64`` when some rows have no value), ``Int`` -> always nullable
``Int64`` (fields KIS leaves blank in normal answers), ``float`` -> float64, ``str`` -> str,
``date`` -> datetime64[us], naive (``YYYYMMDD``: a trading day), ``kst`` -> datetime64[us,
Asia/Seoul] (``YYYYMMDDHHMMSS``: an instant), ``yn`` -> bool (``"Y"``; nullable ``boolean``
when some rows have no value).

Two frame shapes:

- :func:`by_symbol`: one row per symbol, indexed by ``symbol`` (quotes, info, ...);
- :func:`long_frame`: many rows per symbol (bars, levels): a RangeIndex, ``symbol`` first, the
  rows of each symbol sorted by a key column, symbols in the order asked. A symbol with no data
  is one row whose values are missing and whose ``error`` says why.

Both end with ``error`` (object: None or a message), ``from_cache`` (bool) and ``fetched_at``
(datetime64[us, Asia/Seoul]: when the answer holding the row was fetched from KIS, NaT without
one).
No I/O here: these functions are tested on recorded payloads, without a server.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..timebase import KST
from .markets import MARKET_IDS

TZ = "Asia/Seoul"
INSTANT = f"datetime64[us, {TZ}]"  # the dtype of every instant: market times and bookkeeping
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Col:
    """One column: KIS's field ``src`` as ``name`` of ``kind``. With ``sign`` (the field holding
    KIS's sign code) the value's sign comes from that code, whether KIS sent the magnitude
    signed or bare: 4 (lower limit) and 5 (down) negative, 1, 2 and 3 not; a blank code keeps
    the value as sent."""

    src: str
    name: str
    kind: str = "int"
    sign: str | None = None


_STAMP_FORMATS = {"date": "%Y%m%d", "kst": "%Y%m%d%H%M%S"}


@dataclass(frozen=True, slots=True)
class Parsed:
    """One column of rows, parsed from KIS's strings (see :func:`_parse`) but not yet given
    its frame dtype, which depends on all of a frame's rows (int64 becomes ``Int64`` when any
    row misses a value): ``values`` (integers in the narrowest type that holds them, float64,
    datetime64[us] with NaT, bool; text as codes into ``labels``, -1 missing) and ``missing``
    (bool a row, or None when none is missing). Small: a pull keeps a block of them per symbol
    until its frame is built."""

    values: Any
    missing: np.ndarray | None = None
    labels: Any = None


_NARROW = [
    (kind, int(np.iinfo(kind).min), int(np.iinfo(kind).max))
    for kind in (np.int8, np.int16, np.int32)
]


def _narrow(values: np.ndarray) -> np.ndarray:
    """Integers in the narrowest signed type that holds them."""
    if len(values):
        lo, hi = values.min(), values.max()
        for kind, least, most in _NARROW:
            if least <= lo and hi <= most:
                return values.astype(kind)
    return values


def _exact(values: Sequence[Any], dtype: type) -> np.ndarray | None:
    """``values`` as ``dtype`` when every one is the text of a number (the usual answer,
    four times faster than :func:`pandas.to_numeric`); None when one is blank, missing, not
    text, of another form (``"12.5"`` for an integer) or out of range."""
    if not set(map(type, values)) <= {str}:
        return None
    convert = float if dtype is np.float64 else int
    try:
        return np.fromiter(map(convert, values), dtype, len(values))
    except (TypeError, ValueError, OverflowError):
        return None


def _parse(values: Sequence[Any], kind: str) -> Parsed:
    """A column of ``kind`` from KIS's values (strings; blank or None is missing):
    column-wise, with no per-value pandas call, so a 100-row piece costs microseconds a column
    and a million-row one stays in C."""
    if kind in ("int", "Int", "float"):
        exact = _exact(values, np.float64 if kind == "float" else np.int64)
        if exact is not None:
            return Parsed(exact)
        num = pd.to_numeric(np.array(values, dtype=object), errors="coerce")  # blanks -> NaN
        if kind == "float":
            return Parsed(num.astype("float64"))
        if num.dtype.kind != "f":
            return Parsed(num.astype("int64"))
        missing = np.isnan(num)
        return Parsed(np.round(np.where(missing, 0, num)).astype("int64"), missing)
    if kind in _STAMP_FORMATS:
        text = np.array([v.strip() if isinstance(v, str) else v for v in values], dtype=object)
        stamps = pd.to_datetime(text, format=_STAMP_FORMATS[kind], errors="coerce")
        return Parsed(stamps.to_numpy().astype("datetime64[us]"))  # the unit fixed, NaT kept
    if kind == "yn":
        text = np.array([v.strip() if isinstance(v, str) else "" for v in values], dtype=object)
        missing = text == ""
        return Parsed(text == "Y", missing if missing.any() else None)
    text = np.array([v.strip() if isinstance(v, str) else v for v in values], dtype=object)
    codes, labels = pd.factorize(text)  # None -> -1
    return Parsed(_narrow(codes), labels=labels)


def _finish(parts: Sequence[Parsed], kind: str) -> Any:
    """The column of ``parts`` (a frame's pieces, in order) with the dtype of ``kind``."""
    if kind == "str":  # the parts' labels joined, their codes moved past those before them
        starts = np.cumsum([0, *(len(p.labels) for p in parts)])
        codes = np.concatenate(
            [
                np.where(p.values < 0, -1, p.values + at)
                for p, at in zip(parts, starts, strict=False)
            ]
        )
        labels = pd.array(np.concatenate([p.labels for p in parts]), dtype="str")
        return labels.take(codes, allow_fill=True)
    values = parts[0].values if len(parts) == 1 else np.concatenate([p.values for p in parts])
    if kind in _STAMP_FORMATS:
        stamps = pd.DatetimeIndex(values)
        return (stamps.tz_localize(TZ) if kind == "kst" else stamps).array
    if kind == "float":
        return values
    if any(p.missing is not None for p in parts):
        missing = np.concatenate(
            [np.zeros(len(p.values), bool) if p.missing is None else p.missing for p in parts]
        )
    else:
        missing = None
    if kind == "yn":
        return values if missing is None else pd.arrays.BooleanArray(values, missing)
    values = values.astype("int64")
    if kind == "Int" or missing is not None:
        return pd.arrays.IntegerArray(
            values, np.zeros(len(values), bool) if missing is None else missing
        )
    return values


def _fields(rows: Sequence[Row | None], columns: Sequence[Col]) -> dict[str, list[Any]]:
    """The values of every field ``columns`` read (sign codes too) over ``rows``, a list a
    field (``None`` for a missing row or field): one pass of the rows when each has every
    field, as KIS's answers do (2,507 quote rows: 3 ms for the fields of a frame, 8 ms a
    field at a time)."""
    names = list(dict.fromkeys(n for c in columns for n in (c.src, c.sign) if n is not None))
    if len(names) > 1 and rows:
        try:
            get: Any = operator.itemgetter(*names)
            return dict(zip(names, map(list, zip(*map(get, rows), strict=True)), strict=True))
        except (KeyError, TypeError):  # a row without a field, or no row
            pass
    return {n: [r.get(n) if r else None for r in rows] for n in names}


def _column(fields: Mapping[str, list[Any]], col: Col) -> Parsed:
    """``col`` of the rows whose :func:`_fields` these are, parsed and signed by its sign
    code."""
    parsed = _parse(fields[col.src], col.kind)
    if col.sign is not None:
        parsed = _signed(parsed, fields[col.sign])
    if col.kind in ("int", "Int"):
        return Parsed(_narrow(parsed.values), parsed.missing)
    return parsed


def _signed(parsed: Parsed, codes: list[Any]) -> Parsed:
    code = np.array([str(v).strip() if v is not None else "" for v in codes], dtype=object)
    down = np.isin(code, ("4", "5"))
    coded = down | np.isin(code, ("1", "2", "3"))
    if not coded.any():
        return parsed
    signed = np.abs(parsed.values) * np.where(down, -1, 1)
    return Parsed(np.where(coded, signed, parsed.values), parsed.missing)


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def table(
    rows: Sequence[Row | None],
    columns: Sequence[Col],
    first: Mapping[str, Any] | None = None,
    last: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One column per :class:`Col`, one row per input row (``None`` -> all missing), between
    the ready columns ``first`` and ``last``: the frame is built once, never inserted into."""
    data = dict(first or {})
    fields = _fields(rows, columns)
    for c in columns:
        data[c.name] = _finish([_column(fields, c)], c.kind)
    data.update(last or {})
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def instants(stamps: Sequence[float | None]) -> Any:
    """Epoch seconds -> a datetime64[us, Asia/Seoul] array (None -> NaT), rounded to the
    microsecond as :meth:`datetime.fromtimestamp` rounds, so that a frame's stamps equal the
    ISO 8601 text of the same instants (``attrs["fetched_at"]``)."""
    seconds = np.array(stamps, dtype="float64")  # None -> NaN
    missing = np.isnan(seconds)
    known = np.where(missing, 0.0, seconds)
    whole = np.floor(known)
    micros = whole.astype("int64") * 1_000_000 + np.round((known - whole) * 1e6).astype("int64")
    values = np.where(missing, np.datetime64("NaT", "us"), micros.astype("datetime64[us]"))
    return pd.DatetimeIndex(values).tz_localize("UTC").tz_convert(TZ).array


def _bookkeeping(
    errors: Sequence[str | None], from_cache: Sequence[bool], fetched_at: Sequence[float | None]
) -> dict[str, Any]:
    """The last three columns of every frame: ``error``, ``from_cache``, ``fetched_at``."""
    return {
        "error": pd.Series(list(errors), dtype=object),  # an array of text would become str
        "from_cache": np.array(from_cache, dtype=bool),
        "fetched_at": instants(fetched_at),
    }


def by_symbol(
    symbols: Sequence[str],
    rows: Sequence[Row | None],
    errors: Sequence[str | None],
    columns: Sequence[Col],
    from_cache: Sequence[bool] | None = None,
    fetched_at: Sequence[float | None] | None = None,
) -> pd.DataFrame:
    """A frame indexed by ``symbol`` in the order given, with ``error``, ``from_cache`` and
    ``fetched_at`` columns."""
    n = len(symbols)
    book = _bookkeeping(errors, from_cache or [False] * n, fetched_at or [None] * n)
    df = table(rows, columns, last=book)
    df.index = pd.Index(list(symbols), name="symbol", dtype="str")
    return df


def rows_of(body: Mapping[str, Any], key: str, required: str) -> list[Row]:
    """The rows under ``body[key]`` (a list, or one object), without the blank ones KIS pads
    "no data" answers with (``required`` empty)."""
    found = body.get(key)
    if isinstance(found, Mapping):
        found = [found]
    if not isinstance(found, list):
        return []
    return [r for r in found if isinstance(r, Mapping) and not blank(r.get(required))]


@dataclass(frozen=True, slots=True)
class Piece:
    """The rows one answer gave for one symbol, and where they came from; or, with ``error``
    set, the reason the symbol has no rows."""

    symbol: str
    rows: Sequence[Row] = ()
    from_cache: bool = False
    fetched_at: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """Pieces' rows parsed column by column (:func:`block`), ready for :func:`long_frame`.

    A few bytes a value: a pull keeps each symbol's rows so as its pages arrive, instead of
    the dicts KIS's JSON parses into (about 1.4 kB a daily bar). ``runs`` are the pieces
    without their rows, each with its number of rows (an error piece has one). A block is
    stacked once: :func:`long_frame` takes its columns out as it builds each of the frame's,
    so that the two are not held whole at once."""

    columns: dict[str, Parsed]
    runs: tuple[tuple[Piece, int], ...]

    def __len__(self) -> int:
        return sum(n for _, n in self.runs)


def block(pieces: Sequence[Piece], columns: Sequence[Col]) -> Block:
    """``pieces`` parsed into a :class:`Block` of ``columns``."""
    records: list[Row | None] = []
    runs: list[tuple[Piece, int]] = []
    for piece in pieces:
        rows: Sequence[Row | None] = [None] if piece.error is not None else piece.rows
        records.extend(rows)
        runs.append(
            (Piece(piece.symbol, (), piece.from_cache, piece.fetched_at, piece.error), len(rows))
        )
    fields = _fields(records, columns)
    return Block({c.name: _column(fields, c) for c in columns}, tuple(runs))


def long_frame(
    pieces: Sequence[Piece | Block],
    columns: Sequence[Col],
    *,
    key: str,
    held: pd.DataFrame | None = None,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Stack pieces (or :class:`Block` s of them) into a long frame sorted by symbol
    (``order``, else order of first appearance) and ``key``.

    Duplicate ``(symbol, key)`` rows keep the first piece's (pages are passed newest first, so
    the newest answer wins). An error piece is one row: its values missing, ``error`` set.
    ``held`` are rows already typed (the bar store's: ``symbol``, the columns, ``fetched_at``);
    they come after the pieces (a fresh answer wins) with ``from_cache`` True.
    """
    blocks: list[Block] = []
    loose: list[Piece] = []
    for part in [*pieces, None]:  # runs of loose pieces parsed together
        if isinstance(part, Piece):
            loose.append(part)
            continue
        if loose:
            blocks.append(block(loose, columns))
            loose = []
        if part is not None:
            blocks.append(part)
    runs = [run for b in blocks for run in b.runs]
    names = pd.array([p.symbol for p, _ in runs], dtype="str")
    run_of = np.repeat(np.arange(len(runs)), [n for _, n in runs])  # each row's run
    kinds = {c.name: c.kind for c in columns}

    def column(name: str) -> Any:  # taken out of the blocks: their memory goes as it is used
        parts = [b.columns.pop(name) for b in blocks if len(b)] or [_parse([], kinds[name])]
        return _finish(parts, kinds[name])

    def frame(take: np.ndarray | None, data: dict[str, Any]) -> pd.DataFrame:
        at = run_of if take is None else run_of[take]
        book = {
            "error": pd.Series(
                np.array([p.error for p, _ in runs], dtype=object)[at], dtype=object
            ),
            "from_cache": np.array([p.from_cache for p, _ in runs], dtype=bool)[at],
            "fetched_at": instants([p.fetched_at for p, _ in runs]).take(at),
        }
        return pd.DataFrame({"symbol": names.take(at), **data, **book}, copy=False)

    if held is not None and len(held):  # the store's rows: typed already, stacked after
        df = frame(None, {n: column(n) for n in kinds})
        none = pd.Series([None] * len(held), index=held.index, dtype=object)
        kept = held.assign(error=none, from_cache=True)[list(df.columns)]
        if not len(df):  # the store's rows come in the order asked already
            return kept.reset_index(drop=True)
        df = pd.concat([df, kept], ignore_index=True)
        codes, uniques = pd.factorize(df["symbol"])
        ranks = pd.Index(order or uniques).get_indexer(uniques)[codes]
        return df.take(_ordered(ranks, df[key])).reset_index(drop=True)
    # sorted and de-duplicated before the frame is built, a column at a time
    symbols = list(dict.fromkeys(p.symbol for p, _ in runs))
    ranks = pd.Index(order or symbols).get_indexer([p.symbol for p, _ in runs])
    keys = column(key)
    take = _ordered(ranks[run_of], keys)
    return frame(take, {n: _take(keys if n == key else column(n), take) for n in kinds})


def _take(values: Any, at: np.ndarray) -> Any:
    return values[at] if isinstance(values, np.ndarray) else values.take(at)


def _ordered(ranks: np.ndarray, keys: Any) -> np.ndarray:
    """The rows to keep, in frame order: by ``ranks`` (each row's symbol's place) and key
    (missing last); of rows sharing both, the first."""
    at, values = pd.factorize(keys, sort=True)
    at = np.where(at < 0, len(values), at)  # a missing key (an error row) last
    ordered = np.lexsort((at, ranks))  # stable: of equal rows, the first
    r, k = ranks[ordered], at[ordered]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (k[1:] != k[:-1])
    return ordered[first]


# --- derived fields (applied to raw rows before shaping) ------------------------------------


def with_fields(row: Row, **extra: Any) -> dict[str, Any]:
    return {**row, **extra}


def minute_stamp(row: Row) -> str:
    """``YYYYMMDDHHMMSS`` of a 1-min bar from ``stck_bsop_date`` and ``stck_cntg_hour``."""
    day, hour = row.get("stck_bsop_date", ""), row.get("stck_cntg_hour", "")
    return f"{str(day).strip()}{str(hour).strip()}"


def book_stamp(hhmmss: Any, fetched_at: float) -> str | None:
    """The date-time of an order book that KIS stamps with a time of day only.

    The date is the KST date of the fetch, or the weekday before it when that time of day had
    not yet come at the fetch (a book fetched before the open is the last session's). Holidays
    are not known here: before the open on the day after one, the date names the holiday.
    """
    text = str(hhmmss or "").strip()
    if len(text) != 6 or not text.isdigit():
        return None
    fetched = datetime.fromtimestamp(fetched_at, UTC).astimezone(KST)
    day = fetched.date()
    clock = f"{text[:2]}:{text[2:4]}:{text[4:]}"
    if clock > fetched.strftime("%H:%M:%S") or day.weekday() >= 5:
        day -= timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
    return day.strftime("%Y%m%d") + text


def info_row(out: Row) -> dict[str, Any]:
    """search-stock-info ``output`` plus ``_market`` (KOSPI/KOSDAQ/KONEX from ``mket_id_cd``)
    and ``_listed`` (the listing date of whichever market lists it)."""
    listed = next(
        (out.get(k) for k in ("scts_mket_lstg_dt", "kosdaq_mket_lstg_dt") if not blank(out.get(k))),
        None,
    )
    market = str(out.get("mket_id_cd") or "").strip()
    return with_fields(out, _market=MARKET_IDS.get(market, market or None), _listed=listed)


# --- column maps ----------------------------------------------------------------------------

# intstock-multprice (FHKST11300006): one object per requested symbol
MULTIQUOTE_COLUMNS = (
    Col("inter_kor_isnm", "name", "str"),
    Col("kospi_kosdaq_cls_name", "market_kr", "str"),  # markets.with_market adds market
    Col("inter2_prpr", "price"),
    Col("inter2_prdy_vrss", "change", sign="prdy_vrss_sign"),
    Col("prdy_vrss_sign", "change_sign", "str"),
    Col("prdy_ctrt", "change_pct", "float", sign="prdy_vrss_sign"),
    Col("inter2_oprc", "open"),
    Col("inter2_hgpr", "high"),
    Col("inter2_lwpr", "low"),
    Col("inter2_prdy_clpr", "prev_close"),
    Col("inter2_sdpr", "base_price"),
    Col("inter2_mxpr", "upper_limit"),
    Col("inter2_llam", "lower_limit"),
    Col("acml_vol", "volume"),
    Col("acml_tr_pbmn", "value_traded"),
    Col("inter2_askp", "ask"),
    Col("inter2_bidp", "bid"),
    Col("seln_rsqn", "ask_size"),
    Col("shnu_rsqn", "bid_size"),
    Col("total_askp_rsqn", "total_ask_size"),
    Col("total_bidp_rsqn", "total_bid_size"),
)

# inquire-price (FHKST01010100): one call per symbol, valuation fields too
QUOTE_COLUMNS = (
    Col("bstp_kor_isnm", "sector", "str"),
    Col("stck_prpr", "price"),
    Col("prdy_vrss", "change", sign="prdy_vrss_sign"),
    Col("prdy_vrss_sign", "change_sign", "str"),
    Col("prdy_ctrt", "change_pct", "float", sign="prdy_vrss_sign"),
    Col("stck_oprc", "open"),
    Col("stck_hgpr", "high"),
    Col("stck_lwpr", "low"),
    Col("stck_sdpr", "base_price"),
    Col("stck_mxpr", "upper_limit"),
    Col("stck_llam", "lower_limit"),
    Col("acml_vol", "volume"),
    Col("acml_tr_pbmn", "value_traded"),
    Col("vol_tnrt", "turnover_pct", "float"),
    Col("per", "per", "float"),
    Col("pbr", "pbr", "float"),
    Col("eps", "eps", "float"),
    Col("bps", "bps", "float"),
    Col("hts_avls", "market_cap_100m_krw"),
    Col("lstn_stcn", "listed_shares"),
    Col("hts_frgn_ehrt", "foreign_pct", "float"),
    Col("w52_hgpr", "w52_high"),
    Col("w52_hgpr_date", "w52_high_date", "date"),
    Col("w52_lwpr", "w52_low"),
    Col("w52_lwpr_date", "w52_low_date", "date"),
    Col("aspr_unit", "tick_size"),
    Col("iscd_stat_cls_code", "status_code", "str"),
    Col("temp_stop_yn", "halted", "yn"),
)

# inquire-daily-itemchartprice (FHKST03010100) output2
DAILY_COLUMNS = (
    Col("stck_bsop_date", "date", "date"),
    Col("stck_oprc", "open"),
    Col("stck_hgpr", "high"),
    Col("stck_lwpr", "low"),
    Col("stck_clpr", "close"),
    Col("acml_vol", "volume"),
    Col("acml_tr_pbmn", "value_traded"),
    Col("prdy_vrss", "change", sign="prdy_vrss_sign"),
    Col("prdy_vrss_sign", "change_sign", "str"),
    Col("flng_cls_code", "ex_code", "str"),
    Col("prtt_rate", "split_rate", "float"),
    Col("mod_yn", "modified", "yn"),
)

# inquire-time-itemchartprice / inquire-time-dailychartprice output2 (+ "_time")
MINUTE_COLUMNS = (
    Col("_time", "time", "kst"),
    Col("stck_oprc", "open"),
    Col("stck_hgpr", "high"),
    Col("stck_lwpr", "low"),
    Col("stck_prpr", "close"),
    Col("cntg_vol", "volume"),
    Col("acml_tr_pbmn", "cum_value_traded"),
)

# inquire-asking-price-exp-ccn (FHKST01010200): long rows built from output1, one per level
LEVELS = 10
BOOK_COLUMNS = (
    Col("level", "level"),
    Col("ask", "ask"),
    Col("ask_size", "ask_size"),
    Col("bid", "bid"),
    Col("bid_size", "bid_size"),
    Col("_time", "time", "kst"),
)
BOOK_WIDE_COLUMNS = (
    *(Col(f"askp{i}", f"ask_{i}") for i in range(1, LEVELS + 1)),
    *(Col(f"askp_rsqn{i}", f"ask_size_{i}") for i in range(1, LEVELS + 1)),
    *(Col(f"bidp{i}", f"bid_{i}") for i in range(1, LEVELS + 1)),
    *(Col(f"bidp_rsqn{i}", f"bid_size_{i}") for i in range(1, LEVELS + 1)),
    Col("total_askp_rsqn", "total_ask_size"),
    Col("total_bidp_rsqn", "total_bid_size"),
    Col("stck_prpr", "price"),
    Col("antc_cnpr", "expected_price"),
    Col("antc_vol", "expected_volume"),
    Col("_time", "time", "kst"),
)


def book_levels(out1: Row, stamp: str | None) -> list[dict[str, Any]]:
    """Ten rows (level 1 = best) from an order book's ``output1``."""
    return [
        {
            "level": str(i),
            "ask": out1.get(f"askp{i}"),
            "ask_size": out1.get(f"askp_rsqn{i}"),
            "bid": out1.get(f"bidp{i}"),
            "bid_size": out1.get(f"bidp_rsqn{i}"),
            "_time": stamp,
        }
        for i in range(1, LEVELS + 1)
    ]


# inquire-investor (FHKST01010900) output: today's investor fields are blank until the close
INVESTORS = (("individual", "prsn"), ("foreign", "frgn"), ("institution", "orgn"))
INVESTOR_COLUMNS = (
    Col("stck_bsop_date", "date", "date"),
    Col("stck_clpr", "close"),
    Col("prdy_vrss", "change", sign="prdy_vrss_sign"),
    *(
        col
        for who, src in INVESTORS
        for col in (
            Col(f"{src}_ntby_qty", f"{who}_net", "Int"),
            Col(f"{src}_shnu_vol", f"{who}_buy", "Int"),
            Col(f"{src}_seln_vol", f"{who}_sell", "Int"),
            Col(f"{src}_ntby_tr_pbmn", f"{who}_net_value_mkrw", "Int"),
        )
    ),
)

# search-stock-info (CTPF1002R) output, after info_row()
INFO_COLUMNS = (
    Col("prdt_abrv_name", "name", "str"),
    Col("prdt_name", "full_name", "str"),
    Col("prdt_eng_name", "eng_name", "str"),
    Col("_market", "market", "str"),
    Col("scty_grp_id_cd", "group", "str"),
    Col("std_pdno", "isin", "str"),
    Col("std_idst_clsf_cd_name", "sector", "str"),
    Col("_listed", "listed_date", "date"),
    Col("lstg_abol_dt", "delisted_date", "date"),
    Col("lstg_stqt", "listed_shares"),
    Col("papr", "par_value"),
    Col("bfdy_clpr", "prev_close"),
    Col("kospi200_item_yn", "kospi200", "yn"),
    Col("tr_stop_yn", "halted", "yn"),
    Col("admn_item_yn", "admin", "yn"),
)

# overseas price (HHDFS00000300) output, plus "_excd"; KIS sends ``diff`` unsigned
OVERSEAS_QUOTE_COLUMNS = (
    Col("_excd", "exchange", "str"),
    Col("last", "price", "float"),
    Col("base", "prev_close", "float"),
    Col("diff", "change", "float", sign="sign"),
    Col("sign", "change_sign", "str"),
    Col("rate", "change_pct", "float", sign="sign"),
    Col("tvol", "volume"),
    Col("tamt", "value_traded", "float"),
    Col("zdiv", "decimals"),
)

# overseas dailyprice (HHDFS76240000) output2, plus "_excd"
OVERSEAS_DAILY_COLUMNS = (
    Col("_excd", "exchange", "str"),
    Col("xymd", "date", "date"),
    Col("open", "open", "float"),
    Col("high", "high", "float"),
    Col("low", "low", "float"),
    Col("clos", "close", "float"),
    Col("tvol", "volume"),
    Col("tamt", "value_traded", "float"),
    Col("diff", "change", "float", sign="sign"),
    Col("rate", "change_pct", "float", sign="sign"),
)

# inquire-balance (TTTC8434R) output1 and output2
HOLDING_COLUMNS = (
    Col("prdt_name", "name", "str"),
    Col("hldg_qty", "quantity"),
    Col("ord_psbl_qty", "orderable_quantity"),
    Col("pchs_avg_pric", "avg_price", "float"),
    Col("pchs_amt", "purchase_amount"),
    Col("prpr", "price"),
    Col("evlu_amt", "value"),
    Col("evlu_pfls_amt", "pnl"),
    Col("evlu_pfls_rt", "pnl_pct", "float"),
    Col("fltt_rt", "change_pct", "float"),
)
SUMMARY_COLUMNS = (
    Col("dnca_tot_amt", "cash"),
    Col("nxdy_excc_amt", "cash_d1"),
    Col("prvs_rcdl_excc_amt", "cash_d2"),
    Col("scts_evlu_amt", "stock_value"),
    Col("tot_evlu_amt", "total_value"),
    Col("nass_amt", "net_assets"),
    Col("pchs_amt_smtl_amt", "purchase_total"),
    Col("evlu_amt_smtl_amt", "value_total"),
    Col("evlu_pfls_smtl_amt", "pnl_total"),
)


def holdings(rows: Sequence[Row]) -> pd.DataFrame:
    """Balance ``output1`` rows -> a frame indexed by ``symbol`` (``pdno``), in KIS's order."""
    df = table(rows, HOLDING_COLUMNS)
    df.index = pd.Index([str(r.get("pdno", "")).strip() for r in rows], name="symbol", dtype="str")
    return df


def summary(out2: Row | None) -> pd.Series:
    """Balance ``output2`` (its first object) -> an int64 Series named ``summary``."""
    row = table([out2], SUMMARY_COLUMNS).iloc[0]
    row.name = "summary"
    return row


def _warm_up() -> None:
    """Shape a one-row frame of every kind once, at import: pandas' and pyarrow's first-use
    set-up (string arrays, formatted dates, nullable arrays; about 10 ms) is then paid by the
    import, not by a process's first pull (warm 100 detail quotes: 5 ms more without it)."""
    kinds = ("int", "Int", "float", "str", "date", "kst", "yn")
    row = dict(zip(kinds, ("1", "", "1.5", "x", "20260102", "20260102090000", "Y"), strict=True))
    by_symbol(["000000"], [row], [None], [Col(k, k, k) for k in kinds], [True], [0.0])


_warm_up()
