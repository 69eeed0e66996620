"""Reference data: ``info`` (one symbol's listing, per call) and ``symbols`` (the whole market,
from KIS's master files)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..pipeline.cache.policy import POLICIES
from ..plan import endpoints as ep
from ..plan import validate
from ..shape import frames
from ..shape.master import MASTER_FILES, market_choice, master_text, parse_master
from ._base import Client, Fetched, one_each

MASTER = "master"  # the cache's endpoint name for master files (``cache_ttl={"master": ...}``)


@validate.flags
class ReferenceMethods:
    def info(
        self: Client,
        symbols: str | Iterable[str],
        *,
        cache: bool = True,
        refresh: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Names, market, listing, sector, shares and status of many symbols: one
        search-stock-info call (CTPF1002R) per symbol, cached for a day. Real accounts only
        (KIS does not offer it on paper): on paper it raises before any request; use
        :meth:`symbols` there.

        Returns
        -------
        DataFrame indexed by ``symbol`` (str) in the order asked:

        - ``name`` (short Korean name), ``full_name``, ``eng_name``, ``market`` (KOSPI,
          KOSDAQ or KONEX), ``group`` (ST stock, EF ETF, ...), ``isin``, ``sector`` (str)
        - ``listed_date``, ``delisted_date`` (datetime64; NaT while listed)
        - ``listed_shares``, ``par_value``, ``prev_close`` (int64)
        - ``kospi200``, ``halted``, ``admin`` (bool: in KOSPI 200, trading halted, 관리종목)
        - ``error``, ``from_cache``, ``fetched_at``: as in :meth:`quotes`
        """
        codes = validate.symbols(symbols)
        ep.INFO.check_env(self.env, "info()")

        def one(code: str) -> Fetched:
            return self.pipeline.fetch(
                ep.INFO, ep.info_params(code), symbol=code, use_cache=cache, refresh=refresh
            )

        each = one_each(self.pipeline.run(codes, one, "info", progress), _info)
        df = frames.by_symbol(
            codes, each.rows, each.errors, frames.INFO_COLUMNS, each.from_cache, each.fetched_at
        )
        return self.pipeline.provenance(df, ep.INFO, each.answers)

    def symbols(
        self: Client, market: str = "all", *, cache: bool = True, refresh: bool = False
    ) -> pd.DataFrame:
        """Every listed symbol, from KIS's master files (``kospi_code.mst.zip``,
        ``kosdaq_code.mst.zip``; no token, no rate limit). Downloaded from ``master_url``
        (see :class:`KIS`) and kept in the cache for a day (``cache_ttl={"master": s}``).

        Parameters
        ----------
        market : ``"all"``, ``"KOSPI"`` or ``"KOSDAQ"``.

        Returns
        -------
        A DataFrame, RangeIndex, KOSPI then KOSDAQ, in the files' order (by code):
        ``symbol``, ``isin``, ``name``, ``market``, ``group`` (ST stock, EF ETF, EN ETN, RT
        REIT, ...), ``sector_code`` (지수업종대분류), ``cap_size`` (시가총액규모: 1 large, 2 mid,
        3 small, 0 none) (str); ``base_price`` (기준가), ``par_value`` (int64);
        ``listed_date`` (datetime64); ``listed_shares`` (int64, to the thousand: the files count
        thousands); ``market_cap_100m_krw`` (int64); ``roe`` (float64); ``halted``, ``admin``
        (bool).

        ``df.attrs`` holds ``source`` (the URLs), ``env``, ``fetched_at``, ``answers`` (files)
        and ``from_cache`` (files read from the cache).
        """
        parts: list[pd.DataFrame] = []
        urls: list[str] = []
        answers: list[Fetched] = []
        for name in market_choice(market):
            url = self.master_url + MASTER_FILES[name]
            text, answer = _master(self, url, cache, refresh)
            parts.append(parse_master(text, name))
            urls.append(url)
            answers.append(answer)
        df = pd.concat(parts, ignore_index=True)
        return self.pipeline.provenance(df, None, answers, source=urls)


def _info(answer: Fetched) -> dict[str, Any] | None:
    out = answer.body.get("output")
    if isinstance(out, Mapping) and not frames.blank(out.get("prdt_name")):
        return frames.info_row(out)
    return None


def _master(client: Client, url: str, use_cache: bool, refresh: bool) -> tuple[str, Fetched]:
    """The decoded ``.mst`` text of one master zip, from the cache or downloaded and stored;
    and the answer's provenance (its body left empty)."""
    store = client.cache if use_cache else None
    key = store.key(client.namespace, MASTER, {"URL": _where(client, url)}) if store else ""
    if store is not None and not refresh:
        hit = store.get(key, endpoint=MASTER)
        if hit is not None and isinstance(hit.payload, Mapping):
            text = hit.payload.get("text")
            if isinstance(text, str):
                return text, Fetched({}, True, hit.fetched_at)
    text = master_text(client.pipeline.download(url))
    now = client.pipeline.now()
    if store is not None:
        ttl = POLICIES["day"].ttl_for({}, {"text": text}, now)
        store.set(key, {"text": text}, ttl=ttl, endpoint=MASTER)
    return text, Fetched({}, False, now)


def _where(client: Client, url: str) -> str:
    """``url`` as a cache key keeps it: its path alone when the API server itself serves it (the
    simulator does, on a port that changes with every start; the namespace names the server)."""
    server = client.pipeline.transport.base_url + "/"
    return url.removeprefix(server[:-1]) if url.startswith(server) else url
