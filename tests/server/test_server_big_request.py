"""A maximal request never stalls the server: while it is read, parsed and tokenised, liveness probes are
answered at once and a 3-document request is answered before it."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from server_helpers import AUTH, GatedReranker, small_settings

from vecrank.core.tokenizer_pool import TokenizerPool
from vecrank.server import running_server

DOCUMENTS = 1_000
DOCUMENT_CHARS = 6_500
LIVE_LIMIT_S = 0.1


class WatchedPool(TokenizerPool):
    """A tokenizer pool that tells when a worker thread starts tokenising the big request's texts."""

    def __init__(self, template) -> None:
        super().__init__(template)
        self.big_started = threading.Event()

    def borrow(self):
        if threading.current_thread() is not threading.main_thread():
            self.big_started.set()
        return super().borrow()


def big_body() -> bytes:
    rng = random.Random(0)
    words = ["the", "river", "runs", "through", "old", "city", "school", "music", "berlin", "people"]
    documents = [
        " ".join(rng.choice(words) for _ in range(DOCUMENT_CHARS // 4))[:DOCUMENT_CHARS]
        for _ in range(DOCUMENTS)
    ]
    return json.dumps({"model": "tiny", "query": "who lives in berlin", "documents": documents}).encode()


def timed(send) -> tuple[float, float, httpx.Response]:
    """Seconds taken, the clock when done, and the response."""
    start = time.perf_counter()
    response = send()
    return time.perf_counter() - start, time.perf_counter(), response


def test_probes_and_a_small_request_are_answered_while_a_maximal_request_is_tokenised(
    model_path: str, reranker
) -> None:
    watched = GatedReranker(reranker)
    watched.gate.set()
    watched.tokenizers = WatchedPool(reranker.tokenizer)
    settings = small_settings(model_path, max_documents=DOCUMENTS, max_request_bytes=64 * 1024 * 1024)
    body = big_body()
    small = {"model": "tiny", "query": "who lives in berlin", "documents": ["berlin", "paris", "a cat"]}
    headers = {**AUTH, "Content-Type": "application/json"}
    with running_server(settings, {model_path: watched}) as url, ThreadPoolExecutor(2) as pool:

        def live() -> float:
            seconds, _, response = timed(lambda: httpx.get(url + "/.well-known/live"))
            assert response.status_code == 204
            return seconds

        def send_small() -> tuple[float, float, httpx.Response]:
            return timed(lambda: httpx.post(url + "/v2/rerank", json=small, headers=AUTH, timeout=120))

        def send_big() -> tuple[float, float, httpx.Response]:
            return timed(lambda: httpx.post(url + "/v2/rerank", content=body, headers=headers, timeout=120))

        baseline = max(live() for _ in range(20))
        small_alone = statistics.median(send_small()[0] for _ in range(5))
        watched.tokenizers.big_started.clear()
        big = pool.submit(send_big)
        assert watched.tokenizers.big_started.wait(60)  # the big request is being tokenised
        small_answer = pool.submit(send_small)
        probes = []
        while not big.done():
            probes.append(live())
            time.sleep(0.01)
        big_seconds, big_end, big_response = big.result()
        small_seconds, small_end, small_response = small_answer.result()
    assert big_response.status_code == 200 and len(big_response.json()["results"]) == DOCUMENTS
    assert small_response.status_code == 200
    assert len(probes) >= 5, f"the maximal request ended after {len(probes)} probes: make it larger"
    assert max(probes) < max(LIVE_LIMIT_S, 10 * baseline), (probes, baseline)
    assert small_end < big_end, (small_seconds, big_seconds)  # it did not wait for the big request
    assert small_seconds < max(2.0, 20 * small_alone), (small_seconds, small_alone, big_seconds)
