"""The facade: ``KIS``. It builds the parts from settings and wires them; nothing else.

The public methods live by area in :mod:`kisresearch.methods` and are mixed in here; they
reach the parts only through ``self.pipeline``, a :class:`~kisresearch.pipeline.flow.Pipeline`
(the data flow is drawn in :mod:`kisresearch.pipeline`).
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import (
    ENVIRONMENTS,
    Credentials,
    env_str,
    misspelt_variables,
    private_dir,
    toolkit_dir,
)
from .errors import ConfigError, SettingWarning, SimulatorWarning
from .methods import (
    AccountMethods,
    BarMethods,
    OverseasMethods,
    QuoteMethods,
    ReferenceMethods,
    UpdateMethods,
)
from .methods.reference import MASTER
from .observe.logs import register_secret
from .observe.stats import StatsManager
from .pipeline.auth import TokenManager
from .pipeline.batch import BatchRunner
from .pipeline.cache import ResponseCache
from .pipeline.flow import Pipeline
from .pipeline.keys import AppKey, KeyPool
from .pipeline.ratelimit import LimiterConfig, make_limiter
from .pipeline.retry import RetryPolicy
from .pipeline.transport import Transport
from .plan import endpoints as ep
from .shape.master import MASTER_URL
from .store import BarStore
from .timebase import SYSTEM_CLOCK, Clock, FollowingClock

__all__ = ["KIS"]


_said_simulator = threading.Event()


class KIS(
    QuoteMethods, BarMethods, ReferenceMethods, OverseasMethods, AccountMethods, UpdateMethods
):
    """A client for the KIS Open API, or for the embedded simulator when no keys are set.

    Methods (each takes one symbol or a list/Series/Index, and ``cache=``/``refresh=``):
    :meth:`quotes`, :meth:`orderbook`, :meth:`history`, :meth:`minute_bars`,
    :meth:`investors`, :meth:`info`, :meth:`symbols`, :meth:`overseas_quotes`,
    :meth:`overseas_history`, :meth:`balance`; :meth:`update` brings the bar store
    (:attr:`store`) up to date.

    Parameters
    ----------
    app_key, app_secret, account
        Credentials; default to ``KIS_APP_KEY``, ``KIS_APP_SECRET``, ``KIS_ACCOUNT``
        (account as ``CANO-ACNT_PRDT_CD``, e.g. ``"50123456-01"``). With none of them and no
        ``env``/``base_url``, the embedded simulator starts, said once a process by a
        :class:`~kisresearch.SimulatorWarning` (a mistyped ``KIS_*`` name gets a
        :class:`~kisresearch.SettingWarning` naming the right one).
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
    store
        The bar store (:mod:`kisresearch.store`) that :meth:`history` (daily bars) and
        :meth:`minute_bars` read first, fetching only what it does not hold: ``True`` (the
        toolkit folder's ``store/``), a folder path, or ``False``; default ``KIS_STORE``
        (a path, or ``0`` for none). Each data source has its own subfolder (``kis``, or the
        simulator's ``sim-<seed>``).
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
        store: bool | str | Path | None = None,
        workers: int = 8,
        timeout: float = 10.0,
        item_timeout: float | None = None,
        master_url: str | None = None,
        progress: bool | None = None,
        home: str | Path | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        simulator: Any = None,
        keys: Sequence[tuple[str, str] | Mapping[str, str]] | None = None,
    ) -> None:
        _check_settings(workers, timeout, cache_ttl, item_timeout)
        pool = _key_specs(keys, app_key, app_secret, account)
        named = app_key or (pool[0].app_key if pool else None)
        self._sim, self._own_sim = _simulator(simulator, named, app_secret, env, base_url)
        try:
            self._wire(
                pool=pool,
                app_key=app_key,
                app_secret=app_secret,
                account=account,
                env=env,
                base_url=base_url,
                limiter=limiter,
                rate=rate,
                limiter_options=limiter_options,
                cache=cache,
                cache_ttl=cache_ttl,
                store=store,
                workers=workers,
                timeout=timeout,
                item_timeout=item_timeout,
                master_url=master_url,
                progress=progress,
                home=home,
                retry=retry,
                clock=clock,
            )
        except BaseException:
            if self._own_sim:  # a bad setting must not leave a server running
                self._sim.stop()
            raise

    def _wire(
        self,
        *,
        pool: list[_KeySpec],
        app_key: str | None,
        app_secret: str | None,
        account: str | None,
        env: str | None,
        base_url: str | None,
        limiter: str | bool | None,
        rate: float | None,
        limiter_options: Mapping[str, Any] | None,
        cache: bool | str | Path,
        cache_ttl: Mapping[str, float | None] | None,
        store: bool | str | Path | None,
        workers: int,
        timeout: float,
        item_timeout: float | None,
        master_url: str | None,
        progress: bool | None,
        home: str | Path | None,
        retry: RetryPolicy | None,
        clock: Clock,
    ) -> None:
        """Build the parts from settings and join them into the pipeline."""
        sim = self._sim
        first = pool[0] if pool else None
        creds, self.env, base_url, self.namespace = _server(
            sim if first is None else None,
            first.app_key if first else app_key,
            first.app_secret if first else app_secret,
            first.account if first else account,
            (first.env if first else None) or env or (sim.profile if sim is not None else None),
            base_url or (sim.base_url if sim is not None else None),
        )
        if first is not None and sim is not None:
            self.namespace = "sim"
        creds_all = [creds] + [_credentials(k, self.env) for k in pool[1:]]
        if sim is not None:
            rate = rate if rate is not None else sim.rate
            if clock is SYSTEM_CLOCK:
                clock = FollowingClock(sim.now)
        self.home = toolkit_dir(home)
        self.limiter_config = LimiterConfig.for_env(
            self.env, **_limiter_options(rate, limiter_options)
        )
        spec = limiter if limiter is not None else env_str("KIS_LIMITER")
        self.stats = StatsManager(clock=clock, limit=self.limiter_config.rate * len(creds_all))
        self.transport = Transport(base_url, timeout=timeout, pool_size=max(workers, 8))
        self.keys = KeyPool(
            [
                AppKey(
                    f"key {i}",
                    c,
                    TokenManager(
                        self.transport, c, self.home, clock=clock, on_issue=self.stats.record_token
                    ),
                    make_limiter(spec, self.limiter_config, key_id=c.key_id(base_url), clock=clock),
                )
                for i, c in enumerate(creds_all, 1)
            ],
            clock,
        )
        self.limiter, self.auth = self.keys.keys[0].limiter, self.keys.keys[0].auth
        self.cache: ResponseCache | None = None
        if cache is not False:
            folder = self.home / "cache" if cache is True else Path(cache)
            self.cache = ResponseCache(folder, clock=clock, ttl_overrides=cache_ttl)
            self.cache.on_event = self.stats.record_cache
        self.store = _bar_store(store, self.home, _source(sim, self.namespace))
        self.retry_policy = retry or RetryPolicy.from_env()
        self.pipeline = Pipeline(
            env=self.env,
            namespace=self.namespace,
            simulated=sim is not None,
            keys=self.keys,
            transport=self.transport,
            retry_policy=self.retry_policy,
            stats=self.stats,
            cache=self.cache,
            runner=BatchRunner(
                workers=workers, progress=progress, clock=clock, timeout=item_timeout
            ),
            clock=clock,
        )
        default_master = (
            f"{sim.base_url}/common/master/"
            if sim is not None
            else env_str("KIS_MASTER_URL", MASTER_URL)
        )
        self.master_url: str = (master_url or default_master or MASTER_URL).rstrip("/") + "/"

    # -- construction helpers --------------------------------------------------------------

    @classmethod
    def simulator(cls, *, process: bool = False, **options: Any) -> KIS:
        """A client on a fresh embedded simulator; ``options`` go to
        :class:`kisresearch.sim.Simulator` (profile, rate, jitter, latency, faults, ...)
        except the client's own keywords (cache, limiter, workers, ...).

        ``keys=3`` registers three app keys on it (each its own budget, token and account)
        and makes the client a key pool of them (see ``keys`` of :class:`KIS`).

        ``process=True`` serves it from a process of its own
        (:class:`kisresearch.sim.process.SimulatorProcess`), as a remote KIS would be: the
        kernel's own work (plots, pandas) then cannot delay the server's clock.
        """
        from .sim import Simulator
        from .sim.process import SimulatorProcess

        client_keys = {
            "limiter",
            "limiter_options",
            "cache",
            "cache_ttl",
            "store",
            "workers",
            "timeout",
            "item_timeout",
            "master_url",
            "progress",
            "home",
            "retry",
            "clock",
        }
        client_opts = {k: options.pop(k) for k in list(options) if k in client_keys}
        keys = options.pop("keys", 1)
        if isinstance(keys, bool) or not isinstance(keys, int) or not 1 <= keys <= 16:
            raise ConfigError(f"keys must be a whole number of app keys from 1 to 16, got {keys!r}")
        if process and keys > 1:
            raise ConfigError("keys= needs the simulator in this process (process=False)")
        sim = SimulatorProcess(**options) if process else Simulator(**options)
        sim.start()
        try:
            pool = sim.pool(keys) if isinstance(sim, Simulator) and keys > 1 else None
            kis = cls(simulator=sim, keys=pool, **client_opts)
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
        env, profile = self.env, ""
        if self._sim is not None:  # as df.attrs["env"] says
            env, profile = "simulator", f", profile={self.env!r}"
        return (
            f"KIS(env={env!r}{profile}, base_url={self.base_url!r}, "
            f"rate={self.limiter_config.rate:g}/s)"
        )

    def close(self) -> None:
        """Stop workers, close the HTTP session and cache; stop an owned simulator."""
        self.pipeline.runner.close()
        self.transport.close()
        if self.cache is not None:
            self.cache.close()
        for key in self.keys.keys:
            key.limiter.close()
        if self._own_sim and self._sim is not None:
            self._sim.stop()

    def __enter__(self) -> KIS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the pipeline ----------------------------------------------------------------------


def _check_settings(
    workers: object,
    timeout: object,
    cache_ttl: Mapping[str, float | None] | None,
    item_timeout: float | None,
) -> None:
    """The client's own numeric settings and the ``cache_ttl`` names, before anything starts."""
    if isinstance(workers, bool) or not isinstance(workers, int | float):
        raise TypeError(f"workers must be an int, got {workers!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not timeout > 0 or timeout == float("inf"):
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if item_timeout is not None and item_timeout <= 0:
        raise ConfigError(f"item_timeout must be positive or None, got {item_timeout!r}")
    known = {*ep.ALL, MASTER}
    unknown = sorted(set(cache_ttl or {}) - known, key=str)
    if unknown:
        raise ConfigError(
            f"cache_ttl names unknown endpoints {', '.join(map(repr, unknown))}: "
            f"expected some of {', '.join(sorted(known))}"
        )


def _simulator(
    simulator: Any,
    app_key: str | None,
    app_secret: str | None,
    env: str | None,
    base_url: str | None,
) -> tuple[Any, bool]:
    """The simulator to use and whether the client owns it: the one given, else a new embedded
    one when nothing names a server (no key, secret, env or base URL, here or in KIS_*)."""
    if simulator is not None:
        return simulator, False
    for name, meant in misspelt_variables().items():
        warnings.warn(f"{name} is set but is no kisresearch setting: did you mean {meant}?",
                      SettingWarning, stacklevel=3)  # fmt: skip
    if (
        app_key
        or app_secret
        or env
        or base_url
        or any(env_str(n) for n in ("KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ENV", "KIS_BASE_URL"))
    ):
        return None, False
    from .sim import Simulator

    sim = Simulator()
    sim.start()
    if not _said_simulator.is_set():
        _said_simulator.set()
        warnings.warn("no KIS credentials set (KIS_APP_KEY, KIS_APP_SECRET): these prices "
                      "come from the embedded simulator, not KIS", SimulatorWarning,
                      stacklevel=3)  # fmt: skip
    return sim, True


@dataclass(frozen=True)
class _KeySpec:
    """One app key of a pool as given; ``repr`` never shows it."""

    app_key: str
    app_secret: str
    account: str | None = None
    env: str | None = None

    def __repr__(self) -> str:
        return "_KeySpec(***)"


_KEY_FIELDS = ("app_key", "app_secret", "account", "env")


def _key_specs(
    keys: Sequence[tuple[str, str] | Mapping[str, str]] | None,
    app_key: str | None,
    app_secret: str | None,
    account: str | None,
) -> list[_KeySpec]:
    """A pool's keys from ``keys=``, else ``KIS_KEYS`` (``key:secret[:account]`` entries
    apart by commas or white space) unless ``app_key``/``app_secret`` are given; [] for a
    client of one key. Checked before anything starts; messages name positions, never values."""
    if keys is None:
        text = env_str("KIS_KEYS")
        if not text or app_key or app_secret:
            return []
        keys = [tuple(part.split(":")) for part in re.split(r"[\s,;]+", text.strip()) if part]
        where = "KIS_KEYS entry"
    else:
        if app_key or app_secret:
            raise ConfigError("give either keys= or app_key= / app_secret=, not both")
        where = "keys="
    if isinstance(keys, str | bytes | Mapping) or not isinstance(keys, Sequence) or not keys:
        raise TypeError(f"{where} must be a non-empty list of (app_key, app_secret) pairs or dicts")
    specs = []
    for i, k in enumerate(keys):
        if isinstance(k, Mapping):
            unknown = sorted(set(k) - set(_KEY_FIELDS), key=str)
            if unknown:
                raise ConfigError(
                    f"{where}[{i}] has unknown fields {unknown}: expected {_KEY_FIELDS}"
                )
            fields = [k.get(f) for f in _KEY_FIELDS]
        elif isinstance(k, tuple | list) and len(k) in (2, 3):
            fields = [*k, *[None] * (4 - len(k))]
        else:
            raise TypeError(f"{where}[{i}] must be an (app_key, app_secret) pair or a dict")
        key, secret, acct, env = fields
        if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
            raise ConfigError(f"{where}[{i}] needs an app_key and an app_secret (non-empty text)")
        specs.append(_KeySpec(key, secret, acct or None, env or None))
    seen = [k.app_key for k in specs]
    if len(set(seen)) < len(seen):
        raise ConfigError(f"{where} names one app key twice: each key of a pool must differ")
    if account is not None and specs[0].account is None:
        specs[0] = _KeySpec(specs[0].app_key, specs[0].app_secret, account, specs[0].env)
    return specs


def _credentials(spec: _KeySpec, env: str) -> Credentials:
    """A further key of a pool as credentials, its secrets registered for redaction."""
    if spec.env is not None and spec.env != env:
        raise ConfigError(
            f"a key pool is for one environment: the first key is {env!r}, another "
            f"{spec.env!r} (real and paper are different servers; make one client for each)"
        )
    _register(spec.app_key, spec.app_secret, spec.account)
    return Credentials(spec.app_key, spec.app_secret, spec.account)


def _register(app_key: str, app_secret: str, account: str | None) -> None:
    cano = account.replace("-", "")[:8] if account else None  # alone in KIS's CTX_AREA keys
    for secret in (app_key, app_secret, account, cano):
        if secret:
            register_secret(secret)


def _server(
    sim: Any,
    app_key: str | None,
    app_secret: str | None,
    account: str | None,
    env: str | None,
    base_url: str | None,
) -> tuple[Credentials, str, str, str]:
    """Credentials, environment, base URL and cache namespace, from the arguments, the KIS_*
    variables or the simulator; every secret is registered for redaction."""
    app_key = app_key or env_str("KIS_APP_KEY")
    app_secret = app_secret or env_str("KIS_APP_SECRET")
    account = account or env_str("KIS_ACCOUNT")
    env = env or env_str("KIS_ENV")
    base_url = base_url or env_str("KIS_BASE_URL")
    if sim is not None:
        app_key, app_secret = sim.app_key, sim.app_secret
        account = account or sim.account
        env, base_url, namespace = sim.profile, sim.base_url, "sim"
    else:
        env = env or "real"
        if env not in ENVIRONMENTS:
            raise ConfigError(f"env must be 'real' or 'paper', got {env!r}")
        missing = [
            n for n, v in (("KIS_APP_KEY", app_key), ("KIS_APP_SECRET", app_secret)) if not v
        ]
        if missing:
            raise ConfigError(
                f"env={env!r} needs credentials: set {' and '.join(missing)} "
                "(or pass app_key= / app_secret=)"
            )
        namespace = env if base_url is None else f"url:{base_url.rstrip('/')}"
        base_url = base_url or ENVIRONMENTS[env]
    assert app_key and app_secret and base_url and env
    _register(app_key, app_secret, account)
    return Credentials(app_key, app_secret, account), env, base_url, namespace


def _source(sim: Any, namespace: str) -> str:
    """The store subfolder of a data source: KIS's servers (real and paper answer the same
    bars) are ``kis``; another server is named by its URL; a simulator by its data."""
    if sim is not None:
        return str(sim.data_id)
    if namespace.startswith("url:"):
        return "url-" + re.sub(r"[^A-Za-z0-9.-]+", "_", namespace[4:]).strip("_")
    return "kis"


def _bar_store(setting: bool | str | Path | None, home: Path, source: str) -> BarStore | None:
    """The bar store for ``setting`` (see :class:`KIS`), its folder created owner-only."""
    if setting is None:
        setting = env_str("KIS_STORE") or True
    if isinstance(setting, str) and setting.strip().lower() in ("0", "false", "no", "off"):
        setting = False
    if isinstance(setting, bool):
        if not setting:
            return None
        root = home / "store"
    elif isinstance(setting, str | os.PathLike):
        root = Path(setting)
    else:
        raise TypeError(f"store must be True, False or a folder path, got {setting!r}")
    private_dir(root, "bar store folder")
    return BarStore(private_dir(root / source, "bar store folder"))


def _limiter_options(rate: float | None, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``limiter_options`` with ``rate=`` folded in; the two must agree when both are given."""
    merged = dict(options or {})
    if rate is not None:
        if "rate" in merged and merged["rate"] != rate:
            raise ConfigError(
                f"rate={rate!r} and limiter_options rate={merged['rate']!r} disagree: give one"
            )
        merged["rate"] = rate
    return merged
