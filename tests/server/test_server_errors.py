"""Bad requests get the right status and a message naming the field, and the server keeps serving."""

from __future__ import annotations

import cohere
import httpx
import pytest
from server_helpers import API_KEY, AUTH, DOCUMENTS, QUERIES

QUERY = QUERIES[0]

# (path, body, status, words the message must contain, error key: TEI/Weaviate "error", Cohere/Jina "message")
CASES = [
    ("/rerank", b"{not json", 400, ["not valid JSON"], "error"),
    ("/v2/rerank", b"", 400, ["not valid JSON"], "message"),
    ("/v1/rerank", b'{"query": "q", "documents": [', 400, ["not valid JSON"], "message"),
    ("/rerank", [1, 2], 422, ["JSON object", "list"], "error"),
    ("/rerank", {"query": "q", "texts": ["a", 3]}, 422, ["`texts.1`", "valid string"], "error"),
    ("/rerank", {"query": 7, "documents": ["a"]}, 422, ["`query`", "valid string"], "error"),
    ("/rerank", {"query": "q"}, 422, ["`documents`", "`property`"], "error"),
    ("/v2/rerank", {"model": "tiny", "documents": ["a"]}, 422, ["`query`", "Field required"], "message"),
    (
        "/v2/rerank",
        {"model": "tiny", "query": "q", "documents": "a"},
        422,
        ["`documents`", "list"],
        "message",
    ),
    (
        "/v2/rerank",
        {"model": "tiny", "query": "q", "documents": ["a"], "top_n": 0},
        422,
        ["`top_n`"],
        "message",
    ),
    (
        "/v1/rerank",
        {"query": "q", "documents": [{"text": 1}]},
        422,
        ["`documents.0.dict[str,str].text`", "valid string"],
        "message",
    ),
    ("/v1/rerank", {"query": "q", "documents": [{"body": "x"}]}, 422, ["documents[0]", "'text'"], "message"),
    ("/rerank", {"query": "q", "texts": []}, 400, ["`texts` cannot be empty"], "error"),
    (
        "/v2/rerank",
        {"model": "tiny", "query": "q", "documents": []},
        400,
        ["`documents` cannot be empty"],
        "message",
    ),
    ("/v1/rerank", {"query": "q", "documents": []}, 400, ["`documents` cannot be empty"], "message"),
    ("/rerank", {"query": "q", "texts": ["a"] * 65}, 413, ["`texts` holds 65", "at most 64"], "error"),
    ("/v2/rerank", {"query": "q", "documents": ["a"] * 65}, 413, ["`documents` holds 65"], "message"),
    (
        "/rerank",
        {"query": "q", "documents": ["a", "b" * 2001]},
        422,
        ["`documents[1]`", "2001", "2000"],
        "error",
    ),
    ("/v2/rerank", {"query": "q", "documents": ["x" * 1000] * 250}, 413, ["max_request_bytes"], "message"),
    ("/v2/rerank", {"query": "q" * 501, "documents": ["a"]}, 422, ["`query`", "501", "500"], "message"),
    ("/v2/rerank", {"model": "gpt-4", "query": "q", "documents": ["a"]}, 404, ["'gpt-4'", "tiny"], "message"),
    (
        "/v1/rerank",
        {"model": "nope", "query": "q", "documents": ["a"]},
        404,
        ["default, rerank-v3.5, tiny"],
        "message",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "words", "key"), CASES)
def test_bad_request(client: httpx.Client, path: str, body, status: int, words: list[str], key: str) -> None:
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert response.status_code == status, response.text
    message = response.json()[key]
    for word in words:
        assert word in message
    if key == "error":
        assert response.json()["error_type"]


def test_weaviate_module_accepts_an_empty_document_list(client: httpx.Client) -> None:
    response = client.post("/rerank", json={"query": QUERY, "documents": []})
    assert response.status_code == 200
    assert response.json()["scores"] == []


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer wrong"}, "wrong API key"),
        ({"Authorization": API_KEY}, "wrong"),
    ],
)
def test_api_key_is_required(base_url: str, headers: dict, words: str) -> None:
    for path, body in [
        ("/rerank", {"query": QUERY, "texts": DOCUMENTS}),
        ("/v2/rerank", {"model": "tiny", "query": QUERY, "documents": DOCUMENTS}),
        ("/v1/rerank", {"query": QUERY, "documents": DOCUMENTS}),
    ]:
        response = httpx.post(base_url + path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert words in response.text
    assert httpx.get(base_url + "/metrics", headers=headers).status_code == 401
    assert httpx.get(base_url + "/health").json() == {"status": "ok"}  # probes need no key; no queue state
    assert httpx.get(base_url + "/health", headers=AUTH).json() == {"status": "ok", "queue_pairs": 0}
    assert httpx.get(base_url + "/health", headers=headers).json() == {"status": "ok"}  # a wrong key
    assert httpx.get(base_url + "/.well-known/ready").status_code == 204


def test_cohere_sdk_sees_typed_errors(base_url: str) -> None:
    with pytest.raises(cohere.NotFoundError) as found:
        cohere.ClientV2(api_key=API_KEY, base_url=base_url).rerank(model="nope", query="q", documents=["a"])
    assert "tiny" in found.value.body["message"]
    with pytest.raises(cohere.UnauthorizedError):
        cohere.ClientV2(api_key="bad", base_url=base_url).rerank(model="tiny", query="q", documents=["a"])


def test_server_keeps_serving_after_bad_requests(client: httpx.Client, expected: dict) -> None:
    for path, body, *_ in CASES:
        client.post(path, content=body) if isinstance(body, bytes) else client.post(path, json=body)
    ranks = client.post("/rerank", json={"query": QUERY, "texts": DOCUMENTS, "raw_scores": True}).json()
    for rank in ranks:
        assert rank["score"] == pytest.approx(expected[(QUERY, DOCUMENTS[rank["index"]])], abs=1e-5)


def test_errors_keep_their_status_through_pickle() -> None:
    """How a Ray replica's refusal reaches the ingress: the 409 stays a 409, not the ingress's 500."""
    import pickle

    from vecrank.server.errors import ApiError, Overloaded, Unavailable

    for error in (ApiError(409, "`instruction`: no", "conflict"), Overloaded("full"), Unavailable()):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert vars(copy) == vars(error)
