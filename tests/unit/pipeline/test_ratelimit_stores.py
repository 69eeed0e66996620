"""Limiter and its stores: threads, real processes on the file store, a real Redis server."""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kisresearch
from kisresearch.errors import ConfigError
from kisresearch.pipeline.ratelimit import (
    MAX_LATE_RESERVES,
    FileStore,
    Limiter,
    LimiterConfig,
    LimiterState,
    LimiterStore,
    MemoryStore,
    NullLimiter,
    RedisStore,
    decide,
    make_limiter,
)
from kisresearch.pipeline.ratelimit.limiter import machine_dir

T0 = 1_700_000_000.0
REAL = LimiterConfig(rate=20)
GAP = 1 / 19.4


class FrozenClock:
    """``now`` never moves and ``sleep`` returns at once: waits then equal reserved offsets."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        pass


class GateClock(FrozenClock):
    """``sleep`` blocks until the gate opens, counting the callers asleep at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.asleep = 0
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.asleep += 1
        self.gate.wait(10)


def max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + width) - i for i, t in enumerate(times)), default=0)


def reserve_start(
    cfg: LimiterConfig,
) -> Callable[[LimiterState | None, float], tuple[LimiterState, float]]:
    """An update function that reserves a slot and returns its start time (not the wait)."""

    def fn(state: LimiterState | None, now: float) -> tuple[LimiterState, float]:
        new, wait = decide(state or LimiterState(), now, cfg)
        return new, now + wait

    return fn


def check_schedule(starts: list[float], cfg: LimiterConfig, n: int) -> None:
    assert len(starts) == n
    assert len(set(starts)) == n, "two callers got the same slot"
    ordered = sorted(starts)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    assert min(gaps) >= cfg.period / cfg.ceiling - 1e-6
    assert max_in_window(ordered, cfg.guard_window) <= cfg.guard_limit


def hammer(n_threads: int, per_thread: int, work: Callable[[], float]) -> list[float]:
    results: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def run() -> None:
        barrier.wait()
        mine = [work() for _ in range(per_thread)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


# -- Limiter over a MemoryStore ----------------------------------------------------------


def test_acquire_waits_through_the_clock(clock: object) -> None:
    limiter = Limiter(REAL, MemoryStore(clock), clock=clock)  # type: ignore[arg-type]
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == pytest.approx([0, GAP, GAP, GAP], abs=1e-6)
    assert clock.sleeps == pytest.approx([GAP] * 3, abs=1e-6)  # type: ignore[attr-defined]
    clock.advance(60)  # type: ignore[attr-defined]
    assert limiter.acquire() == 0


def test_thread_hammer_reserves_unique_spaced_slots() -> None:
    clock = FrozenClock()
    limiter = Limiter(REAL, MemoryStore(clock), clock=clock)
    waits = hammer(8, 40, limiter.acquire)
    check_schedule([T0 + w for w in waits], REAL, 320)


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_no_lock_is_held_while_sleeping(kind: str, tmp_path: Path) -> None:
    clock = GateClock()
    store: LimiterStore = (
        MemoryStore(clock) if kind == "memory" else FileStore(tmp_path / "l.json", clock)
    )
    limiter = Limiter(REAL, store, clock=clock)
    assert limiter.acquire() == 0  # the first goes at once; the others must sleep
    threads = [threading.Thread(target=limiter.acquire) for _ in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while clock.asleep < 6 and time.monotonic() < deadline:
        time.sleep(0.005)
    asleep = clock.asleep
    clock.gate.set()
    for t in threads:
        t.join(10)
    assert asleep == 6, "a sleeping caller blocked the others from reserving"


def test_on_rate_limited_slows_down_and_logs(
    clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = Limiter(REAL, MemoryStore(clock), clock=clock)  # type: ignore[arg-type]
    assert limiter.current_rate == pytest.approx(19.4)
    for _ in range(20):  # a window's calls: a rejection now is overload
        limiter.acquire()
    with caplog.at_level(logging.INFO, logger="kisresearch.ratelimit"):
        limiter.on_rate_limited()
        limiter.on_rate_limited()  # same period: counted once
    assert limiter.current_rate == pytest.approx(9.7)
    assert len([r for r in caplog.records if "rate limited" in r.getMessage()]) == 1
    limiter.acquire()
    assert limiter.acquire() == pytest.approx(1 / 9.7, abs=1e-6)


def test_a_rejection_far_under_the_limit_keeps_the_pace(
    clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = Limiter(REAL, MemoryStore(clock), clock=clock)  # type: ignore[arg-type]
    for _ in range(5):  # a quarter of the window: KIS's EGW00201 cannot be about this pace
        limiter.acquire()
    with caplog.at_level(logging.DEBUG, logger="kisresearch.ratelimit"):
        limiter.on_rate_limited()
    # was: halved on every such answer; 20% spurious ones held the rate at its floor
    assert limiter.current_rate == pytest.approx(19.4)
    assert "far under the limit: pace kept" in caplog.text


def test_limiter_defaults_to_a_memory_store_and_closes() -> None:
    with Limiter(REAL, clock=FrozenClock()) as limiter:
        assert isinstance(limiter.store, MemoryStore)
        assert "19.4" in repr(limiter)


def test_null_limiter() -> None:
    limiter = NullLimiter(REAL)
    assert [limiter.acquire() for _ in range(100)] == [0.0] * 100
    limiter.on_rate_limited()
    assert limiter.current_rate == float("inf")
    limiter.close()


# -- FileStore -------------------------------------------------------------------------------


def test_file_store_is_private_and_survives_restarts(tmp_path: Path, clock: object) -> None:
    path = tmp_path / "limiter-abc.json"
    first = Limiter(REAL, FileStore(path, clock), clock=FrozenClock())  # type: ignore[arg-type]
    assert first.acquire() == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert LimiterState.from_json(path.read_text()).starts == (T0,)
    again = Limiter(REAL, FileStore(path, clock), clock=FrozenClock())  # type: ignore[arg-type]
    assert again.acquire() == pytest.approx(GAP, abs=1e-6)


def test_file_store_ignores_stale_and_unreadable_state(
    tmp_path: Path, clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "l.json"
    path.write_text(LimiterState(tat=T0 - 86400, starts=(T0 - 86400,)).to_json())
    limiter = Limiter(REAL, FileStore(path, clock), clock=clock)  # type: ignore[arg-type]
    assert limiter.acquire() == 0
    path.write_text('{"v": 1, "tat": ')  # unreadable (an old version's torn write)
    with caplog.at_level(logging.WARNING, logger="kisresearch.ratelimit"):
        waited = limiter.acquire()
    assert waited == pytest.approx(1.0, abs=0.01)  # a window's calls may have just gone out
    assert "unreadable limiter state" in caplog.text and str(path) in caplog.text
    assert LimiterState.from_json(path.read_text()).starts == (T0 + waited,)


def test_file_store_clamps_a_state_from_a_clock_ahead(
    tmp_path: Path, clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "l.json"
    ahead = T0 + 3000  # written by a machine whose clock runs 50 minutes ahead
    path.write_text(LimiterState(tat=ahead, starts=(ahead,)).to_json())
    limiter = Limiter(REAL, FileStore(path, clock), clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="kisresearch.ratelimit"):
        assert limiter.acquire() <= 1.0
    assert "reserves 3000 s ahead of this clock" in caplog.text


def test_file_store_replaces_the_file_whole(tmp_path: Path, clock: object) -> None:
    path = tmp_path / "l.json"
    store = FileStore(path, clock)  # type: ignore[arg-type]
    before = path.stat().st_ino
    Limiter(REAL, store, clock=clock).acquire()  # type: ignore[arg-type]
    assert path.stat().st_ino != before  # a new file renamed over it, never written in place
    assert LimiterState.from_json(path.read_text()).starts == (T0,)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_store_bad_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="limiter state file"):
        FileStore(tmp_path / "missing" / "deeper" / "l.json")


def test_file_store_thread_hammer(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "l.json", FrozenClock())
    starts = hammer(6, 30, lambda: store.update(reserve_start(REAL)))
    check_schedule(starts, REAL, 180)


CHILD = r"""
import json, os, sys, time
from kisresearch.pipeline.ratelimit import FileStore, Limiter, LimiterConfig

class Recording(FileStore):
    starts = []
    def update(self, fn):
        def wrapped(state, now):
            new, wait = fn(state, now)
            self.starts.append(now + wait)
            return new, wait
        return super().update(wrapped)

path, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Recording(path)
limiter = Limiter(LimiterConfig(rate=50, margin=1.0), store)
while not os.path.exists(go):
    time.sleep(0.002)
for _ in range(n):
    limiter.acquire()
print(json.dumps(store.starts))
"""


def test_processes_sharing_a_file_store_never_exceed_the_window(tmp_path: Path) -> None:
    # margin 1 at 50/s: spacing alone would allow 51 starts in 1.0 s; the guard must not
    cfg = LimiterConfig(rate=50, margin=1.0)
    path, go = tmp_path / "limiter.json", tmp_path / "go"
    root = str(Path(kisresearch.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(go), "20"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    go.touch()
    starts: list[float] = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        starts += json.loads(out)
    # a slot a process woke too late for is given up (it stays counted) and another taken:
    # on a loaded machine there may be a few more reservations than calls
    assert 80 <= len(starts) <= 80 + 4 * MAX_LATE_RESERVES * 20
    check_schedule(starts, cfg, len(starts))
    ordered = sorted(starts)
    assert ordered[cfg.guard_limit] - ordered[0] >= cfg.guard_window  # the guard did bind
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- RedisStore -------------------------------------------------------------------------------


@pytest.fixture
def redis_key(redis_url: str) -> Iterator[str]:
    import redis

    key = f"kisresearch:test:{uuid.uuid4().hex}"
    yield key
    redis.Redis.from_url(redis_url).delete(key)


@pytest.mark.redis
def test_redis_store_is_atomic_across_threads(redis_url: str, redis_key: str) -> None:
    store = RedisStore(redis_url, redis_key)
    starts = hammer(6, 25, lambda: store.update(reserve_start(REAL)))
    check_schedule(starts, REAL, 150)
    store.close()


@pytest.mark.redis
def test_redis_store_uses_the_server_clock(redis_url: str, redis_key: str) -> None:
    import redis

    server = redis.Redis.from_url(redis_url)
    store = RedisStore(redis_url, redis_key)
    seen: list[float] = []

    def fn(state: LimiterState | None, now: float) -> tuple[LimiterState, None]:
        seen.append(now)
        return LimiterState(), None

    before = server.time()
    store.update(fn)
    after = server.time()
    assert before[0] + before[1] / 1e6 <= seen[0] <= after[0] + after[1] / 1e6
    assert 0 < server.pttl(redis_key) <= 3600_000  # idle state expires

    # machines with clocks an hour apart still queue one after the other
    cfg = LimiterConfig(rate=2)
    a = Limiter(cfg, RedisStore(redis_url, redis_key + "x"), clock=FrozenClock(T0 + 3600))
    b = Limiter(cfg, RedisStore(redis_url, redis_key + "x"), clock=FrozenClock(T0 - 3600))
    assert a.acquire() == 0
    assert b.acquire() == pytest.approx(1 / 1.94, abs=0.2)
    server.delete(redis_key + "x")


@pytest.mark.redis
def test_redis_store_retries_when_it_loses_a_race(redis_url: str, redis_key: str) -> None:
    import redis

    other = redis.Redis.from_url(redis_url)
    store = RedisStore(redis_url, redis_key)
    calls: list[LimiterState | None] = []

    def fn(state: LimiterState | None, now: float) -> tuple[LimiterState, int]:
        calls.append(state)
        if len(calls) == 1:  # someone else writes between our read and our write
            other.set(redis_key, LimiterState(tat=now, starts=(now,)).to_json())
        return decide(state or LimiterState(), now, REAL)[0], len(calls)

    assert store.update(fn) == 2
    assert calls[0] is None and calls[1] is not None and len(calls[1].starts) == 1
    assert len(LimiterState.from_json(other.get(redis_key) or b"").starts) == 2


@pytest.mark.redis
def test_redis_penalty_is_shared(redis_url: str, redis_key: str) -> None:
    first = Limiter(REAL, RedisStore(redis_url, redis_key))
    second = Limiter(REAL, RedisStore(redis_url, redis_key))
    assert second.current_rate == pytest.approx(19.4)
    for _ in range(20):  # a window's calls: a rejection now is overload
        first.acquire()
    first.on_rate_limited()
    assert second.current_rate == pytest.approx(9.7, abs=0.1)
    first.close()
    second.close()


@pytest.mark.redis
def test_redis_no_lock_held_while_sleeping(redis_url: str, redis_key: str) -> None:
    clock = GateClock()
    limiter = Limiter(LimiterConfig(rate=2), RedisStore(redis_url, redis_key), clock=clock)
    assert limiter.acquire() == 0
    threads = [threading.Thread(target=limiter.acquire) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while clock.asleep < 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    asleep = clock.asleep
    clock.gate.set()
    for t in threads:
        t.join(10)
    assert asleep == 4


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_redis_is_a_config_error_without_the_password() -> None:
    port = _free_port()
    with pytest.raises(ConfigError) as info:
        RedisStore(f"redis://user:s3cret@127.0.0.1:{port}/0", "k", timeout=1.0)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "s3cret" not in str(info.value)


# -- make_limiter -------------------------------------------------------------------------------


def test_make_limiter_default_is_a_file_in_the_machine_wide_folder(home: Path) -> None:
    for spec in (None, "file", True):
        limiter = make_limiter(spec, REAL, key_id="abc123")
        assert isinstance(limiter, Limiter) and isinstance(limiter.store, FileStore)
        assert limiter.store.path == machine_dir() / "limiter-abc123.json"
    assert not str(machine_dir()).startswith(str(home))  # not in the toolkit folder
    assert stat.S_IMODE(machine_dir().stat().st_mode) == 0o700


def test_make_limiter_memory_and_off(home: Path, clock: object) -> None:
    limiter = make_limiter("memory", REAL, key_id="abc", clock=clock)  # type: ignore[arg-type]
    assert isinstance(limiter, Limiter) and isinstance(limiter.store, MemoryStore)
    for spec in (False, "off", "OFF"):
        assert isinstance(make_limiter(spec, REAL, key_id="abc"), NullLimiter)
    assert not home.exists()  # nothing written unless a file store was asked for


@pytest.mark.redis
def test_make_limiter_redis_key_uses_the_key_id(home: Path, redis_url: str) -> None:
    limiter = make_limiter(redis_url, REAL, key_id="abc123")
    assert isinstance(limiter, Limiter) and isinstance(limiter.store, RedisStore)
    assert limiter.store.key == "kisresearch:limiter:abc123"
    limiter.close()


@pytest.mark.parametrize(
    ("spec", "shown", "hidden"),
    [("bogus", "'bogus'", None), ("ftp://me:pw123@host/x", "'ftp://'", "pw123")],
)
def test_make_limiter_unknown_spec(home: Path, spec: str, shown: str, hidden: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        make_limiter(spec, REAL, key_id="abc")
    assert shown in str(info.value)
    if hidden:
        assert hidden not in str(info.value)


def test_make_limiter_refuses_a_key_id_that_is_not_a_hash(home: Path) -> None:
    with pytest.raises(ConfigError, match="key_id") as info:
        make_limiter("memory", REAL, key_id="PSabc/../x")
    assert "PSabc" not in str(info.value)
