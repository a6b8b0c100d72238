"""Traffic capture from the live adapters: embedded Qdrant and the Weaviate stand-in, sync and async.

Each record is read back from the file and checked against what the search returned and what the raw
client answers for the same over-fetch: the query, the ids in the database's order, both scores.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from adapter_helpers import WORDS, resolve
from engine_fixtures import registered
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from weaviate.classes.query import MetadataQuery

import vecrank
from vecrank.plugins import capture
from vecrank.plugins.capture import capture_stats, close_capture, flush_capture
from vecrank.testing._weaviate_store import hashed_embedding
from vecrank.testing.weaviate_server import WeaviateStandIn

pytestmark = pytest.mark.asyncio(loop_scope="module")

DIM = 8
ASK = "which city by the river has the most people"
VECTOR = [0.3, -0.2, 0.8, 0.1, -0.4, 0.5, 0.0, 0.2]
TEXTS = [" ".join(WORDS[(5 * i + k) % len(WORDS)] for k in range(6)) for i in range(12)]


def _vector(i: int) -> list[float]:
    return hashed_embedding(TEXTS[i], DIM)


@pytest.fixture(autouse=True)
def _fresh_writers() -> Iterator[None]:
    """Each test starts with no capture writer and leaves none behind."""
    close_capture()
    yield
    close_capture()


def read(path: Path) -> list[dict[str, Any]]:
    """The records of ``path`` after every queued one is written."""
    assert flush_capture(timeout=10)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def capture_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("vecrank-capture")]


# --- Qdrant -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qdrant_clients() -> Iterator[dict[str, Any]]:
    """A populated embedded client of each kind."""
    points = [
        models.PointStruct(id=i + 1, vector=_vector(i), payload={"text": t}) for i, t in enumerate(TEXTS)
    ]
    config = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    sync = QdrantClient(":memory:")
    sync.create_collection("docs", vectors_config=config)
    sync.upsert("docs", points)
    asynchronous = AsyncQdrantClient(":memory:")

    async def populate() -> None:
        await asynchronous.create_collection("docs", vectors_config=config)
        await asynchronous.upsert("docs", points)

    asyncio.run(populate())
    yield {"sync": sync, "async": asynchronous}
    sync.close()
    asyncio.run(asynchronous.close())


@pytest.fixture(params=["sync", "async"])
def qdrant(request: pytest.FixtureRequest, qdrant_clients: dict[str, Any]) -> Any:
    return qdrant_clients[request.param]


def capture_config(model: Path, path: Path, collections: dict | None = None, **capture: Any) -> dict:
    return {
        "defaults": {"model": str(model)},
        "collections": collections or {},
        "capture": {"enabled": True, "path": str(path), **capture},
    }


async def qdrant_search(client: Any, query: str = ASK, limit: int = 3) -> list[models.ScoredPoint]:
    return (await resolve(client.query_points("docs", query=VECTOR, limit=limit, rerank_query=query))).points


async def test_qdrant_search_is_recorded_as_it_was_answered(
    qdrant, tiny_bert: Path, engine, tmp_path
) -> None:
    path = tmp_path / "traffic.jsonl"
    hits = await qdrant_search(vecrank.wrap(qdrant, capture_config(tiny_bert, path)))
    fetched = (await resolve(qdrant.query_points("docs", query=VECTOR, limit=12))).points  # 4 x limit

    [record] = read(path)
    assert list(record) == ["v", "time", "source", "collection", "model", "query", "candidates"]
    assert (record["v"], record["source"], record["collection"]) == (1, "qdrant", "docs")
    assert (record["model"], record["query"]) == (str(tiny_bert), ASK)
    time = datetime.fromisoformat(record["time"])
    assert time.utcoffset() == timezone.utc.utcoffset(None)
    assert abs((datetime.now(timezone.utc) - time).total_seconds()) < 60
    candidates = record["candidates"]
    assert [c["id"] for c in candidates] == [str(p.id) for p in fetched]  # the retriever's order
    assert [c["retriever_score"] for c in candidates] == pytest.approx([p.score for p in fetched])
    expected = engine.predict([(ASK, p.payload["text"]) for p in fetched])
    assert [c["rerank_score"] for c in candidates] == pytest.approx(expected.tolist(), abs=1e-5)
    by_id = {c["id"]: c for c in candidates}
    for hit in hits:
        assert by_id[str(hit.id)]["rerank_score"] == pytest.approx(hit.rerank_score, abs=1e-6)
        assert by_id[str(hit.id)]["retriever_score"] == pytest.approx(hit.vector_score)
    assert all(list(c) == ["id", "retriever_score", "rerank_score"] for c in candidates)  # no texts


async def test_keep_texts_stores_the_scored_texts(qdrant, tiny_bert: Path, tmp_path) -> None:
    path = tmp_path / "traffic.jsonl"
    await qdrant_search(vecrank.wrap(qdrant, capture_config(tiny_bert, path, keep_texts=True)))
    [record] = read(path)
    assert [c["text"] for c in record["candidates"]] == [
        TEXTS[int(c["id"]) - 1] for c in record["candidates"]
    ]
    assert list(record["candidates"][0]) == ["id", "text", "retriever_score", "rerank_score"]


async def test_capture_is_off_by_default(qdrant, tiny_bert: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    hits = await qdrant_search(vecrank.wrap(qdrant, {"defaults": {"model": str(tiny_bert)}}))
    assert hits and hits[0].rerank_score is not None
    assert capture_threads() == [] and capture_stats() == {}
    assert list(tmp_path.iterdir()) == []


async def test_sample_rate_0_and_an_opted_out_collection_write_nothing(
    qdrant, tiny_bert: Path, tmp_path
) -> None:
    path = tmp_path / "traffic.jsonl"
    await qdrant_search(vecrank.wrap(qdrant, capture_config(tiny_bert, path, sample_rate=0.0)))
    opted_out = capture_config(tiny_bert, path, collections={"docs": {"capture": False}})
    await qdrant_search(vecrank.wrap(qdrant, opted_out))
    assert capture_threads() == [] and not path.exists()


class Draws:
    """Stands in for the sampler's random numbers."""

    def __init__(self, *values: float) -> None:
        self.values = iter(values)

    def random(self) -> float:
        return next(self.values)


async def test_sample_rate_keeps_the_searches_drawn_under_it(
    qdrant, tiny_bert: Path, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(capture, "_sampler", Draws(0.1, 0.9, 0.29, 0.31))
    path = tmp_path / "traffic.jsonl"
    client = vecrank.wrap(qdrant, capture_config(tiny_bert, path, sample_rate=0.3))
    for number in range(4):
        await qdrant_search(client, query=f"{ASK} {number}")
    assert [record["query"] for record in read(path)] == [f"{ASK} 0", f"{ASK} 2"]


async def test_the_file_rotates_at_max_bytes(qdrant, tiny_bert: Path, tmp_path) -> None:
    path = tmp_path / "traffic.jsonl"
    client = vecrank.wrap(qdrant, capture_config(tiny_bert, path, max_bytes=1024, backups=2))
    queries = [f"{ASK} {number}" for number in range(8)]
    for query in queries:
        await qdrant_search(client, query=query, limit=1)  # 4 candidates: about 450 bytes a record
    assert flush_capture(timeout=10)
    files = [path.with_name(f"{path.name}.2"), path.with_name(f"{path.name}.1"), path]
    assert not path.with_name(f"{path.name}.3").exists()
    assert all(0 < file.stat().st_size <= 1024 for file in files)
    kept = [record["query"] for file in files for record in read(file)]
    assert 3 <= len(kept) < len(queries) and kept == queries[-len(kept) :]
    assert capture_stats()[str(path)].written == len(queries)


class Redactor:
    """Replaces the query and drops searches that mention a secret."""

    @vecrank.hookimpl
    def vecrank_capture_redact(self, record):
        if "secret" in record["query"]:
            return None
        return {**record, "query": "[redacted]"}


class Tagger:
    """Registered after the redactor, so called before it: its change reaches the redactor."""

    @vecrank.hookimpl
    def vecrank_capture_redact(self, record):
        return {**record, "tagged": record["query"]}


async def test_redact_hooks_change_and_drop_records(qdrant, tiny_bert: Path, tmp_path) -> None:
    path = tmp_path / "traffic.jsonl"
    client = vecrank.wrap(qdrant, capture_config(tiny_bert, path))
    with registered(Redactor(), "redactor"), registered(Tagger(), "tagger"):
        await qdrant_search(client, query="my secret plan")
        await qdrant_search(client)
        [record] = read(path)
    assert (record["query"], record["tagged"]) == ("[redacted]", ASK)
    assert capture_stats()[str(path)].redacted == 1


class BrokenRedactor:
    @vecrank.hookimpl
    def vecrank_capture_redact(self, record):
        raise KeyError("email")


async def test_a_failing_redact_hook_drops_the_record_not_the_search(
    qdrant, tiny_bert: Path, tmp_path, caplog
) -> None:
    path = tmp_path / "traffic.jsonl"
    client = vecrank.wrap(qdrant, capture_config(tiny_bert, path))
    with registered(BrokenRedactor(), "broken-redactor"), caplog.at_level(logging.WARNING, "vecrank.capture"):
        hits = [await qdrant_search(client) for _ in range(2)]
        assert flush_capture(timeout=10)
    assert all(len(found) == 3 for found in hits)
    assert not path.exists()  # never written unredacted
    [warning] = [r.getMessage() for r in caplog.records if r.name == "vecrank.capture"]
    assert "'broken-redactor' raised in vecrank_capture_redact: KeyError" in warning
    assert capture_stats()[str(path)].failed == 2


class Gate:
    """Holds the writer thread inside the redact hook until ``release`` is set."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    @vecrank.hookimpl
    def vecrank_capture_redact(self, record):
        self.entered.set()
        assert self.release.wait(10)
        return record


async def test_a_full_queue_drops_records_without_waiting(qdrant, tiny_bert: Path, tmp_path, caplog) -> None:
    path = tmp_path / "traffic.jsonl"
    client = vecrank.wrap(qdrant, capture_config(tiny_bert, path, queue_size=1))
    gate = Gate()
    with registered(gate, "gate"), caplog.at_level(logging.WARNING, "vecrank.capture"):
        await qdrant_search(client, query="first")
        assert gate.entered.wait(10)  # the writer holds the first record
        for query in ("second", "third", "fourth"):
            assert len(await qdrant_search(client, query=query)) == 3  # the third and fourth are dropped
        gate.release.set()
        records = read(path)
    assert [record["query"] for record in records] == ["first", "second"]
    assert capture_stats()[str(path)].queue_full == 2
    [warning] = [r.getMessage() for r in caplog.records if r.name == "vecrank.capture"]
    assert "queue (queue_size 1) is full" in warning


async def test_a_full_disk_warns_once_and_searches_go_on(qdrant, tiny_bert: Path, caplog) -> None:
    """Linux's /dev/full answers every write with ENOSPC, as a full disk does."""
    plain = vecrank.wrap(qdrant, {"defaults": {"model": str(tiny_bert)}})
    client = vecrank.wrap(qdrant, capture_config(tiny_bert, Path("/dev/full")))
    with caplog.at_level(logging.WARNING, "vecrank.capture"):
        for number in range(3):
            hits = await qdrant_search(client, query=f"{ASK} {number}")
            expected = await qdrant_search(plain, query=f"{ASK} {number}")
            assert [(h.id, h.score) for h in hits] == [(h.id, h.score) for h in expected]
            assert flush_capture(timeout=10)
    [warning] = [r for r in caplog.records if r.name == "vecrank.capture"]
    assert warning.levelno == logging.WARNING
    assert "capture to /dev/full paused: [Errno 28] No space left on device" in warning.getMessage()
    stats = capture_stats()["/dev/full"]
    assert (stats.written, stats.paused) == (0, 3)


async def test_a_cascade_records_its_label_and_each_hits_last_score(
    qdrant, tiny_bert: Path, tmp_path
) -> None:
    path = tmp_path / "traffic.jsonl"
    stages = [{"model": str(tiny_bert), "keep": 2}, {"model": str(tiny_bert)}]
    config = capture_config(tiny_bert, path, collections={"docs": {"stages": stages}})
    del config["defaults"]["model"]
    hits = await qdrant_search(vecrank.wrap(qdrant, config), limit=3)
    [record] = read(path)
    assert record["model"] == f"{tiny_bert}@2>{tiny_bert}"
    scores = {c["id"]: c["rerank_score"] for c in record["candidates"]}
    assert all(scores[str(hit.id)] == pytest.approx(hit.rerank_score, abs=1e-6) for hit in hits)


# --- Weaviate ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def standin() -> Iterator[WeaviateStandIn]:
    with WeaviateStandIn(embed=lambda text: hashed_embedding(text, DIM)) as server:
        server.add_collection("Docs", {"text": "text"})
        for i, text in enumerate(TEXTS):
            server.add_object("Docs", {"text": text}, vector=_vector(i), uuid=str(uuid.UUID(int=i + 1)))
        yield server


@pytest.fixture(params=["sync", "async"])
def weaviate_client(request: pytest.FixtureRequest, sync_client, async_client) -> Any:
    return sync_client if request.param == "sync" else async_client


async def test_weaviate_search_is_recorded_as_it_was_answered(
    weaviate_client, tiny_bert: Path, engine, tmp_path
) -> None:
    path = tmp_path / "traffic.jsonl"
    config = capture_config(tiny_bert, path, collections={"Docs": {}}, keep_texts=True)
    docs = vecrank.wrap(weaviate_client, config).collections.get("Docs")
    result = await resolve(docs.query.near_text("city river", limit=3, return_metadata=["distance"]))
    raw = weaviate_client.collections.get("Docs").query
    fetched = await resolve(
        raw.near_text("city river", limit=12, return_metadata=MetadataQuery(distance=True))
    )

    [record] = read(path)
    assert (record["source"], record["collection"], record["query"]) == ("weaviate", "Docs", "city river")
    candidates = record["candidates"]
    assert [c["id"] for c in candidates] == [str(obj.uuid) for obj in fetched.objects]
    assert [c["text"] for c in candidates] == [obj.properties["text"] for obj in fetched.objects]
    # The retriever's score is higher-is-better: Weaviate's distance, negated.
    assert [c["retriever_score"] for c in candidates] == pytest.approx(
        [-obj.metadata.distance for obj in fetched.objects]
    )
    expected = engine.predict([("city river", obj.properties["text"]) for obj in fetched.objects])
    assert [c["rerank_score"] for c in candidates] == pytest.approx(expected.tolist(), abs=1e-5)
    by_id = {c["id"]: c for c in candidates}
    assert len(result.objects) == 3
    for obj in result.objects:
        assert by_id[str(obj.uuid)]["rerank_score"] == pytest.approx(obj.metadata.rerank_score, abs=1e-6)
