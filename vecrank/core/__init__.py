"""The reranking engine: model loading, tokenisation, batching, attention. Knows nothing of databases."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .registry import MODEL_ALIASES, resolve_model

if TYPE_CHECKING:
    from .cache import get_reranker
    from .reranker import CrossEncoderReranker

__all__ = ["MODEL_ALIASES", "CrossEncoderReranker", "get_reranker", "resolve_model"]

# Names whose modules import torch: loaded on first use, so that the model names are known without it.
_LAZY = {"get_reranker": ".cache", "CrossEncoderReranker": ".reranker"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
