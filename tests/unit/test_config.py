"""The toolkit folder's modes, and where a system has none."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from kisresearch import config


def test_folder_is_made_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        folder = config.private_dir(tmp_path / "kis", "toolkit folder")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_without_posix_modes_nothing_is_changed_and_it_is_said_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(config, "POSIX_MODES", False)
    config._no_modes.cache_clear()
    (tmp_path / "kis").mkdir(mode=0o755)
    (tmp_path / "kis").chmod(0o755)
    with caplog.at_level(logging.INFO, logger="kisresearch.config"):
        config.private_dir(tmp_path / "kis", "toolkit folder")
        config.private_dir(tmp_path / "other", "bar store folder")
    config._no_modes.cache_clear()
    assert stat.S_IMODE((tmp_path / "kis").stat().st_mode) == 0o755  # chmod not tried
    notes = [r for r in caplog.records if "no POSIX file modes" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO


@pytest.mark.parametrize("native", [True, False])
def test_lock_excludes_another_holder(tmp_path, monkeypatch, native):
    monkeypatch.setattr(config, "NATIVE_LOCKS", native)
    import threading

    path = tmp_path / "x.lock"
    inside, order = threading.Event(), []

    def other() -> None:
        inside.wait()
        with config.locked(path):
            order.append("other")

    t = threading.Thread(target=other)
    t.start()
    with config.locked(path):
        inside.set()
        t.join(0.2)  # it cannot get in while this holds the lock
        order.append("first")
    t.join()
    assert order == ["first", "other"]
