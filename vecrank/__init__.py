"""vecrank: rerank vector-database search results with cross-encoders, in one line."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigError,
    MissingTextError,
    ModelError,
    PluginError,
    RerankError,
    VecrankError,
)
from .extras import MissingExtraError
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .adapters import wrap
    from .adapters.instrument import instrument, uninstrument
    from .config import CollectionConfig, VecrankConfig, load_config
    from .core import MODEL_ALIASES, CrossEncoderReranker, get_reranker
    from .distillation import distill

__version__ = "0.1.0"

# Names whose modules import torch, transformers or pydantic: loaded on first use, so that
# `import vecrank` and `vecrank --version` stay fast, and the engine runs without pydantic.
_LAZY = {
    "CollectionConfig": "vecrank.config",
    "VecrankConfig": "vecrank.config",
    "load_config": "vecrank.config",
    "wrap": "vecrank.adapters",
    "instrument": "vecrank.adapters.instrument",
    "uninstrument": "vecrank.adapters.instrument",
    "MODEL_ALIASES": "vecrank.core",
    "CrossEncoderReranker": "vecrank.core",
    "get_reranker": "vecrank.core",
    "distill": "vecrank.distillation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vecrank' has no attribute {name!r}")


__all__ = [
    "MODEL_ALIASES",
    "CollectionConfig",
    "ConfigError",
    "CrossEncoderReranker",
    "MissingExtraError",
    "MissingTextError",
    "ModelError",
    "PluginError",
    "RerankError",
    "VecrankConfig",
    "VecrankError",
    "__version__",
    "distill",
    "get_reranker",
    "hookimpl",
    "instrument",
    "load_config",
    "uninstrument",
    "wrap",
]
