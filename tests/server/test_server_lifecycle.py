"""Overload answers 429, work for a client that has gone is dropped, shutdown finishes requests in flight."""

from __future__ import annotations

import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from server_helpers import AUTH, DOCUMENTS, QUERIES, GatedReranker, queued, small_settings, wait_until

from vecrank.server import running_server

QUERY = QUERIES[0]


def post(base_url: str, texts: list[str], timeout: float = 30) -> httpx.Response:
    body = {"query": QUERY, "texts": texts, "raw_scores": True}
    return httpx.post(base_url + "/rerank", json=body, headers=AUTH, timeout=timeout)


def _accepts_connections(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_full_queue_answers_429_and_recovers(model_path: str, gated: GatedReranker, expected: dict) -> None:
    settings = small_settings(model_path, queue_size=8, max_documents=8)
    with running_server(settings, {model_path: gated}) as url, ThreadPoolExecutor(2) as pool:
        running = pool.submit(post, url, DOCUMENTS[:4])
        assert gated.entered.wait(10)  # the engine is busy with the first request
        waiting = pool.submit(post, url, DOCUMENTS[:8])
        wait_until(lambda: queued(url) == 8)

        refused = post(url, DOCUMENTS[:1])
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error_type"] == "overloaded"
        assert "queue of this model is full" in refused.json()["error"]
        assert not re.search(r"\d", refused.json()["error"])  # the queue's size is not told
        cohere_refused = httpx.post(
            url + "/v2/rerank", json={"model": "tiny", "query": QUERY, "documents": ["a"]}, headers=AUTH
        )
        assert cohere_refused.status_code == 429 and "overloaded" in cohere_refused.json()["message"]

        gated.gate.set()
        assert running.result().status_code == 200
        assert waiting.result().status_code == 200
        for rank in post(url, DOCUMENTS[:3]).json():
            assert rank["score"] == pytest.approx(expected[(QUERY, DOCUMENTS[rank["index"]])], abs=1e-5)


def test_work_for_a_client_that_left_is_dropped(model_path: str, gated: GatedReranker) -> None:
    with (
        running_server(small_settings(model_path), {model_path: gated}) as url,
        ThreadPoolExecutor(1) as pool,
    ):
        running = pool.submit(post, url, DOCUMENTS[:2])
        assert gated.entered.wait(10)
        gone = ["a document nobody waits for", "another one"]
        with pytest.raises(httpx.ReadTimeout):
            post(url, gone, timeout=0.5)  # the client gives up and closes its connection

        def dropped() -> int:
            text = httpx.get(url + "/metrics", headers=AUTH).text
            found = re.search(r"vecrank_dropped_pairs_total\{[^}]*\} (\S+)", text)
            return int(float(found.group(1))) if found else 0

        wait_until(lambda: dropped() == 2)
        assert queued(url) == 0
        gated.gate.set()
        assert running.result().status_code == 200
        assert post(url, DOCUMENTS[:1]).status_code == 200
    scored = {document for call in gated.calls for _, document in call}
    assert not scored & set(gone)


def test_shutdown_finishes_requests_in_flight(model_path: str, gated: GatedReranker, expected: dict) -> None:
    server = running_server(small_settings(model_path, shutdown_timeout=20), {model_path: gated})
    url = server.__enter__()
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(post, url, DOCUMENTS[:3])
        assert gated.entered.wait(10)
        second = pool.submit(post, url, DOCUMENTS[3:6])
        wait_until(lambda: queued(url) == 3)

        stopping = threading.Thread(target=server.__exit__, args=(None, None, None))
        stopping.start()
        # The listener closes while both requests are held in flight by the gate (not a sleep).
        wait_until(lambda: not _accepts_connections(url))
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/health", timeout=2)
        assert first.running() and second.running()
        gated.gate.set()
        stopping.join(30)
        assert not stopping.is_alive()
        for response, documents in ((first.result(), DOCUMENTS[:3]), (second.result(), DOCUMENTS[3:6])):
            assert response.status_code == 200
            for rank in response.json():
                assert rank["score"] == pytest.approx(expected[(QUERY, documents[rank["index"]])], abs=1e-5)
