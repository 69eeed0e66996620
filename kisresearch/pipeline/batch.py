"""Run many independent requests with bounded concurrency: one :class:`Outcome` per item.

::

    with BatchRunner(workers=8) as runner:
        outcomes = runner.run(symbols, fetch_quote, desc="quotes")
    rows = [o.value for o in outcomes if o.ok]

Each ``fn(item)`` is expected to do its own rate limiting and retrying; the runner only decides
how many run at once, in which batches, and what to do when one hangs or the user hits Ctrl-C.

- One item runs inline on the calling thread: a single call costs one call, no thread.
- More items go to a thread pool created on first use and reused by later runs. ``close()``,
  ``with``, garbage collection of the runner and interpreter exit all shut it down.
- A runner-wide semaphore bounds the calls in flight (``max_in_flight``, default ``workers``),
  across concurrent runs too; a run submits an item only when one of its slots frees up, so the
  pool's queue never holds a whole batch.
- Items go in one stream, with no barrier: an item starts as soon as a slot frees, so the
  pipeline never drains between batches. Batches are windows over the stream, with ``pause``
  seconds (on the injected clock) before each window's first item. The batch size adapts
  (:class:`AdaptiveSize`): it grows after a clean, steady batch and halves after one with many
  errors or a latency jump; a new size bounds the calls in flight at once and sizes the next
  window to open. Every batch is logged at DEBUG on ``kisresearch.pipeline.batch`` once its
  last outcome is in, kept in :attr:`BatchRunner.history` and passed to ``on_batch``.
- A call that runs longer than ``timeout`` gets an :class:`ItemTimeout` outcome and the run moves
  on. Threads cannot be killed: the call keeps its thread and its slot until it returns (the
  transport's own HTTP timeout bounds that). The inline single call has no such timeout.
- Ctrl-C while a run waits cancels its unstarted items and raises :class:`BatchInterrupted`,
  which carries every outcome (unfinished items as :class:`ItemCancelled`); the pool stays usable.
- A tqdm progress bar (stderr, or a widget in Jupyter) shows runs of ``progress_min`` items or
  more. It counts what its :class:`Meter` names (``symbol``, an item counting one or more), with
  the HTTP calls per second and the errors in its postfix; ``progress=False`` or
  ``KIS_PROGRESS=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from ..errors import BatchInterrupted, ConfigError, ItemCancelled, ItemTimeout
from ..timebase import SYSTEM_CLOCK, Clock

__all__ = [
    "AdaptiveSize",
    "BatchInterrupted",
    "BatchRecord",
    "BatchRunner",
    "ItemCancelled",
    "ItemTimeout",
    "Meter",
    "Outcome",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# The longest the calling thread waits without checking deadlines: it also bounds how late a
# Ctrl-C is noticed where the signal does not interrupt a lock wait (Windows, interrupt_main).
_POLL = 0.25
_OFF = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T, R]):
    """What became of one item: its value or its error, and how long its call took."""

    item: T
    value: R | None = None
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Meter:
    """What a run's progress bar counts: ``unit`` names one counted thing, an item counts
    ``size(item)`` of them (default 1), and ``calls()``, when given, is a running count of the
    HTTP calls made, shown per second of the run (``calls/s``) in the bar's postfix."""

    unit: str = "item"
    size: Callable[[Any], int] | None = None
    calls: Callable[[], int] | None = None

    def count(self, item: Any) -> int:
        return 1 if self.size is None else self.size(item)


class _Bar:
    """A run's tqdm bar, kept by its :class:`Meter`; the postfix is the run's mean calls/s and
    its errors so far, set as each item settles."""

    def __init__(self, items: Sequence[Any], desc: str, meter: Meter, clock: Clock) -> None:
        from tqdm.auto import tqdm  # imported on first use: a single call never pays for it

        self.meter, self.clock = meter, clock
        total = sum(meter.count(x) for x in items)
        self.tqdm = tqdm(total=total, desc=desc or None, unit=meter.unit)
        self.errors = 0
        self.began = clock.now()
        self.calls = meter.calls() if meter.calls is not None else 0
        self._postfix()

    def settle(self, outcome: Outcome[Any, Any]) -> None:
        self.errors += not outcome.ok
        self._postfix()
        self.tqdm.update(self.meter.count(outcome.item))

    def _postfix(self) -> None:
        fields: dict[str, object] = {}
        if self.meter.calls is not None:
            seconds = self.clock.now() - self.began
            calls = self.meter.calls() - self.calls
            fields["calls/s"] = f"{calls / seconds if seconds > 0 else 0.0:.1f}"
        fields["errors"] = self.errors
        self.tqdm.set_postfix(fields, refresh=False)

    def close(self) -> None:
        self.tqdm.close()


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One batch, as counted after its last outcome."""

    desc: str  # the run's description
    index: int  # batch number within its run, from 0
    started: float  # clock.now() when the batch began
    size: int  # the batch size in force
    items: int  # items in this batch (a run's last batch may be short)
    errors: int  # failed items, timeouts included
    timeouts: int
    seconds: float  # from the first submission to the last outcome
    median: float  # median seconds per item
    next_size: int  # the size chosen for the next batch


@dataclass(frozen=True)
class AdaptiveSize:
    """How the batch size adapts: additive increase, multiplicative decrease (as TCP's AIMD).

    After a batch the size halves if more than ``max_error_rate`` of its items failed, or if its
    median latency rose above ``latency_jump`` times the previous batch's (and by at least
    ``min_jump`` seconds, so that noise on fast calls does not count); it grows by ``step`` if no
    item failed and latency held; it always stays within ``[lo, hi]``. A fixed size is the
    policy with ``lo == hi``.
    """

    start: int
    lo: int
    hi: int
    step: int
    max_error_rate: float = 0.1
    latency_jump: float = 2.0
    min_jump: float = 0.05

    def __post_init__(self) -> None:
        if not 1 <= self.lo <= self.start <= self.hi:
            raise ConfigError(f"batch sizes need 1 <= lo <= start <= hi, got {self}")
        if self.step < 0 or not 0 <= self.max_error_rate <= 1 or self.latency_jump < 1:
            raise ConfigError(
                f"need step >= 0, 0 <= max_error_rate <= 1, latency_jump >= 1: {self}"
            )

    @classmethod
    def for_workers(cls, workers: int) -> AdaptiveSize:
        """The default: start at 2×workers, move by ``workers`` within [workers, 8×workers]."""
        return cls(start=2 * workers, lo=workers, hi=8 * workers, step=workers)

    @classmethod
    def fixed(cls, size: int) -> AdaptiveSize:
        return cls(start=size, lo=size, hi=size, step=0)

    def next_size(
        self, size: int, *, items: int, errors: int, median: float, previous: float | None
    ) -> int:
        """The size after a batch of ``items`` with ``errors`` failures and ``median`` latency,
        whose predecessor in the same run had median ``previous`` (None for a run's first)."""
        jumped = (
            previous is not None
            and median > self.latency_jump * previous
            and median - previous >= self.min_jump
        )
        if jumped or errors > self.max_error_rate * items:
            size //= 2
        elif errors == 0:
            size += self.step
        return max(self.lo, min(self.hi, size))


class _Task:
    """One submitted item. The worker ``begin``s it once it holds a slot; the caller may
    ``drop`` it first (timeout, Ctrl-C), and then the call never starts."""

    __slots__ = ("dropped", "future", "index", "item", "lock", "started", "submitted")

    def __init__(self, index: int, item: Any) -> None:
        self.index = index
        self.item = item
        self.submitted = time.perf_counter()
        self.started: float | None = None
        self.dropped = False
        self.future: Future[Outcome[Any, Any] | None] | None = None
        self.lock = threading.Lock()

    def begin(self) -> float | None:
        with self.lock:
            if not self.dropped:
                self.started = time.perf_counter()
            return self.started

    def drop(self) -> bool:
        """Stop the call from starting; True if it had not started."""
        with self.lock:
            self.dropped = True
            return self.started is None

    def since(self) -> float:
        return self.started if self.started is not None else self.submitted


def _work(
    slots: threading.Semaphore, fn: Callable[[Any], Any], task: _Task
) -> Outcome[Any, Any] | None:
    # Runs on a pool thread. The slot is taken here, not by the caller, so that it is held
    # exactly as long as the call runs, even by a call the caller has given up on.
    with slots:
        started = task.begin()
        if started is None:
            return None
        try:
            value = fn(task.item)
        except BaseException as exc:  # whatever an item raises is its outcome
            return Outcome(task.item, None, exc, time.perf_counter() - started)
        return Outcome(task.item, value, None, time.perf_counter() - started)


def _shutdown(pool: ThreadPoolExecutor) -> None:
    # Called by weakref.finalize when the runner is collected or at interpreter exit; it may run
    # on a pool thread, which cannot join itself, hence wait=False.
    pool.shutdown(wait=False, cancel_futures=True)


class _Window:
    """One batch of a pooled run: items ``[start, stop)``, opened with ``size`` in force."""

    __slots__ = ("began", "index", "size", "slice", "wall")

    def __init__(self, index: int, start: int, stop: int, size: int, clock: Clock) -> None:
        self.index = index
        self.slice = slice(start, stop)
        self.size = size
        self.wall = clock.now()
        self.began = time.perf_counter()


class _Run:
    """The state of one run, kept in one place so that an interrupt can settle it."""

    def __init__(self, seq: list[Any], desc: str, bar: _Bar | None) -> None:
        self.seq = seq
        self.desc = desc
        self.bar = bar
        self.outcomes: list[Outcome[Any, Any] | None] = [None] * len(seq)
        self.settled = [0.0] * len(seq)  # time.perf_counter() when each outcome came in
        self.active: dict[int, _Task] = {}  # submitted, not settled


class BatchRunner:
    """Runs ``fn`` over many items with bounded concurrency; see the module docstring.

    Parameters
    ----------
    workers : threads in the pool.
    max_in_flight : calls running at once across all runs (default ``workers``).
    timeout : seconds a call may run (or wait for a free worker) before its item gets an
        :class:`ItemTimeout`; None waits forever.
    batch_size : None for the adaptive default (:meth:`AdaptiveSize.for_workers`), an int for a
        fixed size, or an :class:`AdaptiveSize`.
    pause : seconds slept on ``clock`` between batches of a run.
    progress : True / False force the progress bar on / off; None shows it for runs of at least
        ``progress_min`` items unless ``KIS_PROGRESS=0``.
    on_batch : called with each :class:`BatchRecord` on the calling thread; its errors are logged.
    history_size : how many batch records :attr:`history` keeps.
    """

    def __init__(
        self,
        *,
        workers: int = 8,
        max_in_flight: int | None = None,
        timeout: float | None = 30.0,
        batch_size: int | AdaptiveSize | None = None,
        pause: float = 0.0,
        progress: bool | None = None,
        progress_min: int = 50,
        clock: Clock = SYSTEM_CLOCK,
        on_batch: Callable[[BatchRecord], None] | None = None,
        history_size: int = 1000,
    ) -> None:
        if workers < 1 or (max_in_flight is not None and max_in_flight < 1):
            raise ConfigError("workers and max_in_flight must be at least 1")
        if (timeout is not None and timeout <= 0) or pause < 0 or progress_min < 0:
            raise ConfigError("timeout must be positive (or None); pause, progress_min >= 0")
        if history_size < 1:
            raise ConfigError("history_size must be at least 1")
        if batch_size is None:
            batch_size = AdaptiveSize.for_workers(workers)
        elif isinstance(batch_size, int):
            if batch_size < 1:
                raise ConfigError("batch_size must be at least 1")
            batch_size = AdaptiveSize.fixed(batch_size)
        self.workers = workers
        self.max_in_flight = max_in_flight or workers
        self.timeout = timeout
        self.policy = batch_size
        self.pause = pause
        self.progress = progress
        self.progress_min = progress_min
        self.clock = clock
        self.on_batch = on_batch
        self._size = batch_size.start
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._lock = threading.Lock()
        self._history: deque[BatchRecord] = deque(maxlen=history_size)
        self._pool: ThreadPoolExecutor | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __repr__(self) -> str:
        state = "idle" if self._pool is None else "open"
        return (
            f"BatchRunner(workers={self.workers}, max_in_flight={self.max_in_flight}, "
            f"timeout={self.timeout}, batch_size={self._size}, pause={self.pause}, {state})"
        )

    @property
    def batch_size(self) -> int:
        """The size the next batch will have."""
        return self._size

    @property
    def history(self) -> list[BatchRecord]:
        """The latest batch records, oldest first."""
        with self._lock:
            return list(self._history)

    # -- lifecycle ---------------------------------------------------------------------------

    def _ensure_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="kis-batch")
                # The finalizer holds the pool, not the runner, so the runner stays collectable;
                # it runs once: on close(), on collection, or at interpreter exit.
                self._finalizer = weakref.finalize(self, _shutdown, self._pool)
            return self._pool

    def close(self) -> None:
        """Cancel queued calls and join the pool's threads; a later run opens a new pool."""
        with self._lock:
            pool, self._pool = self._pool, None
            finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer.detach()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running -----------------------------------------------------------------------------

    def run(
        self,
        items: Sequence[T],
        fn: Callable[[T], R],
        *,
        desc: str = "",
        progress: bool | None = None,
        meter: Meter | None = None,
    ) -> list[Outcome[T, R]]:
        """Call ``fn`` on every item; return one :class:`Outcome` per item, in item order.

        An item's exception is its outcome and never stops the others. ``progress`` overrides
        the runner's setting for this run; ``meter`` says what its bar counts (default: items).
        Raises :class:`BatchInterrupted` on Ctrl-C.
        """
        seq = list(items)
        if not seq:
            return []
        wanted = self._wants_bar(len(seq), progress)
        bar = _Bar(seq, desc, meter or Meter(), self.clock) if wanted else None
        run = _Run(seq, desc, bar)
        try:
            if len(seq) == 1:
                self._run_inline(run, fn)
            else:
                self._run_pooled(run, fn)
        except KeyboardInterrupt as exc:
            interrupted = BatchInterrupted(self._abandon(run))
            log.info("%s: %s", desc or "batch", interrupted)
            raise interrupted from exc
        except BaseException:
            self._abandon(run)
            raise
        finally:
            if bar is not None:
                bar.close()
        return cast("list[Outcome[T, R]]", run.outcomes)

    def _run_inline(self, run: _Run, fn: Callable[[Any], Any]) -> None:
        item, wall = run.seq[0], self.clock.now()
        with self._slots:
            start = time.perf_counter()
            try:
                outcome = Outcome(item, fn(item), None, time.perf_counter() - start)
            except Exception as exc:
                outcome = Outcome(item, None, exc, time.perf_counter() - start)
        self._settle(run, 0, outcome)
        self._record(run.desc, 0, wall, 1, [outcome], outcome.seconds, None, adapt=False)

    def _run_pooled(self, run: _Run, fn: Callable[[Any], Any]) -> None:
        """One stream: an item is submitted as soon as a slot frees, whatever batch it is in.

        Batches are windows over the stream. A window opens (after ``pause``) when its first
        item is submitted, with the size in force then, and is recorded once its last outcome
        is in, in window order; the size its record chooses applies from the next window to
        open. Calls in flight are bounded by ``max_in_flight`` and by the size in force."""
        pool = self._ensure_pool()
        n = len(run.seq)
        todo = deque(range(n))
        windows: deque[_Window] = deque()
        opened, previous = 0, None
        while todo or run.active:
            while todo and len(run.active) < min(self.max_in_flight, self._size):
                if not windows or todo[0] == windows[-1].slice.stop:
                    if opened and self.pause > 0:
                        self.clock.sleep(self.pause)
                    start = todo[0]
                    windows.append(
                        _Window(opened, start, min(n, start + self._size), self._size, self.clock)
                    )
                    opened += 1
                task = _Task(todo[0], run.seq[todo[0]])
                run.active[task.index] = task  # registered first, so an interrupt can drop it
                todo.popleft()
                task.future = pool.submit(_work, self._slots, fn, task)
            self._collect(run, more=bool(todo))
            while windows and all(o is not None for o in run.outcomes[windows[0].slice]):
                w = windows.popleft()
                done = cast("list[Outcome[Any, Any]]", run.outcomes[w.slice])
                seconds = max(run.settled[w.slice]) - w.began
                record = self._record(run.desc, w.index, w.wall, w.size, done, seconds, previous)
                previous = record.median

    def _collect(self, run: _Run, more: bool) -> None:
        """Settle what finishes within one wait (the first one only when more are waiting to be
        submitted), then expire overdue calls."""
        by_future = {t.future: t for t in run.active.values() if t.future is not None}
        try:
            for future in as_completed(by_future, timeout=self._wait_time(run)):
                task = by_future[future]
                self._settle(run, task.index, self._outcome_of(task, future))
                if more:
                    break  # a slot is free: submit the next item first
        except TimeoutError:
            pass
        self._expire(run)

    def _wait_time(self, run: _Run) -> float:
        if self.timeout is None:
            return _POLL
        first = min((t.since() for t in run.active.values()), default=time.perf_counter())
        return max(0.0, min(_POLL, first + self.timeout - time.perf_counter()))

    @staticmethod
    def _outcome_of(task: _Task, future: Future[Outcome[Any, Any] | None]) -> Outcome[Any, Any]:
        outcome = None if future.cancelled() else future.result()
        if outcome is None:  # cancelled by a concurrent close()
            outcome = Outcome(task.item, None, ItemCancelled("runner closed", index=task.index))
        return outcome

    def _expire(self, run: _Run) -> None:
        if self.timeout is None:
            return
        now = time.perf_counter()
        for task in list(run.active.values()):
            waited = now - task.since()
            if waited < self.timeout or (task.future is not None and task.future.done()):
                continue
            if task.drop():
                message = f"not started within {self.timeout:g}s: no free worker"
            else:
                message = f"no result within {self.timeout:g}s; the call goes on in the background"
                log.warning("%s: item %d: %s", run.desc or "batch", task.index, message)
            if task.future is not None:
                task.future.cancel()
            error = ItemTimeout(message, index=task.index, seconds=waited)
            self._settle(run, task.index, Outcome(task.item, None, error, waited))

    def _settle(self, run: _Run, index: int, outcome: Outcome[Any, Any]) -> None:
        run.outcomes[index] = outcome
        run.settled[index] = time.perf_counter()
        run.active.pop(index, None)
        if run.bar is not None:
            run.bar.settle(outcome)

    def _abandon(self, run: _Run) -> list[Outcome[Any, Any]]:
        """Settle a stopped run: keep what finished, stop what has not started."""
        for task in list(run.active.values()):
            future = task.future
            if future is not None and future.done() and not future.cancelled():
                outcome = future.result()
                if outcome is not None:
                    run.outcomes[task.index] = outcome
                    continue
            task.drop()
            if future is not None:
                future.cancel()
        run.active.clear()
        return [
            o if o is not None else Outcome(item, None, ItemCancelled("interrupted", index=i))
            for i, (item, o) in enumerate(zip(run.seq, run.outcomes, strict=True))
        ]

    def _record(
        self,
        desc: str,
        index: int,
        wall: float,
        size: int,
        outcomes: list[Outcome[Any, Any]],
        seconds: float,
        previous: float | None,
        *,
        adapt: bool = True,
    ) -> BatchRecord:
        errors = sum(not o.ok for o in outcomes)
        median = statistics.median(o.seconds for o in outcomes) if outcomes else 0.0
        with self._lock:
            if adapt:
                self._size = self.policy.next_size(
                    self._size, items=len(outcomes), errors=errors, median=median, previous=previous
                )
            record = BatchRecord(
                desc=desc,
                index=index,
                started=wall,
                size=size,
                items=len(outcomes),
                errors=errors,
                timeouts=sum(isinstance(o.error, ItemTimeout) for o in outcomes),
                seconds=seconds,
                median=median,
                next_size=self._size,
            )
            self._history.append(record)
        log.debug("batch done: %s", record)
        if self.on_batch is not None:
            try:
                self.on_batch(record)
            except Exception:
                log.exception("on_batch hook failed for %s", record)
        return record

    # -- progress ----------------------------------------------------------------------------

    def _wants_bar(self, n: int, override: bool | None) -> bool:
        choice = self.progress if override is None else override
        if choice is not None:
            return choice
        if os.environ.get("KIS_PROGRESS", "").strip().lower() in _OFF:
            return False
        return n >= self.progress_min
