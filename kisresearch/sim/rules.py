"""Server-side rules: the per-key rate window, token issuance, fault injection, and the truth
counters that tests and benchmarks compare a client's own statistics against.

Decisions (the facts file leaves them open):

- Rate window. Every *authenticated* call is counted on arrival (after ``jitter``), per app
  key, on the simulator's monotonic clock. ``window="sliding"``: a call is accepted when fewer
  than ``limit`` calls were accepted in the second before it, ``(t - 1, t]``. ``"fixed"``: at
  most ``limit`` accepted calls per calendar second (wall-clock aligned). Rejected calls do not
  count. With ``cooldown > 0`` a rejection also blocks the key for that many seconds, measured
  from that rejection; calls rejected during the block do not extend it.
- ``max_in_window`` is measured exactly and independently of the decision: on every accepted
  call, the number of accepted calls from that key in ``(t - 1, t]``.
- Tokens. A ``tokenP`` call succeeds at most once per ``token_interval`` per key; the interval
  runs from the last *successful* call, whether it issued a new token or returned the current
  one (the endpoint is "1분당 1회"). Within 6 h of issuance the same token comes back (with
  ``expires_in`` = the seconds it has left) and ``tokens_issued`` does not move
  (``tokens_reused`` does). Tokens stay valid until they expire, even after a newer one was
  issued, unless revoked. Failed calls (EGW00133, bad key) do not restart the interval.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import secrets
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

REUSE_WINDOW = 6 * 3600.0
FAULT_KINDS = (
    "rate_limit",
    "token_reject",
    "html_500",
    "drop",
    "slow",
    "trickle",
    "malformed_json",
)


@dataclass
class Faults:
    """Per-request fault probabilities (0..1), drawn once per request: a request suffers at
    most one fault, the kinds tried in field order. Never applied to ``/oauth2``, ``/__sim`` or
    the master files.

    - ``rate_limit``: a spurious EGW00201 answer while under the limit (not counted, no cooldown)
    - ``token_reject``: a valid token answered EGW00121 (a proxy, or a key KIS has suspended)
    - ``html_500``: an HTML error page with HTTP 500 (counted: the call reached the server)
    - ``drop``: the connection is closed without an answer (counted)
    - ``slow``: ``slow_seconds`` extra delay before an otherwise normal answer (counted)
    - ``trickle``: the answer's body sent a few bytes at a time over ``slow_seconds`` (counted;
      no single read waits long, so only a bound on the whole call catches it)
    - ``malformed_json``: HTTP 200 with the JSON body cut in half (counted)
    """

    rate_limit: float = 0.0
    token_reject: float = 0.0
    html_500: float = 0.0
    drop: float = 0.0
    slow: float = 0.0
    trickle: float = 0.0
    malformed_json: float = 0.0
    slow_seconds: float = 15.0

    def __post_init__(self) -> None:
        probs = [getattr(self, k) for k in FAULT_KINDS]
        for kind, p in zip(FAULT_KINDS, probs, strict=True):
            if not 0.0 <= p <= 1.0 or math.isnan(p):
                raise ValueError(f"Faults.{kind} must be a probability in [0, 1], got {p!r}")
        if sum(probs) > 1.0 + 1e-9:
            raise ValueError("Faults probabilities must add up to at most 1")
        if self.slow_seconds < 0:
            raise ValueError("Faults.slow_seconds must be >= 0")

    def draw(self, rng: random.Random) -> str | None:
        """The fault for one request, or None."""
        u = rng.random()
        for kind in FAULT_KINDS:
            p = getattr(self, kind)
            if u < p:
                return kind
            u -= p
        return None

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class RateLimiter:
    """The per-key window decision plus the exact ``max_in_window`` measurement."""

    def __init__(self, window: str, cooldown: float) -> None:
        if window not in ("sliding", "fixed"):
            raise ValueError(f"window must be 'sliding' or 'fixed', got {window!r}")
        self.window = window
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}  # accepted arrivals in the last second
        self._bucket: dict[str, tuple[int, int]] = {}  # fixed window: (second, accepted)
        self._blocked_until: dict[str, float] = {}
        self._measure: dict[str, deque[float]] = {}
        self.max_in_window = 0

    def decide(self, key: str, limit: int, mono: float, wall: float) -> bool:
        """Count one arrival of ``key`` at monotonic time ``mono``; True if accepted."""
        with self._lock:
            if mono < self._blocked_until.get(key, -math.inf):
                return False
            if self.window == "sliding":
                recent = self._recent.setdefault(key, deque())
                while recent and recent[0] <= mono - 1.0:
                    recent.popleft()
                ok = len(recent) < limit
                if ok:
                    recent.append(mono)
            else:
                second = math.floor(wall)
                start, count = self._bucket.get(key, (second, 0))
                if start != second:
                    count = 0
                ok = count < limit
                self._bucket[key] = (second, count + 1 if ok else count)
            if not ok:
                if self.cooldown > 0:
                    self._blocked_until[key] = mono + self.cooldown
                return False
            seen = self._measure.setdefault(key, deque())
            while seen and seen[0] <= mono - 1.0:
                seen.popleft()
            seen.append(mono)
            self.max_in_window = max(self.max_in_window, len(seen))
            return True

    def reset_measure(self) -> None:
        with self._lock:
            self._measure.clear()
            self.max_in_window = 0


@dataclass
class Token:
    value: str
    app_key: str
    issued: float  # epoch seconds on the simulator's clock
    expires: float
    revoked: bool = False


@dataclass
class App:
    """A registered app key: its secret, profile (real/paper) and account."""

    app_key: str
    app_secret: str
    profile: str
    account: str  # "CANO-01"
    current: Token | None = None
    last_ok: float = -math.inf  # last successful tokenP answer
    rejects_tokens: bool = False  # every call with this key's tokens answers EGW00121


class TokenBook:
    """App keys and the tokens issued to them."""

    def __init__(self, interval: float, ttl: float) -> None:
        self.interval = interval
        self.ttl = ttl
        self.apps: dict[str, App] = {}
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()
        self._signing_key = secrets.token_bytes(32)

    def add(self, app: App) -> None:
        with self._lock:
            self.apps[app.app_key] = app

    def request(self, app: App, now: float) -> tuple[Token, bool] | None:
        """A tokenP call: (token, newly issued) or None when throttled (EGW00133)."""
        with self._lock:
            if now - app.last_ok < self.interval:
                return None
            app.last_ok = now
            cur = app.current
            if (
                cur is not None
                and not cur.revoked
                and now < cur.expires
                and now - cur.issued < REUSE_WINDOW
            ):
                return cur, False
            tok = Token(self._jwt(app.app_key, now), app.app_key, now, now + self.ttl)
            app.current = tok
            self._tokens[tok.value] = tok
            return tok, True

    def lookup(self, value: str) -> Token | None:
        return self._tokens.get(value)

    def revoke(self, value: str) -> None:
        with self._lock:
            tok = self._tokens.get(value)
            if tok is not None:
                tok.revoked = True

    def expire_all(self, now: float) -> None:
        with self._lock:
            for tok in self._tokens.values():
                tok.expires = min(tok.expires, now)

    def _jwt(self, app_key: str, now: float) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        payload = b64(
            json.dumps(
                {
                    "sub": "token",
                    "aud": secrets.token_hex(16),
                    "prdt_cd": "",
                    "iss": "unogw",
                    "exp": int(now + self.ttl),
                    "iat": int(now),
                    "jti": app_key,
                },
                separators=(",", ":"),
            ).encode()
        )
        sig = hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{b64(sig.digest())}"


@dataclass
class Truth:
    """What the server saw. ``accepted`` counts calls that passed the rate window (whatever
    happened after: faults, business errors); ``rejected`` counts EGW00201 answers (window,
    cooldown and spurious ones)."""

    accepted: int = 0
    rejected: int = 0
    tokens_issued: int = 0
    tokens_reused: int = 0
    per_second: dict[int, list[int]] = field(default_factory=dict)
    by_tr_id: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_call(self, wall: float, tr_id: str, accepted: bool) -> None:
        with self.lock:
            slot = self.per_second.setdefault(int(wall), [0, 0])
            if accepted:
                self.accepted += 1
                slot[0] += 1
                self.by_tr_id[tr_id] += 1
            else:
                self.rejected += 1
                slot[1] += 1

    def count(self, counter: str, key: str) -> None:
        with self.lock:
            getattr(self, counter)[key] += 1

    def count_token(self, new: bool) -> None:
        with self.lock:
            if new:
                self.tokens_issued += 1
            else:
                self.tokens_reused += 1

    def snapshot(self, max_in_window: int) -> dict[str, Any]:
        with self.lock:
            return {
                "accepted": self.accepted,
                "rejected": self.rejected,
                "tokens_issued": self.tokens_issued,
                "tokens_reused": self.tokens_reused,
                "max_in_window": max_in_window,
                "per_second": [
                    {"second": s, "accepted": a, "rejected": r}
                    for s, (a, r) in sorted(self.per_second.items())
                ],
                "by_tr_id": dict(self.by_tr_id),
                "errors": dict(self.errors),
                "faults": dict(self.faults),
            }

    def reset(self) -> None:
        with self.lock:
            self.accepted = self.rejected = self.tokens_issued = self.tokens_reused = 0
            self.per_second.clear()
            self.by_tr_id.clear()
            self.errors.clear()
            self.faults.clear()
