"""LangChain: vecrank as a document compressor, and as a retriever that over-fetches and reranks.

``VecrankRerank(model="ettin-17m", top_n=3)`` goes where LangChain's ``CrossEncoderReranker`` goes (a
``ContextualCompressionRetriever``'s ``base_compressor``); ``VecrankRetriever`` wraps a
vector-store retriever, fetches the collection's ``candidates`` and returns the top ``k``.
Documents keep their type and metadata; ``relevance_score`` (the final score),
``rerank_score`` (the reranker's raw score) and ``vector_score`` (the store's) are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .shared import Hit, PostProcessor, Ranked, store_collection

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
        Callbacks,
    )
    from langchain_core.documents import BaseDocumentCompressor, Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.vectorstores import VectorStoreRetriever
    from pydantic import ConfigDict
except ImportError as error:
    from .shared import missing_extra

    raise missing_extra("LangChain", "langchain", error) from None

__all__ = ["VecrankRerank", "VecrankRetriever"]

RELEVANCE_SCORE_KEY = "relevance_score"  # where LangChain's rerankers put their score
_COLLECTION_KEY = "_collection_name"  # set by langchain-qdrant on every document it returns
# A vector-store retriever's search type: the store method that answers it (its async twin is
# "a" + the name), and whether that method gives scores.
_STORE_SEARCHES = {
    "similarity": ("similarity_search_with_score", True),
    "similarity_score_threshold": ("similarity_search_with_relevance_scores", True),
    "mmr": ("max_marginal_relevance_search", False),
}


class VecrankRerank(PostProcessor, BaseDocumentCompressor):
    """Reorders documents by the reranker and keeps the best ``top_n`` (None: all).

    ``model`` (and ``max_length``, ``device``, ...) need no config. ``config`` takes what
    :func:`vecrank.wrap` takes (or a wrapped client's ``pipeline``); ``collection`` names the
    settings to use, else langchain-qdrant's ``_collection_name``, else ``[defaults]``.
    """

    framework: ClassVar[str] = "langchain"

    model_config = ConfigDict(arbitrary_types_allowed=True)

    top_n: int | None = 3

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        ranked = self._reranker.rerank(self._collection(documents), query, _hits(documents), self.top_n)
        return _documents(ranked)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        collection = self._collection(documents)
        return _documents(await self._reranker.arerank(collection, query, _hits(documents), self.top_n))

    def _collection(self, documents: Sequence[Document]) -> str:
        return self._reranker.collection_for(documents[0].metadata.get(_COLLECTION_KEY))


@dataclass(frozen=True)
class _Fetch:
    """How :class:`VecrankRetriever` fetches: the collection, and the store search (None: the retriever)."""

    collection: str
    method: str | None
    kwargs: dict[str, Any]
    scored: bool

    def hits(self, found: Sequence[Any]) -> list[Hit]:
        """The search's answer (documents, or (document, score) pairs) as hits."""
        return _hits_with_scores(found if self.scored else [(doc, None) for doc in found])


class VecrankRetriever(PostProcessor, BaseRetriever):
    """A retriever that fetches ``candidates`` from ``base_retriever`` and returns the top ``k`` reranked.

    ``candidates`` defaults to the collection's setting (``candidates`` or ``candidates_factor x k``).
    Over-fetching and the store's scores need a vector-store retriever (``store.as_retriever()``);
    any other retriever is reranked as it answers.
    """

    framework: ClassVar[str] = "langchain"

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_retriever: BaseRetriever
    k: int = 4
    candidates: int | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        fetch = self._fetch()
        if fetch.method is None:
            found = self.base_retriever.invoke(query, {"callbacks": run_manager.get_child()})
        else:
            found = getattr(self.base_retriever.vectorstore, fetch.method)(query, **fetch.kwargs)
        return _documents(self._reranker.rerank(fetch.collection, query, fetch.hits(found), self.k))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        fetch = self._fetch()
        if fetch.method is None:
            found = await self.base_retriever.ainvoke(query, {"callbacks": run_manager.get_child()})
        else:
            found = await getattr(self.base_retriever.vectorstore, "a" + fetch.method)(query, **fetch.kwargs)
        return _documents(await self._reranker.arerank(fetch.collection, query, fetch.hits(found), self.k))

    def _fetch(self) -> _Fetch:
        """The collection whose settings apply, and the search that fetches its candidates (no I/O)."""
        retriever = self.base_retriever
        store = getattr(retriever, "vectorstore", None)
        collection = self._reranker.collection_for(store_collection(store))
        if not isinstance(retriever, VectorStoreRetriever):
            return _Fetch(collection, None, {}, scored=False)
        count = max(self.candidates or self._reranker.candidate_count(collection, self.k), self.k)
        method, scored = _STORE_SEARCHES[retriever.search_type]
        return _Fetch(collection, method, _search_kwargs(retriever, count), scored)


def _search_kwargs(retriever: VectorStoreRetriever, count: int) -> dict[str, Any]:
    """The retriever's own search arguments, asking for ``count`` documents."""
    kwargs = {**retriever.search_kwargs, "k": count}
    if retriever.search_type == "mmr":
        kwargs["fetch_k"] = max(kwargs.get("fetch_k", 20), count)
    return kwargs


def _hits(documents: Sequence[Document]) -> list[Hit]:
    return _hits_with_scores([(doc, None) for doc in documents])


def _hits_with_scores(found: Sequence[tuple[Document, float | None]]) -> list[Hit]:
    return [
        Hit(doc, doc.page_content, doc.metadata, score, doc.id or doc.metadata.get("_id"))
        for doc, score in found
    ]


def _documents(ranked: Sequence[Ranked]) -> list[Document]:
    """Each document with its scores added to a copy of its metadata."""
    documents = []
    for item in ranked:
        scores = item.score_metadata()
        if item.score is not None:
            scores[RELEVANCE_SCORE_KEY] = item.score
        doc = item.document
        documents.append(doc.model_copy(update={"metadata": {**doc.metadata, **scores}}) if scores else doc)
    return documents
