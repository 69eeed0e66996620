"""Several app keys behind one client (a key pool): N keys, N times the calls a second.

Each :class:`AppKey` has its own credentials, token (:class:`~.auth.TokenManager`) and limiter
(its own state, in a file or in Redis, at its own environment's rate). A call goes to the key
whose next slot is the earliest, not round-robin, so a key penalized after a rejection, or
shared with another process that keeps it busy, gets fewer. A key whose token the server
rejects rests until KIS lets it have a new one (a minute after its last) while the others go
on; if the new one is rejected too (:class:`~kisresearch.errors.TokenRejected`), it drops out
with a warning and the pull goes on with the rest. Account-bound calls name their account's
key.

One key is the usual case: it costs nothing here (no lock, no look at the limiter).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import Credentials
from ..errors import ConfigError, TokenRejected, TokenThrottled
from ..timebase import Clock
from .auth import ISSUE_INTERVAL, MAX_REJECTED, TokenManager
from .ratelimit import Limiter, NullLimiter

__all__ = ["AppKey", "KeyPool"]

log = logging.getLogger("kisresearch.client")


@dataclass(eq=False)
class AppKey:
    """One app key of a pool; ``label`` ("key 1", ...) is what stats and logs show of it."""

    label: str
    credentials: Credentials
    auth: TokenManager
    limiter: Limiter | NullLimiter
    live: bool = True
    rest_until: float = 0.0  # clock time before which a key whose token was rejected waits

    def __repr__(self) -> str:
        return f"AppKey({self.label}, {'live' if self.live else 'dropped'})"


class KeyPool:
    """The client's app keys; see the module docstring."""

    def __init__(self, keys: Sequence[AppKey], clock: Clock) -> None:
        if not keys:
            raise ConfigError("a key pool needs at least one app key")
        self.keys = list(keys)
        self._clock = clock
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        live = sum(k.live for k in self.keys)
        return f"KeyPool({len(self.keys)} keys, {live} live)"

    def for_account(self, account: str | None) -> AppKey | None:
        """The key ``account`` belongs to (None: any key will do)."""
        if account is None or len(self.keys) == 1:
            return None
        for key in self.keys:
            if key.credentials.account == account:
                return key
        raise ConfigError("no app key of the pool has that account")

    def take(self, key: AppKey | None = None) -> tuple[AppKey, dict[str, str], float]:
        """A key with a slot waited for: ``(key, its auth headers, seconds waited)``.

        ``key`` fixes the key (an account-bound call); otherwise the live key with the earliest
        slot is reserved under a lock, so that threads taking at once spread over the keys.
        With one key the headers come first: a token issued between a slot and its send
        would let calls reserved apart leave together."""
        if key is None and len(self.keys) == 1:
            key = self.keys[0]
        if key is not None:
            headers = key.auth.headers()
            return key, headers, key.limiter.acquire()
        while True:
            chosen, reserved, resting = self._reserve()
            try:  # a key that rests may wait for its token only when all rest
                headers = chosen.auth.headers(wait=resting)
            except TokenThrottled:
                chosen.rest_until = self._clock.now() + ISSUE_INTERVAL
                continue
            except TokenRejected as exc:
                self._drop(chosen, str(exc))
                continue
            return chosen, headers, chosen.limiter.wait(reserved)

    def rejected(self, key: AppKey, token: str) -> None:
        """The server rejected ``key``'s ``token``: drop it; in a pool, rest the key until a
        new token may be issued, so that no call waits a minute for one."""
        key.auth.invalidate(token)
        if len(self.keys) == 1:
            return
        if key.auth.rejections >= MAX_REJECTED:
            self._drop(key, f"the server rejected {key.auth.rejections} of its tokens in a row")
            return
        key.rest_until = self._clock.now() + ISSUE_INTERVAL
        log.info("%s: token rejected; the other keys go on for %d s", key.label, ISSUE_INTERVAL)

    def _reserve(self) -> tuple[AppKey, tuple[float, float], bool]:
        """The key to use, its slot reserved, and whether every live key rests."""
        with self._lock:
            live = [k for k in self.keys if k.live]
            if not live:
                raise TokenRejected(
                    f"the server rejected the tokens of all {len(self.keys)} app keys of the "
                    "pool: check each key and secret, and the server (env, base_url)"
                )
            now = self._clock.now()
            ready = [k for k in live if k.rest_until <= now]
            if not ready:
                chosen = min(live, key=lambda k: k.rest_until)
                return chosen, chosen.limiter.reserve(), True
            chosen = min(ready, key=lambda k: k.limiter.next_free())
            return chosen, chosen.limiter.reserve(), False

    def _drop(self, key: AppKey, why: str) -> None:
        with self._lock:
            if not key.live:
                return
            key.live = False
            left = sum(k.live for k in self.keys)
        message = f"{key.label} of the key pool dropped out ({why}); {left} key(s) go on"
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)
