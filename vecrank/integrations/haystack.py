"""Haystack 2: vecrank as a ranker component (``run`` and ``run_async``), serialisable for YAML pipelines.

``VecrankRanker(model="ettin-17m", top_k=5)`` goes where Haystack's ``SentenceTransformersSimilarityRanker``
goes. Put it after a retriever whose ``top_k`` is the collection's ``candidates``
(``ranker.candidates`` gives it). Documents keep their type and ``meta``; ``score`` becomes the
reranker's, and ``rerank_score`` and ``vector_score`` (the retriever's score) are added to ``meta``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..adapters.pipeline import RerankPipeline
from ..config import VecrankConfig
from .shared import (
    MODEL_SETTINGS,
    ConfigSource,
    FrameworkReranker,
    Hit,
    Ranked,
    check_keywords,
    check_settings,
    store_collection,
)

try:
    from haystack import Document, component, default_from_dict, default_to_dict
    from haystack.utils import ComponentDevice
except ImportError as error:
    from .shared import missing_extra

    raise missing_extra("Haystack", "haystack", error) from None

__all__ = ["VecrankRanker"]


@component
class VecrankRanker:
    """Reorders documents by the reranker and keeps the best ``top_k`` (None: all).

    ``model`` and the other model settings (``max_length``, ``device`` as a string or a
    ``ComponentDevice``, ...: :class:`~vecrank.integrations.shared.ModelSettings`) need no config.
    ``config`` is a TOML path or a dict (what :func:`vecrank.wrap` takes; both serialise); the
    settings are those of ``collection``, or of ``document_store``'s collection, else ``[defaults]``.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        top_k: int | None = 10,
        collection: str | None = None,
        config: ConfigSource = None,
        document_store: Any = None,
        **settings: Any,
    ) -> None:
        check_keywords(type(self).__name__, settings, [*MODEL_SETTINGS, *_OWN_KEYWORDS])
        if isinstance(settings.get("device"), ComponentDevice):
            settings["device"] = settings["device"].to_torch_str()
        self.settings = check_settings(type(self).__name__, {"model": model, **settings})
        self.collection = collection or store_collection(document_store)
        self.config = config
        self.top_k = top_k
        self._reranker = FrameworkReranker(config, self.collection, self.settings, source="haystack")

    @property
    def candidates(self) -> int:
        """How many documents the retriever should fetch for ``top_k`` (the collection's ``candidates``)."""
        if self.top_k is None:
            raise ValueError("candidates needs top_k: set how many documents to keep")
        return self._reranker.candidate_count(self._reranker.collection_for(), self.top_k)

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document], top_k: int | None = None) -> dict[str, Any]:
        """The documents reranked for ``query``, best first, at most ``top_k`` (default: the component's)."""
        if not documents:
            return {"documents": []}
        collection = self._reranker.collection_for()
        ranked = self._reranker.rerank(collection, query, _hits(documents), _top_k(top_k, self.top_k))
        return {"documents": _documents(ranked)}

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, documents: list[Document], top_k: int | None = None
    ) -> dict[str, Any]:
        """:meth:`run` without blocking the event loop."""
        if not documents:
            return {"documents": []}
        collection = self._reranker.collection_for()
        ranked = await self._reranker.arerank(collection, query, _hits(documents), _top_k(top_k, self.top_k))
        return {"documents": _documents(ranked)}

    def to_dict(self) -> dict[str, Any]:
        """The component as a dict (for YAML pipelines): collection, config, top_k and the settings given."""
        return default_to_dict(
            self,
            collection=self.collection,
            config=_serialisable(self.config),
            top_k=self.top_k,
            **self.settings,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VecrankRanker:
        """The component :meth:`to_dict` describes."""
        return default_from_dict(cls, data)


_OWN_KEYWORDS = ("top_k", "collection", "config", "document_store")


def _top_k(asked: int | None, default: int | None) -> int | None:
    return default if asked is None else asked


def _serialisable(config: ConfigSource) -> str | dict | None:
    """``config`` as a path or a plain dict, which ``load_config`` reads back to the same settings."""
    if isinstance(config, RerankPipeline):
        config = config.config
    if isinstance(config, VecrankConfig):
        return config.model_dump(exclude_defaults=True)
    if isinstance(config, os.PathLike):
        return os.fspath(config)
    if isinstance(config, Mapping):
        return dict(config)
    return config


def _hits(documents: Sequence[Document]) -> list[Hit]:
    return [Hit(doc, doc.content, doc.meta, doc.score, doc.id) for doc in documents]


def _documents(ranked: Sequence[Ranked]) -> list[Document]:
    """Each document with the new score and both scores in a copy of its ``meta`` (unscored: as it was)."""
    return [
        item.document
        if item.score is None
        else replace(item.document, score=item.score, meta={**item.document.meta, **item.score_metadata()})
        for item in ranked
    ]
