"""The client's stats agree with the simulator's server-side truth after real pulls, and no
log line, export or stats field carries a secret."""

from __future__ import annotations

import logging

import kisresearch as kr
from kisresearch.observe import logs


def test_stats_match_server_truth_after_a_pull(sim, home):
    with kr.KIS(simulator=sim, progress=False) as kis:
        codes = kr.universe()["symbol"].head(40).tolist()
        kis.quotes(codes, detail=True)  # 40 calls
        kis.quotes(codes)  # 2 calls
        kis.quotes(codes)  # cache: 2 hits, 0 calls
        s = kis.stats.summary()
        cache = kis.cache.stats()
    truth = sim.truth()
    # (a rejection is possible on a loaded machine -- the simulator shares this process's
    # GIL -- and must then be counted the same on both sides)
    assert s["calls"] == truth["accepted"] + truth["rejected"]
    assert s["ok"] == truth["accepted"] == 42
    assert s["rate_limited"] == truth["rejected"] == s["retries"]
    assert s["tokens_issued"] == truth["tokens_issued"] == 1
    assert s["cache_hits"] == cache["hits"] == 2
    assert s["cache_misses"] == cache["misses"] == 42
    assert s["by_endpoint"]["quote"]["calls"] == truth["by_tr_id"]["FHKST01010100"]
    assert s["by_endpoint"]["multiquote"]["calls"] == truth["by_tr_id"]["FHKST11300006"]


def test_no_secret_in_logs_stats_or_exports(sim, home, tmp_path):
    log_file = tmp_path / "kis.log"
    handler = logs.configure(level="DEBUG", json=True, file=log_file)
    try:
        with kr.KIS(simulator=sim, progress=False, cache=False) as kis:
            kis.quotes(["005930", "999999"], detail=True)
            token = kis.auth.token()
            # a careless caller logging a request with its headers
            logging.getLogger("kisresearch.user").debug("request headers %s", kis.auth.headers())
            exports = [
                kis.stats.save(tmp_path / f"s.{fmt}", format=fmt)
                for fmt in ("json", "csv", "jsonl")
            ]
            summary = repr(kis.stats.summary()) + repr(kis.stats)
    finally:
        logging.getLogger("kisresearch").removeHandler(handler)
        handler.close()
    texts = [log_file.read_text(), summary] + [p.read_text() for p in exports]
    assert "request headers" in texts[0]
    for secret in (sim.app_key, sim.app_secret, sim.account, token):
        for text in texts:
            assert secret not in text
