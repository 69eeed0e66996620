"""A disk TTL cache for KIS answers, so a kernel restart does not re-spend the rate budget.

Storage is a diskcache ``Cache`` (SQLite, safe across threads and processes) in one owner-only
folder: ``cache.db`` plus SQLite's ``-wal``/``-shm`` files, all 0600 in a 0700 folder. Values are
JSON (zlib above ``compress_threshold``) stored inside the database, never pickle. Rows this
toolkit did not write (pickle, file-backed or raw values) are refused: logged, deleted, treated
as a miss. That database layer (the JSON-only ``Disk``, the file modes, moving a corrupt database
aside) is :mod:`kisresearch.pipeline.cache.disk`, which says why.

Keys are ``"<endpoint>:<sha256 of namespace, endpoint and sorted params>"``: stable across
processes, readable enough to debug, and never showing a parameter value (an account number in a
balance query is hashed, not shown). Each row is tagged ``[endpoint, symbol]`` so :meth:`clear`
evicts by tag without decoding values.

Time: ``fetched_at`` and expiry use the injected clock; the expiry is kept in the value and
checked on every read. diskcache's own expiry (used for culling) runs on ``time.time()``; the
clock's time is mapped onto it by the offset between the two taken at construction, so with the
system clock they agree and with a fake clock :meth:`expire` still culls in the fake time.

A corrupt database never fails every call: it is moved aside (``cache.db.corrupt-<time>``) with a
warning, and a fresh one is started.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

import diskcache

from ...config import private_dir, toolkit_dir
from ...errors import ConfigError, KISError, UnsafeRow
from ...timebase import SYSTEM_CLOCK, Clock
from .disk import (
    DBNAME,
    SQLITE_TIMEOUT,
    create_db,
    is_corrupt,
    note_reads,
    open_db,
    quarantine,
    read_many,
)
from .policy import cache_key, is_error_body, non_empty_success

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CachedEntry", "ResponseCache", "cacheable", "default_cache"]

log = logging.getLogger("kisresearch.cache")

EVICTION_POLICIES = ("least-recently-used", "least-frequently-used", "least-recently-stored")


@dataclass(frozen=True)
class CachedEntry:
    """A stored answer: the payload, when it was fetched and when it goes stale (clock time)."""

    payload: Any
    fetched_at: float
    expires_at: float | None = None


def _tag(endpoint: str, symbol: str | None) -> str:
    return json.dumps([endpoint, symbol], ensure_ascii=False, separators=(",", ":"))


def _untag(tag: Any) -> tuple[str, str | None]:
    try:
        endpoint, symbol = json.loads(tag)
    except (TypeError, ValueError):
        return "(unknown)", None
    return str(endpoint), symbol


class ResponseCache:
    """Disk TTL cache of KIS JSON answers; see the module docstring.

    ``ttl_overrides`` maps an endpoint to the TTL to use instead of the policy's (``None``
    forever, ``0`` never); an override never stores an error or empty answer. ``rate``
    (requests per second) turns hits into the time they saved. ``on_event(endpoint, hit)`` is
    called on every :meth:`get`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        size_limit: int = 2**30,
        eviction: str = "least-recently-used",
        clock: Clock = SYSTEM_CLOCK,
        compress_threshold: int = 16_384,
        ttl_overrides: Mapping[str, float | None] | None = None,
        rate: float = 20.0,
    ) -> None:
        if eviction not in EVICTION_POLICIES:
            raise ConfigError(f"eviction must be one of {', '.join(EVICTION_POLICIES)}")
        if size_limit <= 0 or compress_threshold < 0 or rate <= 0:
            raise ConfigError("size_limit and rate must be > 0, compress_threshold >= 0")
        self.directory = private_dir(directory, "cache folder", os.W_OK | os.X_OK)
        self.size_limit = int(size_limit)
        self.eviction = eviction
        self.compress_threshold = int(compress_threshold)
        self.ttl_overrides: dict[str, float | None] = dict(ttl_overrides or {})
        self.rate = float(rate)
        self.on_event: Callable[[str, bool], None] | None = None
        self._clock = clock
        self._offset = time.time() - clock.now()  # clock time -> diskcache's time.time()
        self._lock = threading.Lock()  # counters
        self._recovering = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._misses: Counter[str] = Counter()
        self._db_ino = 0
        self._noting: threading.Thread | None = None  # the reads being noted (_note_reads)
        self._noting_lock = threading.Lock()  # two pulls at once: one noting thread at a time
        self._cache = self._open()

    # --- opening and recovery ------------------------------------------------------------------

    def _connect(self) -> Any:
        self._db_ino = create_db(self.directory)  # first: a failed open quarantines this file
        return open_db(
            self.directory,
            size_limit=self.size_limit,
            eviction=self.eviction,
            compress_threshold=self.compress_threshold,
        )

    def _open(self) -> Any:
        try:
            try:
                return self._connect_when_free()
            except sqlite3.DatabaseError as exc:
                # At open, a generic SQLITE_ERROR means a foreign schema: equally unusable.
                if not (is_corrupt(exc) or getattr(exc, "sqlite_errorcode", 0) == 1):
                    raise
                self._quarantine(exc)
                return self._connect()
        except (OSError, sqlite3.Error) as exc:
            where = str(self.directory / DBNAME)
            raise ConfigError(f"cannot open cache database {where!r}: {exc}") from None

    def _connect_when_free(self) -> Any:
        """Connect, waiting out another connection's set-up: diskcache's first statements
        (journal mode, schema) answer "database is locked" at once instead of waiting."""
        deadline = time.monotonic() + SQLITE_TIMEOUT
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _quarantine(self, reason: BaseException) -> None:
        quarantine(self.directory, self._db_ino, self._clock.now(), reason)

    def _failed(self, cache: Any, exc: sqlite3.Error, what: str) -> None:
        if not is_corrupt(exc):
            log.warning("cache %s failed in %s: %s", what, self.directory, exc)
            return
        with self._recovering:
            if self._cache is not cache:
                return  # another thread already recovered
            with contextlib.suppress(Exception):
                cache.close()
            self._quarantine(exc)
            try:
                self._cache = self._open()
            except KISError as again:
                log.error("cache could not start afresh in %s: %s", self.directory, again)

    # --- the client's calls --------------------------------------------------------------------

    @staticmethod
    def key(namespace: str, endpoint: str, params: Mapping[str, Any]) -> str:
        """See :func:`cache_key`."""
        return cache_key(namespace, endpoint, params)

    def get(self, key: str, *, endpoint: str, count_miss: bool = True) -> CachedEntry | None:
        """The fresh entry for ``key``, or ``None``; counts a hit or (``count_miss``) a miss
        for ``endpoint``."""
        entry = self._read(key)
        if entry is None and not count_miss:
            return None
        with self._lock:
            (self._hits if entry is not None else self._misses)[endpoint] += 1
        self._event(endpoint, entry is not None)
        return entry

    def _event(self, endpoint: str, hit: bool) -> None:
        hook = self.on_event
        if hook is None:
            return
        try:
            hook(endpoint, hit)
        except Exception:
            log.warning("cache on_event hook failed", exc_info=True)

    def get_many(self, keys: list[str]) -> dict[str, CachedEntry]:
        """The fresh entries among ``keys``, read from the database at once (one statement per
        500 keys instead of a transaction each), uncounted: :meth:`count_hit` counts those
        used. On any trouble it returns what it has; :meth:`get` still works."""
        cache = self._cache
        try:
            now = self._clock.now() + self._offset
            rows = read_many(self.directory, keys, now)
        except sqlite3.Error as exc:
            self._failed(cache, exc, "read")
            return {}
        self._note_reads([r[0] for r in rows], now)
        found: dict[str, CachedEntry] = {}
        for _, key, mode, filename, value in rows:
            try:
                decoded = cache.disk.fetch(mode, filename, value, False)
            except UnsafeRow as exc:
                self._refuse(key, str(exc))
                continue
            entry = self._entry(key, decoded)
            if entry is not None:
                found[key] = entry
        return found

    def _note_reads(self, rowids: list[int], now: float) -> None:
        """Note the reads for the eviction policy on a thread of its own (a write that now
        and then waits on a WAL checkpoint); :meth:`close` waits for it."""

        def note() -> None:
            try:
                note_reads(self.directory, rowids, now, self.eviction)
            except sqlite3.Error as exc:  # an access time not noted: eviction a little off
                log.debug("cache reads not noted in %s: %s", self.directory, exc)

        with self._noting_lock:
            self._join_noting()
            self._noting = threading.Thread(target=note, name="kisresearch-cache-note", daemon=True)
            self._noting.start()

    def _join_noting(self) -> None:
        if self._noting is not None:
            self._noting.join()

    def count_hit(self, endpoint: str) -> None:
        """Count a hit that :meth:`get_many` found and its caller used."""
        with self._lock:
            self._hits[endpoint] += 1
        self._event(endpoint, True)

    def _read(self, key: str) -> CachedEntry | None:
        cache = self._cache
        try:
            value = cache.get(key)
        except UnsafeRow as exc:
            self._refuse(key, str(exc))
            return None
        except diskcache.Timeout:
            log.warning("cache read timed out (database busy) in %s", self.directory)
            return None
        except sqlite3.Error as exc:
            self._failed(cache, exc, "read")
            return None
        return None if value is None else self._entry(key, value)

    def _entry(self, key: str, value: Any) -> CachedEntry | None:
        """A stored value as a fresh entry; None when stale, or refused when not an entry."""
        try:
            entry = CachedEntry(
                value["payload"],
                float(value["fetched_at"]),
                None if value.get("expires_at") is None else float(value["expires_at"]),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            self._refuse(key, "not a cache entry")
            return None
        if entry.expires_at is not None and self._clock.now() >= entry.expires_at:
            return None
        return entry

    def _refuse(self, key: str, why: str) -> None:
        log.warning("refused cache row %s in %s (%s); deleted it", key, self.directory, why)
        with contextlib.suppress(diskcache.Timeout, sqlite3.Error):
            self._cache.delete(key, retry=True)

    def set(
        self,
        key: str,
        payload: Any,
        *,
        ttl: float | None,
        endpoint: str,
        symbol: str | None = None,
        fetched_at: float | None = None,
    ) -> bool:
        """Store ``payload`` for ``ttl`` seconds (``None`` until evicted, ``0`` not at all).

        ``fetched_at`` (default now) is when the answer came from the server; a later hit
        reports it unchanged.

        ``ttl_overrides[endpoint]`` wins over ``ttl`` unless the payload is an error or empty
        answer; KIS error bodies are never stored. Returns whether it was stored.
        """
        if endpoint in self.ttl_overrides and (ttl != 0 or non_empty_success(payload)):
            ttl = self.ttl_overrides[endpoint]
        if (ttl is not None and ttl <= 0) or is_error_body(payload):
            return False
        now = self._clock.now()
        expires_at = None if ttl is None else now + ttl
        stamp = now if fetched_at is None else fetched_at
        value = {"payload": payload, "fetched_at": stamp, "expires_at": expires_at}
        # diskcache's clock; never shorter than ttl, so a fake clock set back stays consistent
        expire = None if ttl is None else max(ttl, now + ttl + self._offset - time.time())
        cache = self._cache
        try:
            return bool(cache.set(key, value, expire=expire, tag=_tag(endpoint, symbol)))
        except diskcache.Timeout:
            log.warning("cache write timed out (database busy) in %s", self.directory)
        except sqlite3.Error as exc:
            self._failed(cache, exc, "write")
        return False

    # --- management ----------------------------------------------------------------------------

    def _guarded(self, what: str, action: Callable[[Any], Any], fallback: Any) -> Any:
        cache = self._cache
        try:
            return action(cache)
        except diskcache.Timeout:
            log.warning("cache %s timed out (database busy) in %s", what, self.directory)
        except sqlite3.Error as exc:
            self._failed(cache, exc, what)
        return fallback

    def _query(self, cache: Any, sql: str) -> list[tuple[Any, ...]]:
        # diskcache has no public way to list tags or sizes per tag; its schema (Cache.tag,
        # .size, .value) has been stable since 3.0. Read-only, values are never decoded.
        return list(cache._sql(sql).fetchall())

    def clear(self, endpoint: str | None = None, symbol: str | None = None) -> int:
        """Remove entries (all, or those of an endpoint and/or symbol); returns how many."""

        def run(cache: Any) -> int:
            if endpoint is None and symbol is None:
                return int(cache.clear(retry=True))
            removed = 0
            for (tag,) in self._query(cache, "SELECT DISTINCT tag FROM Cache"):
                ep, sym = _untag(tag)
                if endpoint in (None, ep) and symbol in (None, sym):
                    removed += int(cache.evict(tag, retry=True))
            return removed

        return int(self._guarded("clear", run, 0))

    def expire(self) -> int:
        """Remove entries whose TTL has passed (by the injected clock); returns how many."""
        now = self._clock.now() + self._offset
        return int(self._guarded("expire", lambda c: c.expire(now=now, retry=True), 0))

    def stats(self, rate: float | None = None) -> dict[str, Any]:
        """Counters since construction, plus the database's entries and size.

        ``time_saved_s`` is hits / ``rate`` (default: the ``rate`` attribute, 20 per second).
        """
        with self._lock:
            hits, misses = sum(self._hits.values()), sum(self._misses.values())
        entries, volume = self._guarded("stats", lambda c: (len(c), c.volume()), (0, 0))
        return {
            "hits": hits,
            "misses": misses,
            "hit_ratio": hits / (hits + misses) if hits + misses else 0.0,
            "entries": int(entries),
            "bytes_on_disk": int(volume),
            "calls_saved": hits,
            "time_saved_s": hits / (rate or self.rate),
        }

    def report(self) -> pd.DataFrame:
        """One row per endpoint (index ``endpoint``, sorted).

        Returns
        -------
        pandas.DataFrame
            ``entries`` int64, ``hits`` int64, ``misses`` int64, ``hit_ratio`` float64 (0.0 with
            no lookups), ``bytes`` int64 (stored value sizes, before SQLite's page overhead).
        """
        import pandas as pd

        sql = "SELECT tag, COUNT(*), SUM(size + COALESCE(LENGTH(value), 0)) FROM Cache GROUP BY tag"
        stored: dict[str, list[int]] = {}
        for tag, count, size in self._guarded("report", lambda c: self._query(c, sql), []):
            row = stored.setdefault(_untag(tag)[0], [0, 0])
            row[0] += int(count)
            row[1] += int(size or 0)
        with self._lock:
            hits, misses = dict(self._hits), dict(self._misses)
        names = sorted(set(stored) | set(hits) | set(misses))
        hit = [hits.get(n, 0) for n in names]
        miss = [misses.get(n, 0) for n in names]
        frame = pd.DataFrame(
            {
                "entries": [stored.get(n, [0, 0])[0] for n in names],
                "hits": hit,
                "misses": miss,
                "hit_ratio": [
                    h / (h + m) if h + m else 0.0 for h, m in zip(hit, miss, strict=True)
                ],
                "bytes": [stored.get(n, [0, 0])[1] for n in names],
            },
            index=pd.Index(names, name="endpoint", dtype=object),
        )
        return frame.astype({c: "int64" for c in ("entries", "hits", "misses", "bytes")})

    def close(self) -> None:
        with self._noting_lock:
            self._join_noting()
        self._cache.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.directory)!r}, eviction={self.eviction!r})"


# --- @cacheable for users' own functions ---------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")
_default: ResponseCache | None = None
_default_lock = threading.Lock()


def default_cache() -> ResponseCache:
    """The shared cache in the toolkit folder (``<KIS_HOME>/cache``), created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ResponseCache(toolkit_dir() / "cache")
        return _default


def _json(value: Any, what: str, *, sort_keys: bool = False) -> str:
    try:
        return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"@cacheable {what} must be JSON values: {exc}") from None


@overload
def cacheable(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def cacheable(
    *,
    cache: ResponseCache | None = None,
    ttl: float | None = 3600,
    namespace: str = "user",
    key: Callable[..., Any] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def cacheable(
    func: Callable[P, R] | None = None,
    /,
    *,
    cache: ResponseCache | None = None,
    ttl: float | None = 3600,
    namespace: str = "user",
    key: Callable[..., Any] | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Cache a function's JSON result on disk, keyed by its qualified name and its arguments.

    Arguments are bound to the signature (so ``f(1, b=2)`` and ``f(1, 2)`` share an entry) and
    must be JSON values, unless ``key(*args, **kwargs)`` returns a JSON value to key on instead.
    The result must be a JSON value too; it is returned as JSON gives it back (tuples become
    lists) on every call, the first included. The wrapper has ``cache_key(*args, **kwargs)``
    and ``cache_clear()``. Without ``cache=``, the toolkit folder's cache is used.
    """

    def store() -> ResponseCache:
        return cache if cache is not None else default_cache()

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        name = f"{fn.__module__}.{fn.__qualname__}"
        signature = inspect.signature(fn)

        def call_key(*args: Any, **kwargs: Any) -> str:
            if key is not None:
                ident = key(*args, **kwargs)
            else:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                ident = bound.arguments
            text = _json(ident, f"{name} arguments (or pass key=)", sort_keys=True)
            return cache_key(namespace, name, {"call": text})

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            k = call_key(*args, **kwargs)
            hit = store().get(k, endpoint=name)
            if hit is not None:
                return hit.payload
            value = json.loads(_json(fn(*args, **kwargs), f"{name} results"))
            store().set(k, value, ttl=ttl, endpoint=name)
            return value

        wrapper.__dict__.update(
            cache_key=call_key,
            cache_clear=lambda: store().clear(endpoint=name),
        )
        return wrapper

    return decorate if func is None else decorate(func)
