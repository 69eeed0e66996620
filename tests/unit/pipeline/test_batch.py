"""BatchRunner: order, isolation, timeouts, bounds, batches, progress, Ctrl-C, lifecycle.

Slow items are made with events and short real sleeps; runs whose order matters are stepped
one outcome at a time from the test's thread (:class:`Stepper`). Assertions are on outcomes
and counts, never on elapsed time.
"""

from __future__ import annotations

import _thread
import gc
import logging
import pickle
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kisresearch.errors import ConfigError, KISError
from kisresearch.pipeline.batch import (
    AdaptiveSize,
    BatchInterrupted,
    BatchRecord,
    BatchRunner,
    ItemCancelled,
    ItemTimeout,
    Meter,
)
from tests.conftest import FakeClock

Make = Callable[..., BatchRunner]


def pool_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("kis-batch")}


@pytest.fixture
def make() -> Iterator[Make]:
    made: list[BatchRunner] = []

    def make(**kwargs: Any) -> BatchRunner:
        kwargs.setdefault("progress", False)
        runner = BatchRunner(**kwargs)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


class Running:
    """Counts calls running at once, under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = self.calls = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


# -- outcomes --------------------------------------------------------------------------------


def test_one_outcome_per_item_in_item_order(make: Make) -> None:
    shared = [3]
    items = [[i % 7] for i in range(40)] + [shared, shared]  # unhashable, with duplicates

    def fn(item: list[int]) -> int:
        time.sleep(0.001 * (6 - item[0]))  # later items tend to finish first
        return item[0] * 10

    outcomes = make(workers=4).run(items, fn)
    assert len(outcomes) == len(items)
    assert all(o.item is item for o, item in zip(outcomes, items, strict=True))
    assert [o.value for o in outcomes] == [item[0] * 10 for item in items]
    assert all(o.ok and o.error is None and o.seconds >= 0 for o in outcomes)


def test_empty_run_starts_nothing(make: Make) -> None:
    before = pool_threads()
    assert make().run([], str) == []
    assert pool_threads() == before


def test_errors_stay_with_their_item(make: Make) -> None:
    def fn(i: int) -> int:
        if i % 3 == 0:
            raise ValueError(f"bad {i}")
        return -i

    outcomes = make(workers=3).run(range(30), fn)
    assert len(outcomes) == 30
    for i, outcome in enumerate(outcomes):
        assert outcome.item == i
        if i % 3 == 0:
            assert not outcome.ok and outcome.value is None
            assert isinstance(outcome.error, ValueError) and str(outcome.error) == f"bad {i}"
        else:
            assert outcome.ok and outcome.value == -i


def test_single_item_runs_inline_without_a_pool(make: Make) -> None:
    before = pool_threads()
    seen: list[threading.Thread] = []

    def fn(x: int) -> int:
        seen.append(threading.current_thread())
        return x + 1

    runner = make(workers=4)
    [outcome] = runner.run([41], fn)
    assert outcome.ok and outcome.value == 42
    assert seen == [threading.current_thread()]
    assert pool_threads() == before
    [failed] = runner.run(["x"], int)
    assert isinstance(failed.error, ValueError)
    assert [(r.items, r.errors) for r in runner.history] == [(1, 0), (1, 1)]


# -- timeouts --------------------------------------------------------------------------------


def test_timeout_marks_only_the_slow_item(make: Make) -> None:
    release = threading.Event()

    def fn(i: int) -> int:
        if i == 3:
            release.wait(30)
        return i

    runner = make(workers=2, timeout=1.0)
    try:
        outcomes = runner.run(range(12), fn)
        assert not release.is_set()  # the run returned while the slow call still hangs
    finally:
        release.set()
    slow = outcomes[3].error
    assert isinstance(slow, ItemTimeout) and isinstance(slow, KISError)
    assert isinstance(slow, TimeoutError) and slow.index == 3
    assert outcomes[3].seconds >= 0.999 and "background" in str(slow)
    assert [o.value for i, o in enumerate(outcomes) if i != 3] == [i for i in range(12) if i != 3]
    assert sum(r.timeouts for r in runner.history) == 1


def test_an_item_that_never_started_times_out_and_never_runs(make: Make) -> None:
    release = threading.Event()
    calls: list[int] = []

    def fn(i: int) -> int:
        calls.append(i)
        release.wait(30)
        return i

    runner = make(workers=1, timeout=0.5)
    try:
        outcomes = runner.run([0, 1], fn)
    finally:
        release.set()
    runner.close()  # joins the pool: whatever was going to run has run
    assert [type(o.error) for o in outcomes] == [ItemTimeout, ItemTimeout]
    assert "not started" in str(outcomes[1].error)
    assert calls == [0]


def test_item_timeout_pickles() -> None:
    error = pickle.loads(pickle.dumps(ItemTimeout("late", index=4, seconds=1.5)))
    assert (str(error), error.index, error.seconds) == ("late", 4, 1.5)


# -- concurrency bounds ----------------------------------------------------------------------


def test_in_flight_bound_is_reached_and_never_exceeded(make: Make) -> None:
    running = Running()
    barrier = threading.Barrier(3, timeout=20)  # the first three calls must overlap

    def fn(i: int) -> int:
        with running:
            if i < 3:
                barrier.wait()
            time.sleep(0.002)
        return i

    outcomes = make(workers=8, max_in_flight=3).run(range(40), fn)
    assert all(o.ok for o in outcomes)
    assert running.peak == 3 and running.calls == 40


def test_in_flight_bound_holds_across_concurrent_runs(make: Make) -> None:
    running = Running()
    runner = make(workers=6, max_in_flight=2)

    def fn(i: int) -> int:
        with running:
            time.sleep(0.002)
        return i

    results: list[list[Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(runner.run(range(20), fn))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [len(r) for r in results] == [20, 20]
    assert all(o.ok for r in results for o in r)
    assert running.peak <= 2 and running.calls == 40


# -- batches ---------------------------------------------------------------------------------


class Stepper:
    """The ``fn`` of a run driven one step at a time from the test's thread: each call notes
    that it started (and how many calls ran with it), then waits for its item's release."""

    def __init__(self, n: int, fail: bool = False) -> None:
        self.gates = [threading.Event() for _ in range(n)]
        self.started: queue.Queue[tuple[int, int]] = queue.Queue()
        self.running = Running()
        self.fail = fail

    def __call__(self, i: int) -> int:
        with self.running:
            self.started.put((i, self.running.now))
            assert self.gates[i].wait(20)
        if self.fail:
            raise RuntimeError(i)
        return i

    def next(self, timeout: float = 20) -> tuple[int, int]:
        """The next call to start, and how many ran (itself included) when it did."""
        return self.started.get(timeout=timeout)

    def run(self, runner: BatchRunner) -> list[Any]:
        """Start ``runner.run`` on a thread; its outcomes land in the returned list."""
        out: list[Any] = []
        thread = threading.Thread(
            target=lambda: out.extend(runner.run(range(len(self.gates)), self))
        )
        thread.start()
        self.thread = thread
        return out

    def step_through(self, first: int) -> None:
        """Release the items in order, each after the call that its slot lets in has started
        (``first`` calls start at once), so every outcome is settled before the next comes."""
        n = len(self.gates)
        for _ in range(first):
            self.next()
        for i in range(n):
            self.gates[i].set()
            if i + first < n:
                self.next()
        self.thread.join(20)


def test_no_barrier_between_batches(make: Make) -> None:
    # batches of 2: item 0 is still running when its batch's other item finishes, and the
    # next batch's first item starts at once instead of waiting for item 0
    stepper = Stepper(6)
    out = stepper.run(make(workers=2, batch_size=2))
    assert {stepper.next()[0], stepper.next()[0]} == {0, 1}
    stepper.gates[1].set()
    assert stepper.next(timeout=5) == (2, 2)  # with a barrier: nothing starts until 0 ends
    for gate in stepper.gates:
        gate.set()
    stepper.thread.join(20)
    assert [o.value for o in out] == list(range(6))


def test_batches_are_windows_recorded_in_order_with_a_window_of_lag(make: Make) -> None:
    # all items fail. Batch 1 opens (item 4) while batch 0's item 3 runs, so it keeps the size
    # 4 in force; batch 0's record halves the size, which applies from batch 2 on.
    stepper = Stepper(12, fail=True)
    runner = make(workers=2)  # adaptive: start 4, within [2, 16]
    out = stepper.run(runner)
    stepper.step_through(first=2)
    assert len(out) == 12 and not any(o.ok for o in out)
    assert [(r.index, r.size, r.items, r.errors) for r in runner.history] == [
        (0, 4, 4, 4),
        (1, 4, 4, 4),
        (2, 2, 2, 2),
        (3, 2, 2, 2),
    ]
    assert runner.history[0].next_size == 2


def test_adaptive_size_grows_on_clean_batches_up_to_its_bound(make: Make) -> None:
    # min_jump=60 s: no scheduling hiccup on a busy machine can count as a latency jump
    stepper = Stepper(20)
    runner = make(workers=2, batch_size=AdaptiveSize(start=2, lo=2, hi=6, step=2, min_jump=60))
    out = stepper.run(runner)
    stepper.step_through(first=2)
    assert [o.value for o in out] == list(range(20))
    history = runner.history
    assert [r.size for r in history] == [2, 2, 4, 6, 6]
    assert [r.items for r in history] == [2, 2, 4, 6, 6]
    assert [r.index for r in history] == [0, 1, 2, 3, 4]
    assert runner.batch_size == 6


def test_a_smaller_size_lowers_the_calls_in_flight_at_once(make: Make) -> None:
    # 4 calls may run; when batch 0 (items 0-3, all failed) is recorded the size halves to 2,
    # and no call starts again until fewer than 2 run
    stepper = Stepper(10, fail=True)
    policy = AdaptiveSize(start=4, lo=1, hi=8, step=1)
    recorded = threading.Event()
    runner = make(workers=4, batch_size=policy, on_batch=lambda r: recorded.set())
    stepper.run(runner)
    assert sorted(stepper.next()[0] for _ in range(4)) == [0, 1, 2, 3]
    assert stepper.running.peak == 4
    stepper.gates[0].set()
    assert stepper.next()[0] == 4  # batch 0 still open: 4 may run
    for i in (1, 2, 3):  # 3 ends batch 0: the size is 2 from now on
        stepper.gates[i].set()
        if i < 3:
            assert stepper.next()[0] == 4 + i
    assert recorded.wait(20)
    stepper.gates[4].set()
    stepper.gates[5].set()
    assert stepper.next() == (7, 2)  # only once 6 ran alone
    for gate in stepper.gates:
        gate.set()
    stepper.thread.join(20)
    assert runner.batch_size == 1 and runner.history[0].next_size == 2


def test_policy_reacts_to_errors_and_latency() -> None:
    policy = AdaptiveSize.for_workers(4)  # start 8, within [4, 32], step 4
    grow = policy.next_size(8, items=8, errors=0, median=0.10, previous=0.09)
    assert grow == 12
    assert policy.next_size(8, items=20, errors=1, median=0.1, previous=None) == 8  # 5 %: hold
    assert policy.next_size(8, items=8, errors=2, median=0.1, previous=None) == 4  # 25 %: halve
    assert policy.next_size(16, items=16, errors=0, median=0.5, previous=0.1) == 8  # jump
    assert policy.next_size(16, items=16, errors=0, median=0.003, previous=0.001) == 20  # noise
    assert policy.next_size(32, items=32, errors=0, median=0.1, previous=None) == 32  # hi
    assert policy.next_size(4, items=4, errors=4, median=0.1, previous=None) == 4  # lo
    assert AdaptiveSize.fixed(5).next_size(5, items=5, errors=5, median=1, previous=0) == 5


def test_pause_between_batches_uses_the_clock(make: Make, clock: Any) -> None:
    start = clock.now()
    runner = make(workers=2, batch_size=3, pause=2.5, clock=clock)
    outcomes = runner.run(range(10), str)
    assert len(outcomes) == 10
    assert clock.sleeps == [2.5, 2.5, 2.5]
    assert [r.started - start for r in runner.history] == [0.0, 2.5, 5.0, 7.5]
    assert [r.items for r in runner.history] == [3, 3, 3, 1]


def test_no_pause_no_sleep(make: Make, clock: Any) -> None:
    make(workers=2, batch_size=2, clock=clock).run(range(10), str)
    assert clock.sleeps == []


def test_each_batch_is_logged_and_handed_to_the_hook(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[BatchRecord] = []
    runner = make(workers=2, batch_size=5, on_batch=seen.append)
    with caplog.at_level(logging.DEBUG, logger="kisresearch.pipeline.batch"):
        runner.run(range(12), str, desc="quotes")
    assert seen == runner.history and [r.items for r in seen] == [5, 5, 2]
    assert all(r.desc == "quotes" for r in seen)
    assert sum("desc='quotes'" in m for m in caplog.messages) == 3


def test_a_failing_hook_is_logged_not_raised(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    def hook(record: BatchRecord) -> None:
        raise RuntimeError("dashboard broke")

    outcomes = make(workers=2, batch_size=2, on_batch=hook).run(range(4), str)
    assert [o.value for o in outcomes] == ["0", "1", "2", "3"]
    assert sum("on_batch hook failed" in m for m in caplog.messages) == 2


# -- progress --------------------------------------------------------------------------------


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIS_PROGRESS", raising=False)


def odd_fails(i: int) -> int:
    if i % 2:
        raise ValueError(i)
    return i


@pytest.mark.usefixtures("no_env")
def test_progress_bar_on_for_long_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with BatchRunner(workers=4) as runner:
        runner.run(range(60), odd_fails, desc="quotes")
    err = capsys.readouterr().err
    assert "quotes" in err and "60/60" in err and "errors=30" in err


@pytest.mark.usefixtures("no_env")
def test_progress_bar_counts_its_unit_with_calls_per_second(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ten requests of three symbols each, five HTTP calls and one second apiece (on the fake
    clock): the bar counts 30 symbols, and its postfix says 5 calls/s."""
    clock, lock, calls = FakeClock(), threading.Lock(), [0]

    def fetch(chunk: list[str]) -> list[str]:
        with lock:
            calls[0] += 5
            clock.advance(1.0)
        if chunk[0] == "s27":
            raise ValueError("a bad request")
        return chunk

    chunks = [[f"s{i}", f"s{i + 1}", f"s{i + 2}"] for i in range(0, 30, 3)]
    meter = Meter("symbol", len, lambda: calls[0])
    with BatchRunner(workers=3, progress=True, clock=clock) as runner:
        runner.run(chunks, fetch, desc="quotes", meter=meter)
    final = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "30/30" in final and ("symbol/s" in final or "s/symbol" in final), final
    assert final.endswith("calls/s=5.0, errors=1]"), final
    assert "req" not in final


@pytest.mark.usefixtures("no_env")
def test_progress_bar_off_for_short_runs_and_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with BatchRunner(workers=4) as runner:
        runner.run(range(10), str)
        runner.run(range(60), str, progress=False)
    with BatchRunner(workers=4, progress=False) as runner:
        runner.run(range(60), str)
    monkeypatch.setenv("KIS_PROGRESS", "0")
    with BatchRunner(workers=4) as runner:
        runner.run(range(60), str)
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("no_env")
def test_progress_bar_forced_on_and_closed_on_interrupt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def stop(x: int) -> int:
        raise KeyboardInterrupt

    with BatchRunner(workers=2, progress=True) as runner:
        runner.run([1, 2, 3], str, desc="few")
        assert "3/3" in capsys.readouterr().err
        with pytest.raises(BatchInterrupted):
            runner.run([1], stop, desc="stopped")
    err = capsys.readouterr().err
    assert "stopped" in err and err.endswith("\n")  # closed: tqdm ends its line


# -- Ctrl-C ----------------------------------------------------------------------------------


def test_keyboard_interrupt_keeps_finished_and_cancels_pending(make: Make) -> None:
    called: list[int] = []
    fired = threading.Event()

    def fn(i: int) -> int:
        called.append(i)
        if i == 5 and not fired.is_set():
            fired.set()
            _thread.interrupt_main()  # Ctrl-C, delivered to the caller waiting on results
        time.sleep(0.005)
        return i * 2

    runner = make(workers=2, batch_size=100)
    with pytest.raises(BatchInterrupted) as caught:
        runner.run(range(100), fn)
    interrupted = caught.value
    assert isinstance(interrupted, KeyboardInterrupt)
    assert isinstance(interrupted.__cause__, KeyboardInterrupt)
    outcomes = interrupted.outcomes
    assert [o.item for o in outcomes] == list(range(100))
    finished = {o.item for o in outcomes if o.ok}
    assert all(o.value == o.item * 2 for o in outcomes if o.ok)
    assert all(isinstance(o.error, ItemCancelled) for o in outcomes if not o.ok)
    assert {0, 1, 2, 3} <= finished  # settled before item 5 was even submitted
    assert len(finished) <= 20  # prompt: the rest were cancelled, not run
    assert [o.value for o in runner.run(range(5), str)] == list("01234")  # pool still usable
    runner.close()  # join: any call running at Ctrl-C has returned now
    assert len(set(called) - finished) <= 2  # only calls already running at Ctrl-C
    assert len(called) <= 20


def test_keyboard_interrupt_in_an_inline_call(make: Make) -> None:
    def fn(x: int) -> int:
        raise KeyboardInterrupt

    with pytest.raises(BatchInterrupted) as caught:
        make().run([7], fn)
    [outcome] = caught.value.outcomes
    assert outcome.item == 7 and isinstance(outcome.error, ItemCancelled)


# -- lifecycle -------------------------------------------------------------------------------


def test_no_threads_left_after_close_or_with() -> None:
    before = pool_threads()
    with BatchRunner(workers=4, progress=False) as runner:
        runner.run(range(20), str)
        assert len(pool_threads() - before) >= 1
    assert pool_threads() == before
    runner.run(range(3), str)  # a closed runner opens a new pool when needed
    runner.close()
    runner.close()
    assert pool_threads() == before


def test_exit_hook_does_not_keep_the_runner_alive() -> None:
    before = pool_threads()
    runner = BatchRunner(workers=2, progress=False)
    runner.run(range(4), str)
    finalizer = runner._finalizer
    runner.run(range(4), str)
    assert finalizer is not None and runner._finalizer is finalizer  # registered once
    assert finalizer.atexit and finalizer.alive
    ref = weakref.ref(runner)
    del runner
    gc.collect()
    assert ref() is None
    assert not finalizer.alive  # the pool was shut down with the runner
    deadline = time.monotonic() + 30  # generous: the threads exit on their own schedule
    while pool_threads() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool_threads() == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"workers": 0},
        {"max_in_flight": 0},
        {"timeout": 0},
        {"pause": -1},
        {"batch_size": 0},
        {"history_size": 0},
    ],
)
def test_settings_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        BatchRunner(**kwargs)


def test_adaptive_size_checks_its_bounds() -> None:
    with pytest.raises(ConfigError):
        AdaptiveSize(start=10, lo=2, hi=8, step=1)
    with pytest.raises(ConfigError):
        AdaptiveSize(start=2, lo=2, hi=8, step=1, latency_jump=0.5)
