"""Cascades: each stage scores only the hits the stage before kept, so a big model reads the best few.

A one-model reranker is a cascade of one stage. The final order is the last stage's
scores for the hits that reached it, then the hits each earlier stage dropped, in that
stage's order (latest stage first); ties keep the order the hits came in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .pairs import Pair

ScoreFn = Callable[[list[Pair]], Sequence[float]]


@dataclass(frozen=True)
class Staged:
    """The last stage (0-based) that scored a text, and the score it gave."""

    stage: int
    score: float


def run_cascade(
    queries: Sequence[str], texts: Sequence[Sequence[str]], stages: Sequence[tuple[ScoreFn, int | None]]
) -> list[list[Staged]]:
    """For each query's texts, the last stage that scored each one and its score there.

    ``stages`` are (score function, keep) pairs; a stage scores every query's remaining
    pairs in one call and passes each query's ``keep`` best on (None: the last stage).
    """
    results: list[list[Staged | None]] = [[None] * len(group) for group in texts]
    remaining = [list(range(len(group))) for group in texts]
    for number, (score, keep) in enumerate(stages):
        pairs = [(queries[q], texts[q][i]) for q, indices in enumerate(remaining) for i in indices]
        scores = score(pairs) if pairs else []
        position = 0
        for q, indices in enumerate(remaining):
            for i in indices:
                results[q][i] = Staged(number, float(scores[position]))
                position += 1
        if keep is None:
            break
        remaining = [order(results[q], indices)[:keep] for q, indices in enumerate(remaining)]
    return results  # type: ignore[return-value]


def order(staged: Sequence[Staged | None], indices: Sequence[int] | None = None) -> list[int]:
    """``indices`` (default: all) best first: later stage first, then higher score, then input order."""
    chosen = range(len(staged)) if indices is None else indices
    return sorted(chosen, key=lambda i: (-staged[i].stage, -staged[i].score, i))
