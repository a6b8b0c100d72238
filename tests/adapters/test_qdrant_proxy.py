"""A wrapped Qdrant client passes for the plain one, and wrapping never breaks a query that worked.

Each test builds a small embedded collection (sync or async client), so that results can be
compared with the plain client's on the same data.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import pydoc
import typing
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from adapter_helpers import WORDS, resolve
from engine_fixtures import EngineCalls, registered
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.async_client_base import AsyncQdrantBase
from qdrant_client.client_base import QdrantBase

import vecrank
from vecrank.adapters.qdrant import RerankedPoint

QUERY = [0.2, -0.4, 0.9]
ASK = "city river population"
TEXT_QUERY = models.TextQuery(text="city river")
SEARCHES = ("query_points", "query_batch_points", "query_points_groups")


@pytest_asyncio.fixture(params=["sync", "async"])
async def plain(request: pytest.FixtureRequest) -> AsyncIterator[QdrantClient | AsyncQdrantClient]:
    """An embedded client with collections ``docs`` and ``other``: 12 points with text and a group."""
    client = (AsyncQdrantClient if request.param == "async" else QdrantClient)(":memory:")
    bm25 = models.TextIndexParams(
        type=models.TextIndexType.TEXT, scoring=models.TextScoringParams(type=models.TextScoringType.BM25)
    )
    for name in ("docs", "other"):
        params = models.VectorParams(size=3, distance=models.Distance.COSINE)
        await resolve(client.create_collection(name, vectors_config=params))
        await resolve(client.create_payload_index(name, field_name="text", field_schema=bm25))
        points = [
            models.PointStruct(
                id=i,
                vector=[((i * 7) % 5) / 5 - 0.4, ((i * 3) % 7) / 7 - 0.5, (i % 4) / 4 + 0.1],
                payload={"text": " ".join(WORDS[i : i + 6]), "group": i % 3},
            )
            for i in range(1, 13)
        ]
        await resolve(client.upsert(name, points))
    yield client
    await resolve(client.close())


async def _searches(client: Any, **rerank: Any) -> list:
    """One call of each search, as code written for the plain client makes them (BM25 text queries)."""
    batch = [models.QueryRequest(query=TEXT_QUERY, using="text", limit=3)]
    queries = {"rerank_queries": [rerank["rerank_query"]]} if rerank else {}
    return [
        await resolve(client.query_points("docs", query=TEXT_QUERY, using="text", limit=4, **rerank)),
        await resolve(client.query_batch_points("docs", batch, **queries)),
        await resolve(
            client.query_points_groups("docs", "group", query=QUERY, limit=2, group_size=2, **rerank)
        ),
    ]


# --- it passes for the plain client ------------------------------------------------------------------


async def test_isinstance_and_private_attributes(plain: Any) -> None:
    wrapped = vecrank.wrap(plain)
    base = AsyncQdrantBase if isinstance(plain, AsyncQdrantClient) else QdrantBase
    assert isinstance(wrapped, type(plain)) and isinstance(wrapped, base)
    assert wrapped.__class__ is type(plain)
    assert wrapped._client is plain._client  # QdrantLocal, as qdrant-client's own tests expect
    assert wrapped.__wrapped__ is plain


async def test_dir_and_signatures_are_the_clients_own_plus_vecrank_keywords(plain: Any) -> None:
    wrapped = vecrank.wrap(plain)
    assert dir(wrapped) == dir(plain)
    assert "scroll" in dir(wrapped)
    extra = {"query_points": "rerank_query", "query_points_groups": "rerank_query"}
    extra["query_batch_points"] = "rerank_queries"
    for name in SEARCHES:
        own = inspect.signature(getattr(plain, name)).parameters
        ours = inspect.signature(getattr(wrapped, name)).parameters
        assert list(ours) == [*[p for p in own if p != "kwargs"], extra[name], "kwargs"]
        assert all(ours[p] == own[p] for p in own)
        assert ours[extra[name]].kind is inspect.Parameter.KEYWORD_ONLY
        assert ours[extra[name]].default is None
        assert inspect.signature(getattr(wrapped, name)).return_annotation == (
            inspect.signature(getattr(plain, name)).return_annotation
        )
    # help() shows both the vecrank note and the client's own documentation.
    page = pydoc.render_doc(wrapped.query_points, renderer=pydoc.plaintext)
    assert "rerank_query" in page and "Universal endpoint" in page and "vecrank:" in page
    assert inspect.signature(wrapped.scroll) == inspect.signature(plain.scroll)


def test_wrap_is_typed_to_return_what_it_was_given() -> None:
    hints = typing.get_type_hints(vecrank.wrap)
    assert isinstance(hints["return"], typing.TypeVar)
    assert hints["client"] is hints["return"]


async def test_copy_deepcopy_and_pickle_keep_the_reranking(plain: Any, tiny_bert: Path) -> None:
    wrapped = vecrank.wrap(plain, config={"defaults": {"model": str(tiny_bert)}})
    search = {"query": QUERY, "limit": 3, "rerank_query": ASK}
    expected = (await resolve(wrapped.query_points("docs", **search))).points
    assert all(isinstance(point, RerankedPoint) for point in expected)
    for twin in (copy.copy(wrapped), copy.deepcopy(wrapped), pickle.loads(pickle.dumps(wrapped))):
        assert type(twin) is type(wrapped) and isinstance(twin, type(plain))
        assert twin.vecrank_pipeline.config == wrapped.vecrank_pipeline.config
        assert (await resolve(twin.query_points("docs", **search))).points == expected
    assert copy.copy(wrapped)._client is plain._client  # shallow, as copy.copy(plain)
    assert copy.deepcopy(wrapped)._client is not plain._client


async def test_close_closes_the_plain_client(plain: Any) -> None:
    wrapped = vecrank.wrap(plain)
    await resolve(wrapped.close())
    assert plain._client.closed


# --- safe defaults: wrapping never breaks a query that worked ---------------------------------------


@pytest.mark.parametrize("config", [None, {}, {"collections": {"other": {}}}])
async def test_text_queries_pass_through_without_a_config_that_enables_them(
    plain: Any, config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no config, an empty one or one naming other collections, no call is intercepted."""
    monkeypatch.delenv("VECRANK_CONFIG", raising=False)
    wrapped = vecrank.wrap(plain, config=config)
    with registered(EngineCalls(), "test-engine-calls") as calls:
        results = await _searches(wrapped)
    assert calls.pairs == []
    assert results == await _searches(plain)


async def test_calls_that_ask_are_reranked_with_an_empty_config(plain: Any, tiny_bert: Path) -> None:
    wrapped = vecrank.wrap(plain, config={"defaults": {"model": str(tiny_bert)}})
    with registered(EngineCalls(), "test-engine-calls") as calls:
        response, [batch], groups = await _searches(wrapped, rerank_query=ASK)
    assert len(calls.pairs) == 3
    for point in [*response.points, *batch.points, *[hit for g in groups.groups for hit in g.hits]]:
        assert isinstance(point, RerankedPoint)


async def test_a_listed_collection_is_reranked_by_its_own_text(plain: Any, tiny_bert: Path) -> None:
    config = {"defaults": {"model": str(tiny_bert)}, "collections": {"docs": {}}}
    wrapped = vecrank.wrap(plain, config=config)
    listed = await resolve(wrapped.query_points("docs", query=TEXT_QUERY, using="text", limit=3))
    unlisted = await resolve(wrapped.query_points("other", query=TEXT_QUERY, using="text", limit=3))
    assert all(isinstance(point, RerankedPoint) for point in listed.points)
    assert unlisted == await resolve(plain.query_points("other", query=TEXT_QUERY, using="text", limit=3))
    disabled = vecrank.wrap(plain, config={"collections": {"docs": {"enabled": False}}})
    assert await resolve(disabled.query_points("docs", query=QUERY, limit=3, rerank_query=ASK)) == (
        await resolve(plain.query_points("docs", query=QUERY, limit=3))
    )


async def test_strict_mode_rejects_only_calls_that_would_rerank(plain: Any, tiny_bert: Path) -> None:
    config = {"defaults": {"model": str(tiny_bert)}, "collections": {"docs": {}}, "strict_collections": True}
    wrapped = vecrank.wrap(plain, config=config)
    assert await _searches(wrapped) != await _searches(plain)  # docs is listed: reranked
    unasked = await resolve(wrapped.query_points("other", query=TEXT_QUERY, using="text", limit=3))
    assert unasked == await resolve(plain.query_points("other", query=TEXT_QUERY, using="text", limit=3))
    with pytest.raises(vecrank.ConfigError, match="collection 'other' is not configured"):
        await resolve(wrapped.query_points("other", query=QUERY, limit=3, rerank_query=ASK))


def test_sync_and_async_twins_offer_the_same_methods() -> None:
    """The twins differ only in I/O: same public methods, same vecrank keywords and defaults."""
    from vecrank.adapters.qdrant import AsyncRerankingQdrantClient, RerankingQdrantClient

    def own(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")
        }

    sync, asynchronous = own(RerankingQdrantClient), own(AsyncRerankingQdrantClient)
    assert set(sync) == set(asynchronous) == set(SEARCHES)
    for name in SEARCHES:
        assert list(sync[name].parameters) == list(asynchronous[name].parameters)
        assert inspect.iscoroutinefunction(getattr(AsyncRerankingQdrantClient, name))
