"""The pipeline one logical request runs through, composed of the stages beside this module.

:class:`Pipeline` is what the public methods (:mod:`kisresearch.methods`) use of the client:
``fetch`` (the cache, then every page through retry -> auth headers -> limiter -> transport, one
stats event per attempt), ``run`` (a bulk pull on the batch engine), ``provenance`` (a frame's
``attrs``), and the clock and the master-file download. :class:`~kisresearch.client.KIS` builds
one and only wires it.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from ..config import Credentials
from ..errors import (
    NOT_FOUND,
    APIError,
    BatchInterrupted,
    ItemCancelled,
    KISError,
    NotCached,
    NotFound,
    RateLimited,
    TokenInvalid,
)
from ..observe.stats import StatsManager
from ..plan import endpoints as ep
from ..timebase import Clock, iso_kst, kst
from .auth import TokenManager
from .batch import BatchRunner, Meter, Outcome
from .cache import POLICIES, ResponseCache
from .keys import AppKey, KeyPool
from .ratelimit import Limiter, NullLimiter
from .retry import RetryPolicy, retrying
from .transport import Request, Response, Transport, download

__all__ = ["Fetched", "Pager", "Pipeline", "merge_pages"]

log = logging.getLogger("kisresearch.client")


@dataclass(frozen=True)
class Fetched:
    """One logical answer: the body, and whether it came from the cache (and when fetched)."""

    body: dict[str, Any]
    from_cache: bool
    fetched_at: float


Pager = Callable[[Response], Request | None]

COLD_AFTER = 16  # items in a row the cache lacks before a pull is taken as cold
Plan = Callable[[Any], tuple[ep.Endpoint, Mapping[str, str]]]


@dataclass
class _Ahead:
    """The cache-only pass of :meth:`Pipeline.run`: the planned requests' keys (by endpoint
    and params, so that a key is hashed once), and the entries that one read of the cache
    found for them."""

    planned: dict[tuple[str, tuple[tuple[str, str], ...]], str]
    entries: dict[str, Any]


_CACHE_ONLY: contextvars.ContextVar[_Ahead | None] = contextvars.ContextVar(
    "cache_only", default=None
)


@dataclass(eq=False)
class Pipeline:
    """The stages of one client, composed; every attribute is a stage or a setting."""

    env: str
    namespace: str
    simulated: bool
    keys: KeyPool
    transport: Transport
    retry_policy: RetryPolicy
    stats: StatsManager
    cache: ResponseCache | None
    runner: BatchRunner
    clock: Clock

    @property
    def credentials(self) -> Credentials:
        """The first key's: its account is the client's."""
        return self.keys.keys[0].credentials

    @property
    def auth(self) -> TokenManager:
        return self.keys.keys[0].auth

    @property
    def limiter(self) -> Limiter | NullLimiter:
        return self.keys.keys[0].limiter

    def _send(self, request: Request, key: AppKey | None) -> Response:
        """One attempt: a key with a limiter slot and its auth headers, HTTP; one stats event
        per attempt. A rejected token is dropped and the attempt made once more with a fresh
        one (in a pool, on another key while that one rests)."""
        for refreshed in (False, True):
            used, headers, waited = self.keys.take(key)
            if waited > 0:
                self.stats.record_wait(waited)
            started = self.clock.now()
            try:
                response = self.transport.send(request, headers)
            except KISError as exc:
                self._record(request, started, exc, used)
                if isinstance(exc, RateLimited):
                    used.limiter.on_rate_limited()
                if isinstance(exc, TokenInvalid) and not refreshed:
                    log.info("%s: the server rejected the token; getting another", exc.msg_cd)
                    self.keys.rejected(used, headers["authorization"].removeprefix("Bearer "))
                    continue
                raise
            self._record(request, started, None, used)
            used.auth.worked()
            return response
        raise AssertionError("unreachable")

    def _record(
        self, request: Request, started: float, exc: BaseException | None, key: AppKey
    ) -> None:
        latency = self.clock.now() - started
        if exc is None:
            outcome, code = "ok", None
        elif isinstance(exc, RateLimited):
            outcome, code = "rate_limited", exc.msg_cd
        elif isinstance(exc, APIError):
            outcome, code = "error", exc.msg_cd
        else:
            outcome, code = "transport", type(exc).__name__
        label = key.label if len(self.keys) > 1 else None
        self.stats.record_attempt(
            request.name, request.tr_id, started, latency, outcome, code, key=label
        )

    def _call(self, request: Request, key: AppKey | None = None) -> Response:
        """One request with retries (EGW00201, transient faults), on ``key`` if given."""

        def on_retry(exc: BaseException, attempt: int, wait: float) -> None:
            self.stats.record_retry(request.name, getattr(exc, "msg_cd", type(exc).__name__))

        return retrying(self.retry_policy, sleep=self.clock.sleep, on_retry=on_retry)(
            self._send, request, key
        )

    def fetch(
        self,
        endpoint: ep.Endpoint,
        params: Mapping[str, str],
        *,
        symbol: str | None = None,
        use_cache: bool = True,
        refresh: bool = False,
        pages: Pager | None = None,
    ) -> Fetched:
        """A logical request through the cache: one call, or all its pages merged.

        ``pages(response)`` returns the request for the next page, or None after the last.
        """
        cache = self.cache if use_cache else None
        ahead = _CACHE_ONLY.get()
        planned = (
            None if ahead is None else ahead.planned.get((endpoint.name, tuple(params.items())))
        )
        key = "" if cache is None else planned or cache.key(self.namespace, endpoint.name, params)
        if cache is not None and not refresh:
            if ahead is not None and planned is not None:
                hit = ahead.entries.get(key)
                if hit is not None:
                    cache.count_hit(endpoint.name)
            else:
                hit = cache.get(key, endpoint=endpoint.name, count_miss=ahead is None)
            if hit is not None:
                return Fetched(hit.payload, True, hit.fetched_at)
        if ahead is not None:
            raise NotCached(endpoint.name)
        request: Request | None = endpoint.request(self.env, params)
        owner = self.keys.for_account(self.credentials.account) if endpoint.account else None
        body: dict[str, Any] = {}
        while request is not None:
            response = self._call(request, owner)
            if not body and (why := endpoint.missing(response.body)):  # not kept in the cache
                raise NotFound(NOT_FOUND, why, status=response.status, tr_id=request.tr_id,
                               endpoint=endpoint.name)  # fmt: skip
            body = merge_pages(body, response.body, endpoint.rows_key)
            request = pages(response) if pages else None
        now = self.clock.now()
        if cache is not None:
            policy = POLICIES[endpoint.cache]
            cache.set(
                key,
                body,
                ttl=policy.ttl_for(params, body, now),
                endpoint=endpoint.name,
                symbol=symbol,
                fetched_at=now,
            )
        return Fetched(body, False, now)

    def run(
        self,
        items: Sequence[Any],
        fn: Callable[[Any], Any],
        desc: str,
        progress: bool | None,
        plan: Plan | None = None,
        size: Callable[[Any], int] | None = None,
    ) -> list[Outcome]:
        """``fn`` on every item, one :class:`Outcome` each, in order. With the cache on, the
        items are first tried here from the cache alone (one thread, no pool): those it holds
        whole are done at once, the rest go to the runner's pool (a warm pull of 100 detail
        quotes spent 65 ms putting cache reads through 100 futures). The pool's progress bar
        counts symbols (an item is ``size(item)`` of them; default one), with the client's HTTP
        calls per second in its postfix.

        ``plan(item)`` names an item's first request (endpoint, params): then every planned
        request is looked up in one read of the cache, and only the items it found are tried.
        Without one, after :data:`COLD_AFTER` misses in a row the trying stops: a cold pull
        loses no time to it."""
        meter = Meter("symbol", size, lambda: self.stats.totals["calls"])
        cache = self.cache
        if cache is None or len(items) < 2:
            return self.runner.run(items, fn, desc=desc, progress=progress, meter=meter)
        ahead = _Ahead({}, {})
        keys: list[str] = []
        if plan is not None:
            wanted: dict[str, list[str]] = {}
            for item in items:
                endpoint, params = plan(item)
                keys.append(cache.key(self.namespace, endpoint.name, params))
                wanted.setdefault(endpoint.name, []).append(keys[-1])
                ahead.planned[endpoint.name, tuple(params.items())] = keys[-1]
            for same in wanted.values():
                ahead.entries.update(cache.get_many(same))
        done: dict[int, Outcome] = {}

        def whole() -> list[Outcome]:
            return [done.get(i) or Outcome(x, None, ItemCancelled("interrupted", index=i))
                    for i, x in enumerate(items)]  # fmt: skip

        missed = 0
        try:
            for i, item in enumerate(items):
                if keys and keys[i] not in ahead.entries:
                    continue
                if missed >= COLD_AFTER:
                    break
                token = _CACHE_ONLY.set(ahead)
                try:
                    done[i] = Outcome(item, fn(item), None, 0.0)
                    missed = 0
                except NotCached:
                    missed += 1
                except Exception as exc:  # the item's outcome, as the pool would give it
                    done[i] = Outcome(item, None, exc, 0.0)
                finally:
                    _CACHE_ONLY.reset(token)
        except KeyboardInterrupt:
            raise BatchInterrupted(whole()) from None
        rest = [i for i in range(len(items)) if i not in done]
        try:
            pooled = self.runner.run(
                [items[i] for i in rest], fn, desc=desc, progress=progress, meter=meter
            )
        except BatchInterrupted as exc:
            done.update(zip(rest, exc.outcomes, strict=True))
            raise BatchInterrupted(whole()) from None
        done.update(zip(rest, pooled, strict=True))
        return whole()

    def provenance(
        self,
        df: pd.DataFrame,
        endpoint: ep.Endpoint | None,
        fetched: Sequence[Fetched],
        **extra: Any,
    ) -> pd.DataFrame:
        stamps = [f.fetched_at for f in fetched]
        if not stamps and extra.get("from_store") and "fetched_at" in df:  # all from the store
            stamps = [df["fetched_at"].max().timestamp()]
        df.attrs.update(
            endpoint=endpoint.path if endpoint is not None else None,
            tr_id=endpoint.tr_id_for(self.env) if endpoint is not None else None,
            env="simulator" if self.simulated else self.env,
            fetched_at=iso_kst(max(stamps)) if stamps else None,
            answers=len(fetched),
            from_cache=sum(f.from_cache for f in fetched),
            **extra,
        )
        return df

    def today(self) -> date:
        """Today in KST, the market's calendar."""
        return kst(self.clock.now()).date()

    def now(self) -> float:
        return self.clock.now()

    def download(self, url: str) -> bytes:
        """A master file's bytes (no limiter: the download server is not the API)."""
        return download(url, self.transport.timeout)


def merge_pages(acc: dict[str, Any], body: dict[str, Any], rows_key: str | None) -> dict[str, Any]:
    """Join a further page to the first: its rows (``rows_key``) are appended; everything else
    (a summary such as the balance's ``output2``, taken once) stays the first page's."""
    if not acc:
        return dict(body)
    merged = dict(acc)
    rows = body.get(rows_key) if rows_key else None
    if rows_key and isinstance(rows, list) and isinstance(merged.get(rows_key), list):
        merged[rows_key] = merged[rows_key] + rows
    return merged
