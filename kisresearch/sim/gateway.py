"""The request flow in front of the endpoints, as KIS's gateway (EGW) runs it.

For a REST call the order is:

1. ``jitter`` (done by the HTTP layer, before anything is decided);
2. route: an unknown path is a 404 (``MCA00124``), not counted;
3. authentication: the ``appkey``/``appsecret`` headers (EGW00102/00103/00104/00105), the
   ``authorization: Bearer`` token (missing, unknown, revoked or another key's: EGW00121;
   expired: EGW00123; not ``Bearer``: EGW00205) and ``custtype`` (absent is taken as ``P``;
   other than ``P``/``B``: EGW00208). Header names are matched in any case, and so are query
   parameter names (see "What the simulator tolerates" in :mod:`kisresearch.sim`).
   These answers are HTTP 500 with a KIS body and are *not* counted by the rate window: the
   gateway cannot attribute an unauthenticated call to a key's budget;
4. faults (see :class:`~kisresearch.sim.rules.Faults`): a spurious EGW00201 comes before the
   window and is not counted;
5. the rate window (per app key): over the limit -> ``rate_limit_status`` with exactly
   ``{"rt_cd":"1","msg_cd":"EGW00201","msg1":"초당 거래건수를 초과하였습니다."}``;
6. the endpoint: TR id, parameters and the body (:mod:`~kisresearch.sim.routes`);
7. ``latency`` (and ``Faults.slow``) before the answer is written.

``/oauth2/tokenP``, ``/oauth2/revokeP`` and ``/oauth2/Approval`` answer with the OAuth error
shape (``error_code``/``error_description``, HTTP 403) and are neither rate limited nor faulted.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .account import Account
from .market import Market
from .master import FILES, master_zip
from .routes import ROUTES, Ctx, dispatch, not_found
from .rules import App, Faults, RateLimiter, TokenBook, Truth
from .timebase import KST, SimClock

JSON = "application/json; charset=utf-8"
RATE_LIMIT_BODY = {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}
HTML_500 = (
    b"<html><head><title>500 Internal Server Error</title></head><body><center>"
    b"<h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body>"
    b"</html>"
)
_OAUTH_ERRORS = {
    "EGW00101": "유효하지 않은 요청입니다.",
    "EGW00102": "AppKey는 필수입니다.",
    "EGW00103": "유효하지 않은 AppKey입니다.",
    "EGW00104": "AppSecret는 필수입니다.",
    "EGW00105": "유효하지 않은 AppSecret입니다.",
    "EGW00112": "유효하지 않은 grant_type입니다.",
    "EGW00115": "grant_type은 필수입니다.",
    "EGW00121": "유효하지 않은 token 입니다.",
    "EGW00123": "기간이 만료된 token 입니다.",
    "EGW00133": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
    "EGW00205": "credentials_type이 유효하지 않습니다.(Bearer)",
    "EGW00208": "고객 타입(custtype)이 유효하지 않습니다.",
}


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before writing
    drop: bool = False  # close the connection instead of answering
    trickle: float = 0.0  # seconds over which the body is sent, a few bytes at a time


def json_reply(status: int, body: Any, **headers: str) -> Reply:
    return Reply(status, dumps(body), headers=dict(headers))


class Gateway:
    """Everything between a parsed HTTP request and the :class:`Reply` (no I/O, no sleeping)."""

    def __init__(
        self,
        *,
        clock: SimClock,
        market: Market,
        tokens: TokenBook,
        limiter: RateLimiter,
        truth: Truth,
        limit_for: Callable[[App], int],
        accounts: Mapping[str, Account],
        rate_limit_status: int,
        latency: tuple[float, float],
        faults: Callable[[], Faults | None],
        seed: int,
    ) -> None:
        self.clock = clock
        self.market = market
        self.tokens = tokens
        self.limiter = limiter
        self.truth = truth
        self.limit_for = limit_for
        self.accounts = accounts
        self.rate_limit_status = rate_limit_status
        self.latency = latency
        self.faults = faults
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._masters: dict[tuple[str, str, bool], bytes] = {}

    # -- helpers ---------------------------------------------------------------------------
    def _uniform(self, bounds: tuple[float, float]) -> float:
        lo, hi = bounds
        if hi <= 0:
            return 0.0
        with self._rng_lock:
            return self._rng.uniform(lo, hi)

    def _draw_fault(self) -> str | None:
        faults = self.faults()
        if faults is None:
            return None
        with self._rng_lock:
            kind = faults.draw(self._rng)
        if kind is not None:
            self.truth.count("faults", kind)
        return kind

    def _error(self, status: int, msg_cd: str, msg1: str | None = None) -> Reply:
        self.truth.count("errors", msg_cd)
        return json_reply(
            status, {"rt_cd": "1", "msg_cd": msg_cd, "msg1": msg1 or _OAUTH_ERRORS[msg_cd]}
        )

    def _oauth_error(self, msg_cd: str, status: int = 403) -> Reply:
        self.truth.count("errors", msg_cd)
        return json_reply(
            status, {"error_code": msg_cd, "error_description": _OAUTH_ERRORS[msg_cd]}
        )

    # -- OAuth -----------------------------------------------------------------------------
    def oauth(self, method: str, path: str, body: bytes) -> Reply:
        """``/oauth2/tokenP``, ``/oauth2/revokeP``, ``/oauth2/Approval`` (POST only)."""
        if method != "POST" or path not in (
            "/oauth2/tokenP",
            "/oauth2/revokeP",
            "/oauth2/Approval",
        ):
            reply = json_reply(
                404, {"error_code": "EGW00101", "error_description": _OAUTH_ERRORS["EGW00101"]}
            )
        else:
            reply = self._oauth(path, body)
        reply.delay += self._uniform(self.latency)
        return reply

    def _oauth(self, path: str, body: bytes) -> Reply:
        try:
            data = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            return self._oauth_error("EGW00101", 400)
        secret_field = "secretkey" if path == "/oauth2/Approval" else "appsecret"
        if path != "/oauth2/revokeP":
            grant = data.get("grant_type")
            if not grant:
                return self._oauth_error("EGW00115")
            if grant != "client_credentials":
                return self._oauth_error("EGW00112")
        key, secret = data.get("appkey"), data.get(secret_field)
        if not key:
            return self._oauth_error("EGW00102")
        app = self.tokens.apps.get(str(key))
        if app is None:
            return self._oauth_error("EGW00103")
        if not secret:
            return self._oauth_error("EGW00104")
        if secret != app.app_secret:
            return self._oauth_error("EGW00105")
        if path == "/oauth2/Approval":
            return json_reply(200, {"approval_key": str(uuid.uuid4())})
        if path == "/oauth2/revokeP":
            tok = self.tokens.lookup(str(data.get("token", "")))
            if tok is None or tok.app_key != app.app_key:
                return self._oauth_error("EGW00121")
            self.tokens.revoke(tok.value)
            return json_reply(200, {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"})
        now = self.clock.now()
        got = self.tokens.request(app, now)
        if got is None:
            return self._oauth_error("EGW00133")
        tok, new = got
        self.truth.count_token(new)
        expired = datetime.fromtimestamp(tok.expires, KST).strftime("%Y-%m-%d %H:%M:%S")
        return json_reply(
            200,
            {
                "access_token": tok.value,
                "token_type": "Bearer",
                "expires_in": max(0, int(tok.expires - now)),
                "access_token_token_expired": expired,
            },
        )

    # -- master files ----------------------------------------------------------------------
    def master(self, name: str) -> Reply:
        if name not in FILES:
            return json_reply(404, {"error": "not found"})
        session = self.market.session()
        key = (name, session.day.isoformat(), session.closed)
        data = self._masters.get(key)
        if data is None:
            data = master_zip(self.market, session, name)
            self._masters = {
                key: data,
                **{k: v for k, v in self._masters.items() if k[1] == key[1]},
            }
        return Reply(200, data, "application/zip")

    # -- REST ------------------------------------------------------------------------------
    def _authenticate(self, headers: Mapping[str, str]) -> App | Reply:
        key = headers.get("appkey", "")
        if not key:
            return self._error(500, "EGW00102")
        app = self.tokens.apps.get(key)
        if app is None:
            return self._error(500, "EGW00103")
        secret = headers.get("appsecret", "")
        if not secret:
            return self._error(500, "EGW00104")
        if secret != app.app_secret:
            return self._error(500, "EGW00105")
        auth = headers.get("authorization", "").strip()
        if not auth:
            return self._error(500, "EGW00121")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer":
            return self._error(500, "EGW00205")
        tok = self.tokens.lookup(value.strip())
        if tok is None or tok.revoked or tok.app_key != app.app_key or app.rejects_tokens:
            return self._error(500, "EGW00121")
        if self.clock.now() >= tok.expires:
            return self._error(500, "EGW00123")
        if headers.get("custtype", "P").strip() not in ("P", "B"):  # absent: as KIS, P
            return self._error(500, "EGW00208")
        return app

    def rest(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        reply = self._rest(method, path, query, headers)
        reply.delay += self._uniform(self.latency)
        return reply

    def _rest(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        ep = ROUTES.get(path)
        if ep is None or method != "GET":
            status, body = not_found()
            self.truth.count("errors", body["msg_cd"])
            return json_reply(status, body)
        app = self._authenticate(headers)
        if isinstance(app, Reply):
            return app
        tr_id = headers.get("tr_id", "")
        fault = self._draw_fault()
        if fault == "token_reject":
            return self._error(500, "EGW00121")
        wall, mono = self.clock.now(), self.clock.monotonic()
        accepted = fault != "rate_limit" and self.limiter.decide(
            app.app_key, self.limit_for(app), mono, wall
        )
        self.truth.count_call(wall, tr_id, accepted)
        if not accepted:
            self.truth.count("errors", "EGW00201")
            return json_reply(self.rate_limit_status, RATE_LIMIT_BODY)
        if fault == "drop":
            return Reply(0, b"", drop=True)
        if fault == "html_500":
            return Reply(500, HTML_500, "text/html")
        ctx = Ctx(
            {k.upper(): v for k, v in query.items()},
            headers.get("tr_cont", "").strip(),
            app,
            self.accounts.get(app.account),
            self.market,
            self.market.session(),
        )
        status, body, tr_cont = dispatch(ep, tr_id, ctx)
        if body.get("rt_cd") != "0":
            self.truth.count("errors", body["msg_cd"])
        reply = json_reply(status, body, tr_id=tr_id, tr_cont=tr_cont, gt_uid=secrets.token_hex(16))
        if fault == "malformed_json":
            reply = Reply(200, reply.body[: len(reply.body) // 2], headers=reply.headers)
        elif fault in ("slow", "trickle"):
            faults = self.faults()
            seconds = faults.slow_seconds if faults is not None else 0.0
            if fault == "slow":
                reply.delay += seconds
            else:
                reply.trickle = seconds
        return reply
