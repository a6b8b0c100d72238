"""Hook calls, the plugin manager, and the built-in plugins (the cross-encoder engine is one).

Imported on first use, so that a built-in plugin module (a prompt template such as
``vecrank.plugins.qwen3_template``) can be imported without the configuration layer or pluggy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .availability import check_model_available
    from .manager import (
        check_model_name,
        get_plugin_manager,
        get_reranker_registry,
        plugin_info,
        register_plugin,
        unregister_plugin,
    )
    from .scoring import get_scorer

_LAZY = {
    "check_model_available": ".availability",
    "check_model_name": ".manager",
    "get_plugin_manager": ".manager",
    "get_reranker_registry": ".manager",
    "get_scorer": ".scoring",
    "plugin_info": ".manager",
    "register_plugin": ".manager",
    "unregister_plugin": ".manager",
}

__all__ = [
    "check_model_available",
    "check_model_name",
    "get_plugin_manager",
    "get_reranker_registry",
    "get_scorer",
    "plugin_info",
    "register_plugin",
    "unregister_plugin",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
