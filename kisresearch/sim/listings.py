"""The symbols the simulator knows: the shipped domestic universe and a few overseas tickers."""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from ..shipped import shipped
from .timebase import parse_ymd


@dataclass(frozen=True)
class Symbol:
    """One domestic symbol (a row of ``data/universe.csv``)."""

    code: str
    name: str
    eng_name: str
    market: str  # KOSPI / KOSDAQ
    group: str  # ST / EF
    listed: date
    sector: str
    listed_shares: int
    base_price: int
    par_value: int
    status: str  # "", "admin", "halted"
    status_since: date | None
    split_day: date | None
    split_ratio: int
    rank: int  # market-cap rank within its market at the base price (1 = largest)

    @property
    def is_etf(self) -> bool:
        return self.group == "EF"

    @property
    def halted(self) -> bool:
        return self.status == "halted"

    @property
    def admin(self) -> bool:
        return self.status == "admin"

    @property
    def key(self) -> int:
        """A stable integer for seeding this symbol's random streams."""
        return zlib.crc32(self.code.encode())


def _load(text: str) -> dict[str, Symbol]:
    raw = list(csv.DictReader(io.StringIO(text)))
    caps: dict[str, list[tuple[int, str]]] = {}
    for r in raw:
        caps.setdefault(r["market"], []).append(
            (-int(r["base_price"]) * int(r["listed_shares"]), r["code"])
        )
    rank = {code: i + 1 for rows in caps.values() for i, (_, code) in enumerate(sorted(rows))}
    out: dict[str, Symbol] = {}
    for r in raw:
        listed = parse_ymd(r["listed_date"])
        assert listed is not None, r
        out[r["code"]] = Symbol(
            code=r["code"],
            name=r["name"],
            eng_name=r["eng_name"],
            market=r["market"],
            group=r["group"],
            listed=listed,
            sector=r["sector"],
            listed_shares=int(r["listed_shares"]),
            base_price=int(r["base_price"]),
            par_value=int(r["par_value"]),
            status=r["status"],
            status_since=parse_ymd(r["status_since"]),
            split_day=parse_ymd(r["split_date"]),
            split_ratio=int(r["split_ratio"] or 1),
            rank=rank[r["code"]],
        )
    return out


@lru_cache(maxsize=1)
def domestic() -> dict[str, Symbol]:
    """Code -> :class:`Symbol` for the shipped universe (read once)."""
    text = shipped("universe.csv").read_text("utf-8")
    return _load(text)


@dataclass(frozen=True)
class Foreign:
    """One overseas ticker: exchange code as KIS spells it (EXCD), symbol, price decimals."""

    excd: str
    symb: str
    name: str
    base_price: float
    decimals: int
    currency: str

    @property
    def key(self) -> int:
        return zlib.crc32(f"{self.excd}:{self.symb}".encode())


_FOREIGN = (
    ("NAS", "AAPL", "Apple", 243.85),
    ("NAS", "MSFT", "Microsoft", 418.58),
    ("NAS", "NVDA", "NVIDIA", 138.31),
    ("NAS", "AMZN", "Amazon.com", 220.22),
    ("NAS", "GOOGL", "Alphabet A", 189.43),
    ("NAS", "META", "Meta Platforms", 599.24),
    ("NAS", "TSLA", "Tesla", 379.28),
    ("NAS", "AVGO", "Broadcom", 232.52),
    ("NAS", "COST", "Costco", 912.06),
    ("NAS", "NFLX", "Netflix", 885.35),
    ("NAS", "QQQ", "Invesco QQQ Trust", 510.23),
    ("NYS", "JPM", "JPMorgan Chase", 240.21),
    ("NYS", "V", "Visa", 318.36),
    ("NYS", "JNJ", "Johnson & Johnson", 144.28),
    ("NYS", "WMT", "Walmart", 90.60),
    ("NYS", "XOM", "Exxon Mobil", 107.55),
    ("NYS", "KO", "Coca-Cola", 62.19),
    ("NYS", "TSM", "Taiwan Semiconductor ADR", 205.67),
    ("AMS", "SPY", "SPDR S&P 500 ETF", 584.64),
    ("AMS", "GLD", "SPDR Gold Shares", 240.63),
    ("AMS", "IWM", "iShares Russell 2000 ETF", 220.96),
    ("HKS", "00700", "Tencent", 412.0),
    ("HKS", "09988", "Alibaba", 82.8),
    ("HKS", "00005", "HSBC Holdings", 76.5),
    ("HKS", "01810", "Xiaomi", 34.5),
    ("TSE", "7203", "Toyota Motor", 2786.0),
    ("TSE", "6758", "Sony Group", 3364.0),
)
_DECIMALS = {"NAS": 4, "NYS": 4, "AMS": 4, "HKS": 3, "TSE": 1}
_CURRENCY = {"NAS": "USD", "NYS": "USD", "AMS": "USD", "HKS": "HKD", "TSE": "JPY"}


@lru_cache(maxsize=1)
def foreign() -> dict[tuple[str, str], Foreign]:
    """(EXCD, SYMB) -> :class:`Foreign`."""
    return {(e, s): Foreign(e, s, n, p, _DECIMALS[e], _CURRENCY[e]) for e, s, n, p in _FOREIGN}


def isin(code: str) -> str:
    """The KRX ISIN for a six-character short code: ``KR7`` + code + ``00`` + check digit."""
    body = f"KR7{code}00"
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # every second digit from the right, starting with the rightmost
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)
