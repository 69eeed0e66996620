"""Settings from arguments and ``KIS_*`` environment variables, and the toolkit folder.

The toolkit folder (``KIS_HOME``, default ``$XDG_CACHE_HOME/kisresearch`` or
``~/.cache/kisresearch``) is created owner-only (0700). It holds the token file, the limiter's
shared state and, by default, the response cache. Where the system has no POSIX file modes
(Windows), the folder's access control list protects it instead (said once, at INFO).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import logging
import math
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from .errors import ConfigError

log = logging.getLogger(__name__)

ENVIRONMENTS = {
    "real": "https://openapi.koreainvestment.com:9443",
    "paper": "https://openapivts.koreainvestment.com:29443",
}
RATE_BY_ENV = {"real": 20.0, "paper": 2.0}


# Every variable the toolkit reads (a test checks the package names no other).
VARIABLES = frozenset(
    ("KIS_ACCOUNT KIS_ADAPTIVE KIS_APP_KEY KIS_APP_SECRET KIS_BASE_URL KIS_ENV KIS_HOME "  # noqa: SIM905
     "KIS_JITTER_ALLOWANCE KIS_KEYS KIS_LIMITER KIS_LIMITER_DIR KIS_LOG_LEVEL KIS_MASTER_URL "
     "KIS_MIN_INTERVAL KIS_PROGRESS KIS_RATE_LIMIT KIS_RATE_MARGIN KIS_RETRY_ATTEMPTS "
     "KIS_RETRY_MAX_WAIT KIS_STORE KIS_WINDOW_LIMIT").split()
)  # fmt: skip
# Names other KIS clients use, or a person types, for ours (the keys compare squashed: upper
# case, no underscores)
_SYNONYMS = {
    "KISKEY": "KIS_APP_KEY",
    "KISSECRET": "KIS_APP_SECRET",
    "KISACCOUNTNO": "KIS_ACCOUNT",
    "KISACCOUNTNUMBER": "KIS_ACCOUNT",
    "KISACCNO": "KIS_ACCOUNT",
    "KISCANO": "KIS_ACCOUNT",
    "KISURL": "KIS_BASE_URL",
    "KISENVIRONMENT": "KIS_ENV",
    **{n.replace("_", ""): n for n in VARIABLES},  # kis_app_key, KISAPPKEY, Kis_AppKey...
}


def misspelt_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each variable of ``environ`` (default ``os.environ``) that is no setting of ours but
    looks like one (case, underscores, a synonym, a near spelling), with the one it likely
    means, e.g. ``{"kis_app_secret": "KIS_APP_SECRET"}``. Looks at names only."""
    found = {}
    for name in os.environ if environ is None else environ:
        squashed = name.upper().replace("_", "")
        if name in VARIABLES or not squashed.startswith("KIS"):
            continue
        meant = _SYNONYMS.get(squashed) or next(
            iter(difflib.get_close_matches(name.upper(), VARIABLES, n=1, cutoff=0.8)), None
        )
        if meant:
            found[name] = meant
    return found


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_float(name: str, default: float | None = None) -> float | None:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


Check = tuple[Callable[[Any], bool], str]  # (is the value acceptable?, what it must be)


def is_number(v: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def check_setting(
    kind: str, checks: Mapping[str, Check], label: str, name: str, value: Any
) -> None:
    """Raise ConfigError naming ``label`` and the value unless ``checks[name]`` accepts it."""
    ok, must = checks[name]
    if not ok(value):
        raise ConfigError(f"{kind} setting {label}={value!r} must be {must}")


def toolkit_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the toolkit folder, created owner-only; a bad path raises ConfigError."""
    if path is None:
        path = env_str("KIS_HOME")
    if path is None:
        base = env_str("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "kisresearch")
    return private_dir(path, "toolkit folder")


def private_dir(path: str | os.PathLike[str], what: str, access: int = os.W_OK) -> Path:
    """Create or check the folder ``path``, mode 0700 whatever the umask; :class:`ConfigError`
    naming it ``what`` if it is not a folder or lacks ``access`` (``os.access`` flags)."""
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {str(folder)!r} exists and is not a directory")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner_only(folder, 0o700)
    except OSError as exc:
        raise ConfigError(f"cannot use {what} {str(folder)!r}: {exc.strerror}") from None
    if not os.access(folder, access):
        raise ConfigError(f"{what} {str(folder)!r} is not writable")
    return folder


def create_private(path: Path) -> int:
    """Create (or truncate) ``path`` with mode 0600 and open it to write bytes: its descriptor.
    Binary on Windows too, where a descriptor would otherwise turn each ``\\n`` into ``\\r\\n``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, 0o600)


def write_private(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` atomically to ``path`` with mode 0600 (never readable by others);
    ``sync=False`` skips the fsync (enough to outlive the process, not the machine)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = create_private(tmp)
    try:
        try:
            os.write(fd, data)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


POSIX_MODES = os.name == "posix"  # Windows keeps only a read-only bit: the ACL protects files
NATIVE_LOCKS = sys.platform == "win32" or filelock.has_fcntl
LOCK_PAUSES = (0.0001, 0.005)  # seconds between tries of a held lock: first, longest


def owner_only(path: Path, mode: int) -> None:
    """Give ``path`` ``mode`` (0600 or 0700) whatever the umask; where the system has no POSIX
    modes, say once (INFO) that the user profile's access control list stands in for them."""
    if not POSIX_MODES:
        _no_modes()
    elif stat.S_IMODE(path.stat().st_mode) != mode:
        path.chmod(mode)


@functools.cache
def _no_modes() -> None:
    log.info("no POSIX file modes on this system: the toolkit's files are as private as the "
             "folders that hold them (on Windows, the user profile's access rights)")  # fmt: skip


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the owner-only file ``path`` (created if missing), shared by
    every thread and process of this machine that locks the same path.

    The lock is the system's own (``flock``; ``LockFileEx`` on Windows, through filelock) on a
    descriptor opened for this call alone, so threads and forked children exclude each other
    too; the system releases it if the process dies. A held lock is tried again
    after pauses doubling from 0.1 ms to 5 ms. A POSIX system without ``fcntl`` gets
    filelock's soft lock instead: ``<path>.soft``, created exclusively while held.
    """
    if not NATIVE_LOCKS:
        with filelock.SoftFileLock(f"{path}.soft", poll_interval=LOCK_PAUSES[1]):
            yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        pause = LOCK_PAUSES[0]
        while not filelock.lock_descriptor(fd, blocking=False):
            time.sleep(pause)
            pause = min(2 * pause, LOCK_PAUSES[1])
        try:
            yield
        finally:
            filelock.unlock_descriptor(fd)  # at once: Windows may free a closed file's late
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Credentials:
    """App key, secret and account. ``repr`` never shows them."""

    app_key: str
    app_secret: str
    account: str | None = None

    def __repr__(self) -> str:
        acct = ", account=***" if self.account else ""
        return f"Credentials(app_key=***{acct})"

    __str__ = __repr__

    def key_id(self, server: str) -> str:
        """A short, stable, non-reversible id for this app key on ``server`` (a base URL):
        names the token file and the limiter's state, so that neither mixes servers and
        neither file name reveals the key."""
        import hashlib

        return hashlib.sha256(f"{server.rstrip('/')}\n{self.app_key}".encode()).hexdigest()[:16]
