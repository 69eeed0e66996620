"""StatsManager: aggregation, ring bound, thread safety, views, exports, warnings."""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kisresearch.errors import ConfigError
from kisresearch.observe.stats import (
    ENDPOINT_FIELDS,
    FRAME_COLUMNS,
    SAMPLE_SIZE,
    SCHEMA_VERSION,
    SUMMARY_FIELDS,
    StatsManager,
)

EP, TR = "quotations/inquire-price", "FHKST01010100"


_AUTO = "<from outcome>"


def attempt(
    stats: StatsManager,
    outcome: str = "ok",
    latency: float = 0.05,
    *,
    endpoint: str = EP,
    code: str | None = _AUTO,
) -> None:
    if code == _AUTO:
        code = {"rate_limited": "EGW00201", "error": "EGW00999"}.get(outcome)
    stats.record_attempt(endpoint, TR, 0.0, latency, outcome, code)


# ----------------------------------------------------------------- aggregation
def test_per_second_counts_and_percentiles(clock) -> None:
    stats = StatsManager(clock=clock)
    latencies = [0.01 * (i + 1) for i in range(10)]
    for i, lat in enumerate(latencies):
        attempt(stats, ["ok", "ok", "rate_limited", "error", "transport"][i % 5], lat)
    stats.record_retry(EP, "EGW00201")
    stats.record_cache(EP, hit=True)
    stats.record_cache(EP, hit=False)
    stats.record_cache(EP, hit=True)
    stats.record_wait(0.25)
    clock.advance(1)
    for _ in range(3):
        attempt(stats, latency=0.2)

    f = stats.frame()
    assert len(f) == 2
    first = f.iloc[0]
    assert first["calls"] == 10 and first["ok"] == 4 and first["rate_limited"] == 2
    assert first["errors"] == 4  # business + transport
    assert (first["retries"], first["cache_hits"], first["cache_misses"]) == (1, 2, 1)
    assert first["latency_p50"] == pytest.approx(np.percentile(latencies, 50))
    assert first["latency_p95"] == pytest.approx(np.percentile(latencies, 95))
    assert first["wait_s"] == pytest.approx(0.25)
    assert first["calls_per_s"] == 10.0
    assert first["error_rate"] == pytest.approx(0.4)
    assert math.isnan(first["budget_used"])  # no limit
    assert f.iloc[1]["calls"] == 3 and f.iloc[1]["latency_p50"] == pytest.approx(0.2)


def test_frame_shape_index_and_dtypes(clock) -> None:
    stats = StatsManager(clock=clock)
    empty = stats.frame()
    assert list(empty.columns) == list(FRAME_COLUMNS) and len(empty) == 0
    attempt(stats)
    f = stats.frame()
    assert list(f.columns) == list(FRAME_COLUMNS)
    assert isinstance(f.index, pd.DatetimeIndex) and f.index.name == "time"
    assert str(f.index.tz) == "Asia/Seoul"
    assert f.index[0] == pd.Timestamp(int(clock.now()), unit="s", tz="UTC")
    for col in FRAME_COLUMNS:
        expected = "int64" if col in FRAME_COLUMNS[:7] else "float64"
        assert f[col].dtype == expected, col
    assert empty.dtypes.tolist() == f.dtypes.tolist()


def test_gaps_are_zero_rows(clock) -> None:
    stats = StatsManager(clock=clock, limit=20)
    attempt(stats)
    clock.advance(5.5)
    attempt(stats)
    f = stats.frame()
    assert len(f) == 6
    assert f["calls"].tolist() == [1, 0, 0, 0, 0, 1]
    assert (f.index[1:] - f.index[:-1] == pd.Timedelta(seconds=1)).all()
    gap = f.iloc[2]
    assert gap["calls"] == 0 and gap["wait_s"] == 0.0 and gap["budget_used"] == 0.0
    assert math.isnan(gap["latency_p50"]) and math.isnan(gap["error_rate"])
    assert len(stats.frame(last=2)) == 2


def test_ring_drops_seconds_beyond_horizon(clock) -> None:
    stats = StatsManager(clock=clock, horizon=5)
    for _ in range(12):
        attempt(stats)
        attempt(stats)
        clock.advance(1)
    f = stats.frame()
    assert len(f) == 5 and f["calls"].tolist() == [2] * 5
    assert len(stats._ring) == 5
    assert stats.totals["calls"] == 24  # totals are for the whole run
    # A late event for a second already dropped counts in totals only.
    now = clock.now()
    clock.t = now - 30
    attempt(stats)
    clock.t = now
    assert stats.totals["calls"] == 25 and stats.frame()["calls"].sum() == 10


def test_latency_sample_is_bounded(clock) -> None:
    stats = StatsManager(clock=clock)
    for i in range(5000):
        attempt(stats, latency=(i % 100) / 100)
    bucket = stats._ring[int(clock.now()) % stats._horizon]
    assert len(bucket.lat) == SAMPLE_SIZE and bucket.seen == 5000
    row = stats.frame().iloc[0]
    assert row["calls"] == 5000
    assert row["latency_p50"] == pytest.approx(0.5, abs=0.1)
    assert row["latency_p95"] == pytest.approx(0.95, abs=0.05)


def test_many_threads_totals_exact(clock) -> None:
    stats = StatsManager(clock=clock)
    threads_n, per_thread = 8, 3000
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            clock.advance(0.3)
            time.sleep(0.0005)

    def worker(k: int) -> None:
        for i in range(per_thread):
            attempt(stats, "ok" if i % 10 else "error", endpoint=f"ep{k % 2}")
            stats.record_cache(f"ep{k % 2}", hit=bool(i % 2))
            stats.record_wait(0.001)

    tick = threading.Thread(target=ticker)
    tick.start()
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    tick.join()

    total = threads_n * per_thread
    t = stats.totals
    assert t["calls"] == total and t["errors"] == total // 10 and t["ok"] == total - total // 10
    assert t["cache_hits"] + t["cache_misses"] == total
    assert t["wait_s"] == pytest.approx(total * 0.001)
    f = stats.frame()
    assert f["calls"].sum() == total and f["errors"].sum() == total // 10
    s = stats.summary()
    assert sum(e["calls"] for e in s["by_endpoint"].values()) == total


# ----------------------------------------------------------------------- views
def test_budget_used_with_limit(clock) -> None:
    stats = StatsManager(clock=clock, limit=20)
    for _ in range(15):
        attempt(stats)
    clock.advance(1)
    for _ in range(5):
        attempt(stats)
    f = stats.frame()
    assert f["budget_used"].tolist() == [0.75, 0.25]
    s = stats.summary()
    assert s["calls_per_s"] == 10.0 and s["budget_used"] == 0.5
    assert s["peak_calls_per_s"] == 15.0 and s["limit"] == 20.0


def test_summary_totals(clock) -> None:
    stats = StatsManager(clock=clock)
    assert list(stats.summary()) == list(SUMMARY_FIELDS)
    assert math.isnan(stats.summary()["error_rate"])
    attempt(stats, latency=0.1)
    attempt(stats, "rate_limited")
    attempt(stats, "error", code="KIOK0560", endpoint="trading/inquire-balance")
    attempt(stats, "transport", code=None)
    stats.record_retry(EP, "EGW00201")
    stats.record_retry(EP, "timeout")
    stats.record_cache(EP, hit=True)
    stats.record_token()
    stats.record_wait(1.5)
    clock.advance(3)
    attempt(stats)
    s = stats.summary()
    assert list(s) == list(SUMMARY_FIELDS)
    assert (s["calls"], s["ok"], s["rate_limited"], s["errors"], s["transport_errors"]) == (
        5,
        2,
        1,
        2,
        1,
    )
    assert s["retries"] == 2 and s["retry_reasons"] == {"EGW00201": 1, "timeout": 1}
    assert s["cache_hits"] == 1 and s["cache_hit_ratio"] == 1.0 and s["tokens_issued"] == 1
    assert s["wait_s"] == 1.5 and s["elapsed_s"] == 3.0
    assert s["calls_per_s"] == pytest.approx(5 / 4)  # active span: 4 seconds
    assert s["peak_calls_per_s"] == 4.0 and s["error_rate"] == pytest.approx(0.4)
    assert s["error_codes"] == {"EGW00201": 1, "KIOK0560": 1}
    assert math.isnan(s["budget_used"])
    balance = s["by_endpoint"]["trading/inquire-balance"]
    assert list(balance) == list(ENDPOINT_FIELDS)
    assert balance["calls"] == 1 and balance["errors"] == 1 and balance["tr_id"] == TR
    assert s["by_endpoint"][EP]["retries"] == 2


def test_totals_live_error_rate_and_reset(clock) -> None:
    stats = StatsManager(clock=clock)
    for i in range(10):
        attempt(stats, "error" if i < 5 else "ok")
    clock.advance(20)
    for _ in range(10):
        attempt(stats)
    assert stats.live_error_rate(window=10) == 0.0
    assert stats.live_error_rate(window=30) == pytest.approx(5 / 20)
    clock.advance(1)
    t = stats.totals
    assert t["calls"] == 20 and t["current_calls_per_s"] == 10.0 and t["elapsed_s"] == 21.0
    clock.advance(60)
    assert math.isnan(stats.live_error_rate())
    stats.reset()
    assert stats.totals["calls"] == 0 and len(stats.frame()) == 0
    assert stats.totals["elapsed_s"] == 0.0


def test_summary_frame(clock) -> None:
    stats = StatsManager(clock=clock)
    attempt(stats, latency=0.1)
    attempt(stats, "error", latency=0.3, endpoint="other")
    f = stats.summary_frame()
    assert list(f.index) == ["other", EP, "total"] and f.index.name == "endpoint"
    assert list(f.columns) == list(ENDPOINT_FIELDS)
    assert f.loc["total", "calls"] == 2 and f["calls"].dtype == "int64"
    assert f.loc["total", "latency_mean"] == pytest.approx(0.2)
    assert f.loc["other", "error_rate"] == 1.0


def test_bad_arguments(clock, tmp_path: Path) -> None:
    stats = StatsManager(clock=clock)
    with pytest.raises(ValueError, match="outcome"):
        attempt(stats, "maybe")
    with pytest.raises(ConfigError):
        stats.save(tmp_path / "x", format="xml")
    with pytest.raises(ConfigError):
        StatsManager(horizon=0)
    with pytest.raises(ConfigError):
        StatsManager(limit=0)


# ------------------------------------------------------------------- rendering
def test_quiet_until_asked_then_prints(clock, capsys) -> None:
    stats = StatsManager(clock=clock, limit=20)
    for _ in range(5):
        attempt(stats)
    stats.summary()
    stats.frame()
    assert capsys.readouterr() == ("", "")
    buf = io.StringIO()
    stats.print_stats(file=buf)
    text = buf.getvalue()
    assert "calls" in text and "5 (5 ok" in text and "of 20/s" in text
    stats.print_stats()
    assert capsys.readouterr().out == text


def test_html_repr_escapes(clock) -> None:
    stats = StatsManager(clock=clock)
    attempt(stats, "error", endpoint="<script>alert(1)</script>", code="<b>&x</b>")
    out = stats._repr_html_()
    assert "<script>" not in out and "<b>&x" not in out
    assert "&lt;script&gt;" in out and "&lt;b&gt;&amp;x" in out
    assert repr(stats).startswith("StatsManager(calls=1, ")


# ---------------------------------------------------------------------- export
def _feed(stats: StatsManager, clock, seconds: int = 4) -> None:
    for s in range(seconds):
        for i in range(s + 1):
            attempt(stats, "error" if i == 2 else "ok", latency=0.01 * (i + 1))
        stats.record_cache(EP, hit=s % 2 == 0)
        clock.advance(1)


def _check_seconds(read: pd.DataFrame, frame: pd.DataFrame) -> None:
    assert list(read.columns) == ["time", *FRAME_COLUMNS]
    times = pd.to_datetime(read["time"])
    assert list(times) == list(frame.index)
    assert all(t.utcoffset() == pd.Timedelta(hours=9) for t in times)  # written in KST
    for col in FRAME_COLUMNS:
        np.testing.assert_allclose(
            read[col].to_numpy(dtype="float64"), frame[col].to_numpy(dtype="float64")
        )
        if col in FRAME_COLUMNS[:7]:
            assert read[col].dtype == "int64", col


@pytest.mark.parametrize("name", ["stats.json", "stats.json.gz"])
def test_json_round_trip(clock, tmp_path: Path, name: str) -> None:
    stats = StatsManager(clock=clock, limit=20)
    _feed(stats, clock)
    path = stats.save(tmp_path / name, format="json")
    assert path == tmp_path / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["schema"] == SCHEMA_VERSION == 1
    assert list(doc) == ["schema", "summary", "seconds"]
    assert list(doc["summary"]) == list(SUMMARY_FIELDS)
    assert doc["summary"]["calls"] == 10 and doc["summary"]["error_codes"] == {"EGW00999": 2}
    read = pd.DataFrame(doc["seconds"])
    _check_seconds(read, stats.frame())


@pytest.mark.parametrize("name", ["stats.csv", "stats.csv.gz"])
def test_csv_round_trip(clock, tmp_path: Path, name: str) -> None:
    stats = StatsManager(clock=clock)  # no limit: budget_used is empty (NaN)
    _feed(stats, clock)
    path = stats.save(tmp_path / name, format="csv")
    read = pd.read_csv(path)
    _check_seconds(read, stats.frame())
    assert read["budget_used"].isna().all()


@pytest.mark.parametrize("name", ["stats.jsonl", "stats.jsonl.gz"])
def test_jsonl_appends_complete_seconds(clock, tmp_path: Path, name: str) -> None:
    stats = StatsManager(clock=clock, limit=20)
    _feed(stats, clock, seconds=3)
    attempt(stats)  # the second in progress: written by a later save
    path = stats.save(tmp_path / name)
    first = pd.read_json(path, lines=True)
    assert len(first) == 3 and (first["schema"] == 1).all()
    _feed(stats, clock, seconds=2)
    stats.save(path)
    stats.save(path)  # nothing new: nothing appended
    read = pd.read_json(path, lines=True)
    assert list(read.columns) == ["schema", "time", *FRAME_COLUMNS]
    assert read["time"].is_unique and len(read) == 5
    _check_seconds(read.drop(columns="schema"), stats.frame().iloc[:5])
    assert read["calls"].tolist() == [1, 2, 3, 2, 2]  # 3rd second's in-progress call included


def test_jsonl_append_after_a_torn_last_line_keeps_the_file_readable(
    clock, tmp_path: Path, caplog
) -> None:
    stats = StatsManager(clock=clock, limit=20)
    _feed(stats, clock, seconds=3)
    path = stats.save(tmp_path / "stats.jsonl")
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[0][:25])  # a write cut short
    _feed(stats, clock, seconds=2)
    stats.save(path)
    read = pd.read_json(path, lines=True)  # raised ValueError on the torn line before
    assert read["time"].is_unique and len(read) == 5
    assert "torn line (25 bytes)" in caplog.text and str(path) in caplog.text


def test_compress_flag_and_plain_gz_detection(clock, tmp_path: Path) -> None:
    stats = StatsManager(clock=clock)
    _feed(stats, clock)
    path = stats.save(tmp_path / "s.json", format="json", compress=True)
    assert path.name == "s.json.gz"
    assert gzip.decompress(path.read_bytes()).startswith(b"{")
    plain = stats.save(tmp_path / "p.json", format="json")
    assert plain.read_bytes().startswith(b"{")


def test_export_holds_only_documented_fields(clock, tmp_path: Path) -> None:
    stats = StatsManager(clock=clock)
    _feed(stats, clock)
    doc = json.loads(stats.save(tmp_path / "s.json", format="json").read_text())
    for row in doc["seconds"]:
        assert list(row) == ["time", *FRAME_COLUMNS]
    for entry in doc["summary"]["by_endpoint"].values():
        assert list(entry) == list(ENDPOINT_FIELDS)


def test_rotation_keeps_keep_files(clock, tmp_path: Path) -> None:
    stats = StatsManager(clock=clock)
    _feed(stats, clock)
    path = tmp_path / "stats.json"
    for _ in range(6):
        stats.save(path, format="json", rotate_bytes=10, keep=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["stats.json", "stats.json.1", "stats.json.2"]
    for p in tmp_path.iterdir():
        assert json.loads(p.read_text())["schema"] == 1
    small = tmp_path / "small.json"
    stats.save(small, format="json", rotate_bytes=10**9, keep=2)
    stats.save(small, format="json", rotate_bytes=10**9, keep=2)
    assert not (tmp_path / "small.json.1").exists()


def test_autosave_writes_and_stops(clock, tmp_path: Path) -> None:
    stats = StatsManager(clock=clock)
    _feed(stats, clock)
    path = tmp_path / "auto" / "stats.json"
    stats.autosave(path, every=0.01, format="json")
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists()
    attempt(stats)
    stats.stop_autosave()
    assert not any(t.name == "kisresearch-stats-autosave" for t in threading.enumerate())
    assert json.loads(path.read_text())["summary"]["calls"] == 11  # a last save on stop
    stats.stop_autosave()  # idempotent


# -------------------------------------------------------------------- warnings
def _run(stats: StatsManager, clock, seconds: int, calls: int, rejected: int = 0, errors: int = 0):
    for _ in range(seconds):
        for i in range(calls):
            outcome = "rate_limited" if i < rejected else "error" if i < rejected + errors else "ok"
            attempt(stats, outcome)
        clock.advance(1)
    attempt(stats)  # roll over into a new second: the window is checked


def _warnings(caplog, kind: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "stats_warning", None) == kind]


def test_budget_warning_fires_once_per_period(clock, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="kisresearch.stats")
    stats = StatsManager(clock=clock, limit=20, warn_every=60)
    _run(stats, clock, seconds=5, calls=19, rejected=1)
    [record] = _warnings(caplog, "budget")
    assert record.name == "kisresearch.stats" and record.levelno == logging.WARNING
    assert "limit" in record.getMessage()
    _run(stats, clock, seconds=30, calls=19, rejected=1)
    assert len(_warnings(caplog, "budget")) == 1  # rate-limited to one per warn_every
    _run(stats, clock, seconds=31, calls=19, rejected=1)
    assert len(_warnings(caplog, "budget")) == 2


def test_budget_warning_silent_when_it_should_be(clock, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="kisresearch.stats")
    _run(StatsManager(clock=clock, limit=20), clock, seconds=20, calls=19)  # busy, no rejection
    _run(StatsManager(clock=clock, limit=20), clock, seconds=20, calls=10, rejected=1)  # slow
    _run(StatsManager(clock=clock), clock, seconds=20, calls=19, rejected=5)  # no limit known
    assert caplog.records == []


def test_error_rate_warning(clock, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="kisresearch.stats")
    _run(StatsManager(clock=clock), clock, seconds=1, calls=10, errors=5)  # too few calls
    _run(StatsManager(clock=clock), clock, seconds=10, calls=10, errors=0)
    assert caplog.records == []
    stats = StatsManager(clock=clock, warn_error_rate=0.05)
    _run(stats, clock, seconds=3, calls=10, errors=1)  # 10% of 30
    [record] = _warnings(caplog, "error_rate")
    assert record.error_rate == pytest.approx(0.1)  # type: ignore[attr-defined]
    assert _warnings(caplog, "budget") == []
