"""Token manager: on disk, owner-only, one issuance per minute, shared by processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from kisresearch.config import Credentials, toolkit_dir
from kisresearch.pipeline.auth import TokenManager
from kisresearch.pipeline.transport import Transport
from tests.conftest import SimClock


def _manager(sim, home, clock=None):
    creds = Credentials(sim.app_key, sim.app_secret, sim.account)
    kwargs = {"clock": clock} if clock else {}
    return TokenManager(Transport(sim.base_url), creds, toolkit_dir(home), **kwargs)


def test_token_is_kept_on_disk_owner_only_without_the_secret(sim, home):
    tm = _manager(sim, home)
    token = tm.token()
    assert tm.path.exists()
    assert stat.S_IMODE(tm.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    raw = tm.path.read_text()
    assert sim.app_secret not in raw and sim.app_key not in raw
    assert sim.app_key not in tm.path.name
    assert json.loads(raw)["access_token"] == token
    # a second manager (a kernel restart) reads the file and issues nothing
    again = _manager(sim, home).token()
    assert again == token
    assert sim.truth()["tokens_issued"] == 1
    assert token not in repr(tm)


def test_a_token_file_readable_by_others_is_made_owner_only(sim, home, caplog):
    tm = _manager(sim, home)
    tm.token()
    tm.path.chmod(0o644)  # copied from a backup, or written by an older version
    assert _manager(sim, home).token()
    assert stat.S_IMODE(tm.path.stat().st_mode) == 0o600
    assert "readable by others (mode 644)" in caplog.text


def test_two_processes_starting_together_issue_one_token(sim, home, tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from kisresearch.pipeline.auth import TokenManager
        from kisresearch.config import Credentials, toolkit_dir
        from kisresearch.pipeline.transport import Transport
        go = float(sys.argv[1])
        tm = TokenManager(Transport({sim.base_url!r}),
                          Credentials({sim.app_key!r}, {sim.app_secret!r}),
                          toolkit_dir({str(home)!r}))
        while time.time() < go:
            time.sleep(0.001)
        print(tm.token())
        """
    )
    import time

    go = str(time.time() + 1.5)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, go],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    tokens = {o[0].strip() for o in outs}
    assert len(tokens) == 1
    assert sim.truth()["tokens_issued"] == 1


def test_rejected_token_is_reissued_after_waiting_out_the_minute(sim, home):
    import time

    clock = SimClock(sim, time.time())
    tm = _manager(sim, home, clock)
    first = tm.token()
    sim.expire_tokens()
    tm.invalidate(first)
    second = tm.token()  # must wait out the 60-s issuance rule, not hammer tokenP
    assert second != first
    assert 55 <= sum(clock.sleeps) <= 65
    truth = sim.truth()
    assert truth["tokens_issued"] == 2
    assert truth["errors"].get("EGW00133", 0) == 0


def test_invalidate_keeps_a_token_another_process_already_refreshed(sim, home):
    a, b = _manager(sim, home), _manager(sim, home)
    token = a.token()
    assert b.token() == token
    state = json.loads(a.path.read_text())
    state["access_token"] = "someone-elses-newer-token"
    a.path.write_text(json.dumps(state))
    b.invalidate(token)  # b saw `token` rejected, but the file already holds a newer one
    assert json.loads(a.path.read_text())["access_token"] == "someone-elses-newer-token"


def test_a_token_file_from_the_future_costs_at_most_the_minute(sim, home, caplog):
    import time

    clock = SimClock(sim, time.time())
    tm = _manager(sim, home, clock)
    ahead = clock.now() + 7200  # written by a machine whose clock runs 2 h ahead
    tm.path.write_text(json.dumps({"access_token": None, "expires_at": 0, "issued_at": ahead}))
    assert tm.token()
    assert sum(clock.sleeps) <= 62  # not the 7,260 s the file's issued_at asks for
    assert "issued_at is 7200 s ahead" in caplog.text and str(tm.path) in caplog.text


def test_a_token_file_with_wrong_types_is_set_aside_by_name(sim, home, caplog):
    tm = _manager(sim, home)
    tm.path.write_text(json.dumps({"access_token": "x", "expires_at": "soon"}))
    token = tm.token()  # was: a TypeError on every call, naming nothing, until deleted
    assert token and token != "x" and sim.truth()["tokens_issued"] == 1
    assert f"token file {tm.path} is not usable (expires_at is 'soon'" in caplog.text
    assert list(home.glob(f"_{tm.path.name}.bad-*"))
    assert json.loads(tm.path.read_text())["access_token"] == token


def test_a_server_rejecting_every_token_gets_two_tokens_then_a_clear_error(home):
    import time

    import kisresearch as kr
    from kisresearch.errors import TokenRejected
    from kisresearch.sim import Faults, Simulator

    with Simulator(rate=200, faults=Faults(token_reject=1.0)) as sim:
        clock = SimClock(sim, time.time())
        # one worker: with three, every item can pass its token fetch before the second
        # rejection is counted, and all three then end on the server's EGW00121 (seen on CI)
        with kr.KIS(simulator=sim, progress=False, clock=clock, workers=1) as kis:
            first = kis.quotes(["005930", "000660", "035420"], detail=True)
            again = kis.quotes(["005930", "000660"], detail=True)
        truth = sim.truth()
    # was: a token asked for every minute for as long as the pull ran, each one an alert
    assert truth["tokens_issued"] + truth["tokens_reused"] == 2  # two tokenP answers, no more
    assert first["error"].notna().all() and truth["accepted"] == 0
    assert first["error"].str.startswith("TokenRejected: the server rejected 2 tokens").any()
    assert again["error"].str.startswith("TokenRejected").all()
    assert sum(clock.sleeps) < 65  # the one minute between the two issuances, no more
    assert not issubclass(TokenRejected, kr.errors.APIError)  # not a server answer: no retry


@pytest.fixture
def full_folder(tmp_path):
    """A folder on a real filesystem with no space left: a 64 KiB tmpfs, filled."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root with CAP_SYS_ADMIN: no full disk here")
    try:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass
        finally:
            os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_token_that_cannot_be_saved_is_used_from_memory(sim, full_folder, caplog):
    creds = Credentials(sim.app_key, sim.app_secret, sim.account)
    tm = TokenManager(Transport(sim.base_url), creds, full_folder)
    token = tm.token()  # was: the issued token thrown away, and issuance refused after
    assert token and tm.token() == token and sim.truth()["tokens_issued"] == 1
    assert "could not save the token" in caplog.text and "No space left" in caplog.text


def test_a_token_asked_without_waiting_is_refused_while_issuance_is_throttled(sim, home):
    # a key pool asks so: another key goes on instead of one waiting for a minute
    from kisresearch.errors import TokenThrottled

    clock = SimClock(sim, time.time())
    tm = _manager(sim, home, clock)
    first = tm.token()
    tm.invalidate(first)
    with pytest.raises(TokenThrottled, match="may be issued in 60 s"):
        tm.token(wait=False)
    assert clock.sleeps == []  # refused at once
    clock.advance(60)
    sim.advance(60)
    assert tm.token(wait=False)  # a minute on: issued
    assert tm.rejections == 1
