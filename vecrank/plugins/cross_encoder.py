"""Built-in plugin: the cross-encoder engine, its seed aliases, and the default ``vecrank_rerank``."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import CollectionConfig
from ..core.registry import MODEL_ALIASES
from ..hookspecs import hookimpl


class CrossEncoderScorer:
    """Scores pairs with the shared engine model that ``config.model`` names."""

    def __init__(self, config: CollectionConfig) -> None:
        from ..core import get_reranker

        self.config = config
        self.reranker = get_reranker(
            config.model,
            device=config.device,
            dtype=config.dtype,
            precision=config.precision,
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


@hookimpl(trylast=True)
def vecrank_rerank(collection, pairs, config):
    from .manager import score_pairs

    return score_pairs(config, pairs)
