"""What the LangChain, LlamaIndex and Haystack integrations share, with no framework import.

A framework module turns its documents into :class:`Hit` objects, calls
:meth:`FrameworkReranker.rerank` (or ``arerank``), and rebuilds its own documents from the
:class:`Ranked` results. Everything else (text extraction, scoring, normalisation, fusion,
``min_score``, ``on_error``, ``on_missing_text``) is the adapters' :class:`RerankPipeline`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..adapters.pipeline import QueryCandidates, RerankPipeline
from ..candidate import Candidate, to_candidates
from ..config import VecrankConfig
from ..config_loading import load_config

ConfigSource = str | os.PathLike | Mapping | VecrankConfig | RerankPipeline | None

# Where the frameworks' Qdrant and Weaviate stores keep their collection's name.
_STORE_COLLECTION_ATTRIBUTES = ("collection_name", "index_name", "_index_name", "index")

# The names both scores are recorded under in a framework document's metadata.
RERANK_SCORE_KEY = "rerank_score"
VECTOR_SCORE_KEY = "vector_score"


def missing_extra(framework: str, extra: str, error: ImportError) -> ImportError:
    """The one-line error for an integration whose framework is not installed."""
    return ImportError(
        f"vecrank's {framework} integration needs the {extra!r} extra ({error.name} is missing): "
        f"pip install 'vecrank[{extra}]'"
    )


def pipeline_for(config: ConfigSource) -> RerankPipeline:
    """A pipeline from the same sources :func:`vecrank.wrap` takes, or an existing one (shared as is)."""
    if isinstance(config, RerankPipeline):
        return config
    return RerankPipeline(load_config(config))


def store_collection(store: Any) -> str | None:
    """The collection (or index) name of a framework's Qdrant or Weaviate store, if it has one."""
    if store is None:
        return None
    for attribute in _STORE_COLLECTION_ATTRIBUTES:
        value = getattr(store, attribute, None)
        if isinstance(value, str) and value:
            return value
    settings = getattr(store, "_collection_settings", None)  # weaviate-haystack
    if isinstance(settings, Mapping) and isinstance(settings.get("class"), str):
        return settings["class"]
    return None


@dataclass(frozen=True)
class Hit:
    """One framework document as the pipeline sees it: its text, metadata and database score."""

    document: Any
    text: str | None
    metadata: Mapping[str, Any]
    vector_score: float | None = None
    id: Any = None


@dataclass(frozen=True)
class Ranked:
    """One document in the new order; ``score`` is None where it was not reranked."""

    document: Any
    score: float | None
    rerank_score: float | None
    vector_score: float | None

    def score_metadata(self) -> dict[str, float]:
        """Both scores under vecrank's metadata keys (only those that are known)."""
        scores = {RERANK_SCORE_KEY: self.rerank_score, VECTOR_SCORE_KEY: self.vector_score}
        return {key: value for key, value in scores.items() if value is not None}


class FrameworkReranker:
    """Reranks one framework's documents with a :class:`RerankPipeline`, for one collection.

    ``collection`` picks the per-collection settings; with None, the framework module names
    one per call (from its store or its documents), or a ValueError asks for it.
    """

    def __init__(self, config: ConfigSource = None, collection: str | None = None) -> None:
        self.pipeline = pipeline_for(config)
        self.collection = collection

    def collection_for(self, *hints: str | None) -> str:
        """The explicit collection, else the first hint (store or document metadata)."""
        for name in (self.collection, *hints):
            if name:
                return name
        raise ValueError(
            "vecrank cannot tell which collection these documents come from: pass collection= "
            "(or the vector store) to pick its settings"
        )

    def candidate_count(self, collection: str, top_n: int) -> int:
        """How many documents to fetch from the store so that ``top_n`` come out reranked."""
        return self.pipeline.fetch_limit(collection, 0, top_n)

    def rerank(self, collection: str, query: str, hits: Sequence[Hit], top_n: int | None) -> list[Ranked]:
        """``hits`` in the new order, cut to ``top_n`` (None: all that remain)."""
        _check_top_n(top_n)
        request = self._request(collection, query, hits)
        if request is None:
            return _cut(_unchanged(hits), top_n)
        [ordered] = self.pipeline.rerank(collection, [request])
        return _cut(_ranked(ordered), top_n)

    async def arerank(
        self, collection: str, query: str, hits: Sequence[Hit], top_n: int | None
    ) -> list[Ranked]:
        """:meth:`rerank` without blocking the event loop."""
        _check_top_n(top_n)
        request = self._request(collection, query, hits)
        if request is None:
            return _cut(_unchanged(hits), top_n)
        [ordered] = await self.pipeline.arerank(collection, [request])
        return _cut(_ranked(ordered), top_n)

    def _request(self, collection: str, query: str, hits: Sequence[Hit]) -> QueryCandidates | None:
        """The pipeline request, or None where the hits pass through (disabled, no query, no hits)."""
        query = self.pipeline.query_text(query, "query")
        if not hits or not self.pipeline.should_rerank(collection, [query]):
            return None
        text_field = self.pipeline.settings(collection).text_field
        candidates = to_candidates(
            hits,
            id_of=lambda hit: hit.id,
            payload_of=lambda hit: _payload(hit, text_field),
            vector_score_of=lambda hit: hit.vector_score,
        )
        return QueryCandidates(query, candidates)


def _payload(hit: Hit, text_field: str) -> dict[str, Any]:
    """The hit's metadata with its text under the collection's ``text_field`` (for fields and templates)."""
    payload = dict(hit.metadata)
    if hit.text is not None:
        payload[text_field] = hit.text
    else:
        payload.pop(text_field, None)
    return payload


def _ranked(ordered: Sequence[Candidate]) -> list[Ranked]:
    return [
        Ranked(candidate.hit.document, candidate.score, candidate.raw_score, candidate.hit.vector_score)
        for candidate in ordered
    ]


def _unchanged(hits: Sequence[Hit]) -> list[Ranked]:
    return [Ranked(hit.document, None, None, hit.vector_score) for hit in hits]


def _check_top_n(top_n: int | None) -> None:
    if top_n is not None and top_n < 0:
        raise ValueError(f"the number of documents to return must be non-negative, got {top_n}")


def _cut(ranked: list[Ranked], top_n: int | None) -> list[Ranked]:
    return ranked if top_n is None else ranked[:top_n]
