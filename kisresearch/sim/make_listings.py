"""Generate ``data/universe.csv``, the simulator's symbol universe.

Run ``python -m kisresearch.sim.make_listings [PATH]``; the output is deterministic, and
``tests/test_sim_account.py`` checks that the shipped file matches it.

The universe holds about 2,500 KOSPI/KOSDAQ symbols: the well-known real ones listed in
``data/known_symbols.csv`` (real codes and names; shares, prices and dates
approximate, base prices near the close on :data:`~kisresearch.sim.timebase.REF_DAY`, real
splits for 005930, 005935, 035420, 035720 and 086520), a dozen real ETFs, and the rest invented:
Korean-style names built from word parts, random six-digit codes ending in 0 (common shares).
A few invented symbols get a historical stock split, a few are 관리종목 (``admin``) or
거래정지 (``halted``).

Columns: code, name, eng_name, market (KOSPI/KOSDAQ), group (ST stock / EF ETF), listed_date,
sector, listed_shares, base_price, par_value, status ("", admin, halted), status_since,
split_date, split_ratio.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import sys
from pathlib import Path

from ..shipped import shipped

log = logging.getLogger("kisresearch.sim")

COLUMNS = (
    "code", "name", "eng_name", "market", "group", "listed_date", "sector", "listed_shares",
    "base_price", "par_value", "status", "status_since", "split_date", "split_ratio",
)  # fmt: skip

# Name parts for invented companies: Korean:romanised (and, for the core word, :sector).
_PREFIXES = """
대한:Daehan 동양:Dongyang 한국:Hanguk 서울:Seoul 신성:Shinsung 태평양:Taepyeongyang
미래:Mirae 한빛:Hanbit 세원:Sewon 동일:Dongil 삼화:Samhwa 금강:Geumgang 우진:Woojin
대성:Daesung 성우:Sungwoo 한솔:Hansol 광명:Gwangmyeong 새한:Saehan 유니:Uni 제일:Jeil
극동:Geukdong 동방:Dongbang 남선:Namsun 대원:Daewon 영진:Youngjin 경인:Gyeongin 호남:Honam
부산:Busan 인천:Incheon 중앙:Jungang 상신:Sangshin 태양:Taeyang 청호:Chungho 진양:Jinyang
화신:Hwashin 일신:Ilshin 보성:Bosung 조선:Chosun 한일:Hanil 국제:Gukje 코리아:Korea
아진:Ajin 오성:Osung 에이스:Ace 하나:Hana 누리:Nuri 가온:Gaon 다온:Daon 나래:Narae
한결:Hangyeol 비전:Vision 네오:Neo 제이:J 케이:K 엠:M 티에스:TS 디에스:DS 에스피:SP 씨엔:CN
알파:Alpha 오메가:Omega 그린:Green 블루:Blue
"""
_CORES = """
전자:Electronics:전기전자 화학:Chemical:화학 제약:Pharm:의약품 바이오:Bio:의약품
정밀:Precision:의료정밀 산업:Industrial:기계 건설:Construction:건설업 식품:Foods:음식료품
테크:Tech:IT서비스 소재:Materials:화학 에너지:Energy:전기가스업 시스템:Systems:IT서비스
반도체:Semiconductor:반도체 통신:Telecom:통신업 물산:Trading:유통업
중공업:Heavy_Industries:운수장비 기계:Machinery:기계 로직스:Logis:운수창고업
솔루션:Solutions:IT서비스 메디칼:Medical:의료정밀 제지:Paper:종이목재 섬유:Textile:섬유의복
금속:Metal:철강금속 철강:Steel:철강금속 해운:Shipping:운수창고업 증권:Securities:증권
보험:Insurance:보험 엔터:Entertainment:오락문화 게임즈:Games:오락문화
헬스케어:Healthcare:의약품 디스플레이:Display:전기전자 로보틱스:Robotics:기계
모빌리티:Mobility:운수장비 네트웍스:Networks:통신업 인더스트리:Industry:기계
케미칼:Chemicals:화학 팜:Farm:음식료품 유통:Distribution:유통업 에프앤비:F&B:음식료품
디지털:Digital:IT서비스
"""
_SUFFIXES = (
    ("", ""), ("", ""), ("", ""), ("", ""), ("홀딩스", " Holdings"), ("글로벌", " Global"),
    ("코리아", " Korea"), ("인터내셔널", " International"),
)  # fmt: skip
_N_KOSPI, _N_KOSDAQ = 880, 1550
_SEED = 20250102


def _parts(text: str) -> list[list[str]]:
    return [item.replace("_", " ").split(":") for item in text.split()]


def _tick(price: float) -> int:
    for bound, tick in ((2000, 1), (5000, 5), (20000, 10), (50000, 50), (200000, 100),
                        (500000, 500)):  # fmt: skip
        if price < bound:
            return tick
    return 1000


def _date(rng: random.Random, first: int, last: int) -> str:
    year = rng.randint(first, last)
    return f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


def known() -> list[dict[str, str]]:
    """The real symbols, from ``data/known_symbols.csv``."""
    text = shipped("known_symbols.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        row.update(status="", status_since="")
    return rows


def generate() -> list[dict[str, str]]:
    """The universe rows, deterministic."""
    rng = random.Random(_SEED)
    rows = known()
    used_codes = {r["code"] for r in rows}
    used_names = {r["name"] for r in rows}
    combos = [(p, c, s) for p in _parts(_PREFIXES) for c in _parts(_CORES) for s in _SUFFIXES]
    rng.shuffle(combos)
    names = iter(combos)
    for market, count in (("KOSPI", _N_KOSPI), ("KOSDAQ", _N_KOSDAQ)):
        for _ in range(count):
            code = f"{rng.randrange(1, 50000) * 10:06d}"
            while code in used_codes:
                code = f"{rng.randrange(1, 50000) * 10:06d}"
            used_codes.add(code)
            (kp, ep), (kc, ec, sector), (ks, es) = next(names)
            while kp + kc + ks in used_names:
                (kp, ep), (kc, ec, sector), (ks, es) = next(names)
            used_names.add(kp + kc + ks)
            kospi = market == "KOSPI"
            price = min(900000.0, max(500.0, rng.lognormvariate(9.9 if kospi else 9.0, 0.9)))
            tick = _tick(price)
            shares = int(rng.lognormvariate(17.5 if kospi else 16.8, 0.8))
            status, since, split, ratio = "", "", "", ""
            roll = rng.random()
            if roll < 0.006:
                status, since = "admin", _date(rng, 2024, 2025)
            elif roll < 0.010:
                status, since = "halted", _date(rng, 2025, 2025)
            if rng.random() < 0.012:
                split, ratio = _date(rng, 2012, 2023), str(rng.choice((2, 5, 10)))
            rows.append({
                "code": code, "name": kp + kc + ks, "eng_name": ep + " " + ec + es,
                "market": market, "group": "ST",
                "listed_date": _date(rng, 1975 if kospi else 1996, 2024),
                "sector": sector, "listed_shares": str(shares),
                "base_price": str(round(price / tick) * tick),
                "par_value": rng.choice(("5000", "5000", "1000", "500", "500", "100")),
                "status": status, "status_since": since, "split_date": split,
                "split_ratio": ratio,
            })  # fmt: skip
    for row in rows:  # a split must fall after the listing
        if row["split_date"] and row["split_date"] <= row["listed_date"]:
            row["split_date"], row["split_ratio"] = "", ""
    rows.sort(key=lambda r: (r["market"] != "KOSPI", r["code"]))
    return rows


def render(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def default_path() -> Path:
    return Path(__file__).resolve().parents[2] / "data" / "universe.csv"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else default_path()
    rows = generate()
    path.write_text(render(rows), encoding="utf-8")
    log.info("wrote %d symbols to %s", len(rows), path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
