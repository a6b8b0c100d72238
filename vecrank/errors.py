"""Exceptions raised by vecrank.

VecrankError
 ├── ConfigError        bad or unknown configuration (names the collection and key)
 ├── ModelError         a reranker model that cannot be found or loaded
 ├── PluginError        a plugin that failed to load or raised inside a hook
 ├── RerankError        reranking a result set failed
 │    └── MissingTextError   a hit has no text to score
 └── DistillError       vecrank distill could not finish (disk full while caching, ...)
"""

from __future__ import annotations


class VecrankError(Exception):
    """Base class of every error vecrank raises."""


class ConfigError(VecrankError, ValueError):
    """Configuration that does not validate: unknown key, bad value, unknown collection."""


class ModelError(VecrankError):
    """A reranker model that cannot be resolved, found or loaded."""


class PluginError(VecrankError):
    """A plugin failed to load or raised inside a hook; the message names the plugin."""

    def __init__(self, message: str, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class RerankError(VecrankError):
    """Reranking failed; with ``on_error = "passthrough"`` the database order is returned instead."""


class MissingTextError(RerankError):
    """A hit has no text to score: names the hit id and the field."""

    def __init__(self, message: str, hit_id: object = None, field: str | None = None) -> None:
        super().__init__(message)
        self.hit_id = hit_id
        self.field = field


class DistillError(VecrankError):
    """``vecrank distill`` could not finish (the teacher's score cache, training); says what to do."""
