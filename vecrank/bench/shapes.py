"""The benchmark models' names and Ettin shapes (no torch: ``vecrank bench --help`` stays fast).

See :mod:`vecrank.bench.models` for where the shapes come from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EttinShape:
    """The sizes that set an Ettin encoder's speed."""

    hidden: int
    intermediate: int
    layers: int
    heads: int


ETTIN_SHAPES: dict[str, EttinShape] = {
    "17m": EttinShape(256, 384, 7, 4),
    "32m": EttinShape(384, 576, 10, 6),
    "68m": EttinShape(512, 768, 19, 8),
    "150m": EttinShape(768, 1152, 22, 12),
    "400m": EttinShape(1024, 2624, 28, 16),
    "1b": EttinShape(1792, 3840, 28, 28),
}

# Not a released model: a three-layer ModernBERT (one global, two local layers) that runs in
# seconds on a CPU, for checking the benchmark itself.
SMOKE_SHAPES: dict[str, EttinShape] = {"tiny": EttinShape(64, 128, 3, 4)}

MODEL_NAMES = (*ETTIN_SHAPES, "minilm-l6", *SMOKE_SHAPES)


@dataclass(frozen=True)
class JinaShape:
    """The sizes of a Jina reranker v1 (JinaBERT) encoder."""

    hidden: int
    intermediate: int
    layers: int
    heads: int


# The config.json of jinaai/jina-reranker-v1-{turbo,tiny}-en: 12 heads (not a power of two), an
# 8192-token ALiBi context, vocabulary 30528. They run against the padded reference (``--jina``),
# not sentence-transformers, which could load them only with the hub's code.
JINA_SHAPES: dict[str, JinaShape] = {
    "jina-turbo": JinaShape(384, 1536, 6, 12),
    "jina-tiny": JinaShape(384, 1536, 4, 12),
    "jina-smoke": JinaShape(32, 64, 2, 4),  # not a released model: checks the benchmark in seconds
}
