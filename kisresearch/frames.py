"""Pure shapers: KIS JSON (every value a string) -> typed pandas DataFrames.

A frame is described by a tuple of :class:`Col` (KIS field, our column, kind). Kinds:
``int`` -> int64 (nullable ``Int64`` when some rows have no value), ``float`` -> float64,
``str`` -> str, ``date`` -> datetime64 (``YYYYMMDD``), ``yn`` -> bool (``"Y"``).
No I/O here: these functions are tested on recorded payloads, without a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Col:
    src: str
    name: str
    kind: str = "int"


def _convert(values: list[Any], kind: str) -> pd.Series:
    raw = pd.Series(values, dtype=object)
    if kind in ("int", "float"):
        num = pd.to_numeric(raw.map(_blank_to_none), errors="coerce")
        if kind == "float":
            return num.astype("float64")
        if num.isna().any():
            return num.round().astype("Int64")
        return num.astype("int64")
    if kind == "date":
        return pd.to_datetime(raw.map(_blank_to_none), format="%Y%m%d", errors="coerce")
    if kind == "yn":
        return raw.map(lambda v: v == "Y").astype(bool)
    return raw.map(lambda v: v.strip() if isinstance(v, str) else v).astype("str").where(
        raw.notna(), None)


def _blank_to_none(v: Any) -> Any:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    return v.strip() if isinstance(v, str) else v


def table(rows: Sequence[Mapping[str, Any] | None], columns: Sequence[Col]) -> pd.DataFrame:
    """One column per :class:`Col`, one row per input row (``None`` -> all missing)."""
    data = {
        c.name: _convert([r.get(c.src) if r else None for r in rows], c.kind) for c in columns
    }
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def by_symbol(
    symbols: Sequence[str],
    rows: Sequence[Mapping[str, Any] | None],
    errors: Sequence[str | None],
    columns: Sequence[Col],
) -> pd.DataFrame:
    """A frame indexed by ``symbol`` in the order given, with an ``error`` column."""
    df = table(rows, columns)
    df.index = pd.Index(list(symbols), name="symbol", dtype="str")
    df["error"] = pd.Series(list(errors), index=df.index, dtype=object)
    return df


# intstock-multprice (FHKST11300006): one object per requested symbol
MULTIQUOTE_COLUMNS = (
    Col("inter_kor_isnm", "name", "str"),
    Col("kospi_kosdaq_cls_name", "market", "str"),
    Col("inter2_prpr", "price"),
    Col("inter2_prdy_vrss", "change"),
    Col("prdy_vrss_sign", "change_sign", "str"),
    Col("prdy_ctrt", "change_pct", "float"),
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
    Col("prdy_vrss", "change"),
    Col("prdy_vrss_sign", "change_sign", "str"),
    Col("prdy_ctrt", "change_pct", "float"),
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
