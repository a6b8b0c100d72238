"""vecrank: rerank vector-database search results with cross-encoders, in one line."""

from .adapters import wrap
from .config import CollectionConfig, VecrankConfig, load_config
from .core import MODEL_ALIASES, CrossEncoderReranker, get_reranker
from .errors import (
    ConfigError,
    MissingTextError,
    ModelError,
    PluginError,
    RerankError,
    VecrankError,
)
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "MODEL_ALIASES",
    "CollectionConfig",
    "ConfigError",
    "CrossEncoderReranker",
    "MissingTextError",
    "ModelError",
    "PluginError",
    "RerankError",
    "VecrankConfig",
    "VecrankError",
    "__version__",
    "get_reranker",
    "hookimpl",
    "load_config",
    "wrap",
]
