"""Access tokens: kept on disk, issued at most once a minute, shared by processes.

KIS issues a token at most once a minute per app key (EGW00133 otherwise, and every issuance
sends the account holder a KakaoTalk alert); a token lasts 24 h. So the token is the toolkit's
most precious state: it is written to ``<toolkit folder>/token-<id>.json`` (mode 0600; the app
secret is never stored), and an exclusive file lock (``config.locked``) around "read the file,
else issue" makes two processes that start together issue exactly one token between them.

``<id>`` hashes the server's base URL with the app key, so real, paper and simulator tokens
never mix, and the file name reveals neither.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from ..config import POSIX_MODES, Credentials, locked, write_private
from ..errors import BadResponse, TokenRejected, TokenThrottled
from ..observe.logs import register_secret
from ..timebase import SYSTEM_CLOCK, Clock
from .transport import Transport

log = logging.getLogger(__name__)

ISSUE_INTERVAL = 60.0  # KIS: one issuance per minute per app key
REFRESH_MARGIN = 600.0  # treat a token as expired this long before it really is
MAX_THROTTLE_WAITS = 3
MAX_REJECTED = 2  # tokens rejected in a row before no more are issued
TOKEN_LIFE = 86_400.0  # KIS: a token lasts 24 h
CLOCK_SKEW = 5.0  # seconds a state file's times may run ahead of this clock


def _bad_state(data: object) -> str | None:
    """What is wrong with a token file's content, or None."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    token = data.get("access_token")
    if token is not None and not isinstance(token, str):
        return f"access_token is a {type(token).__name__}"
    for name in ("expires_at", "issued_at"):
        value = data.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return f"{name} is {value!r}, not a time"
    return None


class TokenManager:
    """Hands out a valid access token and the auth headers built from it."""

    def __init__(
        self,
        transport: Transport,
        credentials: Credentials,
        home: Path,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_issue: Callable[[], None] | None = None,
    ) -> None:
        self._transport = transport
        self._creds = credentials
        self._clock = clock
        self._on_issue = on_issue
        stem = f"token-{credentials.key_id(transport.base_url)}"
        self.path = home / f"{stem}.json"
        self._lock_path = home / f"{stem}.lock"
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._rejected = 0  # tokens rejected in a row since one last worked

    def __repr__(self) -> str:
        state = "valid" if self._valid(self._token, self._expires_at) else "none"
        return f"TokenManager({self._transport.base_url!r}, token={state})"

    def headers(self, wait: bool = True) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.token(wait)}",
            "appkey": self._creds.app_key,
            "appsecret": self._creds.app_secret,
        }

    def token(self, wait: bool = True) -> str:
        """The current token, issued first if need be. A new one is issued at most once a
        minute: ``wait=False`` raises :class:`TokenThrottled` instead of waiting for that."""
        token, expires = self._token, self._expires_at
        if token is not None and self._valid(token, expires):
            return token
        with self._lock, locked(self._lock_path):
            state = self._read()
            if state and self._valid(state.get("access_token"), state.get("expires_at", 0.0)):
                self._adopt(state["access_token"], float(state["expires_at"]))
            else:
                if self._rejected >= MAX_REJECTED:
                    raise TokenRejected(
                        f"the server rejected {self._rejected} tokens in a row, each just "
                        "issued: not issuing more (on KIS every issuance alerts the account "
                        "holder). Likely: the app key is for the other environment (real vs "
                        "paper), suspended or revoked; or base_url is not KIS (a proxy)"
                    )
                self._issue(state or {}, wait)
            assert self._token is not None
            return self._token

    @property
    def rejections(self) -> int:
        """Tokens the server rejected in a row since one last worked."""
        return self._rejected

    def worked(self) -> None:
        """A call with the current token was answered: rejections in a row start again."""
        self._rejected = 0

    def invalidate(self, rejected: str | None = None) -> None:
        """The server rejected ``rejected`` (EGW00121 / EGW00123): drop it everywhere.

        If another process has already replaced it on disk, its successor is kept.
        """
        with self._lock, locked(self._lock_path):
            state = self._read() or {}
            if rejected is None or state.get("access_token") in (None, rejected):
                state["access_token"] = None
                state["expires_at"] = 0.0
                self._write(state)
            if rejected is None or self._token == rejected:
                self._token, self._expires_at = None, 0.0
                self._rejected += 1

    # -- internals -------------------------------------------------------------------------

    def _valid(self, token: object, expires_at: float) -> bool:
        return bool(token) and self._clock.now() < float(expires_at) - REFRESH_MARGIN

    def _adopt(self, token: str, expires_at: float) -> None:
        register_secret(token)
        self._token, self._expires_at = token, expires_at

    def _issue(self, state: dict, may_wait: bool = True) -> None:
        for _ in range(MAX_THROTTLE_WAITS + 1):
            wait = float(state.get("issued_at", 0.0)) + ISSUE_INTERVAL - self._clock.now()
            if wait > 0 and not may_wait:
                raise TokenThrottled(
                    "EGW00133", f"a new token may be issued in {wait:.0f} s", endpoint="tokenP"
                )
            if wait > 0:  # waited out here, never hammered
                log.info("waiting %.1f s: KIS issues one token a minute", wait)
                self._clock.sleep(wait + 0.5)
            state["issued_at"] = self._clock.now()
            try:
                resp = self._transport.post_json(
                    "/oauth2/tokenP",
                    {
                        "grant_type": "client_credentials",
                        "appkey": self._creds.app_key,
                        "appsecret": self._creds.app_secret,
                    },
                    endpoint="tokenP",
                )
            except TokenThrottled:
                self._write(state)  # remember the attempt so sharers wait too
                continue
            token = resp.body.get("access_token")
            if not isinstance(token, str) or not token:
                raise BadResponse(
                    "tokenP answer has no access_token", status=resp.status, endpoint="tokenP"
                )
            expires_in = float(resp.body.get("expires_in", 86400))
            state.update(access_token=token, expires_at=state["issued_at"] + expires_in)
            try:
                self._write(state)
            except OSError as exc:  # a full disk: the token is good, and issued once a minute
                log.warning("could not save the token to %s (%s): kept in this process only",
                            self.path, exc.strerror or type(exc).__name__)  # fmt: skip
            self._adopt(token, state["expires_at"])
            log.info("issued a new access token (valid %.0f h)", expires_in / 3600)
            if self._on_issue:
                self._on_issue()
            return
        raise TokenThrottled(
            "EGW00133", "token issuance still throttled after waiting", endpoint="tokenP"
        )

    def _read(self) -> dict | None:
        """The token file's state, checked field by field: a bad file is moved aside (with a
        warning naming it) and counts as absent; times ahead of the clock (a clock stepped
        back, machines with skewed clocks sharing a folder) are clamped to it."""
        try:
            data = json.loads(self.path.read_text())
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077 and POSIX_MODES:  # copied, restored, or a umask
                self.path.chmod(0o600)
                log.warning("token file %s was readable by others (mode %o); made owner-only",
                            self.path, mode)  # fmt: skip
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self._set_aside(f"unreadable ({type(exc).__name__})")
            return None
        why = _bad_state(data)
        if why:
            self._set_aside(why)
            return None
        now = self._clock.now()
        for name, most in (("issued_at", now), ("expires_at", now + TOKEN_LIFE)):
            if data.get(name, 0.0) > most + CLOCK_SKEW:
                log.warning("token file %s: %s is %.0f s ahead of this clock; taken as %s",
                            self.path, name, data[name] - now,
                            "now" if name == "issued_at" else "24 h from now")  # fmt: skip
                data[name] = most
        return data

    def _set_aside(self, why: str) -> None:
        aside = self.path.with_name(f"_{self.path.name}.bad-{int(self._clock.now())}")
        try:
            os.replace(self.path, aside)
        except OSError:
            aside = self.path
        log.warning("token file %s is not usable (%s); moved aside to %s, a token will be issued",
                    self.path, why, aside.name)  # fmt: skip

    def _write(self, state: dict) -> None:
        write_private(self.path, json.dumps(state).encode())
