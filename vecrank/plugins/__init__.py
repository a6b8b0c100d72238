"""Hook specs, the plugin manager, and the built-in plugins (the cross-encoder engine is one)."""

from .availability import check_model_available
from .manager import (
    call_hook,
    check_model_name,
    get_plugin_manager,
    get_reranker_registry,
    get_scorer,
    plugin_info,
    register_plugin,
    unregister_plugin,
)

__all__ = [
    "call_hook",
    "check_model_available",
    "check_model_name",
    "get_plugin_manager",
    "get_reranker_registry",
    "get_scorer",
    "plugin_info",
    "register_plugin",
    "unregister_plugin",
]
