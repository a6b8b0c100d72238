"""The database-neutral view of one hit that the hooks see."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
    extra: dict[str, Any] = field(default_factory=dict)
