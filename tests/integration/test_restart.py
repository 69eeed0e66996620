"""A kernel restart costs nothing: a second process finds the token and the cached answers
that the first one left, and sends no request at all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def _pull(sim, home) -> str:
    script = textwrap.dedent(
        f"""
        import kisresearch as kr
        kis = kr.KIS(app_key={sim.app_key!r}, app_secret={sim.app_secret!r},
                     base_url={sim.base_url!r}, env="real", home={str(home)!r}, progress=False,
                     cache_ttl={{"multiquote": 3600}})  # also during KRX hours
        codes = kr.universe()["symbol"].head(60).tolist()
        q = kis.quotes(codes)
        h = kis.history(codes[:3], start="2024-01-01", end="2024-06-30")
        print(int(q["from_cache"].sum()), int(h["from_cache"].sum()), len(q), len(h))
        kis.close()
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_second_process_is_served_from_disk(sim, home):
    first = _pull(sim, home).split()
    truth = sim.truth()
    assert first[:2] == ["0", "0"]
    calls, tokens = truth["accepted"], truth["tokens_issued"]
    assert calls == 2 + 6 and tokens == 1  # 60 quotes = 2 calls; 3 symbols x 2 pages
    second = _pull(sim, home).split()
    assert second == [first[2], first[3], first[2], first[3]]  # every row from the cache
    truth = sim.truth()
    assert (truth["accepted"], truth["tokens_issued"]) == (calls, tokens)
