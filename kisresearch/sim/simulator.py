"""The :class:`Simulator` facade: configuration, lifecycle, credentials and the admin surface."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from .account import Account, make_account
from .gateway import Gateway, Reply
from .market import Market
from .rules import App, Faults, RateLimiter, TokenBook, Truth
from .server import HTTPServer, admin_reply, parse_faults
from .timebase import SimClock

log = logging.getLogger("kisresearch.sim")
PROFILE_RATE = {"real": 20, "paper": 2}
DEFAULT_HOLDINGS = 65


class Simulator:
    """A KIS-compatible REST server on 127.0.0.1 with deterministic market data.

    ::

        with Simulator() as sim:
            sim.base_url, sim.app_key, sim.app_secret, sim.account

    Parameters
    ----------
    profile : "real" (20 calls/s per app key) or "paper" (2 calls/s, paper TR ids, 20 balance
        rows per page, real-only TRs refused).
    rate : calls per window for every key, overriding the profile's.
    window : "sliding" (default) or "fixed" 1-second window, on server arrival time.
    jitter : (low, high) uniform delay in seconds before the server counts a call.
    latency : (low, high) uniform delay after counting, before the answer.
    faults : :class:`Faults` probabilities; settable later through ``sim.faults``.
    cooldown : after a rate-limit rejection, reject everything from that key this long.
    rate_limit_status : HTTP status of the EGW00201 answer (500; 200 is the other variant).
    token_interval, token_ttl : minimum seconds between tokenP successes per key; token life.
    seed : market data, portfolios, credentials and fault randomness.
    splits : ``{code: (day, ratio)}``: a stock split of ``ratio`` for ``1`` taking effect on
        ``day`` (replacing the universe's), e.g. one after today to see adjusted history
        rewritten once the clock (:meth:`advance`) passes it.
    host, port : where to listen; port 0 picks a free one.

    The default app key, secret and account (``"50000000-01"``) are derived from ``seed``;
    :meth:`add_app` registers more keys. :meth:`truth` is what the server saw.
    """

    def __init__(
        self,
        profile: str = "real",
        rate: int | None = None,
        window: str = "sliding",
        jitter: tuple[float, float] = (0.0, 0.0),
        latency: tuple[float, float] = (0.0, 0.0),
        faults: Faults | None = None,
        cooldown: float = 0.0,
        rate_limit_status: int = 500,
        token_interval: float = 60.0,
        token_ttl: float = 86400.0,
        seed: int = 0,
        splits: Mapping[str, tuple[date, int]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if profile not in PROFILE_RATE:
            raise ValueError(f"profile must be 'real' or 'paper', got {profile!r}")
        if rate is not None and rate < 1:
            raise ValueError("rate must be at least 1 call per window")
        for name, pair in (("jitter", jitter), ("latency", latency)):
            if len(pair) != 2 or not 0 <= pair[0] <= pair[1]:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high")
        self.profile = profile
        self.rate = rate
        self.window = window
        self.jitter = (float(jitter[0]), float(jitter[1]))
        self.latency = (float(latency[0]), float(latency[1]))
        self.faults = faults
        self.cooldown = cooldown
        self.rate_limit_status = rate_limit_status
        self.seed = seed
        self.host = host
        self._port = port
        self.clock = SimClock()
        self.market = Market(seed, self.clock, splits=splits)
        self.data_id = _data_id(seed, splits)
        self.tokens = TokenBook(token_interval, token_ttl)
        self.limiter = RateLimiter(window, cooldown)
        self.truth_counters = Truth()
        self.accounts: dict[str, Account] = {}
        self._jitter_rng = random.Random(seed + 1)
        self._jitter_lock = threading.Lock()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()
        self._close_lock = threading.Lock()
        self.gateway = Gateway(
            clock=self.clock,
            market=self.market,
            tokens=self.tokens,
            limiter=self.limiter,
            truth=self.truth_counters,
            limit_for=self._limit_for,
            accounts=self.accounts,
            rate_limit_status=rate_limit_status,
            latency=self.latency,
            faults=lambda: self.faults,
            seed=seed + 2,
        )
        self.app_key, self.app_secret = _credentials(seed, 0)
        self.account = self.add_app(self.app_key, self.app_secret, holdings=DEFAULT_HOLDINGS)

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"Simulator(profile={self.profile!r}, window={self.window!r}, {where})"

    # -- credentials -----------------------------------------------------------------------
    def add_app(
        self, app_key: str, app_secret: str, profile: str | None = None, *, holdings: int = 30
    ) -> str:
        """Register an app key (own rate budget, own tokens, own account); returns its account
        number ``"CANO-01"``. ``profile`` defaults to the simulator's."""
        profile = profile or self.profile
        if profile not in PROFILE_RATE:
            raise ValueError(f"profile must be 'real' or 'paper', got {profile!r}")
        if app_key in self.tokens.apps:
            raise ValueError("that app key is already registered")
        cano = f"{50000000 + len(self.tokens.apps):08d}"
        acct = make_account(cano, self.market, self.seed, holdings)
        self.accounts[acct.number] = acct
        self.tokens.add(App(app_key, app_secret, profile, acct.number))
        return acct.number

    def pool(self, n: int) -> list[dict[str, str]]:
        """``n`` app keys for a key pool (``KIS(keys=...)``): the first one's, then new ones
        registered as needed, each with its own budget, tokens and account; the same
        credentials from the same seed."""
        if not 1 <= n <= 16:
            raise ValueError(f"a pool has 1 to 16 keys here, got {n!r}")
        keys = [(self.app_key, self.app_secret)]
        keys += [_credentials(self.seed, i) for i in range(1, n)]
        for key, secret in keys[1:]:
            if key not in self.tokens.apps:
                self.add_app(key, secret)
        return [
            {"app_key": k, "app_secret": v, "account": self.tokens.apps[k].account} for k, v in keys
        ]

    def reject_tokens(self, app_key: str, reject: bool = True) -> None:
        """Answer every call made with ``app_key``'s tokens EGW00121 (as for a revoked key),
        while still issuing it tokens; ``reject=False`` ends it."""
        self.tokens.apps[app_key].rejects_tokens = reject

    def _limit_for(self, app: App) -> int:
        return self.rate if self.rate is not None else PROFILE_RATE[app.profile]

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server else self._port

    def _bind(self) -> HTTPServer:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server = HTTPServer((self.host, self._port), self)
        self._port = int(self._server.server_address[1])
        log.info("KIS simulator listening on %s (%s profile)", self.base_url, self.profile)
        return self._server

    def start(self) -> Simulator:
        """Serve in a background thread; returns self."""
        server = self._bind()
        self._serving.set()
        self._thread = threading.Thread(
            target=self._serve, args=(server, 0.05), name="kisresearch-sim", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C) or :meth:`stop` from elsewhere."""
        server = self._bind()
        self._serving.set()
        try:
            self._serve(server, 0.2)
        finally:
            self._close()

    def _serve(self, server: HTTPServer, poll: float) -> None:
        try:
            server.serve_forever(poll_interval=poll)
        finally:
            self._serving.clear()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close every connection and join the server's threads."""
        server = self._server
        if server is None:
            return
        server.stopping.set()
        if self._serving.is_set():
            server.shutdown()  # returns once serve_forever has left its loop
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close(timeout)

    def _close(self, timeout: float = 5.0) -> None:
        with self._close_lock:
            server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.server_close()
        for t in server.close_connections():
            t.join(timeout)
        log.info("KIS simulator stopped")

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- truth and time --------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        """What the server saw (see :class:`~kisresearch.sim.rules.Truth`)."""
        return self.truth_counters.snapshot(self.limiter.max_in_window)

    def reset_truth(self) -> None:
        self.truth_counters.reset()
        self.limiter.reset_measure()

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward: token interval/expiry/reuse, the rate window
        and "now" for market data all see it."""
        self.clock.advance(seconds)

    def now(self) -> float:
        """Epoch seconds on the simulator's clock (wall time + everything advanced)."""
        return self.clock.now()

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (EGW00123 on next use). The issuance interval
        is not reset: a new token needs ``token_interval`` since the last tokenP answer."""
        self.tokens.expire_all(self.clock.now())

    def jitter_delay(self) -> float:
        """One draw of the network-in delay (``jitter``), in seconds."""
        lo, hi = self.jitter
        if hi <= 0:
            return 0.0
        with self._jitter_lock:
            return self._jitter_rng.uniform(lo, hi)

    def info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "profile": self.profile,
            "rate": self.rate or PROFILE_RATE[self.profile],
            "window": self.window,
            "app_key": self.app_key,
            "app_secret": self.app_secret,
            "account": self.account,
            "seed": self.seed,
            "data_id": self.data_id,
            "faults": self.faults.to_dict() if self.faults else None,
            "now": self.now(),
        }

    def admin(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        """Answer one ``/__sim/...`` admin request (the HTTP form of the methods above)."""
        route = (method, urlsplit(path).path)
        if route == ("GET", "/__sim/truth"):
            return admin_reply(self.truth())
        if route == ("GET", "/__sim/info"):
            return admin_reply(self.info())
        if route == ("POST", "/__sim/reset"):
            self.reset_truth()
            return admin_reply({"ok": True})
        if route == ("POST", "/__sim/expire_tokens"):
            self.expire_tokens()
            return admin_reply({"ok": True})
        try:
            if route == ("POST", "/__sim/advance"):
                self.advance(float(query.get("seconds", "")))
                return admin_reply({"ok": True, "offset": self.clock.offset})
            if route == ("POST", "/__sim/faults"):
                data = parse_faults(body)
                self.faults = Faults(**data) if data else None
                return admin_reply({"ok": True, "faults": data or None})
        except (TypeError, ValueError) as exc:
            return admin_reply({"ok": False, "error": str(exc)}, 400)
        return admin_reply({"ok": False, "error": f"no admin route {method} {path}"}, 404)


def _data_id(seed: int, splits: Mapping[str, tuple[date, int]] | None) -> str:
    """A name for the market data this simulator serves (its bar store folder): same seed and
    corporate actions, same bars."""
    if not splits:
        return f"sim-{seed}"
    text = repr(sorted((c, d.isoformat(), r) for c, (d, r) in splits.items()))
    return f"sim-{seed}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _credentials(seed: int, n: int) -> tuple[str, str]:
    """A KIS-looking app key (36 characters, "PS" prefix) and secret (180), from the seed."""
    digest = b"".join(
        hashlib.sha256(f"kisresearch-sim:{seed}:{n}:{i}".encode()).digest() for i in range(6)
    )
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    chars = "".join(alphabet[b % len(alphabet)] for b in digest)
    return "PS" + chars[:34], chars[34:192] + "sim+/" + chars[:17]
