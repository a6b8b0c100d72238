"""``vecrank.instrument()``: rerank every Qdrant and Weaviate client the process uses, no code change.

As OpenTelemetry instrumentors do, the client classes' search methods are wrapped in place
(``wrapt.wrap_function_wrapper``), so clients created before the call are covered too. Each
patched call runs through the same proxy as :func:`vecrank.wrap`, with one shared pipeline;
calls that vecrank itself makes (a wrapped client's inner search) go to the plain method.
:func:`uninstrument` puts the original class attributes back exactly.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import wrapt

from ..config import VecrankConfig
from ..config_loading import load_config
from .pipeline import RerankPipeline
from .proxy import calling_plain

# (module, class, method names): the search methods each adapter reranks.
_QDRANT = [
    ("qdrant_client", "QdrantClient", ("query_points", "query_batch_points", "query_points_groups")),
    ("qdrant_client", "AsyncQdrantClient", ("query_points", "query_batch_points", "query_points_groups")),
]
_WEAVIATE_SEARCHES = (
    "near_text",
    "hybrid",
    "bm25",
    "near_vector",
    "near_object",
    "near_image",
    "near_media",
    "fetch_objects",
)
_WEAVIATE = [
    (module, cls, _WEAVIATE_SEARCHES)
    for module, classes in (
        ("weaviate.collections.query", ("_QueryCollection", "_QueryCollectionAsync")),
        ("weaviate.collections.generate", ("_GenerateCollection", "_GenerateCollectionAsync")),
    )
    for cls in classes
]

_lock = threading.Lock()
_patched: list[tuple[type, str, Any]] = []  # (owner class, name, the attribute it had) to restore
_state: dict[str, RerankPipeline] = {}


def instrument(config: str | os.PathLike | Mapping | VecrankConfig | None = None) -> None:
    """Rerank the searches of every Qdrant and Weaviate client, existing and future ones.

    ``config`` is as for :func:`vecrank.wrap`. Calling it again only replaces the config.
    Clients that are not installed are skipped.
    """
    pipeline = RerankPipeline(load_config(config))
    with _lock:
        _state["pipeline"] = pipeline
        if _patched:
            return
        for targets, proxy_of in ((_QDRANT, _qdrant_proxy), (_WEAVIATE, _weaviate_proxy)):
            for module_name, class_name, methods in targets:
                try:
                    owner = getattr(importlib.import_module(module_name), class_name)
                except ImportError:
                    continue
                for method in methods:
                    _patch(owner, method, proxy_of)


def uninstrument() -> None:
    """Undo :func:`instrument`: every patched class attribute is the original again."""
    with _lock:
        while _patched:
            owner, name, original = _patched.pop()
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _state.clear()


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return bool(_patched)


def _patch(owner: type, name: str, proxy_of: Callable[[Any, RerankPipeline], Any]) -> None:
    """Wrap ``owner.name`` (defined there or inherited) so calls go through a reranking proxy."""

    def rerank(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        pipeline = _state.get("pipeline")
        if instance is None or pipeline is None or calling_plain():
            return wrapped(*args, **kwargs)
        return getattr(proxy_of(instance, pipeline), name)(*args, **kwargs)

    _patched.append((owner, name, owner.__dict__.get(name)))
    wrapt.wrap_function_wrapper(owner, name, rerank)


def _qdrant_proxy(client: Any, pipeline: RerankPipeline) -> Any:
    from qdrant_client import AsyncQdrantClient

    from .qdrant import AsyncRerankingQdrantClient, RerankingQdrantClient

    twin = AsyncRerankingQdrantClient if isinstance(client, AsyncQdrantClient) else RerankingQdrantClient
    return twin(client, pipeline)


def _weaviate_proxy(namespace: Any, pipeline: RerankPipeline) -> Any:
    """The reranking twin of a plain ``query`` or ``generate`` namespace."""
    from weaviate.collections.generate import _GenerateCollection, _GenerateCollectionAsync
    from weaviate.collections.query import _QueryCollectionAsync

    from . import weaviate

    key = weaviate.config_key(pipeline, namespace._name)
    if isinstance(namespace, (_GenerateCollection, _GenerateCollectionAsync)):
        is_async = isinstance(namespace, _GenerateCollectionAsync)
        twin = weaviate.AsyncRerankingGenerate if is_async else weaviate.RerankingGenerate
        return twin(namespace, pipeline, key, weaviate.query_of(namespace))
    is_async = isinstance(namespace, _QueryCollectionAsync)
    twin = weaviate.AsyncRerankingQuery if is_async else weaviate.RerankingQuery
    return twin(namespace, pipeline, key)
