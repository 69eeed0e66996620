"""More benchmark scenarios: the cache cold and warm across processes, the client's own
overhead, and the soak. See :mod:`kisresearch.bench.scenarios` for the conventions.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .report import (
    CallTimer,
    Figure,
    ScenarioResult,
    client_view,
    count_figure,
    server_rate,
    span_rate,
    time_figure,
    truth_view,
)
from .scenarios import REAL, Bench, lag_figures, rounded, scenario_result
from .server import rss_kb
from .workers import (
    WARM_TTL,
    cache_worker,
    collect,
    history_call,
    make_client,
    rows_ok,
    spawn_context,
    warm_worker,
)

# -- 6. history and quotes, cold then warm -------------------------------------------------


def history(b: Bench) -> list[ScenarioResult]:
    from ..client import KIS

    n = 20 if b.quick else 100
    has_history = hasattr(KIS, "history")
    home = b.home("history")
    ctx = spawn_context()
    runs: dict[str, Any] = {}
    truths: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        b.sim.reset()
        queue = ctx.Queue()
        spec = b.spec("history", home, phase=phase, codes=b.stocks[:n], days=365)
        proc = ctx.Process(target=cache_worker, args=(queue, 0, spec), daemon=True)
        proc.start()
        try:
            runs[phase] = collect(queue, [proc], "done", 120 + n * 2)[0]
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        truths[phase] = b.sim.truth()
    cold, warm = runs["cold"], runs["warm"]
    figures = [
        time_figure(
            f"warm quotes, {n} symbols (new process)", warm["quotes"]["seconds"], 0.05, "ms"
        ),
        count_figure("warm quotes: requests", warm["quotes"]["requests"]),
        count_figure("warm quotes: rows lost", n - warm["quotes"]["rows_ok"]),
        count_figure("warm run: server accepted calls", truths["warm"]["accepted"]),
    ]
    notes = [
        f"KST now {datetime.now(_kst()):%a %H:%M}: the quote cache keeps answers 5 s while "
        "KRX trades, until the next open otherwise"
    ]
    if has_history and cold.get("history"):
        h_cold, h_warm = cold["history"], warm["history"]
        figures[1:1] = [
            time_figure(f"cold history, {n} symbols x 1 year", h_cold["seconds"]),
            count_figure("cold history: requests", h_cold["requests"], None, None),
            time_figure("warm history (new process)", h_warm["seconds"]),
            count_figure("warm history: requests", h_warm["requests"]),
        ]
        notes.append(f"history called with {h_cold.get('kwargs')}")
    else:
        notes.append("history skipped: KIS.history does not exist in this build")
    return [
        scenario_result(
            "history",
            f"cache cold then warm in a new process ({n} symbols)",
            REAL,
            truths["cold"],
            figures=figures,
            client={"cold": cold["client"], "warm": warm["client"]},
            details={
                "cold": _drop(cold, "client"),
                "warm": _drop(warm, "client"),
                "warm_truth": truth_view(truths["warm"]),
                "cache_hits": warm["client"]["cache_hits"],
            },
            notes=notes,
        )
    ]


def warm(b: Bench) -> list[ScenarioResult]:
    """The warm path at the disk's speed: a process fills the cache with 100 detail quotes and
    the whole universe's quotes; a fresh process then asks for both again. Each call is timed
    alone (imports and the client's construction are not in it)."""
    n, every = (30, 300) if b.quick else (100, len(b.codes))
    home = b.home("warm")
    steps = [(f"{n} detail quotes", b.codes[:n], True), (f"{every} quotes", b.codes[:every], False)]
    b.sim.reset()
    with make_client(b.spec("warm", home), cache=True, cache_ttl=WARM_TTL) as kis:
        for _, codes, detail in steps:
            kis.quotes(codes, detail=detail)
    filled = b.sim.truth()["accepted"]
    ctx = spawn_context()
    queue = ctx.Queue()
    proc = ctx.Process(
        target=warm_worker, args=(queue, 0, {**b.spec("warm", home), "steps": steps}), daemon=True
    )
    proc.start()
    try:
        got = collect(queue, [proc], "done", 120)[0]
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
    first, whole = got[steps[0][0]], got[steps[1][0]]
    figures = [
        time_figure(f"warm {steps[0][0]}, new process", first["seconds"], 0.020, "ms"),
        time_figure(f"warm {steps[1][0]}, new process", whole["seconds"], 0.100, "ms"),
        count_figure("warm: HTTP requests", got["requests"]),
        count_figure("warm: rows lost", n + every - first["rows_ok"] - whole["rows_ok"]),
        count_figure("cold: server accepted calls", filled, None, None),
    ]
    title = f"warm quotes from the cache in a new process ({n} detail, {every} plain)"
    return [scenario_result("warm", title, REAL, None, figures=figures)]


def _kst() -> Any:
    from ..timebase import KST

    return KST


def _drop(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


# -- 8. client overhead --------------------------------------------------------------------


def overhead(b: Bench) -> list[ScenarioResult]:
    from ..pipeline.ratelimit import Limiter, LimiterConfig, LimiterState, decide, make_limiter
    from ..pipeline.transport import Response
    from ..shape import frames

    n = 400 if b.quick else 2000
    b.sim.reset()
    recorded: dict[str, Any] = {}
    with b.client("overhead", limiter=False) as kis:
        real_send = kis.transport.send

        def record(request: Any, headers: Any) -> Any:
            response = real_send(request, headers)
            recorded[request.name] = response.body
            return response

        kis.transport.send = record
        kis.quotes(b.codes[:30])
        kis.quotes(b.codes[0], detail=True)
        multi_row = recorded["multiquote"]["output"][0]

        def stub(request: Any, headers: Any) -> Response:
            if request.name != "multiquote":
                return Response(200, recorded[request.name])
            rows = [
                {**multi_row, "inter_shrn_iscd": v}
                for k, v in request.params.items()
                if k.startswith("FID_INPUT_ISCD")
            ]
            return Response(200, {**recorded["multiquote"], "output": rows})

        kis.transport.send = stub
        kis.quotes(b.codes[:50], detail=True)  # warm the pool and imports
        t0 = time.perf_counter()
        df = kis.quotes(b.codes[:n], detail=True)
        per_call = (time.perf_counter() - t0) / n
        lost_detail = n - rows_ok(df)
        t0 = time.perf_counter()
        for code in b.codes[:50]:
            kis.quotes(code, detail=True)
        single = (time.perf_counter() - t0) / 50
        t0 = time.perf_counter()
        df = kis.quotes(b.codes)
        universe_client = time.perf_counter() - t0
        lost_universe = len(b.codes) - rows_ok(df)
        detail_body = recorded["quote"]["output"]

    nrows = 2500
    codes = (b.codes * 2)[:nrows]
    multi_rows = [{**multi_row, "inter_shrn_iscd": c} for c in codes]
    detail_rows = [dict(detail_body) for _ in codes]
    shape_multi = _best(
        lambda: frames.by_symbol(codes, multi_rows, [None] * nrows, frames.MULTIQUOTE_COLUMNS)
    )
    shape_detail = _best(
        lambda: frames.by_symbol(codes, detail_rows, [None] * nrows, frames.QUOTE_COLUMNS)
    )

    acquire: dict[str, float] = {}
    cfg = LimiterConfig.for_env("real")
    for store in ("memory", "file"):
        lim = make_limiter(store, cfg, key_id=f"bench-{os.getpid()}")
        assert isinstance(lim, Limiter)
        update = lim.store.update
        reps = 2000
        t0 = time.perf_counter()
        for _ in range(reps):
            update(lambda s, now: decide(s or LimiterState(), now, cfg))
        acquire[store] = (time.perf_counter() - t0) / reps
        lim.close()

    figures = [
        time_figure(
            f"client time per detail call (bulk of {n}, 8 workers, stub transport)",
            per_call,
            0.001,
            "µs",
        ),
        time_figure(
            "one quotes(code, detail=True) call, 1 row, stub transport", single, None, "ms"
        ),
        time_figure(
            f"universe quotes ({len(b.codes):,} rows, {math.ceil(len(b.codes) / 30)} "
            "calls), stub transport",
            universe_client,
            None,
            "ms",
        ),
        time_figure(f"shape {nrows:,}-row multi-quote frame", shape_multi, 0.05, "ms"),
        time_figure(f"shape {nrows:,}-row detail frame", shape_detail, 0.05, "ms"),
        time_figure("limiter store round trip, memory", acquire["memory"], None, "µs"),
        time_figure("limiter store round trip, file (flock + JSON)", acquire["file"], None, "µs"),
        count_figure("rows lost", lost_detail + lost_universe),
    ]
    return [
        scenario_result(
            "overhead",
            "client overhead per call (everything but the network)",
            None,
            None,
            figures=figures,
            notes=[
                "stub transport: the HTTP send is replaced by a function returning "
                "a recorded answer; limiter off, cache off"
            ],
        )
    ]


def _best(fn: Callable[[], Any], reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# -- 9. soak -------------------------------------------------------------------------------


def soak(b: Bench) -> list[ScenarioResult]:
    seconds = b.soak
    b.sim.reset()
    rss0, sim_rss0 = rss_kb(), b.sim.rss_kb()
    rss1 = sim_rss1 = None  # after the first round: imports, pools and caches warmed up
    requested = got = iterations = 0
    from ..client import KIS

    has_history = hasattr(KIS, "history")
    with b.client("soak") as kis:
        timer = CallTimer(kis)
        kis.auth.token()
        t0 = time.perf_counter()
        deadline = t0 + seconds
        cap = int(seconds) + 5  # a round is >= 23 calls at <= 20/s: over a second each
        offset = 0
        while time.perf_counter() < deadline and iterations < cap:
            batch = (b.codes * 2)[offset : offset + 20]
            df = kis.quotes(batch, detail=True)
            requested, got = requested + len(batch), got + rows_ok(df)
            multi = (b.codes * 2)[offset : offset + 90]
            df = kis.quotes(multi)
            requested, got = requested + len(multi), got + rows_ok(df)
            if has_history:
                i = iterations % 50
                h, _ = history_call(kis, b.stocks[i : i + 2], 30)
                complete = len(h) > 0 and rows_ok(h) == len(h)
                requested, got = requested + 1, got + complete  # a history call counts one
            offset = (offset + 90) % len(b.codes)
            iterations += 1
            if iterations == 1:
                rss1, sim_rss1 = rss_kb(), b.sim.rss_kb()
        wall = time.perf_counter() - t0
        truth = b.sim.truth()
        client = client_view(kis.stats.summary())
    rss2, sim_rss2 = rss_kb(), b.sim.rss_kb()
    rate = server_rate(truth["per_second"])
    figures = [
        count_figure("server rejections (EGW00201)", truth["rejected"]),
        count_figure("rows lost", requested - got),
        count_figure("max calls in any 1-s window", truth["max_in_window"], "<=", REAL),
        Figure(
            "utilisation (server per_second)",
            rounded(rate),
            "calls/s",
            ratio=rounded(rate / REAL if rate is not None else None),
        ),
        *lag_figures(timer),
        count_figure("rows asked", requested, None, None),
        time_figure("wall time", wall),
        count_figure("bench RSS at start", rss0, None, None, "KiB"),
        count_figure("bench RSS after the first round", rss1, None, None, "KiB"),
        count_figure("bench RSS at end", rss2, None, None, "KiB"),
        count_figure("simulator RSS at start", sim_rss0, None, None, "KiB"),
        count_figure("simulator RSS after the first round", sim_rss1, None, None, "KiB"),
        count_figure("simulator RSS at end", sim_rss2, None, None, "KiB"),
    ]
    return [
        scenario_result(
            "soak",
            f"mixed workload at the limit for {seconds:g} s",
            REAL,
            truth,
            figures=figures,
            client=client,
            details={"iterations": iterations, "span_rate": span_rate(timer.starts())},
            notes=[
                "a round: 20 detail quotes, 90 quotes via 3 multi-quote calls"
                + (", history of 2 symbols x 30 days" if has_history else "")
            ],
        )
    ]
