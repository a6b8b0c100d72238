"""Built-in plugin: the cross-encoder engine under each seed alias (and its hub id)."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import CollectionConfig
from ..hookspecs import hookimpl
from ..models import MODEL_ALIASES
from ..pairs import Pair


class CrossEncoderScorer:
    """Scores pairs with the shared engine model that ``config.model`` names (a yes/no reranker with
    ``config.instruction``: a ConfigError if the model takes none)."""

    takes_instruction = True  # checked against the loaded model

    def __init__(self, config: CollectionConfig) -> None:
        from ..core import get_reranker
        from ..core.yes_no import check_instruction

        self.config = config
        self.reranker = get_reranker(
            config.model,
            device=config.device,
            dtype=config.dtype,
            precision=config.precision,
            trust_remote_code=config.trust_remote_code,
            prompt_template=config.prompt_template,
        )
        check_instruction(self.reranker.loaded, config.instruction)

    def predict(self, pairs: Sequence[Pair]) -> Sequence[float]:
        return self.reranker.predict(
            pairs,
            batch_tokens=self.config.batch_tokens,
            max_length=self.config.max_length,
            instruction=self.config.instruction,
        )


@hookimpl
def vecrank_register_rerankers(register):
    for alias, hub_id in MODEL_ALIASES.items():
        register(alias, CrossEncoderScorer, aliases=(hub_id,))
