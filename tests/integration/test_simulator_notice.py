"""A simulator nobody can miss: a plain script is told once, and every label says so."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kisresearch.config import VARIABLES, misspelt_variables

SCRIPT = """
import kisresearch as kr

with kr.KIS(progress=False, cache=False) as kis:
    df = kis.quotes("005930")
    print(repr(kis))
    print(df.attrs["env"])
with kr.KIS(progress=False, cache=False):  # a second fallback: no second notice
    pass
"""


def test_a_script_on_mistyped_credentials_is_told_once_and_labels_agree(tmp_path, home):
    secret = "PSsecretvalue-never-shown-0123456789"
    env = {**os.environ, "KIS_APPKEY": secret, "KIS_SECRET": secret}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown, env_attr = done.stdout.splitlines()
    assert "env='simulator'" in shown and env_attr == "simulator"
    err = done.stderr
    assert err.count("SimulatorWarning: no KIS credentials set") == 1, err
    assert "SettingWarning: KIS_APPKEY is set but is no kisresearch setting: did you mean " \
        "KIS_APP_KEY?" in err  # fmt: skip
    assert "KIS_SECRET is set but is no kisresearch setting: did you mean KIS_APP_SECRET?" in err
    assert secret not in err + done.stdout


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("KIS_APPKEY", "KIS_APP_KEY"),
        ("KIS_APPSECRET", "KIS_APP_SECRET"),
        ("KIS_SECRET", "KIS_APP_SECRET"),
        ("KIS_KEY", "KIS_APP_KEY"),
        ("kis_app_key", "KIS_APP_KEY"),
        ("KIS_APP_SECERT", "KIS_APP_SECRET"),
        ("KIS_ACCOUNT_NO", "KIS_ACCOUNT"),
        ("KIS_LIMITTER", "KIS_LIMITER"),
    ],
)
def test_near_misses_name_the_variable_meant(name, meant):
    assert misspelt_variables({name: "x"}) == {name: meant}


def test_our_own_and_other_tools_variables_are_left_alone():
    others = {"KIS_ACCOUNT_PRODUCT_CODE": "01", "KISS": "1", "PATH": "/bin"}
    assert misspelt_variables({**dict.fromkeys(VARIABLES, "x"), **others}) == {}


def test_every_variable_the_package_reads_is_known():
    import re
    from pathlib import Path

    import kisresearch

    read = re.compile(r"(?:env_str|env_float|environ\.get|_check)\(\s*\"(KIS_[A-Z_]+)\"")
    root = Path(kisresearch.__file__).parent
    used = {m for f in root.rglob("*.py") for m in read.findall(f.read_text())}
    assert len(used) > 10 and used <= VARIABLES, used - VARIABLES
