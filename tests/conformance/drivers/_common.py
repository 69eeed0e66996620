"""Shared by the driver scripts, which run under a peer client's own venv (no kisresearch).

A driver calls :func:`config` for the simulator's address and credentials, then :func:`call`
once per data call. Each call prints one line ``CONFORMANCE {json}`` on stdout:
``{"call", "ok", "error", "values", "http"}``, where ``http`` lists the answers the client got
during the call (observed by wrapping ``requests.Session.send``, which every one of these
clients sends through; nothing the client sends or reads is changed).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

PREFIX = "CONFORMANCE "
_seen: list[dict[str, Any]] = []
_send = requests.Session.send


def _observed_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
    response = _send(self, request, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = None
    msg = body if isinstance(body, dict) else {}
    _seen.append(
        {
            "path": urlsplit(request.url).path,
            "tr_id": request.headers.get("tr_id"),
            "status": response.status_code,
            "rt_cd": msg.get("rt_cd"),
            "msg_cd": msg.get("msg_cd") or msg.get("error_code"),
            "msg1": msg.get("msg1") or msg.get("error_description"),
        }
    )
    return response


requests.Session.send = _observed_send  # type: ignore[method-assign]


def config() -> dict[str, str]:
    """The JSON object the test passes as the first argument."""
    return json.loads(sys.argv[1])


class KisAnswerError(Exception):
    """A raw-JSON client handed back an answer that is not a success."""


def checked(body: Any) -> Mapping[str, Any]:
    """``body`` if it is a KIS success (``rt_cd "0"``), else :class:`KisAnswerError`."""
    if not isinstance(body, Mapping):
        raise KisAnswerError(f"the client returned {body!r}")
    if body.get("rt_cd") != "0":
        fields = {k: body.get(k) for k in ("rt_cd", "msg_cd", "msg1")}
        raise KisAnswerError(f"answer not a success: {fields}")
    return body


def newest(rows: list[Mapping[str, Any]], *keys: str) -> Mapping[str, Any]:
    """The row with the largest ``keys`` (dates/times as KIS writes them sort as text)."""
    if not rows:
        raise KisAnswerError("no rows")
    return max(rows, key=lambda r: tuple(str(r[k]) for k in keys))


def call(name: str, fn: Callable[[], Mapping[str, Any]]) -> None:
    """Run one data call and print its line."""
    _seen.clear()
    values: Mapping[str, Any] | None = None
    error = None
    try:
        values = fn()
    except Exception as exc:  # any failure is the result being reported
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        error = f"{exc!r} (at {frame.filename.rsplit('/', 2)[-1]}:{frame.lineno})"
    line = {
        "call": name,
        "ok": error is None,
        "error": error,
        "values": values,
        "http": list(_seen),
    }
    print(PREFIX + json.dumps(line, ensure_ascii=False, default=str), flush=True)
