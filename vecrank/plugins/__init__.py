"""Hook specs, the plugin manager, and the built-in plugins (the cross-encoder engine is one)."""

from .manager import (
    call_hook,
    get_plugin_manager,
    get_reranker_registry,
    plugin_info,
    register_plugin,
    unregister_plugin,
)

__all__ = [
    "call_hook",
    "get_plugin_manager",
    "get_reranker_registry",
    "plugin_info",
    "register_plugin",
    "unregister_plugin",
]
