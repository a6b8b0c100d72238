"""Each protocol's finer points, checked against token-level truth and the real cohere SDK: Cohere
``max_tokens_per_doc`` and ``meta``, Jina ``usage`` and ``detail``, TEI truncation direction and
``truncate: false``; served names instead of folder paths; the key's scope; OpenAPI schemas."""

from __future__ import annotations

import math

import cohere
import httpx
import pytest
import torch
from server_helpers import API_KEY, AUTH, QUERIES, small_settings

from vecrank.core import CrossEncoderReranker
from vecrank.server import running_server
from vecrank.server.schemas import CohereMeta

QUERY = QUERIES[0]


@pytest.fixture(scope="module")
def words(reranker: CrossEncoderReranker) -> list[str]:
    """Words the tiny tokenizer reads as one token each, so token counts and text cuts line up."""
    candidates = [
        "the",
        "river",
        "runs",
        "through",
        "city",
        "book",
        "music",
        "history",
        "people",
        "capital",
        "weather",
        "school",
    ]
    return [w for w in candidates if len(reranker.tokenizer(w, add_special_tokens=False)["input_ids"]) == 1]


def long_document(words: list[str], count: int, offset: int = 0) -> str:
    return " ".join(words[(i + offset) % len(words)] for i in range(count))


@pytest.fixture(scope="module")
def plain_model(model_path: str):
    """The same weights as plain transformers loads them: the truth the engine is checked against."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(model_path).eval()


def token_logit(
    reranker: CrossEncoderReranker, plain_model, query: str, document: str, tokens: int, side: str
) -> float:
    """The model's logit on the query and the document cut to ``tokens`` tokens on ``side``, cut as token
    ids (not text), as the protocol defines the truncation."""
    backend = reranker.tokenizer.backend_tokenizer
    document_ids = backend.encode(document, add_special_tokens=False)
    document_ids.truncate(tokens, direction=side)
    pair = backend.post_processor.process(
        backend.encode(query, add_special_tokens=False), document_ids, add_special_tokens=True
    )
    inputs = {
        "input_ids": torch.tensor([pair.ids]),
        "attention_mask": torch.ones(1, len(pair.ids), dtype=torch.long),
        "token_type_ids": torch.tensor([pair.type_ids]),
    }
    with torch.inference_mode():
        return float(plain_model(**inputs).logits[0, 0])


def logit(probability: float) -> float:
    return math.log(probability / (1 - probability))


@pytest.mark.parametrize("max_tokens", [1, 2, 5, 4096])
def test_cohere_max_tokens_per_doc_keeps_each_documents_first_tokens(
    base_url: str, reranker: CrossEncoderReranker, plain_model, words: list[str], max_tokens: int
) -> None:
    documents = [long_document(words, 250), long_document(words, 3, offset=2), ""]
    client = cohere.ClientV2(api_key=API_KEY, base_url=base_url)
    answer = client.rerank(model="tiny", query=QUERY, documents=documents, max_tokens_per_doc=max_tokens)
    assert answer.meta.api_version.version == "2"
    assert answer.meta.billed_units.search_units == 1
    budget = reranker.max_length - 3 - len(reranker.tokenizer(QUERY, add_special_tokens=False)["input_ids"])
    for result in answer.results:
        truth = token_logit(
            reranker, plain_model, QUERY, documents[result.index], min(max_tokens, budget), "right"
        )
        assert logit(result.relevance_score) == pytest.approx(truth, abs=1e-4)


@pytest.mark.parametrize("direction", ["Left", "left", "Right", "right"])
def test_tei_truncation_direction(
    client: httpx.Client, reranker: CrossEncoderReranker, plain_model, words: list[str], direction: str
) -> None:
    document = long_document(words, 250)
    body = {"query": QUERY, "texts": [document], "raw_scores": True, "truncation_direction": direction}
    response = client.post("/rerank", json=body)
    assert response.status_code == 200, response.text
    budget = reranker.max_length - 3 - len(reranker.tokenizer(QUERY, add_special_tokens=False)["input_ids"])
    truth = token_logit(reranker, plain_model, QUERY, document, budget, direction.lower())
    assert response.json()[0]["score"] == pytest.approx(truth, abs=1e-4)


def test_tei_truncate_false_refuses_a_too_long_pair_with_413(client: httpx.Client, words: list[str]) -> None:
    texts = ["short text", long_document(words, 250)]
    response = client.post("/rerank", json={"query": QUERY, "texts": texts, "truncate": False})
    assert response.status_code == 413
    assert response.json()["error_type"] == "validation" and "`texts[1]`" in response.json()["error"]
    fits = client.post("/rerank", json={"query": QUERY, "texts": texts[:1], "truncate": False})
    assert fits.status_code == 200


def test_jina_usage_counts_the_tokens_scored(
    client: httpx.Client, reranker: CrossEncoderReranker, words: list[str]
) -> None:
    documents = ["short text", long_document(words, 250), {"text": "the city"}]
    body = {"model": "tiny", "query": QUERY, "documents": documents, "top_n": 2, "return_documents": False}
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200
    texts = [d if isinstance(d, str) else d["text"] for d in documents]
    encoded = reranker.tokenizer(
        [QUERY] * 3, texts, truncation="longest_first", max_length=reranker.max_length
    )
    answer = response.json()
    assert answer["usage"] == {"total_tokens": sum(len(ids) for ids in encoded["input_ids"])}
    assert answer["model"] == "tiny" and len(answer["results"]) == 2
    assert answer["meta"]["api_version"]["version"] == "1"
    assert all(set(result) == {"index", "relevance_score"} for result in answer["results"])


def test_jina_errors_carry_detail(client: httpx.Client) -> None:
    response = client.post("/v1/rerank", json={"model": "nope", "query": "q", "documents": ["a"]})
    assert response.status_code == 404
    assert response.json()["detail"] == response.json()["message"]
    assert "'nope'" in response.json()["detail"]


def test_cohere_v1_sdk_reads_meta(base_url: str) -> None:
    answer = cohere.Client(api_key=API_KEY, base_url=base_url).rerank(
        model="tiny", query=QUERY, documents=[f"doc {i}" for i in range(50)], top_n=3
    )
    assert len(answer.results) == 3
    assert answer.meta.api_version.version == "1" and answer.meta.billed_units.search_units == 1
    assert CohereMeta.of("1", 150).billed_units.search_units == 2  # Cohere's rule: 100 documents a unit


def test_model_served_by_path_is_named_by_its_folder(model_path: str, tmp_path) -> None:
    settings = small_settings(model_path, models={model_path: model_path})
    name = model_path.rstrip("/").rsplit("/", 1)[-1]
    with running_server(settings) as url:
        answer = httpx.post(url + "/v1/rerank", json={"query": "q", "documents": ["a"]}, headers=AUTH).json()
        missing = httpx.post(
            url + "/v1/rerank", json={"model": "x", "query": "q", "documents": ["a"]}, headers=AUTH
        )
        meta = httpx.get(url + "/meta", headers=AUTH).text
    assert answer["model"] == name
    assert name in missing.json()["message"] and model_path not in missing.text
    assert model_path not in meta and name in meta


DOCS = ["/docs", "/redoc", "/openapi.json", "/health"]


def test_the_key_covers_the_api_routes_by_default(base_url: str) -> None:
    for path in DOCS + ["/.well-known/live", "/.well-known/ready"]:
        assert httpx.get(base_url + path).status_code in (200, 204), path
    for path in ["/meta", "/metrics"]:
        assert httpx.get(base_url + path).status_code == 401


def test_key_scope_all_covers_docs_and_health_too(model_path: str) -> None:
    with running_server(small_settings(model_path, api_key_scope="all")) as url:
        for path in DOCS:
            refused = httpx.get(url + path)
            assert refused.status_code == 401 and "missing API key" in refused.json()["error"], path
            assert httpx.get(url + path, headers=AUTH).status_code == 200, path
        assert httpx.get(url + "/.well-known/ready").status_code == 204  # probes stay open
        assert httpx.get(url + "/openapi.json", headers=AUTH).json()["paths"]["/rerank"]


def test_weaviate_module_without_key_next_to_keyed_routes(model_path: str) -> None:
    with running_server(small_settings(model_path, weaviate_without_key=True)) as url:
        weaviate = httpx.post(url + "/rerank", json={"query": "q", "documents": ["a", "b"]})
        assert weaviate.status_code == 200 and len(weaviate.json()["scores"]) == 2
        assert httpx.post(url + "/rerank", json={"query": "q", "property": "a"}).status_code == 200
        assert httpx.get(url + "/meta").status_code == 200
        assert httpx.post(url + "/rerank", json={"query": "q", "texts": ["a"]}).status_code == 401  # TEI
        assert httpx.post(url + "/v2/rerank", json={"query": "q", "documents": ["a"]}).status_code == 401
        assert httpx.post(url + "/v1/rerank", json={"query": "q", "documents": ["a"]}).status_code == 401
        assert httpx.get(url + "/metrics").status_code == 401
        assert (
            httpx.post(url + "/rerank", json={"query": "q", "texts": ["a"]}, headers=AUTH).status_code == 200
        )


def test_openapi_has_request_and_response_schemas_for_every_route(base_url: str) -> None:
    document = httpx.get(base_url + "/openapi.json").json()
    schemas = document["components"]["schemas"]

    def resolved(schema: dict) -> list[dict]:
        options = schema.get("anyOf", [schema])
        return [schemas[option["$ref"].rsplit("/", 1)[1]] for option in options]

    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation["responses"], (path, method)
            if method == "post":
                request = resolved(operation["requestBody"]["content"]["application/json"]["schema"])
                assert all("query" in schema["required"] for schema in request), path
                for status in ("200", "400", "422", "500", "503"):
                    assert resolved(operation["responses"][status]["content"]["application/json"]["schema"])
    assert set(document["paths"]) >= {"/rerank", "/v1/rerank", "/v2/rerank", "/health", "/meta", "/metrics"}
    tei = schemas["TeiRerankRequest"]["properties"]
    assert set(tei["truncation_direction"]["enum"]) >= {"Left", "Right"}
    assert schemas["CohereRerankRequest"]["properties"]["max_tokens_per_doc"]["anyOf"][0]["minimum"] == 1
    assert all(ref.startswith("#/components/schemas/") for ref in _refs(document))


def _refs(value) -> list[str]:
    if isinstance(value, dict):
        return [value["$ref"]] if "$ref" in value else [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []
