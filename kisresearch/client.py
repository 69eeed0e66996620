"""The facade: ``KIS``. Each method validates input, plans requests, runs them, shapes a frame.

The client only composes the parts::

    plan (endpoints.py) -> batch.py -> cache.py -> retry.py -> ratelimit.py -> auth.py
         -> transport.py ;  stats.py hears every attempt, wait and cache lookup ;
    frames.py shapes the answers.

This module builds the client and runs the pipeline (``_fetch``, ``_run``); the public methods
live by area in :mod:`kisresearch.methods` and are mixed in here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .config import ENVIRONMENTS, Credentials, env_str, toolkit_dir
from .errors import (
    APIError,
    ConfigError,
    KISError,
    RateLimited,
    TokenInvalid,
)
from .methods import (
    AccountMethods,
    BarMethods,
    OverseasMethods,
    QuoteMethods,
    ReferenceMethods,
)
from .methods._base import Fetched, describe
from .methods.reference import MASTER
from .observe.logs import register_secret
from .observe.stats import StatsManager
from .pipeline.batch import BatchRunner, Outcome
from .pipeline.cache import POLICIES, ResponseCache
from .pipeline.ratelimit import LimiterConfig, make_limiter
from .pipeline.retry import RetryPolicy, retrying
from .pipeline.transport import Request, Response, Transport
from .plan import endpoints as ep
from .shape.master import MASTER_URL, download_master
from .timebase import KST, SYSTEM_CLOCK, Clock, FollowingClock

__all__ = ["KIS", "Fetched", "describe"]

log = logging.getLogger(__name__)

_said_simulator = threading.Event()


class KIS(QuoteMethods, BarMethods, ReferenceMethods, OverseasMethods, AccountMethods):
    """A client for the KIS Open API, or for the embedded simulator when no keys are set.

    Methods (each takes one symbol or a list/Series/Index, and ``cache=``/``refresh=``):
    :meth:`quotes`, :meth:`orderbook`, :meth:`history`, :meth:`minute_bars`,
    :meth:`investors`, :meth:`info`, :meth:`symbols`, :meth:`overseas_quotes`,
    :meth:`overseas_history`, :meth:`balance`.

    Parameters
    ----------
    app_key, app_secret, account
        Credentials; default to ``KIS_APP_KEY``, ``KIS_APP_SECRET``, ``KIS_ACCOUNT``
        (account as ``CANO-ACNT_PRDT_CD``, e.g. ``"50123456-01"``). With none of them and no
        ``env``/``base_url``, the embedded simulator starts (said once, via logging).
    env
        ``"real"`` (20 calls/s) or ``"paper"`` (2 calls/s); default ``KIS_ENV`` or ``"real"``.
    base_url
        Any KIS-compatible server (default: the official domain of ``env``).
    limiter
        Where the rate limiter keeps its state: ``"file"`` (default: shared by every process
        on this machine that uses the same key), ``"memory"``, ``"redis://host:port/db"`` (shared
        across machines), ``False`` (off). Default ``KIS_LIMITER``.
    rate
        The server's limit in calls per second (default by ``env``); other limiter knobs go in
        ``limiter_options`` (see :class:`kisresearch.pipeline.ratelimit.LimiterConfig`).
    cache
        ``True`` (the toolkit folder), a folder path, or ``False``; ``cache_ttl`` overrides
        the TTL (seconds, None = forever) per endpoint name: ``quote``, ``multiquote``,
        ``daily``, ``minute``, ``minute_past``, ``orderbook``, ``investors``, ``info``,
        ``etf``, ``overseas_quote``, ``overseas_daily``, ``balance`` (see
        :mod:`kisresearch.plan.endpoints`)
        and ``master`` (the master files of :meth:`symbols`).
    workers
        Concurrent requests in bulk pulls.
    item_timeout
        Seconds one batch item (a symbol, with all its pages) may take before its row gets an
        ``ItemTimeout`` error; None (default) waits, every HTTP call being bounded by
        ``timeout`` and the retry policy anyway.
    master_url
        Where :meth:`symbols` downloads KIS's master files: default ``KIS_MASTER_URL``, else
        KIS's official address (the simulator's own on the simulator).
    """

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        account: str | None = None,
        *,
        env: str | None = None,
        base_url: str | None = None,
        limiter: str | bool | None = None,
        rate: float | None = None,
        limiter_options: Mapping[str, Any] | None = None,
        cache: bool | str | Path = True,
        cache_ttl: Mapping[str, float | None] | None = None,
        workers: int = 8,
        timeout: float = 10.0,
        item_timeout: float | None = None,
        master_url: str | None = None,
        progress: bool | None = None,
        home: str | Path | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        simulator: Any = None,
    ) -> None:
        _check_settings(workers, timeout, cache_ttl)
        self._sim = simulator
        self._own_sim = False
        app_key = app_key or env_str("KIS_APP_KEY")
        app_secret = app_secret or env_str("KIS_APP_SECRET")
        account = account or env_str("KIS_ACCOUNT")
        env = env or env_str("KIS_ENV")
        base_url = base_url or env_str("KIS_BASE_URL")
        if simulator is None and not (app_key or app_secret or env or base_url):
            from .sim import Simulator

            self._sim = Simulator()
            self._sim.start()
            self._own_sim = True
            if not _said_simulator.is_set():
                _said_simulator.set()
                log.warning("no KIS credentials set (KIS_APP_KEY, KIS_APP_SECRET): "
                            "using the embedded simulator at %s", self._sim.base_url)
        try:
            if self._sim is not None:
                app_key, app_secret = self._sim.app_key, self._sim.app_secret
                account = account or self._sim.account
                env, base_url = self._sim.profile, self._sim.base_url
                rate = rate if rate is not None else self._sim.rate
                self.namespace = "sim"
            else:
                env = env or "real"
                if env not in ENVIRONMENTS:
                    raise ConfigError(f"env must be 'real' or 'paper', got {env!r}")
                missing = [n for n, v in (("KIS_APP_KEY", app_key), ("KIS_APP_SECRET", app_secret))
                           if not v]
                if missing:
                    raise ConfigError(f"env={env!r} needs credentials: set {' and '.join(missing)} "
                                      "(or pass app_key= / app_secret=)")
                self.namespace = env if base_url is None else f"url:{base_url.rstrip('/')}"
                base_url = base_url or ENVIRONMENTS[env]
            assert app_key and app_secret and base_url
            for secret in (app_key, app_secret, account):
                if secret:
                    register_secret(secret)
            self.env: str = env
            self._creds = Credentials(app_key, app_secret, account)
            if self._sim is not None and clock is SYSTEM_CLOCK:
                clock = FollowingClock(self._sim.now)
            self._clock = clock
            self.home = toolkit_dir(home)

            options = dict(limiter_options or {})
            if rate is not None:
                if "rate" in options and options["rate"] != rate:
                    raise ConfigError(f"rate={rate!r} and limiter_options rate="
                                      f"{options['rate']!r} disagree: give one")
                options["rate"] = rate
            self.limiter_config = LimiterConfig.for_env(env, **options)
            spec = limiter if limiter is not None else env_str("KIS_LIMITER")
            self.limiter = make_limiter(spec, self.limiter_config,
                                        key_id=self._creds.key_id(base_url), home=self.home,
                                        clock=clock)
            self.stats = StatsManager(clock=clock, limit=self.limiter_config.rate)
            self.transport = Transport(base_url, timeout=timeout, pool_size=max(workers, 8))
            from .pipeline.auth import TokenManager

            self.auth = TokenManager(self.transport, self._creds, self.home, clock=clock,
                                     on_issue=self.stats.record_token)
            self.cache: ResponseCache | None = None
            if cache is not False:
                folder = self.home / "cache" if cache is True else Path(cache)
                self.cache = ResponseCache(folder, clock=clock, ttl_overrides=cache_ttl)
                self.cache.on_event = self.stats.record_cache
            self.retry_policy = retry or RetryPolicy.from_env()
            if item_timeout is not None and item_timeout <= 0:
                raise ConfigError(f"item_timeout must be positive or None, got {item_timeout!r}")
            self._runner = BatchRunner(workers=workers, progress=progress, clock=clock,
                                       timeout=item_timeout)
            default_master = (f"{self._sim.base_url}/common/master/" if self._sim is not None
                              else env_str("KIS_MASTER_URL", MASTER_URL))
            self.master_url: str = (master_url or default_master or MASTER_URL).rstrip("/") + "/"
        except BaseException:
            if self._own_sim:  # a bad setting must not leave a server running
                self._sim.stop()
            raise

    # -- construction helpers --------------------------------------------------------------

    @classmethod
    def simulator(cls, *, process: bool = False, **options: Any) -> KIS:
        """A client on a fresh embedded simulator; ``options`` go to
        :class:`kisresearch.sim.Simulator` (profile, rate, jitter, latency, faults, ...)
        except the client's own keywords (cache, limiter, workers, ...).

        ``process=True`` serves it from a process of its own
        (:class:`kisresearch.sim.process.SimulatorProcess`), as a remote KIS would be: the
        kernel's own work (plots, pandas) then cannot delay the server's clock.
        """
        from .sim import Simulator
        from .sim.process import SimulatorProcess

        client_keys = {"limiter", "limiter_options", "cache", "cache_ttl", "workers", "timeout",
                       "item_timeout", "master_url", "progress", "home", "retry", "clock"}
        client_opts = {k: options.pop(k) for k in list(options) if k in client_keys}
        sim = SimulatorProcess(**options) if process else Simulator(**options)
        sim.start()
        try:
            kis = cls(simulator=sim, **client_opts)
        except BaseException:
            sim.stop()
            raise
        kis._own_sim = True
        return kis

    @property
    def sim(self) -> Any:
        """The simulator behind this client, or None on a real server."""
        return self._sim

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def __repr__(self) -> str:
        where = "simulator" if self._sim is not None else self.env
        return (f"KIS(env={self.env!r}, server={where}, base_url={self.base_url!r}, "
                f"rate={self.limiter_config.rate:g}/s)")

    def close(self) -> None:
        """Stop workers, close the HTTP session and cache; stop an owned simulator."""
        self._runner.close()
        self.transport.close()
        if self.cache is not None:
            self.cache.close()
        self.limiter.close()
        if self._own_sim and self._sim is not None:
            self._sim.stop()

    def __enter__(self) -> KIS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the pipeline ----------------------------------------------------------------------

    def _send(self, request: Request) -> Response:
        """One attempt: auth headers, a limiter slot, HTTP; one stats event per attempt. A
        rejected token is dropped and the attempt made once more with a fresh one."""
        for refreshed in (False, True):
            # Headers first: a token issuance must not sit between the limiter's slot and
            # the send, or calls reserved apart would leave together.
            headers = self.auth.headers()
            waited = self.limiter.acquire()
            if waited > 0:
                self.stats.record_wait(waited)
            started = self._clock.now()
            try:
                response = self.transport.send(request, headers)
            except KISError as exc:
                self._record(request, started, exc)
                if isinstance(exc, RateLimited):
                    self.limiter.on_rate_limited()
                if isinstance(exc, TokenInvalid) and not refreshed:
                    log.info("%s: the server rejected the token; getting another", exc.msg_cd)
                    self.auth.invalidate(headers["authorization"].removeprefix("Bearer "))
                    continue
                raise
            self._record(request, started, None)
            return response
        raise AssertionError("unreachable")

    def _record(self, request: Request, started: float, exc: BaseException | None) -> None:
        latency = self._clock.now() - started
        if exc is None:
            outcome, code = "ok", None
        elif isinstance(exc, RateLimited):
            outcome, code = "rate_limited", exc.msg_cd
        elif isinstance(exc, APIError):
            outcome, code = "error", exc.msg_cd
        else:
            outcome, code = "transport", type(exc).__name__
        self.stats.record_attempt(request.name, request.tr_id, started, latency, outcome, code)

    def _call(self, request: Request) -> Response:
        """One request with retries (EGW00201, transient faults)."""

        def on_retry(exc: BaseException, attempt: int, wait: float) -> None:
            self.stats.record_retry(request.name, getattr(exc, "msg_cd", type(exc).__name__))

        return retrying(self.retry_policy, sleep=self._clock.sleep, on_retry=on_retry)(
            self._send, request)

    def _fetch(
        self,
        endpoint: ep.Endpoint,
        params: Mapping[str, str],
        *,
        symbol: str | None = None,
        use_cache: bool = True,
        refresh: bool = False,
        pages: Callable[[Response], Request | None] | None = None,
    ) -> Fetched:
        """A logical request through the cache: one call, or all its pages merged.

        ``pages(response)`` returns the request for the next page, or None after the last.
        """
        cache = self.cache if use_cache else None
        key = cache.key(self.namespace, endpoint.name, params) if cache is not None else ""
        if cache is not None and not refresh:
            hit = cache.get(key, endpoint=endpoint.name)
            if hit is not None:
                return Fetched(hit.payload, True, hit.fetched_at)
        request: Request | None = endpoint.request(self.env, params)
        body: dict[str, Any] = {}
        while request is not None:
            response = self._call(request)
            body = _merge_pages(body, response.body, endpoint.rows_key)
            request = pages(response) if pages else None
        now = self._clock.now()
        if cache is not None:
            policy = POLICIES[endpoint.cache]
            cache.set(key, body, ttl=policy.ttl_for(params, body, now), endpoint=endpoint.name,
                      symbol=symbol, fetched_at=now)
        return Fetched(body, False, now)

    def _run(self, items: Sequence[Any], fn: Callable[[Any], Any], desc: str,
             progress: bool | None) -> list[Outcome]:
        return self._runner.run(items, fn, desc=desc, progress=progress)

    def _provenance(self, df: pd.DataFrame, endpoint: ep.Endpoint | None,
                    fetched: Sequence[Fetched], **extra: Any) -> pd.DataFrame:
        stamps = [f.fetched_at for f in fetched]
        df.attrs.update(
            endpoint=endpoint.path if endpoint is not None else None,
            tr_id=endpoint.tr_id_for(self.env) if endpoint is not None else None,
            env="simulator" if self._sim is not None else self.env,
            fetched_at=_iso(max(stamps)) if stamps else None,
            answers=len(fetched),
            from_cache=sum(f.from_cache for f in fetched),
            **extra,
        )
        return df

    def _today(self) -> date:
        """Today in KST, the market's calendar."""
        return datetime.fromtimestamp(self._clock.now(), KST).date()

    def _now(self) -> float:
        return self._clock.now()

    def _download(self, url: str) -> bytes:
        return download_master(url, self.transport.timeout)


def _check_settings(workers: object, timeout: object,
                    cache_ttl: Mapping[str, float | None] | None) -> None:
    """The client's own numeric settings and the ``cache_ttl`` names, before anything starts."""
    if isinstance(workers, bool) or not isinstance(workers, int | float):
        raise TypeError(f"workers must be an int, got {workers!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not timeout > 0 or timeout == float("inf"):
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    known = {*ep.ALL, MASTER}
    unknown = sorted(set(cache_ttl or {}) - known, key=str)
    if unknown:
        raise ConfigError(f"cache_ttl names unknown endpoints {', '.join(map(repr, unknown))}: "
                          f"expected some of {', '.join(sorted(known))}")


def _merge_pages(acc: dict[str, Any], body: dict[str, Any],
                 rows_key: str | None) -> dict[str, Any]:
    """Join a further page to the first: its rows (``rows_key``) are appended; everything else
    (a summary such as the balance's ``output2``, taken once) stays the first page's."""
    if not acc:
        return dict(body)
    merged = dict(acc)
    rows = body.get(rows_key) if rows_key else None
    if rows_key and isinstance(rows, list) and isinstance(merged.get(rows_key), list):
        merged[rows_key] = merged[rows_key] + rows
    return merged


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
