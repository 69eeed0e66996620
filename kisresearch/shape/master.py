"""Symbol universes: the list shipped with the toolkit, and KIS's own master files.

``universe()`` needs no server: it is the list the demo and the notebooks pull (the simulator's
market). ``KIS.symbols()`` reads KIS's master files instead; this module holds their pure parts:
where they live, how to download one, and how to parse it.

Master files (``kis-api-facts.md`` §8; layout from the official
``koreainvestment/open-trading-api`` ``stocks_info/kis_kospi_code_mst.py`` and
``kis_kosdaq_code_mst.py``): a zip holding one ``.mst`` file, cp949 text, one symbol a line.
단축코드 ``[0:9]``, ISIN ``[9:21]``, 한글명 ``[21:len-228]`` (KOSPI) / ``[21:len-222]``
(KOSDAQ), counting the newline, then a fixed-width tail (:data:`KOSPI_TAIL`,
:data:`KOSDAQ_TAIL`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import pandas as pd

from ..errors import BadResponse, ConfigError
from ..shipped import shipped

MASTER_URL = "https://new.real.download.dws.co.kr/common/master/"
MASTER_FILES = {"KOSPI": "kospi_code.mst.zip", "KOSDAQ": "kosdaq_code.mst.zip"}
MARKETS = ("KOSPI", "KOSDAQ")


@lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    with shipped("universe.csv").open("rb") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    df["listed_date"] = pd.to_datetime(df["listed_date"], format="%Y%m%d")
    df["listed_shares"] = df["listed_shares"].astype("int64")
    df = df.rename(columns={"code": "symbol"})  # the simulator's file says code; frames say symbol
    return df[
        ["symbol", "name", "eng_name", "market", "group", "sector", "listed_date", "listed_shares"]
    ]


def market_choice(market: str) -> list[str]:
    """``"all"`` -> both markets; ``"KOSPI"``/``"KOSDAQ"`` (any case) -> that one."""
    if not isinstance(market, str) or market.strip().upper() not in ("ALL", *MARKETS):
        raise ConfigError(f"market must be 'all', 'KOSPI' or 'KOSDAQ', got {market!r}")
    name = market.strip().upper()
    return list(MARKETS) if name == "ALL" else [name]


def universe(market: str = "all") -> pd.DataFrame:
    """The shipped universe: ``symbol``, ``name``, ``eng_name``, ``market`` (KOSPI/KOSDAQ),
    ``group`` (ST stock, EF ETF), ``sector``, ``listed_date``, ``listed_shares``.

    >>> universe().query("symbol == '005930'")["name"].item()
    '삼성전자'
    """
    df = _load()
    chosen = market_choice(market)
    if len(chosen) == 1:
        df = df[df["market"] == chosen[0]]
    return df.reset_index(drop=True).copy()


# --- master files -----------------------------------------------------------------------------

# The fixed-width tail, in order: (name, width). Names starting with "_" are not kept.
_FLAGS_KOSPI = 26  # 제조업 ... SRI
_FLAGS_KOSDAQ = 21  # 벤처기업 ... KOSDAQ150
_HEAD = (("group", 2), ("cap_size", 1), ("sector_code", 4), ("_sector_m", 4), ("_sector_s", 4))
_MIDDLE = (
    ("base_price", 9),
    ("_lot", 5),
    ("_lot_after_hours", 5),
    ("halted", 1),
    ("_liquidation", 1),
    ("admin", 1),
    ("_warning", 2),
    ("_warning_notice", 1),
    ("_unfaithful", 1),
    ("_backdoor", 1),
    ("_lock", 2),
    ("_par_change", 2),
    ("_capital_increase", 2),
    ("_margin_rate", 3),
    ("_credit", 1),
    ("_credit_days", 3),
    ("_prev_volume", 12),
    ("par_value", 12),
    ("listed_date", 8),
    ("listed_shares", 15),
    ("_capital", 21),
    ("_fiscal_month", 2),
    ("_ipo_price", 7),
    ("_preferred", 1),
    ("_short_overheat", 1),
    ("_surge", 1),
    ("_krx300", 1),
)
_END = (
    ("_sales", 9),
    ("_operating_income", 9),
    ("_ordinary_income", 9),
    ("_net_income", 5),
    ("roe", 9),
    ("_base_month", 8),
    ("market_cap_100m_krw", 9),
    ("_group_company", 3),
    ("_credit_limit", 1),
    ("_collateral", 1),
    ("_lendable", 1),
)
KOSPI_TAIL = (
    *_HEAD,
    *((f"_flag{i}", 1) for i in range(_FLAGS_KOSPI)),
    *_MIDDLE,
    ("_kospi", 1),
    *_END,
)
KOSDAQ_TAIL = (*_HEAD, *((f"_flag{i}", 1) for i in range(_FLAGS_KOSDAQ)), *_MIDDLE, *_END)
TAILS = {"KOSPI": KOSPI_TAIL, "KOSDAQ": KOSDAQ_TAIL}

MASTER_COLUMNS = (
    "symbol",
    "isin",
    "name",
    "market",
    "group",
    "sector_code",
    "cap_size",
    "base_price",
    "par_value",
    "listed_date",
    "listed_shares",
    "market_cap_100m_krw",
    "roe",
    "halted",
    "admin",
)


def tail_width(market: str) -> int:
    """Characters in the fixed-width tail, newline excluded (227 KOSPI, 221 KOSDAQ)."""
    return sum(w for _, w in TAILS[market])


def _split(tail: str, layout: Sequence[tuple[str, int]]) -> dict[str, str]:
    out, pos = {}, 0
    for name, width in layout:
        if not name.startswith("_"):
            out[name] = tail[pos : pos + width].strip()
        pos += width
    return out


def parse_master(text: str, market: str) -> pd.DataFrame:
    """A decoded ``.mst`` file -> one row per line.

    Columns: ``symbol`` (str), ``isin`` (str), ``name`` (str), ``market`` (str), ``group``
    (str: ST stock, EF ETF, EN ETN, RT REIT, ...), ``sector_code`` (str, 지수업종대분류),
    ``cap_size`` (str, 시가총액규모), ``base_price`` (int64, 기준가), ``par_value`` (int64),
    ``listed_date`` (datetime64), ``listed_shares`` (int64: the file counts thousands, so this
    is rounded to a thousand), ``market_cap_100m_krw`` (int64, hundred-million KRW), ``roe``
    (float64), ``halted`` (bool, 거래정지), ``admin`` (bool, 관리종목).
    """
    layout = TAILS[market]
    width = tail_width(market)
    records: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.rstrip("\r\n")
        if len(line) <= 21 + width:
            continue
        head, tail = line[:-width], line[-width:]
        fields = _split(tail, layout)
        records.append(
            {
                "symbol": head[0:9].strip(),
                "isin": head[9:21].strip(),
                "name": head[21:].strip(),
                "market": market,
                **fields,
            }
        )
    df = pd.DataFrame.from_records(records, columns=list(MASTER_COLUMNS))
    for col in ("symbol", "isin", "name", "market", "group", "sector_code", "cap_size"):
        df[col] = df[col].astype("str")
    for col in ("base_price", "par_value", "market_cap_100m_krw"):
        df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype("int64")
    shares = pd.to_numeric(df["listed_shares"], errors="coerce").fillna(0)
    df["listed_shares"] = (shares * 1000).astype("int64")
    df["roe"] = pd.to_numeric(df["roe"], errors="coerce").astype("float64")
    df["listed_date"] = pd.to_datetime(df["listed_date"], format="%Y%m%d", errors="coerce")
    for col in ("halted", "admin"):
        df[col] = (df[col] == "Y").astype(bool)
    return df


def master_text(zipped: bytes) -> str:
    """The ``.mst`` text inside a master zip, decoded from cp949."""
    try:
        with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
            names = [n for n in zf.namelist() if n.endswith(".mst")]
            if not names:
                raise BadResponse("the master zip holds no .mst file")
            return zf.read(names[0]).decode("cp949")
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise BadResponse(f"not a KIS master file: {exc}") from exc
