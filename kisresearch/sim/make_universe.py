"""Generate ``kisresearch/data/universe.csv``, the simulator's symbol universe.

Run ``python -m kisresearch.sim.make_universe [PATH]``; the output is deterministic, and
``tests/test_sim_market.py`` checks that the shipped file matches it.

The universe holds about 2,500 KOSPI/KOSDAQ symbols: the well-known real ones below (real codes
and names; shares, prices and dates approximate, base prices near the close on
:data:`~kisresearch.sim.timebase.REF_DAY`), a dozen real ETFs, and the rest invented: Korean-style
names built from word parts, random six-digit codes ending in 0 (common shares). A few invented
symbols get a historical stock split, a few are 관리종목 (``admin``) or 거래정지 (``halted``).

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

log = logging.getLogger("kisresearch.sim")

COLUMNS = ("code", "name", "eng_name", "market", "group", "listed_date", "sector",
           "listed_shares", "base_price", "par_value", "status", "status_since", "split_date",
           "split_ratio")

SECTORS = ("전기전자", "화학", "의약품", "운수장비", "금융업", "서비스업", "음식료품", "철강금속",
           "기계", "유통업", "건설업", "통신업", "운수창고업", "섬유의복", "종이목재", "비금속광물",
           "의료정밀", "전기가스업", "증권", "보험", "IT서비스", "반도체", "오락문화")

# code, name, eng_name, market, group, listed, sector, shares, base price, par, split, ratio
_REAL: tuple[tuple[str, ...], ...] = (
    ("005930", "삼성전자", "Samsung Electronics", "KOSPI", "ST", "19750611", "전기전자",
     "5969782550", "53400", "100", "20180504", "50"),
    ("005935", "삼성전자우", "Samsung Electronics Pref", "KOSPI", "ST", "19890925", "전기전자",
     "822886700", "44000", "100", "20180504", "50"),
    ("000660", "SK하이닉스", "SK hynix", "KOSPI", "ST", "19961226", "전기전자", "728002365",
     "172000", "5000", "", ""),
    ("373220", "LG에너지솔루션", "LG Energy Solution", "KOSPI", "ST", "20220127", "전기전자",
     "234000000", "355000", "500", "", ""),
    ("207940", "삼성바이오로직스", "Samsung Biologics", "KOSPI", "ST", "20161110", "의약품",
     "71174000", "950000", "2500", "", ""),
    ("005380", "현대차", "Hyundai Motor", "KOSPI", "ST", "19740628", "운수장비", "209416191",
     "212000", "5000", "", ""),
    ("000270", "기아", "Kia", "KOSPI", "ST", "19730721", "운수장비", "397672632", "101000",
     "5000", "", ""),
    ("035420", "NAVER", "NAVER", "KOSPI", "ST", "20081128", "서비스업", "158437008", "204500",
     "100", "20181012", "5"),
    ("035720", "카카오", "Kakao", "KOSPI", "ST", "20170710", "서비스업", "442000000", "37850",
     "100", "20210415", "5"),
    ("051910", "LG화학", "LG Chem", "KOSPI", "ST", "20010425", "화학", "70592343", "250000",
     "5000", "", ""),
    ("006400", "삼성SDI", "Samsung SDI", "KOSPI", "ST", "19790227", "전기전자", "68764530",
     "253000", "5000", "", ""),
    ("068270", "셀트리온", "Celltrion", "KOSPI", "ST", "20180209", "의약품", "216000000",
     "186000", "1000", "", ""),
    ("105560", "KB금융", "KB Financial Group", "KOSPI", "ST", "20081010", "금융업", "393000000",
     "84000", "5000", "", ""),
    ("055550", "신한지주", "Shinhan Financial Group", "KOSPI", "ST", "20010910", "금융업",
     "510000000", "48000", "5000", "", ""),
    ("086790", "하나금융지주", "Hana Financial Group", "KOSPI", "ST", "20051212", "금융업",
     "290000000", "57000", "5000", "", ""),
    ("316140", "우리금융지주", "Woori Financial Group", "KOSPI", "ST", "20190213", "금융업",
     "742600000", "15400", "5000", "", ""),
    ("005490", "POSCO홀딩스", "POSCO Holdings", "KOSPI", "ST", "19880610", "철강금속", "84571230",
     "255000", "5000", "", ""),
    ("028260", "삼성물산", "Samsung C&T", "KOSPI", "ST", "20141218", "유통업", "169976544",
     "115000", "100", "", ""),
    ("012330", "현대모비스", "Hyundai Mobis", "KOSPI", "ST", "19890905", "운수장비", "91795094",
     "236000", "5000", "", ""),
    ("066570", "LG전자", "LG Electronics", "KOSPI", "ST", "20020422", "전기전자", "163647814",
     "83000", "5000", "", ""),
    ("003550", "LG", "LG Corp", "KOSPI", "ST", "19700213", "금융업", "157300000", "72000",
     "5000", "", ""),
    ("017670", "SK텔레콤", "SK Telecom", "KOSPI", "ST", "19891107", "통신업", "214790053",
     "55000", "100", "", ""),
    ("030200", "KT", "KT Corp", "KOSPI", "ST", "19981223", "통신업", "257860000", "45000",
     "5000", "", ""),
    ("034730", "SK", "SK Inc", "KOSPI", "ST", "20091111", "금융업", "73000000", "135000", "200",
     "", ""),
    ("096770", "SK이노베이션", "SK Innovation", "KOSPI", "ST", "20070725", "화학", "151000000",
     "110000", "5000", "", ""),
    ("015760", "한국전력", "KEPCO", "KOSPI", "ST", "19890810", "전기가스업", "641964077", "21500",
     "5000", "", ""),
    ("032830", "삼성생명", "Samsung Life Insurance", "KOSPI", "ST", "20100512", "보험",
     "200000000", "88000", "500", "", ""),
    ("000810", "삼성화재", "Samsung Fire & Marine Insurance", "KOSPI", "ST", "19750630", "보험",
     "47300000", "357000", "500", "", ""),
    ("018260", "삼성에스디에스", "Samsung SDS", "KOSPI", "ST", "20141114", "IT서비스", "77377800",
     "128000", "500", "", ""),
    ("009150", "삼성전기", "Samsung Electro-Mechanics", "KOSPI", "ST", "19790227", "전기전자",
     "74693696", "124000", "5000", "", ""),
    ("010130", "고려아연", "Korea Zinc", "KOSPI", "ST", "19900730", "철강금속", "20703283",
     "1000000", "5000", "", ""),
    ("011200", "HMM", "HMM", "KOSPI", "ST", "19950929", "운수창고업", "1025039496", "17600",
     "5000", "", ""),
    ("003670", "포스코퓨처엠", "POSCO Future M", "KOSPI", "ST", "20190514", "비금속광물",
     "77460000", "149000", "500", "", ""),
    ("034020", "두산에너빌리티", "Doosan Enerbility", "KOSPI", "ST", "20001025", "기계",
     "640000000", "17800", "5000", "", ""),
    ("012450", "한화에어로스페이스", "Hanwha Aerospace", "KOSPI", "ST", "19870528", "기계",
     "50600000", "330000", "5000", "", ""),
    ("329180", "HD현대중공업", "HD Hyundai Heavy Industries", "KOSPI", "ST", "20210917",
     "운수장비", "88773116", "285000", "5000", "", ""),
    ("259960", "크래프톤", "Krafton", "KOSPI", "ST", "20210810", "서비스업", "48000000", "313000",
     "100", "", ""),
    ("323410", "카카오뱅크", "KakaoBank", "KOSPI", "ST", "20210806", "금융업", "476000000",
     "21000", "5000", "", ""),
    ("352820", "하이브", "HYBE", "KOSPI", "ST", "20201015", "서비스업", "41650000", "180000",
     "500", "", ""),
    ("036570", "엔씨소프트", "NCSOFT", "KOSPI", "ST", "20030527", "서비스업", "21954022",
     "183000", "500", "", ""),
    ("251270", "넷마블", "Netmarble", "KOSPI", "ST", "20170512", "서비스업", "85956000", "51000",
     "100", "", ""),
    ("009540", "HD한국조선해양", "HD Korea Shipbuilding & Offshore Engineering", "KOSPI", "ST",
     "19831220", "운수장비", "70773116", "180000", "5000", "", ""),
    ("010950", "S-Oil", "S-Oil", "KOSPI", "ST", "19870527", "화학", "112582792", "55000", "2500",
     "", ""),
    ("090430", "아모레퍼시픽", "Amorepacific", "KOSPI", "ST", "20060629", "화학", "58000000",
     "105000", "500", "", ""),
    ("097950", "CJ제일제당", "CJ CheilJedang", "KOSPI", "ST", "20070928", "음식료품", "15000000",
     "255000", "5000", "", ""),
    ("033780", "KT&G", "KT&G", "KOSPI", "ST", "19991008", "음식료품", "125000000", "107000",
     "5000", "", ""),
    ("011170", "롯데케미칼", "Lotte Chemical", "KOSPI", "ST", "19910508", "화학", "42000000",
     "58000", "5000", "", ""),
    ("000100", "유한양행", "Yuhan", "KOSPI", "ST", "19621101", "의약품", "80000000", "120000",
     "1000", "", ""),
    ("128940", "한미약품", "Hanmi Pharm", "KOSPI", "ST", "20100730", "의약품", "12800000",
     "285000", "2500", "", ""),
    ("247540", "에코프로비엠", "EcoPro BM", "KOSDAQ", "ST", "20190305", "전기전자", "97800000",
     "110000", "500", "", ""),
    ("086520", "에코프로", "EcoPro", "KOSDAQ", "ST", "20070725", "화학", "133000000", "59000",
     "100", "20240416", "5"),
    ("196170", "알테오젠", "Alteogen", "KOSDAQ", "ST", "20141212", "의약품", "53000000", "310000",
     "500", "", ""),
    ("028300", "HLB", "HLB", "KOSDAQ", "ST", "19961227", "의약품", "131000000", "72000", "500",
     "", ""),
    ("263750", "펄어비스", "Pearl Abyss", "KOSDAQ", "ST", "20170914", "서비스업", "64000000",
     "34000", "100", "", ""),
    ("293490", "카카오게임즈", "Kakao Games", "KOSDAQ", "ST", "20200910", "서비스업", "82000000",
     "17500", "100", "", ""),
    ("035900", "JYP Ent.", "JYP Entertainment", "KOSDAQ", "ST", "20010824", "오락문화",
     "35500000", "65000", "500", "", ""),
    ("041510", "에스엠", "SM Entertainment", "KOSDAQ", "ST", "20000427", "오락문화", "23800000",
     "63000", "500", "", ""),
    ("145020", "휴젤", "Hugel", "KOSDAQ", "ST", "20151224", "의약품", "12000000", "280000",
     "500", "", ""),
    ("058470", "리노공업", "LEENO Industrial", "KOSDAQ", "ST", "20011218", "반도체", "15242370",
     "180000", "500", "", ""),
    ("277810", "레인보우로보틱스", "Rainbow Robotics", "KOSDAQ", "ST", "20210203", "기계",
     "19400000", "160000", "500", "", ""),
    ("068760", "셀트리온제약", "Celltrion Pharm", "KOSDAQ", "ST", "20060202", "의약품",
     "41000000", "60000", "500", "", ""),
    ("357780", "솔브레인", "Soulbrain", "KOSDAQ", "ST", "20200730", "반도체", "7780000", "200000",
     "500", "", ""),
    ("039030", "이오테크닉스", "EO Technics", "KOSDAQ", "ST", "20000324", "반도체", "12300000",
     "160000", "500", "", ""),
    ("240810", "원익IPS", "Wonik IPS", "KOSDAQ", "ST", "20160502", "반도체", "49000000", "25000",
     "500", "", ""),
    ("214150", "클래시스", "Classys", "KOSDAQ", "ST", "20071228", "의료정밀", "65500000", "45000",
     "100", "", ""),
    ("069500", "KODEX 200", "KODEX 200", "KOSPI", "EF", "20021014", "금융업", "150000000",
     "32500", "0", "", ""),
    ("102110", "TIGER 200", "TIGER 200", "KOSPI", "EF", "20080403", "금융업", "80000000",
     "32600", "0", "", ""),
    ("114800", "KODEX 인버스", "KODEX Inverse", "KOSPI", "EF", "20090916", "금융업", "300000000",
     "4900", "0", "", ""),
    ("122630", "KODEX 레버리지", "KODEX Leverage", "KOSPI", "EF", "20100222", "금융업",
     "200000000", "15000", "0", "", ""),
    ("252670", "KODEX 200선물인버스2X", "KODEX 200 Futures Inverse 2X", "KOSPI", "EF",
     "20160922", "금융업", "1300000000", "2400", "0", "", ""),
    ("229200", "KODEX 코스닥150", "KODEX KOSDAQ150", "KOSPI", "EF", "20151001", "금융업",
     "40000000", "11000", "0", "", ""),
    ("233740", "KODEX 코스닥150레버리지", "KODEX KOSDAQ150 Leverage", "KOSPI", "EF", "20160128",
     "금융업", "100000000", "8000", "0", "", ""),
    ("360750", "TIGER 미국S&P500", "TIGER US S&P500", "KOSPI", "EF", "20200807", "금융업",
     "200000000", "20000", "0", "", ""),
    ("133690", "TIGER 미국나스닥100", "TIGER US NASDAQ100", "KOSPI", "EF", "20101018", "금융업",
     "20000000", "130000", "0", "", ""),
    ("278530", "KODEX 200TR", "KODEX 200TR", "KOSPI", "EF", "20171017", "금융업", "100000000",
     "11500", "0", "", ""),
    ("305720", "KODEX 2차전지산업", "KODEX Secondary Battery Industry", "KOSPI", "EF",
     "20180912", "금융업", "80000000", "12000", "0", "", ""),
    ("381170", "TIGER 미국테크TOP10 INDXX", "TIGER US Tech TOP10 INDXX", "KOSPI", "EF",
     "20210409", "금융업", "60000000", "20000", "0", "", ""),
)

# Korean name parts with their romanisation, for invented companies.
_PREFIXES = (
    ("대한", "Daehan"), ("동양", "Dongyang"), ("한국", "Hanguk"), ("서울", "Seoul"),
    ("신성", "Shinsung"), ("태평양", "Taepyeongyang"), ("미래", "Mirae"), ("한빛", "Hanbit"),
    ("세원", "Sewon"), ("동일", "Dongil"), ("삼화", "Samhwa"), ("금강", "Geumgang"),
    ("우진", "Woojin"), ("대성", "Daesung"), ("성우", "Sungwoo"), ("한솔", "Hansol"),
    ("광명", "Gwangmyeong"), ("새한", "Saehan"), ("유니", "Uni"), ("제일", "Jeil"),
    ("극동", "Geukdong"), ("동방", "Dongbang"), ("남선", "Namsun"), ("대원", "Daewon"),
    ("영진", "Youngjin"), ("경인", "Gyeongin"), ("호남", "Honam"), ("부산", "Busan"),
    ("인천", "Incheon"), ("중앙", "Jungang"), ("상신", "Sangshin"), ("태양", "Taeyang"),
    ("청호", "Chungho"), ("진양", "Jinyang"), ("화신", "Hwashin"), ("일신", "Ilshin"),
    ("보성", "Bosung"), ("조선", "Chosun"), ("한일", "Hanil"), ("국제", "Gukje"),
    ("코리아", "Korea"), ("아진", "Ajin"), ("오성", "Osung"), ("에이스", "Ace"),
    ("하나", "Hana"), ("누리", "Nuri"), ("가온", "Gaon"), ("다온", "Daon"), ("나래", "Narae"),
    ("한결", "Hangyeol"), ("비전", "Vision"), ("네오", "Neo"), ("제이", "J"), ("케이", "K"),
    ("엠", "M"), ("티에스", "TS"), ("디에스", "DS"), ("에스피", "SP"), ("씨엔", "CN"),
    ("알파", "Alpha"), ("오메가", "Omega"), ("그린", "Green"), ("블루", "Blue"),
)
_CORES = (
    ("전자", "Electronics"), ("화학", "Chemical"), ("제약", "Pharm"), ("바이오", "Bio"),
    ("정밀", "Precision"), ("산업", "Industrial"), ("건설", "Construction"), ("식품", "Foods"),
    ("테크", "Tech"), ("소재", "Materials"), ("에너지", "Energy"), ("시스템", "Systems"),
    ("반도체", "Semiconductor"), ("통신", "Telecom"), ("물산", "Trading"),
    ("중공업", "Heavy Industries"), ("기계", "Machinery"), ("로직스", "Logis"),
    ("솔루션", "Solutions"), ("메디칼", "Medical"), ("제지", "Paper"), ("섬유", "Textile"),
    ("금속", "Metal"), ("철강", "Steel"), ("해운", "Shipping"), ("증권", "Securities"),
    ("보험", "Insurance"), ("엔터", "Entertainment"), ("게임즈", "Games"), ("헬스케어", "Healthcare"),
    ("디스플레이", "Display"), ("로보틱스", "Robotics"), ("모빌리티", "Mobility"),
    ("네트웍스", "Networks"), ("인더스트리", "Industry"), ("케미칼", "Chemicals"),
    ("팜", "Farm"), ("유통", "Distribution"), ("에프앤비", "F&B"), ("디지털", "Digital"),
)
_SUFFIXES = (("", ""), ("", ""), ("", ""), ("", ""), ("홀딩스", " Holdings"),
             ("글로벌", " Global"), ("코리아", " Korea"), ("인터내셔널", " International"))
_SECTOR_OF_CORE = {
    "전자": "전기전자", "화학": "화학", "제약": "의약품", "바이오": "의약품", "정밀": "의료정밀",
    "산업": "기계", "건설": "건설업", "식품": "음식료품", "테크": "IT서비스", "소재": "화학",
    "에너지": "전기가스업", "시스템": "IT서비스", "반도체": "반도체", "통신": "통신업",
    "물산": "유통업", "중공업": "운수장비", "기계": "기계", "로직스": "운수창고업",
    "솔루션": "IT서비스", "메디칼": "의료정밀", "제지": "종이목재", "섬유": "섬유의복",
    "금속": "철강금속", "철강": "철강금속", "해운": "운수창고업", "증권": "증권", "보험": "보험",
    "엔터": "오락문화", "게임즈": "오락문화", "헬스케어": "의약품", "디스플레이": "전기전자",
    "로보틱스": "기계", "모빌리티": "운수장비", "네트웍스": "통신업", "인더스트리": "기계",
    "케미칼": "화학", "팜": "음식료품", "유통": "유통업", "에프앤비": "음식료품",
    "디지털": "IT서비스",
}
_N_KOSPI, _N_KOSDAQ = 880, 1550
_SEED = 20250102


def _tick(price: float) -> int:
    for bound, tick in ((2000, 1), (5000, 5), (20000, 10), (50000, 50), (200000, 100),
                        (500000, 500)):
        if price < bound:
            return tick
    return 1000


def _date(rng: random.Random, first: int, last: int) -> str:
    year = rng.randint(first, last)
    return f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


def generate() -> list[dict[str, str]]:
    """The universe rows, deterministic."""
    rng = random.Random(_SEED)
    rows = [dict(zip(COLUMNS[:10] + COLUMNS[12:], (*r[:10], r[10], r[11]), strict=True))
            for r in _REAL]
    for row in rows:
        row.update(status="", status_since="")
    used_codes = {r["code"] for r in rows}
    used_names = {r["name"] for r in rows}
    combos = [(p, c, s) for p in _PREFIXES for c in _CORES for s in _SUFFIXES]
    rng.shuffle(combos)
    names = iter(combos)
    for market, count in (("KOSPI", _N_KOSPI), ("KOSDAQ", _N_KOSDAQ)):
        for _ in range(count):
            code = f"{rng.randrange(1, 50000) * 10:06d}"
            while code in used_codes:
                code = f"{rng.randrange(1, 50000) * 10:06d}"
            used_codes.add(code)
            (kp, ep), (kc, ec), (ks, es) = next(names)
            while kp + kc + ks in used_names:
                (kp, ep), (kc, ec), (ks, es) = next(names)
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
                "sector": _SECTOR_OF_CORE[kc], "listed_shares": str(shares),
                "base_price": str(int(round(price / tick)) * tick),
                "par_value": rng.choice(("5000", "5000", "1000", "500", "500", "100")),
                "status": status, "status_since": since, "split_date": split,
                "split_ratio": ratio,
            })
    # A split must fall after the listing.
    for row in rows:
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
    return Path(__file__).resolve().parent.parent / "data" / "universe.csv"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else default_path()
    rows = generate()
    path.write_text(render(rows), encoding="utf-8")
    log.info("wrote %d symbols to %s", len(rows), path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
