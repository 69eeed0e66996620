"""The response cache: policies, TTL on the fake clock, processes, safety, management."""

from __future__ import annotations

import json
import logging
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import diskcache
import pytest

import kisresearch.pipeline.cache.responses as cache_module
from kisresearch.errors import ConfigError
from kisresearch.pipeline.cache import CachedEntry, ResponseCache, cacheable
from kisresearch.pipeline.cache.policy import (
    DAILY,
    DAY,
    INTRADAY,
    NEVER,
    POLICIES,
    QUOTE,
    CachePolicy,
    cache_key,
    daily_policy,
    fixed_policy,
    non_empty_success,
)
from kisresearch.timebase import KST, krx_session, next_open

REPO = Path(__file__).resolve().parents[3]
QUOTE_PARAMS = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}


def kst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> float:
    return datetime(y, m, d, hh, mm, ss, tzinfo=KST).timestamp()


# 2024-05-13 is a Monday; 2024-05-10 a Friday.
MON, TUE, WED, FRI, SAT = (13, 14, 15, 10, 11)


def ok(**output: str) -> dict[str, Any]:
    return {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.", "output": output}


@pytest.fixture
def make(tmp_path: Path, clock: Any) -> Iterator[Callable[..., ResponseCache]]:
    """Build caches in ``tmp_path/cache`` on the fake clock; all closed afterwards."""
    made: list[ResponseCache] = []

    def build(directory: Path | None = None, **kwargs: Any) -> ResponseCache:
        kwargs.setdefault("clock", clock)
        c = ResponseCache(directory or tmp_path / "cache", **kwargs)
        made.append(c)
        return c

    yield build
    for c in made:
        c.close()


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "12345"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


# --- market hours and policies (pure) -----------------------------------------------------------


def test_krx_session_and_next_open() -> None:
    assert not krx_session(kst(2024, 5, MON, 8, 59, 59))
    assert krx_session(kst(2024, 5, MON, 9))
    assert krx_session(kst(2024, 5, MON, 15, 29, 59))
    assert not krx_session(kst(2024, 5, MON, 15, 30))
    assert not krx_session(kst(2024, 5, SAT, 11))
    assert next_open(kst(2024, 5, MON, 8)) == kst(2024, 5, MON, 9)
    assert next_open(kst(2024, 5, MON, 9)) == kst(2024, 5, TUE, 9)  # strictly after
    assert next_open(kst(2024, 5, MON, 16)) == kst(2024, 5, TUE, 9)
    assert next_open(kst(2024, 5, FRI, 16)) == kst(2024, 5, MON, 9)
    assert next_open(kst(2024, 5, SAT, 12)) == kst(2024, 5, MON, 9)
    holiday = {date(2024, 5, MON)}
    assert not krx_session(kst(2024, 5, MON, 10), holiday)
    assert next_open(kst(2024, 5, FRI, 16), holiday) == kst(2024, 5, TUE, 9)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (kst(2024, 5, MON, 8, 30), 30 * 60),  # before the open: until 09:00
        (kst(2024, 5, MON, 10), 5),  # in the session
        (kst(2024, 5, MON, 15, 29, 58), 5),
        (kst(2024, 5, MON, 16), 17 * 3600),  # after the close: until Tuesday 09:00
        (kst(2024, 5, FRI, 16), 65 * 3600),  # Friday after the close: until Monday 09:00
        (kst(2024, 5, SAT, 12), 45 * 3600),
    ],
)
def test_quote_policy(now: float, expected: float) -> None:
    assert QUOTE.ttl_for(QUOTE_PARAMS, ok(stck_prpr="70000"), now) == pytest.approx(expected)


def test_daily_policy_past_ranges_forever_today_short() -> None:
    session, evening = kst(2024, 5, WED, 10), kst(2024, 5, WED, 16)

    def ttl(now: float, **params: str) -> float | None:
        return DAILY.ttl({"FID_INPUT_ISCD": "005930", **params}, now)

    assert ttl(session, FID_INPUT_DATE_2="20240514") is None  # yesterday: final
    assert ttl(session, FID_INPUT_DATE_2="20240515") == 60  # includes today
    assert ttl(session, FID_INPUT_DATE_2="20240520") == 60  # future end = today
    assert ttl(session) == 60  # no end date = today
    assert ttl(evening, FID_INPUT_DATE_2="20240515") == pytest.approx(17 * 3600)
    # Weekly and monthly bars: the current week / month is still forming.
    assert ttl(session, FID_INPUT_DATE_2="20240513", FID_PERIOD_DIV_CODE="W") == 60
    assert ttl(session, FID_INPUT_DATE_2="20240512", FID_PERIOD_DIV_CODE="W") is None
    assert ttl(session, FID_INPUT_DATE_2="20240501", FID_PERIOD_DIV_CODE="M") == 60
    assert ttl(session, FID_INPUT_DATE_2="20240430", FID_PERIOD_DIV_CODE="M") is None
    # Overseas (BYMD): the foreign trading date lags KST by a day.
    assert ttl(session, BYMD="20240514", GUBN="0") == 60
    assert ttl(session, BYMD="20240513", GUBN="0") is None
    assert ttl(session, BYMD="", GUBN="0") == 60
    assert daily_policy(past_ttl=86_400).ttl({"FID_INPUT_DATE_2": "20200101"}, session) == 86_400


def test_intraday_policy() -> None:
    at_two = kst(2024, 5, WED, 14)
    assert (
        INTRADAY.ttl({"FID_INPUT_DATE_1": "20240514", "FID_INPUT_HOUR_1": "100000"}, at_two) is None
    )
    assert INTRADAY.ttl({"FID_INPUT_HOUR_1": "140000"}, at_two) == 30  # still forming
    assert INTRADAY.ttl({"FID_INPUT_HOUR_1": ""}, at_two) == 30
    finished = INTRADAY.ttl({"FID_INPUT_HOUR_1": "100000"}, at_two)  # bars that cannot change
    assert finished == pytest.approx(kst(2024, 5, 16, 9) - at_two)
    evening = kst(2024, 5, FRI, 18)
    assert INTRADAY.ttl({"FID_INPUT_HOUR_1": "153000"}, evening) == pytest.approx(63 * 3600)


def test_fixed_policies_and_cache_if() -> None:
    now = kst(2024, 5, WED, 10)
    assert DAY.ttl_for({}, ok(prdt_name="삼성전자"), now) == 86_400
    assert NEVER.ttl_for({}, ok(a="1"), now) == 0
    assert fixed_policy(None).ttl_for({}, ok(a="1"), now) is None
    never_empty = CachePolicy("any", lambda p, n: 9.0, cache_if=lambda payload: True)
    assert never_empty.ttl_for({}, {}, now) == 9.0
    with pytest.raises(AttributeError):
        QUOTE.name = "x"  # type: ignore[misc]
    assert {name: p.name for name, p in POLICIES.items()} == {
        n: n for n in ("quote", "daily", "intraday", "day", "never", "overseas_quote")
    }
    assert POLICIES["overseas_quote"].ttl_for({}, ok(last="1"), kst(2024, 5, SAT, 3)) == 5


@pytest.mark.parametrize(
    ("payload", "store"),
    [
        (ok(stck_prpr="70000"), True),
        ({"rt_cd": "0", "output1": {"a": "1"}, "output2": [{"d": "20240513"}]}, True),
        ({"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}, False),
        ({"error_code": "EGW00133", "error_description": "..."}, False),
        ({"rt_cd": "0", "output1": {"a": "1"}, "output2": []}, False),  # no rows
        ({"rt_cd": "0", "output": [{"a": "", "b": ""}]}, False),  # KIS's blank row
        ({"rt_cd": "0", "output": {"a": "", "b": ""}}, False),
        ({}, False),
        (None, False),
        ([1, 2], True),
    ],
)
def test_non_empty_success(payload: Any, store: bool) -> None:
    assert non_empty_success(payload) is store
    assert (QUOTE.ttl_for({}, payload, kst(2024, 5, MON, 10)) != 0) is store


# --- TTL on the fake clock --------------------------------------------------------------------


def test_ttl_expiry_on_the_fake_clock(make: Callable[..., ResponseCache], clock: Any) -> None:
    c = make()
    short, forever = c.key("sim", "quote", QUOTE_PARAMS), c.key("sim", "info", {"PDNO": "1"})
    assert c.set(short, ok(a="1"), ttl=5, endpoint="quote")
    assert c.set(forever, ok(b="2"), ttl=None, endpoint="info")
    entry = c.get(short, endpoint="quote")
    assert entry == CachedEntry(ok(a="1"), clock.now(), clock.now() + 5)
    clock.advance(4.9)
    assert c.get(short, endpoint="quote") is not None
    clock.advance(0.1)
    assert c.get(short, endpoint="quote") is None
    clock.advance(10 * 365 * 86_400)
    assert c.get(forever, endpoint="info") is not None
    assert not c.set(c.key("sim", "x", {}), ok(a="1"), ttl=0, endpoint="x")
    assert c.stats()["entries"] == 2


def test_get_many_reads_fresh_entries_at_once_and_counts_what_is_used(
    make: Callable[..., ResponseCache], clock: Any
) -> None:
    c = make()
    keys = [c.key("sim", "quote", {"FID_INPUT_ISCD": f"{i:06d}"}) for i in range(1200)]
    for i, key in enumerate(keys[:1000]):  # 200 never stored; more than one statement's worth
        assert c.set(key, ok(i=str(i)), ttl=5 if i % 2 else None, endpoint="quote")
    found = c.get_many(keys)
    assert sorted(found) == sorted(keys[:1000])
    assert found[keys[7]] == CachedEntry(ok(i="7"), clock.now(), clock.now() + 5)
    assert c.stats()["hits"] == 0  # uncounted until used
    c.count_hit("quote")
    assert c.stats()["hits"] == 1 and c.stats()["misses"] == 0
    clock.advance(5)
    assert sorted(c.get_many(keys)) == sorted(keys[:1000:2])  # the 5-s entries went stale


def test_get_many_notes_its_reads_for_least_recently_used_eviction(
    make: Callable[..., ResponseCache], tmp_path: Path
) -> None:
    c = make()
    key = c.key("sim", "quote", QUOTE_PARAMS)
    c.set(key, ok(a="1"), ttl=None, endpoint="quote")
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as con:
        con.execute("UPDATE Cache SET access_time = 0")
    con.close()
    assert key in c.get_many([key])
    c.close()  # the reads are noted off the reader's path; close waits for that
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as con:
        [(touched,)] = con.execute("SELECT access_time FROM Cache").fetchall()
    con.close()
    assert touched > 0  # else a bulk reader's entries would be the first evicted


def test_quote_cached_from_friday_close_to_monday_open(tmp_path: Path, clock: Any) -> None:
    clock.t = kst(2024, 5, FRI, 15, 45)  # set before the cache is built: clocks move forward
    with ResponseCache(tmp_path / "c", clock=clock) as c:
        key, payload = c.key("sim", "quote", QUOTE_PARAMS), ok(stck_prpr="70000")
        c.set(key, payload, ttl=QUOTE.ttl_for(QUOTE_PARAMS, payload, clock.now()), endpoint="quote")
        clock.t = kst(2024, 5, MON, 8, 59, 59)
        assert c.get(key, endpoint="quote") is not None
        clock.advance(1)
        assert c.get(key, endpoint="quote") is None


def test_expire_culls_by_the_injected_clock(make: Callable[..., ResponseCache], clock: Any) -> None:
    c = make()
    for i in range(3):
        c.set(f"q:{i}", ok(a=str(i)), ttl=10, endpoint="quote")
    c.set("d:0", ok(a="d"), ttl=None, endpoint="daily")
    assert c.expire() == 0
    clock.advance(11)
    assert c.expire() == 3
    assert c.stats()["entries"] == 1


def test_ttl_overrides_win_but_never_store_errors(make: Callable[..., ResponseCache]) -> None:
    c = make(ttl_overrides={"balance": 3600.0, "quote": 0})
    assert c.set("b:1", ok(a="1"), ttl=NEVER.ttl_for({}, ok(a="1"), 0), endpoint="balance")
    assert c.get("b:1", endpoint="balance") is not None
    error = {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": ""}
    assert not c.set("b:2", error, ttl=NEVER.ttl_for({}, error, 0), endpoint="balance")
    assert not c.set("q:1", ok(a="1"), ttl=5, endpoint="quote")
    assert not c.set("x:1", error, ttl=60, endpoint="x")  # error bodies are never stored


# --- processes ----------------------------------------------------------------------------------


def test_survives_a_restart_in_a_second_process(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with ResponseCache(folder) as c:
        key = c.key("real", "quote", QUOTE_PARAMS)
        c.set(key, ok(stck_prpr="70000", name="삼성전자"), ttl=3600, endpoint="quote")
    reader = """
        import json, sys
        from kisresearch.pipeline.cache import ResponseCache
        with ResponseCache(sys.argv[1]) as c:
            params = {"FID_INPUT_ISCD": "005930", "FID_COND_MRKT_DIV_CODE": "J"}  # other order
            key = c.key("real", "quote", params)
            entry = c.get(key, endpoint="quote")
            print(json.dumps({"key": key, "payload": entry and entry.payload}))
    """
    done = run_python(reader, str(folder))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"key": key, "payload": ok(stck_prpr="70000", name="삼성전자")}


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    folder, n = tmp_path / "cache", 150
    writer = """
        import sys, time
        from kisresearch.pipeline.cache import ResponseCache
        folder, who, start, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
        c = ResponseCache(folder)
        while time.time() < start:
            time.sleep(0.001)
        for i in range(n):
            c.set(f"own:{who}:{i}", {"who": who, "i": i}, ttl=None, endpoint="own", symbol=who)
            c.set(f"shared:{i}", {"who": who, "i": i}, ttl=None, endpoint="shared")
            assert c.get(f"own:{who}:{i}", endpoint="own") is not None
        c.close()
    """
    ResponseCache(folder).close()  # the schema exists before the race starts
    start = str(time.time() + 1.5)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(writer), str(folder), who, start, str(n)],
            env=env,
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with ResponseCache(folder) as c:
        for who in ("a", "b"):
            for i in range(n):
                hit = c.get(f"own:{who}:{i}", endpoint="own")
                assert hit is not None and hit.payload == {"who": who, "i": i}
        for i in range(n):
            hit = c.get(f"shared:{i}", endpoint="shared")
            assert hit is not None and hit.payload["who"] in ("a", "b") and hit.payload["i"] == i
        assert c.stats()["entries"] == 3 * n
        assert c.clear(symbol="a") == n
    with sqlite3.connect(folder / "cache.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()


# --- bounds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("eviction", "hot_survives"),
    [
        ("least-recently-used", True),
        ("least-frequently-used", True),
        ("least-recently-stored", False),
    ],
)
def test_size_limit_evicts(
    make: Callable[..., ResponseCache], eviction: str, hot_survives: bool
) -> None:
    limit = 300_000
    c = make(size_limit=limit, eviction=eviction, compress_threshold=10**9)
    for i in range(100):
        c.set(f"k:{i}", {"blob": os.urandom(4096).hex()}, ttl=None, endpoint="x")
        c.get("k:0", endpoint="x")  # keep the first entry hot
    stats = c.stats()
    assert stats["entries"] < 60
    assert stats["bytes_on_disk"] <= limit * 1.2
    assert (c.get("k:0", endpoint="x") is not None) is hot_survives
    assert c.get("k:1", endpoint="x") is None  # cold and old: gone
    assert c.get("k:99", endpoint="x") is not None  # newest: kept


def test_large_payloads_are_compressed(make: Callable[..., ResponseCache], tmp_path: Path) -> None:
    c = make(compress_threshold=1_000)
    bars = {"rt_cd": "0", "output2": [{"stck_clpr": "70000", "acml_vol": "123"}] * 500}
    c.set("daily:big", bars, ttl=None, endpoint="daily")
    c.set("daily:small", ok(a="1"), ttl=None, endpoint="daily")
    assert c.get("daily:big", endpoint="daily").payload == bars  # type: ignore[union-attr]
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as con:
        rows = dict(con.execute("SELECT key, value FROM Cache").fetchall())
    con.close()
    assert rows["daily:big"].startswith(b"kz1:") and len(rows["daily:big"]) < 1_000
    assert rows["daily:small"].startswith(b"kj1:")


# --- safety -------------------------------------------------------------------------------------


class Bait:
    """Unpickling this creates the marker directory: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("read", ["get", "get_many"])
def test_planted_pickle_rows_are_refused(
    make: Callable[..., ResponseCache],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    read: str,
) -> None:
    marker, victim = tmp_path / "pwned", tmp_path / "victim.val"
    victim.write_text("keep me")
    c = make()
    folder = c.directory
    stock = diskcache.Cache(str(folder))  # the stock Disk pickles anything that is not raw
    tag = '["quote",null]'
    stock.set("quote:small", Bait(marker), tag=tag)
    stock.set("quote:file", [Bait(marker), "x" * 100_000], tag=tag)  # big: a pickle *file*
    stock.close()
    blob = pickle.dumps(Bait(marker))
    with sqlite3.connect(folder / "cache.db") as con:  # raw rows, one naming a file outside
        for key, filename in (("quote:raw", None), ("quote:escape", "../victim.val")):
            con.execute(
                "INSERT INTO Cache (key, raw, store_time, access_time, access_count, tag,"
                " size, mode, filename, value) VALUES (?, 1, 0, 0, 0, ?, 0, 4, ?, ?)",
                (key, tag, filename, None if filename else blob),
            )
    con.close()
    assert list(folder.rglob("*.val"))

    assert c.report().loc["quote", "entries"] == 4  # management never decodes values
    planted = ["quote:small", "quote:file", "quote:raw", "quote:escape"]
    with caplog.at_level(logging.WARNING, logger="kisresearch.cache"):
        if read == "get_many":
            assert c.get_many(planted) == {}
        for key in planted:
            assert c.get(key, endpoint="quote") is None
            assert f"refused cache row {key}" in caplog.text
    assert not marker.exists()
    assert victim.read_text() == "keep me"  # a planted filename cannot delete files elsewhere
    assert c.stats()["entries"] == 0  # refused rows are deleted ...
    assert not list(folder.rglob("*.val"))  # ... with the pickle file inside the cache
    c.set("quote:small", ok(a="1"), ttl=None, endpoint="quote")
    assert c.get("quote:small", endpoint="quote") is not None

    pickle.loads(blob)  # control: the bait works when something does unpickle it
    assert marker.is_dir()


def test_secrets_never_reach_keys_or_files(
    make: Callable[..., ResponseCache], caplog: pytest.LogCaptureFixture
) -> None:
    account, app_key, token = "87654321", "PSfakeAPPKEY0123456789", "eyJfakeTOKENvalue"
    params = {
        "CANO": account,
        "ACNT_PRDT_CD": "01",
        "INQR_DVSN": "02",
        "appkey": app_key,
        "authorization": f"Bearer {token}",
        "access_token": token,
    }
    c = make()
    with caplog.at_level(logging.WARNING, logger="kisresearch.cache"):
        key = c.key("real", "balance", params)
    for secret in (account, app_key, token):
        assert secret not in key and secret not in caplog.text
    assert "APPKEY" in caplog.text  # the name is reported, never the value
    public = {k: v for k, v in params.items() if k in ("CANO", "ACNT_PRDT_CD", "INQR_DVSN")}
    assert key == c.key("real", "balance", public)  # credentials dropped ...
    assert key != c.key("real", "balance", {**public, "CANO": "12345678"})  # ... account hashed
    body = {
        "rt_cd": "0",
        "output1": [{"pdno": "005930", "note": "VISIBLE-MARKER"}],
        "output2": [{}],
    }
    assert c.set(key, body, ttl=3600, endpoint="balance")
    c.close()
    blobs = b"".join(p.read_bytes() for p in c.directory.rglob("*") if p.is_file())
    assert b"VISIBLE-MARKER" in blobs  # control: stored bytes are plain to see
    for secret in (account, app_key, token):
        assert secret.encode() not in blobs


def test_files_are_owner_only(make: Callable[..., ResponseCache], tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        c = make(tmp_path / "deep" / "cache")
        c.set("k:1", ok(a="1"), ttl=None, endpoint="k")
    finally:
        os.umask(old)
    assert stat.S_IMODE(c.directory.stat().st_mode) == 0o700
    files = list(c.directory.iterdir())
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


def test_corrupt_database_is_moved_aside(
    make: Callable[..., ResponseCache], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    garbage = b"this is not sqlite " * 512
    (folder / "cache.db").write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="kisresearch.cache"):
        c = make(folder)
    assert str(folder / "cache.db") in caplog.text
    (moved,) = folder.glob("cache.db.corrupt-*")
    assert moved.read_bytes() == garbage
    assert c.set("k:1", ok(a="1"), ttl=None, endpoint="k")
    assert c.get("k:1", endpoint="k") is not None


def test_database_corrupted_while_in_use_recovers(
    make: Callable[..., ResponseCache], caplog: pytest.LogCaptureFixture
) -> None:
    c = make()
    c.set("k:1", ok(a="1"), ttl=None, endpoint="k")
    c.close()  # the last connection goes: SQLite folds the WAL in and removes it
    (c.directory / "cache.db").write_bytes(b"\x00garbage" * 4096)
    with caplog.at_level(logging.WARNING, logger="kisresearch.cache"):
        assert c.get("k:1", endpoint="k") is None  # no exception: a miss
    assert "moved it aside" in caplog.text
    assert c.set("k:2", ok(a="2"), ttl=None, endpoint="k")
    assert c.get("k:2", endpoint="k") is not None
    assert len(list(c.directory.glob("cache.db.corrupt-*"))) == 1


def test_unusable_folder_is_a_config_error(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match=str(a_file)):
        ResponseCache(a_file)
    with pytest.raises(ConfigError, match=str(a_file / "cache")):
        ResponseCache(a_file / "cache")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere
        pytest.skip("running as root: a 0500 folder is still writable")
    with pytest.raises(ConfigError, match=str(locked)):
        ResponseCache(locked)


def test_bad_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="eviction"):
        ResponseCache(tmp_path / "c", eviction="random")
    with pytest.raises(ConfigError):
        ResponseCache(tmp_path / "c", size_limit=0)


# --- keys ---------------------------------------------------------------------------------------


def test_keys_are_stable_and_normalised() -> None:
    key = cache_key("real", "quote", QUOTE_PARAMS)
    assert key.startswith("quote:") and len(key) == len("quote:") + 64
    assert key == cache_key("real", "quote", dict(reversed(QUOTE_PARAMS.items())))
    lower = {" fid_input_iscd ": "005930", "fid_cond_mrkt_div_code": "J"}
    assert key == cache_key("real", "quote", lower)
    assert cache_key("real", "x", {"N": 5}) == cache_key("real", "x", {"N": "5"})
    assert key != cache_key("paper", "quote", QUOTE_PARAMS)
    assert key != cache_key("real", "orderbook", QUOTE_PARAMS)
    assert key != cache_key("real", "quote", {**QUOTE_PARAMS, "FID_INPUT_ISCD": "000660"})
    with pytest.raises(ConfigError):
        cache_key("real", "quote", {"a": "1", "A": "2"})
    # Another interpreter, another hash seed: the same key.
    done = run_python(
        """
        from kisresearch.pipeline.cache.policy import cache_key
        params = {"FID_INPUT_ISCD": "005930", "FID_COND_MRKT_DIV_CODE": "J"}
        print(cache_key("real", "quote", params))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == key


# --- management ---------------------------------------------------------------------------------


def test_clear_by_endpoint_and_symbol(make: Callable[..., ResponseCache]) -> None:
    c = make()
    c.set("quote:1", ok(a="1"), ttl=None, endpoint="quote", symbol="005930")
    c.set("quote:2", ok(a="2"), ttl=None, endpoint="quote", symbol="000660")
    c.set("daily:1", ok(a="3"), ttl=None, endpoint="daily", symbol="005930")
    c.set("daily:2", ok(a="4"), ttl=None, endpoint="daily", symbol="005930")
    c.set("info:1", ok(a="5"), ttl=None, endpoint="info")
    assert c.clear(endpoint="quote", symbol="005930") == 1
    assert c.clear(symbol="005930") == 2
    assert c.clear(endpoint="info") == 1
    assert c.clear(endpoint="nothing") == 0
    assert c.get("quote:2", endpoint="quote") is not None
    assert c.clear() == 1
    assert c.stats()["entries"] == 0


def test_stats_report_and_hook(make: Callable[..., ResponseCache]) -> None:
    c = make()
    events: list[tuple[str, bool]] = []
    c.on_event = lambda endpoint, hit: events.append((endpoint, hit))
    c.set("quote:1", ok(a="1"), ttl=None, endpoint="quote")
    for _ in range(3):
        c.get("quote:1", endpoint="quote")
    c.get("quote:2", endpoint="quote")
    c.get("daily:1", endpoint="daily")
    assert events == [("quote", True)] * 3 + [("quote", False), ("daily", False)]
    stats = c.stats()
    assert {k: stats[k] for k in ("hits", "misses", "entries", "calls_saved")} == {
        "hits": 3,
        "misses": 2,
        "entries": 1,
        "calls_saved": 3,
    }
    assert stats["hit_ratio"] == pytest.approx(0.6)
    assert stats["time_saved_s"] == pytest.approx(3 / 20)
    assert c.stats(rate=2)["time_saved_s"] == pytest.approx(1.5)
    c.rate = 3
    assert c.stats()["time_saved_s"] == pytest.approx(1.0)
    assert stats["bytes_on_disk"] > 0
    report = c.report()
    assert list(report.index) == ["daily", "quote"] and report.index.name == "endpoint"
    assert report.loc["quote", ["entries", "hits", "misses"]].tolist() == [1, 3, 1]
    assert report.loc["daily", ["entries", "hits", "misses"]].tolist() == [0, 0, 1]
    assert report.loc["quote", "hit_ratio"] == pytest.approx(0.75)
    assert report.loc["quote", "bytes"] > 0 and report.loc["daily", "bytes"] == 0
    assert [str(t) for t in report.dtypes] == ["int64", "int64", "int64", "float64", "int64"]

    def broken(endpoint: str, hit: bool) -> None:
        raise RuntimeError("stats are down")

    c.on_event = broken
    assert c.get("quote:1", endpoint="quote") is not None  # a bad hook does not break reads


def test_counters_are_thread_safe(make: Callable[..., ResponseCache]) -> None:
    c = make()
    c.set("quote:1", ok(a="1"), ttl=None, endpoint="quote")

    def work() -> None:
        for i in range(100):
            c.get("quote:1" if i % 2 else "quote:none", endpoint="quote")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (c.stats()["hits"], c.stats()["misses"]) == (400, 400)


# --- @cacheable ---------------------------------------------------------------------------------


def test_cacheable_bare_uses_the_toolkit_folder(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "_default", None)
    calls: list[int] = []

    @cacheable
    def universe(n: int, market: str = "KOSPI") -> list[Any]:
        calls.append(n)
        return [market, (n, n)]

    assert not (home / "cache").exists()  # nothing on disk until the first call
    assert universe(2) == ["KOSPI", [2, 2]]  # JSON's answer, from the first call on
    assert universe(2) == universe(n=2, market="KOSPI") == ["KOSPI", [2, 2]]
    assert calls == [2]
    assert (home / "cache" / "cache.db").exists()
    assert universe(3) == ["KOSPI", [3, 3]] and calls == [2, 3]
    default = cache_module.default_cache()
    name = f"{__name__}.test_cacheable_bare_uses_the_toolkit_folder.<locals>.universe"
    assert default.stats()["hits"] == 2 and default.report().loc[name, "entries"] == 2
    assert universe.cache_clear() == 2  # type: ignore[attr-defined]
    default.close()


def test_cacheable_with_arguments(make: Callable[..., ResponseCache], clock: Any) -> None:
    c = make()
    calls: list[str] = []

    @cacheable(cache=c, ttl=10, namespace="mine", key=lambda client, symbol: symbol)
    def lookup(client: object, symbol: str) -> dict[str, str]:
        calls.append(symbol)
        return {"symbol": symbol}

    client = object()  # not JSON: key= picks what identifies the call
    assert lookup(client, "005930") == lookup(client, "005930") == {"symbol": "005930"}
    assert calls == ["005930"]
    assert lookup.cache_key(client, "005930") == cache_key(  # type: ignore[attr-defined]
        "mine", lookup.__module__ + "." + lookup.__qualname__, {"call": '"005930"'}
    )
    clock.advance(10)
    lookup(client, "005930")
    assert calls == ["005930", "005930"]

    @cacheable(cache=c)
    def needs_json(x: object) -> int:
        return 1

    with pytest.raises(TypeError, match="JSON"):
        needs_json(object())

    @cacheable(cache=c)
    def returns_object() -> object:
        return object()

    with pytest.raises(TypeError, match="JSON"):
        returns_object()
