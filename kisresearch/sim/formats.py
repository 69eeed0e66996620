"""Small pieces shared by the bodies: KIS sign codes, percentages as strings, product basics."""

from __future__ import annotations


def sign_code(price: float, base: float, upper: float = 0, lower: float = 0) -> str:
    """KIS 대비부호: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down."""
    if upper and price >= upper:
        return "1"
    if lower and price <= lower:
        return "4"
    return "2" if price > base else "5" if price < base else "3"


def pct(part: float, whole: float) -> str:
    """``part / whole`` in percent with two decimals ("0.00" when ``whole`` is 0)."""
    return f"{(part / whole * 100 if whole else 0.0):.2f}"


def product_info(
    pdno: str, kind: str, name: str, eng_name: str, std: str, clsf: str, since: str
) -> dict[str, str]:
    """``output`` of product basics (CTPF1604R), domestic or overseas (fields from KIS's
    sample and the ones python-kis and korea-investment-stock read)."""
    return {
        "pdno": pdno,
        "prdt_type_cd": kind,
        "prdt_name": name,
        "prdt_name120": name,
        "prdt_abrv_name": name[:20],
        "prdt_eng_name": eng_name,
        "prdt_eng_name120": eng_name,
        "prdt_eng_abrv_name": eng_name[:20],
        "std_pdno": std,
        "shtn_pdno": pdno,
        "prdt_sale_stat_cd": "",
        "prdt_risk_grad_cd": "",
        "prdt_clsf_cd": "101210" if clsf == "주권" else "101510",
        "prdt_clsf_name": clsf,
        "sale_strt_dt": "",
        "sale_end_dt": "",
        "wrap_asst_type_cd": "",
        "ivst_prdt_type_cd": "",
        "ivst_prdt_type_cd_name": "",
        "frst_erlm_dt": since,
    }
