"""Finding plugins: the built-in modules, then the installed ``vecrank`` entry points."""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

import pluggy

from .. import hookspecs
from ..errors import PluginError
from .hooks import check_no_wrappers

ENTRY_POINT_GROUP = "vecrank"
# VECRANK_LOAD_PLUGINS: unset loads every installed plugin; "" loads none; "a,b" loads only those.
LOAD_PLUGINS_ENV = "VECRANK_LOAD_PLUGINS"

DEFAULT_PLUGINS = (
    "vecrank.plugins.cross_encoder",
    "vecrank.plugins.qwen3_reranker",
    "vecrank.plugins.mxbai_rerank",
    "vecrank.plugins.scoring",
    "vecrank.plugins.bi_encoder",
    "vecrank.plugins.document_text",
    "vecrank.plugins.normalize",
    "vecrank.plugins.fusion",
    "vecrank.plugins.threshold",
    "vecrank.plugins.remote",
    "vecrank.plugins.capture",
)


def build_plugin_manager() -> tuple[pluggy.PluginManager, dict[str, str]]:
    """A pluggy manager with the built-in and the allowed installed plugins, and each one's version."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    versions = _load_entry_points(pm)
    pm.check_pending()
    check_no_wrappers(pm)
    return pm, versions


def _load_entry_points(pm: pluggy.PluginManager) -> dict[str, str]:
    allowed = os.environ.get(LOAD_PLUGINS_ENV)
    names = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    versions: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if names is not None and entry.name not in names:
            continue
        try:
            plugin = entry.load()
        except Exception as error:
            raise PluginError(
                f"plugin {entry.name!r} ({entry.value}) failed to load: {type(error).__name__}: {error}",
                plugin=entry.name,
            ) from error
        pm.register(plugin, name=entry.name)
        versions[entry.name] = entry.dist.version if entry.dist else ""
    return versions
