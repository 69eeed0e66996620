"""Accounts and the balance TR (inquire-balance, TTTC8434R real / VTTC8434R paper).

Each account holds a deterministic portfolio (65 holdings for the simulator's default account),
valued at the current simulated prices. The balance is paged like KIS does it: 50 rows per page
on the real profile, 20 on paper; the response header ``tr_cont`` is ``F`` (first page, more
follow), ``M`` (a middle page) or ``D`` (the last page); the next page is requested with the
request header ``tr_cont: N`` and the query ``CTX_AREA_FK100``/``CTX_AREA_NK100`` set to the
previous body's ``ctx_area_fk100``/``ctx_area_nk100`` (KIS pads those to 100 characters with
spaces; the simulator does too and accepts them stripped or not). Without ``tr_cont: N`` the
first page is returned whatever the context says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .formats import pct
from .market import Market
from .timebase import Session

Row = dict[str, str]
PAGE_SIZE = {"real": 50, "paper": 20}
BALANCE_PARAMS = (
    "CANO",
    "ACNT_PRDT_CD",
    "AFHR_FLPR_YN",
    "OFL_YN",
    "INQR_DVSN",
    "UNPR_DVSN",
    "FUND_STTL_ICLD_YN",
    "FNCG_AMT_AUTO_RDPT_YN",
    "PRCS_DVSN",
    "CTX_AREA_FK100",
    "CTX_AREA_NK100",
)


@dataclass(frozen=True)
class Holding:
    code: str
    qty: int
    avg_price: float


@dataclass(frozen=True)
class Account:
    cano: str  # 8 digits
    product: str  # "01"
    holdings: tuple[Holding, ...]
    cash: int

    @property
    def number(self) -> str:
        return f"{self.cano}-{self.product}"


def make_account(cano: str, mk: Market, seed: int, size: int) -> Account:
    """A deterministic portfolio of ``size`` stocks for account ``cano``."""
    rng = random.Random(f"{seed}:{cano}")
    codes = sorted(c for c, s in mk.symbols.items() if s.group == "ST" and not s.halted)
    picked = sorted(rng.sample(codes, size))
    holdings = []
    for code in picked:
        sym = mk.symbols[code]
        qty = max(1, int(rng.lognormvariate(14.5, 0.8) / sym.base_price))
        avg = sym.base_price * rng.uniform(0.7, 1.3)
        holdings.append(Holding(code, qty, round(avg, 4)))
    return Account(cano, "01", tuple(holdings), rng.randrange(1_000_000, 50_000_000, 1000))


def pad100(text: str) -> str:
    return text.ljust(100)


def balance_page(
    mk: Market, session: Session, acct: Account, profile: str, start: int
) -> tuple[list[Row], Row, int | None]:
    """(output1 rows from holding ``start`` on, the output2 summary, next start or None)."""
    size = PAGE_SIZE[profile]
    rows: list[Row] = []
    totals = {"pchs": 0, "evlu": 0}
    for i, h in enumerate(acct.holdings):
        snap = mk.snapshot(h.code, session)
        assert snap is not None
        price = snap.close
        pchs = round(h.qty * h.avg_price)
        evlu = h.qty * price
        totals["pchs"] += pchs
        totals["evlu"] += evlu
        if not start <= i < start + size:
            continue
        sym = snap.sym
        rows.append(
            {
                "pdno": h.code,
                "prdt_name": sym.name,
                "trad_dvsn_name": "현금",
                "bfdy_buy_qty": "0",
                "bfdy_sll_qty": "0",
                "thdt_buyqty": "0",
                "thdt_sll_qty": "0",
                "hldg_qty": str(h.qty),
                "ord_psbl_qty": str(h.qty),
                "pchs_avg_pric": f"{h.avg_price:.4f}",
                "pchs_amt": str(pchs),
                "prpr": str(price),
                "evlu_amt": str(evlu),
                "evlu_pfls_amt": str(evlu - pchs),
                "evlu_pfls_rt": pct(evlu - pchs, pchs),
                "evlu_erng_rt": "0.00000000",
                "loan_dt": "",
                "loan_amt": "0",
                "stln_slng_chgs": "0",
                "expd_dt": "",
                "fltt_rt": pct(snap.change, snap.base),
                "bfdy_cprs_icdc": str(snap.change),
                "item_mgna_rt_name": "20%",
                "grta_rt_name": "",
                "sbst_pric": str(int(price * 0.7)),
                "stck_loan_unpr": "0.0000",
            }
        )
    cash = acct.cash
    total = cash + totals["evlu"]
    summary: Row = {
        "dnca_tot_amt": str(cash),
        "nxdy_excc_amt": str(cash),
        "prvs_rcdl_excc_amt": str(cash),
        "cma_evlu_amt": "0",
        "bfdy_buy_amt": "0",
        "thdt_buy_amt": "0",
        "nxdy_auto_rdpt_amt": "0",
        "bfdy_sll_amt": "0",
        "thdt_sll_amt": "0",
        "d2_auto_rdpt_amt": "0",
        "bfdy_tlex_amt": "0",
        "thdt_tlex_amt": "0",
        "tot_loan_amt": "0",
        "scts_evlu_amt": str(totals["evlu"]),
        "tot_evlu_amt": str(total),
        "nass_amt": str(total),
        "fncg_gld_auto_rdpt_yn": "N",
        "pchs_amt_smtl_amt": str(totals["pchs"]),
        "evlu_amt_smtl_amt": str(totals["evlu"]),
        "evlu_pfls_smtl_amt": str(totals["evlu"] - totals["pchs"]),
        "tot_stln_slng_chgs": "0",
        "bfdy_tot_asst_evlu_amt": str(total),
        "asst_icdc_amt": "0",
        "asst_icdc_erng_rt": "0.00000000",
    }
    nxt = start + size
    return rows, summary, nxt if nxt < len(acct.holdings) else None


def context(acct: Account, params: dict[str, str], position: int | None) -> tuple[str, str]:
    """The (ctx_area_fk100, ctx_area_nk100) pair for the page after ``position``."""
    fk = (
        f"{acct.cano}^{acct.product}^{params.get('AFHR_FLPR_YN', 'N')}^"
        f"{params.get('OFL_YN', '')}^{params.get('INQR_DVSN', '01')}^"
        f"{params.get('UNPR_DVSN', '01')}^N^N^"
    )
    if position is None:
        return pad100(fk), pad100("")
    code = acct.holdings[position].code
    return pad100(fk), pad100(f"{acct.cano}^{acct.product}^{code}^{position:06d}^")


def parse_position(acct: Account, nk: str) -> int | None:
    """The holding index a ``CTX_AREA_NK100`` points at; None if it does not decode."""
    parts = nk.strip().split("^")
    if len(parts) < 4 or parts[0] != acct.cano or not parts[3].isdigit():
        return None
    pos = int(parts[3])
    if pos >= len(acct.holdings) or acct.holdings[pos].code != parts[2]:
        return None
    return pos
