"""The database-neutral view of one hit that the hooks see, and the one way to build it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

ClientHit = TypeVar("ClientHit")


@dataclass
class Candidate:
    """One hit from the database, with the scores vecrank gives it.

    ``position`` is its 0-based rank in the database order; ``hit`` is the client's own
    object, handed back to the caller in the new order.
    """

    id: Any
    payload: Mapping[str, Any]
    vector_score: float | None
    position: int
    hit: Any = None
    text: str | None = None
    raw_score: float | None = None
    score: float | None = None


def to_candidates(
    hits: Iterable[ClientHit],
    id_of: Callable[[ClientHit], Any],
    payload_of: Callable[[ClientHit], Mapping[str, Any]],
    vector_score_of: Callable[[ClientHit], float | None],
) -> list[Candidate]:
    """One candidate per hit, in the database's order (``position`` 0, 1, ...), each keeping its hit."""
    return [
        Candidate(
            id=id_of(hit), payload=payload_of(hit), vector_score=vector_score_of(hit), position=i, hit=hit
        )
        for i, hit in enumerate(hits)
    ]
