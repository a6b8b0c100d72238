"""The shared pipeline: query-text checks before any I/O, visible fallbacks, errors naming the plugin."""

from __future__ import annotations

import logging

import pytest
from adapter_helpers import resolve
from engine_fixtures import registered
from qdrant_client import AsyncQdrantClient, QdrantClient, models

import vecrank

TEXTS = ["the cat sat", "a dog barks loudly", "rain again"]


class LengthScorer:
    """Scores a pair by the length of its text."""

    def __init__(self, config):
        self.config = config

    def predict(self, pairs):
        return [float(len(text)) for _, text in pairs]


class FailingScorer(LengthScorer):
    def predict(self, pairs):
        raise ValueError("scorer broke")


class TestRerankers:
    @vecrank.hookimpl
    def vecrank_register_rerankers(self, register):
        register("by-length", LengthScorer)
        register("failing", FailingScorer)


@pytest.fixture
def rerankers():
    with registered(TestRerankers(), "test-rerankers"):
        yield


def points(field: str = "text") -> list[models.PointStruct]:
    return [models.PointStruct(id=i, vector=[1.0, -0.1 * i], payload={field: t}) for i, t in enumerate(TEXTS)]


def fill(client: QdrantClient, name: str = "docs", field: str = "text") -> None:
    client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert(name, points(field))


@pytest.fixture(params=["sync", "async"])
async def wrapped(request, rerankers):
    if request.param == "sync":
        raw = QdrantClient(":memory:")
        fill(raw)
    else:
        raw = AsyncQdrantClient(":memory:")
        config = models.VectorParams(size=2, distance=models.Distance.DOT)
        await raw.create_collection("docs", vectors_config=config)
        await raw.upsert("docs", points())
    return lambda config: vecrank.wrap(raw, config)


@pytest.mark.parametrize("bad", [123, ["a", "b"], b"bytes", {"q": 1}])
async def test_a_non_string_rerank_query_is_a_type_error_before_any_io(wrapped, bad):
    client = wrapped({"defaults": {"model": "by-length"}})
    with pytest.raises(TypeError, match=r"rerank_query must be a string or None, got"):
        # the collection does not exist: the check comes first
        await resolve(client.query_points("no-such-collection", query=[1.0, 0.0], rerank_query=bad))


async def test_rerank_queries_entries_are_checked_by_position(wrapped):
    client = wrapped({"defaults": {"model": "by-length"}})
    requests = [models.QueryRequest(query=[1.0, 0.0], limit=2)] * 2
    with pytest.raises(TypeError, match=r"rerank_queries\[1\] must be a string"):
        await resolve(client.query_batch_points("no-such-collection", requests, rerank_queries=["a", 5]))
    with pytest.raises(TypeError, match="rerank_queries must be a list"):
        await resolve(client.query_batch_points("no-such-collection", requests, rerank_queries="ab"))


async def test_an_empty_query_text_is_no_text_and_logged_once(wrapped, caplog):
    client = wrapped({"defaults": {"model": "by-length"}})
    raw = QdrantClient(":memory:")
    fill(raw)
    expected = raw.query_points("docs", query=[1.0, 0.0], limit=3).points
    with caplog.at_level(logging.INFO, logger="vecrank"):
        for _ in range(2):
            response = await resolve(client.query_points("docs", query=[1.0, 0.0], limit=3, rerank_query=""))
            assert [p.id for p in response.points] == [p.id for p in expected]
    assert [r.getMessage() for r in caplog.records].count(
        "rerank_query is empty: treated as no query text"
    ) == 1


async def test_a_reranker_failure_names_its_plugin(wrapped):
    client = wrapped({"defaults": {"model": "failing"}})
    with pytest.raises(vecrank.RerankError) as caught:
        await resolve(client.query_points("docs", query=[1.0, 0.0], limit=3, rerank_query="dog"))
    message = str(caught.value)
    assert "reranker 'failing' (plugin 'test-rerankers') raised: ValueError: scorer broke" in message
    assert "cross_encoder" not in message


async def test_a_collection_missing_from_the_config_says_which_settings_apply(wrapped, caplog):
    client = wrapped({"defaults": {"model": "by-length"}, "collections": {"doc": {"text_field": "body"}}})
    with caplog.at_level(logging.INFO, logger="vecrank"):
        for _ in range(2):
            response = await resolve(
                client.query_points("docs", query=[1.0, 0.0], limit=3, rerank_query="dog")
            )
    assert [p.payload["text"] for p in response.points] == sorted(TEXTS, key=len, reverse=True)
    notes = [r.getMessage() for r in caplog.records if "not in the config" in r.getMessage()]
    assert notes == [
        "collection 'docs' is not in the config (configured: doc; did you mean 'doc'?); "
        "it uses [defaults]: model='by-length', text_field='text', enabled=True"
    ]


async def test_a_missing_text_error_names_the_section_of_its_text_field(rerankers):
    raw = QdrantClient(":memory:")
    fill(raw, "docs", field="body")
    fill(raw, "notes", field="body")
    client = vecrank.wrap(
        raw,
        {
            "defaults": {"model": "by-length"},
            "collections": {"doc": {"text_field": "body"}, "notes": {"candidates": 5}},
        },
    )
    source = (
        r"\[defaults\]: collection 'docs' is not in the config \(configured: doc, notes; did you mean 'doc'"
    )
    with pytest.raises(
        vecrank.MissingTextError, match=rf"no text field 'text' \(text settings from {source}"
    ):
        client.query_points("docs", query=[1.0, 0.0], limit=3, rerank_query="dog")
    with pytest.raises(
        vecrank.MissingTextError, match=r"\[defaults\] \(\[collections.notes\] sets no text_field\)"
    ):
        client.query_points("notes", query=[1.0, 0.0], limit=3, rerank_query="dog")
