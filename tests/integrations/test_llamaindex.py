"""The LlamaIndex integration in query engines on llama-index's Qdrant store (embedded) and Weaviate store
(the stand-in), sync and async.

Every expected order is the index's own retriever answer for the same query, scored with a separate engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import weaviate
from engine_fixtures import BrokenEngine, EngineCalls, registered
from integration_helpers import PASSAGES, QUESTION, config, embed, engine_order, weighted_order
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
from llama_index.vector_stores.qdrant import QdrantVectorStore
from llama_index.vector_stores.weaviate import WeaviateVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient

import vecrank
from vecrank.integrations.llamaindex import VecrankRerank
from vecrank.testing.weaviate_server import WeaviateStandIn

# llama-index creates payload indexes, which embedded Qdrant does not need and warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")


class HashedEmbedding(BaseEmbedding):
    """The test corpus's deterministic embedding, as LlamaIndex calls it."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return embed(query)


def nodes() -> list[TextNode]:
    return [TextNode(text=text, metadata={"n": i}) for i, text in enumerate(PASSAGES)]


def build_index(store: Any, mode: str) -> VectorStoreIndex:
    """The corpus indexed in ``store``, through its sync or its async client."""
    context = StorageContext.from_defaults(vector_store=store)
    if mode == "sync":
        return VectorStoreIndex(nodes(), storage_context=context, embed_model=HashedEmbedding())

    async def build() -> VectorStoreIndex:
        return VectorStoreIndex(
            nodes(), storage_context=context, embed_model=HashedEmbedding(), use_async=True
        )

    return asyncio.run(build())


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    """A vector store index on llama-index's Qdrant store, embedded Qdrant, collection "docs"."""
    return build_index(QdrantVectorStore(collection_name="docs", client=QdrantClient(":memory:")), "sync")


@pytest.fixture(scope="module")
def async_index() -> VectorStoreIndex:
    """The same on an ``AsyncQdrantClient`` (its own embedded store), built and queried asynchronously."""
    store = QdrantVectorStore(collection_name="docs", aclient=AsyncQdrantClient(":memory:"))
    return build_index(store, "async")


def query(index: VectorStoreIndex, rerank: VecrankRerank, mode: str) -> list[NodeWithScore]:
    """The source nodes of a query engine that over-fetches and reranks."""
    engine = index.as_query_engine(
        llm=MockLLM(), similarity_top_k=rerank.similarity_top_k, node_postprocessors=[rerank], use_async=True
    )
    if mode == "async":
        return asyncio.run(engine.aquery(QUESTION)).source_nodes
    return engine.query(QUESTION).source_nodes


def retrieved(index: VectorStoreIndex, count: int, mode: str) -> list[NodeWithScore]:
    """What the index's own retriever gives for ``count`` nodes."""
    retriever = index.as_retriever(similarity_top_k=count)
    return asyncio.run(retriever.aretrieve(QUESTION)) if mode == "async" else retriever.retrieve(QUESTION)


def text(node: NodeWithScore) -> str:
    return node.node.get_content(metadata_mode=MetadataMode.NONE)


def assert_reranked(result: list[NodeWithScore], expected: list[tuple[str, float]], found: list) -> None:
    """The expected texts in order, the engine's scores, the store's scores and metadata kept and hidden."""
    vector_scores = {text(node): node.score for node in found}
    assert [text(node) for node in result] == [t for t, _ in expected]
    for node, (t, score) in zip(result, expected):
        assert type(node.node) is TextNode
        assert node.score == pytest.approx(score, abs=1e-5)
        assert node.node.metadata["rerank_score"] == pytest.approx(score, abs=1e-5)
        assert node.node.metadata["vector_score"] == pytest.approx(vector_scores[t], rel=1e-6)
        assert node.node.metadata["n"] == PASSAGES.index(t)
        for mode in (MetadataMode.LLM, MetadataMode.EMBED):
            assert "score" not in node.node.get_content(metadata_mode=mode)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_query_engine_over_fetches_and_reranks(index, async_index, engine, model, mode) -> None:
    """The collection comes from the vector store; its ``candidates`` set the retriever's top k."""
    used = async_index if mode == "async" else index
    rerank = VecrankRerank(
        config=config(model, "docs", candidates=9), vector_store=used.vector_store, top_n=3
    )
    assert rerank.similarity_top_k == 9
    with registered(EngineCalls(), "calls") as calls:
        result = query(used, rerank, mode)
    assert calls.calls == [("docs", 9)]
    found = retrieved(used, 9, mode)
    assert_reranked(result, engine_order(engine, QUESTION, [text(n) for n in found])[:3], found)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_postprocess_nodes_directly_with_weighted_fusion(index, engine, model, mode) -> None:
    rerank = VecrankRerank(
        config=config(model, "docs", fusion="weighted", fusion_weight=0.7), collection="docs", top_n=4
    )
    found = retrieved(index, 12, "sync")
    if mode == "async":
        result = asyncio.run(rerank.apostprocess_nodes(found, query_str=QUESTION))
    else:
        result = rerank.postprocess_nodes(found, query_str=QUESTION)
    expected = weighted_order(engine, QUESTION, [text(n) for n in found], [n.score for n in found], 0.7)[:4]
    assert [text(node) for node in result] == [t for t, _ in expected]
    assert [node.score for node in result] == pytest.approx([s for _, s in expected])
    assert [n.node.metadata.get("rerank_score") for n in found] == [None] * 12  # the input is not changed


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failing_reranker_with_passthrough_keeps_the_retrievers_order(
    index, async_index, model, mode, caplog
) -> None:
    used = async_index if mode == "async" else index
    rerank = VecrankRerank(
        config=config(model, on_error="passthrough"), vector_store=used.vector_store, top_n=3
    )
    found = retrieved(used, rerank.similarity_top_k, mode)
    with registered(BrokenEngine(), "broken"):
        result = query(used, rerank, mode)
    assert [(text(n), n.node.metadata) for n in result] == [(text(n), n.node.metadata) for n in found[:3]]
    assert [n.score for n in result] == pytest.approx([n.score for n in found[:3]], rel=1e-6)
    assert "engine out of memory" in caplog.text


def test_a_failing_reranker_raises_by_default(index, model) -> None:
    rerank = VecrankRerank(config=config(model), vector_store=index.vector_store, top_n=3)
    with registered(BrokenEngine(), "broken"), pytest.raises(vecrank.RerankError, match="out of memory"):
        query(index, rerank, "sync")


def test_the_query_and_the_collection_are_needed(model) -> None:
    found = [NodeWithScore(node=node, score=0.5) for node in nodes()[:3]]
    with pytest.raises(ValueError, match="needs the query"):
        VecrankRerank(config=config(model), collection="docs").postprocess_nodes(found)
    with pytest.raises(ValueError, match="collection="):  # the config lists collections: which one?
        VecrankRerank(config=config(model, "docs")).postprocess_nodes(found, query_str=QUESTION)
    with pytest.raises(ValueError, match="collection="):
        VecrankRerank(config=config(model, "docs")).similarity_top_k  # noqa: B018


# --- set up as LlamaIndex's SentenceTransformerRerank is ----------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_model_and_top_n_with_no_config_in_a_query_engine(index, async_index, engine, model, mode) -> None:
    """``VecrankRerank(model=..., top_n=...)``, where ``SentenceTransformerRerank`` goes."""
    used = async_index if mode == "async" else index
    rerank = VecrankRerank(model=model, top_n=3, max_length=64)
    assert rerank.similarity_top_k == 12  # the defaults' candidates_factor (4) x top_n
    with registered(EngineCalls(), "calls") as calls:
        result = query(used, rerank, mode)
    assert [(c.model, c.max_length) for c in calls.configs] == [(model, 64)]
    found = retrieved(used, 12, mode)
    assert_reranked(result, engine_order(engine, QUESTION, [text(n) for n in found])[:3], found)


def test_model_settings_win_over_the_config(index, model) -> None:
    settings = {"defaults": {"model": "ettin-68m", "max_length": 32}}
    rerank = VecrankRerank(config=settings, model=model, device="cpu", top_n=2)
    with registered(EngineCalls(), "calls") as calls:
        result = rerank.postprocess_nodes(retrieved(index, 6, "sync"), query_str=QUESTION)
    assert [(c.model, c.max_length, c.device) for c in calls.configs] == [(model, 32, "cpu")]
    assert len(result) == 2


@pytest.fixture(scope="module")
def weaviate_index() -> Iterator[VectorStoreIndex]:
    """An index on llama-index's Weaviate store, the real weaviate client against the in-process stand-in."""
    with WeaviateStandIn(embed=embed) as standin:
        client = weaviate.connect_to_custom(**standin.connection_kwargs)
        try:
            yield build_index(weaviate_store(client), "sync")
        finally:
            client.close()


def test_weaviate_store_in_a_query_engine(weaviate_index, engine, model) -> None:
    settings: dict[str, Any] = config(model, "Passages", candidates=8)
    rerank = VecrankRerank(config=settings, vector_store=weaviate_index.vector_store, top_n=3)
    with registered(EngineCalls(), "calls") as calls:
        result = query(weaviate_index, rerank, "sync")
    assert calls.calls == [("Passages", 8)]
    found = retrieved(weaviate_index, 8, "sync")
    assert_reranked(result, engine_order(engine, QUESTION, [text(n) for n in found])[:3], found)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_qdrant_store_on_a_wrapped_client(index, engine, model, mode) -> None:
    """llama-index's Qdrant store takes ``vecrank.wrap(client)`` (sync or async); its pipeline serves the
    postprocessor, and the store's vector searches pass through the wrapped client unchanged."""
    settings = config(model, "docs", candidates=9)
    if mode == "async":
        client = vecrank.wrap(AsyncQdrantClient(":memory:"), config=settings)
        store = QdrantVectorStore(collection_name="docs", aclient=client)
    else:
        client = vecrank.wrap(QdrantClient(":memory:"), config=settings)
        store = QdrantVectorStore(collection_name="docs", client=client)
    wrapped_index = build_index(store, mode)
    found = retrieved(wrapped_index, 9, mode)
    plain = retrieved(index, 9, "sync")
    assert [(text(n), pytest.approx(n.score, rel=1e-6)) for n in found] == [(text(n), n.score) for n in plain]
    rerank = VecrankRerank(config=client.vecrank_pipeline, vector_store=store, top_n=3)
    result = query(wrapped_index, rerank, mode)
    assert_reranked(result, engine_order(engine, QUESTION, [text(n) for n in found])[:3], found)


def weaviate_store(client: Any) -> WeaviateVectorStore:
    return WeaviateVectorStore(weaviate_client=client, index_name="Passages", text_key="text")


async def arerank_on_weaviate(client: Any) -> tuple[list[NodeWithScore], list[NodeWithScore]]:
    """Retrieve and query through an async Weaviate client, on the event loop it connected on."""
    await client.connect()
    try:
        index = VectorStoreIndex.from_vector_store(weaviate_store(client), embed_model=HashedEmbedding())
        rerank = VecrankRerank(config=client.vecrank_pipeline, vector_store=index.vector_store, top_n=3)
        found = await index.as_retriever(similarity_top_k=rerank.similarity_top_k).aretrieve(QUESTION)
        engine = index.as_query_engine(
            llm=MockLLM(),
            similarity_top_k=rerank.similarity_top_k,
            node_postprocessors=[rerank],
            use_async=True,
        )
        return (await engine.aquery(QUESTION)).source_nodes, found
    finally:
        await client.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_weaviate_store_on_a_wrapped_client(engine, model, mode) -> None:
    """llama-index's Weaviate store takes ``vecrank.wrap(client)``, sync or async; its pipeline can serve."""
    settings = config(model, "Passages", candidates=6)
    with WeaviateStandIn(embed=embed) as standin:
        with vecrank.wrap(weaviate.connect_to_custom(**standin.connection_kwargs), config=settings) as client:
            index = build_index(weaviate_store(client), "sync")
            rerank = VecrankRerank(config=client.vecrank_pipeline, vector_store=index.vector_store, top_n=3)
            found = retrieved(index, rerank.similarity_top_k, "sync")
            result = query(index, rerank, "sync")
        if mode == "async":
            client = vecrank.wrap(
                weaviate.use_async_with_custom(**standin.connection_kwargs), config=settings
            )
            result, found = asyncio.run(arerank_on_weaviate(client))
    assert len(found) == 6
    assert_reranked(result, engine_order(engine, QUESTION, [text(n) for n in found])[:3], found)
