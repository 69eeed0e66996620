"""A bare KIS caller for probing a KIS-compatible server such as the simulator.

No limiter, no retries, no cache: one ``requests.Session`` that sends exactly the request you
describe, so tests and server-capacity benchmarks see the server's own answers. The toolkit's
real client is :class:`kisresearch.KIS`; use this only to exercise the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

TOKEN_PATH = "/oauth2/tokenP"


class RawClient:
    """Raw calls with KIS headers. ``reissue=True`` fetches a new token once when an answer
    says the token expired (EGW00123), e.g. after the simulator's clock was advanced."""

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        reissue: bool = False,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.app_secret = app_secret
        self.reissue = reissue
        self.timeout = timeout
        self.session = requests.Session()
        self.token: str | None = None

    @classmethod
    def of(cls, sim: Any, **kwargs: Any) -> RawClient:
        """A client with the simulator's default credentials."""
        return cls(sim.base_url, sim.app_key, sim.app_secret, **kwargs)

    def __repr__(self) -> str:
        return f"RawClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def token_call(
        self, app_key: str | None = None, app_secret: str | None = None
    ) -> requests.Response:
        """POST /oauth2/tokenP and return the raw response."""
        return self.session.post(self.base_url + TOKEN_PATH, timeout=self.timeout, json={
            "grant_type": "client_credentials", "appkey": app_key or self.app_key,
            "appsecret": app_secret or self.app_secret})  # fmt: skip

    def issue(self) -> str:
        """Get a token (raises ``AssertionError`` with the body if the server refuses)."""
        r = self.token_call()
        if r.status_code != 200:
            raise AssertionError(f"tokenP answered HTTP {r.status_code}: {r.text}")
        self.token = str(r.json()["access_token"])
        return self.token

    def headers(self, tr_id: str, tr_cont: str = "") -> dict[str, str]:
        if self.token is None:
            self.issue()
        return {"content-type": "application/json; charset=utf-8",
                "authorization": f"Bearer {self.token}", "appkey": self.app_key,
                "appsecret": self.app_secret, "tr_id": tr_id, "custtype": "P",
                "tr_cont": tr_cont}  # fmt: skip

    def get(
        self,
        path: str,
        tr_id: str,
        params: dict[str, str],
        *,
        tr_cont: str = "",
        headers: Mapping[str, str | None] | None = None,
    ) -> requests.Response:
        """GET a REST path; ``headers`` override or remove (value None) the KIS headers."""
        for attempt in range(2):
            merged: dict[str, Any] = {**self.headers(tr_id, tr_cont), **(headers or {})}
            r = self.session.get(
                self.base_url + path,
                params=params,
                timeout=self.timeout,
                headers={k: v for k, v in merged.items() if v is not None},
            )
            if not (self.reissue and attempt == 0 and _msg_cd(r) == "EGW00123"):
                return r
            self.token = None
        return r

    def ok(
        self, path: str, tr_id: str, params: dict[str, str], *, tr_cont: str = ""
    ) -> dict[str, Any]:
        """GET and return the body; ``AssertionError`` unless it is a KIS success (HTTP 200,
        ``rt_cd`` "0", JSON content type, ``tr_id`` echoed, every value a string)."""
        r = self.get(path, tr_id, params, tr_cont=tr_cont)
        body = r.json()
        if r.status_code != 200 or body.get("rt_cd") != "0":
            raise AssertionError(f"{tr_id}: HTTP {r.status_code} {r.text[:300]}")
        if r.headers.get("content-type") != "application/json; charset=utf-8":
            raise AssertionError(f"{tr_id}: content-type {r.headers.get('content-type')}")
        if r.headers.get("tr_id") != tr_id:
            raise AssertionError(f"{tr_id}: tr_id header {r.headers.get('tr_id')!r}")
        bad = non_strings(body)
        if bad:
            raise AssertionError(f"{tr_id}: values that are not strings at {bad[:5]}")
        return dict(body)

    def warm(self) -> None:
        """Open the keep-alive connection without spending rate budget (an admin call)."""
        self.session.get(self.base_url + "/__sim/truth", timeout=self.timeout).raise_for_status()


def non_strings(value: Any, where: str = "") -> list[str]:
    """Paths (``output2[3].stck_clpr``) of the values in a JSON body that are not strings."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_strings(v, f"{where}.{k}".lstrip("."))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_strings(v, f"{where}[{i}]")]
    return [] if isinstance(value, str) else [where]


def _msg_cd(r: requests.Response) -> str:
    try:
        return str(r.json().get("msg_cd", ""))
    except ValueError:
        return ""
