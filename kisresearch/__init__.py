"""kisresearch: a research toolkit for the Korea Investment & Securities (KIS) Open API.

>>> import kisresearch as kr
>>> kis = kr.KIS()            # no KIS_* credentials set: the embedded simulator  # doctest: +SKIP
>>> kis.quotes(["005930", "000660"])                                           # doctest: +SKIP
"""

from typing import Any

from ._version import __version__
from .client import KIS
from .errors import (
    APIError,
    BadResponse,
    ConfigError,
    ConnectionFailed,
    CredentialsRejected,
    KISError,
    NotFound,
    RateLimited,
    RequestTimeout,
    SettingWarning,
    SimulatorWarning,
    TokenInvalid,
    TokenThrottled,
    TransportError,
)
from .observe.logs import install_null_handler
from .observe.stats import StatsManager
from .pipeline.batch import BatchInterrupted
from .pipeline.cache import ResponseCache, cacheable
from .pipeline.ratelimit import LimiterConfig
from .pipeline.retry import RetryPolicy, retry_on_rate_limit
from .shape.master import universe
from .shape.reshape import long, wide
from .store import BarStore

install_null_handler()

__all__ = [
    "KIS",
    "APIError",
    "BadResponse",
    "BarStore",
    "BatchInterrupted",
    "ConfigError",
    "ConnectionFailed",
    "CredentialsRejected",
    "Dashboard",
    "KISError",
    "LimiterConfig",
    "NotFound",
    "RateLimited",
    "RequestTimeout",
    "ResponseCache",
    "RetryPolicy",
    "SettingWarning",
    "Simulator",
    "SimulatorWarning",
    "StatsManager",
    "TokenInvalid",
    "TokenThrottled",
    "TransportError",
    "__version__",
    "cacheable",
    "long",
    "retry_on_rate_limit",
    "universe",
    "wide",
]


def __getattr__(name: str) -> Any:
    # Heavy or optional parts load on first use: ipywidgets/matplotlib, the HTTP simulator.
    if name == "Dashboard":
        from .notebook.dashboard import Dashboard

        return Dashboard
    if name == "Simulator":
        from .sim import Simulator

        return Simulator
    raise AttributeError(f"module 'kisresearch' has no attribute {name!r}")
