"""Hook specs, the plugin manager, and the built-in plugins (the cross-encoder engine is one).

The manager is imported on first use, so that a built-in plugin module (a prompt template such as
``vecrank.plugins.qwen3_reranker``) can be imported without the configuration layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    "check_model_name",
    "get_plugin_manager",
    "get_reranker_registry",
    "get_scorer",
    "plugin_info",
    "register_plugin",
    "unregister_plugin",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".manager", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
