"""Built-in plugin: fuse the reranker score with the database score (``weighted`` or ``rrf``)."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .normalize import minmax


@hookimpl
def vecrank_after_rerank(collection, query, candidates, config):
    if config.fusion == "none" or not candidates:
        return
    if config.fusion == "weighted":
        rerank = minmax([c.score for c in candidates])
        vector = minmax([c.vector_score if c.vector_score is not None else 0.0 for c in candidates])
        weight = config.fusion_weight
        for candidate, r, v in zip(candidates, rerank, vector):
            candidate.score = weight * r + (1.0 - weight) * v
    elif config.fusion == "rrf":
        by_rerank = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
        rerank_rank = {index: rank for rank, index in enumerate(by_rerank)}
        for index, candidate in enumerate(candidates):
            candidate.score = 1.0 / (config.rrf_k + rerank_rank[index] + 1) + 1.0 / (
                config.rrf_k + candidate.position + 1
            )
