"""Built-in plugin: the cross-encoder engine, its seed aliases, and the default ``vecrank_rerank``."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from ..config import CollectionConfig
from ..core import MODEL_ALIASES, get_reranker
from ..hookspecs import hookimpl
from .registry import Scorer


class CrossEncoderScorer:
    """Scores pairs with the shared engine model that ``config.model`` names."""

    def __init__(self, config: CollectionConfig) -> None:
        self.config = config
        self.reranker = get_reranker(
            config.model,
            device=config.device,
            dtype=config.dtype,
            trust_remote_code=config.trust_remote_code,
        )

    def predict(self, pairs: Sequence[tuple[str, str]]) -> Sequence[float]:
        return self.reranker.predict(
            pairs, batch_tokens=self.config.batch_tokens, max_length=self.config.max_length
        )


@hookimpl
def vecrank_register_rerankers(register):
    for alias, hub_id in MODEL_ALIASES.items():
        register(alias, CrossEncoderScorer, aliases=(hub_id,))


@functools.lru_cache(maxsize=64)
def scorer_for(config: CollectionConfig) -> Scorer:
    """The scorer for ``config.model``: a registered reranker, else a cross-encoder folder or hub id."""
    from .manager import get_reranker_registry

    entry = get_reranker_registry().get(config.model)
    factory = entry.factory if entry is not None else CrossEncoderScorer
    return factory(config)


@hookimpl(trylast=True)
def vecrank_rerank(collection, pairs, config):
    return scorer_for(config).predict(pairs)
