"""The dashboard in a real browser: JupyterLab and Voila under Debian's headless Chromium.

Each server starts once per module on a free localhost port and runs a small notebook: a
dashboard shown in one cell, a pull against the embedded simulator in the next. The page is
polled while the pull runs: the dashboard's calls counter and plot must change several times
before the pull's cell prints, not only once at the end. Voila reads the repository's
``notebooks/voila.json`` (progressive rendering), as it does when started in that folder.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VOILA_CONFIG = Path(__file__).resolve().parents[2] / "notebooks" / "voila.json"
PULL = 120  # detail quotes, one call each: about 6 s at the simulator's 20 calls/s
DONE = f"pulled {PULL}"  # the pull cell's output (its source does not contain this text)
CELLS = [
    # a throwaway toolkit folder and no keys: the embedded simulator
    "import os, tempfile\n"
    "for name in [n for n in os.environ if n.startswith('KIS_')]:\n"
    "    del os.environ[name]\n"
    "os.environ['KIS_HOME'] = tempfile.mkdtemp(prefix='kisresearch-')\n"
    "import kisresearch as kr\n"
    "kis = kr.KIS.simulator(process=True, progress=False)\n"
    "codes = list(kr.universe()['symbol'])",
    "dash = kr.Dashboard(kis, interval=0.25).start()\ndash",
    f"frame = kis.quotes(codes[:{PULL}], detail=True)\nprint('pulled', len(frame))",
    "dash.stop()\nkis.close()",
]
STATE = """(done) => {
    const d = document.querySelector('.kisresearch-dashboard');
    const calls = d && d.querySelector('[data-counter="calls"]');
    const img = d && d.querySelector('img');
    if (!calls || !img) return null;
    return {calls: calls.innerText, src: img.src, natural: img.naturalWidth,
            shown: img.getBoundingClientRect().width, done: document.body.innerText.includes(done)};
}"""

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(folder: Path) -> Path:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in CELLS
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "dash.ipynb"
    path.write_text(json.dumps(nb))
    return path


def _serve(folder: Path, *args: str) -> Iterator[str]:
    """Run ``python -m <args> --port=<free>`` in ``folder`` until the fixture ends."""
    folder.mkdir(parents=True, exist_ok=True)
    _notebook(folder)
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(folder / ".config"),
        "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"),
        "IPYTHONDIR": str(folder / ".ipython"),
        "MPLBACKEND": "Agg",
        "KIS_PROGRESS": "0",
    }
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args, f"--port={port}", "--no-browser"],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the server did not listen in 120 s"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[browser]')"
    )
    for module in ("jupyterlab", "voila"):
        pytest.importorskip(
            module, reason=f"{module} is not installed (pip install -e '.[browser]')"
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            device_scale_factor=2,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("lab")
    yield from _serve(
        folder,
        "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        "--allow-root",  # CI machines run as root
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",  # no look-ups on the network
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={folder / '.settings'}",
        f"--LabApp.workspaces_dir={folder / '.workspaces'}",
    )


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("voila")
    shutil.copy(VOILA_CONFIG, folder / "voila.json")  # read from the folder Voila starts in
    yield from _serve(folder, "voila", "dash.ipynb", "--Voila.ip=127.0.0.1")


def _calls(state: dict[str, Any]) -> int:
    return int(state["calls"].replace(",", ""))


def _assert_live(page: Any, timeout: float = 180) -> None:
    """Follow the dashboard until the pull's cell prints: it must have shown the pull under
    way several times (calls between 0 and the pull's), each with a new plot."""
    during: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"the pull did not finish in {timeout:g} s"
        state = page.evaluate(STATE, DONE)
        if state is not None:
            if state["done"]:
                break
            if not during or (state["calls"], state["src"]) != (
                during[-1]["calls"],
                during[-1]["src"],
            ):
                during.append(state)
        time.sleep(0.1)
    partial = [s for s in during if 0 < _calls(s) < PULL]
    assert len({s["calls"] for s in partial}) >= 3, [s["calls"] for s in during]
    assert len({s["src"] for s in partial}) >= 3  # the plot was redrawn while the pull ran
    # stop() draws the final state: every call of the pull. The counters arrive before the
    # plot, whose new image is decoded a moment later (naturalWidth 0 until then), so the
    # state is taken once its image is decoded
    final = page.wait_for_function(
        f"(pull) => {{ const s = ({STATE})('');"
        " return s && Number(s.calls.replace(',', '')) >= pull && s.natural > 0 && s; }",
        arg=PULL,
        timeout=60_000,
    ).json_value()
    # the SVG at its own size: 720 CSS px, drawn from vectors at the page's 2 px per CSS px
    assert final["natural"] == 720 and final["shown"] == 720


def test_dashboard_updates_live_in_jupyterlab(browser: Any, lab: str) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{lab}/lab/tree/dash.ipynb?reset", timeout=120_000)
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext",
            timeout=120_000,
        )
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
        # not awaited: the command's promise settles only when every cell has run
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        _assert_live(page)
    finally:
        page.close()


def test_dashboard_updates_live_in_voila(browser: Any, voila: str) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{voila}/", timeout=120_000)
        _assert_live(page)
    finally:
        page.close()
