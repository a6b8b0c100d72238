"""The Weaviate adapter: the real weaviate-client (sync and async) against the in-process stand-in,
reranking with the tiny BERT cross-encoder.

Every expected result is computed without the adapter: the same over-fetched candidates fetched
with the raw client, scored with a separate ``CrossEncoderReranker`` on the same model folder,
sorted, and cut.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import weaviate
from adapter_helpers import WORDS, resolve
from engine_fixtures import BrokenEngine, EngineCalls, registered
from weaviate import WeaviateAsyncClient, WeaviateClient
from weaviate.classes.config import ConsistencyLevel, DataType, Property
from weaviate.classes.query import Filter, GroupBy, MetadataQuery, Rerank
from weaviate.collections.classes.internal import MetadataReturn, Object
from weaviate.exceptions import WeaviateQueryError

import vecrank
from vecrank.adapters.weaviate import (
    AsyncRerankingCollection,
    AsyncRerankingQuery,
    AsyncRerankingWeaviateClient,
    RerankedGroupByMetadata,
    RerankingCollection,
    RerankingQuery,
    RerankingWeaviateClient,
)
from vecrank.testing._weaviate_store import hashed_embedding
from vecrank.testing.weaviate_server import WeaviateStandIn

# One event loop for the module: the async client is bound to the loop it connected on.
pytestmark = pytest.mark.asyncio(loop_scope="module")

DIM = 8
ASK = "which city by the river has the most people"
TEXT = "city river"
MISSING_TEXT = (3, 6)  # "Partial" objects without a "text" property
BACKENDS = ("sync", "async")


def embed(text: str) -> list[float]:
    """The stand-in's vectoriser for near_text and hybrid: a hashed bag of words."""
    return hashed_embedding(text, DIM)


def _documents() -> list[dict[str, Any]]:
    rng = random.Random(11)
    return [
        {
            "uuid": str(uuid.UUID(int=i + 1)),
            "vector": [round(rng.uniform(-1, 1), 4) for _ in range(DIM)],
            "alt": [round(rng.uniform(-1, 1), 4) for _ in range(DIM)],
            "properties": {
                "text": " ".join(rng.sample(WORDS, 8)),
                "title": " ".join(rng.sample(WORDS, 2)),
                "group": i % 4,
                "n": i,
            },
        }
        for i in range(40)
    ]


DOCUMENTS = _documents()
QUERY = [0.3, -0.2, 0.8, 0.1, -0.4, 0.5, 0.0, 0.2]
TYPES = {"text": "text", "title": "text", "group": "int", "n": "int"}


@pytest.fixture(scope="module")
def standin() -> Iterator[WeaviateStandIn]:
    """A running stand-in: "Docs" (40 objects), "Named" (the same, two named vectors), "Partial"."""
    with WeaviateStandIn(embed=embed) as server:
        for name in ("Docs", "Named", "Partial"):
            server.add_collection(name, TYPES)
        for i, doc in enumerate(DOCUMENTS):
            server.add_object("Docs", doc["properties"], vector=doc["vector"], uuid=doc["uuid"])
            vectors = {"title": doc["vector"], "body": doc["alt"]}
            server.add_object("Named", doc["properties"], vectors=vectors, uuid=doc["uuid"])
            if i < 10:
                properties = {
                    k: v for k, v in doc["properties"].items() if k != "text" or i not in MISSING_TEXT
                }
                server.add_object("Partial", properties, vector=doc["vector"], uuid=doc["uuid"])
        yield server


@dataclass
class Backend:
    """A raw client and the model folder the wrapped one reranks with."""

    raw: WeaviateClient | WeaviateAsyncClient
    model: str

    @property
    def is_async(self) -> bool:
        return isinstance(self.raw, WeaviateAsyncClient)

    def wrap(self, collections: dict[str, dict] | None = None, **defaults: Any) -> Any:
        """The client wrapped with every collection enabled (text searches reranked unasked)."""
        defaults = {"model": self.model, "enabled": True, **defaults}
        return vecrank.wrap(self.raw, config={"defaults": defaults, "collections": collections or {}})

    def collection(self, name: str = "Docs", collections: dict | None = None, **defaults: Any) -> Any:
        """A reranking collection, configured by ``collections`` over ``defaults``."""
        return self.wrap(collections, **defaults).collections.get(name)

    def unwrapped(self, name: str = "Docs") -> Any:
        return self.raw.collections.get(name)


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, sync_client: WeaviateClient, async_client: WeaviateAsyncClient, tiny_bert
) -> Backend:
    return Backend(sync_client if request.param == "sync" else async_client, str(tiny_bert))


async def fetch(collection: Any, method: str, *args: Any, **kwargs: Any) -> list[Object]:
    """The raw client's objects for a search, with every property, distance and score."""
    kwargs.setdefault("return_metadata", MetadataQuery(distance=True, score=True))
    return (await resolve(getattr(collection.query, method)(*args, **kwargs))).objects


def manual_rerank(
    engine: vecrank.CrossEncoderReranker, query: str, objects: list[Object], prop: str = "text"
) -> list[tuple[Object, float]]:
    """Objects with their raw scores, best first (ties keep the database order)."""
    scores = engine.predict([(query, obj.properties[prop]) for obj in objects])
    return sorted(zip(objects, (float(s) for s in scores)), key=lambda pair: -pair[1])


def assert_reranked(objects: list[Object], expected: list[tuple[Object, float]]) -> None:
    """Same uuids in the same order, with the expected scores as ``metadata.rerank_score``."""
    assert [o.uuid for o in objects] == [hit.uuid for hit, _ in expected]
    assert [o.metadata.rerank_score for o in objects] == pytest.approx([s for _, s in expected], abs=1e-5)


def other_metadata(obj: Object) -> MetadataReturn:
    """An object's metadata without the rerank score."""
    return dataclasses.replace(obj.metadata, rerank_score=None)


# --- wrapping -------------------------------------------------------------------------------------


async def test_wrap_returns_the_matching_twins(backend: Backend) -> None:
    client = backend.wrap()
    assert type(client) is (AsyncRerankingWeaviateClient if backend.is_async else RerankingWeaviateClient)
    assert client.__wrapped__ is backend.raw
    for docs in (client.collections.get("Docs"), client.collections.use("docs")):
        assert type(docs) is (AsyncRerankingCollection if backend.is_async else RerankingCollection)
        assert type(docs.query) is (AsyncRerankingQuery if backend.is_async else RerankingQuery)
        assert docs.name == "Docs"
    with pytest.raises(TypeError, match="WeaviateClient or WeaviateAsyncClient"):
        vecrank.wrap(backend.raw.collections.get("Docs"))


# --- each search equals a manual rerank of the same candidates --------------------------------------


@pytest.mark.parametrize("concepts", [TEXT, TEXT.split()])
async def test_near_text(backend: Backend, engine, standin: WeaviateStandIn, concepts: Any) -> None:
    """The near_text query is the rerank text (several concepts joined by spaces)."""
    docs = backend.collection()
    result = await resolve(docs.query.near_text(concepts, limit=5, return_metadata=["distance"]))
    assert (standin.last_request.limit, standin.last_request.offset) == (20, 0)
    candidates = await fetch(backend.unwrapped(), "near_text", concepts, limit=20)
    expected = manual_rerank(engine, TEXT, candidates)[:5]
    assert_reranked(result.objects, expected)
    for obj, (hit, _) in zip(result.objects, expected):
        assert obj.properties == hit.properties
        assert obj.metadata.distance == hit.metadata.distance
        assert obj.collection == "Docs" and obj.vector == {}


async def test_hybrid(backend: Backend, engine) -> None:
    docs = backend.collection()
    meta = MetadataQuery(score=True, explain_score=True)
    result = await resolve(docs.query.hybrid(TEXT, alpha=0.5, limit=4, return_metadata=meta))
    candidates = await fetch(backend.unwrapped(), "hybrid", TEXT, alpha=0.5, limit=16, return_metadata=meta)
    expected = manual_rerank(engine, TEXT, candidates)[:4]
    assert_reranked(result.objects, expected)
    assert [other_metadata(o) for o in result.objects] == [hit.metadata for hit, _ in expected]


async def test_bm25(backend: Backend, engine, standin: WeaviateStandIn) -> None:
    docs = backend.collection()
    result = await resolve(docs.query.bm25(TEXT, limit=5, return_metadata=["score"]))
    assert (standin.last_request.bm25_search.query, standin.last_request.limit) == (TEXT, 20)
    candidates = await fetch(backend.unwrapped(), "bm25", TEXT, limit=20)
    assert len(candidates) == 14  # only keyword matches come back
    expected = manual_rerank(engine, TEXT, candidates)[:5]
    assert_reranked(result.objects, expected)
    assert [o.metadata.score for o in result.objects] == [hit.metadata.score for hit, _ in expected]


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("near_vector", (QUERY,)),
        ("near_object", (DOCUMENTS[5]["uuid"],)),
        ("fetch_objects", ()),
    ],
)
async def test_searches_without_text_rerank_by_rerank_query(
    backend: Backend, engine, standin: WeaviateStandIn, method: str, args: tuple
) -> None:
    """``Rerank(prop, query)`` gives them a text; it is served here, never sent to the server."""
    docs = backend.collection()
    rerank = Rerank(prop="text", query=ASK)
    result = await resolve(getattr(docs.query, method)(*args, limit=3, rerank=rerank))
    assert not standin.last_request.HasField("rerank")
    assert standin.last_request.limit == 12
    candidates = await fetch(backend.unwrapped(), method, *args, limit=12)
    assert_reranked(result.objects, manual_rerank(engine, ASK, candidates)[:3])


@pytest.mark.parametrize(("offset", "limit"), [(0, 3), (2, 5), (7, 4)])
async def test_offset_and_limit_cut_after_the_rerank(
    backend: Backend, engine, standin: WeaviateStandIn, offset: int, limit: int
) -> None:
    docs = backend.collection()
    result = await resolve(docs.query.near_text(TEXT, offset=offset, limit=limit))
    fetched = 4 * (offset + limit)
    assert (standin.last_request.limit, standin.last_request.offset) == (fetched, 0)
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, limit=fetched)
    assert_reranked(result.objects, manual_rerank(engine, TEXT, candidates)[offset : offset + limit])


@pytest.mark.parametrize(
    ("settings", "offset", "limit", "fetched"),
    [({"candidates": 3}, 4, 5, 9), ({"candidates": 12}, 0, 3, 12), ({"max_candidates": 6}, 0, 2, 6)],
)
async def test_candidates_over_fetch(
    backend: Backend, engine, standin: WeaviateStandIn, settings: dict, offset: int, limit: int, fetched: int
) -> None:
    """``candidates`` hits are scored, capped by ``max_candidates``, never fewer than offset + limit."""
    docs = backend.collection(**settings)
    with registered(EngineCalls(), "test-engine-calls") as calls:
        result = await resolve(docs.query.near_text(TEXT, offset=offset, limit=limit))
    assert standin.last_request.limit == fetched
    assert calls.pairs == [fetched]
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, limit=fetched)
    assert_reranked(result.objects, manual_rerank(engine, TEXT, candidates)[offset : offset + limit])


async def test_no_limit_means_weaviates_default_of_ten(backend: Backend, standin: WeaviateStandIn) -> None:
    result = await resolve(backend.collection().query.near_text(TEXT))
    assert len(result.objects) == 10
    assert standin.last_request.limit == 40
    with pytest.raises(ValueError, match="offset and limit must be non-negative"):
        await resolve(backend.collection().query.near_text(TEXT, offset=-1))


# --- what the caller asked for comes back, and nothing more -----------------------------------------


@pytest.mark.parametrize("selection", [None, ["title"], ["text", "title"], [], "n"])
async def test_return_properties(backend: Backend, engine, standin: WeaviateStandIn, selection: Any) -> None:
    """The text property is fetched when not asked for, and removed again."""
    result = await resolve(backend.collection().query.near_text(TEXT, limit=4, return_properties=selection))
    if selection is not None:
        assert "text" in standin.last_request.properties.non_ref_properties
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, limit=16)
    expected = manual_rerank(engine, TEXT, candidates)[:4]
    assert_reranked(result.objects, expected)
    raw = await fetch(backend.unwrapped(), "near_text", TEXT, limit=16, return_properties=selection)
    properties = {obj.uuid: obj.properties for obj in raw}
    assert [o.properties for o in result.objects] == [properties[hit.uuid] for hit, _ in expected]


async def test_metadata_is_what_was_asked_plus_the_rerank_score(backend: Backend, engine) -> None:
    """The distance fetched for the reranker's use is cleared again unless the caller asked for it."""
    docs = backend.collection()
    plain = await resolve(docs.query.near_text(TEXT, limit=3))
    timed = await resolve(
        docs.query.near_text(TEXT, limit=3, return_metadata=MetadataQuery(creation_time=True))
    )
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, limit=12)
    expected = manual_rerank(engine, TEXT, candidates)[:3]
    assert_reranked(plain.objects, expected)
    assert all(other_metadata(o) == MetadataReturn() for o in plain.objects)
    assert_reranked(timed.objects, expected)
    assert all(o.metadata.creation_time is not None and o.metadata.distance is None for o in timed.objects)


async def test_filters_pass_through(backend: Backend, engine, standin: WeaviateStandIn) -> None:
    only_group_1 = Filter.by_property("group").equal(1)
    result = await resolve(backend.collection().query.near_text(TEXT, filters=only_group_1, limit=4))
    assert standin.last_request.HasField("filters")
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, filters=only_group_1, limit=16)
    assert len(candidates) == 10
    assert_reranked(result.objects, manual_rerank(engine, TEXT, candidates)[:4])
    assert {o.properties["group"] for o in result.objects} == {1}


async def test_target_vector_and_include_vector(backend: Backend, engine, standin: WeaviateStandIn) -> None:
    named = backend.collection("Named")
    arguments = {"target_vector": "body", "include_vector": ["title"]}
    result = await resolve(
        named.query.near_vector(QUERY, limit=4, rerank=Rerank(prop="text", query=ASK), **arguments)
    )
    assert list(standin.last_request.near_vector.targets.target_vectors) == ["body"]
    candidates = await fetch(backend.unwrapped("Named"), "near_vector", QUERY, limit=16, **arguments)
    assert_reranked(result.objects, manual_rerank(engine, ASK, candidates)[:4])
    vectors = {obj.uuid: obj.vector for obj in candidates}
    assert all(set(o.vector) == {"title"} and o.vector == vectors[o.uuid] for o in result.objects)
    every = await resolve(backend.collection().query.near_text(TEXT, limit=2, include_vector=True))
    assert [len(o.vector["default"]) for o in every.objects] == [DIM, DIM]


# --- Rerank(prop, query) ------------------------------------------------------------------------------


async def test_rerank_prop_and_query_are_served_on_the_client(
    backend: Backend, engine, standin: WeaviateStandIn
) -> None:
    """``prop`` overrides the configured text (here a template) for that query only."""
    docs = backend.collection(template="{title}: {text}")
    rerank = Rerank(prop="title", query=ASK)
    result = await resolve(docs.query.near_text(TEXT, limit=3, return_properties=["n"], rerank=rerank))
    sent = standin.last_request
    assert not sent.HasField("rerank")
    assert sorted(sent.properties.non_ref_properties) == ["n", "title"]
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, limit=12)
    expected = manual_rerank(engine, ASK, candidates, prop="title")[:3]
    assert_reranked(result.objects, expected)
    assert [o.properties for o in result.objects] == [{"n": hit.properties["n"]} for hit, _ in expected]
    # Like a server reranker module: metadata holds the rerank score alone unless more was asked for.
    assert all(other_metadata(o) == MetadataReturn() for o in result.objects)

    without_query = await resolve(docs.query.near_text(TEXT, limit=3, rerank=Rerank(prop="title")))
    assert_reranked(without_query.objects, manual_rerank(engine, TEXT, candidates, prop="title")[:3])

    templated = await resolve(docs.query.near_text(TEXT, limit=3))
    texts = {obj.uuid: f"{obj.properties['title']}: {obj.properties['text']}" for obj in candidates}
    scores = engine.predict([(TEXT, texts[obj.uuid]) for obj in candidates])
    ranked = sorted(zip(candidates, (float(s) for s in scores)), key=lambda pair: -pair[1])
    assert_reranked(templated.objects, ranked[:3])


async def test_missing_property_names_the_object_and_property(backend: Backend) -> None:
    partial = backend.collection("Partial")
    candidates = await fetch(backend.unwrapped("Partial"), "near_vector", QUERY, limit=8)
    first_missing = next(obj.uuid for obj in candidates if "text" not in obj.properties)
    with pytest.raises(
        vecrank.MissingTextError, match=rf"hit UUID\('{first_missing}'\) has no text field 'text'"
    ) as info:
        await resolve(partial.query.near_vector(QUERY, limit=2, rerank=Rerank(prop="text", query=ASK)))
    assert info.value.hit_id == first_missing
    assert info.value.field == "text"
    with pytest.raises(vecrank.MissingTextError, match="has no text field 'summary'"):
        await resolve(backend.collection().query.near_text(TEXT, limit=2, rerank=Rerank(prop="summary")))


async def test_missing_text_ranked_last(backend: Backend, engine) -> None:
    partial = backend.collection("Partial", {"Partial": {"on_missing_text": "last"}})
    rerank = Rerank(prop="text", query=ASK)
    result = await resolve(partial.query.near_vector(QUERY, limit=10, rerank=rerank))
    candidates = await fetch(backend.unwrapped("Partial"), "near_vector", QUERY, limit=10)
    with_text = [obj for obj in candidates if "text" in obj.properties]
    without_text = [obj for obj in candidates if "text" not in obj.properties]
    assert len(without_text) == len(MISSING_TEXT)
    assert_reranked(result.objects[:8], manual_rerank(engine, ASK, with_text))
    assert [o.uuid for o in result.objects[8:]] == [obj.uuid for obj in without_text]
    assert all(o.metadata.rerank_score is None for o in result.objects[8:])


# --- scores after normalisation and fusion -------------------------------------------------------------


def _minmax(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [(v - low) / (high - low) for v in values]


async def test_weighted_fusion_uses_the_distance_even_when_not_asked_for(backend: Backend, engine) -> None:
    docs = backend.collection(fusion="weighted", fusion_weight=0.7)
    result = await resolve(docs.query.near_text(TEXT, limit=5))
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, limit=20)
    raw = [float(s) for s in engine.predict([(TEXT, o.properties["text"]) for o in candidates])]
    vector = _minmax([-o.metadata.distance for o in candidates])
    fused = [0.7 * r + 0.3 * v for r, v in zip(_minmax(raw), vector)]
    best = sorted(range(len(candidates)), key=lambda i: -fused[i])[:5]
    # Ordered by the fused score; ``rerank_score`` stays the raw reranker score.
    assert_reranked(result.objects, [(candidates[i], raw[i]) for i in best])
    assert all(o.metadata.distance is None for o in result.objects)


# --- failures -------------------------------------------------------------------------------------------


async def test_reranker_failure_raises_rerank_error(backend: Backend) -> None:
    with (
        registered(BrokenEngine(), "test-broken-engine"),
        pytest.raises(vecrank.RerankError, match="test-broken-engine.*engine out of memory"),
    ):
        await resolve(backend.collection().query.near_text(TEXT, limit=3))


async def test_passthrough_returns_the_server_order_with_a_warning(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    docs = backend.collection(collections={"Docs": {"on_error": "passthrough"}})
    arguments = {"offset": 2, "limit": 4, "return_properties": ["title"]}
    with registered(BrokenEngine(), "test-broken-engine"), caplog.at_level(logging.WARNING, logger="vecrank"):
        result = await resolve(docs.query.near_text(TEXT, **arguments))
        rerank = Rerank(prop="text", query=ASK)
        vector = await resolve(docs.query.near_vector(QUERY, limit=3, rerank=rerank))
    raw = backend.unwrapped().query
    assert result.objects == (await resolve(raw.near_text(TEXT, **arguments))).objects
    assert vector.objects == (await resolve(raw.near_vector(QUERY, limit=3))).objects
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "vecrank" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 2
    assert all("'Docs'" in w and "engine out of memory" in w and "database order" in w for w in warnings)


async def test_group_by_reranks_inside_groups_and_orders_groups_by_best_hit(
    backend: Backend, engine, standin: WeaviateStandIn
) -> None:
    """As ``query_points_groups``: number_of_groups over-fetched, groups cut back after the rerank."""
    docs = backend.collection()
    group_by = GroupBy(prop="group", number_of_groups=2, objects_per_group=3)
    result = await resolve(docs.query.near_text(TEXT, group_by=group_by, return_metadata=["distance"]))
    assert standin.last_request.group_by.number_of_groups == 8
    wider = GroupBy(prop="group", number_of_groups=8, objects_per_group=3)
    raw = await resolve(
        backend.unwrapped().query.near_text(TEXT, group_by=wider, return_metadata=["distance"])
    )
    assert len(raw.groups) == 4
    ranked = manual_rerank(engine, TEXT, raw.objects)
    expected: dict[str, list[tuple[Object, float]]] = {}
    for obj, score in ranked:
        expected.setdefault(obj.belongs_to_group, []).append((obj, score))
    expected = dict(list(expected.items())[:2])
    assert list(result.groups) == list(expected)
    for name, group in result.groups.items():
        assert_reranked(group.objects, expected[name])
        assert group.rerank_score == pytest.approx(expected[name][0][1], abs=1e-5)
        assert group.number_of_objects == raw.groups[name].number_of_objects
        for obj, (hit, _) in zip(group.objects, expected[name]):
            assert isinstance(obj.metadata, RerankedGroupByMetadata)
            assert obj.metadata.distance == hit.metadata.distance
            assert obj.belongs_to_group == name and obj.properties == hit.properties
    assert [o.uuid for o in result.objects] == [o.uuid for g in result.groups.values() for o in g.objects]
    assert type(result) is type(raw)


async def test_group_by_without_rerank_text_goes_to_the_server_as_usual(backend: Backend) -> None:
    docs = backend.collection()
    group_by = GroupBy(prop="group", number_of_groups=2, objects_per_group=2)
    with registered(EngineCalls(), "test-engine-calls") as calls:
        result = await resolve(docs.query.near_vector(QUERY, group_by=group_by))
    assert calls.pairs == []
    plain = await resolve(backend.unwrapped().query.near_vector(QUERY, group_by=group_by))
    assert result == plain


async def test_unknown_collection_with_strict_config(backend: Backend) -> None:
    config = {"defaults": {"model": backend.model}, "collections": {"docs": {}}, "strict_collections": True}
    client = vecrank.wrap(backend.raw, config=config)
    await resolve(client.collections.get("Docs").query.near_text(TEXT, limit=2))
    named = client.collections.get("named")
    unasked = await resolve(named.query.near_text(TEXT, limit=2, target_vector="title"))
    plain = await resolve(
        backend.raw.collections.get("Named").query.near_text(TEXT, limit=2, target_vector="title")
    )
    assert [o.uuid for o in unasked.objects] == [o.uuid for o in plain.objects]
    with pytest.raises(vecrank.ConfigError, match="collection 'Named' is not configured"):
        await resolve(named.query.near_text(TEXT, limit=2, target_vector="title", rerank=Rerank(prop="text")))


async def test_config_keys_match_collection_names_as_weaviate_does(
    backend: Backend, standin: WeaviateStandIn
) -> None:
    """Weaviate capitalises names: ``[collections.docs]`` configures "Docs", however it is asked for."""
    client = backend.wrap({"docs": {"candidates": 7}})
    for name in ("Docs", "docs"):
        await resolve(client.collections.get(name).query.near_text(TEXT, limit=2))
        assert standin.last_request.limit == 7


async def test_near_image_rerank_is_served_on_the_client(backend: Backend, standin: WeaviateStandIn) -> None:
    docs = backend.collection()
    with pytest.raises(WeaviateQueryError, match="does not support near_image"):  # the stand-in's answer
        await resolve(docs.query.near_image("aGVsbG8=", limit=2, rerank=Rerank(prop="text", query=ASK)))
    assert standin.last_request.limit == 8
    assert not standin.last_request.HasField("rerank")


# --- what passes through untouched -----------------------------------------------------------------------


async def _untouched_calls(docs: Any) -> list[list[Object]]:
    """Searches as the caller would write them; their objects."""
    calls = [
        docs.query.near_vector(QUERY, offset=1, limit=4, return_metadata=["distance"]),
        docs.query.near_object(DOCUMENTS[0]["uuid"], limit=3, return_properties=["title"]),
        docs.query.fetch_objects(limit=3, offset=2),
    ]
    return [(await resolve(call)).objects for call in calls]


async def test_no_query_text_passes_through(backend: Backend, standin: WeaviateStandIn) -> None:
    with registered(EngineCalls(), "test-engine-calls") as calls:
        results = await _untouched_calls(backend.collection())
    assert calls.pairs == []
    assert (standin.last_request.limit, standin.last_request.offset) == (3, 2)
    assert results == await _untouched_calls(backend.unwrapped())


async def test_disabled_collection_passes_through(backend: Backend, standin: WeaviateStandIn) -> None:
    docs = backend.collection(collections={"Docs": {"enabled": False}})
    with registered(EngineCalls(), "test-engine-calls") as calls:
        results = await _untouched_calls(docs)
        text = await resolve(docs.query.near_text(TEXT, limit=3))
        assert standin.last_request.limit == 3
        with pytest.raises(WeaviateQueryError, match="no reranker module"):  # rerank goes to the server
            await resolve(docs.query.bm25(TEXT, rerank=Rerank(prop="text", query=ASK)))
    assert calls.pairs == []
    assert results == await _untouched_calls(backend.unwrapped())
    assert text.objects == (await resolve(backend.unwrapped().query.near_text(TEXT, limit=3))).objects


async def test_other_methods_work_through_the_wrapper(backend: Backend, request) -> None:
    client = backend.wrap()
    assert await resolve(client.is_ready())
    assert {"Docs", "Named", "Partial"} <= set(await resolve(client.collections.list_all()))
    assert await resolve(client.collections.exists("Docs"))
    docs = client.collections.get("Docs")
    one = await resolve(docs.query.fetch_object_by_id(DOCUMENTS[4]["uuid"]))
    assert one.properties == DOCUMENTS[4]["properties"]
    if not backend.is_async:  # len() is an aggregate, which the stand-in does not serve
        with pytest.raises(WeaviateQueryError, match="not implemented"):
            len(docs)
    level = docs.with_consistency_level(ConsistencyLevel.ONE)
    assert type(level) is type(docs) and type(docs.with_tenant("t")) is type(docs)
    assert (await resolve(level.query.near_text(TEXT, limit=2))).objects[0].metadata.rerank_score is not None
    name = f"Scratch{request.node.callspec.id.capitalize()}"
    created = await resolve(
        client.collections.create(name, properties=[Property(name="text", data_type=DataType.TEXT)])
    )
    try:
        assert type(created) is type(docs)
        new_id = await resolve(created.data.insert({"text": "the city by the river"}, vector=embed(TEXT)))
        await resolve(created.data.insert({"text": "a dog in the sea"}, vector=embed("dog sea")))
        hits = await resolve(created.query.near_text(TEXT, limit=1))
        assert hits.objects[0].uuid == new_id and hits.objects[0].metadata.rerank_score is not None
    finally:
        await resolve(client.collections.delete(name))
    assert not await resolve(backend.raw.collections.exists(name))


async def test_context_managers(standin: WeaviateStandIn, tiny_bert: Path) -> None:
    config = {"defaults": {"model": str(tiny_bert)}, "collections": {"Docs": {}}}
    with vecrank.wrap(weaviate.connect_to_custom(**standin.connection_kwargs), config=config) as client:
        assert isinstance(client, RerankingWeaviateClient) and client.is_connected()
        docs = client.collections.get("Docs")
        assert (docs.query.near_text(TEXT, limit=1)).objects[0].metadata.rerank_score is not None
    assert not client.is_connected()
    raw = weaviate.use_async_with_custom(**standin.connection_kwargs)
    async with vecrank.wrap(raw, config=config) as aclient:
        assert isinstance(aclient, AsyncRerankingWeaviateClient) and aclient.is_connected()
        docs = aclient.collections.get("Docs")
        assert (await docs.query.near_text(TEXT, limit=1)).objects[0].metadata.rerank_score is not None
    assert not raw.is_connected()


# --- sync and async give the same answers ---------------------------------------------------------------


async def test_sync_async_parity(
    sync_client: WeaviateClient, async_client: WeaviateAsyncClient, tiny_bert, engine
) -> None:
    """Identical inputs give identical outputs."""
    outputs = {}
    for name, raw in (("sync", sync_client), ("async", async_client)):
        docs = Backend(raw, str(tiny_bert)).collection(normalize="sigmoid")
        calls = [
            docs.query.near_text(
                TEXT, offset=1, limit=4, return_properties=["title"], return_metadata=["distance"]
            ),
            docs.query.hybrid(TEXT, alpha=0.3, limit=3, return_metadata=MetadataQuery(score=True)),
            docs.query.bm25(TEXT, limit=2, rerank=Rerank(prop="title", query=ASK)),
            docs.query.near_vector(
                QUERY, limit=3, include_vector=True, rerank=Rerank(prop="text", query=ASK)
            ),
            docs.query.fetch_objects(
                limit=2, filters=Filter.by_property("group").equal(2), rerank=Rerank(prop="text", query=ASK)
            ),
        ]
        outputs[name] = [(await resolve(call)).objects for call in calls]
    assert outputs["sync"] == outputs["async"]
    # Normalised with sigmoid, ordered as the raw score is; ``rerank_score`` is the raw score.
    objects = outputs["async"][3]
    raw = [float(s) for s in engine.predict([(ASK, o.properties["text"]) for o in objects])]
    assert [o.metadata.rerank_score for o in objects] == pytest.approx(raw, abs=1e-5)


# --- generate (retrieval-augmented generation) ---------------------------------------------------------
# The stand-in's generative module answers with the prompt it was given: a single prompt with the
# object's properties filled in, a grouped task followed by the JSON of the objects it was given.


def grouped_context(generated: str, task: str) -> list[dict[str, Any]]:
    """The objects' properties a grouped task was given, as the stand-in's echo reports them."""
    head, context = generated.split("\n", 1)
    assert head == task
    return json.loads(context)


async def test_generate_reranks_then_generates_over_exactly_the_reranked_page(
    backend: Backend, engine, standin: WeaviateStandIn
) -> None:
    docs = backend.collection()
    result = await resolve(
        docs.generate.near_text(
            TEXT,
            offset=1,
            limit=3,
            single_prompt="About {title}",
            grouped_task="Summarise",
            grouped_properties=["title"],
            return_metadata=["distance"],
        )
    )
    search, generation = standin.requests[-2:]
    assert not search.HasField("generative") and search.limit == 16  # candidates for offset + limit
    assert generation.HasField("generative") and generation.HasField("filters") and generation.limit == 3
    candidates = await fetch(backend.unwrapped(), "near_text", TEXT, limit=16)
    expected = manual_rerank(engine, TEXT, candidates)[1:4]
    assert_reranked(result.objects, expected)  # in the reranked order, raw rerank scores
    for obj, (hit, _) in zip(result.objects, expected):
        assert obj.generated == f"About {hit.properties['title']}"
        assert obj.properties == hit.properties and obj.metadata.distance == hit.metadata.distance
    # The grouped task saw exactly the reranked page (in the order the server fetched it by id).
    page = sorted((hit for hit, _ in expected), key=lambda hit: hit.properties["n"])
    assert grouped_context(result.generated, "Summarise") == [{"title": h.properties["title"]} for h in page]
    assert result.generative.text == result.generated


async def test_generate_with_rerank_on_a_vector_search(backend: Backend, engine) -> None:
    docs = backend.collection()
    rerank = Rerank(prop="title", query=ASK)
    result = await resolve(docs.generate.near_vector(QUERY, limit=2, rerank=rerank, single_prompt="{text}"))
    candidates = await fetch(backend.unwrapped(), "near_vector", QUERY, limit=8)
    expected = manual_rerank(engine, ASK, candidates, prop="title")[:2]
    assert_reranked(result.objects, expected)
    assert [obj.generated for obj in result.objects] == [hit.properties["text"] for hit, _ in expected]
    assert result.generated is None


async def test_generate_without_a_rerank_text_goes_to_the_server_unchanged(
    backend: Backend, standin: WeaviateStandIn
) -> None:
    docs = backend.collection()
    result = await resolve(docs.generate.near_vector(QUERY, limit=3, grouped_task="Summarise"))
    assert standin.last_request.limit == 3 and standin.last_request.HasField("generative")
    plain = await resolve(backend.unwrapped().generate.near_vector(QUERY, limit=3, grouped_task="Summarise"))
    assert [o.uuid for o in result.objects] == [o.uuid for o in plain.objects]
    assert result.generated == plain.generated
    assert all(o.metadata.rerank_score is None for o in result.objects)


async def test_generate_with_group_by_is_refused_with_what_to_do(
    backend: Backend, standin: WeaviateStandIn
) -> None:
    sent = len(standin.requests)
    group_by = GroupBy(prop="group", number_of_groups=2, objects_per_group=2)
    with pytest.raises(vecrank.RerankError, match=r"group_by.*query\.near_text\(group_by=\.\.\.\)"):
        await resolve(backend.collection().generate.near_text(TEXT, group_by=group_by, grouped_task="x"))
    assert len(standin.requests) == sent  # refused before anything reached the server
