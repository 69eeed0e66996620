"""The benchmark's measurements and its outputs: figures with goals, rates, JSON, PNG, table.

Rates are measured two ways, both over the span of accepted calls only:

- *server*: the simulator's ``per_second`` truth (accepted calls per second of arrival time).
  The first and last seconds are partial, so the rate is the mean over the seconds strictly
  between them (seconds with no call count as 0);
- *wall*: the client's own clock around each HTTP attempt (:class:`CallTimer`): ``n - 1``
  gaps between the first and the last accepted start, ``(n - 1) / (last - first)``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..errors import RateLimited

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


@dataclass
class Figure:
    """One measured figure beside its goal.

    ``op``/``target`` state the goal; ``on`` says whether it applies to ``value`` or to
    ``ratio`` (a rate divided by the limit). For times ``ratio`` is the share of the goal used.
    """

    name: str
    value: float | None
    unit: str = ""
    op: str | None = None
    target: float | None = None
    on: str = "value"
    ratio: float | None = None

    @property
    def ok(self) -> bool | None:
        """True/False against the goal; None when there is no goal or no measurement."""
        if self.op is None or self.target is None:
            return None
        got = self.ratio if self.on == "ratio" else self.value
        if got is None or (isinstance(got, float) and math.isnan(got)):
            return None
        return _OPS[self.op](got, self.target)

    @property
    def goal(self) -> str:
        if self.op is None or self.target is None:
            return ""
        what = "ratio " if self.on == "ratio" else ""
        unit = f" {self.unit}" if self.on == "value" and self.unit else ""
        return f"{what}{self.op} {self.target:g}{unit}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(goal=self.goal, ok=self.ok)
        return d


def rate_figure(name: str, rate: float | None, limit: float, target: float) -> Figure:
    """A calls/s figure whose goal is ``rate / limit >= target``."""
    ratio = rate / limit if rate is not None else None
    return Figure(name, _round(rate), "calls/s", ">=", target, "ratio", _round(ratio, 4))


def time_figure(
    name: str, seconds: float | None, goal: float | None = None, unit: str = "s"
) -> Figure:
    """A duration; with ``goal`` the goal is ``seconds < goal`` and ratio the share used."""
    scale = {"s": 1.0, "ms": 1e3, "µs": 1e6}[unit]
    value = seconds * scale if seconds is not None else None
    target = goal * scale if goal is not None else None
    ratio = seconds / goal if seconds is not None and goal else None
    return Figure(
        name,
        _round(value),
        unit,
        "<" if goal is not None else None,
        target,
        "value",
        _round(ratio, 4),
    )


def count_figure(
    name: str, count: float | None, op: str | None = "==", target: float | None = 0, unit: str = ""
) -> Figure:
    return Figure(name, count, unit, op if target is not None else None, target)


def _round(x: float | None, digits: int = 3) -> float | None:
    if x is None or math.isnan(x):
        return None
    return round(float(x), digits)


@dataclass
class ScenarioResult:
    """One scenario's figures, the server's truth, the client's view and notes."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    limit: float | None = None
    truth: dict[str, Any] | None = None
    client: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool | None:
        if self.error:
            return False
        verdicts = [f.ok for f in self.figures if f.ok is not None]
        return all(verdicts) if verdicts else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "ok": self.ok,
            "skipped": self.skipped,
            "error": self.error,
            "seconds": round(self.seconds, 2),
            "limit": self.limit,
            "figures": [f.to_dict() for f in self.figures],
            "truth": self.truth,
            "client": self.client,
            "details": self.details,
            "notes": self.notes,
        }


# -- rates ---------------------------------------------------------------------------------


MIN_WHOLE_SECONDS = 3


def server_rate(per_second: Sequence[Mapping[str, int]]) -> float | None:
    """Accepted calls per second over the whole seconds strictly inside the span of accepted
    calls; None with fewer than :data:`MIN_WHOLE_SECONDS` of them (whole-second counts of a
    shorter run say more about where the second boundaries fell than about the rate)."""
    secs = {int(p["second"]): int(p["accepted"]) for p in per_second if p["accepted"] > 0}
    if not secs:
        return None
    first, last = min(secs), max(secs)
    inner = range(first + 1, last)
    if len(inner) < MIN_WHOLE_SECONDS:
        return None
    return sum(secs.get(s, 0) for s in inner) / len(inner)


def span_rate(starts: Iterable[float]) -> float | None:
    """``(n - 1) / (last - first)`` over the start times of accepted calls."""
    ts = sorted(starts)
    if len(ts) < 2 or ts[-1] <= ts[0]:
        return None
    return (len(ts) - 1) / (ts[-1] - ts[0])


class CallTimer:
    """Wraps a client's ``transport.send`` to note when each HTTP attempt started and how it
    ended (``ok``, ``rate_limited``, ``error``) on the wall clock (``time.time``).

    It also wraps ``limiter.acquire`` and its store's ``update`` to measure the *lag*: how
    late each send started after the slot the limiter last reserved for it (when the store's
    decision returned, plus the wait it handed out). A late thread wake-up, the GIL or a
    descheduled process all show here; the limiter's ``jitter_allowance`` has to cover this
    lag on top of the network's own jitter.
    """

    def __init__(self, kis: Any) -> None:
        self._send = kis.transport.send
        self._acquire = kis.limiter.acquire
        self._lock = threading.Lock()
        self._local = threading.local()
        self.calls: list[tuple[float, float, str]] = []
        self.lags: list[float] = []
        self.acquires = 0  # limiter.acquire calls
        self.reservations = 0  # store decisions made inside them (more: slots given up)
        self.decisions: list[float] = []  # seconds each of those decisions took
        kis.transport.send = self
        kis.limiter.acquire = self.acquire
        store = getattr(kis.limiter, "store", None)  # a NullLimiter has none
        if store is not None:
            self._update = store.update
            store.update = self._timed_update

    def _timed_update(self, fn: Any) -> Any:
        entered = time.time()
        result = self._update(fn)
        if getattr(self._local, "acquiring", False) and isinstance(result, int | float):
            decided = time.time()
            self._local.slot = decided + float(result)  # the latest reservation wins
            with self._lock:
                self.reservations += 1
                self.decisions.append(decided - entered)
        return result

    def acquire(self, cost: int = 1) -> float:
        self._local.acquiring, self._local.slot = True, None
        with self._lock:
            self.acquires += 1
        try:
            return float(self._acquire(cost))
        finally:
            self._local.acquiring = False

    def __call__(self, request: Any, headers: Any) -> Any:
        started = time.time()
        slot = getattr(self._local, "slot", None)
        self._local.slot = None
        outcome = "error"
        try:
            response = self._send(request, headers)
            outcome = "ok"
            return response
        except RateLimited:
            outcome = "rate_limited"
            raise
        finally:
            with self._lock:
                self.calls.append((started, time.time(), outcome))
                if slot is not None:
                    self.lags.append(max(0.0, started - slot))

    @property
    def given_up(self) -> int:
        """Reserved slots the limiter gave up and re-took (it woke too late for them)."""
        with self._lock:
            return max(0, self.reservations - self.acquires)

    def starts(self, outcome: str = "ok") -> list[float]:
        with self._lock:
            return [s for s, _, o in self.calls if o == outcome]

    def count(self, outcome: str) -> int:
        with self._lock:
            return sum(1 for *_, o in self.calls if o == outcome)


def lag_stats(lags: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and max of durations (send lags, store decisions), in milliseconds."""
    if not lags:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    ts = sorted(lags)

    def q(p: float) -> float:
        return round(ts[min(len(ts) - 1, int(p * len(ts)))] * 1e3, 2)

    return {"p50_ms": q(0.5), "p95_ms": q(0.95), "max_ms": round(ts[-1] * 1e3, 2)}


CLIENT_FIELDS = (
    "calls",
    "ok",
    "rate_limited",
    "errors",
    "retries",
    "cache_hits",
    "cache_misses",
    "tokens_issued",
    "wait_s",
    "latency_p50",
    "latency_p95",
)


def client_view(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The client's own counters (``kis.stats.summary()``), JSON-safe."""
    out: dict[str, Any] = {}
    for k in CLIENT_FIELDS:
        v = summary.get(k)
        out[k] = None if isinstance(v, float) and math.isnan(v) else v
        if isinstance(out[k], float):
            out[k] = round(out[k], 4)
    return out


def truth_view(truth: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "accepted",
        "rejected",
        "max_in_window",
        "tokens_issued",
        "tokens_reused",
        "per_second",
        "by_tr_id",
        "errors",
    )
    return {k: truth.get(k) for k in keep}


# -- outputs -------------------------------------------------------------------------------


def write_json(report: Mapping[str, Any], path: Path) -> None:
    path.write_text(
        json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8"
    )


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        s = f"{x:,.3f}".rstrip("0").rstrip(".") if abs(x) < 1000 else f"{x:,.0f}"
    else:
        s = f"{x:,}" if isinstance(x, int) else str(x)
    return f"{s} {unit}".strip()


def _verdict(ok: bool | None) -> str:
    return {True: "ok", False: "MISS", None: ""}[ok]


def rows(results: Sequence[ScenarioResult]) -> list[tuple[str, str, str, str, str]]:
    """(figure, goal, measured, ratio, verdict) for every figure, prefixed by its scenario."""
    out = []
    for r in results:
        if r.skipped:
            out.append((f"{r.name}: skipped", "", r.skipped, "", ""))
            continue
        if r.error:
            out.append((f"{r.name}: failed", "", r.error.splitlines()[0][:100], "", "FAIL"))
            continue
        for f in r.figures:
            ratio = "" if f.ratio is None else f"{f.ratio:.3f}"
            out.append(
                (f"{r.name}: {f.name}", f.goal, _fmt(f.value, f.unit), ratio, _verdict(f.ok))
            )
    return out


def print_table(results: Sequence[ScenarioResult], out: TextIO) -> None:
    header = ("figure", "goal", "measured", "ratio", "")
    table = [header, *rows(results)]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    for n, r in enumerate(table):
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths).rstrip() + "\n")


def markdown_table(results: Sequence[ScenarioResult]) -> str:
    lines = ["| figure | goal | measured | ratio | |", "|---|---|---|---|---|"]
    for r in rows(results):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(lines) + "\n"


def chart(results: Sequence[ScenarioResult], path: Path) -> bool:
    """Calls/s against the limit, per second of server time, one panel per scenario with
    server truth; rejections in red, cache hits noted. False if nothing to draw."""
    panels = [r for r in results if r.truth and r.truth.get("per_second")]
    if not panels:
        return False
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(10, 2.2 * len(panels) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, r in zip(axes, panels, strict=True):
        assert r.truth is not None
        per = r.truth["per_second"]
        t0 = min(int(p["second"]) for p in per)
        xs = [int(p["second"]) - t0 for p in per]
        acc = [int(p["accepted"]) for p in per]
        rej = [int(p["rejected"]) for p in per]
        ax.bar(xs, acc, width=0.9, color="#4c72b0", label="accepted")
        if any(rej):
            ax.bar(xs, rej, width=0.9, bottom=acc, color="#dd3333", label="rejected (EGW00201)")
            ax.plot(
                [x for x, n in zip(xs, rej, strict=True) if n],
                [a + n for a, n in zip(acc, rej, strict=True) if n],
                "rv",
                markersize=4,
            )
        if r.limit:
            ax.axhline(
                r.limit, color="black", linestyle="--", linewidth=1, label=f"limit {r.limit:g}/s"
            )
        hits = r.client.get("cache_hits") or r.details.get("cache_hits")
        note = f", cache hits {hits}" if hits else ""
        ax.set_title(
            f"{r.name}: {r.title} — accepted {r.truth['accepted']}, rejected "
            f"{r.truth['rejected']}, max in 1-s window {r.truth['max_in_window']}"
            f"{note}",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel("calls/s")
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("seconds since the scenario's first call (server arrival time)")
    fig.savefig(path, dpi=100)
    return True
