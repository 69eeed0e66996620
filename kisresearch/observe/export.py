"""StatsManager's files: JSON Lines, JSON and CSV writers, gzip, rotation and the autosave thread.

Everything here works on a :class:`Snapshot` (the manager's summary and per-second rows, taken
at one instant by :meth:`StatsManager.snapshot <kisresearch.observe.stats.StatsManager.snapshot>`),
never on the manager itself, so this module does not import it. The state a save needs between
calls (the save lock, what each JSON Lines file already holds, the autosave thread) stays on the
manager, so two managers never share it. :meth:`StatsManager.save` imports this module on first
use, so a run that never saves never loads it (nor csv, gzip or atexit). Failures are logged on
the ``kisresearch.stats`` logger, like the manager's own warnings.
"""

from __future__ import annotations

import atexit
import csv
import gzip
import io
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..timebase import iso_kst

__all__ = ["Autosave", "Snapshot", "save"]

logger = logging.getLogger("kisresearch.stats")


@dataclass(frozen=True)
class Snapshot:
    """What a save writes: the summary's documented fields, one row per second (``time`` in
    epoch seconds plus ``columns``), and the latest complete second."""

    schema: int
    summary: Mapping[str, Any]
    columns: tuple[str, ...]
    seconds: Sequence[Mapping[str, Any]]
    complete: int


# ------------------------------------------------------------------------------ save
def save(
    snapshot: Snapshot,
    path: str | os.PathLike[str],
    format: str = "jsonl",
    *,
    compress: bool | None = None,
    rotate_bytes: int | None = None,
    keep: int = 5,
    marks: dict[Path, int] | None = None,
) -> Path:
    """See :meth:`StatsManager.save <kisresearch.observe.stats.StatsManager.save>`.

    ``marks`` maps a JSON Lines file to the last second already appended to it by the caller;
    appending updates it. Returns the path written.
    """
    if format not in ("jsonl", "json", "csv"):
        raise ConfigError(f"format must be 'jsonl', 'json' or 'csv', got {format!r}")
    target = Path(path).expanduser()
    if compress is None:
        compress = target.name.endswith(".gz")
    elif compress and not target.name.endswith(".gz"):
        target = target.with_name(target.name + ".gz")
    target.parent.mkdir(parents=True, exist_ok=True)
    if rotate_bytes is not None and target.exists() and target.stat().st_size > rotate_bytes:
        _rotate(target, keep)
    if format == "jsonl":
        marks = {} if marks is None else marks
        key = target.resolve()
        marks[key] = _save_jsonl(snapshot, target, compress, marks.get(key, -1))
        return target
    text = _json_text(snapshot) if format == "json" else _csv_text(snapshot)
    data = text.encode()
    _write_atomic(target, gzip.compress(data, mtime=0) if compress else data)
    return target


def _save_jsonl(snapshot: Snapshot, target: Path, compress: bool, written: int) -> int:
    rows = [r for r in snapshot.seconds if written < r["time"] <= snapshot.complete]
    if not rows:
        if not target.exists():
            target.touch()
        return written
    text = "".join(
        json.dumps(_export_row(snapshot, r, schema=True), allow_nan=False) + "\n" for r in rows
    )
    data = gzip.compress(text.encode(), mtime=0) if compress else text.encode()
    if not compress:
        _cut_torn_line(target)
    with open(target, "ab") as fh:
        fh.write(data)
    return int(rows[-1]["time"])


def _cut_torn_line(path: Path) -> None:
    """Drop a last line without its newline (a write cut short: a kill, a full disk), so that
    what is appended starts a line of its own and the file stays readable line by line."""
    try:
        with open(path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if not size:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            start = max(0, size - (1 << 20))
            fh.seek(start)
            tail = fh.read()
            cut = start + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
            fh.truncate(cut)
    except FileNotFoundError:
        return
    logger.warning("stats export %s ended in a torn line (%d bytes); dropped it before appending",
                   path, size - cut)  # fmt: skip


def _json_text(snapshot: Snapshot) -> str:
    doc = {
        "schema": snapshot.schema,
        "summary": _json_safe(dict(snapshot.summary)),
        "seconds": [_export_row(snapshot, r) for r in snapshot.seconds],
    }
    return json.dumps(doc, allow_nan=False, ensure_ascii=False, indent=1) + "\n"


def _csv_text(snapshot: Snapshot) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ("time", *snapshot.columns)
    writer.writerow(header)
    for r in snapshot.seconds:
        row = _export_row(snapshot, r)
        writer.writerow(["" if row[c] is None else row[c] for c in header])
    return buf.getvalue()


# -------------------------------------------------------------------------- autosave
class Autosave:
    """Calls ``save()`` every ``every`` seconds (real time) from a daemon thread, and once more
    when stopped (also at interpreter exit). Failures are logged, not raised."""

    def __init__(self, save: Callable[[], object], path: object, every: float) -> None:
        if not every > 0:
            raise ConfigError(f"every must be a positive number of seconds, got {every!r}")
        self._save, self._path, self._every = save, path, every
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="kisresearch-stats-autosave", daemon=True
        )

    def start(self) -> None:
        atexit.register(self.stop)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._once()
        self._once()

    def _once(self) -> None:
        try:
            self._save()
        except (OSError, ValueError) as exc:
            logger.warning("kisresearch: stats autosave to %s failed: %s", self._path, exc)

    def stop(self) -> None:
        """Save a last time and wait for the thread (unless called from it)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        atexit.unregister(self.stop)


# ---------------------------------------------------------------------- helpers (pure)
def _json_safe(value: Any) -> Any:
    """NaN/inf -> None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _export_row(
    snapshot: Snapshot, row: Mapping[str, Any], *, schema: bool = False
) -> dict[str, Any]:
    """Only the documented fields, in order; ``time`` as ISO 8601 KST."""
    out: dict[str, Any] = {"schema": snapshot.schema} if schema else {}
    out["time"] = iso_kst(row["time"])
    out.update((c, _json_safe(row[c])) for c in snapshot.columns)
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _rotate(path: Path, keep: int) -> None:
    """path -> path.1 -> ... -> path.<keep>; the oldest beyond ``keep`` is dropped."""
    if keep < 1:
        path.unlink()
        return
    for i in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{i}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{i + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))
