"""The symbol universe shipped with the toolkit (the simulator's market).

``universe()`` needs no server: it is the list the demo and the notebooks pull. Against a real
account, ``KIS.symbols()`` reads KIS's own master files instead.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd


@lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    with resources.files("kisresearch").joinpath("data/universe.csv").open("rb") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    df["listed_date"] = pd.to_datetime(df["listed_date"], format="%Y%m%d")
    df["listed_shares"] = df["listed_shares"].astype("int64")
    return df[["code", "name", "eng_name", "market", "group", "sector", "listed_date",
               "listed_shares"]]


def universe(market: str = "all") -> pd.DataFrame:
    """The shipped universe: ``code``, ``name``, ``eng_name``, ``market`` (KOSPI/KOSDAQ),
    ``group`` (ST stock, EF ETF), ``sector``, ``listed_date``, ``listed_shares``.

    >>> universe().query("code == '005930'")["name"].item()
    '삼성전자'
    """
    df = _load()
    if market != "all":
        if market.upper() not in ("KOSPI", "KOSDAQ"):
            raise ValueError(f"market must be 'all', 'KOSPI' or 'KOSDAQ', got {market!r}")
        df = df[df["market"] == market.upper()]
    return df.reset_index(drop=True).copy()
