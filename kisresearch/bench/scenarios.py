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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..pipeline.ratelimit import DEFAULT_MARGIN
from .report import (
    MIN_WHOLE_SECONDS,
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
from .server import SIM_OPTIONS, RedisProcess, SimProcess
from .workers import (
    collect,
    detail_worker,
    make_client,
    rows_ok,
    spawn_context,
)

REAL, PAPER = 20.0, 2.0
SERVER_RATE = "sustained rate (server per_second)"


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


def scenario_result(
    name: str, title: str, limit: float | None, truth: dict[str, Any] | None, **kw: Any
) -> ScenarioResult:
    result = ScenarioResult(
        name, title, limit=limit, truth=truth_view(truth) if truth is not None else None, **kw
    )
    if any(f.name.startswith(SERVER_RATE) and f.value is None for f in result.figures):
        result.notes.append(
            f"no server-side rate: the run spans fewer than {MIN_WHOLE_SECONDS} whole seconds"
        )
    return result


def _rate_figures(
    truth: dict[str, Any], starts: Sequence[float], limit: float, target: float
) -> list[Figure]:
    return [
        rate_figure(SERVER_RATE, server_rate(truth["per_second"]), limit, target),
        rate_figure(
            "sustained rate (wall, span of accepted calls)", span_rate(starts), limit, target
        ),
        count_figure("server rejections (EGW00201)", truth["rejected"]),
        count_figure("max calls in any 1-s window", truth["max_in_window"], "<=", limit),
    ]


def lag_figures(timer: CallTimer | None, workers: Sequence[dict[str, Any]] = ()) -> list[Figure]:
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


def _run_quotes(
    b: Bench, name: str, codes: list[str], detail: bool = False
) -> tuple[Any, float, dict[str, Any], dict[str, Any], CallTimer]:
    """One ``quotes`` call on a fresh simulator and a fresh ``name`` client, after a token:
    (frame, wall seconds, the server's truth, the client's stats view, the call timer)."""
    b.sim.reset()
    with b.client(name) as kis:
        timer = CallTimer(kis)
        kis.auth.token()
        t0 = time.perf_counter()
        df = kis.quotes(codes, detail=detail)
        wall = time.perf_counter() - t0
        return df, wall, b.sim.truth(), client_view(kis.stats.summary()), timer


# -- 1. detail quotes at the limit ---------------------------------------------------------


def detail(b: Bench) -> list[ScenarioResult]:
    n = 60 if b.quick else 300
    return [_detail(b, "detail", n, REAL, 0.95, f"{n} quotes(detail=True) at the 20/s limit")]


def _detail(b: Bench, name: str, n: int, limit: float, goal: float, title: str) -> ScenarioResult:
    """``n`` detail quotes on the ``name`` profile, whose limit is ``limit`` calls a second;
    ``goal`` is the share of that limit the sustained rate must reach."""
    df, wall, truth, client, timer = _run_quotes(b, name, b.codes[:n], detail=True)
    figures = [
        *_rate_figures(truth, timer.starts(), limit, goal),
        count_figure("rows lost", n - rows_ok(df)),
        time_figure(f"wall time, {n} calls", wall),
        *lag_figures(timer),
    ]
    return scenario_result(name, title, limit, truth, figures=figures, client=client)


LATENCIES = {"10-60 ms": (0.01, 0.06), "150-350 ms": (0.15, 0.35)}
"""The server latencies the ``latency`` scenario runs at: near Seoul, and far or on a busy open."""


def latency(b: Bench) -> list[ScenarioResult]:
    """The same detail pull at each of :data:`LATENCIES`, each on a simulator process of its
    own: the share of the limit the pull keeps must not depend on the latency. The calls over
    the pull's whole wall time are shown too: they also pay one answer's latency at the end."""
    from dataclasses import replace

    n = 60 if b.quick else 300
    results = []
    for label, span in LATENCIES.items():
        with SimProcess({**SIM_OPTIONS, "latency": span}, {"latency": "real"}) as sim:
            df, wall, truth, client, timer = _run_quotes(
                replace(b, sim=sim), "latency", b.codes[:n], detail=True
            )
        figures = [
            *_rate_figures(truth, timer.starts(), REAL, 0.96),
            Figure(
                "calls / wall time of the pull",
                round(n / wall, 3),
                "calls/s",
                ratio=round(n / wall / REAL, 4),
            ),
            count_figure("rows lost", n - rows_ok(df)),
            time_figure(f"wall time, {n} calls", wall),
            *lag_figures(timer),
        ]
        title = f"{n} quotes(detail=True), server latency {label}"
        results.append(
            scenario_result(f"latency {label}", title, REAL, truth, figures=figures, client=client)
        )
    return results


def spurious(b: Bench) -> list[ScenarioResult]:
    """Detail quotes while 20% of the server's answers are a spurious EGW00201 (the server
    rejects a call it should have taken): every row must arrive, and the pace must not
    collapse, since slowing down cannot help. The goal: within twice the wall time of the
    same calls and their retries at the full pace (before the limiter told spurious answers
    from overload: 4.1 times, 39 s for 150 calls)."""
    from ..sim import Faults

    n = 40 if b.quick else 150
    b.sim.faults = Faults(rate_limit=0.2)
    try:
        df, wall, truth, client, _ = _run_quotes(b, "spurious", b.codes[:n], detail=True)
    finally:
        b.sim.faults = None
    sent = truth["accepted"] + truth["rejected"]
    full_pace = sent / (REAL * DEFAULT_MARGIN)
    figures = [
        time_figure(f"wall time, {n} calls ({sent} with the retries)", wall, 2 * full_pace),
        Figure("the same at the full pace", rounded(full_pace), "s"),
        count_figure("rows lost", n - rows_ok(df)),
        count_figure("spurious EGW00201 retried", client.get("retries"), None, None),
    ]
    title = f"{n} detail quotes, 20% of answers a spurious EGW00201"
    return [scenario_result("spurious", title, REAL, truth, figures=figures, client=client)]


def faults(b: Bench) -> list[ScenarioResult]:
    """Detail quotes under each fault the simulator can play, one kind at a time, by one
    client (timeout 1.5 s; slow and trickling answers take 3 s): rows delivered, tokens
    issued, the server's rejections and the wall time of each; and the secrets (app key and
    secret, token, account number) found in everything logged at DEBUG, the toolkit's and its
    dependencies', and in the error cells: none."""
    import io
    import logging

    from ..sim import Faults

    n = 30 if b.quick else 100
    runs = {
        "HTML 500": Faults(html_500=0.05),
        "dropped connection": Faults(drop=0.03),
        "slow answer": Faults(slow=0.03, slow_seconds=3.0),
        "trickling body": Faults(trickle=0.03, slow_seconds=3.0),
        "broken JSON": Faults(malformed_json=0.03),
        "spurious EGW00201": Faults(rate_limit=0.05),
        "token rejected": Faults(token_reject=0.02),
    }
    figures: list[Figure] = []
    b.sim.reset()
    seen = io.StringIO()
    handler = logging.StreamHandler(seen)
    root = logging.getLogger()
    level, root.level = root.level, logging.DEBUG
    root.addHandler(handler)
    errors: list[str] = []
    try:
        with b.client("faults", timeout=1.5) as kis:
            cred = kis.pipeline.credentials
            secrets = [kis.auth.token(), cred.app_key, cred.app_secret]
            secrets += [str(cred.account or "").replace("-", "")[:8]] * bool(cred.account)
            for label, fault in runs.items():
                b.sim.reset_truth()
                b.sim.faults = fault
                t0 = time.perf_counter()
                df = kis.quotes(b.codes[:n], detail=True)
                wall = time.perf_counter() - t0
                truth = b.sim.truth()
                errors += [str(e) for e in df["error"].dropna()]
                figures += [
                    count_figure(f"{label}: rows lost", n - rows_ok(df)),
                    count_figure(f"{label}: tokens issued", truth["tokens_issued"], "==", 0),
                    count_figure(f"{label}: server rejections", truth["rejected"], None, None),
                    time_figure(f"{label}: wall time", wall),
                ]
    finally:
        b.sim.faults = None
        root.removeHandler(handler)
        root.level = level
    shown = seen.getvalue() + "\n".join(errors)
    found = sum(shown.count(x) for x in secrets if x)
    figures.append(count_figure(f"secrets in {len(shown):,} characters of logs and errors", found))
    title = f"{n} detail quotes under each fault, one kind at a time"
    return [scenario_result("faults", title, REAL, None, figures=figures)]


POOL_KEYS = ("pool1", "pool2", "pool3")


def pool(b: Bench) -> list[ScenarioResult]:
    """One detail pull spread over a pool of three app keys (``KIS(keys=...)``), each with
    its own window, token and limiter file: the aggregate must reach 0.93 of 3 x 20/s."""
    from ..client import KIS

    n = 180 if b.quick else 900
    limit = REAL * len(POOL_KEYS)
    b.sim.reset()
    keys = [{"app_key": b.sim.key(k).app_key, "app_secret": b.sim.key(k).app_secret}
            for k in POOL_KEYS]  # fmt: skip
    home = b.home("pool")
    with KIS(keys=keys, base_url=b.sim.base_url, env="real", home=home, cache=False,
             progress=False, workers=24) as kis:  # fmt: skip
        for key in kis.keys.keys:
            key.auth.token()
        t0 = time.perf_counter()
        df = kis.quotes(b.codes[:n], detail=True)
        wall = time.perf_counter() - t0
        truth, client = b.sim.truth(), client_view(kis.stats.summary())
        by_key = kis.stats.summary()["by_key"]
    figures = [
        rate_figure(SERVER_RATE, server_rate(truth["per_second"]), limit, 0.93),
        rate_figure("calls / wall time of the pull", n / wall, limit, 0.90),
        count_figure("server rejections (EGW00201)", truth["rejected"]),
        count_figure("max calls in any key's 1-s window", truth["max_in_window"], "<=", REAL),
        count_figure("tokens issued (one per key)", truth["tokens_issued"], "==", len(POOL_KEYS)),
        count_figure("rows lost", n - rows_ok(df)),
        *(count_figure(f"{label}: calls", c["calls"], None, None) for label, c in by_key.items()),
        time_figure(f"wall time, {n} calls", wall),
    ]
    title = f"{n} quotes(detail=True) over a pool of {len(POOL_KEYS)} keys (limit {limit:g}/s)"
    return [scenario_result("pool", title, limit, truth, figures=figures, client=client)]


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
        *lag_figures(None, list(done.values())),
    ]
    return scenario_result(
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
    return [_detail(b, "paper", n, PAPER, 0.90, f"{n} detail calls on the paper profile (2/s)")]


# -- 4. and 5. multi-symbol quotes ---------------------------------------------------------


def _multi(b: Bench, name: str, codes: list[str], goal: float, title: str) -> ScenarioResult:
    df, wall, truth, client, timer = _run_quotes(b, name, codes)
    calls = math.ceil(len(codes) / 30)
    figures = [
        time_figure("wall time", wall, goal),
        count_figure("requests (server accepted)", truth["accepted"], "==", calls),
        count_figure("server rejections (EGW00201)", truth["rejected"]),
        count_figure("rows lost", len(codes) - rows_ok(df)),
        *lag_figures(timer),
    ]
    return scenario_result(name, title, REAL, truth, figures=figures, client=client)


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


# -- 7. the predecessor's way: no shared limiter -------------------------------------------


def compare(b: Bench) -> list[ScenarioResult]:
    from ..pipeline.retry import RetryPolicy

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
            rounded(per_success),
            "",
            None,
            None,
            ratio=rounded(per_success / 1.7 if per_success is not None else None),
        ),
        count_figure("rows lost (no retries)", n - rows_ok(df), None, None),
        time_figure(f"wall time, {n} calls", wall),
    ]
    return [
        scenario_result(
            "compare",
            "8 threads, no limiter, no retries (the predecessor's way)",
            REAL,
            truth,
            figures=figures,
            client=client,
            notes=["ratio = rejections per success / 1.7 (the issue's predecessor figure)"],
        )
    ]


def rounded(x: float | None) -> float | None:
    return round(x, 3) if x is not None else None
