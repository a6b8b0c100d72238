"""A saved JinaBERT folder reranks through Qdrant, a cascade and `vecrank serve`: offline, no hub code."""

from __future__ import annotations

import httpx
import pytest
from qdrant_client import QdrantClient, models

import vecrank
from vecrank.core import get_reranker
from vecrank.server import ServerSettings, running_server
from vecrank.testing.tiny_models import build_jinabert

TEXTS = [
    "the river runs through the city",
    "paris is the capital of france",
    "python code for a vector search",
    "rain and music history",
    "people live by the river in the capital " * 40,
]
QUERY = "which city is the capital"


@pytest.fixture(scope="module")
def jina_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_jinabert(tmp_path_factory.mktemp("jina") / "m", max_position_embeddings=128))


@pytest.fixture(autouse=True)
def no_hub_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to import a model's own code from the hub fails the test."""
    import transformers.dynamic_module_utils as dynamic

    def refuse(*args, **kwargs):
        raise AssertionError("hub code was asked for")

    monkeypatch.setattr(dynamic, "get_class_from_dynamic_module", refuse)


def _expected_order(folder: str) -> tuple[list[int], list[float]]:
    scores = get_reranker(folder).predict([(QUERY, text) for text in TEXTS]).tolist()
    order = sorted(range(len(TEXTS)), key=lambda i: -scores[i])
    return order, [scores[i] for i in order]


def _collection(client: QdrantClient) -> None:
    client.create_collection("docs", vectors_config=models.VectorParams(size=2, distance="Dot"))
    client.upsert(
        "docs",
        points=[
            models.PointStruct(id=i, vector=[1.0, i / 10], payload={"text": text})
            for i, text in enumerate(TEXTS)
        ],
    )


def test_qdrant_adapter_reranks_with_the_saved_folder(jina_folder):
    client = vecrank.wrap(QdrantClient(":memory:"), config={"defaults": {"model": jina_folder}})
    _collection(client)
    hits = client.query_points("docs", query=[1.0, 0.0], limit=5, rerank_query=QUERY).points
    order, scores = _expected_order(jina_folder)
    assert [hit.id for hit in hits] == order
    assert [hit.score for hit in hits] == pytest.approx(scores, abs=1e-6)


def test_a_cascade_with_a_jinabert_stage(jina_folder, tiny_bert):
    stages = [{"model": str(tiny_bert), "keep": 3}, {"model": jina_folder}]
    client = vecrank.wrap(QdrantClient(":memory:"), config={"defaults": {"stages": stages}})
    _collection(client)
    hits = client.query_points("docs", query=[1.0, 0.0], limit=5, rerank_query=QUERY).points
    first = get_reranker(str(tiny_bert)).predict([(QUERY, text) for text in TEXTS])
    kept = sorted(range(len(TEXTS)), key=lambda i: -first[i])[:3]
    second = get_reranker(jina_folder).predict([(QUERY, TEXTS[i]) for i in kept])
    assert [hit.id for hit in hits[:3]] == [kept[i] for i in sorted(range(3), key=lambda i: -second[i])]


def test_serve_reranks_with_the_saved_folder(jina_folder):
    settings = ServerSettings(models={"jina": jina_folder}, port=0)
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
        response = http.post("/rerank", json={"query": QUERY, "texts": TEXTS, "raw_scores": True})
    assert response.status_code == 200, response.text
    order, scores = _expected_order(jina_folder)
    assert [item["index"] for item in response.json()] == order
    assert [item["score"] for item in response.json()] == pytest.approx(scores, abs=1e-5)
