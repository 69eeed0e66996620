"""The cache's database on disk: JSON-only rows, owner-only files, corrupt databases moved aside.

:class:`~kisresearch.pipeline.cache.ResponseCache` decides what to store and for how long; this
module decides how it lies on disk. Values are JSON (zlib above ``compress_threshold``) stored
inside the database, never pickle: diskcache's stock ``Disk`` unpickles what it reads, so a
tampered row could run code. :class:`JSONDisk` raises :class:`UnsafeRow` for rows this toolkit
did not write (pickle, file-backed or raw values); the cache logs, deletes and treats them as a
miss.

The folder is 0700 and ``cache.db`` with SQLite's ``-wal``/``-shm`` files 0600, whatever the
umask. A database SQLite cannot read is renamed ``cache.db.corrupt-<time>`` (with its ``-wal``
and ``-shm``) so a fresh one can start; the cache decides when.

Warnings are logged on the ``kisresearch.pipeline.cache`` logger.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Any

import diskcache
import orjson

from ...config import owner_only
from ...errors import UnsafeRow

__all__ = [
    "DBNAME",
    "SQLITE_TIMEOUT",
    "JSONDisk",
    "UnsafeRow",
    "create_db",
    "is_corrupt",
    "open_db",
    "quarantine",
    "read_many",
]

log = logging.getLogger("kisresearch.cache")

DBNAME = "cache.db"
SQLITE_TIMEOUT = 10.0  # seconds a write waits for another process's transaction
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_PLAIN, _ZLIB = b"kj1:", b"kz1:"  # our value encodings; anything else is not ours


class JSONDisk(diskcache.Disk):
    """diskcache ``Disk`` that reads and writes only string keys and tagged JSON bytes."""

    compress_threshold = 16_384  # replaced per cache: a Disk setting would be persisted in
    # the Settings table and break stock diskcache readers of the folder

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys are strings, not {type(key).__name__}")
        return key, True

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:  # a pickled key: only a foreign writer makes these
            raise UnsafeRow("pickled key")
        return key

    def store(self, value: Any, read: bool, key: Any = None) -> tuple[int, int, None, Any]:
        if read:
            raise TypeError("file values are not supported")
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        big = len(data) > self.compress_threshold
        data = _ZLIB + zlib.compress(data) if big else _PLAIN + data
        return 0, diskcache.core.MODE_RAW, None, sqlite3.Binary(data)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        # Never defer to Disk.fetch: it unpickles MODE_PICKLE rows.
        if read or mode != diskcache.core.MODE_RAW or filename or type(value) is not bytes:
            raise UnsafeRow(f"mode={mode}, file={bool(filename)}, type={type(value).__name__}")
        try:
            if value.startswith(_PLAIN):  # orjson: 2.5 times json's speed on KIS's answers
                return orjson.loads(value[len(_PLAIN) :])
            if value.startswith(_ZLIB):
                return orjson.loads(zlib.decompress(value[len(_ZLIB) :]))
        except (ValueError, zlib.error) as exc:
            raise UnsafeRow(f"undecodable value: {exc}") from None
        raise UnsafeRow("unknown value encoding")

    def remove(self, file_path: str) -> None:
        # We never write value files; a tampered row's filename must not delete files elsewhere.
        root = os.path.realpath(self._directory)
        full = os.path.realpath(os.path.join(root, file_path))
        if os.path.commonpath([root, full]) == root and full.endswith(".val"):
            super().remove(file_path)
        else:
            log.warning("ignored a cache row naming a file outside the cache: %r", file_path)


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the database itself is unreadable (not merely busy or locked)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _CORRUPT_CODES
    return "not a database" in str(exc) or "malformed" in str(exc)


def create_db(folder: Path) -> int:
    """Create ``cache.db`` if missing, owner-only; returns its inode.

    Called before :func:`open_db`, so that if opening fails, :func:`quarantine` can tell the
    file it failed on from one another process has put in its place since.
    """
    db = folder / DBNAME
    # Pre-create owner-only: SQLite gives its -wal/-shm files the database file's mode.
    os.close(os.open(db, os.O_RDWR | os.O_CREAT, 0o600))
    return db.stat().st_ino


def open_db(folder: Path, *, size_limit: int, eviction: str, compress_threshold: int) -> Any:
    """A diskcache ``Cache`` on ``folder`` with :class:`JSONDisk`; its files made 0600."""
    cache = diskcache.Cache(
        str(folder),
        timeout=SQLITE_TIMEOUT,
        disk=JSONDisk,
        size_limit=size_limit,
        eviction_policy=eviction,
        tag_index=True,
        statistics=False,
    )
    cache.disk.compress_threshold = compress_threshold
    for path in folder.glob(f"{DBNAME}*"):
        with contextlib.suppress(OSError):
            owner_only(path, 0o600)
    return cache


_TOUCH = {  # what diskcache's get updates for each eviction policy
    "least-recently-used": "access_time = :now",
    "least-frequently-used": "access_count = access_count + 1",
}
_CHUNK = 500  # keys per statement, well under SQLite's limit on bound variables


def read_many(
    folder: Path, keys: list[str], now: float
) -> list[tuple[int, str, int, str | None, Any]]:
    """``(rowid, key, mode, filename, value)`` of every unexpired row among ``keys``, in one
    read per 500 keys (``now`` on diskcache's ``time.time()``). The values are decoded by
    :meth:`JSONDisk.fetch`; :func:`note_reads` notes the reads for the eviction policy."""
    con = sqlite3.connect(folder / DBNAME, timeout=SQLITE_TIMEOUT, isolation_level=None)
    try:
        found = []
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            named = {f"k{j}": key for j, key in enumerate(chunk)}
            found += con.execute(
                "SELECT rowid, key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN"
                f" ({','.join(':' + k for k in named)})"
                " AND (expire_time IS NULL OR expire_time > :now)",
                {**named, "now": now},
            ).fetchall()
        return found
    finally:
        con.close()


def note_reads(folder: Path, rowids: list[int], now: float, eviction: str) -> None:
    """Note reads of ``rowids`` as diskcache's own ``get`` does for ``eviction``: a write,
    usually 1-2 ms, now and then 15 (a WAL checkpoint), so readers run it off their path."""
    touch = _TOUCH.get(eviction)
    if not rowids or touch is None:
        return
    con = sqlite3.connect(folder / DBNAME, timeout=SQLITE_TIMEOUT, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous = NORMAL")  # as diskcache's own connections
        for i in range(0, len(rowids), _CHUNK):
            ids = {f"r{j}": r for j, r in enumerate(rowids[i : i + _CHUNK])}
            con.execute(
                f"UPDATE Cache SET {touch} WHERE rowid IN ({','.join(':' + r for r in ids)})",
                {**ids, "now": now},
            )
    finally:
        con.close()


def quarantine(folder: Path, ino: int, now: float, reason: BaseException) -> None:
    """Move ``cache.db`` (inode ``ino``) and its -wal/-shm aside, stamped with ``now``."""
    db = folder / DBNAME
    with contextlib.suppress(OSError):
        if db.stat().st_ino != ino:
            return  # another process already replaced it
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    target, n = db.with_name(f"{DBNAME}.corrupt-{stamp}"), 0
    while target.exists():
        n += 1
        target = db.with_name(f"{DBNAME}.corrupt-{stamp}-{n}")
    log.warning(
        "cache database %s is unreadable (%s); moved it aside to %s, starting fresh",
        db,
        reason,
        target.name,
    )
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{db}{suffix}", f"{target}{suffix}")
