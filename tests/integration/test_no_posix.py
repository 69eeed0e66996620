"""The package without POSIX-only modules, as on Windows: two processes, one limiter, one token.

Each child runs with a finder at the front of ``sys.meta_path`` that refuses ``fcntl`` and the
other POSIX-only modules, then pulls detail quotes (one call a symbol) from one real simulator
through the file limiter and a toolkit folder both children share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kisresearch.sim import Simulator
from kisresearch.sim.listings import domestic

pytestmark = pytest.mark.slow

POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "syslog")

NO_POSIX = f"""
import sys
BLOCKED = {POSIX_ONLY!r}
for name in BLOCKED:
    sys.modules.pop(name, None)

class NoPosix:
    tried = []

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            NoPosix.tried.append(name)
            raise ImportError(f"no module named {{name!r}} (as on Windows)")
        return None

sys.meta_path.insert(0, NoPosix())
"""

PULL = """
import json, sys
import kisresearch as kr

key, secret, url, codes = sys.argv[1:5]
with kr.KIS(key, secret, base_url=url, env="real", limiter="file", cache=False,
            progress=False) as kis:
    print("ready", flush=True)
    sys.stdin.readline()  # both children start together
    df = kis.quotes(codes.split(","), detail=True)
    loaded = sorted(m for m in BLOCKED if m in sys.modules)
    print(json.dumps({"errors": int(df["error"].notna().sum()), "rows": len(df),
                      "store": repr(kis.limiter.store), "loaded": loaded}), flush=True)
"""


def test_two_processes_without_fcntl_share_one_limiter_and_one_token(tmp_path):
    codes = [s.code for s in domestic().values()][:40]
    env = {
        **os.environ,
        "KIS_HOME": str(tmp_path / "home"),
        "KIS_LIMITER_DIR": str(tmp_path / "limiter"),
    }
    with Simulator() as sim:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    NO_POSIX + PULL,
                    sim.app_key,
                    sim.app_secret,
                    sim.base_url,
                    ",".join(half),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
            )
            for half in (codes[:20], codes[20:])
        ]
        try:
            for p in procs:
                assert p.stdout is not None and p.stderr is not None
                if p.stdout.readline() != "ready\n":
                    pytest.fail(p.stderr.read())
            for p in procs:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            results = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                p.kill()
        for p, (_, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err
        done = [json.loads(out) for out, _ in results]
        truth = sim.truth()
    assert [d["errors"] for d in done] == [0, 0] and [d["rows"] for d in done] == [20, 20]
    assert all(d["store"].startswith("FileStore(") for d in done)
    assert all(d["loaded"] == [] for d in done)
    assert truth["tokens_issued"] == 1  # one token between the two, through the shared folder
    assert truth["rejected"] == 0
    assert truth["max_in_window"] <= 20
