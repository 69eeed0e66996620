"""The symbol master files: ``kospi_code.mst.zip`` and ``kosdaq_code.mst.zip``.

KIS serves these unauthenticated from ``https://new.real.download.dws.co.kr/common/master/``;
the simulator serves them at ``<base_url>/common/master/<name>`` (no token, no rate limit, no
faults). Each zip holds one ``.mst`` file: cp949 text, one line per symbol, ``\\n``-terminated,
no header.

Layout (source: koreainvestment/open-trading-api, ``stocks_info/kis_kospi_code_mst.py`` and
``kis_kosdaq_code_mst.py`` for the widths, ``stocks_info/종목마스터정보(코스피).h`` and
``(코스닥).h`` for the meanings):

- part 1: 단축코드 ``[0:9]`` (the six-character code, space padded), 표준코드/ISIN ``[9:21]``,
  한글명 from 21 up to the fixed tail (here space padded to 40 bytes in cp949);
- part 2, the last 228 characters of a KOSPI line or 222 of a KOSDAQ line, newline included,
  so the fixed tail proper is 227 / 221 characters wide. Field widths in order:

  KOSPI (70 fields): 그룹코드 2, 시가총액규모 1, 지수업종대/중/소분류 4/4/4, 제조업,
  저유동성, 지배구조지수종목, KOSPI200섹터업종, KOSPI100, KOSPI50, KRX, ETP, ELW발행, KRX100,
  KRX자동차, KRX반도체, KRX바이오, KRX은행, SPAC, KRX에너지화학, KRX철강, 단기과열,
  KRX미디어통신, KRX건설, Non1, KRX증권, KRX선박, KRX섹터_보험, KRX섹터_운송, SRI (1 each),
  기준가 9, 매매수량단위 5, 시간외수량단위 5, 거래정지 1, 정리매매 1, 관리종목 1, 시장경고 2,
  경고예고 1, 불성실공시 1, 우회상장 1, 락구분 2, 액면변경 2, 증자구분 2, 증거금비율 3,
  신용가능 1, 신용기간 3, 전일거래량 12, 액면가 12, 상장일자 8, 상장주수 15, 자본금 21,
  결산월 2, 공모가 7, 우선주 1, 공매도과열 1, 이상급등 1, KRX300 1, KOSPI 1, 매출액 9,
  영업이익 9, 경상이익 9, 당기순이익 5, ROE 9, 기준년월 8, 시가총액 9, 그룹사코드 3,
  회사신용한도초과 1, 담보대출가능 1, 대주가능 1.

  KOSDAQ (64 fields): 증권그룹구분코드 2, 시가총액규모 1, 지수업종대/중/소분류 4/4/4,
  벤처기업, 저유동성, KRX, ETP, KRX100, KRX자동차, KRX반도체, KRX바이오, KRX은행, SPAC,
  KRX에너지화학, KRX철강, 단기과열, KRX미디어통신, KRX건설, 투자주의환기, KRX증권, KRX선박,
  KRX섹터_보험, KRX섹터_운송, KOSDAQ150 (1 each), then 기준가 9 ... KRX300 1 as for KOSPI
  (without the KOSPI flag), 매출액 9, 영업이익 9, 경상이익 9, 당기순이익 5, ROE 9, 기준년월 8,
  시가총액 9, 그룹사코드 3, 회사신용한도초과 1, 담보대출가능 1, 대주가능 1.

Values: flags are ``Y``/``N`` (code fields digits), numbers are zero padded to their width
(capped at the largest value that fits), ROE is ``%9.2f``, ``상장주수`` is in thousands of
shares (the header says "상장 주수(천)"), ``시가총액`` and the income figures are in 억원 (100
million won), ``기준가`` is the base price of the next session (the previous close while a
session runs, the close once it is over), ``기준년월`` is the last fiscal year end
(``YYYY1231``).

The toolkit's own parser reads these files from the layout in the facts file; the width
tuples below exist for the simulator and its tests.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Sequence

from .listings import Symbol, isin
from .market import Market
from .timebase import Session, ymd

KOSPI_WIDTHS = (
    2,
    1,
    4,
    4,
    4,
    *([1] * 26),
    9,
    5,
    5,
    1,
    1,
    1,
    2,
    1,
    1,
    1,
    2,
    2,
    2,
    3,
    1,
    3,
    12,
    12,
    8,
    15,
    21,
    2,
    7,
    1,
    1,
    1,
    1,
    1,
    9,
    9,
    9,
    5,
    9,
    8,
    9,
    3,
    1,
    1,
    1,
)
KOSDAQ_WIDTHS = (
    2,
    1,
    4,
    4,
    4,
    *([1] * 21),
    9,
    5,
    5,
    1,
    1,
    1,
    2,
    1,
    1,
    1,
    2,
    2,
    2,
    3,
    1,
    3,
    12,
    12,
    8,
    15,
    21,
    2,
    7,
    1,
    1,
    1,
    1,
    9,
    9,
    9,
    5,
    9,
    8,
    9,
    3,
    1,
    1,
    1,
)
FILES = {"kospi_code.mst.zip": "KOSPI", "kosdaq_code.mst.zip": "KOSDAQ"}
_SECTOR_CODE = {
    "전기전자": "0013",
    "화학": "0008",
    "의약품": "0009",
    "운수장비": "0015",
    "금융업": "0021",
    "서비스업": "0026",
    "음식료품": "0005",
    "철강금속": "0011",
    "기계": "0012",
    "유통업": "0016",
    "건설업": "0018",
    "통신업": "0020",
    "운수창고업": "0019",
    "섬유의복": "0006",
    "종이목재": "0007",
    "비금속광물": "0010",
    "의료정밀": "0014",
    "전기가스업": "0017",
    "증권": "0024",
    "보험": "0025",
    "IT서비스": "0026",
    "반도체": "0013",
    "오락문화": "0026",
}


def _num(value: int | float, width: int) -> str:
    top = 10 ** (width - 1) - 1
    if value < 0:
        return f"-{min(int(-value), top):0{width - 1}d}"
    return f"{min(int(value), 10 * top + 9):0{width}d}"


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _fields(sym: Symbol, base: int, prev_volume: int, year: int) -> tuple[list[str], list[str]]:
    """The fields both masters share, from 기준가 to 대주가능, minus the KOSPI-only flag."""
    h = zlib.crc32(f"master:{sym.code}".encode())
    cap = base * sym.listed_shares // 100_000_000
    sales = (
        sym.listed_shares * sym.base_price // 100_000_000 // (2 + h % 5) if not sym.is_etf else 0
    )
    profit = sales * ((h >> 4) % 30 - 5) // 100
    return [
        _num(base, 9),
        _num(1, 5),
        _num(1, 5),
        _yn(sym.halted),
        "N",
        _yn(sym.admin),
        "00",
        "N",
        "N",
        "N",
        "00",
        "00",
        "00",
        _num(100 if sym.admin or sym.halted else 20, 3),
        _yn(not (sym.admin or sym.halted)),
        _num(90, 3),
        _num(prev_volume, 12),
        _num(sym.par_value, 12),
        ymd(sym.listed),
        _num(sym.listed_shares // 1000, 15),
        _num(sym.par_value * sym.listed_shares, 21),
        "12",
        _num(0, 7),
        "1" if sym.name.endswith("우") else "0",
        "N",
        "N",
        _yn(sym.rank <= 300),
    ], [
        _num(sales, 9),
        _num(profit, 9),
        _num(profit * 11 // 10, 9),
        _num(profit * 8 // 10 // 10000, 5),
        f"{((h >> 9) % 3000 - 500) / 100:9.2f}",
        f"{year - 1}1231",
        _num(cap, 9),
        "000",
        "N",
        "Y",
        "N",
    ]


def _line(sym: Symbol, base: int, prev_volume: int, year: int) -> str:
    etf = sym.is_etf
    sector = _SECTOR_CODE.get(sym.sector, "0026")
    size = "0" if etf else "1" if sym.rank <= 100 else "2" if sym.rank <= 300 else "3"
    mid, tail = _fields(sym, base, prev_volume, year)
    if sym.market == "KOSPI":
        flags = [
            "Y" if sector not in ("0021", "0024", "0025", "0026") else "N",
            "N",
            "N",
            "0",
            _yn(sym.rank <= 100 and not etf),
            _yn(sym.rank <= 50 and not etf),
            "Y",
            "1" if etf else "0",
            _yn(sym.rank <= 100),
            _yn(sym.rank <= 100 and not etf),
        ]
        flags += ["N"] * 15 + [_yn(sym.rank <= 150 and not etf)]
        parts = [sym.group, size, sector, "0000", "0000", *flags, *mid, "Y", *tail]
        widths: Sequence[int] = KOSPI_WIDTHS
    else:
        flags = ["N", "N", "Y", "0", _yn(sym.rank <= 100)] + ["N"] * 15 + [_yn(sym.rank <= 150)]
        parts = [sym.group, size, sector, "0000", "0000", *flags, *mid, *tail]
        widths = KOSDAQ_WIDTHS
    assert len(parts) == len(widths), (len(parts), len(widths))
    fixed = "".join(p.ljust(w)[:w] for p, w in zip(parts, widths, strict=True))
    name = sym.name.encode("cp949").ljust(40).decode("cp949")
    return f"{sym.code:<9}{isin(sym.code)}{name}{fixed}\n"


def master_text(mk: Market, session: Session, market: str) -> str:
    lines = []
    for code in sorted(mk.symbols):
        sym = mk.symbols[code]
        if sym.market != market:
            continue
        snap = mk.snapshot(code, session)
        if snap is None:
            continue
        if snap.final:
            lines.append(_line(sym, snap.close, snap.volume, session.day.year))
        else:
            lines.append(_line(sym, snap.base, snap.prev_volume, session.day.year))
    return "".join(lines)


def master_zip(mk: Market, session: Session, filename: str) -> bytes:
    market = FILES[filename]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(filename.removesuffix(".zip"), master_text(mk, session, market).encode("cp949"))
    return buf.getvalue()
