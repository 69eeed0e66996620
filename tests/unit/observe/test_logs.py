"""logs: configure, JSON lines, level from KIS_LOG_LEVEL, redaction everywhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from kisresearch.errors import ConfigError
from kisresearch.observe import logs
from kisresearch.observe.logs import (
    LOGGER_NAME,
    JsonFormatter,
    RedactingFilter,
    configure,
    install_null_handler,
    redact,
    register_secret,
    unconfigure,
)
from kisresearch.observe.stats import StatsManager

# Fake secrets, shaped like the real ones.
APP_KEY = "PSfakeAppKey1234567890abcdefGHIJ"
APP_SECRET = "fakeSecret/+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789=="
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ0b2tlbiJ9.c2lnbmF0dXJlLWZha2U"
ACCOUNT = "87654321"
SECRETS = (APP_KEY, APP_SECRET, JWT, ACCOUNT)

log = logging.getLogger(f"{LOGGER_NAME}.test")


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("KIS_LOG_LEVEL", raising=False)
    yield
    unconfigure()
    logs._SECRETS.clear()


def lines(buf: io.StringIO) -> list[str]:
    return buf.getvalue().splitlines()


# ------------------------------------------------------------------ configure
def test_text_output_and_level_default(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    handler = configure(stream=buf)
    assert logging.getLogger(LOGGER_NAME).level == logging.INFO
    log.debug("hidden")
    log.info("shown %d", 1)
    [line] = lines(buf)
    assert line.endswith("INFO kisresearch.test: shown 1")
    assert any(isinstance(f, RedactingFilter) for f in handler.filters)


def test_level_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIS_LOG_LEVEL", "debug")
    configure(stream=io.StringIO())
    assert logging.getLogger(LOGGER_NAME).level == logging.DEBUG
    configure("ERROR", stream=io.StringIO())  # an explicit level wins
    assert logging.getLogger(LOGGER_NAME).level == logging.ERROR
    configure(15, stream=io.StringIO())
    assert logging.getLogger(LOGGER_NAME).level == 15
    monkeypatch.setenv("KIS_LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match="chatty"):
        configure()


def test_configure_is_idempotent(tmp_path: Path) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    before = list(logger.handlers)
    first = configure(file=tmp_path / "a.log")
    second = configure(file=tmp_path / "b.log")
    third = configure(stream=io.StringIO())
    added = [h for h in logger.handlers if h not in before]
    assert added == [third]
    assert first is not second
    assert isinstance(first, logging.FileHandler) and first.stream is None  # closed
    assert isinstance(second, logging.FileHandler) and second.stream is None
    unconfigure()
    assert logger.handlers == before and logger.level == logging.NOTSET


def test_install_null_handler_once() -> None:
    logger = logging.getLogger(LOGGER_NAME)
    install_null_handler()
    install_null_handler()
    nulls = [h for h in logger.handlers if isinstance(h, logging.NullHandler)]
    assert len(nulls) == 1


# ----------------------------------------------------------------------- json
def test_json_lines_with_stable_keys() -> None:
    buf = io.StringIO()
    configure("DEBUG", json=True, stream=buf)
    log.info("fetched %s rows", 30, extra={"endpoint": "quote", "n": 30, "ratio": float("nan")})
    log.warning("clash", extra={"level_hint": 1, "path": Path("/x")})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    first, second, third = (json.loads(line) for line in lines(buf))
    assert list(first) == ["time", "level", "logger", "message", "endpoint", "n", "ratio"]
    assert first["message"] == "fetched 30 rows" and first["level"] == "INFO"
    assert first["logger"] == "kisresearch.test" and first["n"] == 30
    assert first["ratio"] == "nan"  # JSON-safe
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second["path"] == "/x"
    assert list(third)[:4] == ["time", "level", "logger", "message"]
    assert third["level"] == "ERROR" and "RuntimeError: boom" in third["exc"]


def test_json_formatter_keeps_fixed_keys() -> None:
    record = logging.LogRecord("kisresearch.x", logging.INFO, __file__, 1, "m", None, None)
    record.logger = "impostor"
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == "kisresearch.x" and line["extra_logger"] == "impostor"


# ------------------------------------------------------------------ redaction
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"authorization: Bearer {JWT}", "authorization: ***"),
        (f"sending with Bearer {APP_SECRET} now", "sending with Bearer *** now"),
        (f"token is {JWT}.", "token is ***."),
        (f"GET /x?appkey={APP_KEY}&FID=005930", "GET /x?appkey=***&FID=005930"),
        (f"app_secret = {APP_SECRET}", "app_secret = ***"),
        (f'{{"appkey": "{APP_KEY}", "custtype": "P"}}', '{"appkey": "***", "custtype": "P"}'),
        (f"{{'CANO': '{ACCOUNT}', 'ACNT_PRDT_CD': '01'}}", "{'CANO': '***', 'ACNT_PRDT_CD': '01'}"),
        (f"account: {ACCOUNT}-01", "account: ***"),
        (f'{{"secretkey":"{APP_SECRET}"}}', '{"secretkey":"***"}'),
        (f'{{"access_token": "{JWT}", "token_type": "Bearer"}}', None),
        ("tokens_issued=3 token_type=Bearer msg_cd=EGW00201", None),
    ],
)
def test_redact_patterns(text: str, expected: str | None) -> None:
    out = redact(text)
    if expected is not None:
        assert out == expected
    for secret in SECRETS:
        assert secret not in out
    if "tokens_issued" in text:
        assert out == text  # nothing secret: untouched


def test_registered_secrets() -> None:
    register_secret(APP_KEY)
    register_secret("")  # ignored
    register_secret("ab")  # too short to register
    register_secret(None)
    assert redact(f"key {APP_KEY} then {APP_KEY[:10]}") == f"key *** then {APP_KEY[:10]}"
    assert redact("ab cd") == "ab cd"
    assert APP_KEY not in repr(logs._SECRETS) and repr(logs._SECRETS) == "<1 registered secrets>"


def test_redaction_in_messages_args_extras_and_tracebacks(caplog) -> None:
    register_secret(ACCOUNT)  # as the client does; the secret and the token are left to
    register_secret(APP_KEY)  # the patterns (Bearer, JWT, key names)
    buf = io.StringIO()
    configure("DEBUG", json=True, stream=buf)
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    headers = {"authorization": f"Bearer {JWT}", "appkey": APP_KEY, "tr_id": "FHKST01010100"}
    log.debug("request headers %s", headers)
    log.info("body %r", {"appsecret": APP_SECRET, "grant_type": "client_credentials"})
    log.info(f"account {ACCOUNT} balance")
    log.info(
        "extras",
        extra={
            "headers": headers,
            "token": JWT,
            "params": [f"CANO={ACCOUNT}", "FID=005930"],
            "note": f"used {APP_KEY}",
        },
    )
    try:
        raise ValueError(f"bad appsecret={APP_SECRET}")
    except ValueError:
        log.exception("issuing failed for %s", APP_KEY)
    output = buf.getvalue()
    seen_by_root = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    for secret in SECRETS:
        assert secret not in output
        assert secret not in seen_by_root  # records are redacted in place, upstream too
    records = [json.loads(line) for line in lines(buf)]
    assert "'tr_id': 'FHKST01010100'" in records[0]["message"]
    assert records[3]["headers"] == {
        "authorization": "***",
        "appkey": "***",
        "tr_id": "FHKST01010100",
    }
    assert records[3]["token"] == "***" and records[3]["params"] == ["CANO=***", "FID=005930"]
    assert records[3]["note"] == "used ***"
    assert "ValueError: bad appsecret=***" in records[4]["exc"]


def test_unformattable_args_are_kept_redacted() -> None:
    buf = io.StringIO()
    configure(stream=buf)
    log.info("two %s %s", f"appkey={APP_KEY}")
    assert APP_KEY not in buf.getvalue() and "unformattable" in buf.getvalue()


def test_no_secret_reaches_log_file_or_stats_export(tmp_path: Path, clock) -> None:
    for value in (APP_KEY, APP_SECRET, JWT, ACCOUNT):
        register_secret(value)
    log_path = tmp_path / "logs" / "kis.log"
    configure("DEBUG", json=True, file=log_path)
    stats = StatsManager(clock=clock)
    for i in range(20):
        stats.record_attempt("quotations/inquire-price", "FHKST01010100", 0.0, 0.03, "ok")
        log.debug(
            "call %d headers=%s", i, {"appkey": APP_KEY, "appsecret": APP_SECRET}, extra={"t": JWT}
        )
        log.info(f"Authorization: Bearer {JWT} account={ACCOUNT}")
        clock.advance(0.5)
    stats.record_token()
    unconfigure()  # flush and close the file
    exports = [stats.save(tmp_path / f"stats.{fmt}", format=fmt) for fmt in ("json", "csv")]
    exports.append(stats.save(tmp_path / "stats.jsonl"))
    for path in (log_path, *exports):
        text = path.read_text(encoding="utf-8")
        assert text, path
        for secret in SECRETS:
            assert secret not in text, (path, secret)
    assert len(log_path.read_text().splitlines()) == 40
