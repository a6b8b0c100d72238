"""The reranking engine: model loading, tokenisation, batching, attention. Knows nothing of databases."""

from .cache import get_reranker
from .registry import MODEL_ALIASES, resolve_model
from .reranker import CrossEncoderReranker

__all__ = ["MODEL_ALIASES", "CrossEncoderReranker", "get_reranker", "resolve_model"]
