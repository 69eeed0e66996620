"""Logging for kisresearch: quiet by default, one call to see it, secrets never written.

The package logs under the ``kisresearch`` logger (``kisresearch.observe.stats``, ... below it) and
installs only a :class:`logging.NullHandler` (:func:`install_null_handler`), so nothing
appears until the user asks::

    import kisresearch.observe.logs
    kisresearch.observe.logs.configure("DEBUG")                   # text lines on stderr
    kisresearch.observe.logs.configure(json=True, file="kis.log")  # or JSON Lines in a file

:func:`configure` is idempotent: calling it again replaces the handler it installed. The
handler carries a :class:`RedactingFilter`, which rewrites each record *in place* before it is
formatted, so handlers further up (the root logger's, pytest's) see the redacted record too.
It removes ``Bearer`` tokens, JWT-looking strings, the values of credential-named keys
(``appkey=...``, ``"appsecret": "..."``, ``{'authorization': ...}``, ``CANO: ...``) and every
exact string registered with :func:`register_secret` (the client registers the real app key,
secret, token and account when it gets them).
"""

from __future__ import annotations

import json as _json
import logging
import math
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigError
from ..timebase import kst

__all__ = [
    "LOGGER_NAME",
    "JsonFormatter",
    "KstFormatter",
    "RedactingFilter",
    "configure",
    "install_null_handler",
    "redact",
    "register_secret",
    "unconfigure",
]

LOGGER_NAME = "kisresearch"
MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MIN_SECRET = 4  # shorter registered values would mangle ordinary text
_MARK = "_kisresearch_configured"  # set on the handler configure() installs

# Keys whose values are credentials, wherever they appear: HTTP headers, KIS request bodies,
# query strings, dict reprs. "token" alone matches only as a whole key (not "tokens_issued").
_SECRET_KEYS = (
    "appkey|app_key|appsecret|app_secret|secretkey|personalseckey|approval_key"
    "|authorization|access_token|token|cano|account"
)
_SECRET_KEY_RE = re.compile(rf"(?:{_SECRET_KEYS})", re.IGNORECASE)
_BEARER_RE = re.compile(r"\bBearer\s+[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_\-]{6,}(?:\.[A-Za-z0-9_\-]*){0,2}")
_KEY_VALUE_RE = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_])(?:\\?[\"'])?(?:" + _SECRET_KEYS + r")(?:\\?[\"'])?)"
    r"(?P<sep>\s*[:=]\s*)"
    r"(?P<value>\\\"(?:[^\\]|\\[^\"])*?\\\""  # \"...\" (JSON inside a JSON string)
    r"|\"(?:[^\"\\]|\\.)*\""  # "..."
    r"|'(?:[^'\\]|\\.)*'"  # '...'
    r"|(?:Bearer\s+)?[^\s,;&'\"}\])]+)",  # bare: up to a delimiter
    re.IGNORECASE,
)


class _Secrets:
    """The registered secret strings; ``repr`` never shows them."""

    __slots__ = ("_lock", "_values")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        with self._lock:
            if value not in self._values:
                # Longest first, so a secret containing another is masked whole.
                self._values = tuple(sorted((*self._values, value), key=len, reverse=True))

    def sub(self, text: str) -> str:
        for value in self._values:  # a tuple swapped atomically: no lock needed to read
            if value in text:
                text = text.replace(value, MASK)
        return text

    def clear(self) -> None:
        with self._lock:
            self._values = ()

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<{len(self._values)} registered secrets>"


_SECRETS = _Secrets()


def register_secret(value: str | None) -> None:
    """Mask every later occurrence of ``value`` in logs (empty or < 4 characters: ignored)."""
    if isinstance(value, str) and len(value.strip()) >= _MIN_SECRET:
        _SECRETS.add(value)


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    if value.startswith('\\"'):
        masked = f'\\"{MASK}\\"'
    elif value[:1] in "\"'":
        masked = f"{value[0]}{MASK}{value[0]}"
    else:
        masked = MASK
    return f"{match['key']}{match['sep']}{masked}"


def redact(text: str) -> str:
    """Return ``text`` with registered secrets, bearer tokens, JWTs and credential values
    masked as ``***``.

    >>> redact("GET /quote appkey=PSabc123&FID_INPUT_ISCD=005930")
    'GET /quote appkey=***&FID_INPUT_ISCD=005930'
    >>> redact("{'authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig', 'tr_id': 'X'}")
    "{'authorization': '***', 'tr_id': 'X'}"
    """
    text = _SECRETS.sub(text)
    text = _KEY_VALUE_RE.sub(_mask_value, text)
    text = _BEARER_RE.sub(f"Bearer {MASK}", text)
    return _JWT_RE.sub(MASK, text)


def _redact_obj(value: Any, key: str | None = None) -> Any:
    """Redact a structured value: credential-named keys masked, strings scrubbed."""
    if key is not None and _SECRET_KEY_RE.fullmatch(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {k: _redact_obj(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_obj(v) for v in value]
    return redact(str(value))


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record."""
    return {
        k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")
    }


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, extras, traceback and stack, in place.

    The message is formatted with its arguments first (``record.args`` becomes ``None``), so
    a secret inside an argument (a headers dict, a request body) is masked too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep the evidence, masked, instead of a crash
            message = f"{record.msg} (unformattable arguments: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        for key, value in _extras(record).items():
            setattr(record, key, _redact_obj(value, key))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


class KstFormatter(logging.Formatter):
    """A formatter whose ``asctime`` is the record's time as ISO 8601 in KST, to the
    millisecond (``2024-01-02T09:00:00.123+09:00``), whatever the machine's zone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return kst(record.created).isoformat(timespec="milliseconds")


class JsonFormatter(KstFormatter):
    """One JSON object per line.

    Keys, in order: ``time`` (as :class:`KstFormatter`'s ``asctime``), ``level``,
    ``logger``, ``message``, then the record's ``extra`` fields (made JSON-safe; one named
    like a fixed key is written as ``extra_<name>``), then ``exc`` (the formatted traceback)
    and ``stack`` when present.
    """

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            doc[f"extra_{key}" if key in doc or key in ("exc", "stack") else key] = _jsonable(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return _json.dumps(doc, ensure_ascii=False)


def _parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    text = level.strip()
    if text.isdigit():
        return int(text)
    mapping = logging.getLevelNamesMapping()
    if text.upper() not in mapping:
        raise ConfigError(
            f"unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return mapping[text.upper()]


def _remove_installed(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _MARK, False):
            logger.removeHandler(handler)
            handler.close()


def configure(
    level: str | int | None = None,
    *,
    json: bool = False,
    file: str | os.PathLike[str] | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Show kisresearch's logs; returns the handler installed on the ``kisresearch`` logger.

    ``level`` defaults to ``KIS_LOG_LEVEL`` or ``INFO``; ``json=True`` writes JSON Lines
    (:class:`JsonFormatter`) instead of text; ``file`` appends to a UTF-8 file, otherwise
    ``stream`` (default stderr) is used. Re-calling replaces the previous handler; the
    logger's ``propagate`` is left alone. Every record is passed through
    :class:`RedactingFilter`.
    """
    env = os.environ.get("KIS_LOG_LEVEL")
    resolved = _parse_level(level if level is not None else (env or "INFO"))
    handler: logging.Handler
    if file is not None:
        path = Path(file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else KstFormatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter())
    setattr(handler, _MARK, True)
    logger = logging.getLogger(LOGGER_NAME)
    _remove_installed(logger)
    logger.addHandler(handler)
    logger.setLevel(resolved)
    return handler


def unconfigure() -> None:
    """Remove (and close) the handler :func:`configure` installed; reset the level."""
    logger = logging.getLogger(LOGGER_NAME)
    _remove_installed(logger)
    logger.setLevel(logging.NOTSET)


def install_null_handler() -> None:
    """Give the package logger a NullHandler (once), as libraries should."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
