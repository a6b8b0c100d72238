"""Hostile input: invalid Unicode, deep JSON, an engine failing on one text, hang-ups, shutdown timeouts.

One bad request never fails another, and every answer is JSON in the protocol's own shape.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from server_helpers import AUTH, DOCUMENTS, QUERIES, GatedReranker, queued, small_settings, wait_until

from vecrank.server import running_server

QUERY = QUERIES[0]

# The same bad text through every protocol: (path, body, field named in the error, error key)
SURROGATE_CASES = [
    ("/rerank", '{"query": "x", "documents": ["a", "a\\ud800"]}', "documents[1]", "error"),
    ("/rerank", '{"query": "x", "texts": ["a\\udfff b"]}', "texts[0]", "error"),
    ("/rerank", '{"query": "\\udabf", "documents": []}', "query", "error"),
    ("/v2/rerank", '{"query": "x", "documents": ["ok", "ok", "\\ud800"]}', "documents[2]", "message"),
    (
        "/v1/rerank",
        '{"query": "x", "documents": [{"text": "\\ud800", "id": "1"}]}',
        "documents[0].text",
        "detail",
    ),
]


@pytest.mark.parametrize(("path", "body", "field", "key"), SURROGATE_CASES)
def test_text_utf8_cannot_encode_is_refused_naming_field_and_index(
    client: httpx.Client, path: str, body: str, field: str, key: str
) -> None:
    response = client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert f"`{field}`" in response.json()[key] and "surrogate" in response.json()[key]


def test_raw_surrogate_bytes_are_refused_too(client: httpx.Client) -> None:
    body = b'{"query": "x", "texts": ["fine", "a\xed\xa0\x80"]}'  # what a lone surrogate is in raw UTF-8
    response = client.post("/rerank", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert response.json()["error_type"] == "validation"


@pytest.mark.parametrize(
    ("path", "key"), [("/rerank", "error"), ("/v2/rerank", "message"), ("/v1/rerank", "detail")]
)
def test_deeply_nested_json_is_a_json_400(client: httpx.Client, path: str, key: str) -> None:
    response = client.post(path, content=b"[" * 100_000, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()[key]
    nested = b'{"query": "q", "documents": ["a"], "extra": ' + b"[" * 900 + b"]" * 900 + b"}"
    response = client.post(path, content=nested, headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 400), response.text  # parsed and walked without recursion


def test_unknown_routes_and_methods_answer_in_the_protocols_shape(base_url: str) -> None:
    assert httpx.get(base_url + "/rerank", headers=AUTH).json() == {
        "error": "Method Not Allowed",
        "error_type": "validation",
    }
    assert httpx.post(base_url + "/v1/nothing", headers=AUTH).json() == {
        "message": "Not Found",
        "detail": "Not Found",
    }


def test_engine_failure_on_one_text_fails_only_that_request(
    model_path: str, gated: GatedReranker, expected: dict
) -> None:
    gated.poison = "POISON"
    innocent = [
        ("/rerank", {"query": QUERY, "texts": DOCUMENTS[:4], "raw_scores": True}),
        ("/rerank", {"query": QUERY, "documents": DOCUMENTS[4:6]}),
        ("/v2/rerank", {"model": "tiny", "query": QUERY, "documents": DOCUMENTS[6:9]}),
        ("/v1/rerank", {"query": QUERY, "documents": DOCUMENTS[9:12]}),
    ]
    guilty = ("/rerank", {"query": QUERY, "texts": ["fine", "POISON text"]})
    settings = small_settings(model_path, max_wait_ms=200)
    with running_server(settings, {model_path: gated}) as url, ThreadPoolExecutor(8) as pool:

        def send(path: str, body: dict) -> httpx.Response:
            return httpx.post(url + path, json=body, headers=AUTH, timeout=30)

        blocker = pool.submit(send, "/rerank", {"query": QUERY, "texts": DOCUMENTS[:1]})
        assert gated.entered.wait(10)  # the engine is busy: what follows is merged into one call
        answers = [pool.submit(send, *request) for request in [*innocent[:2], guilty, *innocent[2:]]]
        wait_until(lambda: queued(url) == 14)
        gated.gate.set()
        assert blocker.result().status_code == 200
        responses = [answer.result() for answer in answers]
    failed = responses.pop(2)
    assert failed.status_code == 500
    assert failed.json()["error_type"] == "backend" and "RuntimeError" in failed.json()["error"]
    assert any(
        any("POISON" in d for _, d in call) and any(d == DOCUMENTS[0] for _, d in call)
        for call in gated.calls
    ), "the guilty request was never merged with the others"
    for (path, body), response in zip(innocent, responses):
        assert response.status_code == 200, response.text
        documents = body.get("texts") or body["documents"]
        if path == "/rerank" and "texts" in body:
            scores = {rank["index"]: rank["score"] for rank in response.json()}
        elif path == "/rerank":
            scores = {
                i: np.log(s["score"] / (1 - s["score"])) for i, s in enumerate(response.json()["scores"])
            }
        else:
            scores = {
                r["index"]: np.log(r["relevance_score"] / (1 - r["relevance_score"]))
                for r in response.json()["results"]
            }
        for index, score in scores.items():
            assert score == pytest.approx(expected[(QUERY, documents[index])], abs=1e-4)


def test_client_hanging_up_mid_body_is_no_server_error(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    def codes() -> dict[str, float]:
        """Requests by status code, over every protocol."""
        text = httpx.get(base_url + "/metrics", headers=AUTH).text
        counts: dict[str, float] = {}
        for code, value in re.findall(r'vecrank_requests_total\{code="(\d+)",[^}]*\} (\S+)', text):
            counts[code] = counts.get(code, 0) + float(value)
        return counts

    before = codes()
    address = urlsplit(base_url)
    with (
        caplog.at_level(logging.INFO, logger="vecrank.server"),
        socket.create_connection((address.hostname, address.port)) as connection,
    ):
        connection.sendall(
            b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {AUTH['Authorization']}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"query": "q", "texts": ['
        )
        connection.shutdown(socket.SHUT_RDWR)
    wait_until(lambda: codes().get("499", 0) > before.get("499", 0))
    assert codes().get("500", 0) == before.get("500", 0)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_shutdown_timeout_answers_json_503(model_path: str, gated: GatedReranker) -> None:
    server = running_server(small_settings(model_path, shutdown_timeout=0.5), {model_path: gated})
    url = server.__enter__()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(
            httpx.post,
            url + "/v1/rerank",
            json={"query": QUERY, "documents": ["a"]},
            headers=AUTH,
            timeout=30,
        )
        assert gated.entered.wait(10)
        stopping = threading.Thread(target=server.__exit__, args=(None, None, None), daemon=True)
        stopping.start()
        response = answer.result(timeout=20)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert "shutting down" in body["message"] and body["detail"] == body["message"]
    gated.gate.set()
    stopping.join(30)


class BrokenConfig(GatedReranker):
    """A reranker whose model config cannot be read: /meta fails in a way no route expects."""

    @property
    def model(self):
        raise RuntimeError("config unreadable")


def test_unexpected_error_is_a_json_500_in_the_protocols_shape(model_path: str, reranker) -> None:
    broken = BrokenConfig(reranker)
    broken.gate.set()
    with running_server(small_settings(model_path), {model_path: broken}) as url:
        response = httpx.get(url + "/meta", headers=AUTH)
        assert response.status_code == 500
        assert response.json() == {"error": "internal error: RuntimeError", "error_type": "backend"}
        assert (
            httpx.post(url + "/rerank", json={"query": "q", "texts": ["a"]}, headers=AUTH).status_code == 200
        )


def test_small_request_is_served_before_a_big_request_ends(model_path: str, gated: GatedReranker) -> None:
    big = [f"{word} " * 60 for word in ("river", "city", "book", "music", "people", "school")] * 4
    small = ["the cat", "the dog"]
    settings = small_settings(model_path, chunk_tokens=256, max_documents=64)
    with running_server(settings, {model_path: gated}) as url, ThreadPoolExecutor(2) as pool:

        def send(documents: list[str]) -> httpx.Response:
            body = {"model": "tiny", "query": QUERY, "documents": documents}
            return httpx.post(url + "/v2/rerank", json=body, headers=AUTH, timeout=30)

        big_answer = pool.submit(send, big)
        assert gated.entered.wait(10)  # the big request's first chunk is in the engine
        small_answer = pool.submit(send, small)
        wait_until(lambda: queued(url) == len(big) - len(gated.calls[0]) + len(small))
        gated.gate.set()
        assert big_answer.result().status_code == 200 and small_answer.result().status_code == 200
    holds = [{document for _, document in call} for call in gated.calls]
    small_call = next(i for i, documents in enumerate(holds) if "the cat" in documents)
    last_big_call = max(i for i, documents in enumerate(holds) if documents & set(big))
    assert len(holds) >= 4 and small_call == 1 < last_big_call  # served beside the big one's second chunk
