"""The wheel carries what the package needs: installed into a fresh virtual environment, the
README's main job (`kisresearch demo`) and the public API work from it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (found,) = out.glob("kisresearch-*.whl")
    return found


def test_wheel_includes_the_data_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "kisresearch/py.typed" in names  # users get the types
    shipped = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "data").rglob("*")
        if p.is_file() and p.relative_to(ROOT / "data").parts[0] != "store"
    )  # data/store/ is the notebooks' bar store, git-ignored: never shipped
    assert shipped and all(f"kisresearch/{name}" in names for name in shipped), shipped
    assert not [n for n in names if n.startswith("kisresearch/data/store")]
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "kisresearch").rglob("*.py"))
    assert [m for m in modules if m not in names] == []  # every module, every subpackage
    assert any(n.endswith("entry_points.txt") for n in names)


@pytest.mark.slow
def test_wheel_installs_and_runs_the_demo(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # A venv that inherits nothing (neither the base interpreter's site-packages nor an
    # active venv's): the wheel's own dependencies are installed into it, as a user's pip
    # would (from pip's cache when the machine has them).
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
    env["KIS_HOME"] = str(tmp_path / "home")
    code = (
        "import kisresearch as kr, sys; "
        "print(kr.__file__); print(kr.__version__); "
        "assert all(hasattr(kr, n) for n in kr.__all__)"
    )
    out = subprocess.run(
        [py, "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out[0].startswith(str(env_dir)), out  # the wheel, not the checkout
    version = subprocess.run(
        [env_dir / "bin" / "kisresearch", "--version"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert version.strip() == f"kisresearch {out[1]}"
    demo = subprocess.run(
        [env_dir / "bin" / "kisresearch", "demo", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "quotes, whole universe: 2,507 rows" in demo.stdout
    assert "0 rows with errors" in demo.stdout
