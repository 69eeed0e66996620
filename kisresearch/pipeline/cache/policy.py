"""Cache policies as plain data: what identifies an answer, how long it stays fresh, and
whether to keep it at all.

A :class:`CachePolicy` is a name, a pure TTL function ``(params, now) -> seconds`` and a
``cache_if(payload)`` condition. ``None`` seconds means "keep until evicted", ``0`` means "do not
store". Nothing here does I/O or reads a clock: ``now`` (epoch seconds) is always passed in, so
every rule is tested by handing it a timestamp. :func:`cache_key` is the pure keying rule.

Market time is KRX's (:mod:`kisresearch.timebase`). The ready-made policies take ``holidays=()``
(weekdays only): a holiday then looks like a weekday with no trading, which only costs a few
extra requests; ``holidays=None`` uses KRX's calendar.

Ready-made policies (``endpoints.py`` picks one per endpoint)::

    QUOTE     5 s while KRX trades; outside the session, until the next session opens
    DAILY     bars whose end date is before the current period (KST) forever; else 60 s in the
              session, until the next open outside it
    INTRADAY  past days' minute bars forever; today's 30 s in the session (windows that ended
              two minutes ago or more: until the next open), until the next open outside it
    DAY       one day (stock info)
    NEVER     not stored (balance)
    OVERSEAS_QUOTE  5 s at any hour (KRX hours say nothing about foreign sessions)

:data:`POLICIES` maps each name (``"quote"``, ``"daily"``, ...) to its policy.

Build variants with :func:`quote_policy`, :func:`daily_policy`, :func:`intraday_policy` and
:func:`fixed_policy`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ...errors import ConfigError
from ...timebase import KST, Holidays, krx_session, kst, until_next_open

log = logging.getLogger("kisresearch.cache")

TTLFunc = Callable[[Mapping[str, str], float], float | None]


_SECRET_NAMES = frozenset({"appkey", "appsecret", "secretkey", "authorization", "approvalkey"})


def _blank(value: Any) -> bool:
    """True for None, "" and containers holding only blanks (KIS pads "no data" with them)."""
    if value is None or value == "":
        return True
    if isinstance(value, Mapping):
        return all(_blank(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_blank(v) for v in value)
    return False


def is_error_body(payload: Any) -> bool:
    """True for a KIS error answer: ``rt_cd`` other than ``"0"``, or an auth ``error_code``."""
    if not isinstance(payload, Mapping):
        return False
    rt_cd = payload.get("rt_cd")
    return "error_code" in payload or (rt_cd is not None and str(rt_cd) != "0")


def non_empty_success(payload: Any) -> bool:
    """The default ``cache_if``: store successful answers that carry data.

    Not stored: KIS error bodies, empty payloads, and bodies whose ``output*`` parts are blank
    or that have a blank table (an empty ``output2`` list means "no rows"). When unsure this
    says no: a needless re-fetch is cheap, a cached empty answer hides data until it expires.
    """
    if _blank(payload):
        return False
    if not isinstance(payload, Mapping):
        return True
    if is_error_body(payload):
        return False
    outputs = [v for k, v in payload.items() if str(k).startswith("output")]
    if outputs and all(_blank(v) for v in outputs):
        return False
    return not any(isinstance(v, list) and _blank(v) for v in outputs)


@dataclass(frozen=True)
class CachePolicy:
    """A caching rule as data: ``ttl(params, now)`` plus a ``cache_if(payload)`` condition."""

    name: str
    ttl: TTLFunc
    cache_if: Callable[[Any], bool] = non_empty_success

    def ttl_for(self, params: Mapping[str, str], payload: Any, now: float) -> float | None:
        """Seconds to keep ``payload`` (``None`` = until evicted, ``0`` = do not store)."""
        if not self.cache_if(payload):
            return 0.0
        return self.ttl(params, now)


@lru_cache(maxsize=4096)
def _param_name(name: Any) -> tuple[str, bool]:
    """A parameter's name as a cache key holds it, and whether it names a credential (a
    30-symbol quote call has 60 names: normalised once a process, not once a call)."""
    norm = str(name).strip().upper()
    folded = norm.lower().replace("_", "").replace("-", "")
    return norm, folded in _SECRET_NAMES or "secret" in folded or "token" in folded


def cache_key(namespace: str, endpoint: str, params: Mapping[str, Any]) -> str:
    """``"<endpoint>:<sha256>"`` over namespace, endpoint and the sorted, normalised params.

    Names are stripped and upper-cased, values made strings, so param order and ``5``/``"5"``
    do not matter. Credentials never belong in params: any named like one is dropped (with a
    warning naming only the parameter).
    """
    if not endpoint or not isinstance(endpoint, str):
        raise ConfigError("a cache key needs an endpoint name")
    clean: dict[str, str] = {}
    for name, value in params.items():
        norm, secret = _param_name(name)
        if secret:
            log.warning("dropped parameter %r from a cache key: credentials are not params", norm)
            continue
        if norm in clean:
            raise ConfigError(f"parameter {norm!r} given twice")
        clean[norm] = "" if value is None else str(value)
    canonical = json.dumps(
        [namespace, endpoint, sorted(clean.items())], ensure_ascii=False, separators=(",", ":")
    )
    return f"{endpoint}:{hashlib.sha256(canonical.encode()).hexdigest()}"


# --- market time -------------------------------------------------------------------------------


def _short(now: float, session_ttl: float, holidays: Holidays) -> float:
    """Live data: ``session_ttl`` while trading, else frozen until the next open."""
    return session_ttl if krx_session(now, holidays) else until_next_open(now, holidays)


def _yyyymmdd(value: str | None) -> date | None:
    try:
        return datetime.strptime(value or "", "%Y%m%d").date()
    except ValueError:
        return None


def _period_start(day: date, period: str) -> date:
    """First day of the bar (day, week, month or year) that contains ``day``."""
    if period == "W":
        return day - timedelta(days=day.weekday())
    if period == "M":
        return day.replace(day=1)
    if period == "Y":
        return day.replace(month=1, day=1)
    return day


_GUBN = {"0": "D", "1": "W", "2": "M"}  # overseas dailyprice period codes


# --- policy builders ---------------------------------------------------------------------------


def fixed_policy(seconds: float | None, name: str = "") -> CachePolicy:
    """The same TTL whatever the time: ``None`` forever, ``0`` never."""
    return CachePolicy(name or f"fixed({seconds})", lambda params, now: seconds)


def quote_policy(session_ttl: float = 5.0, holidays: Holidays = ()) -> CachePolicy:
    """Quotes: ``session_ttl`` while KRX trades, else until the next session opens."""

    def ttl(params: Mapping[str, str], now: float) -> float | None:
        return _short(now, session_ttl, holidays)

    return CachePolicy("quote", ttl)


def daily_policy(
    session_ttl: float = 60.0,
    past_ttl: float | None = None,
    overseas_ttl: float = 60.0,
    holidays: Holidays = (),
) -> CachePolicy:
    """Period bars keyed by their end date (``FID_INPUT_DATE_2``, or overseas ``BYMD``).

    A range that ends before the current bar's period (today for daily bars, this week's Monday
    for weekly ...) is final: kept ``past_ttl`` (forever). A range reaching the current period
    is live: ``session_ttl`` in the KRX session, until the next open outside it. A missing or
    empty end date means today. Overseas bars (``BYMD``) lag a day behind KST (New York's
    trading date is KST's yesterday until its close), so they are final one day later, and live
    ones keep a flat ``overseas_ttl`` because KRX hours say nothing about foreign sessions.

    Note: adjusted prices of a past range change after a later split or rights issue; clear the
    symbol after a corporate action, or pass ``past_ttl`` to bound their life.
    """

    def ttl(params: Mapping[str, str], now: float) -> float | None:
        today = kst(now).date()
        if "FID_INPUT_DATE_2" in params or "BYMD" not in params:
            end = _yyyymmdd(params.get("FID_INPUT_DATE_2")) or today
            period = params.get("FID_PERIOD_DIV_CODE", "D")
            if end < _period_start(today, period):
                return past_ttl
            return _short(now, session_ttl, holidays)
        end = _yyyymmdd(params.get("BYMD")) or today
        period = _GUBN.get(params.get("GUBN", "0"), "D")
        if end < _period_start(today - timedelta(days=1), period):
            return past_ttl
        return overseas_ttl

    return CachePolicy("daily", ttl)


def intraday_policy(
    session_ttl: float = 30.0, final_after: float = 120.0, holidays: Holidays = ()
) -> CachePolicy:
    """Minute bars: a past day's (``FID_INPUT_DATE_1`` before today) are kept forever.

    Today's are live: ``session_ttl`` in the session, until the next open outside it. A request
    whose window ends (``FID_INPUT_HOUR_1``) at least ``final_after`` seconds ago holds only
    finished bars, so it is kept until the next open (when the same params mean a new day).
    """

    def ttl(params: Mapping[str, str], now: float) -> float | None:
        t = kst(now)
        day = _yyyymmdd(params.get("FID_INPUT_DATE_1"))
        if day is not None and day < t.date():
            return None
        if not krx_session(now, holidays):
            return until_next_open(now, holidays)
        try:
            hour = datetime.strptime(params.get("FID_INPUT_HOUR_1", ""), "%H%M%S").time()
        except ValueError:
            return session_ttl
        ends = datetime.combine(t.date(), hour, KST).timestamp()
        return until_next_open(now, holidays) if ends <= now - final_after else session_ttl

    return CachePolicy("intraday", ttl)


QUOTE = quote_policy()
DAILY = daily_policy()
INTRADAY = intraday_policy()
DAY = fixed_policy(86_400.0, "day")
NEVER = fixed_policy(0.0, "never")
OVERSEAS_QUOTE = fixed_policy(5.0, "overseas_quote")  # foreign sessions: no KRX-hours freeze

POLICIES: Mapping[str, CachePolicy] = MappingProxyType(
    {p.name: p for p in (QUOTE, DAILY, INTRADAY, DAY, NEVER, OVERSEAS_QUOTE)}
)
"""The ready-made policies by name, for endpoint specs that name theirs."""
