"""The benchmark's scenarios: each runs against the simulator process and returns figures.

A scenario is a function ``(bench) -> list[ScenarioResult]``. It clears the server's truth
before it starts, uses its own app key and a fresh private toolkit folder, and the cache only
where caching is the point. Counts (calls, symbols, seconds) are bounded and smaller under
``--quick``; see ``benchmarks/README.md`` for what each one shows.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from .bench_report import (
    CallTimer,
    Figure,
    ScenarioResult,
    client_view,
    count_figure,
    lag_stats,
    rate_figure,
    server_rate,
    span_rate,
    time_figure,
    truth_view,
)
from .bench_server import RedisProcess, SimProcess, rss_kb
from .bench_workers import (
    cache_worker,
    collect,
    detail_worker,
    history_call,
    make_client,
    rows_ok,
    spawn_context,
)

REAL, PAPER = 20.0, 2.0


@dataclass
class Bench:
    """What every scenario gets: the server, a scratch folder, the mode and the symbols."""

    sim: SimProcess
    work: Path
    quick: bool
    soak: float
    out: TextIO
    codes: list[str] = field(default_factory=list)
    stocks: list[str] = field(default_factory=list)

    def home(self, name: str) -> Path:
        """A fresh private toolkit folder (KIS_HOME) for one scenario."""
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.work))

    def spec(self, key: str, home: Path | None = None, **extra: Any) -> dict[str, Any]:
        k = self.sim.key(key)
        return {
            "app_key": k.app_key,
            "app_secret": k.app_secret,
            "base_url": self.sim.base_url,
            "env": k.profile,
            "home": str(home or self.home(key)),
            **extra,
        }

    def client(self, key: str, **overrides: Any) -> Any:
        return make_client(self.spec(key), **overrides)

    def say(self, text: str) -> None:
        self.out.write(f"    {text}\n")
        self.out.flush()


def _result(
    name: str, title: str, limit: float | None, truth: dict[str, Any] | None, **kw: Any
) -> ScenarioResult:
    return ScenarioResult(
        name, title, limit=limit, truth=truth_view(truth) if truth is not None else None, **kw
    )


def _rate_figures(
    truth: dict[str, Any], starts: Sequence[float], limit: float, target: float
) -> list[Figure]:
    return [
        rate_figure(
            "sustained rate (server per_second)", server_rate(truth["per_second"]), limit, target
        ),
        rate_figure(
            "sustained rate (wall, span of accepted calls)", span_rate(starts), limit, target
        ),
        count_figure("server rejections (EGW00201)", truth["rejected"]),
        count_figure("max calls in any 1-s window", truth["max_in_window"], "<=", limit),
    ]


def _lag_figures(timer: CallTimer | None, workers: Sequence[dict[str, Any]] = ()) -> list[Figure]:
    """Diagnostics, no goals: how late sends left after their reserved slot, how long the
    limiter store took to decide, and how many slots the limiter gave up because it woke too
    late for them (from one timer, or from the payloads of worker processes)."""
    if timer is not None:
        lags, decisions, given_up = timer.lags, timer.decisions, timer.given_up
    else:
        lags = [x for w in workers for x in w["lags"]]
        decisions = [x for w in workers for x in w["decisions"]]
        given_up = sum(w["given_up"] for w in workers)
    lag, dec = lag_stats(lags), lag_stats(decisions)
    return [
        Figure("send lag after the reserved slot, p95", lag["p95_ms"], "ms"),
        Figure("send lag after the reserved slot, max", lag["max_ms"], "ms"),
        Figure("limiter store decision time, p95", dec["p95_ms"], "ms"),
        Figure("limiter store decision time, max", dec["max_ms"], "ms"),
        Figure("slots given up by the limiter (woke late)", given_up),
    ]


# -- 1. detail quotes at the limit ---------------------------------------------------------


def detail(b: Bench) -> list[ScenarioResult]:
    n = 60 if b.quick else 300
    codes = b.codes[:n]
    b.sim.reset()
    with b.client("detail") as kis:
        timer = CallTimer(kis)
        kis.auth.token()
        t0 = time.perf_counter()
        df = kis.quotes(codes, detail=True)
        wall = time.perf_counter() - t0
        truth = b.sim.truth()
        client = client_view(kis.stats.summary())
    figures = [
        *_rate_figures(truth, timer.starts(), REAL, 0.95),
        count_figure("rows lost", n - rows_ok(df)),
        time_figure(f"wall time, {n} calls", wall),
        *_lag_figures(timer),
    ]
    return [
        _result(
            "detail",
            f"{n} quotes(detail=True) at the 20/s limit",
            REAL,
            truth,
            figures=figures,
            client=client,
        )
    ]


# -- 2. three processes on one key ---------------------------------------------------------


def processes(b: Bench) -> list[ScenarioResult]:
    results = [_processes(b, "file", "file")]
    redis = RedisProcess.start()
    if redis is None:
        results.append(
            ScenarioResult(
                "processes-redis",
                "3 processes, one key, Redis limiter",
                skipped="redis-server or the redis package is not installed",
            )
        )
        return results
    with redis:
        results.append(_processes(b, "redis", redis.url))
    return results


def _processes(b: Bench, variant: str, limiter: str) -> ScenarioResult:
    nproc, per = 3, (20 if b.quick else 100)
    home = b.home(f"processes-{variant}")
    b.sim.reset()
    ctx = spawn_context()
    queue, start = ctx.Queue(), ctx.Event()
    procs = []
    for i in range(nproc):
        spec = b.spec(
            f"processes-{variant}", home, limiter=limiter, codes=b.codes[i * per : (i + 1) * per]
        )
        procs.append(ctx.Process(target=detail_worker, args=(queue, start, i, spec), daemon=True))
    try:
        for p in procs:
            p.start()
        collect(queue, procs, "ready", 120)
        start.set()
        done = collect(queue, procs, "done", 60 + nproc * per / 10)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
    truth = b.sim.truth()
    starts = [t for d in done.values() for t in d["starts"]]
    lost = sum(d["rows"] - d["rows_ok"] for d in done.values())
    wall = max(d["t1"] for d in done.values()) - min(d["t0"] for d in done.values())
    figures = [
        *_rate_figures(truth, starts, REAL, 0.90),
        count_figure("tokens issued (3 processes)", truth["tokens_issued"], "<=", 1),
        count_figure("rows lost", lost),
        time_figure(f"wall time, {nproc} x {per} calls", wall),
        *_lag_figures(None, list(done.values())),
    ]
    return _result(
        f"processes-{variant}",
        f"{nproc} processes x {per} detail calls, one key, {variant} limiter",
        REAL,
        truth,
        figures=figures,
        details={"per_process": {i: d["client"] for i, d in sorted(done.items())}},
    )


# -- 3. paper profile ----------------------------------------------------------------------


def paper(b: Bench) -> list[ScenarioResult]:
    n = 6 if b.quick else 20
    b.sim.reset()
    with b.client("paper") as kis:
        timer = CallTimer(kis)
        kis.auth.token()
        t0 = time.perf_counter()
        df = kis.quotes(b.codes[:n], detail=True)
        wall = time.perf_counter() - t0
        truth = b.sim.truth()
        client = client_view(kis.stats.summary())
    figures = [
        *_rate_figures(truth, timer.starts(), PAPER, 0.90),
        count_figure("rows lost", n - rows_ok(df)),
        time_figure(f"wall time, {n} calls", wall),
        *_lag_figures(timer),
    ]
    notes = []
    if figures[0].value is None:
        notes.append("too few whole seconds for a server-side rate; the wall figure stands")
    return [
        _result(
            "paper",
            f"{n} detail calls on the paper profile (2/s)",
            PAPER,
            truth,
            figures=figures,
            client=client,
            notes=notes,
        )
    ]


# -- 4. and 5. multi-symbol quotes ---------------------------------------------------------


def _multi(b: Bench, name: str, codes: list[str], goal: float, title: str) -> ScenarioResult:
    b.sim.reset()
    with b.client(name) as kis:
        timer = CallTimer(kis)
        kis.auth.token()
        t0 = time.perf_counter()
        df = kis.quotes(codes)
        wall = time.perf_counter() - t0
        truth = b.sim.truth()
        client = client_view(kis.stats.summary())
    calls = math.ceil(len(codes) / 30)
    figures = [
        time_figure("wall time", wall, goal),
        count_figure("requests (server accepted)", truth["accepted"], "==", calls),
        count_figure("server rejections (EGW00201)", truth["rejected"]),
        count_figure("rows lost", len(codes) - rows_ok(df)),
        *_lag_figures(timer),
    ]
    return _result(name, title, REAL, truth, figures=figures, client=client)


def multi100(b: Bench) -> list[ScenarioResult]:
    return [_multi(b, "multi100", b.codes[:100], 0.5, "100 quotes via the 30-symbol call")]


def universe(b: Bench) -> list[ScenarioResult]:
    codes = b.codes
    return [
        _multi(
            b,
            "universe",
            codes,
            5.0,
            f"the universe ({len(codes):,} symbols) via the 30-symbol call",
        )
    ]


# -- 6. history and quotes, cold then warm -------------------------------------------------


def history(b: Bench) -> list[ScenarioResult]:
    from .client import KIS

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
        _result(
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


def _kst() -> Any:
    from .cachepolicy import KST

    return KST


def _drop(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


# -- 7. the predecessor's way: no shared limiter -------------------------------------------


def compare(b: Bench) -> list[ScenarioResult]:
    from .retry import RetryPolicy

    n = 48 if b.quick else 200
    b.sim.reset()
    with b.client("compare", limiter=False, retry=RetryPolicy(max_attempts=1), workers=8) as kis:
        kis.auth.token()
        t0 = time.perf_counter()
        df = kis.quotes(b.codes[:n], detail=True)
        wall = time.perf_counter() - t0
        truth = b.sim.truth()
        client = client_view(kis.stats.summary())
    ok, rejected = truth["accepted"], truth["rejected"]
    per_success = rejected / ok if ok else None
    figures = [
        count_figure("server rejections (EGW00201)", rejected, None, None),
        Figure(
            "rejections per successful call",
            _r(per_success),
            "",
            None,
            None,
            ratio=_r(per_success / 1.7 if per_success is not None else None),
        ),
        count_figure("rows lost (no retries)", n - rows_ok(df), None, None),
        time_figure(f"wall time, {n} calls", wall),
    ]
    return [
        _result(
            "compare",
            "8 threads, no limiter, no retries (the predecessor's way)",
            REAL,
            truth,
            figures=figures,
            client=client,
            notes=["ratio = rejections per success / 1.7 (the issue's predecessor figure)"],
        )
    ]


def _r(x: float | None) -> float | None:
    return round(x, 3) if x is not None else None


# -- 8. client overhead --------------------------------------------------------------------


def overhead(b: Bench) -> list[ScenarioResult]:
    from . import frames
    from .ratelimit import Limiter, LimiterConfig, LimiterState, decide, make_limiter
    from .transport import Response

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
        lim = make_limiter(store, cfg, key_id="bench", home=b.home("limiter"))
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
        _result(
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
    from .client import KIS

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
            _r(rate),
            "calls/s",
            ratio=_r(rate / REAL if rate is not None else None),
        ),
        *_lag_figures(timer),
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
        _result(
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


SCENARIOS: dict[str, tuple[Callable[[Bench], list[ScenarioResult]], tuple[str, ...]]] = {
    "detail": (detail, ("detail",)),
    "processes": (processes, ("processes-file", "processes-redis")),
    "paper": (paper, ("paper",)),
    "multi100": (multi100, ("multi100",)),
    "universe": (universe, ("universe",)),
    "history": (history, ("history",)),
    "compare": (compare, ("compare",)),
    "overhead": (overhead, ("overhead",)),
    "soak": (soak, ("soak",)),
}
"""Scenario name -> (function, the app-key names it uses)."""
