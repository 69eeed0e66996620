"""The check that tells when KIS has rewritten a symbol's adjusted history."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from kisresearch.store.adjust import rewritten


def bars(days: list[int], closes: list[float], changes: list[float], **flags: list) -> pd.DataFrame:
    n = len(days)
    return pd.DataFrame(
        {
            "date": [pd.Timestamp(date.fromordinal(d)) for d in days],
            "close": closes,
            "change": changes,
            "modified": flags.get("modified", [False] * n),
            "split_rate": flags.get("split_rate", [0.0] * n),
            "ex_code": flags.get("ex_code", ["00"] * n),
        }
    )


D = date(2024, 3, 4).toordinal()
HELD = bars([D, D + 1], [1000, 1010], [0, 10])
KEYS = np.array([D, D + 1])


def check(new: pd.DataFrame, covered=((D, D + 10),), **kw) -> str | None:
    keys = np.array([pd.Timestamp(x).toordinal() for x in new["date"]])
    return rewritten(HELD, new, KEYS, keys, list(covered), **kw)


def test_a_seam_that_joins_is_no_rewrite() -> None:
    assert check(bars([D + 2, D + 3], [1020, 1000], [10, -20])) is None
    assert check(bars([D + 2], [1013], [0])) is None  # within rounding: 3 won of 1010


def test_a_seam_that_does_not_join_is_a_rewrite() -> None:
    why = check(bars([D + 2], [505], [0]))  # a 2-for-1 split: yesterday's close is 505 now
    assert why is not None and "505" in why and "1010" in why


def test_an_older_seam_counts_too() -> None:
    assert check(bars([D - 1], [2000], [5]), covered=[(D - 1, D + 1)]) is not None
    assert check(bars([D - 1], [1000], [5]), covered=[(D - 1, D + 1)]) is None


def test_flags_on_new_bars_are_a_rewrite() -> None:
    for flag in ({"modified": [True]}, {"split_rate": [2.0]}, {"ex_code": ["02"]}):
        assert check(bars([D + 2], [1010], [0], **flag)) is not None


def test_bars_already_held_and_unasked_gaps_are_not_seams() -> None:
    again = bars([D + 1], [999], [-11])  # an overlapping page repeats a held day
    assert check(again) is None
    apart = bars([D + 5], [100], [0])
    assert check(apart, covered=[(D, D + 1), (D + 5, D + 5)]) is None  # never asked between


def test_slack_is_in_price_units() -> None:
    held = bars([D], [10.00], [0])
    new = bars([D + 1], [10.05], [0.10])  # before = 9.95: five cents off
    keys = np.array([D + 1])
    assert rewritten(held, new, np.array([D]), keys, [(D, D + 1)], slack=0.02) is not None
    assert rewritten(held, new, np.array([D]), keys, [(D, D + 1)]) is None  # 2 won default
