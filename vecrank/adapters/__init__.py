"""Adapters: wrap a Qdrant or Weaviate client so its searches come back reranked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from ..config import VecrankConfig
from ..config_loading import load_config
from .pipeline import QueryCandidates, RerankPipeline

__all__ = ["QueryCandidates", "RerankPipeline", "wrap"]

Client = TypeVar("Client")


def wrap(client: Client, config: str | os.PathLike | Mapping | VecrankConfig | None = None) -> Client:
    """Return ``client`` with reranked searches: a Qdrant or Weaviate v4 client, sync or async.

    The result passes for ``client`` (``isinstance``, attributes, signatures, context managers);
    ``config`` is a TOML path, a dict, a :class:`VecrankConfig`, or None for ``$VECRANK_CONFIG``
    (or the defaults: only calls that pass ``rerank_query=`` or ``Rerank(...)`` are reranked).
    """
    pipeline = RerankPipeline(load_config(config))
    module = type(client).__module__
    if module.startswith("qdrant_client"):
        from qdrant_client import AsyncQdrantClient, QdrantClient

        from .qdrant import AsyncRerankingQdrantClient, RerankingQdrantClient

        if isinstance(client, QdrantClient):
            return RerankingQdrantClient(client, pipeline)  # type: ignore[return-value]
        if isinstance(client, AsyncQdrantClient):
            return AsyncRerankingQdrantClient(client, pipeline)  # type: ignore[return-value]
    if module.startswith("weaviate"):
        from .weaviate import wrap_weaviate

        return wrap_weaviate(client, pipeline)
    raise TypeError(
        f"vecrank.wrap does not know {type(client).__module__}.{type(client).__name__}; "
        "it takes a QdrantClient, AsyncQdrantClient, WeaviateClient or WeaviateAsyncClient"
    )
