"""The facade's methods, by area. :class:`~kisresearch.client.KIS` mixes these classes in.

Each public method is plan -> run -> shape: validate the input and plan the requests
(:mod:`~kisresearch.plan.endpoints`), run them through the client's pipeline (one batch item per
symbol, every page through ``pipeline.fetch``: cache -> retry -> auth -> limiter -> transport), and
shape the answers (:mod:`~kisresearch.shape.frames`). What a method may use of the client is the
:class:`~kisresearch.methods._base.Client` protocol; nothing here imports the client.

- :mod:`.quotes` -- ``quotes``, ``orderbook``: the current state of many symbols
- :mod:`.bars` -- ``history``, ``minute_bars``, ``investors``: dated series, paged
- :mod:`.reference` -- ``info``, ``symbols``: names, listings, the master files
- :mod:`.overseas` -- ``overseas_quotes``, ``overseas_history``
- :mod:`.account` -- ``balance``
- :mod:`.update` -- ``update``: the bar store brought up to the latest settled session
  (:mod:`.held` is how ``history`` and ``minute_bars`` read the store first)
"""

from .account import AccountMethods, Balance
from .bars import BarMethods
from .overseas import OverseasMethods
from .quotes import QuoteMethods
from .reference import ReferenceMethods
from .update import UpdateMethods

__all__ = [
    "AccountMethods",
    "Balance",
    "BarMethods",
    "OverseasMethods",
    "QuoteMethods",
    "ReferenceMethods",
    "UpdateMethods",
]
