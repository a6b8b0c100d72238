"""Every protocol answers with the engine's own scores, in its own shape: httpx and the real cohere SDK."""

from __future__ import annotations

import json
import logging
import math
import time

import cohere
import httpx
import pytest
from server_helpers import API_KEY, AUTH, DOCUMENTS, QUERIES

from vecrank.server import ServerSettings, running_server
from vecrank.server.logs import JsonFormatter

QUERY = QUERIES[0]
TOLERANCE = 1e-5


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def best_first(expected: dict, query: str, documents: list[str]) -> list[int]:
    logits = [expected[(query, d)] for d in documents]
    return sorted(range(len(documents)), key=lambda i: (-logits[i], i))


def test_weaviate_module_probes_and_meta(client: httpx.Client) -> None:
    assert client.get("/.well-known/live").status_code == 204
    assert client.get("/.well-known/ready").status_code == 204
    meta = client.get("/meta").json()
    assert meta["model"]["model_type"] == "bert"
    assert meta["model"]["id2label"] == {"0": "LABEL_0"}
    assert meta["vecrank"]["models"] == ["tiny", "rerank-v3.5", "default"]
    assert "_name_or_path" not in meta["model"]


def test_weaviate_module_rerank_keeps_document_order(client: httpx.Client, expected: dict) -> None:
    response = client.post("/rerank", json={"query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == QUERY and body["property"] is None and body["score"] is None
    assert [item["document"] for item in body["scores"]] == DOCUMENTS
    for item in body["scores"]:
        assert item["score"] == pytest.approx(sigmoid(expected[(QUERY, item["document"])]), abs=TOLERANCE)


def test_weaviate_module_single_property(client: httpx.Client, expected: dict) -> None:
    body = client.post("/rerank", json={"query": QUERY, "property": DOCUMENTS[1]}).json()
    assert body["property"] == DOCUMENTS[1] and body["scores"] is None
    assert body["score"] == pytest.approx(sigmoid(expected[(QUERY, DOCUMENTS[1])]), abs=TOLERANCE)


def test_tei_rerank_sorted_with_sigmoid_or_raw_scores(client: httpx.Client, expected: dict) -> None:
    order = best_first(expected, QUERY, DOCUMENTS)
    ranks = client.post("/rerank", json={"query": QUERY, "texts": DOCUMENTS}).json()
    assert [rank["index"] for rank in ranks] == order
    assert all("text" not in rank for rank in ranks)
    for rank in ranks:
        assert rank["score"] == pytest.approx(
            sigmoid(expected[(QUERY, DOCUMENTS[rank["index"]])]), abs=TOLERANCE
        )

    raw = client.post(
        "/rerank", json={"query": QUERY, "texts": DOCUMENTS, "raw_scores": True, "return_text": True}
    ).json()
    assert [rank["index"] for rank in raw] == order
    for rank in raw:
        assert rank["text"] == DOCUMENTS[rank["index"]]
        assert rank["score"] == pytest.approx(expected[(QUERY, rank["text"])], abs=TOLERANCE)


def test_cohere_v2_over_http(client: httpx.Client, expected: dict) -> None:
    body = client.post(
        "/v2/rerank", json={"model": "tiny", "query": QUERY, "documents": DOCUMENTS, "top_n": 3}
    ).json()
    assert set(body) == {"id", "results", "meta"}
    assert [r["index"] for r in body["results"]] == best_first(expected, QUERY, DOCUMENTS)[:3]
    for result in body["results"]:
        score = result["relevance_score"]
        assert 0 <= score <= 1
        assert score == pytest.approx(sigmoid(expected[(QUERY, DOCUMENTS[result["index"]])]), abs=TOLERANCE)


def test_cohere_v2_with_the_cohere_sdk(base_url: str, expected: dict) -> None:
    client = cohere.ClientV2(api_key=API_KEY, base_url=base_url, timeout=30)
    response = client.rerank(model="rerank-v3.5", query=QUERIES[1], documents=DOCUMENTS, top_n=5)
    assert response.id
    assert response.meta.api_version.version == "2"
    assert [r.index for r in response.results] == best_first(expected, QUERIES[1], DOCUMENTS)[:5]
    for result in response.results:
        wanted = sigmoid(expected[(QUERIES[1], DOCUMENTS[result.index])])
        assert result.relevance_score == pytest.approx(wanted, abs=TOLERANCE)


async def test_cohere_v2_with_the_async_cohere_sdk(base_url: str, expected: dict) -> None:
    client = cohere.AsyncClientV2(api_key=API_KEY, base_url=base_url, timeout=30)
    response = await client.rerank(
        model="tiny", query=QUERIES[2], documents=DOCUMENTS, max_tokens_per_doc=4096
    )
    assert [r.index for r in response.results] == best_first(expected, QUERIES[2], DOCUMENTS)


def test_cohere_v1_with_the_cohere_sdk(base_url: str, expected: dict) -> None:
    client = cohere.Client(api_key=API_KEY, base_url=base_url, timeout=30)
    response = client.rerank(model="tiny", query=QUERY, documents=DOCUMENTS, top_n=4, return_documents=True)
    assert [r.index for r in response.results] == best_first(expected, QUERY, DOCUMENTS)[:4]
    for result in response.results:
        assert result.document.text == DOCUMENTS[result.index]
        wanted = sigmoid(expected[(QUERY, DOCUMENTS[result.index])])
        assert result.relevance_score == pytest.approx(wanted, abs=TOLERANCE)


def test_jina_shape_with_text_objects(client: httpx.Client, expected: dict) -> None:
    documents = [{"text": d} for d in DOCUMENTS]
    body = client.post("/v1/rerank", json={"model": "tiny", "query": QUERY, "documents": documents}).json()
    assert body["model"] == "tiny"
    assert [r["index"] for r in body["results"]] == best_first(expected, QUERY, DOCUMENTS)
    for result in body["results"]:
        assert result["document"] == {"text": DOCUMENTS[result["index"]]}
        wanted = sigmoid(expected[(QUERY, DOCUMENTS[result["index"]])])
        assert result["relevance_score"] == pytest.approx(wanted, abs=TOLERANCE)

    bare = client.post(
        "/v1/rerank",
        json={"model": "tiny", "query": QUERY, "documents": DOCUMENTS, "top_n": 2, "return_documents": False},
    ).json()
    assert [set(r) for r in bare["results"]] == [{"index", "relevance_score"}] * 2


def test_cohere_v1_rank_fields_score_the_named_fields(client: httpx.Client) -> None:
    documents = [{"title": "berlin", "body": DOCUMENTS[0]}, {"title": "cats", "body": DOCUMENTS[2]}]
    body = client.post(
        "/v1/rerank", json={"model": "tiny", "query": QUERY, "documents": documents, "rank_fields": ["title"]}
    ).json()
    assert sorted(r["index"] for r in body["results"]) == [0, 1]
    assert body["results"][0]["document"] in documents


def test_model_picks_an_alias_and_default_works(client: httpx.Client) -> None:
    for model in ("tiny", "rerank-v3.5", "default"):
        response = client.post(
            "/v2/rerank", json={"model": model, "query": QUERY, "documents": DOCUMENTS[:2]}
        )
        assert response.status_code == 200, response.text


def test_each_request_is_logged_as_structured_fields(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() == "request" and r.fields["path"] == "/v2/rerank"]

    with caplog.at_level(logging.INFO, logger="vecrank.server"):
        client.post("/v2/rerank", json={"model": "tiny", "query": QUERY, "documents": DOCUMENTS[:3]})
        deadline = time.monotonic() + 5  # the line is written once the answer has been sent
        while not logged() and time.monotonic() < deadline:
            time.sleep(0.01)
    record = logged()[0]
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["level"] == "info"
    assert (line["status"], line["protocol"], line["model"], line["documents"]) == (
        200,
        "cohere-v2",
        "tiny",
        3,
    )
    assert line["ms"] > 0


def test_cors_is_off_unless_configured(base_url: str, model_path: str) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert (
        "access-control-allow-origin" not in httpx.options(base_url + "/v2/rerank", headers=preflight).headers
    )
    settings = ServerSettings(models={"tiny": model_path}, port=0, cors_origins=("https://app.example",))
    with running_server(settings) as url:
        allowed = httpx.options(
            url + "/v2/rerank", headers={**preflight, "Access-Control-Request-Headers": "authorization"}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = httpx.post(
            url + "/rerank",
            json={"query": QUERY, "texts": ["a"]},
            headers={"Origin": "https://evil.example", **AUTH},
        )
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
