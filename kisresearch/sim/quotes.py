"""Domestic quotation bodies: current price, watchlist multi-price, order book, investors,
stock info and ETF price. Every value is a string, as KIS sends it; field names follow
``kis-api-facts.md`` §6 and §10 (plus the other fields KIS documents for the same TRs)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from .formats import pct, product_info, sign_code
from .listings import Symbol, isin
from .market import Market, Snapshot, one_year_before
from .timebase import Session, minute_label, ymd

Row = dict[str, str]


@dataclass(frozen=True)
class Fundamentals:
    eps: int
    bps: int
    foreign_pct: float
    margin: str

    @staticmethod
    @lru_cache(maxsize=4096)
    def of(sym: Symbol) -> Fundamentals:
        h = zlib.crc32(f"fund:{sym.code}".encode())
        if sym.is_etf:
            return Fundamentals(0, 0, 1.0 + h % 900 / 100, "45.00")
        per = 6 + h % 3000 / 100  # 6 .. 36
        pbr = 0.4 + (h >> 12) % 300 / 100  # 0.4 .. 3.4
        foreign = 2.0 + (h >> 20) % 5300 / 100
        margin = "100.00" if sym.admin or sym.halted else ("20.00" if sym.rank <= 200 else "40.00")
        return Fundamentals(
            max(1, int(sym.base_price / per)), max(1, int(sym.base_price / pbr)), foreign, margin
        )


def _status_code(sym: Symbol) -> str:
    return "58" if sym.halted else "51" if sym.admin else "55"


def _market_name(sym: Symbol) -> str:
    if sym.market == "KOSPI":
        return "KOSPI200" if sym.rank <= 200 and not sym.is_etf else "KOSPI"
    return "KOSDAQ"


def _rate(now: int, ref: int) -> str:
    return pct(now - ref, ref)


def _year_range(mk: Market, snap: Snapshot) -> Row:
    """The year-to-date high and low fields, with their days and the price's distance to them."""
    p = snap.close
    yh, yhd, yl, yld = mk.range_stats(snap, date(snap.day.year, 1, 1))
    return {
        "stck_dryy_hgpr": str(yh),
        "dryy_hgpr_vrss_prpr_rate": _rate(p, yh),
        "dryy_hgpr_date": yhd,
        "stck_dryy_lwpr": str(yl),
        "dryy_lwpr_vrss_prpr_rate": _rate(p, yl),
        "dryy_lwpr_date": yld,
    }


def incomplete(code: str) -> bool:
    """About 2% of symbols (a fixed set) whose quote leaves out ``bstp_kor_isnm``: the real
    FHKST01010100 answer lacked it for 18 of 815 KOSPI stocks (python-kis issue #48)."""
    return zlib.crc32(f"partial:{code}".encode()) % 45 == 0


def price_output(mk: Market, snap: Snapshot) -> Row:
    """``output`` of inquire-price (FHKST01010100)."""
    sym, d, p = snap.sym, mk.history(snap), snap.close
    fund = Fundamentals.of(sym)
    day = snap.day
    w52h, w52hd, w52l, w52ld = mk.range_stats(snap, one_year_before(day))
    d250h, d250hd, d250l, d250ld = mk.range_stats(snap, d.days[max(0, snap.idx - 249)])
    i = max(0, snap.idx - 1)
    ph, pl, pc = int(d.high[i]), int(d.low[i]), int(d.close[i])
    pivot = (ph + pl + pc) // 3
    shares = sym.listed_shares
    frgn_qty = int(shares * fund.foreign_pct / 100)
    flows = investor_flow(snap)
    return {
        "iscd_stat_cls_code": _status_code(sym),
        "marg_rate": fund.margin,
        "rprs_mrkt_kor_name": _market_name(sym),
        "new_hgpr_lwpr_cls_code": "",
        "bstp_kor_isnm": sym.sector,
        "temp_stop_yn": "Y" if sym.halted else "N",
        "oprc_rang_cont_yn": "N",
        "clpr_rang_cont_yn": "N",
        "crdt_able_yn": "Y",
        "grmn_rate_cls_code": fund.margin[:2],
        "elw_pblc_yn": "Y" if sym.rank <= 100 else "N",
        "stck_prpr": str(p),
        "prdy_vrss": str(snap.change),
        "prdy_vrss_sign": snap.sign,
        "prdy_ctrt": _rate(p, snap.base),
        "acml_tr_pbmn": str(snap.value),
        "acml_vol": str(snap.volume),
        "prdy_vrss_vol_rate": pct(snap.volume, snap.prev_volume),
        "stck_oprc": str(snap.open),
        "stck_hgpr": str(snap.high),
        "stck_lwpr": str(snap.low),
        "stck_mxpr": str(snap.upper),
        "stck_llam": str(snap.lower),
        "stck_sdpr": str(snap.base),
        "wghn_avrg_stck_prc": f"{(snap.value / snap.volume if snap.volume else p):.2f}",
        "hts_frgn_ehrt": f"{fund.foreign_pct:.2f}",
        "frgn_ntby_qty": flows["frgn_ntby_qty"],
        "pgtr_ntby_qty": str(int(flows["orgn_ntby_qty"] or 0) // 3),
        "pvt_scnd_dmrs_prc": str(pivot + (ph - pl)),
        "pvt_frst_dmrs_prc": str(2 * pivot - pl),
        "pvt_pont_val": str(pivot),
        "pvt_frst_dmsp_prc": str(2 * pivot - ph),
        "pvt_scnd_dmsp_prc": str(pivot - (ph - pl)),
        "dmrs_val": str((ph + pivot) // 2),
        "dmsp_val": str((pl + pivot) // 2),
        "cpfn": str(sym.par_value * shares // 100_000_000),
        "rstc_wdth_prc": str(snap.upper - snap.base),
        "stck_fcam": str(sym.par_value),
        "stck_sspr": str(int(p * 0.7)),
        "aspr_unit": str(snap.tick),
        "hts_deal_qty_unit_val": "1",
        "lstn_stcn": str(shares),
        "hts_avls": str(p * shares // 100_000_000),
        "per": f"{p / fund.eps:.2f}" if fund.eps else "0.00",
        "pbr": f"{p / fund.bps:.2f}" if fund.bps else "0.00",
        "stac_month": "12",
        "vol_tnrt": pct(snap.volume, shares),
        "eps": f"{fund.eps:.2f}",
        "bps": f"{fund.bps:.2f}",
        "d250_hgpr": str(d250h),
        "d250_hgpr_date": d250hd,
        "d250_hgpr_vrss_prpr_rate": _rate(p, d250h),
        "d250_lwpr": str(d250l),
        "d250_lwpr_date": d250ld,
        "d250_lwpr_vrss_prpr_rate": _rate(p, d250l),
        **_year_range(mk, snap),
        "w52_hgpr": str(w52h),
        "w52_hgpr_vrss_prpr_ctrt": _rate(p, w52h),
        "w52_hgpr_date": w52hd,
        "w52_lwpr": str(w52l),
        "w52_lwpr_vrss_prpr_ctrt": _rate(p, w52l),
        "w52_lwpr_date": w52ld,
        "whol_loan_rmnd_rate": "0.12",
        "ssts_yn": "Y",
        "stck_shrn_iscd": sym.code,
        "fcam_cnnm": str(sym.par_value),
        "cpfn_cnnm": f"{sym.par_value * shares // 100_000_000} 억",
        "frgn_hldn_qty": str(frgn_qty),
        "vi_cls_code": "N",
        "ovtm_vi_cls_code": "N",
        "last_ssts_cntg_qty": "0",
        "invt_caful_yn": "N",
        "mrkt_warn_cls_code": "00",
        "short_over_yn": "N",
        "sltr_yn": "N",
    }


def multi_price_row(mk: Market, snap: Snapshot) -> Row:
    """One element of intstock-multprice (FHKST11300006) ``output``."""
    sym, p = snap.sym, snap.close
    asks, bids, ask_q, bid_q = mk.book(snap)
    return {
        "kospi_kosdaq_cls_name": "코스피" if sym.market == "KOSPI" else "코스닥",
        "mrkt_trtm_cls_name": "",
        "hour_cls_code": "0" if not snap.final else "1",
        "inter_shrn_iscd": sym.code,
        "inter_kor_isnm": sym.name,
        "inter2_prpr": str(p),
        "inter2_prdy_vrss": str(snap.change),
        "prdy_vrss_sign": snap.sign,
        "prdy_ctrt": _rate(p, snap.base),
        "acml_vol": str(snap.volume),
        "acml_tr_pbmn": str(snap.value),
        "inter2_oprc": str(snap.open),
        "inter2_hgpr": str(snap.high),
        "inter2_lwpr": str(snap.low),
        "inter2_llam": str(snap.lower),
        "inter2_mxpr": str(snap.upper),
        "inter2_askp": str(asks[0]),
        "inter2_bidp": str(bids[0]),
        "seln_rsqn": str(ask_q[0]),
        "shnu_rsqn": str(bid_q[0]),
        "total_askp_rsqn": str(sum(ask_q)),
        "total_bidp_rsqn": str(sum(bid_q)),
        "inter2_prdy_clpr": str(snap.base),
        "inter2_sdpr": str(snap.base),
        "oprc_vrss_hgpr_rate": _rate(snap.high, snap.open) if snap.open else "0.00",
        "intr_antc_cntg_vrss": "0",
        "intr_antc_cntg_vrss_sign": "3",
        "intr_antc_cntg_prdy_ctrt": "0.00",
        "intr_antc_vol": "0",
    }


def asking_price(mk: Market, snap: Snapshot) -> tuple[Row, Row]:
    """(``output1``, ``output2``) of inquire-asking-price-exp-ccn (FHKST01010200)."""
    asks, bids, ask_q, bid_q = mk.book(snap)
    out1: Row = {"aspr_acpt_hour": minute_label(snap.minute)}
    levels = {
        "askp": asks,
        "bidp": bids,
        "askp_rsqn": ask_q,
        "bidp_rsqn": bid_q,
        "askp_rsqn_icdc": [0] * 10,
        "bidp_rsqn_icdc": [0] * 10,
    }
    out1.update({f"{field}{i + 1}": str(v[i]) for field, v in levels.items() for i in range(10)})
    out1.update(
        {
            "total_askp_rsqn": str(sum(ask_q)),
            "total_bidp_rsqn": str(sum(bid_q)),
            "total_askp_rsqn_icdc": "0",
            "total_bidp_rsqn_icdc": "0",
            "ovtm_total_askp_icdc": "0",
            "ovtm_total_bidp_icdc": "0",
            "ovtm_total_askp_rsqn": "0",
            "ovtm_total_bidp_rsqn": "0",
            "ntby_aspr_rsqn": str(sum(bid_q) - sum(ask_q)),
            "new_mkop_cls_code": "20",
        }
    )
    p = snap.close
    out2: Row = {
        "antc_mkop_cls_code": "311" if snap.final else "112",
        "stck_prpr": str(p),
        "stck_oprc": str(snap.open),
        "stck_hgpr": str(snap.high),
        "stck_lwpr": str(snap.low),
        "stck_sdpr": str(snap.base),
        "antc_cnpr": str(p) if snap.final else "0",
        "antc_cntg_vrss_sign": snap.sign if snap.final else "3",
        "antc_cntg_vrss": str(snap.change) if snap.final else "0",
        "antc_cntg_prdy_ctrt": _rate(p, snap.base) if snap.final else "0.00",
        "antc_vol": "0",
        "stck_shrn_iscd": snap.sym.code,
        "vi_cls_code": "N",
    }
    return out1, out2


def investor_flow(snap: Snapshot) -> Row:
    """Investor net buys and gross buys/sells for the snapshot's day (sizes in shares, values
    in millions of won). Values so far while the session runs."""
    vol, price = snap.volume, snap.close
    f0, f1 = snap.bar.flow
    frgn = int(f0 * 0.1 * vol)
    orgn = int(f1 * 0.08 * vol)
    nets = {"prsn": -(frgn + orgn), "frgn": frgn, "orgn": orgn}
    shares = {"prsn": 0.55, "frgn": 0.2, "orgn": 0.12}
    row: Row = {}
    for who, net in nets.items():
        gross = int(vol * shares[who])
        buy, sell = gross + max(net, 0), gross + max(-net, 0)
        row[f"{who}_ntby_qty"] = str(net)
        row[f"{who}_ntby_tr_pbmn"] = str(round(net * price / 1e6))
        row[f"{who}_shnu_vol"] = str(buy)
        row[f"{who}_shnu_tr_pbmn"] = str(round(buy * price / 1e6))
        row[f"{who}_seln_vol"] = str(sell)
        row[f"{who}_seln_tr_pbmn"] = str(round(sell * price / 1e6))
    return row


INVESTOR_FIELDS = tuple(
    f"{w}_{k}"
    for w in ("prsn", "frgn", "orgn")
    for k in ("ntby_qty", "ntby_tr_pbmn", "shnu_vol", "shnu_tr_pbmn", "seln_vol", "seln_tr_pbmn")
)


def investor_rows(mk: Market, session: Session, code: str, days: int = 30) -> list[Row]:
    """``output`` of inquire-investor (FHKST01010900): newest first, one row per trading day.
    Today's investor fields are empty strings until the session closes."""
    first = mk.snapshot(code, session)
    assert first is not None
    rows: list[Row] = []
    d = mk.history(first)
    for idx in range(first.idx, max(-1, first.idx - days), -1):
        snap = first if idx == first.idx else mk.snapshot(code, session, d.days[idx])
        assert snap is not None
        row: Row = {
            "stck_bsop_date": ymd(snap.day),
            "stck_clpr": str(snap.close),
            "prdy_vrss": str(snap.change),
            "prdy_vrss_sign": snap.sign,
        }
        if snap.final:
            row.update(investor_flow(snap))
        else:
            row.update(dict.fromkeys(INVESTOR_FIELDS, ""))
        rows.append(row)
    return rows


def stock_info(mk: Market, session: Session, sym: Symbol) -> Row:
    """``output`` of search-stock-info (CTPF1002R); ``pdno`` comes back as ``00000A`` + code,
    as KIS sends it."""
    snap = mk.snapshot(sym.code, session)
    prev = mk.snapshot(sym.code, session, session.day - timedelta(days=1))
    kospi = sym.market == "KOSPI"
    listed = ymd(sym.listed)
    size = "대" if sym.rank <= 100 else "중" if sym.rank <= 300 else "소"
    common = sym.group == "ST" and not sym.name.endswith("우")
    return {
        "pdno": f"00000A{sym.code}",
        "prdt_type_cd": "300",
        "mket_id_cd": "STK" if kospi else "KSQ",
        "scty_grp_id_cd": sym.group,
        "excg_dvsn_cd": "02" if kospi else "03",
        "setl_mmdd": "12",
        "lstg_stqt": str(sym.listed_shares),
        "lstg_cptl_amt": "0",
        "cpta": str(sym.listed_shares * sym.par_value),
        "papr": str(sym.par_value),
        "issu_pric": "0",
        "kospi200_item_yn": "Y" if kospi and sym.rank <= 200 and not sym.is_etf else "N",
        "scts_mket_lstg_dt": listed if kospi else "",
        "scts_mket_lstg_abol_dt": "",
        "kosdaq_mket_lstg_dt": "" if kospi else listed,
        "kosdaq_mket_lstg_abol_dt": "",
        "frbd_mket_lstg_dt": listed,
        "frbd_mket_lstg_abol_dt": "",
        "reits_kind_cd": "",
        "etf_dvsn_cd": "1" if sym.is_etf else "0",
        "oilf_fund_yn": "N",
        "idx_bztp_lcls_cd": "002",
        "idx_bztp_mcls_cd": "013",
        "idx_bztp_scls_cd": "013",
        "stck_kind_cd": "101",
        "mfnd_opng_dt": "",
        "mfnd_end_dt": "",
        "dpsi_erlm_cncl_dt": "",
        "etf_cu_qty": "100000" if sym.is_etf else "0",
        "prdt_name": sym.name + ("보통주" if common else ""),
        "prdt_name120": sym.name + ("보통주" if common else ""),
        "prdt_abrv_name": sym.name,
        "std_pdno": isin(sym.code),
        "prdt_eng_name": sym.eng_name,
        "prdt_eng_name120": sym.eng_name,
        "prdt_eng_abrv_name": sym.eng_name[:20],
        "dpsi_aptm_erlm_yn": "Y",
        "etf_txtn_type_cd": "00",
        "etf_type_cd": "",
        "lstg_abol_dt": "",
        "nwst_odst_dvsn_cd": "1",
        "sbst_pric": str(int(snap.base * 0.7)) if snap else "0",
        "thco_sbst_pric": str(int(snap.base * 0.7)) if snap else "0",
        "thco_sbst_pric_chng_dt": ymd(prev.day) if prev else "",
        "tr_stop_yn": "Y" if sym.halted else "N",
        "admn_item_yn": "Y" if sym.admin else "N",
        "thdt_clpr": str(snap.close) if snap else "0",
        "bfdy_clpr": str(snap.base) if snap else "0",
        "clpr_chng_dt": ymd(snap.day) if snap else "",
        "std_idst_clsf_cd": "032604",
        "std_idst_clsf_cd_name": sym.sector,
        "idx_bztp_lcls_cd_name": f"시가총액규모{size}",
        "idx_bztp_mcls_cd_name": sym.sector,
        "idx_bztp_scls_cd_name": sym.sector,
        "ocr_no": "",
        "crfd_item_yn": "",
        "elec_scty_yn": "Y",
        "issu_istt_cd": sym.code[:5],
        "etf_chas_erng_rt_dbnb": "0",
        "etf_etn_ivst_heed_item_yn": "N",
        "stln_int_rt_dvsn_cd": "01",
        "frnr_psnl_lmt_rt": "0.00000000",
        "lstg_rqsr_issu_istt_cd": "",
        "lstg_rqsr_item_cd": "",
        "trst_istt_issu_istt_cd": "",
    }


def search_info(sym: Symbol) -> Row:
    clsf = "ETF" if sym.is_etf else "주권"
    return product_info(sym.code, "300", sym.name, sym.eng_name, isin(sym.code), clsf,
                        ymd(sym.listed))  # fmt: skip


def etf_price(mk: Market, snap: Snapshot) -> Row:
    """``output`` of the ETF/ETN inquire-price (FHPST02400000)."""
    sym, p, d = snap.sym, snap.close, mk.history(snap)
    h = zlib.crc32(f"nav:{sym.code}:{snap.day.toordinal()}".encode())
    nav = p * (1 + ((h % 200) - 100) / 100000)  # within +-0.1% of the price
    prev_nav = snap.base * (1 + (((h >> 8) % 200) - 100) / 100000)
    units = sym.listed_shares
    return {
        "stck_prpr": str(p),
        "prdy_vrss_sign": snap.sign,
        "prdy_vrss": str(snap.change),
        "prdy_ctrt": _rate(p, snap.base),
        "acml_vol": str(snap.volume),
        "prdy_vol": str(snap.prev_volume),
        "stck_mxpr": str(snap.upper),
        "stck_llam": str(snap.lower),
        "stck_prdy_clpr": str(snap.base),
        "stck_oprc": str(snap.open),
        "prdy_clpr_vrss_oprc_rate": _rate(snap.open, snap.base),
        "stck_hgpr": str(snap.high),
        "prdy_clpr_vrss_hgpr_rate": _rate(snap.high, snap.base),
        "stck_lwpr": str(snap.low),
        "prdy_clpr_vrss_lwpr_rate": _rate(snap.low, snap.base),
        "prdy_last_nav": f"{prev_nav:.2f}",
        "nav": f"{nav:.2f}",
        "nav_prdy_vrss": f"{nav - prev_nav:.2f}",
        "nav_prdy_vrss_sign": sign_code(round(nav * 100), round(prev_nav * 100)),
        "nav_prdy_ctrt": f"{(nav - prev_nav) / prev_nav * 100:.2f}",
        "trc_errt": f"{(h >> 16) % 300 / 100:.2f}",
        "stck_sdpr": str(snap.base),
        "stck_sspr": str(int(p * 0.7)),
        "nmix_ctrt": _rate(p, snap.base),
        "etf_crcl_stcn": str(units),
        "etf_ntas_ttam": str(int(nav * units / 1e8)),
        "etf_frcr_ntas_ttam": "0",
        "frgn_limt_rate": "100.00",
        "frgn_oder_able_qty": "0",
        "etf_cu_unit_scrt_cnt": "100000",
        "etf_cnfg_issu_cnt": str(10 + h % 190),
        "etf_dvdn_cycl": "4",
        "crcd": "KRW",
        "etf_crcl_ntas_ttam": str(int(nav * units / 1e8)),
        "etf_frcr_crcl_ntas_ttam": "0",
        "etf_frcr_last_ntas_wrth_val": "0",
        "lp_oder_able_cls_code": "Y",
        **_year_range(mk, snap),
        "bstp_kor_isnm": "ETF",
        "vi_cls_code": "N",
        "lstn_stcn": str(units),
        "frgn_hldn_qty": str(units // 50),
        "frgn_hldn_qty_rate": "2.00",
        "etf_trc_ert_mltp": "1",
        "dprt": f"{(p - nav) / nav * 100:.2f}",
        "mbcr_name": "한국투자증권",
        "stck_lstn_date": ymd(sym.listed),
        "mtrt_date": "",
        "shrg_type_code": "",
        "lp_hldn_rate": "1.00",
        "etf_trgt_nmix_bstp_code": "0001",
        "etf_div_name": "",
        "etf_rprs_bstp_kor_isnm": sym.name,
        "lp_hldn_vol": str(units // 100),
        "stck_prdy_hgpr": str(int(d.high[max(0, snap.idx - 1)])),
    }
