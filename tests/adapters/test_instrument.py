"""``vecrank.instrument()`` reranks clients that were never wrapped, and ``uninstrument()`` undoes it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import weaviate
from adapter_helpers import WORDS, resolve
from engine_fixtures import EngineCalls, registered
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from weaviate.classes.query import Rerank
from weaviate.collections.generate import _GenerateCollection, _GenerateCollectionAsync
from weaviate.collections.query import _QueryCollection, _QueryCollectionAsync
from weaviate_fixtures import BOUNDED

import vecrank
from vecrank.adapters.instrument import is_instrumented
from vecrank.adapters.qdrant import RerankedPoint
from vecrank.testing.weaviate_server import WeaviateStandIn

QUERY = [0.2, -0.4, 0.9]
ASK = "city river population"
TEXT = "city river"
PATCHED = [
    (QdrantClient, "query_points"),
    (AsyncQdrantClient, "query_batch_points"),
    (_QueryCollection, "near_text"),
    (_QueryCollectionAsync, "fetch_objects"),
    (_GenerateCollection, "near_text"),
    (_GenerateCollectionAsync, "hybrid"),
]


@pytest.fixture
def originals() -> Iterator[dict]:
    """The class attributes before instrumenting; instrumentation is always undone after the test."""
    before = {(owner, name): owner.__dict__.get(name) for owner, name in PATCHED}
    yield before
    vecrank.uninstrument()


@pytest.fixture
def config(tiny_bert: Path) -> dict:
    return {
        "defaults": {"model": str(tiny_bert)},
        "collections": {"docs": {}, "Notes": {"text_field": "body"}},
    }


@pytest_asyncio.fixture(params=["sync", "async"])
async def qdrant(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A plain embedded client with a "docs" collection, created before any instrumenting."""
    client = (AsyncQdrantClient if request.param == "async" else QdrantClient)(":memory:")
    params = models.VectorParams(size=3, distance=models.Distance.COSINE)
    await resolve(client.create_collection("docs", vectors_config=params))
    points = [
        models.PointStruct(
            id=i, vector=[(i % 5) / 5 - 0.4, (i % 7) / 7 - 0.5, (i % 4) / 4 + 0.1], payload={"text": WORDS[i]}
        )
        for i in range(1, 13)
    ]
    await resolve(client.upsert("docs", points))
    yield client
    await resolve(client.close())


@pytest.fixture(scope="module")
def standin() -> Iterator[WeaviateStandIn]:
    with WeaviateStandIn() as server:
        server.add_collection("Notes", {"body": "text"})
        for i in range(12):
            server.add_object("Notes", {"body": " ".join(WORDS[i : i + 6])})
        yield server


async def test_existing_and_new_qdrant_clients_are_reranked(qdrant: Any, config: dict, originals) -> None:
    expected = await resolve(
        vecrank.wrap(qdrant, config=config).query_points("docs", QUERY, rerank_query=ASK)
    )
    vecrank.instrument(config=config)
    with registered(EngineCalls(), "test-engine-calls") as calls:
        response = await resolve(qdrant.query_points("docs", QUERY, rerank_query=ASK))
    assert response == expected and all(isinstance(p, RerankedPoint) for p in response.points)
    assert calls.pairs == [12]
    fresh = type(qdrant)(":memory:")
    await resolve(
        fresh.create_collection("docs", vectors_config=models.VectorParams(size=3, distance="Cosine"))
    )
    await resolve(fresh.upsert("docs", [models.PointStruct(id=1, vector=QUERY, payload={"text": "city"})]))
    [point] = (await resolve(fresh.query_points("docs", QUERY, rerank_query=ASK))).points
    assert isinstance(point, RerankedPoint)
    await resolve(fresh.close())


async def test_instrument_is_idempotent_and_undone_exactly(qdrant: Any, config: dict, originals) -> None:
    plain = await resolve(qdrant.query_points("docs", QUERY))
    vecrank.instrument(config=config)
    vecrank.instrument(config=config)
    assert is_instrumented()
    assert QdrantClient.__dict__["query_points"].__wrapped__ is originals[(QdrantClient, "query_points")]
    with registered(EngineCalls(), "test-engine-calls") as calls:
        await resolve(qdrant.query_points("docs", QUERY, rerank_query=ASK))
        # a wrapped client on an instrumented class is reranked once, by the wrapper's config
        await resolve(vecrank.wrap(qdrant, config=config).query_points("docs", QUERY, rerank_query=ASK))
    assert calls.pairs == [12, 12]
    vecrank.uninstrument()
    vecrank.uninstrument()
    assert not is_instrumented()
    for (owner, name), original in originals.items():
        assert owner.__dict__.get(name) is original
    assert await resolve(qdrant.query_points("docs", QUERY)) == plain
    with pytest.raises(AssertionError, match="rerank_query"):  # the plain client's own check
        await resolve(qdrant.query_points("docs", QUERY, rerank_query=ASK))


async def test_instrument_with_no_config_reranks_only_calls_that_ask(
    qdrant: Any, tiny_bert: Path, originals, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VECRANK_CONFIG", raising=False)
    plain = await resolve(qdrant.query_points("docs", QUERY, limit=4))
    vecrank.instrument()
    with registered(EngineCalls(), "test-engine-calls") as calls:
        assert await resolve(qdrant.query_points("docs", QUERY, limit=4)) == plain
    assert calls.pairs == []
    vecrank.instrument(config={"defaults": {"model": str(tiny_bert)}})  # a second call swaps the config
    response = await resolve(qdrant.query_points("docs", QUERY, limit=4, rerank_query=ASK))
    assert all(isinstance(p, RerankedPoint) for p in response.points)


async def test_existing_weaviate_clients_are_reranked(
    standin: WeaviateStandIn, config: dict, originals
) -> None:
    client = weaviate.connect_to_custom(**standin.connection_kwargs, additional_config=BOUNDED)
    aclient = weaviate.use_async_with_custom(**standin.connection_kwargs, additional_config=BOUNDED)
    await aclient.connect()
    try:
        notes, anotes = client.collections.get("Notes"), aclient.collections.get("Notes")
        plain = notes.query.near_text(TEXT, limit=3)
        vecrank.instrument(config=config)
        for result in (notes.query.near_text(TEXT, limit=3), await anotes.query.near_text(TEXT, limit=3)):
            assert all(obj.metadata.rerank_score is not None for obj in result.objects)
        fetched = notes.query.fetch_objects(limit=2, rerank=Rerank(prop="body", query=TEXT))
        assert all(obj.metadata.rerank_score is not None for obj in fetched.objects)
        for generated in (
            notes.generate.near_text(TEXT, limit=3, single_prompt="{body}"),
            await anotes.generate.near_text(TEXT, limit=3, single_prompt="{body}"),
        ):
            assert [o.uuid for o in generated.objects] == [o.uuid for o in result.objects]
            assert all(o.metadata.rerank_score is not None for o in generated.objects)
            assert [o.generated for o in generated.objects] == [o.properties["body"] for o in result.objects]
        vecrank.uninstrument()
        again = notes.query.near_text(TEXT, limit=3)
        assert [o.uuid for o in again.objects] == [o.uuid for o in plain.objects]
        assert all(obj.metadata.rerank_score is None for obj in again.objects)
    finally:
        client.close()
        await aclient.close()


def test_import_vecrank_loads_neither_torch_nor_the_clients() -> None:
    code = (
        "import sys, vecrank; vecrank.instrument; vecrank.uninstrument; vecrank.wrap; "
        "print(sorted(m for m in ('torch', 'qdrant_client', 'weaviate') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


async def test_threads_sharing_an_instrumented_client_rerank_each_call_once(config: dict, originals) -> None:
    """vecrank's own inner calls are marked per thread: no call is reranked twice or skipped."""
    from concurrent.futures import ThreadPoolExecutor

    client = QdrantClient(":memory:")
    client.create_collection("docs", vectors_config=models.VectorParams(size=3, distance="Cosine"))
    client.upsert(
        "docs",
        [
            models.PointStruct(id=i, vector=[i % 3 + 0.1, i % 5, 1.0], payload={"text": WORDS[i]})
            for i in range(8)
        ],
    )
    wrapped = vecrank.wrap(client, config=config)
    vecrank.instrument(config=config)

    def search(number: int) -> list:
        target = wrapped if number % 2 else client
        return (target.query_points("docs", QUERY, limit=3, rerank_query=ASK)).points

    with registered(EngineCalls(), "test-engine-calls") as calls, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(search, range(16)))
    assert calls.pairs == [8] * 16
    assert all(result == results[0] and isinstance(result[0], RerankedPoint) for result in results)
    client.close()
