"""Dashboard: light import, refresh from stats (fake clock), its thread, a real pull."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from kisresearch.errors import ConfigError
from kisresearch.notebook.dashboard import COUNTERS, Dashboard
from kisresearch.observe.stats import StatsManager

PNG = b"\x89PNG\r\n\x1a\n"
SVG = b"<?xml"
THREAD = "kisresearch-dashboard"
UNIVERSE = Path(__file__).resolve().parents[3] / "data" / "universe.csv"


def dashboard_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


def feed(stats: StatsManager, clock: Any, seconds: int, per_second: int = 10) -> None:
    """``seconds`` seconds of traffic: mostly ok, one rejection, one error, cache lookups."""
    for _ in range(seconds):
        for i in range(per_second):
            outcome = "rate_limited" if i == 0 else "error" if i == 1 else "ok"
            code = {"rate_limited": "EGW00201", "error": "EGW00999"}.get(outcome)
            stats.record_attempt("quote", "FHKST01010100", clock.now(), 0.02, outcome, code)
            stats.record_cache("quote", hit=i % 2 == 0)
        stats.record_retry("quote", "EGW00201")
        stats.record_wait(0.25)
        clock.advance(1)


@pytest.fixture(autouse=True)
def no_thread_left() -> Any:
    yield
    assert dashboard_threads() == []


def test_importing_kisresearch_imports_no_widget_or_plot_library() -> None:
    code = (
        "import sys, kisresearch, kisresearch.notebook.dashboard\n"
        "heavy = [m for m in ('ipywidgets', 'matplotlib', 'IPython') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert kisresearch.Dashboard is kisresearch.notebook.dashboard.Dashboard\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_refresh_updates_counters_and_image(clock: Any) -> None:
    stats = StatsManager(clock=clock, limit=20)
    dash = Dashboard(stats)
    assert dash.counters["calls"] == "0"
    empty = dash.image
    assert empty.startswith(SVG)

    feed(stats, clock, seconds=5)
    stats.record_token()
    shown = dash.refresh()
    assert shown == dash.counters
    assert list(shown) == list(COUNTERS)
    assert shown["calls"] == "50"
    assert shown["calls/s"] == "10 / 20"
    assert shown["rate-limited"] == "5"
    assert shown["errors"] == "5"
    assert shown["retries"] == "5"
    assert shown["cache hits"] == "25 (50.0%)"
    assert shown["tokens issued"] == "1"
    assert shown["limiter wait"] == "25 ms/call"  # 1.25 s waited over 50 calls
    assert shown["calls by key"] == "-"  # one key
    first = dash.image
    assert first.startswith(SVG) and first != empty
    assert "50" in dash._cells["calls"].value  # the widget itself, not only the dict

    feed(stats, clock, seconds=3)
    assert dash.refresh()["calls"] == "80"
    assert dash.image != first


def test_the_second_in_progress_is_counted_but_not_plotted(clock: Any) -> None:
    stats = StatsManager(clock=clock, limit=20)
    stats.record_attempt("quote", "FHKST01010100", clock.now(), 0.02, "ok")
    dash = Dashboard(stats)
    assert dash.counters["calls"] == "1"
    assert dash.counters["calls/s"] == "0 / 20"  # no complete second yet
    assert dash._read().seconds.empty
    clock.advance(1)
    assert dash.refresh()["calls/s"] == "1 / 20"


def test_empty_stats_draw_titled_empty_axes(clock: Any, tmp_path: Path) -> None:
    dash = Dashboard(StatsManager(clock=clock))  # no limit either
    assert set(dash.counters.values()) <= {"0", "0 (-)", "-"}
    fig = dash.figure()
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles[0] == "calls/s"
    assert titles[1].startswith("error and rejection rate")
    assert titles[2].startswith("cache hit ratio")
    assert all(not ax.get_lines() for ax in fig.axes)
    path = dash.snapshot(tmp_path / "empty.png")
    assert path.read_bytes().startswith(PNG)


def test_seconds_without_calls_plot_nan_ratios(clock: Any) -> None:
    stats = StatsManager(clock=clock, limit=20)
    for _ in range(3):
        stats.record_cache("quote", hit=True)  # cache hits only: every error rate is NaN
        clock.advance(1)
    clock.advance(500)  # and then a long quiet spell: zero rows over the whole window
    dash = Dashboard(stats, window=30)
    seconds = dash._read().seconds
    assert len(seconds) == 30 and seconds["calls"].sum() == 0
    assert dash.counters["cache hits"] == "3 (100.0%)"
    assert dash.image.startswith(SVG)


def test_limit_comes_from_argument_client_or_stats(clock: Any) -> None:
    stats = StatsManager(clock=clock, limit=20)
    assert Dashboard(stats).figure().axes[0].get_title(loc="left") == "calls/s (limit 20/s)"
    client = SimpleNamespace(stats=stats, limiter_config=SimpleNamespace(rate=18.0))
    assert Dashboard(client).counters["calls/s"] == "0 / 18"
    assert Dashboard(client, limit=5).counters["calls/s"] == "0 / 5"


@pytest.mark.parametrize(
    ("limit", "peak", "ticks"),
    [
        (20, 20, [0, 5, 10, 15, 20]),  # was 0, 3, ..., 21
        (18, 18, [0, 6, 12, 18]),
        (20, 45, [0, 10, 20, 30, 40]),  # above the limit: fewer ticks, the limit still one
        (7, 7, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
        (2.5, 2, [0, 1, 2, 2.5]),
    ],
)
def test_the_rate_ticks_include_the_limit(
    clock: Any, limit: float, peak: int, ticks: list[float]
) -> None:
    stats = StatsManager(clock=clock, limit=limit)
    feed(stats, clock, seconds=3, per_second=peak)
    rate_ax = Dashboard(stats).figure().axes[0]
    low, high = rate_ax.get_ylim()
    shown = [t for t in rate_ax.get_yticks() if low <= t <= high]
    assert shown == ticks


def test_zero_lines_are_drawn_above_the_axis(clock: Any) -> None:
    stats = StatsManager(clock=clock, limit=20)
    for _ in range(5):  # no error, rejection or cache hit: four lines at 0 (the run's ratio)
        for _ in range(10):
            stats.record_attempt("quote", "FHKST01010100", clock.now(), 0.02, "ok")
            stats.record_cache("quote", hit=False)
        clock.advance(1)
    fig = Dashboard(stats).figure()
    err_ax, hit_ax = fig.axes[1], fig.axes[2]
    zeros = [line for ax in (err_ax, hit_ax) for line in ax.get_lines() if line.get_ydata()[0] == 0]
    assert len(zeros) == 4
    for line in zeros:
        ax = line.axes
        x = line.get_xdata()[0]
        above = ax.transData.transform((x, 0))[1] - ax.transAxes.transform((0, 0))[1]
        assert above >= 3  # display pixels between the line at 0 and the bottom spine


def test_the_view_is_an_svg_shown_at_its_own_size(clock: Any, tmp_path: Path) -> None:
    stats = StatsManager(clock=clock, limit=20)
    feed(stats, clock, seconds=3)
    dash = Dashboard(stats)
    assert dash._image.format == "svg+xml"
    width_pt = float(re.search(rb'<svg[^>]* width="([0-9.]+)pt"', dash.image).group(1))
    css_px = width_pt * 96 / 72
    assert dash._image.layout.max_width == f"{css_px:g}px"  # never stretched beyond it
    png = dash.snapshot(tmp_path / "dash.png").read_bytes()
    assert png.startswith(PNG)
    assert int.from_bytes(png[16:20], "big") == 2 * css_px  # two device pixels per CSS pixel
    assert dash.snapshot(tmp_path / "dash.svg").read_bytes().startswith(SVG)
    assert "calls 30" in dash.figure()._suptitle.get_text()  # the file keeps the headline


def test_watch_counts_only_the_block(clock: Any) -> None:
    stats = StatsManager(clock=clock, limit=20)
    feed(stats, clock, seconds=5)  # before the block: 50 calls, 25 cache hits
    stats.record_token()
    with Dashboard.watch(stats, interval=60) as live:
        feed(stats, clock, seconds=2, per_second=4)  # 8 calls, 2 rejected, 2 errors
    assert live.counters["calls"] == "8"
    assert live.counters["rate-limited"] == "2"
    assert live.counters["errors"] == "2"
    assert live.counters["cache hits"] == "4 (50.0%)"
    assert live.counters["tokens issued"] == "0"
    assert live.counters["limiter wait"] == "62 ms/call"  # 0.5 s over 8 calls
    seconds = live._read().seconds
    assert len(seconds) == 2 and seconds["calls"].sum() == 8
    title = live.figure().axes[1].get_title(loc="left")
    assert "25.0% errors" in title  # the block's 2 of 8, not the run's 7 of 58
    assert Dashboard(stats).counters["calls"] == "58"  # a plain dashboard: the whole run


@pytest.mark.parametrize(
    "options", [{"interval": 0}, {"interval": -1.0}, {"window": 1}, {"limit": 0}]
)
def test_bad_options_raise_config_error(clock: Any, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Dashboard(StatsManager(clock=clock), **options)


def test_thread_refreshes_and_stop_joins_it() -> None:
    stats = StatsManager(limit=20)  # the real clock: the thread runs in real time
    dash = Dashboard(stats, interval=0.05)
    dash.stop()  # before start: a no-op
    assert dash.start() is dash and dash.running
    assert dash.start() is dash and len(dashboard_threads()) == 1  # no second thread
    stats.record_attempt("quote", "FHKST01010100", time.time(), 0.01, "ok")
    deadline = time.monotonic() + 10
    while dash.counters["calls"] != "1" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dash.counters["calls"] == "1"
    assert "running" in dash._status.value
    dash.stop()
    assert not dash.running and dashboard_threads() == []
    assert "stopped" in dash._status.value
    dash.stop()  # idempotent
    assert dashboard_threads() == []


def test_context_manager_and_watch(clock: Any, capsys: pytest.CaptureFixture[str]) -> None:
    stats = StatsManager(clock=clock)
    with Dashboard(stats, interval=0.05) as dash:
        assert dash.running
    assert not dash.running
    with Dashboard.watch(stats, interval=0.05) as watched:
        assert watched.running
    assert not watched.running
    assert "VBox" in capsys.readouterr().out  # display() outside a kernel prints the repr


def test_garbage_collection_stops_the_thread(clock: Any) -> None:
    dash = Dashboard(StatsManager(clock=clock), interval=0.05).start()
    thread = dashboard_threads()[0]
    del dash
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_failing_refresh_is_shown_not_raised(
    clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stats = StatsManager(clock=clock)
    dash = Dashboard(stats, interval=0.02)
    calls = 0

    def broken(last: int | None = None) -> Any:
        nonlocal calls
        calls += 1
        raise RuntimeError("stats are gone")

    dash.stats = SimpleNamespace(summary=stats.summary, frame=broken)  # type: ignore[assignment]
    with caplog.at_level("WARNING", logger="kisresearch.notebook.dashboard"):
        dash.start()
        deadline = time.monotonic() + 10
        while calls < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert dash.running  # the thread keeps going
        dash.stop()  # its final refresh fails too: shown, not raised
    assert calls >= 3
    assert "stats are gone" in dash._status.value
    assert len([r for r in caplog.records if "refresh failed" in r.message]) == 1  # once
    dash.stats = stats
    dash._tick()  # a good refresh clears the failure
    assert dash._failed is None


@pytest.mark.slow
def test_dashboard_follows_a_real_pull(home: Path, tmp_path: Path) -> None:
    from kisresearch.client import KIS

    codes = list(pd.read_csv(UNIVERSE, dtype=str)["code"][:60])
    with KIS.simulator(progress=False) as kis:
        dash = Dashboard(kis, interval=0.2)
        failures: list[BaseException] = []

        def pull() -> None:
            try:
                kis.quotes(codes, detail=True)
            except BaseException as exc:  # surfaced below
                failures.append(exc)

        puller = threading.Thread(target=pull)
        with dash:
            puller.start()
            deadline = time.monotonic() + 30
            while int(dash.counters["calls"].replace(",", "")) < 5:
                assert time.monotonic() < deadline, "the dashboard saw no calls"
                time.sleep(0.05)
            early = int(dash.refresh()["calls"].replace(",", ""))
            puller.join(timeout=60)
        assert not failures and not puller.is_alive()
        final = int(dash.counters["calls"].replace(",", ""))
        assert early < final and final >= len(codes)
        assert dash.counters["limiter wait"].endswith(" ms/call")
        path = dash.snapshot(tmp_path / "pull.png")
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 1000


def test_a_key_pool_shows_its_keys_calls_and_their_limit_together(clock: Any) -> None:
    stats = StatsManager(clock=clock, limit=60)
    client = SimpleNamespace(
        stats=stats, limiter_config=SimpleNamespace(rate=20.0), keys=[None] * 3
    )
    for i in range(9):
        stats.record_attempt(
            "quote", "FHKST01010100", clock.now(), 0.05, "ok", key=f"key {i % 3 + 1}"
        )
    clock.advance(1.5)
    shown = Dashboard(client).refresh()
    assert shown["calls by key"] == "key 1: 3 (3.0/s) · key 2: 3 (3.0/s) · key 3: 3 (3.0/s)"
    assert shown["calls/s"].endswith(" / 60")
