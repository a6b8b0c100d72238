"""Remote rerankers: a real ``vecrank serve`` on loopback in each protocol, and a scripted service for faults.

The adapters score through the service named by a URL model; every expected score comes from the
in-process engine on the same tiny model. Fault tests check that no hit is lost with
``on_error = "passthrough"`` and that the error is a clear :class:`RerankError` otherwise.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

import vecrank
from vecrank.adapters.pipeline import QueryCandidates, RerankPipeline
from vecrank.candidate import Candidate
from vecrank.config_loading import load_config
from vecrank.core import get_reranker
from vecrank.plugins.remote import RemoteScorer, close_clients
from vecrank.server import ServerSettings, running_server

API_KEY = "remote-test-key"
WORDS = ["city", "river", "mountain", "sea", "weather", "sunny", "rain", "cat", "dog", "music", "history"]
WORDS += ["science", "water", "food", "school"]
TEXTS = [" ".join(WORDS[i : i + 5]) for i in range(10)]
QUERY = "which river city has sunny weather"
VECTORS = [[math.cos(i / 3), math.sin(i / 3), (i % 3) / 3, 1.0] for i in range(len(TEXTS))]
SEARCH = [1.0, 0.2, 0.1, 0.5]


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


@pytest.fixture(scope="module")
def model_path(tiny_bert: Path) -> str:
    return str(tiny_bert)


@pytest.fixture(scope="module")
def logits(model_path: str) -> dict[str, float]:
    """The in-process engine's logit for (QUERY, text) of every text."""
    scores = get_reranker(model_path).predict([(QUERY, text) for text in TEXTS])
    return dict(zip(TEXTS, scores.tolist()))


@pytest.fixture(scope="module")
def vecrank_url(model_path: str) -> Iterator[str]:
    """A real ``vecrank serve`` on a free loopback port, with an API key."""
    settings = ServerSettings(models={"tiny": model_path}, port=0, api_key=API_KEY, max_documents=64)
    with running_server(settings) as url:
        yield url
    close_clients()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VECRANK_API_KEY", "TEI_API_KEY", "CO_API_KEY", "JINA_API_KEY"):
        monkeypatch.setenv(name, API_KEY)


def _qdrant(client: QdrantClient | AsyncQdrantClient) -> Any:
    """Create the ``docs`` collection (sync client) or return the coroutines that do (async)."""
    points = [
        models.PointStruct(id=i, vector=vector, payload={"text": text})
        for i, (vector, text) in enumerate(zip(VECTORS, TEXTS))
    ]
    params = models.VectorParams(size=4, distance=models.Distance.COSINE)
    return client.create_collection("docs", vectors_config=params), client.upsert("docs", points=points)


def _wrapped(model: str, **settings: Any) -> tuple[QdrantClient, QdrantClient]:
    raw = QdrantClient(":memory:")
    _qdrant(raw)
    config = {"defaults": {"model": model, "candidates": len(TEXTS), **settings}}
    return raw, vecrank.wrap(raw, config=config)


def _texts(points: list[Any]) -> list[str]:
    return [point.payload["text"] for point in points]


def _database_order(raw: QdrantClient) -> list[str]:
    return _texts(raw.query_points("docs", query=SEARCH, limit=len(TEXTS)).points)


# --- a real vecrank serve, in each protocol it speaks ----------------------------------------------


def test_vecrank_protocol_scores_equal_the_local_engine(vecrank_url: str, logits: dict[str, float]) -> None:
    _, client = _wrapped(vecrank_url, remote={"protocol": "vecrank", "model": "tiny"})
    points = client.query_points("docs", query=SEARCH, limit=len(TEXTS), rerank_query=QUERY).points
    assert sorted(_texts(points)) == sorted(TEXTS)
    for point in points:
        assert point.score == pytest.approx(logits[point.payload["text"]], abs=1e-5)
    assert [p.score for p in points] == sorted((p.score for p in points), reverse=True)


@pytest.mark.parametrize("protocol", ["tei", "cohere", "jina"])
def test_peer_protocols_give_the_sigmoid_of_the_logit(
    protocol: str, vecrank_url: str, logits: dict[str, float]
) -> None:
    model = None if protocol == "tei" else "tiny"
    _, client = _wrapped(vecrank_url, remote={"protocol": protocol, "model": model})
    points = client.query_points("docs", query=SEARCH, limit=4, rerank_query=QUERY).points
    best = sorted(TEXTS, key=lambda text: -logits[text])[:4]
    assert _texts(points) == best
    for point in points:
        assert point.score == pytest.approx(_sigmoid(logits[point.payload["text"]]), abs=1e-6)


async def test_async_client_scores_like_the_sync_one(vecrank_url: str, logits: dict[str, float]) -> None:
    raw = AsyncQdrantClient(":memory:")
    for call in _qdrant(raw):
        await call
    config = {"defaults": {"model": vecrank_url, "candidates": len(TEXTS), "remote": {"model": "tiny"}}}
    client = vecrank.wrap(raw, config=config)
    points = (await client.query_points("docs", query=SEARCH, limit=len(TEXTS), rerank_query=QUERY)).points
    assert {p.payload["text"]: p.score for p in points} == pytest.approx(logits, abs=1e-5)


def test_wrong_api_key_is_a_clear_error(vecrank_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECRANK_API_KEY", "wrong")
    _, client = _wrapped(vecrank_url, remote={"model": "tiny"})
    with pytest.raises(vecrank.RerankError, match=r"HTTP 401"):
        client.query_points("docs", query=SEARCH, limit=3, rerank_query=QUERY)


# --- a scripted service: request shapes, splitting, retries and faults -----------------------------


class Scripted:
    """A loopback HTTP service answering TEI or Cohere/Jina bodies, with faults from a script.

    Each script step is ``"ok"``, ``"wrong-count"``, ``"slow"`` or an HTTP status (``429``, ``503``,
    ``500``); the last step repeats. Every request's path, headers and body are recorded.
    """

    def __init__(self) -> None:
        self.script: list[Any] = ["ok"]
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.retry_after = "0"
        self.release = threading.Event()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                scripted.requests.append((self.path, dict(self.headers), body))
                step = scripted.script.pop(0) if len(scripted.script) > 1 else scripted.script[0]
                if step == "slow":
                    scripted.release.wait(5)
                    step = "ok"
                if isinstance(step, int):
                    headers = {"Retry-After": scripted.retry_after} if step in (429, 503) else {}
                    return self._send(step, {"error": f"scripted {step}"}, headers)
                self._send(200, scripted.answer(self.path, body, step == "wrong-count"))

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def answer(path: str, body: dict[str, Any], short: bool) -> Any:
        """Score = the document's length, in reverse order as the services rank them."""
        texts = body.get("texts") or body["documents"]
        count = len(texts) - 1 if short else len(texts)
        order = sorted(range(count), key=lambda i: -len(texts[i]))
        if path == "/rerank":
            return [{"index": i, "score": float(len(texts[i]))} for i in order]
        return {"results": [{"index": i, "relevance_score": float(len(texts[i]))} for i in order]}


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    service = Scripted()
    thread = threading.Thread(target=service.server.serve_forever, daemon=True)
    thread.start()
    yield service
    service.release.set()
    service.server.shutdown()
    service.server.server_close()
    thread.join(5)


def _pipeline(url: str, **remote: Any) -> RerankPipeline:
    remote = {"backoff": 0.01, **remote}
    return RerankPipeline(load_config({"defaults": {"model": url, "remote": remote}}))


def _requests(*queries: str, size: int = len(TEXTS)) -> list[QueryCandidates]:
    return [
        QueryCandidates(
            query,
            [
                Candidate(id=i, payload={"text": TEXTS[i % 10] * (i + 1)}, vector_score=0.0, position=i)
                for i in range(size)
            ],
        )
        for query in queries
    ]


def _ids(results: list[list[Candidate]]) -> list[list[Any]]:
    return [[candidate.id for candidate in result] for result in results]


@pytest.mark.parametrize(
    ("protocol", "path", "documents_key"),
    [("tei", "/rerank", "texts"), ("cohere", "/v2/rerank", "documents"), ("jina", "/v1/rerank", "documents")],
)
def test_request_shapes_and_document_limit_split(
    scripted: Scripted, protocol: str, path: str, documents_key: str
) -> None:
    pipeline = _pipeline(scripted.url, protocol=protocol, model="m-1", max_documents=4)
    results = pipeline.rerank("docs", _requests("first query", "second query", size=6))
    longest_first = sorted(range(6), key=lambda i: -len(TEXTS[i % 10] * (i + 1)))
    assert _ids(results) == [longest_first, longest_first]
    # Each query's 6 documents in requests of at most 4: 4 + 2, twice.
    assert [len(body[documents_key]) for _, _, body in scripted.requests] == [4, 2, 4, 2]
    assert [body["query"] for _, _, body in scripted.requests] == ["first query"] * 2 + ["second query"] * 2
    for request_path, headers, body in scripted.requests:
        assert request_path == path
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert body["model"] == "m-1"
        if protocol == "tei":
            assert body["raw_scores"] is False
        else:
            assert body["top_n"] == len(body["documents"])


async def test_async_split_requests_run_concurrently_and_keep_order(scripted: Scripted) -> None:
    scorer = RemoteScorer(
        load_config({"defaults": {"model": scripted.url, "remote": {"max_documents": 3}}}).defaults
    )
    pairs = [("q", TEXTS[i] * (i + 1)) for i in range(8)]
    assert await scorer.apredict(pairs) == scorer.predict(pairs) == [float(len(t)) for _, t in pairs]


def test_retries_on_429_and_503_honour_retry_after(scripted: Scripted) -> None:
    scripted.script = [429, 503, "ok"]
    scripted.retry_after = "0.3"
    pipeline = _pipeline(scripted.url, retries=2)
    start = time.monotonic()
    results = pipeline.rerank("docs", _requests(QUERY))
    assert time.monotonic() - start >= 0.6
    assert len(scripted.requests) == 3
    assert sorted(_ids(results)[0]) == list(range(len(TEXTS)))


def test_retry_after_beyond_the_limit_gives_up_at_once(scripted: Scripted) -> None:
    scripted.script = [429]
    scripted.retry_after = "120"
    with pytest.raises(vecrank.RerankError, match=r"HTTP 429"):
        _pipeline(scripted.url, retries=3, max_retry_wait=5).rerank("docs", _requests(QUERY))
    assert len(scripted.requests) == 1


FAULTS = {
    "overloaded": ([429], {"retries": 2}, r"HTTP 429 after 2 retries"),
    "unavailable": ([503], {"retries": 1}, r"HTTP 503 after 1 retries"),
    "server error": ([500], {}, r"HTTP 500: .*scripted 500"),
    "wrong count": (["wrong-count"], {}, r"answered 9 scores for 10 documents"),
    "slow": (["slow"], {"timeout": 0.3}, r"did not answer within 0.3 s"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_raise_a_clear_error_or_keep_every_hit(scripted: Scripted, fault: str) -> None:
    script, remote, message = FAULTS[fault]
    scripted.script = list(script)
    with pytest.raises(vecrank.RerankError, match=message) as raised:
        _pipeline(scripted.url, **remote).rerank("docs", _requests(QUERY))
    assert scripted.url in str(raised.value)
    scripted.script = list(script)
    config = {"defaults": {"model": scripted.url, "on_error": "passthrough", "remote": remote}}
    results = RerankPipeline(load_config(config)).rerank("docs", _requests(QUERY, "other"))
    assert _ids(results) == [list(range(len(TEXTS)))] * 2
    assert all(candidate.score is None for result in results for candidate in result)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_keeps_the_database_order_through_the_adapter() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    raw, client = _wrapped(url, remote={"retries": 1, "backoff": 0.01})
    with pytest.raises(vecrank.RerankError, match=r"cannot be reached after 1 retries"):
        client.query_points("docs", query=SEARCH, limit=5, rerank_query=QUERY)
    raw, client = _wrapped(url, on_error="passthrough", remote={"retries": 1, "backoff": 0.01})
    points = client.query_points("docs", query=SEARCH, limit=len(TEXTS), rerank_query=QUERY).points
    assert _texts(points) == _database_order(raw)


async def test_server_down_async_keeps_the_database_order() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    pipeline = RerankPipeline(
        load_config({"defaults": {"model": url, "on_error": "passthrough", "remote": {"retries": 0}}})
    )
    results = await pipeline.arerank("docs", _requests(QUERY))
    assert _ids(results) == [list(range(len(TEXTS)))]


def test_remote_scoring_never_imports_torch(scripted: Scripted) -> None:
    """A client-only install: torch, transformers and tokenizers refuse to import, and scoring works."""
    code = f"""
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "tokenizers"):
            raise ImportError(f"{{name}} is blocked in this test")

sys.meta_path.insert(0, Refuse())
from qdrant_client import QdrantClient, models
import vecrank

raw = QdrantClient(":memory:")
raw.create_collection("docs", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE))
raw.upsert("docs", points=[models.PointStruct(id=i, vector=[1.0, i], payload={{"text": "x" * i}})
                           for i in range(1, 6)])
config = {{"defaults": {{"model": "{scripted.url}", "remote": {{"protocol": "tei"}}}}}}
client = vecrank.wrap(raw, config=config)
points = client.query_points("docs", query=[1.0, 0.0], limit=5, rerank_query="q").points
print([p.id for p in points], sorted(m for m in sys.modules if m.split(".")[0] == "torch"))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[5, 4, 3, 2, 1] []"
