"""The plugin manager: built-in plugins, entry-point plugins, and hook calls that name a failing plugin."""

from __future__ import annotations

import importlib
import logging
import os
import threading
from importlib.metadata import entry_points
from typing import Any

import pluggy

from .. import hookspecs
from ..config import CollectionConfig, is_remote_model
from ..core.prompts import TEMPLATES, PromptTemplate
from ..core.registry import resolve_model
from ..errors import ConfigError, ModelError, PluginError, VecrankError
from .registry import RerankerRegistry, Scorer

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "vecrank"
# VECRANK_LOAD_PLUGINS: unset loads every installed plugin; "" loads none; "a,b" loads only those.
LOAD_PLUGINS_ENV = "VECRANK_LOAD_PLUGINS"

DEFAULT_PLUGINS = (
    "vecrank.plugins.cross_encoder",
    "vecrank.plugins.qwen3_reranker",
    "vecrank.plugins.mxbai_rerank",
    "vecrank.plugins.bi_encoder",
    "vecrank.plugins.document_text",
    "vecrank.plugins.normalize",
    "vecrank.plugins.fusion",
    "vecrank.plugins.threshold",
    "vecrank.plugins.remote",
)

_state: dict[str, Any] = {}
_lock = threading.Lock()
_scorer_lock = threading.Lock()


def _new_manager() -> tuple[pluggy.PluginManager, RerankerRegistry, dict[str, str]]:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    versions = _load_entry_points(pm)
    pm.check_pending()
    return pm, _collect_rerankers(pm), versions


def _publish_templates(pm: pluggy.PluginManager) -> None:
    """Hand the prompt templates the plugins register to the engine's loader."""
    templates: list[PromptTemplate] = []
    for impl in pm.hook.vecrank_register_prompt_templates.get_hookimpls():

        def register(template, _plugin=impl.plugin_name):
            if not isinstance(template, PromptTemplate) or not template.name:
                raise TypeError(f"expected a named vecrank.core.prompts.PromptTemplate, got {template!r}")
            templates.append(template)

        _call_impl(impl, register=register)
    TEMPLATES.replace(templates)


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


def _collect_rerankers(pm: pluggy.PluginManager) -> RerankerRegistry:
    registry = RerankerRegistry()
    for impl in pm.hook.vecrank_register_rerankers.get_hookimpls():

        def register(name, factory, aliases=(), _plugin=impl.plugin_name):
            registry.register(name, factory, aliases, plugin=_plugin)

        _call_impl(impl, register=register)
    return registry


def _call_impl(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    try:
        return impl.function(**{name: kwargs[name] for name in impl.argnames})
    except Exception as error:
        raise PluginError(
            f"plugin {impl.plugin_name!r} raised in {impl.function.__name__}: "
            f"{type(error).__name__}: {error}",
            plugin=impl.plugin_name,
        ) from error


def _ensure_loaded() -> dict[str, Any]:
    with _lock:
        if not _state:
            _state["pm"], _state["registry"], _state["versions"] = _new_manager()
            _publish_templates(_state["pm"])
            _state["scorers"] = {}
        return _state


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    return _ensure_loaded()["pm"]


def get_reranker_registry() -> RerankerRegistry:
    """Every reranker the loaded plugins registered."""
    return _ensure_loaded()["registry"]


def get_scorer(config: CollectionConfig) -> Scorer:
    """The scorer for ``config.model``: a URL's service, a registered reranker, else a cross-encoder.

    An ``instruction`` reaches only scorers whose factory says ``takes_instruction``; for any other it
    is a ConfigError.
    """
    from .cross_encoder import CrossEncoderScorer

    if is_remote_model(config.model):
        from .remote import get_remote_scorer

        return get_remote_scorer(config)
    state = _ensure_loaded()
    scorers: dict[CollectionConfig, Scorer] = state["scorers"]
    with _scorer_lock:
        if config not in scorers:
            entry = state["registry"].get(config.model)
            factory = entry.factory if entry is not None else CrossEncoderScorer
            if config.instruction is not None and not getattr(factory, "takes_instruction", False):
                raise ConfigError(
                    f"reranker {config.model!r} (plugin {entry.plugin!r}) takes no instruction, but "
                    f"instruction={config.instruction!r} is set: remove it"
                )
            scorers[config] = factory(config)
        return scorers[config]


def score_pairs(config: CollectionConfig, pairs: list[tuple[str, str]]) -> Any:
    """Scores from the reranker ``config.model`` names; its failure names the plugin that registered it."""
    scorer = get_scorer(config)
    try:
        return scorer.predict(pairs)
    except VecrankError:
        raise
    except Exception as error:
        entry = get_reranker_registry().get(config.model)
        plugin = entry.plugin if entry is not None else "vecrank.plugins.cross_encoder"
        raise PluginError(
            f"reranker {config.model!r} (plugin {plugin!r}) raised: {type(error).__name__}: {error}",
            plugin=plugin,
        ) from error


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


def reset() -> None:
    """Forget the loaded plugins; the next call loads them again (tests, or after pip install)."""
    with _lock:
        _state.clear()


def register_plugin(plugin: object, name: str) -> None:
    """Register a plugin object at run time (and its rerankers)."""
    state = _ensure_loaded()
    state["pm"].register(plugin, name=name)
    state["registry"] = _collect_rerankers(state["pm"])
    _publish_templates(state["pm"])
    state["scorers"] = {}


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered under ``name``."""
    state = _ensure_loaded()
    state["pm"].unregister(name=name)
    state["registry"] = _collect_rerankers(state["pm"])
    _publish_templates(state["pm"])
    state["scorers"] = {}


def call_hook(hook_name: str, **kwargs: Any) -> Any:
    """Call a hook; an exception inside a plugin becomes a :class:`PluginError` naming it."""
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    try:
        return caller(**kwargs)
    except VecrankError:
        raise
    except Exception as error:
        plugin = _plugin_in_traceback(caller, error)
        if plugin is None:
            raise
        raise PluginError(
            f"plugin {plugin!r} raised in {hook_name}: {type(error).__name__}: {error}", plugin=plugin
        ) from error


def _plugin_in_traceback(caller: pluggy.HookCaller, error: BaseException) -> str | None:
    """The plugin whose hook function is on the traceback of ``error`` (innermost first)."""
    codes = {impl.function.__code__: impl.plugin_name for impl in caller.get_hookimpls()}
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    for code in reversed(frames):
        if code in codes:
            return codes[code]
    return None


def plugin_info() -> list[dict[str, Any]]:
    """Name, version and hooks of every registered plugin, for ``vecrank plugins``."""
    state = _ensure_loaded()
    pm: pluggy.PluginManager = state["pm"]
    info = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        info.append(
            {
                "name": name,
                "builtin": name in DEFAULT_PLUGINS,
                "version": state["versions"].get(name, ""),
                "hooks": hooks,
            }
        )
    return info
