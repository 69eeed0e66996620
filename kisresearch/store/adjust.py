"""When has KIS rewritten a symbol's adjusted history? Judged from the bars just fetched against
the ones held, before anything is stored: a split or another capital change makes every earlier
adjusted bar stale, while raw bars never change.

The evidence, any of which is enough:

- a new bar after the held ones that KIS flags: ``modified`` (``mod_yn`` Y), ``split_rate``
  (``prtt_rate``) not 0, or ``ex_code`` (``flng_cls_code``: ex-rights, ex-dividend, ...) other
  than 00;
- a seam that does not join: where a new bar follows a held one (or a held one a new one) with
  nothing unasked between them, the later bar's previous close (``close - change``, in the
  units of the day it was fetched) must be the earlier bar's close, within rounding (0.3%, at
  least two won or two cents).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import spans as sp

TOLERANCE = 0.003


def rewritten(
    held: pd.DataFrame, new: pd.DataFrame, keys: np.ndarray, new_keys: np.ndarray,
    covered: Sequence[sp.Span], slack: float = 2.0,
) -> str | None:  # fmt: skip
    """Why ``held`` (one symbol's stored daily bars) is stale given ``new`` (its bars just
    fetched; ``keys``/``new_keys`` their day keys), or None. ``covered``: the spans asked so far,
    the new ones included; ``slack``: the rounding allowed in price units (two won; two cents
    abroad)."""
    fresh = ~np.isin(new_keys, keys)  # pages may overlap the bars held: those are not new
    new, new_keys = new[fresh], new_keys[fresh]
    if not len(held) or not len(new):
        return None
    later = new[new_keys > keys.max()]
    if "modified" in later:  # domestic bars carry KIS's flags; overseas ones only the seam
        for name, bad in (
            ("mod_yn=Y", later["modified"].to_numpy(bool)),
            ("prtt_rate", later["split_rate"].fillna(0).to_numpy() != 0),
            ("flng_cls_code", ~later["ex_code"].fillna("00").isin(["00", ""]).to_numpy()),
        ):
            if bad.any():
                return f"{name} on {later['date'][bad].iloc[0]:%Y-%m-%d}"
    both = pd.DataFrame(
        {
            "key": np.concatenate([keys, new_keys]),
            "close": np.concatenate([held["close"].to_numpy(float), new["close"].to_numpy(float)]),
            "change": np.concatenate(
                [held["change"].to_numpy(float), new["change"].to_numpy(float)]
            ),
            "new": np.r_[np.zeros(len(held), bool), np.ones(len(new), bool)],
        }
    ).sort_values("key", kind="stable")
    k, close = both["key"].to_numpy(), both["close"].to_numpy()
    before = close - both["change"].to_numpy()
    fresh = both["new"].to_numpy()
    spans = sp.merge(covered)
    for i in np.flatnonzero(fresh[1:] != fresh[:-1]):
        a, b = int(k[i]), int(k[i + 1])
        if not any(s0 <= a and b <= s1 for s0, s1 in spans):
            continue  # something between the two bars was never asked
        if abs(before[i + 1] - close[i]) > max(slack, TOLERANCE * close[i]):
            day = sp.key_day(b)
            return f"the close before {day} is {before[i + 1]:g} there, {close[i]:g} held"
    return None
