"""The Haystack integration in pipelines on qdrant-haystack's document store (embedded Qdrant), sync and
async, serialised to YAML and back.

Every expected order is the retriever's own answer for the same query, scored with a separate engine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from engine_fixtures import BrokenEngine, EngineCalls, registered
from haystack import Document, Pipeline, component
from haystack.utils import ComponentDevice
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
from haystack_integrations.document_stores.weaviate import WeaviateDocumentStore
from integration_helpers import DIM, PASSAGES, QUESTION, config, embed, engine_order, weighted_order

import vecrank
from vecrank.integrations.haystack import VecrankRanker


@component
class HashedEmbedder:
    """The test corpus's deterministic embedding, as a Haystack text embedder."""

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": embed(text)}


def documents() -> list[Document]:
    return [Document(content=text, meta={"n": i}, embedding=embed(text)) for i, text in enumerate(PASSAGES)]


def new_store() -> QdrantDocumentStore:
    return QdrantDocumentStore(
        ":memory:", index="docs", embedding_dim=DIM, recreate_index=True, progress_bar=False
    )


@pytest.fixture(scope="module")
def stores() -> dict[str, QdrantDocumentStore]:
    """qdrant-haystack's store on embedded Qdrant, written through its sync and its async client."""
    sync_store, async_store = new_store(), new_store()
    sync_store.write_documents(documents())
    asyncio.run(async_store.write_documents_async(documents()))
    return {"sync": sync_store, "async": async_store}


def pipeline(store: QdrantDocumentStore, ranker: VecrankRanker) -> Pipeline:
    """Embed the query, retrieve the ranker's ``candidates``, rerank."""
    built = Pipeline()
    built.add_component("embed", HashedEmbedder())
    built.add_component("retrieve", QdrantEmbeddingRetriever(store, top_k=ranker.candidates))
    built.add_component("rank", ranker)
    built.connect("embed.embedding", "retrieve.query_embedding")
    built.connect("retrieve.documents", "rank.documents")
    return built


def run(built: Pipeline, mode: str) -> list[Document]:
    data = {"embed": {"text": QUESTION}, "rank": {"query": QUESTION}}
    result = asyncio.run(built.run_async(data)) if mode == "async" else built.run(data)
    return result["rank"]["documents"]


def retrieved(store: QdrantDocumentStore, count: int, mode: str) -> list[Document]:
    """What the retriever itself gives for ``count`` documents."""
    retriever = QdrantEmbeddingRetriever(store, top_k=count)
    if mode == "async":
        return asyncio.run(retriever.run_async(query_embedding=embed(QUESTION)))["documents"]
    return retriever.run(query_embedding=embed(QUESTION))["documents"]


def assert_reranked(result: list[Document], expected: list[tuple[str, float]], found: list[Document]) -> None:
    """The expected texts in order, the engine's scores, the retriever's scores and meta kept."""
    vector_scores = {doc.content: doc.score for doc in found}
    assert [doc.content for doc in result] == [text for text, _ in expected]
    for doc, (text, score) in zip(result, expected):
        assert type(doc) is Document
        assert doc.score == pytest.approx(score, abs=1e-5)
        assert doc.meta["rerank_score"] == pytest.approx(score, abs=1e-5)
        assert doc.meta["vector_score"] == pytest.approx(vector_scores[text], rel=1e-6)
        assert doc.meta["n"] == PASSAGES.index(text)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_pipeline_over_fetches_and_reranks(stores, engine, model, mode) -> None:
    """The collection comes from the document store; its ``candidates`` set the retriever's top k."""
    ranker = VecrankRanker(config=config(model, "docs", candidates=9), document_store=stores[mode], top_k=3)
    assert (ranker.collection, ranker.candidates) == ("docs", 9)
    with registered(EngineCalls(), "calls") as calls:
        result = run(pipeline(stores[mode], ranker), mode)
    assert calls.calls == [("docs", 9)]
    found = retrieved(stores[mode], 9, mode)
    assert_reranked(result, engine_order(engine, QUESTION, [doc.content for doc in found])[:3], found)


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(lambda model: config(model, "docs", candidates=9), id="dict"),
        pytest.param(
            lambda model: vecrank.load_config(config(model, "docs", candidates=9)), id="VecrankConfig"
        ),
    ],
)
def test_yaml_round_trip_gives_the_same_pipeline(stores, engine, model, settings) -> None:
    ranker = VecrankRanker(config=settings(model), document_store=stores["sync"], top_k=3)
    assert ranker.to_dict() == {
        "type": "vecrank.integrations.haystack.VecrankRanker",
        "init_parameters": {"collection": "docs", "config": config(model, "docs", candidates=9), "top_k": 3},
    }
    built = pipeline(stores["sync"], ranker)
    allowed = [HashedEmbedder.__module__, "vecrank.integrations.haystack"]
    loaded = Pipeline.loads(built.dumps(), allowed_modules=allowed)
    assert isinstance(loaded.get_component("rank"), VecrankRanker)
    # The loaded retriever has a store of its own: compare with the original on it.
    loaded_store = loaded.get_component("retrieve")._document_store
    loaded_store.write_documents(documents())
    assert [d.content for d in run(loaded, "sync")] == [d.content for d in run(built, "sync")]


def test_a_toml_path_serialises_as_a_path(tmp_path: Path, model) -> None:
    path = tmp_path / "vecrank.toml"
    path.write_text(
        f'[defaults]\nmodel = "{model}"\n\n[collections.docs]\ncandidates = 7\n', encoding="utf-8"
    )
    ranker = VecrankRanker(collection="docs", config=path, top_k=2)
    assert ranker.to_dict()["init_parameters"]["config"] == str(path)
    assert VecrankRanker.from_dict(ranker.to_dict()).candidates == 7


def test_weighted_fusion_and_top_k_per_run(stores, engine, model) -> None:
    ranker = VecrankRanker(
        collection="docs", config=config(model, "docs", fusion="weighted", fusion_weight=0.7)
    )
    found = retrieved(stores["sync"], 12, "sync")
    result = ranker.run(query=QUESTION, documents=found, top_k=4)["documents"]
    expected = weighted_order(engine, QUESTION, [d.content for d in found], [d.score for d in found], 0.7)[:4]
    assert [doc.content for doc in result] == [text for text, _ in expected]
    assert [doc.score for doc in result] == pytest.approx([score for _, score in expected])
    assert len(ranker.run(query=QUESTION, documents=found)["documents"]) == 10  # the component's top_k


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failing_reranker_with_passthrough_keeps_the_retrievers_order(stores, model, mode, caplog) -> None:
    ranker = VecrankRanker(config=config(model, on_error="passthrough"), document_store=stores[mode], top_k=3)
    with registered(BrokenEngine(), "broken"):
        result = run(pipeline(stores[mode], ranker), mode)
    found = retrieved(stores[mode], ranker.candidates, mode)
    assert [(d.id, d.content, d.meta) for d in result] == [(d.id, d.content, d.meta) for d in found[:3]]
    assert [d.score for d in result] == pytest.approx([d.score for d in found[:3]], rel=1e-6)
    assert "engine out of memory" in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failing_reranker_raises_by_default(model, mode) -> None:
    ranker = VecrankRanker(collection="docs", config=config(model))
    docs = documents()[:4]
    with registered(BrokenEngine(), "broken"), pytest.raises(vecrank.RerankError, match="out of memory"):
        if mode == "async":
            asyncio.run(ranker.run_async(query=QUESTION, documents=docs))
        else:
            ranker.run(query=QUESTION, documents=docs)


def test_documents_without_content(engine, model) -> None:
    """``on_missing_text = "last"`` puts them last, unscored; the default names the document."""
    docs = [Document(content=text, score=0.5) for text in PASSAGES[:4]]
    empty = Document(content=None, meta={"n": 99}, score=0.9)
    docs.insert(1, empty)
    ranker = VecrankRanker(collection="docs", config=config(model, on_missing_text="last"), top_k=None)
    result = ranker.run(query=QUESTION, documents=docs)["documents"]
    assert [d.content for d in result] == [
        text for text, _ in engine_order(engine, QUESTION, PASSAGES[:4])
    ] + [None]
    assert result[-1] is empty
    with pytest.raises(vecrank.MissingTextError, match=empty.id):
        VecrankRanker(collection="docs", config=config(model)).run(query=QUESTION, documents=docs)


def test_the_collection_is_needed_and_taken_from_a_weaviate_store(model) -> None:
    with pytest.raises(ValueError, match="collection="):  # the config lists collections: which one?
        VecrankRanker(config=config(model, "docs")).run(query=QUESTION, documents=documents()[:2])
    # weaviate-haystack's store connects on first use: naming the collection needs no server.
    store = WeaviateDocumentStore(url="http://127.0.0.1:9", collection_settings={"class": "passages"})
    assert VecrankRanker(config=config(model), document_store=store).collection == "Passages"


# --- set up as Haystack's SentenceTransformersSimilarityRanker is -----------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_model_and_top_k_with_no_config_in_a_pipeline(stores, engine, model, mode) -> None:
    """``VecrankRanker(model=..., top_k=...)``, where ``SentenceTransformersSimilarityRanker`` goes."""
    ranker = VecrankRanker(model=model, top_k=3, device=ComponentDevice.from_str("cpu"))
    assert ranker.candidates == 12  # the defaults' candidates_factor (4) x top_k
    with registered(EngineCalls(), "calls") as calls:
        result = run(pipeline(stores[mode], ranker), mode)
    assert [(c.model, c.device) for c in calls.configs] == [(model, "cpu")]
    found = retrieved(stores[mode], 12, mode)
    assert_reranked(result, engine_order(engine, QUESTION, [doc.content for doc in found])[:3], found)


def test_model_settings_serialise_and_win_over_the_config(model) -> None:
    ranker = VecrankRanker(model=model, max_length=48, config={"defaults": {"model": "ettin-68m"}}, top_k=2)
    data = ranker.to_dict()
    assert data["init_parameters"] == {
        "collection": None,
        "config": {"defaults": {"model": "ettin-68m"}},
        "top_k": 2,
        "model": model,
        "max_length": 48,
    }
    loaded = VecrankRanker.from_dict(data)
    with registered(EngineCalls(), "calls") as calls:
        result = loaded.run(query=QUESTION, documents=documents()[:5])["documents"]
    assert [(c.model, c.max_length) for c in calls.configs] == [(model, 48)]
    assert len(result) == 2
