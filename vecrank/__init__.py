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

if TYPE_CHECKING:
    from .adapters import wrap
    from .adapters.instrument import instrument, uninstrument
    from .config import CollectionConfig, VecrankConfig
    from .config_loading import load_config
    from .core import CrossEncoderReranker, get_reranker
    from .distillation import distill
    from .hookspecs import hookimpl
    from .models import MODEL_ALIASES
    from .plugins.capture import flush_capture

__version__ = "0.1.0"

# Every other name is loaded on first use: `import vecrank` imports only errors and extras (no
# torch, pydantic, pluggy or plugin), so it and `vecrank --version` stay fast (tests/test_layers.py).
_LAZY = {
    "hookimpl": "vecrank.hookspecs",
    "MODEL_ALIASES": "vecrank.models",
    "CollectionConfig": "vecrank.config",
    "VecrankConfig": "vecrank.config",
    "load_config": "vecrank.config_loading",
    "wrap": "vecrank.adapters",
    "instrument": "vecrank.adapters.instrument",
    "uninstrument": "vecrank.adapters.instrument",
    "CrossEncoderReranker": "vecrank.core",
    "get_reranker": "vecrank.core",
    "distill": "vecrank.distillation",
    "flush_capture": "vecrank.plugins.capture",
}


# The engine's names: the plugins are loaded first, for the prompt templates of yes/no rerankers.
_ENGINE = frozenset({"CrossEncoderReranker", "get_reranker"})


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        importlib.import_module("vecrank.plugins").get_plugin_manager()
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
    "flush_capture",
    "get_reranker",
    "hookimpl",
    "instrument",
    "load_config",
    "uninstrument",
    "wrap",
]
