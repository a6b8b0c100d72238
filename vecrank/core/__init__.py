"""The reranking engine: model loading, tokenisation, batching, attention. Knows nothing of databases.

The engine needs the ``engine`` extra; model names live in :mod:`vecrank.models` and need none.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..extras import needs_extra

if TYPE_CHECKING:
    from .cache import get_reranker
    from .reranker import CrossEncoderReranker

_LAZY = {"CrossEncoderReranker": ".reranker", "get_reranker": ".cache"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        with needs_extra("the reranking engine"):
            return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CrossEncoderReranker", "get_reranker"]
