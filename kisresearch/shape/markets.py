"""The one ``market`` vocabulary of every frame: ``KOSPI``, ``KOSDAQ``, ``KONEX``.

KIS names a market three ways: a Korean label (the multi-quote call's ``kospi_kosdaq_cls_name``:
코스피, 코스닥, 코넥스), an id (stock info's ``mket_id_cd``: STK, KSQ, KNX) and the master
files' names (KOSPI, KOSDAQ). Frames carry the English name in ``market``; where KIS sends its
Korean label, the label stays beside it in ``market_kr``.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache

import pandas as pd

from ..shipped import shipped

MARKETS = ("KOSPI", "KOSDAQ", "KONEX")
MARKET_IDS = {"STK": "KOSPI", "KSQ": "KOSDAQ", "KNX": "KONEX"}
KOREAN = {"코스피": "KOSPI", "코스닥": "KOSDAQ", "코넥스": "KONEX"}
YAHOO_SUFFIXES = {".KS": "KOSPI", ".KQ": "KOSDAQ"}  # Yahoo Finance's tickers: 005930.KS


@lru_cache(maxsize=1)
def known_markets() -> dict[str, str]:
    """Symbol -> market of the real listings shipped in ``data/known_symbols.csv`` (the
    well-known ones; the rest of the shipped universe is the simulator's invention)."""
    text = shipped("known_symbols.csv").read_text("utf-8")
    return {row["code"]: row["market"] for row in csv.DictReader(io.StringIO(text))}


def with_market(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``market`` (KOSPI, KOSDAQ, KONEX) read from its ``market_kr`` label, placed
    just before it. A label not in :data:`KOREAN` is kept as sent; a missing one stays missing."""
    labels = df["market_kr"]
    names = labels.map(lambda v: KOREAN.get(v, v), na_action="ignore").astype(labels.dtype)
    df.insert(df.columns.get_loc("market_kr"), "market", names)
    return df
