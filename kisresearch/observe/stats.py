"""StatsManager: per-attempt events -> per-second time series -> frames, summaries and files.

The client calls the ``record_*`` methods from its worker threads. Each event costs one lock and
a few integer adds into the current second's bucket; everything else (percentiles, frames,
files) is computed only when a view is asked for. Nothing is printed, logged or written unless
the user asks, with one exception: a WARNING on the ``kisresearch.stats`` logger when the limit
bites or the error rate climbs (checked once per second, at most one per kind per
``warn_every`` seconds).

Buckets form a ring of ``horizon`` seconds indexed by ``int(clock.now()) % horizon``, so memory
is bounded however long the run. Each bucket keeps at most :data:`SAMPLE_SIZE` latencies
(a reservoir sample beyond that) for its percentiles. Running totals are exact for the whole
run; the per-second series covers the last ``horizon`` seconds.

Files (:meth:`StatsManager.save`, ``autosave``) are written by :mod:`kisresearch.observe.export`,
loaded on the first save.

Definitions used throughout: ``calls`` counts attempts sent to the server (``ok`` +
``rate_limited`` + ``errors``); ``errors`` counts KIS business errors *and* transport failures
(``transport_errors`` is that subset); ``error_rate`` = ``errors / calls`` (rate-limit
rejections are reported apart, through ``rate_limited`` and ``budget_used``).
"""

from __future__ import annotations

import html
import logging
import math
import os
import random
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import ConfigError
from ..timebase import SYSTEM_CLOCK, Clock, iso_kst

if TYPE_CHECKING:
    import pandas as pd

    from .export import Autosave, Snapshot

__all__ = [
    "ENDPOINT_FIELDS",
    "FRAME_COLUMNS",
    "SCHEMA_VERSION",
    "SUMMARY_FIELDS",
    "StatsManager",
]

logger = logging.getLogger("kisresearch.stats")

SCHEMA_VERSION = 1
"""Version of the saved schema; bumped whenever a saved field changes meaning or name."""

SAMPLE_SIZE = 256
"""Latencies kept per second for the percentiles (a uniform reservoir sample beyond)."""

_RUN_SAMPLE = 4096  # latencies kept for the whole-run percentiles in summary()
_WINDOW = 10  # seconds looked at by the budget / error-rate warnings
_MIN_CALLS = 20  # calls needed in the window before the error rate can warn

# fmt: off
FRAME_COLUMNS = (
    "calls", "ok", "rate_limited", "errors", "retries", "cache_hits", "cache_misses",
    "latency_p50", "latency_p95", "wait_s", "calls_per_s", "budget_used", "error_rate",
)
"""Columns of :meth:`StatsManager.frame`, in order (the first seven are int64 counts)."""
_COUNT_COLUMNS = FRAME_COLUMNS[:7]

SUMMARY_FIELDS = (
    "started", "calls", "ok", "rate_limited", "errors", "transport_errors", "retries",
    "cache_hits", "cache_misses", "cache_hit_ratio", "tokens_issued", "wait_s", "elapsed_s",
    "calls_per_s", "peak_calls_per_s", "limit", "budget_used", "error_rate",
    "latency_p50", "latency_p95", "latency_mean", "by_endpoint", "by_key", "error_codes",
    "retry_reasons",
)
"""Keys of :meth:`StatsManager.summary`, in order; also the saved ``summary`` object."""

ENDPOINT_FIELDS = (
    "tr_id", "calls", "ok", "rate_limited", "errors", "transport_errors", "retries",
    "cache_hits", "cache_misses", "error_rate", "latency_mean",
)
"""Keys of each ``summary()["by_endpoint"][endpoint]`` entry."""
# fmt: on

# Counter slots shared by buckets, running totals and endpoints. The first seven are the
# frame's count columns, in order; a plain list keeps the hot path to a few index adds.
_CALLS, _OK, _RL, _ERR, _RETRY, _HIT, _MISS, _TRANSPORT, _LAT = range(9)
_OUTCOMES = {
    "ok": (_CALLS, _OK),
    "rate_limited": (_CALLS, _RL),
    "error": (_CALLS, _ERR),
    "transport": (_CALLS, _ERR, _TRANSPORT),
}
_Warnings = list[tuple[str, str, dict[str, Any]]]


def _counters() -> list[float]:
    return [0, 0, 0, 0, 0, 0, 0, 0, 0.0]


class _Bucket:
    """One second of events; ``sec`` is -1 while the ring slot is unused."""

    __slots__ = ("lat", "n", "sec", "seen", "wait_s")

    def __init__(self, sec: int = -1) -> None:
        self.sec = sec
        self.n = _counters()
        self.wait_s = 0.0
        self.lat: list[float] = []  # reservoir sample of latencies
        self.seen = 0  # latencies offered to the reservoir


_UNUSED = _Bucket()  # shared by every never-used ring slot (sec -1 matches no second)


class StatsManager:
    """Counts what the client does, per second and in total; quiet until asked.

    Parameters
    ----------
    clock : Clock
        Source of time; events are bucketed by ``int(clock.now())`` at the moment they are
        recorded (for an attempt, its end).
    horizon : int
        Seconds of per-second history kept (a ring: older seconds are dropped from
        :meth:`frame` and files, never from the running totals).
    limit : float, optional
        The server's calls per second, for ``budget_used`` and the budget warning.
    warn_budget, warn_error_rate, warn_every : float
        Warn when, over the last ~10 s, calls/s >= ``warn_budget * limit`` and the server
        rejected calls; or when more than ``warn_error_rate`` of at least 20 calls failed.
        At most one warning per kind every ``warn_every`` seconds.
    """

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        horizon: int = 3600,
        limit: float | None = None,
        warn_budget: float = 0.9,
        warn_error_rate: float = 0.05,
        warn_every: float = 60.0,
    ) -> None:
        if int(horizon) < 1:
            raise ConfigError(f"horizon must be at least 1 second, got {horizon!r}")
        if limit is not None and not limit > 0:
            raise ConfigError(f"limit must be a positive number of calls/s, got {limit!r}")
        self._clock = clock
        self._horizon = int(horizon)
        self.limit = float(limit) if limit is not None else None
        self.warn_budget = warn_budget
        self.warn_error_rate = warn_error_rate
        self.warn_every = warn_every
        self._lock = threading.Lock()
        self._rng = random.Random(0x4B15)  # deterministic reservoirs; guarded by _lock
        # Files (export.py): one save at a time, what each JSON Lines file holds already,
        # and the autosave thread.
        self._save_lock = threading.Lock()
        self._jsonl_marks: dict[Path, int] = {}  # jsonl path -> last second written there
        self._autosave: Autosave | None = None
        self._reset_locked()

    # ------------------------------------------------------------------ state
    def _reset_locked(self) -> None:
        self._ring = [_UNUSED] * self._horizon  # slots are replaced, never mutated
        self._void = _Bucket()  # sink for events older than the ring: totals only
        self._first = self._last = -1  # first / last second with any event
        self._first_call = self._last_call = -1  # ... with an attempt (the active span)
        self._peak_dropped = 0.0  # highest calls/s among buckets already recycled
        self._n = _counters()
        self._wait = 0.0
        self._tokens = 0
        self._lat: list[float] = []
        self._seen = 0
        self._endpoints: dict[str, list[float]] = {}
        self._keys: dict[str, list[float]] = {}  # a key pool's label -> its counters
        self._tr_ids: dict[str, set[str]] = {}
        self._codes: dict[str, int] = {}
        self._reasons: dict[str, int] = {}
        self._warned: dict[str, float] = {}
        self._started = self._clock.now()

    def reset(self) -> None:
        """Forget every event and restart ``elapsed_s``."""
        with self._lock:
            self._reset_locked()

    def _bucket(self) -> tuple[_Bucket, _Warnings]:
        """The current second's bucket (and any warnings due); call with the lock held."""
        sec = int(self._clock.now())
        bucket = self._ring[sec % self._horizon]
        if bucket.sec == sec:
            return bucket, []
        # Slow path, about once a second: a new second (or a late event for an old one).
        if sec < bucket.sec or (self._last >= 0 and sec <= self._last - self._horizon):
            return self._void, []
        warnings = self._check_window() if sec > self._last >= 0 else []
        self._peak_dropped = max(self._peak_dropped, bucket.n[_CALLS])
        bucket = self._ring[sec % self._horizon] = _Bucket(sec)
        if self._first < 0 or sec < self._first:
            self._first = sec
        self._last = max(self._last, sec)
        return bucket, warnings

    def _endpoint(self, endpoint: str) -> list[float]:
        counters = self._endpoints.get(endpoint)
        if counters is None:
            counters = self._endpoints[endpoint] = _counters()
            self._tr_ids[endpoint] = set()
        return counters

    # ----------------------------------------------------------------- events
    def record_attempt(
        self,
        endpoint: str,
        tr_id: str,
        started: float,
        latency: float,
        outcome: str,
        code: str | None = None,
        key: str | None = None,
    ) -> None:
        """Count one request sent to the server.

        ``outcome`` is ``"ok"``, ``"rate_limited"`` (EGW00201/EGW00215), ``"error"`` (another
        KIS error; ``code`` is its msg_cd) or ``"transport"`` (connection, timeout, bad body).
        ``key`` labels the app key of a pool that sent it (never the key itself).
        ``started`` is accepted for the caller's convenience but not used: the event is
        bucketed when it is recorded, so it never lands in a second already checked.
        """
        slots = _OUTCOMES.get(outcome)
        if slots is None:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(_OUTCOMES)}")
        with self._lock:
            b, warnings = self._bucket()
            ep = self._endpoint(endpoint)
            self._tr_ids[endpoint].add(tr_id)
            by_key = [self._keys.setdefault(key, _counters())] if key is not None else []
            for n in (b.n, self._n, ep, *by_key):
                for i in slots:
                    n[i] += 1
                n[_LAT] += latency
            if code is not None and slots[1] != _OK:
                self._codes[code] = self._codes.get(code, 0) + 1
            if b is not self._void:
                if self._first_call < 0 or b.sec < self._first_call:
                    self._first_call = b.sec
                if b.sec > self._last_call:
                    self._last_call = b.sec
            b.seen += 1
            _reservoir(b.lat, b.seen, SAMPLE_SIZE, latency, self._rng)
            self._seen += 1
            _reservoir(self._lat, self._seen, _RUN_SAMPLE, latency, self._rng)
        if warnings:
            self._emit(warnings)

    def record_retry(self, endpoint: str, reason: str) -> None:
        """Count one retry of a request (``reason``: e.g. ``"EGW00201"``, ``"timeout"``)."""
        with self._lock:
            b, warnings = self._bucket()
            for n in (b.n, self._n, self._endpoint(endpoint)):
                n[_RETRY] += 1
            self._reasons[reason] = self._reasons.get(reason, 0) + 1
        if warnings:
            self._emit(warnings)

    def record_wait(self, seconds: float) -> None:
        """Add ``seconds`` the limiter made a caller wait."""
        with self._lock:
            b, warnings = self._bucket()
            b.wait_s += seconds
            self._wait += seconds
        if warnings:
            self._emit(warnings)

    def record_cache(self, endpoint: str, hit: bool, n: int = 1) -> None:
        """Count ``n`` cache lookups (the bar store counts the pages it saved as hits)."""
        slot = _HIT if hit else _MISS
        with self._lock:
            b, warnings = self._bucket()
            for counts in (b.n, self._n, self._endpoint(endpoint)):
                counts[slot] += n
        if warnings:
            self._emit(warnings)

    def record_token(self) -> None:
        """Count one access-token issuance."""
        with self._lock:
            self._tokens += 1

    # ------------------------------------------------------------- monitoring
    def _check_window(self) -> _Warnings:
        """Look at the ~10 s ending at the last second with events (called on rollover)."""
        end = self._last
        span = min(_WINDOW, end - self._first + 1)
        calls = rejected = errors = 0.0
        for sec in range(end - span + 1, end + 1):
            b = self._ring[sec % self._horizon]
            if b.sec == sec:
                calls += b.n[_CALLS]
                rejected += b.n[_RL]
                errors += b.n[_ERR]
        out: _Warnings = []
        rate = calls / span
        if self.limit and rejected and rate >= self.warn_budget * self.limit:
            msg = (
                f"kisresearch: {rate:.1f} calls/s over the last {span} s is "
                f"{rate / self.limit:.0%} of the {self.limit:g}/s limit and the server rejected "
                f"{rejected:.0f} call(s); lower the rate or look for another client on this key"
            )
            out.append(("budget", msg, {"calls_per_s": rate, "rate_limited": int(rejected)}))
        if calls >= _MIN_CALLS and errors / calls > self.warn_error_rate:
            msg = (
                f"kisresearch: {errors:.0f} of {calls:.0f} calls failed over the last {span} s "
                f"({errors / calls:.0%}); see stats.summary()['error_codes']"
            )
            out.append(("error_rate", msg, {"error_rate": errors / calls, "calls": int(calls)}))
        now = self._clock.now()
        due = []
        for kind, msg, extra in out:
            last = self._warned.get(kind)
            if last is None or now - last >= self.warn_every:
                self._warned[kind] = now
                due.append((kind, msg, extra))
        return due

    @staticmethod
    def _emit(warnings: _Warnings) -> None:
        for kind, msg, extra in warnings:  # outside the lock: handlers may be slow
            logger.warning(msg, extra={"stats_warning": kind, **extra})

    # ------------------------------------------------------------------ views
    def _snapshot(self, last: int | None) -> tuple[int, int, dict[int, tuple[Any, ...]]]:
        """(lo, hi, {sec: (counts, wait_s, latencies)}) for the non-empty seconds in range."""
        with self._lock:
            if self._last < 0:
                return 0, -1, {}
            hi = self._last
            lo = max(self._first, hi - self._horizon + 1)
            if last is not None:
                lo = max(lo, hi - int(last) + 1)
            rows = {}
            for sec in range(lo, hi + 1):
                b = self._ring[sec % self._horizon]
                if b.sec == sec:
                    rows[sec] = (b.n[:_TRANSPORT], b.wait_s, b.lat[:])  # sorted later
            return lo, hi, rows

    def _seconds(self, last: int | None = None) -> list[dict[str, Any]]:
        """One dict per second (gaps zero-filled): ``time`` (epoch s) + FRAME_COLUMNS."""
        lo, hi, rows = self._snapshot(last)
        empty: tuple[Any, ...] = ([0] * _TRANSPORT, 0.0, [])
        out = []
        for sec in range(lo, hi + 1):
            counts, wait, sample = rows.get(sec, empty)
            lat = sorted(sample)
            calls, errors = counts[_CALLS], counts[_ERR]
            row: dict[str, Any] = {"time": sec}
            row.update(zip(_COUNT_COLUMNS, map(int, counts), strict=True))
            row["latency_p50"] = _quantile(lat, 0.50)
            row["latency_p95"] = _quantile(lat, 0.95)
            row["wait_s"] = float(wait)
            row["calls_per_s"] = float(calls)
            row["budget_used"] = calls / self.limit if self.limit else math.nan
            row["error_rate"] = errors / calls if calls else math.nan
            out.append(row)
        return out

    def frame(self, last: int | None = None) -> pd.DataFrame:
        """The per-second series, oldest first; ``last`` keeps only the last N seconds.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``time`` (DatetimeIndex, tz Asia/Seoul), one row per second from the
            first to the last second with events (within ``horizon``), quiet seconds as
            zero rows. The second in progress is included and still growing. Columns:

            - ``calls``, ``ok``, ``rate_limited``, ``errors``, ``retries``, ``cache_hits``,
              ``cache_misses`` : int64 counts
            - ``latency_p50``, ``latency_p95`` : float64 seconds, NaN without calls
            - ``wait_s`` : float64, seconds callers spent waiting on the limiter
            - ``calls_per_s`` : float64 (``calls`` of a 1-s bucket)
            - ``budget_used`` : float64, ``calls_per_s / limit``; NaN without a limit
            - ``error_rate`` : float64, ``errors / calls``; NaN without calls
        """
        import numpy as np
        import pandas as pd

        rows = self._seconds(last)
        index = pd.DatetimeIndex(
            pd.to_datetime(np.array([r["time"] for r in rows], dtype="int64"), unit="s", utc=True)
            .tz_convert("Asia/Seoul")
            .as_unit("us"),
            name="time",
        )
        data = {
            col: np.array(
                [r[col] for r in rows], dtype="int64" if col in _COUNT_COLUMNS else "float64"
            )
            for col in FRAME_COLUMNS
        }
        return pd.DataFrame(data, index=index, columns=list(FRAME_COLUMNS))

    @property
    def totals(self) -> dict[str, Any]:
        """Cheap running counters (no percentiles) for a frequent dashboard refresh.

        Keys: calls, ok, rate_limited, errors, transport_errors, retries, cache_hits,
        cache_misses, tokens_issued, wait_s, elapsed_s, calls_per_s (mean over the active
        span) and current_calls_per_s (calls in the last complete second).
        """
        with self._lock:
            now = self._clock.now()
            prev = self._ring[(int(now) - 1) % self._horizon]
            current = prev.n[_CALLS] if prev.sec == int(now) - 1 else 0
            return {
                **self._counts(self._n),
                "tokens_issued": self._tokens,
                "wait_s": self._wait,
                "elapsed_s": max(0.0, now - self._started),
                "calls_per_s": self._mean_rate(),
                "current_calls_per_s": float(current),
            }

    @staticmethod
    def _counts(n: list[float]) -> dict[str, int]:
        return {
            "calls": int(n[_CALLS]),
            "ok": int(n[_OK]),
            "rate_limited": int(n[_RL]),
            "errors": int(n[_ERR]),
            "transport_errors": int(n[_TRANSPORT]),
            "retries": int(n[_RETRY]),
            "cache_hits": int(n[_HIT]),
            "cache_misses": int(n[_MISS]),
        }

    def _mean_rate(self) -> float:
        if self._first_call < 0:
            return 0.0
        return self._n[_CALLS] / (self._last_call - self._first_call + 1)

    def summary(self) -> dict[str, Any]:
        """Running totals since start or :meth:`reset`; keys are :data:`SUMMARY_FIELDS`.

        Ratios with no denominator (``cache_hit_ratio``, ``error_rate``, ``budget_used``
        without a limit, latencies without calls) are NaN. ``calls_per_s`` is the mean over
        the active span (first to last second with calls); ``by_endpoint`` maps each endpoint
        to :data:`ENDPOINT_FIELDS`; ``by_key`` maps each app key of a pool ("key 1", ...) to
        its counts and ``calls_per_s`` over the same span (empty with one key);
        ``error_codes`` counts the msg_cds of failed attempts.
        """
        nan = math.nan
        with self._lock:
            n, now, rate = self._n, self._clock.now(), self._mean_rate()
            peak = max(self._peak_dropped, *(b.n[_CALLS] for b in self._ring))
            lat = sorted(self._lat)
            by_endpoint = {
                name: {
                    "tr_id": ",".join(sorted(self._tr_ids[name])),
                    **self._counts(c),
                    "error_rate": c[_ERR] / c[_CALLS] if c[_CALLS] else nan,
                    "latency_mean": c[_LAT] / c[_CALLS] if c[_CALLS] else nan,
                }
                for name, c in sorted(self._endpoints.items())
            }
            span = self._last_call - self._first_call + 1 if self._first_call >= 0 else 0
            by_key = {
                label: {**self._counts(c), "calls_per_s": c[_CALLS] / span if span else 0.0}
                for label, c in self._keys.items()
            }
            lookups = n[_HIT] + n[_MISS]
            return {
                "started": iso_kst(self._started),
                **self._counts(n),
                "cache_hit_ratio": n[_HIT] / lookups if lookups else nan,
                "tokens_issued": self._tokens,
                "wait_s": self._wait,
                "elapsed_s": max(0.0, now - self._started),
                "calls_per_s": rate,
                "peak_calls_per_s": float(peak),
                "limit": self.limit if self.limit is not None else nan,
                "budget_used": rate / self.limit if self.limit else nan,
                "error_rate": n[_ERR] / n[_CALLS] if n[_CALLS] else nan,
                "latency_p50": _quantile(lat, 0.50),
                "latency_p95": _quantile(lat, 0.95),
                "latency_mean": n[_LAT] / n[_CALLS] if n[_CALLS] else nan,
                "by_endpoint": by_endpoint,
                "by_key": by_key,
                "error_codes": dict(sorted(self._codes.items())),
                "retry_reasons": dict(sorted(self._reasons.items())),
            }

    def live_error_rate(self, window: int = 10) -> float:
        """``errors / calls`` over the last ``window`` seconds up to now; NaN without calls."""
        with self._lock:
            end = int(self._clock.now())
            calls = errors = 0.0
            for sec in range(end - min(int(window), self._horizon) + 1, end + 1):
                b = self._ring[sec % self._horizon]
                if b.sec == sec:
                    calls += b.n[_CALLS]
                    errors += b.n[_ERR]
        return errors / calls if calls else math.nan

    def summary_frame(self) -> pd.DataFrame:
        """Per-endpoint totals, plus a ``total`` row.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``endpoint``; int64 columns calls, ok, rate_limited, errors,
            transport_errors, retries, cache_hits, cache_misses; float64 columns error_rate,
            latency_mean (seconds); object column tr_id.
        """
        import pandas as pd

        s = self.summary()
        total = {k: "" if k == "tr_id" else s[k] for k in ENDPOINT_FIELDS}
        rows = {**s["by_endpoint"], "total": total}
        frame = pd.DataFrame.from_dict(rows, orient="index")[list(ENDPOINT_FIELDS)]
        frame.index.name = "endpoint"
        floats = ("error_rate", "latency_mean")
        dtypes = {c: "float64" if c in floats else "int64" for c in ENDPOINT_FIELDS[1:]}
        return frame.astype(dtypes)

    # -------------------------------------------------------------- rendering
    def _lines(self) -> list[tuple[str, str]]:
        s = self.summary()
        limit = f" of {s['limit']:g}/s ({_pct(s['budget_used'])})" if self.limit else ""
        codes = ", ".join(f"{k}: {v}" for k, v in s["error_codes"].items()) or "-"
        busiest = sorted(s["by_endpoint"].items(), key=lambda kv: -kv[1]["calls"])
        endpoints = "; ".join(
            f"{name} {e['calls']} calls, {e['errors']} errors" for name, e in busiest[:5]
        )
        if len(busiest) > 5:
            endpoints += f"; +{len(busiest) - 5} more"
        calls = (
            f"{s['calls']} ({s['ok']} ok, {s['rate_limited']} rate-limited, "
            f"{s['errors']} errors of which {s['transport_errors']} transport)"
        )
        rate = f"{s['calls_per_s']:.2f}/s mean, {s['peak_calls_per_s']:g}/s peak{limit}"
        cache = f"{s['cache_hits']} hits, {s['cache_misses']} misses ({_pct(s['cache_hit_ratio'])})"
        return [
            ("calls", calls),
            ("rate", rate),
            ("latency", f"p50 {_ms(s['latency_p50'])}, p95 {_ms(s['latency_p95'])}"),
            ("retries", str(s["retries"])),
            ("limiter wait", f"{s['wait_s']:.2f} s"),
            ("cache", cache),
            ("tokens issued", str(s["tokens_issued"])),
            ("error rate", _pct(s["error_rate"])),
            ("error codes", codes),
            ("endpoints", endpoints or "-"),
            ("elapsed", f"{s['elapsed_s']:.1f} s"),
        ]

    def print_stats(self, file: TextIO | None = None) -> None:
        """Print a short table of the summary (to stdout unless ``file`` is given)."""
        lines = self._lines()
        width = max(len(k) for k, _ in lines)
        out = file if file is not None else sys.stdout
        out.write("kisresearch stats\n")
        for key, value in lines:
            out.write(f"  {key:<{width}}  {value}\n")

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._lines()
        )
        return f"<div><b>StatsManager</b><table>{rows}</table></div>"

    def __repr__(self) -> str:
        t = self.totals
        return (
            f"StatsManager(calls={t['calls']}, ok={t['ok']}, rate_limited={t['rate_limited']}, "
            f"errors={t['errors']}, calls_per_s={t['calls_per_s']:.2f}, "
            f"horizon={self._horizon}, limit={self.limit})"
        )

    # ----------------------------------------------------------------- export
    def save(
        self,
        path: str | os.PathLike[str],
        format: str = "jsonl",
        *,
        compress: bool | None = None,
        rotate_bytes: int | None = None,
        keep: int = 5,
    ) -> Path:
        """Write the stats to ``path`` and return the path written.

        Formats (schema :data:`SCHEMA_VERSION`; seconds hold ``time`` as ISO 8601 in KST plus
        :data:`FRAME_COLUMNS`; NaN is written as ``null`` / an empty CSV cell):

        - ``"jsonl"``: *appends* one object per complete second (``{"schema": 1, "time": ..,
          "calls": .., ...}``) not yet written to this path by this manager; the second in
          progress is written by the next save. Running it every minute builds a log.
        - ``"json"``: a full snapshot ``{"schema": 1, "summary": {...}, "seconds": [...]}``
          (summary keys: :data:`SUMMARY_FIELDS`), replacing the file atomically.
        - ``"csv"``: a full snapshot of :meth:`frame` with ``time`` as the first column.

        ``compress`` defaults to ``path`` ending in ``.gz`` (gzip; ``.gz`` is appended when
        compressing a path without it; appended JSON Lines become gzip members, which gzip
        readers concatenate). With ``rotate_bytes``, an existing file larger than that is first
        shifted to ``path.1`` (``path.1`` to ``path.2``, ...), keeping ``keep`` rotated files.
        """
        from . import export

        with self._save_lock:
            return export.save(
                self.snapshot(),
                path,
                format,
                compress=compress,
                rotate_bytes=rotate_bytes,
                keep=keep,
                marks=self._jsonl_marks,
            )

    def snapshot(self) -> Snapshot:
        """The summary's documented fields and every kept second, at one instant (what
        :meth:`save` writes)."""
        from .export import Snapshot

        summary = self.summary()
        return Snapshot(
            schema=SCHEMA_VERSION,
            summary={k: summary[k] for k in SUMMARY_FIELDS},
            columns=FRAME_COLUMNS,
            seconds=self._seconds(),
            complete=int(self._clock.now()) - 1,
        )

    def autosave(
        self, path: str | os.PathLike[str], every: float = 60.0, **save_kwargs: Any
    ) -> None:
        """Call :meth:`save` every ``every`` seconds (real time) from a daemon thread.

        Replaces a running autosave. :meth:`stop_autosave` (also run at interpreter exit)
        saves a last time and joins the thread. Save failures are logged, not raised.
        """
        from .export import Autosave

        saver = Autosave(lambda: self.save(path, **save_kwargs), path, every)
        self.stop_autosave()
        self._autosave = saver
        saver.start()

    def stop_autosave(self) -> None:
        """Stop a running autosave (after one last save) and wait for its thread."""
        running, self._autosave = self._autosave, None
        if running is not None:
            running.stop()


# ---------------------------------------------------------------------- helpers (pure)
def _reservoir(sample: list[float], seen: int, size: int, value: float, rng: random.Random) -> None:
    """Algorithm R: keep a uniform sample of ``size`` from ``seen`` values."""
    if seen <= size:
        sample.append(value)
    else:
        j = int(rng.random() * seen)
        if j < size:
            sample[j] = value


def _quantile(ordered: list[float] | tuple[float, ...], q: float) -> float:
    """Linear-interpolated quantile of sorted values (numpy's default); NaN when empty."""
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{x * 1000:.0f} ms"
