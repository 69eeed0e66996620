"""What the method areas may use of the client, and the helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import APIError
from ..pipeline.batch import Outcome
from ..pipeline.cache import ResponseCache
from ..pipeline.flow import Fetched, Pipeline
from ..shape.frames import Block, Col, Piece, Row, block
from ..store import BarStore


class Client(Protocol):
    """What a method area may use of the client (:class:`~kisresearch.client.KIS` provides it):
    a few settings and the :class:`~kisresearch.pipeline.flow.Pipeline`, all public."""

    env: str
    namespace: str
    master_url: str
    cache: ResponseCache | None
    store: BarStore | None
    pipeline: Pipeline


def describe(exc: BaseException | None) -> str:
    """The text of a frame's ``error`` cell: the error's kind and KIS message."""
    if exc is None:
        return ""
    if isinstance(exc, APIError):
        return f"{exc.msg_cd}: {exc.msg1}"
    return f"{type(exc).__name__}: {exc}"


Rows = Callable[[Any, Fetched], list[Row]]  # (item, page) -> its data rows

NO_ANSWER = "no data: KIS returned nothing for this code (unknown?)"


@dataclass
class OneEach:
    """Per-item outcomes of one call each, as the columns of :func:`frames.by_symbol`."""

    rows: list[Row | None]
    errors: list[str | None]
    from_cache: list[bool]
    fetched_at: list[float | None]
    answers: list[Fetched]


def one_each(
    outcomes: Sequence[Outcome[Any, Any]], extract: Callable[[Fetched], Row | None]
) -> OneEach:
    """``extract`` the row from each answer; a failed item, or an answer without a row
    (``extract`` returns None), gets an error instead."""
    out = OneEach([], [], [], [], [])
    for outcome in outcomes:
        got = outcome.value
        row = extract(got) if outcome.error is None and isinstance(got, Fetched) else None
        if isinstance(got, Fetched):
            out.answers.append(got)
        if row is None or not isinstance(got, Fetched):
            out.rows.append(None)
            out.errors.append(describe(outcome.error) if outcome.error else NO_ANSWER)
            out.from_cache.append(False)
            out.fetched_at.append(None)
        else:
            out.rows.append(row)
            out.errors.append(None)
            out.from_cache.append(got.from_cache)
            out.fetched_at.append(got.fetched_at)
    return out


def shaped(item: Any, pages: Sequence[Fetched], rows: Rows, columns: Sequence[Col]) -> Block:
    """``item``'s ``pages`` (newest first) as a :class:`~kisresearch.shape.frames.Block` of
    ``columns``: a batch item keeps its rows so (typed, a few bytes a value), and the pages'
    JSON goes, so that a pull holds about its result's size."""
    name = str(item)
    return block([Piece(name, rows(item, p), p.from_cache, p.fetched_at) for p in pages], columns)


def shaping(
    fetch: Callable[[Any], Sequence[Fetched]], rows: Rows, columns: Sequence[Col]
) -> Callable[[Any], Block]:
    """A batch item that fetches an item's pages and keeps them :func:`shaped`."""
    return lambda item: shaped(item, fetch(item), rows, columns)


def pieces(
    outcomes: Sequence[Outcome[Any, Any]],
    empty: Callable[[Any], str],
    held: Mapping[str, int] | None = None,
) -> tuple[list[Piece | Block], list[Fetched]]:
    """Per-symbol outcomes whose value is a :class:`Block` (see :func:`shaping`) -> frame
    pieces and the answers (their bodies dropped).

    A failed item is one error piece; an item without rows (fresh, or ``held`` in the bar store)
    is one error piece saying ``empty(item)``.
    """
    out: list[Piece | Block] = []
    fetched: list[Fetched] = []
    for outcome in outcomes:
        name = str(outcome.item)
        got = outcome.value
        if outcome.error is not None or not isinstance(got, Block):
            out.append(Piece(name, error=describe(outcome.error) or NO_ANSWER))
            continue
        fetched += [Fetched({}, p.from_cache, p.fetched_at or 0.0) for p, _ in got.runs]
        out.append(got)
        if not len(got) and not (held or {}).get(name):
            out.append(Piece(name, error=empty(outcome.item)))
    return out, fetched
