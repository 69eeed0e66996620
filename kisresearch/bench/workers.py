"""Client processes for the benchmark: each builds its own :class:`~kisresearch.client.KIS`.

These run in *spawned* processes (importable top-level functions, picklable arguments), so
they share nothing with the bench but the toolkit folder and the limiter store they are
pointed at, exactly like separate notebooks or scripts on one app key. Every function puts
``(tag, index, payload)`` tuples on a queue: ``ready`` once its client is built, then ``done``
with its figures, or ``error`` with the exception's text.
"""

from __future__ import annotations

import inspect
import multiprocessing as mp
import time
import traceback
from collections.abc import Sequence
from datetime import date, timedelta
from queue import Empty
from typing import Any

from ..errors import WorkerFailed
from .report import CallTimer, client_view


def make_client(spec: dict[str, Any], **overrides: Any) -> Any:
    """A KIS client on the bench's simulator for an app key, as a user would build it."""
    from ..client import KIS

    options: dict[str, Any] = {
        "app_key": spec["app_key"],
        "app_secret": spec["app_secret"],
        "base_url": spec["base_url"],
        "env": spec["env"],
        "home": spec["home"],
        "limiter": spec.get("limiter", "file"),
        "cache": spec.get("cache", False),
        "progress": False,
    }
    options.update(spec.get("client_options", {}))
    options.update(overrides)
    return KIS(**options)


def history_call(kis: Any, codes: Sequence[str], days: int = 365) -> tuple[Any, dict[str, str]]:
    """Call ``kis.history`` for ``days`` of daily bars, adapting to its signature
    (``start``/``end``, or ``days``, or its defaults); returns the frame and the keywords."""
    params = inspect.signature(kis.history).parameters
    today = date.today()
    kwargs: dict[str, Any] = {}
    if "start" in params:
        kwargs["start"] = (today - timedelta(days=days)).isoformat()
        if "end" in params:
            kwargs["end"] = today.isoformat()
    elif "days" in params:
        kwargs["days"] = days
    if "progress" in params:
        kwargs["progress"] = False
    return kis.history(list(codes), **kwargs), {k: str(v) for k, v in kwargs.items()}


def rows_ok(df: Any) -> int:
    """Rows without an ``error`` (all rows when the frame has no such column)."""
    if "error" not in getattr(df, "columns", ()):
        return len(df)
    return int(df["error"].isna().sum())


def detail_worker(queue: Any, start: Any, index: int, spec: dict[str, Any]) -> None:
    """One process of the shared-key scenario: ``quotes(detail=True)`` once ``start`` is set."""
    try:
        kis = make_client(spec)
        timer = CallTimer(kis)
        kis.auth.token()  # as in any long-lived process: the token is there before the pull
        queue.put(("ready", index, None))
        if not start.wait(120):
            raise TimeoutError("never told to start")
        t0 = time.time()
        df = kis.quotes(spec["codes"], detail=True)
        t1 = time.time()
        payload = {
            "t0": t0,
            "t1": t1,
            "starts": timer.starts("ok"),
            "rejected": timer.count("rate_limited"),
            "lags": timer.lags,
            "given_up": timer.given_up,
            "decisions": timer.decisions,
            "rows": len(df),
            "rows_ok": rows_ok(df),
            "client": client_view(kis.stats.summary()),
        }
        kis.close()
        queue.put(("done", index, payload))
    except BaseException:
        queue.put(("error", index, traceback.format_exc(limit=8)))


def cache_worker(queue: Any, index: int, spec: dict[str, Any]) -> None:
    """One run of the cold/warm scenario in a fresh process with the cache on.

    Cold: history then quotes (so the quotes are freshest for the warm run); warm: quotes
    first (their TTL is 5 s while KRX trades) then history. Each step reports its wall time,
    the HTTP attempts it made and the rows it returned.
    """
    try:
        t_spawned = time.time()
        kis = make_client(spec, cache=True)
        timer = CallTimer(kis)
        queue.put(("ready", index, None))
        codes = spec["codes"]
        steps = ["history", "quotes"] if spec["phase"] == "cold" else ["quotes", "history"]
        out: dict[str, Any] = {"t_client_ready": time.time() - t_spawned}
        for step in steps:
            if step == "history" and not hasattr(kis, "history"):
                out["history"] = None
                continue
            before = len(timer.calls)
            t0 = time.perf_counter()
            extra: dict[str, Any] = {}
            if step == "quotes":
                df = kis.quotes(codes)
            else:
                df, used = history_call(kis, codes, spec.get("days", 365))
                extra["kwargs"] = used
            seconds = time.perf_counter() - t0
            out[step] = {
                "seconds": seconds,
                "requests": len(timer.calls) - before,
                "rows": len(df),
                "rows_ok": rows_ok(df),
                "from_cache": df.attrs.get("from_cache"),
                **extra,
            }
        out["client"] = client_view(kis.stats.summary())
        kis.close()
        queue.put(("done", index, out))
    except BaseException:
        queue.put(("error", index, traceback.format_exc(limit=8)))


WARM_TTL = {"quote": 3600.0, "multiquote": 3600.0}
"""The warm scenario keeps quote answers an hour, so that it does not depend on KRX hours
(while KRX trades, quotes are kept 5 s)."""


def warm_worker(queue: Any, index: int, spec: dict[str, Any]) -> None:
    """The warm path in a fresh process: every step timed around the call alone, from a
    cache an earlier process filled; the HTTP attempts made are reported (0 expected)."""
    try:
        kis = make_client(spec, cache=True, cache_ttl=WARM_TTL)
        timer = CallTimer(kis)
        queue.put(("ready", index, None))
        out: dict[str, Any] = {}
        for label, codes, detail in spec["steps"]:
            t0 = time.perf_counter()
            df = kis.quotes(codes, detail=detail)
            out[label] = {
                "seconds": time.perf_counter() - t0,
                "rows_ok": rows_ok(df),
                "from_cache": int(df["from_cache"].sum()),
            }
        out["requests"] = len(timer.calls)
        kis.close()
        queue.put(("done", index, out))
    except BaseException:
        queue.put(("error", index, traceback.format_exc(limit=8)))


def spawn_context() -> Any:
    return mp.get_context("spawn")


def collect(queue: Any, procs: Sequence[Any], tag: str, timeout: float) -> dict[int, Any]:
    """Wait for one ``tag`` message per process; raise on an ``error`` message or timeout."""
    got: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(procs):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(procs) - len(got)} worker(s) never reported {tag!r}")
        try:
            kind, index, payload = queue.get(timeout=min(left, 1.0))
        except Empty:  # check the workers are still alive
            dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
            if dead:
                raise RuntimeError(f"worker exited with code {dead[0].exitcode}") from None
            continue
        if kind == "error":
            last = payload.strip().splitlines()[-1] if payload.strip() else "?"
            raise WorkerFailed(f"worker {index} failed: {last}", payload)
        if kind == tag:
            got[index] = payload
    return got
