"""What the LangChain, LlamaIndex and Haystack tests share: corpus, embedding, expected orders, plugins."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import vecrank
from vecrank.testing._weaviate_store import hashed_embedding

DIM = 32
QUESTION = "which city by the river has the most people"
_WORDS_TEXT = """
city capital river mountain sea ocean weather sunny rain cat dog animal car train road population
berlin paris london tokyo madrid music history science water energy food health school student book
paper price market company computer software python code search vector database rank model text
people world year language english french german
"""
_WORDS = _WORDS_TEXT.split()


def _passages() -> list[str]:
    rng = random.Random(5)
    return [" ".join(rng.sample(_WORDS, 7)) for _ in range(30)]


PASSAGES = _passages()


def embed(text: str) -> list[float]:
    """A deterministic hashed bag-of-words vector plus a little per-text noise, so no two scores tie."""
    rng = random.Random(text)
    vector = [v + rng.uniform(-0.05, 0.05) for v in hashed_embedding(text, DIM)]
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def config(model: str, collection: str | None = None, **settings: Any) -> dict[str, Any]:
    """A config on the tiny model, ``settings`` for ``collection`` (or the defaults when None)."""
    if collection is None:
        return {"defaults": {"model": model, **settings}}
    return {"defaults": {"model": model}, "collections": {collection: settings}}


def engine_order(
    engine: vecrank.CrossEncoderReranker, query: str, texts: Sequence[str]
) -> list[tuple[str, float]]:
    """``texts`` with the engine's raw scores, best first (ties keep the given order)."""
    scores = [float(s) for s in engine.predict([(query, text) for text in texts])]
    return sorted(zip(texts, scores), key=lambda pair: -pair[1])


def weighted_order(
    engine: vecrank.CrossEncoderReranker,
    query: str,
    texts: Sequence[str],
    vector_scores: Sequence[float],
    weight: float,
) -> list[tuple[str, float]]:
    """``texts`` by ``weight`` x min-max(engine score) + (1 - weight) x min-max(store score), best first."""
    raw = [float(s) for s in engine.predict([(query, text) for text in texts])]

    def scaled(values: Sequence[float]) -> list[float]:
        low, high = min(values), max(values)
        return [(v - low) / (high - low) for v in values]

    fused = [weight * r + (1 - weight) * v for r, v in zip(scaled(raw), scaled(vector_scores))]
    return sorted(zip(texts, fused), key=lambda pair: -pair[1])
