"""Input checks that run before any request: each bad value is named in the error."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import ConfigError

_SYMBOL = re.compile(r"^[0-9A-Z]{6}$")


def symbols(value: object, *, what: str = "symbol") -> list[str]:
    """Normalise one symbol or an iterable of symbols to a list of unique six-character codes.

    Accepts a str, list, tuple, set, pandas Series or Index. Order is kept (a set is sorted),
    duplicates collapse, letters are upper-cased. Anything else raises before any request:
    ``TypeError`` for a value that is not a string, ``ValueError`` (ConfigError) listing the
    malformed codes.
    """
    if isinstance(value, str):
        items: Iterable[object] = [value]
    elif isinstance(value, (set, frozenset)):
        items = sorted(value, key=str)
    elif value is None or isinstance(value, (bytes, int, float)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{what}s must be a str or a list/Series of str, not {value!r}")
    else:
        items = list(value)  # type: ignore[call-overload]
    out: dict[str, None] = {}
    bad: list[str] = []
    for item in items:
        if not isinstance(item, str):
            hint = ""
            if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < 10**6:
                hint = f" (codes are text: {item} -> {item:06d}; read them with dtype=str)"
            raise TypeError(f"{what} {item!r} is a {type(item).__name__}, not a str{hint}")
        code = item.strip().upper()
        if _SYMBOL.match(code):
            out[code] = None
        else:
            bad.append(repr(item))
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise ConfigError(f"malformed {what}{'s' if len(bad) > 1 else ''} {shown}: "
                          "expected six letters or digits such as '005930'")
    if not out:
        raise ConfigError(f"no {what}s given")
    return list(out)
