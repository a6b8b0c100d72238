"""The loaded plugins, held in one small object: the pluggy manager, their rerankers, their scorers.

Loaded on first use and shared by the process; :func:`register_plugin` and
:func:`unregister_plugin` change them at run time, :func:`reset` forgets them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ..config import CollectionConfig
from ..errors import ConfigError, ModelError, PluginError
from ..models import is_remote_model, resolve_model
from .discovery import DEFAULT_PLUGINS, LOAD_PLUGINS_ENV, build_plugin_manager
from .hooks import check_no_wrappers
from .rerankers import RerankerRegistry, Scorer, collect_rerankers
from .templates import publish_templates

__all__ = [
    "LOAD_PLUGINS_ENV",
    "LoadedPlugins",
    "check_model_name",
    "get_plugin_manager",
    "get_reranker_registry",
    "loaded_plugins",
    "plugin_info",
    "register_plugin",
    "reset",
    "unregister_plugin",
]


@dataclass
class LoadedPlugins:
    """The plugin manager, the rerankers its plugins registered, and a scorer per settings."""

    pm: pluggy.PluginManager
    versions: dict[str, str]
    rerankers: RerankerRegistry = field(init=False)
    scorers: dict[CollectionConfig, Scorer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rerankers = collect_rerankers(self.pm)
        publish_templates(self.pm)

    def changed(self) -> None:
        """After a plugin came or went: collect the rerankers again, build scorers afresh."""
        check_no_wrappers(self.pm)
        with self.lock:
            self.rerankers = collect_rerankers(self.pm)
            self.scorers = {}
        publish_templates(self.pm)


_loaded: LoadedPlugins | None = None
_load_lock = threading.Lock()


def loaded_plugins() -> LoadedPlugins:
    """The process-wide plugins, loaded on first use."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            _loaded = LoadedPlugins(*build_plugin_manager())
        return _loaded


def reset() -> None:
    """Forget the loaded plugins; the next call loads them again (tests, or after pip install)."""
    global _loaded
    with _load_lock:
        _loaded = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    return loaded_plugins().pm


def get_reranker_registry() -> RerankerRegistry:
    """Every reranker the loaded plugins registered."""
    return loaded_plugins().rerankers


def register_plugin(plugin: object, name: str) -> None:
    """Register a plugin object at run time (and its rerankers); one that fails to register is left out."""
    plugins = loaded_plugins()
    plugins.pm.register(plugin, name=name)
    try:
        plugins.changed()
    except PluginError:
        plugins.pm.unregister(name=name)
        plugins.changed()
        raise


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered under ``name``."""
    plugins = loaded_plugins()
    plugins.pm.unregister(name=name)
    plugins.changed()


def check_model_name(name: str) -> None:
    """A :class:`ConfigError` unless ``name`` is a registered reranker, an alias, a folder, a hub id or a URL.

    The message suggests close names (``ettin-17`` -> ``ettin-17m``).
    """
    if is_remote_model(name):
        return
    registry = get_reranker_registry()
    if registry.get(name) is not None:
        return
    try:
        resolve_model(name, registered=registry.plugin_names())
    except ModelError as error:
        raise ConfigError(str(error)) from None


def plugin_info() -> list[dict[str, Any]]:
    """Name, version and hooks of every registered plugin, for ``vecrank plugins``."""
    plugins = loaded_plugins()
    info = []
    for name, plugin in plugins.pm.list_name_plugin():
        hooks = sorted(caller.name for caller in plugins.pm.get_hookcallers(plugin) or [])
        info.append(
            {
                "name": name,
                "builtin": name in DEFAULT_PLUGINS,
                "version": plugins.versions.get(name, ""),
                "hooks": hooks,
            }
        )
    return info
