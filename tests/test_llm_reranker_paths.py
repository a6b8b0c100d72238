"""A tiny Qwen3-Reranker-layout folder everywhere a model goes: the Qdrant adapter with a per-collection
instruction, a cascade behind a cross-encoder, ``vecrank serve`` on every route with a per-request
instruction, and the remote scorer that calls it."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

import vecrank
from vecrank import ConfigError, CrossEncoderReranker
from vecrank.core import get_reranker
from vecrank.server import ServerSettings, running_server

QUERY = "what is the capital of france"
TEXTS = [
    "paris is the capital of france",
    "berlin is a city in germany with a long history",
    "the river runs to the sea",
    "cats and dogs live in the house",
    "capital cities of the world",
    "the weather in tokyo is sunny today",
    "a book about the history of music in london",
    "",
]
INSTRUCTION = "Given a question about a city, find the passage that names it"
API_KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def qwen3(tiny_llm_rerankers) -> str:
    return str(tiny_llm_rerankers["qwen3"])


@pytest.fixture(scope="module")
def engine(qwen3) -> CrossEncoderReranker:
    return get_reranker(qwen3)


@pytest.fixture
def qdrant() -> QdrantClient:
    client = QdrantClient(":memory:")
    client.create_collection(
        "docs", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE)
    )
    points = [
        models.PointStruct(id=i, vector=[1.0, 0.1 * i], payload={"text": text})
        for i, text in enumerate(TEXTS)
    ]
    client.upsert("docs", points=points)
    return client


def expected_order(scores: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(-scores, kind="stable")]


def test_qdrant_collection_reranks_with_its_instruction(qdrant, qwen3, engine):
    config = {"collections": {"docs": {"model": qwen3, "instruction": INSTRUCTION}}}
    points = (
        vecrank.wrap(qdrant, config)
        .query_points("docs", query=[1.0, 0.0], limit=5, rerank_query=QUERY)
        .points
    )
    scores = engine.predict([(QUERY, text) for text in TEXTS], instruction=INSTRUCTION)
    assert not np.allclose(scores, engine.predict([(QUERY, text) for text in TEXTS]), atol=1e-3)
    assert [p.id for p in points] == expected_order(scores)[:5]
    np.testing.assert_allclose([p.score for p in points], np.sort(scores)[::-1][:5], atol=1e-5)


def test_cascade_narrows_with_a_cross_encoder_for_the_yes_no_reranker(qdrant, qwen3, engine, tiny_bert):
    stages = [{"model": str(tiny_bert), "keep": 4}, {"model": qwen3, "instruction": INSTRUCTION}]
    client = vecrank.wrap(qdrant, {"collections": {"docs": {"stages": stages, "candidates": 8}}})
    points = client.query_points("docs", query=[1.0, 0.0], limit=8, rerank_query=QUERY).points
    first = get_reranker(str(tiny_bert)).predict([(QUERY, text) for text in TEXTS])
    kept = expected_order(first)[:4]
    final = engine.predict([(QUERY, TEXTS[i]) for i in kept], instruction=INSTRUCTION)
    assert [p.id for p in points[:4]] == [kept[i] for i in expected_order(final)]
    assert [p.id for p in points[4:]] == expected_order(first)[4:]


def test_an_instruction_for_a_cross_encoder_is_a_config_error(qdrant, tiny_bert):
    client = vecrank.wrap(qdrant, {"collections": {"docs": {"model": str(tiny_bert), "instruction": "x"}}})
    with pytest.raises(vecrank.RerankError, match="takes no instruction") as raised:
        client.query_points("docs", query=[1.0, 0.0], limit=3, rerank_query=QUERY)
    assert isinstance(raised.value.__cause__, ConfigError)
    with pytest.raises(ConfigError, match="on the stage whose model takes it"):
        vecrank.load_config(
            {"defaults": {"stages": [{"model": "a", "keep": 2}, {"model": "b"}], "instruction": "x"}}
        )


@pytest.fixture(scope="module")
def served(qwen3, tiny_bert):
    settings = ServerSettings(models={"qwen": qwen3, "bert": str(tiny_bert)}, port=0, api_key=API_KEY)
    with running_server(settings) as url:
        yield url


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)


def test_serve_answers_every_route_with_the_engines_scores(served, engine):
    logits = engine.predict([(QUERY, text) for text in TEXTS])
    tei = post(
        served, "/rerank", {"model": "qwen", "query": QUERY, "texts": TEXTS, "raw_scores": True}
    ).json()
    assert [item["index"] for item in tei] == expected_order(logits)
    np.testing.assert_allclose([item["score"] for item in tei], np.sort(logits)[::-1], atol=1e-5)
    probabilities = 1 / (1 + np.exp(-logits))
    for path in ("/v2/rerank", "/v1/rerank"):
        body = post(served, path, {"model": "qwen", "query": QUERY, "documents": TEXTS}).json()
        assert [r["index"] for r in body["results"]] == expected_order(logits)
        np.testing.assert_allclose(
            [r["relevance_score"] for r in body["results"]], np.sort(probabilities)[::-1], atol=1e-5
        )


def test_serve_takes_an_instruction_per_request(served, engine):
    logits = engine.predict([(QUERY, text) for text in TEXTS], instruction=INSTRUCTION)
    body = {"model": "qwen", "query": QUERY, "texts": TEXTS, "raw_scores": True, "instruction": INSTRUCTION}
    answer = post(served, "/rerank", body).json()
    np.testing.assert_allclose(sorted(item["score"] for item in answer), np.sort(logits), atol=1e-5)
    refused = post(served, "/rerank", {**body, "model": "bert"})
    assert refused.status_code == 409
    assert "takes no instruction" in refused.json()["error"]


def test_a_server_started_in_a_fresh_process_loads_the_templates(qwen3, engine):
    """A program (or a Ray replica) that starts the server has loaded no plugin: the service loads them."""
    script = (
        "import sys, json\n"
        "from vecrank.server import ServerSettings\n"
        "from vecrank.server.service import RerankService\n"
        "service = RerankService.load(ServerSettings(models={'qwen': sys.argv[1]}))\n"
        "pairs = [(sys.argv[2], text) for text in json.loads(sys.argv[3])]\n"
        "print(json.dumps(service.reranker('qwen').predict(pairs).tolist()))\n"
    )
    command = [sys.executable, "-c", script, qwen3, QUERY, json.dumps(TEXTS)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    scores = json.loads(finished.stdout.splitlines()[-1])
    np.testing.assert_allclose(scores, engine.predict([(QUERY, text) for text in TEXTS]), atol=1e-5)


def test_remote_scorer_sends_the_collection_instruction(served, qdrant, engine):
    config = {
        "collections": {"docs": {"model": served, "instruction": INSTRUCTION, "remote": {"model": "qwen"}}}
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VECRANK_API_KEY", API_KEY)
        points = vecrank.wrap(qdrant, config).query_points(
            "docs", query=[1.0, 0.0], limit=8, rerank_query=QUERY
        )
    scores = engine.predict([(QUERY, text) for text in TEXTS], instruction=INSTRUCTION)
    assert [p.id for p in points.points] == expected_order(scores)
    with pytest.raises(vecrank.RerankError, match="takes no instruction"):
        tei = {"model": served, "instruction": INSTRUCTION, "remote": {"protocol": "tei"}}
        vecrank.wrap(qdrant, {"collections": {"docs": tei}}).query_points(
            "docs", query=[1.0, 0.0], limit=3, rerank_query=QUERY
        )


def test_framework_post_processor_takes_the_instruction(qwen3, engine):
    from langchain_core.documents import Document

    from vecrank.integrations.langchain import VecrankRerank

    documents = [Document(page_content=text) for text in TEXTS]
    ranked = VecrankRerank(model=qwen3, instruction=INSTRUCTION, top_n=3).compress_documents(documents, QUERY)
    scores = engine.predict([(QUERY, text) for text in TEXTS], instruction=INSTRUCTION)
    assert [d.page_content for d in ranked] == [TEXTS[i] for i in expected_order(scores)[:3]]


def test_weaviate_collection_reranks_with_its_instruction(qwen3, engine):
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Timeout
    from weaviate.classes.query import MetadataQuery, Rerank

    from vecrank.testing.weaviate_server import WeaviateStandIn

    with WeaviateStandIn(embed=lambda text: [1.0, 0.0]) as server:
        server.add_collection("Docs", {"text": "text"})
        for i, text in enumerate(TEXTS):
            server.add_object("Docs", {"text": text}, vector=[1.0, 0.1 * i])
        timeouts = AdditionalConfig(timeout=Timeout(init=5, query=30, insert=10))
        with weaviate.connect_to_custom(**server.connection_kwargs, additional_config=timeouts) as client:
            config = {"collections": {"docs": {"model": qwen3, "instruction": INSTRUCTION}}}
            docs = vecrank.wrap(client, config).collections.get("Docs")
            result = docs.query.near_vector(
                [1.0, 0.0], limit=4, rerank=Rerank(prop="text", query=QUERY), return_metadata=MetadataQuery()
            )
    scores = engine.predict([(QUERY, text) for text in TEXTS], instruction=INSTRUCTION)
    assert [obj.properties["text"] for obj in result.objects] == [
        TEXTS[i] for i in expected_order(scores)[:4]
    ]


def test_an_instruction_for_a_plugin_reranker_that_takes_none_is_a_config_error():
    from vecrank.plugins import get_scorer

    with pytest.raises(ConfigError, match="'minilm-bi' .*takes no instruction"):
        get_scorer(vecrank.CollectionConfig(model="minilm-bi", instruction="find it"))
