"""The Qdrant adapter against embedded Qdrant (memory and disk, sync and async) and the tiny BERT reranker.

Every expected result is computed without the adapter: the same candidates fetched with the raw
client, scored with a separate ``CrossEncoderReranker`` on the same model folder, sorted, and cut.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from adapter_helpers import WORDS, resolve
from engine_fixtures import BrokenEngine, EngineCalls, registered
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.http.models import QueryResponse

import vecrank
from vecrank.adapters.qdrant import (
    AsyncRerankingQdrantClient,
    RerankedPoint,
    RerankingQdrantClient,
    query_text,
)

DIM = 4
QUERY = [0.3, -0.2, 0.8, 0.1]
QUERY_2 = [-0.5, 0.4, 0.1, 0.7]
ASK = "which city by the river has the most people"
ASK_2 = "python code for a vector database"
MISSING_TEXT_IDS = (4, 7)
BACKENDS = ("sync-memory", "sync-disk", "async-memory", "async-disk")


def _documents() -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "id": i,
            "vector": [round(rng.uniform(-1, 1), 4) for _ in range(DIM)],
            "alt": [round(rng.uniform(-1, 1), 4) for _ in range(DIM)],
            "payload": {
                "text": " ".join(rng.sample(WORDS, 8)),
                "title": " ".join(rng.sample(WORDS, 2)),
                "group": i % 4,
                "n": i,
                "meta": {"lang": rng.choice(["en", "de"]), "body": " ".join(rng.sample(WORDS, 6))},
            },
        }
        for i in range(1, 41)
    ]


DOCUMENTS = _documents()
TITLES = {d["id"]: d["payload"]["title"] for d in DOCUMENTS}


def _setup_calls() -> list[tuple[str, dict[str, Any]]]:
    """The client calls that build the test collections (the same on every backend)."""
    cosine = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    dot = models.VectorParams(size=DIM, distance=models.Distance.DOT)
    partial = [
        models.PointStruct(
            id=d["id"],
            vector=d["vector"],
            payload={k: v for k, v in d["payload"].items() if k != "text" or d["id"] not in MISSING_TEXT_IDS},
        )
        for d in DOCUMENTS[:10]
    ]
    bm25 = models.TextIndexParams(
        type=models.TextIndexType.TEXT, scoring=models.TextScoringParams(type=models.TextScoringType.BM25)
    )
    return [
        ("create_collection", {"collection_name": "docs", "vectors_config": cosine}),
        ("create_payload_index", {"collection_name": "docs", "field_name": "text", "field_schema": bm25}),
        (
            "upsert",
            {
                "collection_name": "docs",
                "points": [
                    models.PointStruct(id=d["id"], vector=d["vector"], payload=d["payload"])
                    for d in DOCUMENTS
                ],
            },
        ),
        ("create_collection", {"collection_name": "named", "vectors_config": {"title": cosine, "body": dot}}),
        (
            "upsert",
            {
                "collection_name": "named",
                "points": [
                    models.PointStruct(
                        id=d["id"], vector={"title": d["vector"], "body": d["alt"]}, payload=d["payload"]
                    )
                    for d in DOCUMENTS
                ],
            },
        ),
        ("create_collection", {"collection_name": "queries", "vectors_config": cosine}),
        ("upsert", {"collection_name": "queries", "points": [models.PointStruct(id=1000, vector=QUERY_2)]}),
        ("create_collection", {"collection_name": "partial", "vectors_config": cosine}),
        ("upsert", {"collection_name": "partial", "points": partial}),
    ]


async def _populate(client: QdrantClient | AsyncQdrantClient) -> None:
    for method, kwargs in _setup_calls():
        await resolve(getattr(client, method)(**kwargs))


def _open(backend: str, root: Path) -> QdrantClient | AsyncQdrantClient:
    mode, place = backend.split("-")
    cls = AsyncQdrantClient if mode == "async" else QdrantClient
    return cls(":memory:") if place == "memory" else cls(path=str(root / mode))


@pytest.fixture(scope="module")
def raw_clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One populated embedded client per backend, shared by the module; disk ones reopened from disk."""
    root = tmp_path_factory.mktemp("qdrant")
    clients = {}
    for name in BACKENDS:
        client = _open(name, root)
        asyncio.run(_populate(client))
        if name.endswith("disk"):
            asyncio.run(resolve(client.close()))
            client = _open(name, root)
            # Local Qdrant's first query after opening from disk scores a few ulps off the later ones.
            asyncio.run(resolve(client.query_points("docs", query=QUERY)))
        clients[name] = client
    yield clients
    for client in clients.values():
        asyncio.run(resolve(client.close()))


@dataclass
class Backend:
    """A raw client and the model folder the wrapped one reranks with."""

    raw: QdrantClient | AsyncQdrantClient
    model: str

    def wrap(self, collections: dict[str, dict] | None = None, **defaults: Any) -> Any:
        """The client wrapped with every collection enabled (text queries reranked unasked)."""
        defaults = {"model": self.model, "enabled": True, **defaults}
        return vecrank.wrap(self.raw, config={"defaults": defaults, "collections": collections or {}})


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, raw_clients: dict[str, Any], tiny_bert: Path) -> Backend:
    return Backend(raw_clients[request.param], str(tiny_bert))


def text_of(hit: models.ScoredPoint) -> str:
    return hit.payload["text"]


def manual_rerank(
    engine: vecrank.CrossEncoderReranker,
    query: str,
    hits: list[models.ScoredPoint],
    text: Callable[[models.ScoredPoint], str] = text_of,
) -> list[tuple[models.ScoredPoint, float]]:
    """Hits with their raw scores, best first (ties keep the database order)."""
    scores = engine.predict([(query, text(hit)) for hit in hits])
    return sorted(zip(hits, (float(s) for s in scores)), key=lambda pair: -pair[1])


def assert_reranked(points: list, expected: list[tuple[models.ScoredPoint, float]]) -> None:
    """Same ids in the same order, the expected scores, and the database score kept beside them."""
    assert [p.id for p in points] == [hit.id for hit, _ in expected]
    for point, (hit, score) in zip(points, expected):
        assert isinstance(point, RerankedPoint)
        assert point.score == pytest.approx(score, abs=1e-5)
        assert point.rerank_score == pytest.approx(score, abs=1e-5)
        assert point.vector_score == hit.score


async def fetch(raw: Any, collection: str, **kwargs: Any) -> list[models.ScoredPoint]:
    """The raw client's hits, with the whole payload (the candidates the adapter should see)."""
    kwargs.setdefault("with_payload", True)
    return (await resolve(raw.query_points(collection, **kwargs))).points


class ShortEngine:
    """A reranker that returns one score whatever it is given."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        return [0.0]


class DottedTextField:
    """Reads a dotted ``text_field`` such as ``meta.body`` (the built-in plugin reads top-level keys)."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_document_text(self, collection, candidate, config):
        value = candidate.payload
        for key in config.text_field.split("."):
            value = value[key]
        return value


# --- results equal a manual rerank of the same candidates ------------------------------------------


async def test_wrap_returns_the_matching_twin(backend: Backend) -> None:
    client = backend.wrap()
    twin = AsyncRerankingQdrantClient if isinstance(backend.raw, AsyncQdrantClient) else RerankingQdrantClient
    assert type(client) is twin
    assert client.__wrapped__ is backend.raw


async def test_query_points_equals_manual_rerank(backend: Backend, engine) -> None:
    response = await resolve(backend.wrap().query_points("docs", QUERY, limit=5, rerank_query=ASK))
    candidates = await fetch(backend.raw, "docs", query=QUERY, limit=20)
    expected = manual_rerank(engine, ASK, candidates)[:5]
    assert isinstance(response, QueryResponse)
    assert_reranked(response.points, expected)
    by_id = {hit.id: hit for hit in candidates}
    for point in response.points:
        assert point.payload == by_id[point.id].payload
        assert point.vector is None
        assert point.version == by_id[point.id].version


@pytest.mark.parametrize(("offset", "limit"), [(0, 3), (2, 5), (7, 4)])
async def test_offset_and_limit_cut_after_the_rerank(
    backend: Backend, engine, offset: int, limit: int
) -> None:
    response = await resolve(
        backend.wrap().query_points("docs", query=QUERY, offset=offset, limit=limit, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "docs", query=QUERY, limit=4 * (offset + limit))
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[offset : offset + limit])


@pytest.mark.parametrize(
    ("settings", "offset", "limit", "fetched"),
    [({"candidates": 3}, 4, 5, 9), ({"candidates": 12}, 0, 3, 12), ({"max_candidates": 6}, 0, 2, 6)],
)
async def test_candidates_over_fetch(
    backend: Backend, engine, settings: dict, offset: int, limit: int, fetched: int
) -> None:
    """``candidates`` hits are scored, capped by ``max_candidates``, never fewer than offset + limit."""
    client = backend.wrap(**settings)
    with registered(EngineCalls(), "test-engine-calls") as calls:
        response = await resolve(
            client.query_points("docs", query=QUERY, offset=offset, limit=limit, rerank_query=ASK)
        )
    assert calls.pairs == [fetched]
    candidates = await fetch(backend.raw, "docs", query=QUERY, limit=fetched)
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[offset : offset + limit])


async def test_query_filter(backend: Backend, engine) -> None:
    only_group_1 = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=1))])
    response = await resolve(
        backend.wrap().query_points("docs", query=QUERY, query_filter=only_group_1, limit=4, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "docs", query=QUERY, query_filter=only_group_1, limit=16)
    assert len(candidates) == 10
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[:4])
    assert {p.payload["group"] for p in response.points} == {1}


async def test_named_vectors_and_vector_selection(backend: Backend, engine) -> None:
    response = await resolve(
        backend.wrap().query_points(
            "named", query=QUERY, using="body", with_vectors=["title"], limit=4, rerank_query=ASK
        )
    )
    candidates = await fetch(
        backend.raw, "named", query=QUERY, using="body", with_vectors=["title"], limit=16
    )
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[:4])
    by_id = {hit.id: hit for hit in candidates}
    for point in response.points:
        assert set(point.vector) == {"title"}
        assert point.vector == by_id[point.id].vector


async def test_with_vectors(backend: Backend, engine) -> None:
    response = await resolve(
        backend.wrap().query_points("docs", query=QUERY, with_vectors=True, limit=3, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "docs", query=QUERY, with_vectors=True, limit=12)
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[:3])
    by_id = {hit.id: hit for hit in candidates}
    assert all(p.vector == by_id[p.id].vector and len(p.vector) == DIM for p in response.points)


async def test_prefetch_with_fusion(backend: Backend, engine) -> None:
    prefetch = [
        models.Prefetch(query=QUERY, using="title", limit=15),
        models.Prefetch(query=QUERY_2, using="body", limit=15),
    ]
    fusion = models.FusionQuery(fusion=models.Fusion.RRF)
    response = await resolve(
        backend.wrap().query_points("named", prefetch=prefetch, query=fusion, limit=4, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "named", prefetch=prefetch, query=fusion, limit=16)
    assert len(candidates) == 16
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[:4])


async def test_score_threshold_applies_to_the_database_score(backend: Backend, engine) -> None:
    ranked = await fetch(backend.raw, "docs", query=QUERY, limit=40)
    threshold = (ranked[8].score + ranked[9].score) / 2
    response = await resolve(
        backend.wrap().query_points("docs", query=QUERY, score_threshold=threshold, limit=5, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "docs", query=QUERY, score_threshold=threshold, limit=20)
    assert [hit.id for hit in candidates] == [hit.id for hit in ranked[:9]]
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[:5])
    assert all(p.vector_score > threshold for p in response.points)


async def test_lookup_from(backend: Backend, engine) -> None:
    lookup = models.LookupLocation(collection="queries")
    response = await resolve(
        backend.wrap().query_points("docs", query=1000, lookup_from=lookup, limit=4, rerank_query=ASK_2)
    )
    candidates = await fetch(backend.raw, "docs", query=1000, lookup_from=lookup, limit=16)
    assert_reranked(response.points, manual_rerank(engine, ASK_2, candidates)[:4])


# --- query text -----------------------------------------------------------------------------------


def test_query_text_of_query_objects() -> None:
    document = models.Document(text="rotate keys", model="any/model")
    assert query_text(document) == "rotate keys"
    assert query_text(models.NearestQuery(nearest=document)) == "rotate keys"
    assert query_text(models.TextQuery(text="city river")) == "city river"
    assert query_text(models.TextQuery(text=models.TextQueryInput(query="city river"))) == "city river"
    assert query_text(QUERY) is None
    assert query_text(models.FusionQuery(fusion=models.Fusion.RRF)) is None


@pytest.mark.parametrize(
    "text_query",
    [models.TextQuery(text="city river"), models.TextQuery(text=models.TextQueryInput(query="city river"))],
)
async def test_text_query_supplies_the_rerank_text(backend: Backend, engine, text_query) -> None:
    response = await resolve(backend.wrap().query_points("docs", query=text_query, using="text", limit=3))
    candidates = await fetch(backend.raw, "docs", query=text_query, using="text", limit=12)
    assert len(candidates) == 12
    assert_reranked(response.points, manual_rerank(engine, "city river", candidates)[:3])


async def test_rerank_query_overrides_the_query_text(backend: Backend, engine) -> None:
    text_query = models.TextQuery(text="city river")
    response = await resolve(
        backend.wrap().query_points("docs", query=text_query, using="text", limit=3, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "docs", query=text_query, using="text", limit=12)
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[:3])


# --- payload selection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "selector",
    [
        True,
        False,
        ["title"],
        ["text", "n"],
        ["meta.lang", "group"],
        models.PayloadSelectorInclude(include=["title", "meta.lang"]),
        models.PayloadSelectorExclude(exclude=["text"]),
        models.PayloadSelectorExclude(exclude=["meta.lang", "title"]),
    ],
    ids=["true", "false", "list", "list-with-text", "nested", "include", "exclude-text", "exclude-nested"],
)
async def test_payload_is_exactly_the_selection(backend: Backend, engine, selector: Any) -> None:
    response = await resolve(
        backend.wrap().query_points("docs", query=QUERY, with_payload=selector, limit=4, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "docs", query=QUERY, limit=16)
    assert_reranked(response.points, manual_rerank(engine, ASK, candidates)[:4])
    selected = await fetch(backend.raw, "docs", query=QUERY, limit=16, with_payload=selector)
    payloads = {hit.id: hit.payload for hit in selected}
    assert [p.payload for p in response.points] == [payloads[p.id] for p in response.points]


@pytest.mark.parametrize(
    "selector",
    [["meta.lang"], models.PayloadSelectorExclude(exclude=["meta.body"]), False],
    ids=["include-sibling", "exclude-text", "false"],
)
async def test_nested_selection_overlapping_the_text_field(backend: Backend, engine, selector: Any) -> None:
    """The text field ``meta.body`` is read even when the caller's nested selection leaves it out."""
    client = backend.wrap(text_field="meta.body")
    with registered(DottedTextField(), "test-dotted-text-field"):
        response = await resolve(
            client.query_points("docs", query=QUERY, with_payload=selector, limit=4, rerank_query=ASK)
        )
    candidates = await fetch(backend.raw, "docs", query=QUERY, limit=16)
    expected = manual_rerank(engine, ASK, candidates, text=lambda hit: hit.payload["meta"]["body"])
    assert_reranked(response.points, expected[:4])
    selected = await fetch(backend.raw, "docs", query=QUERY, limit=16, with_payload=selector)
    payloads = {hit.id: hit.payload for hit in selected}
    assert [p.payload for p in response.points] == [payloads[p.id] for p in response.points]


async def test_batches_and_groups_reread_a_nested_selection_exactly(backend: Backend, engine) -> None:
    """Batch requests and groups get exactly the caller's payload where trimming cannot give it."""
    client, selector = backend.wrap(text_field="meta.body"), ["meta.lang"]
    request = models.QueryRequest(query=QUERY, limit=3, with_payload=selector)
    with registered(DottedTextField(), "test-dotted-text-field"):
        [answer] = await resolve(client.query_batch_points("docs", [request], rerank_queries=[ASK]))
        grouped = await resolve(
            client.query_points_groups(
                "docs", "group", query=QUERY, limit=2, group_size=2, with_payload=selector, rerank_query=ASK
            )
        )
    points = answer.points + [hit for group in grouped.groups for hit in group.hits]
    assert len(answer.points) == 3 and len(points) > 3
    records = await resolve(backend.raw.retrieve("docs", [p.id for p in points], with_payload=selector))
    payloads = {record.id: record.payload for record in records}
    assert [p.payload for p in points] == [payloads[p.id] for p in points]


async def test_template(backend: Backend, engine) -> None:
    client = backend.wrap({"docs": {"template": "{title}: {text}"}})
    response = await resolve(
        client.query_points("docs", query=QUERY, with_payload=["n"], limit=4, rerank_query=ASK)
    )
    candidates = await fetch(backend.raw, "docs", query=QUERY, limit=16)
    expected = manual_rerank(
        engine, ASK, candidates, text=lambda h: f"{h.payload['title']}: {h.payload['text']}"
    )
    assert_reranked(response.points, expected[:4])
    assert [p.payload for p in response.points] == [{"n": p.id} for p in response.points]


# --- groups and batches ---------------------------------------------------------------------------


@pytest.mark.parametrize("selector", [True, False])
async def test_groups(backend: Backend, engine, selector: bool) -> None:
    """Hits are reranked inside each group; groups are ordered by their best reranked hit."""
    result = await resolve(
        backend.wrap().query_points_groups(
            "docs",
            group_by="group",
            query=QUERY,
            limit=3,
            group_size=3,
            with_payload=selector,
            rerank_query=ASK,
        )
    )
    raw = await resolve(
        backend.raw.query_points_groups("docs", group_by="group", query=QUERY, limit=12, group_size=3)
    )
    group_of = {hit.id: group.id for group in raw.groups for hit in group.hits}
    expected: dict[Any, list] = {}
    for hit, score in manual_rerank(engine, ASK, [hit for group in raw.groups for hit in group.hits]):
        expected.setdefault(group_of[hit.id], []).append((hit, score))
    assert [group.id for group in result.groups] == list(expected)[:3]
    for group in result.groups:
        assert_reranked(group.hits, expected[group.id])
        for point, (hit, _) in zip(group.hits, expected[group.id]):
            assert point.payload == (hit.payload if selector else None)


async def test_batch_scores_every_query_in_one_engine_call(backend: Backend, engine) -> None:
    only_group_1 = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=1))])
    text_query = models.TextQuery(text="city river")
    requests = [
        models.QueryRequest(query=QUERY, filter=only_group_1, limit=3),
        models.QueryRequest(query=QUERY_2, offset=2, limit=2, with_payload=["title"]),
        models.QueryRequest(query=QUERY, limit=3, with_payload=True),
        models.QueryRequest(query=text_query, using="text", limit=3, with_payload=True),
    ]
    with registered(EngineCalls(), "test-engine-calls") as calls:
        responses = await resolve(
            backend.wrap().query_batch_points("docs", requests, rerank_queries=[ASK, ASK_2, None, None])
        )
    first = await fetch(backend.raw, "docs", query=QUERY, query_filter=only_group_1, limit=12)
    second = await fetch(backend.raw, "docs", query=QUERY_2, limit=16)
    fourth = await fetch(backend.raw, "docs", query=text_query, using="text", limit=12)
    assert calls.pairs == [len(first) + len(second) + len(fourth)]
    assert len(responses) == 4
    assert_reranked(responses[0].points, manual_rerank(engine, ASK, first)[:3])
    assert [p.payload for p in responses[0].points] == [None] * 3
    assert_reranked(responses[1].points, manual_rerank(engine, ASK_2, second)[2:4])
    assert [p.payload for p in responses[1].points] == [{"title": TITLES[p.id]} for p in responses[1].points]
    [unreranked] = await resolve(backend.raw.query_batch_points("docs", [requests[2]]))
    assert responses[2] == unreranked
    assert_reranked(responses[3].points, manual_rerank(engine, "city river", fourth)[:3])


async def test_batch_rerank_queries_must_match_the_requests(backend: Backend) -> None:
    requests = [models.QueryRequest(query=QUERY, limit=3)]
    with pytest.raises(ValueError, match="rerank_queries has 2 entries for 1 requests"):
        await resolve(backend.wrap().query_batch_points("docs", requests, rerank_queries=[ASK, ASK]))


# --- missing text and reranker failures -----------------------------------------------------------


async def test_missing_text_names_the_point_and_field(backend: Backend) -> None:
    candidates = await fetch(backend.raw, "partial", query=QUERY, limit=8)
    first_missing = next(hit.id for hit in candidates if hit.id in MISSING_TEXT_IDS)
    with pytest.raises(
        vecrank.MissingTextError, match=rf"hit {first_missing} has no text field 'text'"
    ) as info:
        await resolve(backend.wrap().query_points("partial", query=QUERY, limit=2, rerank_query=ASK))
    assert info.value.hit_id == first_missing
    assert info.value.field == "text"


async def test_missing_text_ranked_last(backend: Backend, engine) -> None:
    client = backend.wrap({"partial": {"on_missing_text": "last"}})
    response = await resolve(client.query_points("partial", query=QUERY, limit=10, rerank_query=ASK))
    candidates = await fetch(backend.raw, "partial", query=QUERY, limit=10)
    with_text = [hit for hit in candidates if hit.id not in MISSING_TEXT_IDS]
    without_text = [hit for hit in candidates if hit.id in MISSING_TEXT_IDS]
    assert_reranked(response.points[:8], manual_rerank(engine, ASK, with_text))
    assert response.points[8:] == without_text


async def test_reranker_failure_raises_rerank_error(backend: Backend) -> None:
    with (
        registered(BrokenEngine(), "test-broken-engine"),
        pytest.raises(vecrank.RerankError, match="test-broken-engine.*engine out of memory"),
    ):
        await resolve(backend.wrap().query_points("docs", query=QUERY, limit=3, rerank_query=ASK))


async def test_wrong_score_count_raises_rerank_error(backend: Backend) -> None:
    with (
        registered(ShortEngine(), "test-short-engine"),
        pytest.raises(vecrank.RerankError, match="reranker gave 1 scores for 12 pairs"),
    ):
        await resolve(backend.wrap().query_points("docs", query=QUERY, limit=3, rerank_query=ASK))


async def test_unloadable_model_raises_rerank_error(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    client = backend.wrap(model=str(tmp_path / "not-a-model"))
    with pytest.raises(vecrank.RerankError, match="not-a-model"):
        await resolve(client.query_points("docs", query=QUERY, limit=3, rerank_query=ASK))


async def test_passthrough_returns_the_database_order_with_a_warning(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    client = backend.wrap({"docs": {"on_error": "passthrough"}})
    selector = models.PayloadSelectorInclude(include=["title"])
    requests = [models.QueryRequest(query=QUERY_2, offset=1, limit=3, with_payload=selector)]
    with registered(BrokenEngine(), "test-broken-engine"), caplog.at_level(logging.WARNING, logger="vecrank"):
        response = await resolve(
            client.query_points(
                "docs", query=QUERY, offset=2, limit=4, with_payload=selector, rerank_query=ASK
            )
        )
        batch = await resolve(client.query_batch_points("docs", requests, rerank_queries=[ASK_2]))
    expected = await resolve(
        backend.raw.query_points("docs", query=QUERY, offset=2, limit=4, with_payload=selector)
    )
    assert response == expected
    assert not any(isinstance(p, RerankedPoint) for p in response.points)
    assert batch == await resolve(backend.raw.query_batch_points("docs", requests))
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "vecrank" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 2
    assert all("'docs'" in w and "engine out of memory" in w and "database order" in w for w in warnings)


# --- normalisation, threshold, fusion -------------------------------------------------------------


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _minmax(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [(v - low) / (high - low) for v in values]


@pytest.mark.parametrize("normalize", ["sigmoid", "minmax"])
async def test_normalisation(backend: Backend, engine, normalize: str) -> None:
    client = backend.wrap(normalize=normalize)
    response = await resolve(client.query_points("docs", query=QUERY, limit=5, rerank_query=ASK))
    ranked = manual_rerank(engine, ASK, await fetch(backend.raw, "docs", query=QUERY, limit=20))
    raw_scores = [score for _, score in ranked]
    normalised = [_sigmoid(s) for s in raw_scores] if normalize == "sigmoid" else _minmax(raw_scores)
    assert [p.id for p in response.points] == [hit.id for hit, _ in ranked[:5]]
    assert [p.score for p in response.points] == pytest.approx(normalised[:5], abs=1e-5)
    assert [p.rerank_score for p in response.points] == pytest.approx(raw_scores[:5], abs=1e-5)
    assert [p.vector_score for p in response.points] == [hit.score for hit, _ in ranked[:5]]


async def test_min_score_drops_hits_after_normalisation(backend: Backend, engine) -> None:
    ranked = manual_rerank(engine, ASK, await fetch(backend.raw, "docs", query=QUERY, limit=20))
    cut = (_sigmoid(ranked[2][1]) + _sigmoid(ranked[3][1])) / 2
    client = backend.wrap(normalize="sigmoid", min_score=cut)
    response = await resolve(client.query_points("docs", query=QUERY, limit=5, rerank_query=ASK))
    assert [p.id for p in response.points] == [hit.id for hit, _ in ranked[:3]]
    assert [p.score for p in response.points] == pytest.approx([_sigmoid(s) for _, s in ranked[:3]], abs=1e-5)


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
async def test_fusion_with_the_database_score(backend: Backend, engine, fusion: str) -> None:
    client = backend.wrap(fusion=fusion, fusion_weight=0.7, rrf_k=10)
    response = await resolve(client.query_points("docs", query=QUERY, limit=5, rerank_query=ASK))
    candidates = await fetch(backend.raw, "docs", query=QUERY, limit=20)
    raw_scores = [float(s) for s in engine.predict([(ASK, text_of(hit)) for hit in candidates])]
    if fusion == "weighted":
        rerank, vector = _minmax(raw_scores), _minmax([hit.score for hit in candidates])
        fused = [0.7 * r + 0.3 * v for r, v in zip(rerank, vector)]
    else:
        order = sorted(range(len(candidates)), key=lambda i: -raw_scores[i])
        rank = {index: place for place, index in enumerate(order)}
        fused = [1 / (10 + rank[i] + 1) + 1 / (10 + i + 1) for i in range(len(candidates))]
    best = sorted(range(len(candidates)), key=lambda i: -fused[i])[:5]
    assert [p.id for p in response.points] == [candidates[i].id for i in best]
    assert [p.score for p in response.points] == pytest.approx([fused[i] for i in best], abs=1e-5)
    assert [p.rerank_score for p in response.points] == pytest.approx([raw_scores[i] for i in best], abs=1e-5)
    assert [p.vector_score for p in response.points] == [candidates[i].score for i in best]


# --- what passes through untouched ----------------------------------------------------------------


async def _untouched_calls(client: Any, **rerank: str) -> list:
    """query_points, query_batch_points and query_points_groups, as the caller would write them."""
    requests = [models.QueryRequest(query=QUERY, limit=3, with_payload=["title"])]
    batch = {"rerank_queries": [rerank["rerank_query"]]} if rerank else {}
    return [
        await resolve(client.query_points("docs", query=QUERY, offset=1, limit=4, **rerank)),
        await resolve(client.query_batch_points("docs", requests, **batch)),
        await resolve(
            client.query_points_groups("docs", "group", query=QUERY, limit=2, group_size=2, **rerank)
        ),
    ]


async def test_disabled_collection_passes_through(backend: Backend) -> None:
    client = backend.wrap({"docs": {"enabled": False}})
    with registered(EngineCalls(), "test-engine-calls") as calls:
        results = await _untouched_calls(client, rerank_query=ASK)
    assert calls.pairs == []
    assert results == await _untouched_calls(backend.raw)


async def test_no_query_text_passes_through(backend: Backend) -> None:
    with registered(EngineCalls(), "test-engine-calls") as calls:
        results = await _untouched_calls(backend.wrap())
    assert calls.pairs == []
    assert results == await _untouched_calls(backend.raw)


async def test_unknown_collection_with_strict_config(backend: Backend) -> None:
    config = {"defaults": {"model": backend.model}, "collections": {"docs": {}}, "strict_collections": True}
    client = vecrank.wrap(backend.raw, config=config)
    with pytest.raises(vecrank.ConfigError, match="collection 'named' is not configured"):
        await resolve(client.query_points("named", query=QUERY, using="body", limit=3, rerank_query=ASK))


async def test_other_client_methods_work_through_the_wrapper(backend: Backend, request) -> None:
    client = backend.wrap()
    assert (await resolve(client.get_collection("docs"))).points_count == 40
    assert await resolve(client.collection_exists("docs"))
    only_group_1 = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=1))])
    assert (await resolve(client.count("docs", count_filter=only_group_1))).count == 10
    assert await resolve(client.retrieve("docs", [3, 5])) == await resolve(
        backend.raw.retrieve("docs", [3, 5])
    )
    assert await resolve(client.scroll("docs", limit=5)) == await resolve(backend.raw.scroll("docs", limit=5))
    scratch = f"scratch-{request.node.callspec.id}"
    await resolve(
        client.create_collection(scratch, vectors_config=models.VectorParams(size=2, distance="Dot"))
    )
    try:
        await resolve(client.upsert(scratch, [models.PointStruct(id=1, vector=[1.0, 0.0], payload={"a": 1})]))
        assert (await resolve(backend.raw.count(scratch))).count == 1
    finally:
        assert await resolve(client.delete_collection(scratch))
    assert not await resolve(backend.raw.collection_exists(scratch))


# --- sync and async, memory and disk give the same answers ----------------------------------------


async def test_sync_async_memory_disk_parity(raw_clients: dict[str, Any], tiny_bert: Path) -> None:
    """Identical inputs give identical outputs on all four backends."""
    selector = models.PayloadSelectorExclude(exclude=["meta"])
    requests = [
        models.QueryRequest(query=QUERY, limit=3, offset=1, with_payload=True),
        models.QueryRequest(query=QUERY_2, limit=2, with_payload=["title"]),
    ]
    only_even = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchAny(any=[0, 2]))])
    outputs = {}
    for name, raw in raw_clients.items():
        client = Backend(raw, str(tiny_bert)).wrap(normalize="sigmoid")
        outputs[name] = [
            await resolve(
                client.query_points(
                    "docs",
                    query=QUERY,
                    query_filter=only_even,
                    offset=1,
                    limit=4,
                    with_payload=selector,
                    rerank_query=ASK,
                )
            ),
            await resolve(client.query_batch_points("docs", requests, rerank_queries=[ASK, ASK_2])),
            await resolve(
                client.query_points_groups("docs", "group", query=QUERY, limit=2, rerank_query=ASK)
            ),
        ]
    dumped = {name: _dump(results) for name, results in outputs.items()}
    assert dumped["async-memory"] == dumped["sync-memory"]
    assert dumped["async-disk"] == dumped["sync-disk"]
    # Disk keeps float32 vectors: database scores differ from the in-memory ones in the 8th digit.
    on_disk, in_memory = _flat(dumped["sync-disk"]), _flat(dumped["sync-memory"])
    assert [p.pop("vector_score") for p in on_disk] == pytest.approx(
        [p.pop("vector_score") for p in in_memory], abs=1e-6
    )
    assert on_disk == in_memory
    assert all(isinstance(p, RerankedPoint) for p in outputs["async-disk"][0].points)


def _flat(dumped: Any) -> list[dict]:
    """The point dicts of a :func:`_dump`, in order."""
    if isinstance(dumped, dict):
        return [dumped]
    if isinstance(dumped, tuple):
        return _flat(dumped[1])
    return [point for item in dumped for point in _flat(item)]


def _dump(result: Any) -> Any:
    """Every point's fields, ``vector_score`` and ``rerank_score`` included."""
    if isinstance(result, list):
        return [_dump(item) for item in result]
    if isinstance(result, models.GroupsResult):
        return [(group.id, _dump(group.hits)) for group in result.groups]
    return [point.model_dump() for point in getattr(result, "points", [result])]


async def test_async_queries_run_concurrently(raw_clients: dict[str, Any], tiny_bert: Path) -> None:
    """Concurrent reranked queries on the async client give what they give one at a time."""
    client = Backend(raw_clients["async-memory"], str(tiny_bert)).wrap()
    asks = [ASK, ASK_2, "weather in paris", "school books"]

    def queries() -> list:
        return [client.query_points("docs", query=QUERY, limit=3, rerank_query=ask) for ask in asks]

    together = await asyncio.gather(*queries())
    one_by_one = [await query for query in queries()]
    assert [_dump(r) for r in together] == [_dump(r) for r in one_by_one]
