"""HTTP transport: one pooled ``requests.Session``, KIS headers, body -> exception.

KIS sends business errors as HTTP 500 (sometimes 200) with an ordinary JSON body, so the body
is parsed whatever the status, and the body -- not the status -- decides success.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
import urllib3

from ..errors import BadResponse, ConnectionFailed, RequestTimeout, TransportError, api_error
from ..observe.logs import RedactingFilter, redact

E = TypeVar("E", bound=TransportError)

# urllib3 logs each request line at DEBUG, query string included (a balance call's holds the
# account number): its records are masked like ours, whoever turns DEBUG on
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
    logging.getLogger(_name).addFilter(RedactingFilter())

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Request:
    """One KIS call, as data. Holds no secret: auth headers are added at send time."""

    path: str
    tr_id: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    method: str = "GET"
    tr_cont: str = ""  # "" for a first page, "N" for the next one
    endpoint: str = ""  # the spec's short name, for errors, stats and cache keys

    @property
    def name(self) -> str:
        return self.endpoint or self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    tr_cont: str = ""  # response header: F/M = more pages, D/E = last page
    elapsed: float = 0.0

    @property
    def has_more(self) -> bool:
        return self.tr_cont in ("F", "M")


def check_body(body: Any, *, status: int, tr_id: str = "", endpoint: str = "") -> dict[str, Any]:
    """Return ``body`` if it is a KIS success body, else raise the matching error."""
    if not isinstance(body, dict):
        raise BadResponse(
            f"expected a JSON object, got {type(body).__name__}",
            status=status,
            endpoint=endpoint,
            tr_id=tr_id,
        )
    if "error_code" in body:  # the OAuth endpoints' error shape
        raise api_error(
            str(body["error_code"]),
            str(body.get("error_description", "")),
            status=status,
            tr_id=tr_id,
            endpoint=endpoint,
        )
    rt_cd = body.get("rt_cd")
    if rt_cd is not None and str(rt_cd) != "0":
        raise api_error(
            str(body.get("msg_cd", "")),
            str(body.get("msg1", "")),
            status=status,
            tr_id=tr_id,
            endpoint=endpoint,
            rt_cd=str(rt_cd),
        )
    if status >= 400:
        raise BadResponse(
            f"HTTP {status} with a body that is not a KIS error",
            status=status,
            endpoint=endpoint,
            tr_id=tr_id,
        )
    return body


class Transport:
    """Sends :class:`Request` objects to one KIS-compatible base URL.

    ``headers`` is a callable returning the auth headers for each call (``authorization``,
    ``appkey``, ``appsecret``), so that the secrets live in one place (:mod:`auth`) and a
    refreshed token is picked up by the next call.
    """

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT, pool_size: int = 32):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=pool_size, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, timeout={self.timeout})"

    def close(self) -> None:
        self._session.close()

    def post_json(self, path: str, payload: Mapping[str, Any], *, endpoint: str = "") -> Response:
        """POST a JSON body without auth headers (the OAuth endpoints)."""
        return self._do(
            "POST",
            path,
            endpoint=endpoint,
            json=dict(payload),
            headers={"content-type": "application/json; charset=utf-8"},
        )

    def send(self, request: Request, auth_headers: Mapping[str, str]) -> Response:
        headers = {
            "content-type": "application/json; charset=utf-8",
            "tr_id": request.tr_id,
            "custtype": "P",
            "tr_cont": request.tr_cont,
            **auth_headers,
        }
        if request.method == "GET":
            return self._do(
                "GET",
                request.path,
                endpoint=request.name,
                tr_id=request.tr_id,
                params=dict(request.params),
                headers=headers,
            )
        return self._do(
            request.method,
            request.path,
            endpoint=request.name,
            tr_id=request.tr_id,
            json=dict(request.params),
            headers=headers,
        )

    def _do(
        self, method: str, path: str, *, endpoint: str, tr_id: str = "", **kwargs: Any
    ) -> Response:
        started = time.perf_counter()
        late = f"no answer within {self.timeout:g} s from {path}"
        try:
            r = self._session.request(
                method, self.base_url + path, timeout=self.timeout, stream=True, **kwargs
            )
            content = _body_by(r, started + self.timeout)
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise _scrubbed(RequestTimeout, late, exc, endpoint=endpoint, tr_id=tr_id) from None
        except (requests.ConnectionError, urllib3.exceptions.HTTPError) as exc:
            raise _scrubbed(ConnectionFailed, f"connection to {self.base_url} failed", exc,
                            endpoint=endpoint, tr_id=tr_id) from None  # fmt: skip
        if content is None:
            raise RequestTimeout(f"{late} (the body was still coming)", endpoint=endpoint,
                                 tr_id=tr_id)  # fmt: skip
        elapsed = time.perf_counter() - started
        try:
            body = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            kind = r.headers.get("content-type", "?").split(";")[0]
            raise BadResponse(
                f"HTTP {r.status_code}: a {kind} body that is not JSON",
                status=r.status_code,
                endpoint=endpoint,
                tr_id=tr_id,
            ) from exc
        body = check_body(body, status=r.status_code, tr_id=tr_id, endpoint=endpoint)
        return Response(r.status_code, body, r.headers.get("tr_cont", ""), elapsed)


def _body_by(r: requests.Response, deadline: float) -> bytes | None:
    """The body, read as it comes; None if it is not all in by ``deadline`` (the socket's
    timeout bounds each read only: a server sending a few bytes a second never trips it)."""
    chunks: list[bytes] = []
    try:
        while chunk := r.raw.read1(1 << 16, decode_content=True):
            chunks.append(chunk)
            if time.perf_counter() > deadline:
                r.close()  # the connection goes: the rest of the body is still on it
                return None
    except BaseException:
        r.close()
        raise
    r.raw.release_conn()  # read whole: the connection goes back to the pool
    return b"".join(chunks)


def _scrubbed(kind: type[E], what: str, cause: Exception, **fields: str) -> E:
    """``kind`` saying ``what`` and why (``cause``'s text, secrets masked), raised ``from
    None``: requests' exceptions keep the URL (a balance call's holds the account number)
    and the request with its auth headers, and a traceback shows a chained cause whole."""
    return kind(f"{what}: {type(cause).__name__}: {redact(str(cause))}", **fields)


def download(url: str, timeout: float) -> bytes:
    """GET one master zip (no auth, no rate limit). Errors are :class:`TransportError`s."""
    try:
        response = requests.get(url, timeout=timeout)
    except requests.Timeout as exc:
        raise _scrubbed(RequestTimeout, f"no answer within {timeout:g} s from {url}", exc) from None
    except requests.ConnectionError as exc:
        raise _scrubbed(ConnectionFailed, f"download of {url} failed", exc) from None
    if response.status_code != 200:
        raise BadResponse(f"HTTP {response.status_code} for {url}", status=response.status_code)
    return response.content
