"""Time as a seam: everything that waits or expires takes a :class:`Clock`.

``now()`` is wall-clock epoch seconds, because limiter state and token expiry are shared with
other processes (and, through Redis, other machines), where only the wall clock is common.
Tests inject a fake clock whose ``sleep`` advances ``now`` instead of blocking.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.time`` and ``time.sleep``."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()
