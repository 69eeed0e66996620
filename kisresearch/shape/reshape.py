"""Between the long frames every method returns and a wide table of one field.

``kr.wide(bars, "close")`` is a date × symbol table (rows: the frame's dates or minutes, sorted;
columns: the symbols in the frame's order), the shape a return series or a correlation wants;
``kr.long(table, "close")`` turns it back. Pure: no I/O.
"""

from __future__ import annotations

import pandas as pd

from ..errors import ConfigError

KEYS = ("date", "time", "fetched_at")  # a frame's time column, in the order looked for
_NULLABLE = {"i": "Int64", "u": "UInt64", "b": "boolean"}


def wide(df: pd.DataFrame, field: str, *, key: str | None = None) -> pd.DataFrame:
    """One ``field`` of a long frame as a table: one row per time, one column per symbol.

    ``df`` is any frame of ours with a ``symbol`` column or index: ``history``,
    ``overseas_history`` and ``investors`` (rows by ``date``), ``minute_bars`` (by ``time``),
    or quotes pulled again and again and concatenated (by ``fetched_at``). ``key`` names
    the time column when it is another. Rows without a time (a symbol's ``error`` row) are
    left out; a cell no row fills is missing, and an int64 or bool field then becomes
    nullable (``Int64``, ``boolean``) rather than float. The index is named after the key,
    the columns ``symbol``; ``attrs`` are the frame's, plus ``field`` and ``dtype`` (the
    field's own, which :func:`long` restores).

    >>> bars = pd.DataFrame({"symbol": ["005930", "005930", "000660"],
    ...                      "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-03"]),
    ...                      "close": [78500, 77000, 137500]})
    >>> wide(bars, "close")  # doctest: +NORMALIZE_WHITESPACE
    symbol      005930  000660
    date
    2024-01-02   78500    <NA>
    2024-01-03   77000  137500
    """
    frame = df.reset_index() if "symbol" not in df.columns and df.index.name == "symbol" else df
    key = key or next((k for k in KEYS if k in frame.columns), None)
    missing = [c for c in ("symbol", key, field) if c is None or c not in frame.columns]
    if missing:
        wanted = key or f"one of {', '.join(KEYS)}"
        raise ConfigError(
            f"wide() needs the columns symbol, {wanted} and {field!r}; "
            f"the frame has {', '.join(map(str, frame.columns))}"
        )
    assert key is not None
    rows = frame[frame[key].notna()]
    doubled = rows.duplicated([key, "symbol"])
    if doubled.any():
        first = rows[doubled].iloc[0]
        raise ConfigError(
            f"wide(): symbol {first['symbol']!r} has more than one row at {key}={first[key]}; "
            "drop the duplicates first (df.drop_duplicates([key, 'symbol']))"
        )
    dtype = frame[field].dtype
    values = rows[field].astype(_NULLABLE.get(dtype.kind, dtype))
    table = pd.Series(values.array, index=pd.MultiIndex.from_frame(rows[[key, "symbol"]]))
    out = table.unstack("symbol").sort_index()
    out = out.reindex(columns=pd.unique(rows["symbol"]))
    if not out.isna().any().any():
        out = out.astype(dtype)
    out.columns.name = "symbol"
    out.attrs = {**df.attrs, "field": field, "dtype": str(dtype)}
    return out


def long(table: pd.DataFrame, field: str) -> pd.DataFrame:
    """A :func:`wide` table back as a long frame: ``symbol``, the time (the index's name),
    ``field``; sorted by symbol (in the columns' order) and time, a RangeIndex, missing cells
    left out. The field gets back the dtype :func:`wide` recorded in ``attrs["dtype"]`` when no
    value is missing (so ``long(wide(df, f), f)`` has ``df``'s dtype); else it keeps the table's.
    """
    key = table.index.name or "date"
    parts = [
        pd.DataFrame({"symbol": symbol, key: column.index, field: column.array})
        .dropna(subset=[field])
        .sort_values(key, kind="stable")
        for symbol, column in table.items()
    ]
    if not parts:
        return pd.DataFrame(columns=["symbol", key, field])
    out = pd.concat(parts, ignore_index=True)
    out["symbol"] = out["symbol"].astype("str")
    dtype = table.attrs.get("dtype")
    if dtype is not None and not out[field].isna().any():
        out[field] = out[field].astype(dtype)
    out.attrs = {k: v for k, v in table.attrs.items() if k not in ("field", "dtype")}
    return out
