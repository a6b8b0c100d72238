"""Built-in plugin: score normalisation (``normalize = none | sigmoid | minmax``), applied first."""

from __future__ import annotations

import math

from ..hookspecs import hookimpl


def sigmoid(value: float) -> float:
    """Logistic function, safe for large magnitudes."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


def minmax(values: list[float]) -> list[float]:
    """Scale to 0..1; equal values all become 1.0."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [1.0] * len(values)
    return [(value - low) / (high - low) for value in values]


@hookimpl(tryfirst=True)
def vecrank_after_rerank(collection, query, candidates, config):
    if config.normalize == "sigmoid":
        for candidate in candidates:
            candidate.score = sigmoid(candidate.score)
    elif config.normalize == "minmax":
        for candidate, value in zip(candidates, minmax([c.score for c in candidates])):
            candidate.score = value
