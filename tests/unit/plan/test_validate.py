from __future__ import annotations

import pandas as pd
import pytest

from kisresearch.plan import validate


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("005930", ["005930"]),
        (" 005930 ", ["005930"]),
        (["005930", "000660", "005930"], ["005930", "000660"]),
        (("000660",), ["000660"]),
        ({"000660", "005930"}, ["000660", "005930"]),
        (pd.Series(["035420", "005930"]), ["035420", "005930"]),
        (pd.Index(["035420"]), ["035420"]),
        (["0000j0"], ["0000J0"]),
    ],
)
def test_symbols_normalise(given, expected):
    assert validate.symbols(given) == expected


@pytest.mark.parametrize("given", ["5930", "0059300", "", "삼성전자", "00593-", ["005930", "x"]])
def test_malformed_symbols_are_named(given):
    with pytest.raises(ValueError) as info:
        validate.symbols(given)
    bad = given[-1] if isinstance(given, list) else given
    assert repr(bad) in str(info.value) or "no symbols" in str(info.value)


@pytest.mark.parametrize("given", [None, 5930, [5930], ["005930", None], b"005930", 1.5])
def test_wrong_types_are_type_errors(given):
    with pytest.raises(TypeError) as info:
        validate.symbols(given)
    assert "str" in str(info.value)


def test_int_code_gets_a_hint():
    with pytest.raises(TypeError, match="005930"):
        validate.symbols([5930])


def test_empty_list_is_an_error():
    with pytest.raises(ValueError, match="no symbols"):
        validate.symbols([])
