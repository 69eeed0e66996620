"""StatsManager's files: JSON Lines, JSON and CSV writers, gzip, rotation and the autosave thread.

:meth:`StatsManager.save <kisresearch.observe.stats.StatsManager.save>`, ``autosave`` and
``stop_autosave`` are thin methods that import this module on first use, so a run that never
saves never loads it (nor csv, gzip or atexit). The functions here take the manager: its views
(``summary()``, the per-second rows) are the only data written, and the state a save needs
between calls (the save lock, what each JSON Lines file already holds, the autosave thread) lives
on the manager, so two managers never share it. Failures are logged on the
``kisresearch.stats`` logger, like the manager's own warnings.
"""

from __future__ import annotations

import atexit
import csv
import gzip
import io
import json
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .stats import FRAME_COLUMNS, SCHEMA_VERSION, SUMMARY_FIELDS, _iso, logger

if TYPE_CHECKING:
    from .stats import StatsManager

__all__ = ["autosave", "save", "stop_autosave"]


# ------------------------------------------------------------------------------ save
def save(
    stats: StatsManager,
    path: str | os.PathLike[str],
    format: str = "jsonl",
    *,
    compress: bool | None = None,
    rotate_bytes: int | None = None,
    keep: int = 5,
) -> Path:
    """See :meth:`StatsManager.save <kisresearch.observe.stats.StatsManager.save>`."""
    if format not in ("jsonl", "json", "csv"):
        raise ConfigError(f"format must be 'jsonl', 'json' or 'csv', got {format!r}")
    target = Path(path).expanduser()
    if compress is None:
        compress = target.name.endswith(".gz")
    elif compress and not target.name.endswith(".gz"):
        target = target.with_name(target.name + ".gz")
    with stats._save_lock:
        target.parent.mkdir(parents=True, exist_ok=True)
        if rotate_bytes is not None and target.exists() and target.stat().st_size > rotate_bytes:
            _rotate(target, keep)
        if format == "jsonl":
            _save_jsonl(stats, target, compress)
        else:
            text = _json_text(stats) if format == "json" else _csv_text(stats)
            data = text.encode()
            _write_atomic(target, gzip.compress(data, mtime=0) if compress else data)
    return target


def _save_jsonl(stats: StatsManager, target: Path, compress: bool) -> None:
    key = target.resolve()
    complete = int(stats._clock.now()) - 1
    mark = stats._jsonl_marks.get(key, -1)
    rows = [r for r in stats._seconds() if mark < r["time"] <= complete]
    if not rows:
        if not target.exists():
            target.touch()
        return
    text = "".join(json.dumps(_export_row(r, schema=True), allow_nan=False) + "\n" for r in rows)
    data = gzip.compress(text.encode(), mtime=0) if compress else text.encode()
    with open(target, "ab") as fh:
        fh.write(data)
    stats._jsonl_marks[key] = rows[-1]["time"]


def _json_text(stats: StatsManager) -> str:
    summary = stats.summary()
    doc = {
        "schema": SCHEMA_VERSION,
        "summary": _json_safe({k: summary[k] for k in SUMMARY_FIELDS}),
        "seconds": [_export_row(r) for r in stats._seconds()],
    }
    return json.dumps(doc, allow_nan=False, ensure_ascii=False, indent=1) + "\n"


def _csv_text(stats: StatsManager) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("time", *FRAME_COLUMNS))
    for r in stats._seconds():
        row = _export_row(r)
        writer.writerow(["" if row[c] is None else row[c] for c in ("time", *FRAME_COLUMNS)])
    return buf.getvalue()


# -------------------------------------------------------------------------- autosave
def autosave(
    stats: StatsManager, path: str | os.PathLike[str], every: float, save_kwargs: dict[str, Any]
) -> None:
    """See :meth:`StatsManager.autosave <kisresearch.observe.stats.StatsManager.autosave>`."""
    if not every > 0:
        raise ConfigError(f"every must be a positive number of seconds, got {every!r}")
    stats.stop_autosave()
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            _autosave_once(stats, path, save_kwargs)
        _autosave_once(stats, path, save_kwargs)

    thread = threading.Thread(target=run, name="kisresearch-stats-autosave", daemon=True)
    stats._autosave = (thread, stop)
    atexit.register(stats.stop_autosave)
    thread.start()


def _autosave_once(
    stats: StatsManager, path: str | os.PathLike[str], kwargs: dict[str, Any]
) -> None:
    try:
        stats.save(path, **kwargs)
    except (OSError, ValueError) as exc:
        logger.warning("kisresearch: stats autosave to %s failed: %s", path, exc)


def stop_autosave(stats: StatsManager) -> None:
    """See :meth:`StatsManager.stop_autosave
    <kisresearch.observe.stats.StatsManager.stop_autosave>`."""
    running, stats._autosave = stats._autosave, None
    if running is None:
        return
    thread, stop = running
    stop.set()
    if thread is not threading.current_thread():
        thread.join()
    atexit.unregister(stats.stop_autosave)


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


def _export_row(row: dict[str, Any], *, schema: bool = False) -> dict[str, Any]:
    """Only the documented fields, in order; ``time`` as ISO 8601 KST."""
    out: dict[str, Any] = {"schema": SCHEMA_VERSION} if schema else {}
    out["time"] = _iso(row["time"])
    out.update((c, _json_safe(row[c])) for c in FRAME_COLUMNS)
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
