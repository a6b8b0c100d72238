"""The LangChain integration on langchain-qdrant (embedded Qdrant) and langchain-weaviate (the stand-in).

Every expected order is the store's own answer for the same query, scored with a separate engine.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import weaviate
from engine_fixtures import BrokenEngine, EngineCalls, registered
from integration_helpers import DIM, PASSAGES, QUESTION, config, embed, engine_order, weighted_order
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_qdrant import QdrantVectorStore
from langchain_weaviate import WeaviateVectorStore
from qdrant_client import QdrantClient
from qdrant_client.models import Distance, VectorParams

import vecrank
from vecrank.integrations.langchain import VecrankRerank, VecrankRetriever
from vecrank.plugins.capture import close_capture, flush_capture
from vecrank.testing.weaviate_server import WeaviateStandIn

SEARCH_TYPES = {
    "similarity": {},
    "similarity_score_threshold": {"score_threshold": 0.0},
    "mmr": {"fetch_k": 20},
}


class HashedEmbeddings(Embeddings):
    """The test corpus's deterministic embedding, as LangChain calls it."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return embed(text)


@pytest.fixture(scope="module")
def store() -> QdrantVectorStore:
    """langchain-qdrant's store on embedded Qdrant, collection "docs"."""
    metadatas = [{"n": i, "lang": "en"} for i in range(len(PASSAGES))]
    return QdrantVectorStore.from_texts(
        PASSAGES, HashedEmbeddings(), metadatas=metadatas, location=":memory:", collection_name="docs"
    )


def approx(value: Any) -> Any:
    """Embedded Qdrant's scores for the same query differ by a few ulps between calls."""
    return value if value is None else pytest.approx(value, rel=1e-6)


def invoke(retriever: Any, query: str, mode: str) -> list[Document]:
    return asyncio.run(retriever.ainvoke(query)) if mode == "async" else retriever.invoke(query)


def store_answer(store: Any, search_type: str, k: int) -> list[tuple[Document, float | None]]:
    """What the vector store itself gives for ``k`` documents, with its scores where it has them."""
    kwargs = {**SEARCH_TYPES[search_type], "k": k}
    if search_type == "similarity":
        return store.similarity_search_with_score(QUESTION, **kwargs)
    if search_type == "similarity_score_threshold":
        return store.similarity_search_with_relevance_scores(QUESTION, **kwargs)
    return [(doc, None) for doc in store.max_marginal_relevance_search(QUESTION, **kwargs)]


def assert_reranked(docs: list[Document], expected: list[tuple[str, float]], scores: dict[str, Any]) -> None:
    """The expected texts in order, the engine's scores, the store's scores and metadata kept."""
    assert [doc.page_content for doc in docs] == [text for text, _ in expected]
    for doc, (_, score) in zip(docs, expected):
        assert type(doc) is Document
        assert doc.metadata["rerank_score"] == pytest.approx(score, abs=1e-5)
        assert doc.metadata["relevance_score"] == pytest.approx(score, abs=1e-5)
        assert doc.metadata.get("vector_score") == approx(scores[doc.page_content])
        assert doc.metadata["n"] == PASSAGES.index(doc.page_content)
        assert doc.metadata["_collection_name"] == "docs"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("search_type", list(SEARCH_TYPES))
def test_retriever_over_fetches_the_collections_candidates_and_reranks(
    store, engine, model, mode, search_type
) -> None:
    base = store.as_retriever(search_type=search_type, search_kwargs=SEARCH_TYPES[search_type])
    retriever = VecrankRetriever(base_retriever=base, k=3, config=config(model, "docs", candidates=9))
    with registered(EngineCalls(), "calls") as calls:
        docs = invoke(retriever, QUESTION, mode)
    assert calls.calls == [("docs", 9)]
    found = store_answer(store, search_type, 9)
    expected = engine_order(engine, QUESTION, [doc.page_content for doc, _ in found])[:3]
    assert_reranked(docs, expected, {doc.page_content: score for doc, score in found})


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_compressor_in_a_contextual_compression_retriever(store, engine, model, mode) -> None:
    """The collection comes from langchain-qdrant's ``_collection_name``: its settings apply."""
    settings = config(model, "docs", normalize="sigmoid")
    retriever = ContextualCompressionRetriever(
        base_compressor=VecrankRerank(config=settings, top_n=4),
        base_retriever=store.as_retriever(search_kwargs={"k": 10}),
    )
    docs = invoke(retriever, QUESTION, mode)
    found = store.similarity_search(QUESTION, k=10)
    expected = engine_order(engine, QUESTION, [doc.page_content for doc in found])[:4]
    assert [doc.page_content for doc in docs] == [text for text, _ in expected]
    for doc, (_, raw) in zip(docs, expected):
        assert doc.metadata["rerank_score"] == pytest.approx(raw, abs=1e-5)
        assert doc.metadata["relevance_score"] == pytest.approx(1 / (1 + math.exp(-raw)), abs=1e-6)
        assert "vector_score" not in doc.metadata  # a plain retriever gives no scores


def test_min_score_keeps_only_documents_above_it(store, engine, model) -> None:
    found = store.similarity_search(QUESTION, k=10)
    expected = engine_order(engine, QUESTION, [doc.page_content for doc in found])
    threshold = (expected[2][1] + expected[3][1]) / 2
    compressor = VecrankRerank(config=config(model, "docs", min_score=threshold), top_n=None)
    docs = compressor.compress_documents(found, QUESTION)
    assert [doc.page_content for doc in docs] == [text for text, _ in expected[:3]]


def test_weighted_fusion_uses_the_stores_scores(store, engine, model) -> None:
    settings = config(model, "docs", candidates=12, fusion="weighted", fusion_weight=0.6)
    retriever = VecrankRetriever(base_retriever=store.as_retriever(), k=5, config=settings)
    docs = retriever.invoke(QUESTION)
    found = store.similarity_search_with_score(QUESTION, k=12)
    texts, scores = [doc.page_content for doc, _ in found], [score for _, score in found]
    expected = weighted_order(engine, QUESTION, texts, scores, 0.6)[:5]
    assert [doc.page_content for doc in docs] == [text for text, _ in expected]
    assert [doc.metadata["relevance_score"] for doc in docs] == pytest.approx([s for _, s in expected])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failing_reranker_with_passthrough_keeps_the_stores_order(store, model, mode, caplog) -> None:
    settings = config(model, "docs", on_error="passthrough", candidates=8)
    retriever = VecrankRetriever(base_retriever=store.as_retriever(), k=4, config=settings)
    compressor = VecrankRerank(config=settings, top_n=4)
    found = store.similarity_search_with_score(QUESTION, k=8)
    with registered(BrokenEngine(), "broken"):
        docs = invoke(retriever, QUESTION, mode)
        compressed = compressor.compress_documents([doc for doc, _ in found], QUESTION)
    assert [doc.page_content for doc in docs] == [doc.page_content for doc, _ in found[:4]]
    assert [doc.metadata["vector_score"] for doc in docs] == approx([score for _, score in found[:4]])
    assert compressed == [doc for doc, _ in found[:4]]  # the very documents, untouched
    assert all("relevance_score" not in doc.metadata for doc in docs)
    assert "engine out of memory" in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failing_reranker_raises_by_default(store, model, mode) -> None:
    retriever = VecrankRetriever(base_retriever=store.as_retriever(), k=4, config=config(model))
    with (
        registered(BrokenEngine(), "broken"),
        pytest.raises(vecrank.RerankError, match="engine out of memory"),
    ):
        invoke(retriever, QUESTION, mode)


def test_an_explicit_collection_picks_its_settings(engine, model) -> None:
    docs = [Document(page_content=text) for text in PASSAGES[:6]]
    with pytest.raises(ValueError, match="collection="):  # the config lists collections: which one?
        VecrankRerank(config=config(model, "docs")).compress_documents(docs, QUESTION)
    compressor = VecrankRerank(config=config(model, "notes", enabled=False), collection="notes", top_n=2)
    assert compressor.compress_documents(docs, QUESTION) == docs[:2]  # disabled: unchanged, cut
    compressor = VecrankRerank(config=config(model), collection="notes", top_n=2)
    with registered(EngineCalls(), "calls") as calls:
        reranked = compressor.compress_documents(docs, QUESTION)
    assert calls.calls == [("notes", 6)]
    expected = engine_order(engine, QUESTION, PASSAGES[:6])[:2]
    assert [d.page_content for d in reranked] == [text for text, _ in expected]


# --- set up as LangChain's CrossEncoderReranker is ---------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_model_and_top_n_with_no_config_in_a_contextual_compression_retriever(
    store, engine, model, mode
) -> None:
    """``VecrankRerank(model=..., top_n=...)``, where ``CrossEncoderReranker(model=..., top_n=...)`` goes."""
    retriever = ContextualCompressionRetriever(
        base_compressor=VecrankRerank(model=model, top_n=3, max_length=64),
        base_retriever=store.as_retriever(search_kwargs={"k": 10}),
    )
    with registered(EngineCalls(), "calls") as calls:
        docs = invoke(retriever, QUESTION, mode)
    assert [(c.model, c.max_length) for c in calls.configs] == [(model, 64)]
    found = store.similarity_search(QUESTION, k=10)
    expected = engine_order(engine, QUESTION, [doc.page_content for doc in found])[:3]
    assert [(d.page_content, d.metadata["rerank_score"]) for d in docs] == [
        (text, pytest.approx(score, abs=1e-5)) for text, score in expected
    ]


def test_model_settings_win_over_the_configs_even_a_cascade(store, engine, model) -> None:
    cascade = {"stages": [{"model": "ettin-17m", "keep": 4}, {"model": "ettin-32m"}], "max_length": 32}
    settings = {"defaults": {"model": "ettin-68m"}, "collections": {"docs": cascade}}
    compressor = VecrankRerank(config=settings, model=model, max_length=48, device="cpu", top_n=2)
    found = store.similarity_search(QUESTION, k=8)
    with registered(EngineCalls(), "calls") as calls:
        docs = compressor.compress_documents(found, QUESTION)
    assert calls.calls == [("docs", 8)]  # one model, not the cascade
    assert [(c.model, c.max_length, c.device) for c in calls.configs] == [(model, 48, "cpu")]
    expected = engine_order(engine, QUESTION, [doc.page_content for doc in found])[:2]
    assert [d.page_content for d in docs] == [text for text, _ in expected]


class ListRetriever(BaseRetriever):
    """A retriever that is not a vector store's: it answers with its documents, whatever the query."""

    documents: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return self.documents


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_any_retriever_is_reranked_as_it_answers(engine, model, mode) -> None:
    docs = [Document(page_content=text, metadata={"n": i}) for i, text in enumerate(PASSAGES[:6])]
    base = ListRetriever(documents=docs)
    with pytest.raises(ValueError, match="collection="):
        invoke(VecrankRetriever(base_retriever=base, config=config(model, "docs")), QUESTION, mode)
    retriever = VecrankRetriever(base_retriever=base, k=2, collection="notes", config=config(model))
    result = invoke(retriever, QUESTION, mode)
    expected = engine_order(engine, QUESTION, PASSAGES[:6])[:2]
    assert [(d.page_content, d.metadata["n"]) for d in result] == [
        (t, PASSAGES.index(t)) for t, _ in expected
    ]
    assert [d.metadata["rerank_score"] for d in result] == pytest.approx([s for _, s in expected], abs=1e-5)


@pytest.fixture(scope="module")
def weaviate_store() -> Iterator[WeaviateVectorStore]:
    """langchain-weaviate's store, on the real weaviate client talking to the in-process stand-in."""
    with WeaviateStandIn(embed=embed) as standin:
        client = weaviate.connect_to_custom(**standin.connection_kwargs)
        try:
            store = WeaviateVectorStore(
                client=client, index_name="Passages", text_key="text", embedding=HashedEmbeddings()
            )
            store.add_texts(PASSAGES, metadatas=[{"n": i} for i in range(len(PASSAGES))])
            yield store
        finally:
            client.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_weaviate_store_reranked_with_its_collections_settings(weaviate_store, engine, model, mode) -> None:
    settings = config(model, "Passages", candidates=10)
    retriever = VecrankRetriever(base_retriever=weaviate_store.as_retriever(), k=3, config=settings)
    with registered(EngineCalls(), "calls") as calls:
        docs = invoke(retriever, QUESTION, mode)
    assert calls.calls == [("Passages", 10)]
    found = weaviate_store.similarity_search_with_score(QUESTION, k=10)
    expected = engine_order(engine, QUESTION, [doc.page_content for doc, _ in found])[:3]
    scores = {doc.page_content: score for doc, score in found}
    assert [doc.page_content for doc in docs] == [text for text, _ in expected]
    for doc, (text, score) in zip(docs, expected):
        assert doc.metadata["rerank_score"] == pytest.approx(score, abs=1e-5)
        assert doc.metadata["vector_score"] == approx(scores[text])
        assert doc.metadata["n"] == PASSAGES.index(text)


def test_stores_on_wrapped_clients(store, engine, model) -> None:
    """langchain-qdrant and langchain-weaviate take ``vecrank.wrap(client)``, whose pipeline can serve too.

    Their searches carry a vector and no text, so the wrapped client passes them through unchanged.
    """
    client = vecrank.wrap(QdrantClient(":memory:"), config=config(model, "docs", candidates=9))
    assert isinstance(client, QdrantClient)
    client.create_collection("docs", vectors_config=VectorParams(size=DIM, distance=Distance.COSINE))
    wrapped_store = QdrantVectorStore(client=client, collection_name="docs", embedding=HashedEmbeddings())
    wrapped_store.add_texts(PASSAGES, metadatas=[{"n": i, "lang": "en"} for i in range(len(PASSAGES))])
    found = wrapped_store.similarity_search_with_score(QUESTION, k=9)
    plain = store.similarity_search_with_score(QUESTION, k=9)
    assert [(d.page_content, approx(s)) for d, s in found] == [(d.page_content, s) for d, s in plain]
    retriever = VecrankRetriever(
        base_retriever=wrapped_store.as_retriever(), k=3, config=client.vecrank_pipeline
    )
    expected = engine_order(engine, QUESTION, [doc.page_content for doc, _ in found])[:3]
    assert_reranked(retriever.invoke(QUESTION), expected, {d.page_content: s for d, s in found})
    with (
        WeaviateStandIn(embed=embed) as standin,
        vecrank.wrap(weaviate.connect_to_custom(**standin.connection_kwargs)) as wrapped,
    ):
        weaviate_store = WeaviateVectorStore(
            client=wrapped, index_name="Passages", text_key="text", embedding=HashedEmbeddings()
        )
        weaviate_store.add_texts(PASSAGES[:6])
        retriever = VecrankRetriever(base_retriever=weaviate_store.as_retriever(), k=2, config=config(model))
        docs = retriever.invoke(QUESTION)
    expected = engine_order(engine, QUESTION, PASSAGES[:6])[:2]
    assert [(d.page_content, d.metadata["rerank_score"]) for d in docs] == [
        (text, pytest.approx(score, abs=1e-5)) for text, score in expected
    ]


def test_captured_searches_name_langchain_and_fall_back_to_positions(tmp_path, engine, model) -> None:
    path = tmp_path / "traffic.jsonl"
    settings = {**config(model, "docs"), "capture": {"enabled": True, "path": str(path)}}
    docs = [Document(page_content=text) for text in PASSAGES[:6]]  # no ids
    try:
        VecrankRerank(config=settings, collection="docs", top_n=2).compress_documents(docs, QUESTION)
        assert flush_capture(timeout=10)
    finally:
        close_capture()
    [record] = [json.loads(line) for line in path.read_text().splitlines()]
    assert (record["source"], record["collection"], record["query"]) == ("langchain", "docs", QUESTION)
    assert [c["id"] for c in record["candidates"]] == [str(number) for number in range(6)]
    expected = engine.predict([(QUESTION, text) for text in PASSAGES[:6]]).tolist()
    assert [c["rerank_score"] for c in record["candidates"]] == pytest.approx(expected, abs=1e-5)
