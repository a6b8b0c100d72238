"""LangChain: vecrank as a document compressor, and as a retriever that over-fetches and reranks.

``VecrankRerank`` goes where LangChain's ``CrossEncoderReranker`` goes (a
``ContextualCompressionRetriever``'s ``base_compressor``); ``VecrankRetriever`` wraps a
vector-store retriever, fetches the collection's ``candidates`` and returns the top ``k``.
Documents keep their type and metadata; ``relevance_score`` (the final score),
``rerank_score`` (the reranker's raw score) and ``vector_score`` (the store's) are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .shared import FrameworkReranker, Hit, Ranked, store_collection

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
        Callbacks,
    )
    from langchain_core.documents import BaseDocumentCompressor, Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.vectorstores import VectorStoreRetriever
    from pydantic import ConfigDict, PrivateAttr
except ImportError as error:
    from .shared import missing_extra

    raise missing_extra("LangChain", "langchain", error) from None

__all__ = ["VecrankRerank", "VecrankRetriever"]

RELEVANCE_SCORE_KEY = "relevance_score"  # where LangChain's rerankers put their score
_COLLECTION_KEY = "_collection_name"  # set by langchain-qdrant on every document it returns


class VecrankRerank(BaseDocumentCompressor):
    """Reorders documents by the collection's reranker and keeps the best ``top_n`` (None: all).

    ``config`` takes what :func:`vecrank.wrap` takes (or a wrapped client's ``pipeline``);
    ``collection`` names the settings to use, else langchain-qdrant's ``_collection_name``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: Any = None
    collection: str | None = None
    top_n: int | None = 3
    _reranker: FrameworkReranker = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        self._reranker = FrameworkReranker(self.config, self.collection)

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        collection = self._reranker.collection_for(documents[0].metadata.get(_COLLECTION_KEY))
        ranked = self._reranker.rerank(collection, query, _hits(documents), self.top_n)
        return _documents(ranked)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        collection = self._reranker.collection_for(documents[0].metadata.get(_COLLECTION_KEY))
        ranked = await self._reranker.arerank(collection, query, _hits(documents), self.top_n)
        return _documents(ranked)


class VecrankRetriever(BaseRetriever):
    """A retriever that fetches ``candidates`` from ``base_retriever`` and returns the top ``k`` reranked.

    ``candidates`` defaults to the collection's setting (``candidates`` or ``candidates_factor x k``).
    Over-fetching and the store's scores need a vector-store retriever (``store.as_retriever()``);
    any other retriever is reranked as it answers.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_retriever: BaseRetriever
    k: int = 4
    candidates: int | None = None
    config: Any = None
    collection: str | None = None
    _reranker: FrameworkReranker = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        self._reranker = FrameworkReranker(self.config, self.collection)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        collection, count = self._plan()
        retriever = self.base_retriever
        if isinstance(retriever, VectorStoreRetriever):
            store, kwargs = retriever.vectorstore, _search_kwargs(retriever, count)
            if retriever.search_type == "similarity":
                found = store.similarity_search_with_score(query, **kwargs)
            elif retriever.search_type == "similarity_score_threshold":
                found = store.similarity_search_with_relevance_scores(query, **kwargs)
            else:
                found = [(doc, None) for doc in store.max_marginal_relevance_search(query, **kwargs)]
        else:
            found = [(doc, None) for doc in retriever.invoke(query, {"callbacks": run_manager.get_child()})]
        return _documents(self._reranker.rerank(collection, query, _hits_with_scores(found), self.k))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        collection, count = self._plan()
        retriever = self.base_retriever
        if isinstance(retriever, VectorStoreRetriever):
            store, kwargs = retriever.vectorstore, _search_kwargs(retriever, count)
            if retriever.search_type == "similarity":
                found = await store.asimilarity_search_with_score(query, **kwargs)
            elif retriever.search_type == "similarity_score_threshold":
                found = await store.asimilarity_search_with_relevance_scores(query, **kwargs)
            else:
                docs = await store.amax_marginal_relevance_search(query, **kwargs)
                found = [(doc, None) for doc in docs]
        else:
            docs = await retriever.ainvoke(query, {"callbacks": run_manager.get_child()})
            found = [(doc, None) for doc in docs]
        ranked = await self._reranker.arerank(collection, query, _hits_with_scores(found), self.k)
        return _documents(ranked)

    def _plan(self) -> tuple[str, int]:
        """The collection whose settings apply, and how many documents to fetch."""
        store = getattr(self.base_retriever, "vectorstore", None)
        collection = self._reranker.collection_for(store_collection(store))
        count = self.candidates or self._reranker.candidate_count(collection, self.k)
        return collection, max(count, self.k)


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
