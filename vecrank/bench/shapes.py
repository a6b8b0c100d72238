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

# Yes/no rerankers (see vecrank.bench.llm): the Qwen3-Reranker-0.6B shape, and a two-layer one for checks.
LLM_SHAPE_NAMES = ("qwen3-reranker-0.6b", "tiny")
