"""Dashboard: a live picture of a client's stats in a notebook (ipywidgets + matplotlib).

::

    dash = Dashboard(kis)          # or Dashboard(kis.stats)
    dash.display()                 # or leave ``dash`` as the last line of a cell
    dash.start()                   # refresh about once a second from a daemon thread
    df = kis.quotes(codes, detail=True)
    dash.stop()                    # joins the thread; shows the final state
    dash.snapshot("run.png")       # the current state as a file (PNG, SVG, PDF by suffix)

    with Dashboard.watch(kis):     # display + start ... stop, in one cell; counts the block only
        df = kis.quotes(codes, detail=True)

Three plots over the last ``window`` complete seconds: calls/s with the limit as a
horizontal line (and a tick), the error and rejection rates, and the cache hit ratio; plus
counters (calls, errors, retries, cache hits, tokens issued, limiter wait) from the running
totals. The limiter wait is the mean wait per call: threads wait side by side, so their summed
wait (``stats.summary()["wait_s"]``) can exceed the wall time many times over.

Under Voila a cell's output appears when the cell ends, and only with progressive rendering
before the whole notebook has run (``notebooks/voila.json`` turns it on): show the dashboard
in a cell before the pull's, not with :meth:`Dashboard.watch` in the pull's own cell.

Why it is built this way:

- ipywidgets and matplotlib are imported only when a Dashboard is made, so ``import
  kisresearch`` (and this module) stays light.
- The background thread only sets widget traits (``Image.value`` = SVG bytes, ``HTML.value``),
  which ipykernel sends from any thread; it never writes into an Output widget. Each frame is
  drawn on a fresh :class:`matplotlib.figure.Figure` with an Agg canvas, never through pyplot
  (whose global state is not thread-safe) and without touching the notebook's backend.
- The thread holds only a weak reference to the dashboard, so a dashboard that is garbage
  collected stops its thread; :func:`weakref.finalize` also stops it at interpreter exit.
- The second still in progress is left out of the plots (it would show as a false dip); the
  counters are running totals and include it.
- The plots are SVG, crisp at any device-pixel ratio and zoom, shown at their own size (no
  stretching); the live image has no headline, the counter row above it says the same.
- Every axis starts a little below zero, so a line at 0 (no errors) shows above the axis.
"""

from __future__ import annotations

import html
import io
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..observe.stats import StatsManager

__all__ = ["Dashboard"]

log = logging.getLogger(__name__)

COUNTERS = (
    "calls",
    "calls/s",
    "rate-limited",
    "errors",
    "retries",
    "cache hits",
    "tokens issued",
    "limiter wait",
    "calls by key",
)
"""Names of the counters shown (keys of :attr:`Dashboard.counters`), in order."""

_THREAD_NAME = "kisresearch-dashboard"
_FIGSIZE = (7.5, 6.0)  # inches; shown at 96 CSS px per inch: 720 x 576 px, an SVG of ~90 kB
_CSS_DPI = 96
_SNAPSHOT_DPI = 2 * _CSS_DPI  # raster snapshots at two device pixels per CSS pixel
_BELOW_ZERO = 0.04  # of each y range: room under 0 so a zero line clears the axis
_DIFFERENCES = (
    "calls",
    "ok",
    "rate_limited",
    "errors",
    "transport_errors",
    "retries",
    "cache_hits",
    "cache_misses",
    "tokens_issued",
    "wait_s",
)  # the summary's running totals that from_now counts from its baseline


@dataclass(frozen=True)
class _State:
    """What one refresh shows: read once from the stats, then drawn without locks."""

    seconds: pd.DataFrame  # complete seconds in the window; KST wall time (naive) index
    summary: dict[str, Any]
    limit: float | None


class Dashboard:
    """Live plots and counters of a :class:`~kisresearch.KIS` client's stats.

    Parameters
    ----------
    source : KIS or StatsManager
        A client (its ``stats`` are read) or a stats manager.
    interval : float
        Seconds between refreshes once :meth:`start` ed.
    window : int
        Seconds of history in the plots.
    limit : float, optional
        The calls/s limit drawn on the rate plot; default: the client's
        ``limiter_config.rate``, else ``stats.summary()["limit"]``.
    from_now : bool
        Count only what happens after the dashboard is made: the counters show differences
        from the totals at that moment and the plots start at its second
        (:meth:`watch` sets it).

    Keep a reference to a started dashboard: when it is garbage collected its thread stops.
    """

    def __init__(
        self,
        source: Any,
        *,
        interval: float = 1.0,
        window: int = 60,
        limit: float | None = None,
        from_now: bool = False,
    ) -> None:
        if not interval > 0:
            raise ConfigError(f"interval must be a positive number of seconds, got {interval!r}")
        if int(window) < 2:
            raise ConfigError(f"window must be at least 2 seconds, got {window!r}")
        if limit is not None and not limit > 0:
            raise ConfigError(f"limit must be a positive number of calls/s, got {limit!r}")
        import ipywidgets as w

        self._source = source
        self.stats: StatsManager = getattr(source, "stats", source)
        self.interval = float(interval)
        self.window = int(window)
        self._limit = float(limit) if limit is not None else None
        self._base = self.stats.summary() if from_now else None
        self._lock = threading.RLock()  # one refresh at a time (thread, user, stop)
        self._thread: threading.Thread | None = None
        self._finalizer: weakref.finalize[Any, Dashboard] | None = None
        self._failed: str | None = None  # last refresh error seen by the thread
        self.counters: dict[str, str] = dict.fromkeys(COUNTERS, "-")
        """The counter texts last shown, by name (see :data:`COUNTERS`)."""

        width = f"{_FIGSIZE[0] * _CSS_DPI:g}px"  # the SVG's own size: never stretched
        self._image = w.Image(format="svg+xml", layout=w.Layout(width="100%", max_width=width))
        self._cells = {name: w.HTML() for name in COUNTERS}
        self._status = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox(list(self._cells.values()), layout=w.Layout(flex_flow="row wrap")),
                self._image,
                self._status,
            ]
        )
        self.widget.add_class("kisresearch-dashboard")
        """The ipywidgets VBox that :meth:`display` shows (CSS class ``kisresearch-dashboard``)."""
        self.refresh()
        self._set_status("stopped")

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        """Whether the refresh thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Dashboard:
        """Refresh every ``interval`` seconds from a daemon thread (a no-op when running)."""
        with self._lock:
            if self.running:
                return self
            stop = threading.Event()
            thread = threading.Thread(
                target=_run,
                args=(weakref.ref(self), stop, self.interval),
                name=_THREAD_NAME,
                daemon=True,
            )
            self._thread = thread
            self._finalizer = weakref.finalize(self, _halt, stop, thread)
            self._failed = None
            self._set_status(f"running: refreshing every {self.interval:g} s")
            thread.start()
        return self

    def stop(self) -> None:
        """Stop and join the refresh thread, then show the final state; safe to call again."""
        with self._lock:  # not held while joining: the thread's refresh takes it
            finalizer, self._finalizer, self._thread = self._finalizer, None, None
        if finalizer is None:
            return
        finalizer()  # sets the stop event and joins the thread
        self._tick()  # the final state; a failure is logged and shown, not raised
        self._set_status(
            "stopped" + (f" (last refresh failed: {self._failed})" if self._failed else "")
        )

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @classmethod
    @contextmanager
    def watch(cls, source: Any, **options: Any) -> Iterator[Dashboard]:
        """Display a new dashboard, run it for the ``with`` block, then stop it.

        The counters and plots cover the block only (``from_now=True``); ``options`` go to
        :class:`Dashboard` (``interval``, ``window``, ``limit``). Under Voila the view appears
        only when the cell ends (see the module's notes).
        """
        dash = cls(source, from_now=True, **options)
        dash.display()
        dash.start()
        try:
            yield dash
        finally:
            dash.stop()

    # ------------------------------------------------------------------ display
    def display(self) -> None:
        """Show the dashboard in the notebook (it keeps updating after the cell ends)."""
        from IPython.display import display

        display(self.widget)

    def _ipython_display_(self) -> None:
        self.display()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Dashboard({state}, interval={self.interval:g}s, window={self.window}s)"

    # ------------------------------------------------------------------ views
    def refresh(self) -> dict[str, str]:
        """Read the stats once and update the plots and counters; return the counter texts."""
        with self._lock:
            state = self._read()
            svg = _svg(_render(state, headline=False))
            texts = _counter_texts(state)
            for name, text in texts.items():
                self._cells[name].value = _cell_html(name, text)
            self._image.value = svg
            self.counters = texts
            return dict(texts)

    def figure(self) -> Figure:
        """A new matplotlib Figure of the current state, headline included (yours to keep)."""
        return _render(self._read(), headline=True)

    def snapshot(self, path: str | os.PathLike[str]) -> Path:
        """Write the current state to ``path`` (headless) and return the path.

        The format follows the suffix (``.png``, ``.svg``, ``.pdf``, ...; PNG without one);
        rasters have two pixels per CSS pixel of the live view.
        """
        target = Path(path).expanduser()
        self.figure().savefig(target, dpi=_SNAPSHOT_DPI)
        return target

    @property
    def image(self) -> bytes:
        """The SVG bytes last shown."""
        return bytes(self._image.value)

    def _read(self) -> _State:
        summary = self.stats.summary()
        now = _now(summary)
        frame = self.stats.frame(last=self.window + 1)
        first = None
        if self._base is not None:
            summary = _since(summary, self._base)
            first = int(_now(self._base))
        seconds = _complete_seconds(frame, now, self.window, first)
        return _State(seconds, summary, self._limit_now(summary))

    def _limit_now(self, summary: Mapping[str, Any]) -> float | None:
        if self._limit is not None:
            return self._limit
        rate = getattr(getattr(self._source, "limiter_config", None), "rate", None)
        if rate:  # a key pool's limit is its keys' together
            return float(rate) * len(getattr(self._source, "keys", None) or [None])
        limit = summary.get("limit")
        return float(limit) if isinstance(limit, int | float) and limit > 0 else None

    def _set_status(self, text: str) -> None:
        self._status.value = f"<small style='color:#666'>dashboard {html.escape(text)}</small>"

    def _tick(self) -> None:
        """One refresh that never raises: a failure is shown, and logged once until a success."""
        try:
            self.refresh()
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if message != self._failed:
                log.warning("kisresearch dashboard: refresh failed: %s", message, exc_info=True)
                self._failed = message
                self._set_status(f"running; last refresh failed: {message}")
        else:
            if self._failed is not None:
                self._failed = None
                if self.running:
                    self._set_status(f"running: refreshing every {self.interval:g} s")


# ---------------------------------------------------------------------- the thread
def _run(ref: weakref.ref[Dashboard], stop: threading.Event, interval: float) -> None:
    """Refresh on a steady schedule until ``stop`` is set or the dashboard is collected."""
    due = time.monotonic()
    while True:
        dash = ref()
        if dash is None:
            return
        dash._tick()
        del dash  # hold no reference while waiting: the dashboard may be collected
        due = max(due + interval, time.monotonic())
        if stop.wait(due - time.monotonic()):
            return


def _halt(stop: threading.Event, thread: threading.Thread) -> None:
    """Stop the thread (from stop(), garbage collection or interpreter exit)."""
    stop.set()
    if thread is not threading.current_thread() and thread.is_alive():
        thread.join()


# ---------------------------------------------------------------------- drawing (pure)
def _now(summary: Mapping[str, Any]) -> float:
    """The epoch time a summary was taken at."""
    return float(datetime.fromisoformat(summary["started"]).timestamp() + summary["elapsed_s"])


def _since(summary: dict[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """``summary`` with its running totals counted from ``base`` (an earlier summary)."""
    out = {**summary, **{k: summary[k] - base[k] for k in _DIFFERENCES}}
    lookups = out["cache_hits"] + out["cache_misses"]
    out["cache_hit_ratio"] = out["cache_hits"] / lookups if lookups else math.nan
    out["error_rate"] = out["errors"] / out["calls"] if out["calls"] else math.nan
    before = base.get("by_key", {})
    out["by_key"] = {
        k: {**v, "calls": v["calls"] - before.get(k, {}).get("calls", 0)}
        for k, v in summary.get("by_key", {}).items()
    }
    return out


def _complete_seconds(
    frame: pd.DataFrame, now: float, window: int, start: int | None = None
) -> pd.DataFrame:
    """The complete seconds of the last ``window`` (quiet ones as zero rows; none if empty),
    from second ``start`` (epoch) on when it is given.

    The index becomes naive KST wall time, which matplotlib draws as is.
    """
    import pandas as pd

    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start, unit="s", tz="Asia/Seoul")]
    if frame.empty:
        return frame.set_axis(frame.index.tz_localize(None))
    last = pd.Timestamp(int(now) - 1, unit="s", tz="Asia/Seoul").tz_localize(None)
    first = max(frame.index[0].tz_localize(None), last - pd.Timedelta(seconds=window - 1))
    if first > last:  # only the second in progress has events
        return frame.iloc[:0].set_axis(frame.index[:0].tz_localize(None))
    seconds = pd.date_range(first, last, freq="s", unit="s", name="time")
    out = frame.set_axis(frame.index.tz_localize(None)).reindex(seconds)
    counts = ["calls", "ok", "rate_limited", "errors", "retries", "cache_hits", "cache_misses"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["calls_per_s"] = out["calls_per_s"].fillna(0.0)
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, NaN where den is 0 (no division warnings)."""
    return (num / den.where(den > 0)).astype("float64")


def _rate_ticks(top: float, limit: float | None) -> list[float]:
    """Ticks for the calls/s axis up to ``top``: multiples of a step that divides ``limit``
    (20/s: 0, 5, 10, 15, 20), else matplotlib's integer ticks with the limit put in."""
    from matplotlib.ticker import MaxNLocator

    if limit:
        for n in (4, 5, 3, 2, 6):
            step = limit / n
            if step == int(step) and top / step <= 8:
                return [i * step for i in range(int(top / step) + 1)]
    ticks = [float(t) for t in MaxNLocator(integer=True).tick_values(0, top) if 0 <= t <= top]
    if not limit:
        return ticks
    room = (ticks[1] - ticks[0]) / 2 if len(ticks) > 1 else 0.0
    return sorted([t for t in ticks if abs(t - limit) >= room] + [limit])


def _set_ylim(ax: Any, top: float) -> None:
    """0 to ``top``, with a little room below 0 so a line at zero clears the axis."""
    ax.set_ylim(-_BELOW_ZERO * top, top)


def _render(state: _State, *, headline: bool) -> Figure:
    import matplotlib.dates as mdates
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, PercentFormatter

    s, limit, data = state.summary, state.limit, state.seconds
    # fixed margins: a layout engine would double the draw time, and every millisecond of
    # drawing holds the GIL that the pull's threads need to leave on time
    fig = Figure(figsize=_FIGSIZE, dpi=_CSS_DPI)
    FigureCanvasAgg(fig)
    rate_ax, err_ax, hit_ax = fig.subplots(3, 1, sharex=True)
    top = 0.9 if headline else 0.95
    fig.subplots_adjust(left=0.09, right=0.8, top=top, bottom=0.08, hspace=0.4)
    if headline:
        fig.suptitle(_headline(state), fontsize=10)

    limit_text = f" (limit {limit:g}/s)" if limit else ""
    rate_ax.set_title(f"calls/s{limit_text}", fontsize=10, loc="left")
    rate_ax.set_ylabel("calls/s")
    err_ax.set_title(
        f"error and rejection rate (run: {_pct(s['error_rate'])} errors)", fontsize=10, loc="left"
    )
    hit_ax.set_title(
        f"cache hit ratio (run: {_pct(s['cache_hit_ratio'])})", fontsize=10, loc="left"
    )
    for ax in (err_ax, hit_ax):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _set_ylim(hit_ax, 1.05)
    peak = float(data["calls_per_s"].max()) if len(data) else 0.0
    rate_top = max(1.0, peak * 1.1, (limit or 0.0) * 1.15)
    _set_ylim(rate_ax, rate_top)
    rate_ax.yaxis.set_major_locator(FixedLocator(_rate_ticks(rate_top, limit)))
    if limit:
        rate_ax.axhline(limit, color="tab:red", linestyle="--", linewidth=1, label="limit")

    if data.empty:
        _set_ylim(err_ax, 0.1)
        for ax in (rate_ax, err_ax, hit_ax):
            ax.text(
                0.5,
                0.5,
                "no data yet",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="0.6",
            )
        hit_ax.tick_params(labelbottom=False)
        hit_ax.set_xlabel("time (KST)")
        return fig

    x = data.index.to_numpy()
    calls = data["calls"]
    rate_ax.plot(x, data["calls_per_s"], marker=".", markersize=3, label="calls/s")
    rejected = data["rate_limited"]
    if rejected.any():
        rate_ax.plot(
            x, rejected, color="tab:orange", marker=".", markersize=3, label="rate-limited/s"
        )
    _legend(rate_ax)

    err = _ratio(data["errors"], calls)
    rej = _ratio(data["rate_limited"], calls)
    err_ax.plot(x, err, color="tab:red", marker=".", markersize=3, label="errors / calls")
    err_ax.plot(x, rej, color="tab:orange", marker=".", markersize=3, label="rejected / calls")
    worst = max((v for v in (err.max(), rej.max()) if not math.isnan(v)), default=0.0)
    _set_ylim(err_ax, min(1.05, max(0.1, worst * 1.2)))
    _legend(err_ax)

    hits = _ratio(data["cache_hits"], data["cache_hits"] + data["cache_misses"])
    hit_ax.plot(x, hits, color="tab:green", marker=".", markersize=3, label="per second")
    if not math.isnan(s["cache_hit_ratio"]):
        hit_ax.axhline(s["cache_hit_ratio"], color="0.5", linestyle=":", linewidth=1, label="run")
    _legend(hit_ax)

    pad = np.timedelta64(500, "ms")  # half a second each side: one point is not a singular axis
    hit_ax.set_xlim(x[0] - pad, x[-1] + pad)
    hit_ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=7))
    hit_ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    hit_ax.set_xlabel("time (KST)")
    return fig


def _legend(ax: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _svg(figure: Figure) -> bytes:
    buf = io.BytesIO()
    figure.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _headline(state: _State) -> str:
    t = _counter_texts(state)
    return " · ".join(
        f"{name} {t[name]}"
        for name in ("calls", "errors", "retries", "cache hits", "tokens issued", "limiter wait")
    )


def _counter_texts(state: _State) -> dict[str, str]:
    s, data = state.summary, state.seconds
    current = int(data["calls"].iloc[-1]) if len(data) else 0
    of_limit = f" / {state.limit:g}" if state.limit else ""
    return {
        "calls": f"{s['calls']:,}",
        "calls/s": f"{current}{of_limit}",
        "rate-limited": f"{s['rate_limited']:,}",
        "errors": f"{s['errors']:,}",
        "retries": f"{s['retries']:,}",
        "cache hits": f"{s['cache_hits']:,} ({_pct(s['cache_hit_ratio'])})",
        "tokens issued": f"{s['tokens_issued']:,}",
        "limiter wait": _wait_per_call(s["wait_s"], s["calls"]),
        "calls by key": " · ".join(
            f"{k}: {v['calls']:,} ({v['calls_per_s']:.1f}/s)" for k, v in s["by_key"].items()
        )
        or "-",  # a key pool's, each with its mean rate; one key has no breakdown
    }


def _cell_html(name: str, text: str) -> str:
    return (
        "<div style='min-width:96px;margin:0 12px 4px 0'>"
        f"<div style='font-size:11px;color:#666'>{html.escape(name)}</div>"
        f"<div data-counter='{html.escape(name)}' style='font-size:16px;font-weight:600'>"
        f"{html.escape(text)}</div></div>"
    )


def _wait_per_call(wait_s: float, calls: int) -> str:
    """The mean limiter wait per call, in ms (or s from 10 s up)."""
    if not calls:
        return "-"
    mean = wait_s / calls
    return f"{mean:.1f} s/call" if mean >= 10 else f"{mean * 1000:,.0f} ms/call"


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"
