"""The account: ``balance`` (inquire-balance, TTTC8434R real / VTTC8434R paper)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from ..pipeline.transport import Request, Response
from ..plan import endpoints as ep
from ..plan import validate
from ..shape import frames
from ._base import Client

MAX_PAGES = 200  # 10,000 holdings on real: a guard against a server that never says "last"


class Balance(NamedTuple):
    """``holdings`` (one row per stock) and ``summary`` (account totals); unpacks as a pair:
    ``holdings, summary = kis.balance()``."""

    holdings: pd.DataFrame
    summary: pd.Series


@validate.flags
class AccountMethods:
    def balance(self: Client, *, cache: bool = True, refresh: bool = False) -> Balance:
        """Stocks held in the account (``KIS_ACCOUNT``), valued at current prices, and its
        cash and totals.

        KIS pages the holdings (50 a call on real accounts, 20 on paper) with ``tr_cont`` and
        the ``ctx_area_fk100``/``ctx_area_nk100`` continuation; every page is fetched and the
        holdings joined, the totals taken once. Never cached unless asked (an account changes
        with every trade): ``KIS(cache_ttl={"balance": s})`` keeps it ``s`` seconds.

        Returns
        -------
        :class:`Balance` ``(holdings, summary)``:

        - ``holdings``: DataFrame indexed by ``symbol`` (str), in KIS's order: ``name`` (str),
          ``quantity``, ``orderable_quantity`` (int64, shares), ``avg_price`` (float64, average
          purchase price), ``purchase_amount``, ``price``, ``value``, ``pnl`` (int64, KRW),
          ``pnl_pct``, ``change_pct`` (float64, today's price change)
        - ``summary``: Series named ``summary`` (int64, KRW): ``cash`` (deposit), ``cash_d1``,
          ``cash_d2`` (settled cash on D+1, D+2), ``stock_value``, ``total_value``,
          ``net_assets``, ``purchase_total``, ``value_total``, ``pnl_total``

        Both carry the provenance in ``attrs`` (see :meth:`quotes`), plus ``pages`` (pages
        fetched by this call; 0 when the answer came from the cache).

        Raises
        ------
        ConfigError (a ValueError), before any request, when no account is set (naming
        ``KIS_ACCOUNT``) or it is not ``NNNNNNNN-NN`` / ten digits.
        """
        cano, product = validate.account(self.pipeline.credentials.account)
        params = ep.balance_params(cano, product)
        env = self.env
        pages = 0

        def following(response: Response) -> Request | None:
            nonlocal pages
            pages += 1
            body = response.body
            fk = str(body.get("ctx_area_fk100") or "")
            nk = str(body.get("ctx_area_nk100") or "")
            if not response.has_more or not nk.strip() or pages >= MAX_PAGES:
                return None
            return ep.BALANCE.request(
                env, {**params, "CTX_AREA_FK100": fk, "CTX_AREA_NK100": nk}, tr_cont="N"
            )

        answer = self.pipeline.fetch(
            ep.BALANCE, params, use_cache=cache, refresh=refresh, pages=following
        )
        body = answer.body
        held = frames.rows_of(body, "output1", "pdno")
        totals = body.get("output2")
        first: Mapping[str, Any] | None = (
            totals[0]
            if isinstance(totals, list) and totals
            else totals
            if isinstance(totals, Mapping)
            else None
        )
        holdings = self.pipeline.provenance(
            frames.holdings(held), ep.BALANCE, [answer], pages=pages
        )
        summary = frames.summary(first)
        summary.attrs.update(holdings.attrs)
        return Balance(holdings, summary)
