"""The rerankers that plugins register: factories by name and alias, and the plugin behind each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pluggy

from ..config import CollectionConfig
from ..errors import ConfigError
from .hooks import call_impl


class Scorer(Protocol):
    """What a reranker factory returns: one score per (query, text) pair, in order."""

    def predict(self, pairs: Sequence[tuple[str, str]]) -> Sequence[float]: ...


Factory = Callable[[CollectionConfig], Scorer]


@dataclass(frozen=True)
class RegisteredReranker:
    """A factory under a name, with its aliases and the plugin that registered it."""

    name: str
    factory: Factory
    aliases: tuple[str, ...]
    plugin: str


class RerankerRegistry:
    """Names and aliases of every registered reranker."""

    def __init__(self) -> None:
        self._by_name: dict[str, RegisteredReranker] = {}
        self._lock = threading.Lock()

    def register(self, name: str, factory: Factory, aliases: Iterable[str] = (), plugin: str = "") -> None:
        """Add ``factory`` under ``name`` and ``aliases``; a name taken twice is an error."""
        if not callable(factory):
            raise TypeError(f"reranker {name!r}: factory must be callable, got {factory!r}")
        entry = RegisteredReranker(name, factory, tuple(aliases), plugin)
        with self._lock:
            for key in (name, *entry.aliases):
                key = key.lower()
                if key in self._by_name and self._by_name[key].plugin != plugin:
                    other = self._by_name[key].plugin
                    raise ConfigError(f"reranker name {key!r} is registered twice ({other!r} and {plugin!r})")
                self._by_name[key] = entry

    def get(self, name: str) -> RegisteredReranker | None:
        return self._by_name.get(name.lower())

    def plugin_names(self) -> dict[str, str]:
        """Every registered name and alias (lower-cased) mapped to the plugin that registered it."""
        return {key: entry.plugin for key, entry in self._by_name.items()}

    def entries(self) -> list[RegisteredReranker]:
        """Each registered reranker once, in registration order."""
        seen: dict[str, RegisteredReranker] = {}
        for entry in self._by_name.values():
            seen.setdefault(entry.name, entry)
        return list(seen.values())


def collect_rerankers(pm: pluggy.PluginManager) -> RerankerRegistry:
    """Ask every plugin's ``vecrank_register_rerankers`` for its rerankers; a failure names the plugin."""
    registry = RerankerRegistry()
    for impl in pm.hook.vecrank_register_rerankers.get_hookimpls():

        def register(name, factory, aliases=(), _plugin=impl.plugin_name):
            registry.register(name, factory, aliases, plugin=_plugin)

        call_impl(impl, register=register)
    return registry
