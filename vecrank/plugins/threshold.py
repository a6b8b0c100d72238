"""Built-in plugin: drop candidates under ``min_score`` (after normalisation and fusion)."""

from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl(trylast=True)
def vecrank_after_rerank(collection, query, candidates, config):
    if config.min_score is not None:
        candidates[:] = [c for c in candidates if c.score >= config.min_score]
