"""The bar store's scenario: what a moved range costs, what a re-read costs, and the whole
market's new day. It runs on a simulator process of its own, because it moves that server's
clock to the next session (see :mod:`kisresearch.bench.scenarios` for the conventions)."""

from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import pandas as pd

from ..timebase import KST, FollowingClock, is_trading_day
from .report import Figure, ScenarioResult, client_view, count_figure, time_figure
from .scenarios import REAL, Bench, rounded, scenario_result
from .server import SimProcess
from .workers import make_client

VALUES = ["symbol", "date", "open", "high", "low", "close", "volume", "value_traded", "change"]


def _chart_calls(sim: SimProcess) -> int:
    return int(sim.truth()["by_tr_id"].get("FHKST03010100", 0))


def _next_trading_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def store(b: Bench) -> list[ScenarioResult]:
    """A year of daily bars for ``n`` symbols cold; the range widened by a quarter (only the
    new pages), a sub-range and a new client (no request); the store read back; then the whole
    universe brought to the next session with ``update`` (the 30-symbol call)."""
    codes = b.stocks[:30] if b.quick else b.codes
    n = len(codes)
    market = b.codes[:90] if b.quick else b.codes
    sim = SimProcess(b.sim.options, {"store": "real"})
    try:
        key = sim.key("store")
        spec = {
            "app_key": key.app_key, "app_secret": key.app_secret, "base_url": sim.base_url,
            "env": "real", "home": str(b.home("store")), "client_options": {"store": True},
        }  # fmt: skip
        today = datetime.fromtimestamp(sim.now(), KST).date()
        end = today - timedelta(days=120)
        start = end - timedelta(days=365)
        figures: list[Figure] = []
        notes: list[str] = []
        with make_client(spec) as kis:
            kis.auth.token()
            sim.reset_truth()
            t0 = time.perf_counter()
            cold = kis.history(codes, start, end)
            cold_s = time.perf_counter() - t0
            cold_calls = _chart_calls(sim)
            wider_end = end + timedelta(days=91)
            expect = sum(
                math.ceil(sum(is_trading_day(end + timedelta(days=i)) for i in range(1, 92)) / 100)
                for _ in codes
            )
            t0 = time.perf_counter()
            kis.history(codes, start, wider_end)
            wider_s = time.perf_counter() - t0
            wider_calls = _chart_calls(sim) - cold_calls
            sent = _chart_calls(sim)
            kis.history(codes, start + timedelta(days=60), end - timedelta(days=60))
            sub_calls = _chart_calls(sim) - sent
        with make_client(spec) as other:  # a new client on the same folders
            sent = _chart_calls(sim)
            t0 = time.perf_counter()
            again = other.history(codes, start, wider_end)
            again_s = time.perf_counter() - t0
            new_calls = _chart_calls(sim) - sent
            t0 = time.perf_counter()
            held = other.store.read()
            read_s = time.perf_counter() - t0
            summary = other.store.summary()
        pulls = sim.truth()  # before the update's reset
        kept = again[again["date"] <= pd.Timestamp(end)][VALUES].reset_index(drop=True)
        lost = len(cold) - len(kept)
        base = cold[VALUES].reset_index(drop=True)
        differ = int((kept != base).to_numpy().sum()) if not lost else None
        rows = int(summary["rows"].sum())
        years = rows / 250 / max(1, summary["symbol"].nunique())
        per_year = summary["bytes"].sum() / max(1, summary["symbol"].nunique()) / max(years, 1e-9)
        figures += [
            time_figure(f"cold pull, {n:,} symbols × 1 y ({cold_calls:,} calls)", cold_s),
            Figure("cold pull: calls/s", rounded(cold_calls / cold_s), "calls/s"),
            count_figure("cold pull and widening: server rejections (EGW00201)", pulls["rejected"]),
            count_figure("widened by a quarter: calls", wider_calls, "==", expect),
            time_figure("widened: wall time", wider_s),
            count_figure("sub-range: calls", sub_calls),
            count_figure("new client, whole range: calls", new_calls),
            time_figure(f"new client, whole range ({len(again):,} bars)", again_s, 1.0),
            time_figure(f"store.read() of everything ({len(held):,} bars)", read_s, 1.0),
            count_figure("rows lost (read back vs the cold pull)", lost),
            count_figure("values differing from the cold pull", differ),
            Figure("bytes per symbol-year on disk", rounded(per_year), "B"),
            Figure(
                "re-read speed-up over the cold pull",
                rounded(cold_s / again_s if again_s else None),
                "×",
            ),
        ]
        figures += _five_years(b, spec, today)
        figures += _update(
            sim,
            {**spec, "client_options": {"store": str(b.home("store-update"))}},
            market,
            today,
            notes,
        )
        truth = sim.truth()
        with make_client(spec) as last:
            client = client_view(last.stats.summary())
    finally:
        sim.stop()
    title = f"bar store: {n} symbols × 1 y, then {len(market):,} symbols' next session"
    return [
        scenario_result("store", title, REAL, truth, figures=figures, client=client, notes=notes)
    ]


def _five_years(b: Bench, spec: dict[str, Any], today: date) -> list[Figure]:
    """The warm path at the disk's speed: five years of daily bars for the whole universe,
    written straight into a store (made-up values: the read is what is timed), read back by
    ``store.read`` and by ``history`` with no request."""
    import numpy as np

    from ..store import Change
    from ..store import bars as store_bars
    from ..store import spans as sp

    codes = b.codes[:300] if b.quick else b.codes
    start = today - timedelta(days=5 * 365)
    days = pd.bdate_range(start, today - timedelta(days=1))
    n, m = len(codes), len(days)
    with make_client({**spec, "client_options": {"store": str(b.home("store-5y"))}}) as kis:
        dataset = store_bars.daily(True)
        price = np.arange(n * m, dtype=np.int64) % 100_000 + 1_000
        rows = pd.DataFrame(
            {
                "symbol": pd.Series(np.repeat(codes, m), dtype="str"),
                "date": np.tile(days.to_numpy().astype("datetime64[us]"), n),
                **{c: price for c in ("open", "high", "low", "close")},
                "volume": price * 10, "value_traded": price * 10_000, "change": price % 7,
                "change_sign": "2", "ex_code": "00", "split_rate": 0.0, "modified": False,
                "fetched_at": pd.Timestamp.now(tz="UTC"),
            }
        )  # fmt: skip
        span = (sp.day_key(start), sp.day_key(today - timedelta(days=1)))
        t0 = time.perf_counter()
        kis.store.save(dataset, [Change(c, dataset.template.iloc[0:0], span) for c in codes], rows)
        write_s = time.perf_counter() - t0
        reads, histories = [], []
        for _ in range(3):  # the median of three: one read on a busy 2-core machine varies 2x
            t0 = time.perf_counter()
            got = kis.store.read()
            reads.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            df = kis.history(codes, start, today - timedelta(days=1))
            histories.append(time.perf_counter() - t0)
        read_s, history_s = sorted(reads)[1], sorted(histories)[1]
        calls = df.attrs["answers"]
    label = f"{n:,} symbols × 5 y ({len(rows):,} bars)"
    return [
        time_figure(f"{label}: written in one pass", write_s),
        time_figure(f"{label}: store.read(), median of 3", read_s, 1.0),
        time_figure(f"{label}: history() from the store, median of 3", history_s, 1.0),
        count_figure("5-year history from the store: calls", calls),
        count_figure("5-year read back: rows lost", len(rows) - len(got)),
    ]


def _update(
    sim: SimProcess, spec: dict[str, Any], market: list[str], today: date, notes: list[str]
) -> list[Figure]:
    """Hold a week of bars for ``market`` (up to today's settled session), move the server to the
    next session's evening, and
    time ``update`` bringing every symbol to it (after one quote pull, so that the time the
    simulator spends building the new day's bars is not counted). The client follows the
    server's clock, as if the job ran that evening."""

    def evening(day: date) -> None:
        target = datetime.combine(day, clock_time(18, 30), KST).timestamp()
        sim.advance(max(0.0, target - sim.now()))

    with make_client(spec, clock=FollowingClock(sim.now)) as kis:
        if is_trading_day(today):  # held up to today's session, whatever the hour
            evening(today)
        kis.history(market, today - timedelta(days=10), today)
        evening(_next_trading_day(today))
        kis.auth.token()  # a new day may need a new token: not the update's cost
        t0 = time.perf_counter()
        kis.quotes(market, cache=False)  # the simulator builds the new day's bars: not ours
        quotes_s = time.perf_counter() - t0
        sim.reset_truth()
        t0 = time.perf_counter()
        report = kis.update(market, start=today - timedelta(days=10))
        wall = time.perf_counter() - t0
        by = sim.truth()["by_tr_id"]
    methods = report["method"].value_counts().to_dict()
    notes.append(f"update methods: {methods}; server calls by TR: {by}")
    return [
        count_figure(
            f"update, {len(market):,} symbols' new session: calls",
            sum(by.values()),
            "<=",
            math.ceil(len(market) / 30),
        ),
        time_figure("update: wall time", wall, 6.0),
        time_figure("the same quotes alone (the first, on a cold server)", quotes_s),
        count_figure("update: symbols not brought up to date", int((report["added"] == 0).sum())),
    ]
