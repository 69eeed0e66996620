"""The scale scenario: memory in proportion to the result. A year of daily bars for 100, 500
and every symbol (``--quick``: 20 and 100), each pull cold (no cache, no bar store: what is
measured is the pull and its shaping, not Parquet's writes) in a fresh spawned process, so
that the process's peak resident memory (``VmHWM``) is that pull's. See
:mod:`kisresearch.bench.scenarios` for the conventions."""

from __future__ import annotations

import contextlib
import time
import traceback
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .report import Figure, ScenarioResult, client_view, count_figure, time_figure
from .scenarios import REAL, Bench, rounded, scenario_result
from .server import rss_kb
from .workers import collect, history_call, make_client, rows_ok, spawn_context

MB = 1024 * 1024


def scale_worker(queue: Any, index: int, spec: dict[str, Any]) -> None:
    """One pull in a fresh process: the client built, its token fetched and ``history`` called
    once first (two weeks of 32 symbols three years ago: the first call's set-up, threads and
    connections, is not the pull's), then the peak reset (``/proc/self/clear_refs``; where that is
    refused, the peak of the whole process is reported) and ``history`` timed."""
    try:
        kis = make_client(spec)
        kis.auth.token()
        long_ago = date.today() - timedelta(days=3 * 365)
        kis.history(spec["codes"][:32], long_ago, long_ago + timedelta(days=14))
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        base = rss_kb() or 0
        t0 = time.perf_counter()
        df, _ = history_call(kis, spec["codes"])
        seconds = time.perf_counter() - t0
        peak = rss_kb(field="VmHWM") or 0
        payload = {
            "seconds": seconds,
            "rows": len(df),
            "rows_ok": rows_ok(df),
            "calls": df.attrs.get("answers"),
            "base": base * 1024,
            "peak": peak * 1024,
            "frame": int(df.memory_usage(deep=True).sum()),
            "client": client_view(kis.stats.summary()),
        }
        kis.close()
        queue.put(("done", index, payload))
    except BaseException:
        queue.put(("error", index, traceback.format_exc(limit=8)))


def scale(b: Bench) -> list[ScenarioResult]:
    sizes = (20, 100) if b.quick else (100, 500, len(b.codes))
    home = b.home("scale")  # one token for all the pulls
    ctx = spawn_context()
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    b.sim.reset()
    for n in sizes:
        spec = b.spec("scale", home, codes=b.codes[:n], client_options={"store": False})
        queue = ctx.Queue()
        proc = ctx.Process(target=scale_worker, args=(queue, 0, spec), daemon=True)
        proc.start()
        try:
            got = collect(queue, [proc], "done", 120 + n * 0.5)[0]
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        grew, frame = got["peak"] - got["base"], got["frame"]
        b.say(
            f"{n} symbols: {got['seconds']:.1f} s, +{grew / MB:.0f} MB, frame {frame / MB:.0f} MB"
        )
        figures += [
            time_figure(f"{n:,} symbols × 1 y ({got['calls']:,} calls): wall time", got["seconds"]),
            Figure(f"{n:,} symbols: rows/s", rounded(got["rows"] / got["seconds"]), "rows/s"),
            count_figure(f"{n:,} symbols: rows lost", got["rows"] - got["rows_ok"]),
            Figure(f"{n:,} symbols: RSS before the pull", rounded(got["base"] / MB), "MB"),
            Figure(f"{n:,} symbols: peak RSS", rounded(got["peak"] / MB), "MB"),
            Figure(
                f"{n:,} symbols: the frame's memory_usage(deep=True)", rounded(frame / MB), "MB"
            ),
            Figure(
                f"{n:,} symbols: peak RSS - before, ≤ 2 × the frame",
                rounded(grew / MB),
                "MB",
                "<=",
                rounded(2 * frame / MB),
            ),
        ]
        details[str(n)] = got
    truth = b.sim.truth()
    figures.append(count_figure("server rejections (EGW00201)", truth["rejected"]))
    title = f"memory in proportion: 1 y of daily bars for {', '.join(map(str, sizes))} symbols"
    return [scenario_result("scale", title, REAL, truth, figures=figures, details=details)]
