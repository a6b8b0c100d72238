"""A bounded load test: 32 concurrent clients x 20 requests over all protocols, every answer checked."""

from __future__ import annotations

import asyncio
import math
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from server_helpers import AUTH, DOCUMENTS, QUERIES, GatedReranker, queued, small_settings, wait_until

from vecrank.server import running_server

CLIENTS = 32
REQUESTS_PER_CLIENT = 20
TOLERANCE = 1e-5


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def request_for(client: int, number: int) -> tuple[str, dict, str, list[str]]:
    """A request that varies with the client and the request number: protocol, query, documents."""
    query = QUERIES[(client + number) % len(QUERIES)]
    start = (client * 7 + number) % len(DOCUMENTS)
    count = 1 + (client + 3 * number) % len(DOCUMENTS)
    documents = [DOCUMENTS[(start + i) % len(DOCUMENTS)] for i in range(count)]
    protocol = ("weaviate", "tei", "cohere", "jina")[(client + number) % 4]
    path, body = {
        "weaviate": ("/rerank", {"query": query, "documents": documents}),
        "tei": ("/rerank", {"query": query, "texts": documents, "raw_scores": True}),
        "cohere": ("/v2/rerank", {"model": "tiny", "query": query, "documents": documents}),
        "jina": ("/v1/rerank", {"model": "rerank-v3.5", "query": query, "documents": documents}),
    }[protocol]
    return path, body, protocol, documents


def check(protocol: str, body, query: str, documents: list[str], expected: dict) -> None:
    """The answer holds every document once, each with the engine's direct score, best first where ranked."""
    logits = [expected[(query, d)] for d in documents]
    if protocol == "weaviate":
        assert [item["document"] for item in body["scores"]] == documents
        scores = [item["score"] for item in body["scores"]]
        assert all(abs(s - sigmoid(x)) <= TOLERANCE for s, x in zip(scores, logits))
        return
    items = body if protocol == "tei" else body["results"]
    key = "score" if protocol == "tei" else "relevance_score"
    transform = (lambda x: x) if protocol == "tei" else sigmoid
    assert sorted(item["index"] for item in items) == list(range(len(documents)))
    for item in items:
        assert abs(item[key] - transform(logits[item["index"]])) <= TOLERANCE
    served = [item[key] for item in items]
    assert served == sorted(served, reverse=True)


async def test_concurrent_clients_get_the_engines_scores(base_url: str, expected: dict) -> None:
    async def one_client(client: int) -> int:
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=60) as http:
            for number in range(REQUESTS_PER_CLIENT):
                path, body, protocol, documents = request_for(client, number)
                response = await http.post(path, json=body)
                assert response.status_code == 200, response.text
                check(protocol, response.json(), body["query"], documents, expected)
        return REQUESTS_PER_CLIENT

    done = await asyncio.wait_for(asyncio.gather(*(one_client(c) for c in range(CLIENTS))), timeout=120)
    assert sum(done) == CLIENTS * REQUESTS_PER_CLIENT

    async with httpx.AsyncClient(base_url=base_url, headers=AUTH) as http:
        metrics = (await http.get("/metrics")).text
    requests = sum(
        int(float(n))
        for n in re.findall(r'vecrank_requests_total\{code="200",protocol="[^"]+"\} (\S+)', metrics)
    )
    pairs = int(float(re.search(r"vecrank_pairs_total\{[^}]*\} (\S+)", metrics).group(1)))
    assert requests == CLIENTS * REQUESTS_PER_CLIENT
    assert pairs == sum(len(request_for(c, n)[3]) for c in range(CLIENTS) for n in range(REQUESTS_PER_CLIENT))
    assert re.search(r"vecrank_queue_pairs\{[^}]*\} 0", metrics)
    # How many requests share an engine call depends on timing here: the next test shows merging.


def test_requests_waiting_for_the_engine_share_its_next_call(model_path: str, gated: GatedReranker) -> None:
    """Merging by construction: while the gate holds the engine on one request, eight more queue behind
    it; once it opens, the eight go to the engine in one call."""
    waiting = [
        [(QUERIES[n % len(QUERIES)], DOCUMENTS[n]), (QUERIES[n % len(QUERIES)], DOCUMENTS[n + 1])]
        for n in range(8)
    ]

    def post(pairs: list[tuple[str, str]]) -> int:
        body = {"query": pairs[0][0], "texts": [document for _, document in pairs], "raw_scores": True}
        return httpx.post(url + "/rerank", json=body, headers=AUTH, timeout=30).status_code

    with (
        running_server(small_settings(model_path), {model_path: gated}) as url,
        ThreadPoolExecutor(9) as pool,
    ):
        first = pool.submit(post, [(QUERIES[0], DOCUMENTS[0])])
        assert gated.entered.wait(10)
        queued_up = [pool.submit(post, pairs) for pairs in waiting]
        wait_until(lambda: queued(url) == 16)
        gated.gate.set()
        assert [first.result(), *(future.result() for future in queued_up)] == [200] * 9
    assert len(gated.calls) == 2
    assert sorted(gated.calls[1]) == sorted(pair for pairs in waiting for pair in pairs)
