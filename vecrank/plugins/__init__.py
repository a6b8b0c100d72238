"""Hook calls, the plugin manager, and the built-in plugins (the cross-encoder engine is one)."""

from .manager import (
    check_model_name,
    get_plugin_manager,
    get_reranker_registry,
    plugin_info,
    register_plugin,
    unregister_plugin,
)
from .scoring import get_scorer

__all__ = [
    "check_model_name",
    "get_plugin_manager",
    "get_reranker_registry",
    "get_scorer",
    "plugin_info",
    "register_plugin",
    "unregister_plugin",
]
