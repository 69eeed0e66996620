"""The exception tree.

Every error the toolkit raises derives from :class:`KISError`::

    KISError
    ├── ConfigError (ValueError)      bad argument or setting, raised before any request
    ├── TransportError                no usable KIS answer: retried
    │   ├── ConnectionFailed          refused / reset / dropped connection
    │   ├── RequestTimeout            no answer within the timeout
    │   └── BadResponse               a non-JSON or malformed body (an HTML 500 page, ...)
    ├── APIError                      KIS answered with an error body (rt_cd != "0")
    │   ├── RateLimited               EGW00201 / EGW00215, too many calls a second: retried
    │   ├── TokenInvalid              EGW00121 / EGW00123, token unknown or expired: re-issued
    │   ├── TokenThrottled            EGW00133, a token less than a minute ago: waited out
    │   ├── CredentialsRejected       EGW00103 / EGW00105: bad app key or app secret
    │   └── NotFound                  the symbol or item does not exist (no retry)
    ├── ItemTimeout (TimeoutError)    one item of a bulk pull ran past its timeout
    ├── ItemCancelled (CancelledError)  an item left undone by an interrupt
    ├── UnsafeRow                     a cache row this toolkit did not write (never decoded;
    │                                 the cache logs, deletes it and counts a miss)
    └── WorkerFailed (RuntimeError)   a ``kisresearch bench`` worker process raised

    BatchInterrupted (KeyboardInterrupt) carries the finished outcomes of a bulk pull: a Ctrl-C
    stays a KeyboardInterrupt, so it is no KISError.

Two warnings (``UserWarning``), each a category to filter by::

    SimulatorWarning                  a client fell back to the embedded simulator (once a process)
    SettingWarning                    a KIS_* variable we do not read that looks like one we do

The simulator's own error (``kisresearch.sim.routes.KisError``, an answer it sends) stays in
``sim/``, which imports nothing from here.

Errors carry ``msg_cd``, ``msg1``, ``tr_id``, ``endpoint`` and the HTTP ``status``; never a
secret. Messages are built only from those fields.
"""

from __future__ import annotations

from concurrent.futures import CancelledError
from typing import Any


class KISError(Exception):
    """Base of every error raised by kisresearch."""


class ConfigError(KISError, ValueError):
    """A bad argument or setting; raised before any request is sent."""


class TransportError(KISError):
    """No usable answer from the server (connection, timeout, garbage). Retried."""

    def __init__(self, message: str, *, endpoint: str = "", tr_id: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.tr_id = tr_id


class ConnectionFailed(TransportError):
    """The connection was refused, reset or dropped."""


class RequestTimeout(TransportError):
    """The server did not answer within the timeout."""


class BadResponse(TransportError):
    """The server answered with something that is not a KIS JSON body."""

    def __init__(self, message: str, *, status: int = 0, endpoint: str = "", tr_id: str = ""):
        super().__init__(message, endpoint=endpoint, tr_id=tr_id)
        self.status = status


class APIError(KISError):
    """KIS answered with an error body."""

    def __init__(
        self,
        msg_cd: str,
        msg1: str = "",
        *,
        status: int = 0,
        tr_id: str = "",
        endpoint: str = "",
    ) -> None:
        self.msg_cd = msg_cd
        self.msg1 = (msg1 or "").strip()
        self.status = status
        self.tr_id = tr_id
        self.endpoint = endpoint
        where = " ".join(p for p in (endpoint, f"[{tr_id}]" if tr_id else "") if p)
        super().__init__(f"{msg_cd}: {self.msg1} (HTTP {status}{', ' + where if where else ''})")

    def __reduce__(self) -> tuple[Any, ...]:  # keep keyword fields across pickling
        fields = (self.msg_cd, self.msg1, self.status, self.tr_id, self.endpoint)
        return (_rebuild, (type(self), *fields))


def _rebuild(cls: type[APIError], *args: Any) -> APIError:
    msg_cd, msg1, status, tr_id, endpoint = args
    return cls(msg_cd, msg1, status=status, tr_id=tr_id, endpoint=endpoint)


class RateLimited(APIError):
    """EGW00201 (per-second limit) or EGW00215 (ledger TPS limit)."""


class TokenInvalid(APIError):
    """EGW00121 (invalid token) or EGW00123 (expired token)."""


class TokenRejected(KISError):
    """The server rejected the tokens it issued, twice in a row: no more are issued (on KIS
    each issuance alerts the account holder), until the client is made again."""


class TokenThrottled(APIError):
    """EGW00133: tokens may be issued once a minute."""


class CredentialsRejected(APIError):
    """EGW00103 / EGW00105: the app key or app secret is not valid."""


class NotFound(APIError):
    """The requested symbol or item does not exist: KIS's ``APBK0013``, ``rt_cd`` 7 ("조회할
    자료가 없습니다"), or :data:`NOT_FOUND` where KIS answers a success with a zero price."""


NOT_FOUND = "NOTFOUND"  # ours, not KIS's: a success body that says there is no such symbol


RATE_LIMIT_CODES = frozenset({"EGW00201", "EGW00215"})
TOKEN_INVALID_CODES = frozenset({"EGW00121", "EGW00123"})
_BY_CODE: dict[str, type[APIError]] = {
    **dict.fromkeys(RATE_LIMIT_CODES, RateLimited),
    **dict.fromkeys(TOKEN_INVALID_CODES, TokenInvalid),
    "EGW00133": TokenThrottled,
    "EGW00103": CredentialsRejected,
    "EGW00105": CredentialsRejected,
    "APBK0013": NotFound,  # "조회 가능한 데이터가 없습니다": no such symbol / no data
}


def api_error(
    msg_cd: str,
    msg1: str = "",
    *,
    status: int = 0,
    tr_id: str = "",
    endpoint: str = "",
    rt_cd: str = "",
) -> APIError:
    """Build the most specific :class:`APIError` subclass for a KIS message code."""
    cls = _BY_CODE.get(msg_cd, NotFound if rt_cd == "7" else APIError)
    return cls(msg_cd, msg1, status=status, tr_id=tr_id, endpoint=endpoint)


class ItemTimeout(KISError, TimeoutError):
    """An item got no result within the runner's ``timeout``; its call may still be running."""

    def __init__(self, message: str = "", *, index: int = -1, seconds: float = 0.0) -> None:
        super().__init__(message)
        self.index = index
        self.seconds = seconds


class ItemCancelled(KISError, CancelledError):
    """An item did not finish because its run was interrupted (or its runner closed)."""

    def __init__(self, message: str = "", *, index: int = -1) -> None:
        super().__init__(message)
        self.index = index


class NotCached(KISError):
    """Internal: a cache-only try (the pipeline's pass before its pool) met an answer the
    cache does not hold; the item then goes to the pool. Never reaches a caller."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run. ``outcomes`` holds one outcome per item, in item order: what
    finished, and :class:`ItemCancelled` errors for the rest."""

    def __init__(self, outcomes: list[Any]) -> None:
        finished = sum(not isinstance(o.error, ItemCancelled) for o in outcomes)
        super().__init__(f"batch interrupted: {finished} of {len(outcomes)} items finished")
        self.outcomes = outcomes


class UnsafeRow(KISError):
    """A cache row this toolkit did not write (pickle, file-backed, foreign bytes): not decoded."""


class WorkerFailed(KISError, RuntimeError):
    """A bench worker process raised; ``child_traceback`` is its traceback."""

    def __init__(self, message: str, child_traceback: str) -> None:
        super().__init__(message)
        self.child_traceback = child_traceback


class SimulatorWarning(UserWarning):
    """``KIS()`` found no server named (no key, secret, env or base URL) and serves simulated
    prices from the embedded simulator; shown the first time in a process."""


class SettingWarning(UserWarning):
    """An environment variable that looks like one of the toolkit's ``KIS_*`` settings but is
    not one (``KIS_APP_KEY`` without its second underscore): it is ignored. Names only, never
    values."""
