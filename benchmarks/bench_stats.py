"""Micro-benchmark: microseconds per ``StatsManager.record_attempt`` (not a test).

    python benchmarks/bench_stats.py [events]

Measures the hot path the client's worker threads hit once per request, on the system clock
(so bucket rollovers and the once-a-second warning check are included), alone and with eight
threads contending for the lock. The goal is < 20 µs per event.
"""

from __future__ import annotations

import sys
import threading
import time

from kisresearch.observe.logs import install_null_handler
from kisresearch.observe.stats import StatsManager

OUTCOMES = ("ok",) * 17 + ("rate_limited", "error", "transport")
ENDPOINTS = ("quotations/inquire-price", "quotations/inquire-daily-itemchartprice")


def bench(events: int = 200_000, threads: int = 1) -> float:
    """Record ``events`` attempts spread over ``threads`` threads; return µs per event."""
    stats = StatsManager(limit=20.0)
    per_thread = events // threads

    def work() -> None:
        record = stats.record_attempt
        for i in range(per_thread):
            outcome = OUTCOMES[i % len(OUTCOMES)]
            record(ENDPOINTS[i & 1], "FHKST01010100", 0.0, 0.001 * (i % 97), outcome, None)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    assert stats.totals["calls"] == per_thread * threads
    return elapsed / (per_thread * threads) * 1e6


def main(argv: list[str] | None = None) -> dict[str, float]:
    install_null_handler()  # as the package does: the budget warnings stay out of the output
    args = sys.argv[1:] if argv is None else argv
    events = int(args[0]) if args else 200_000
    results = {"1 thread": bench(events, 1), "8 threads": bench(events, 8)}
    for name, us in results.items():
        print(f"record_attempt, {name}: {us:.2f} µs/event ({events} events)")
    return results


if __name__ == "__main__":
    main()
