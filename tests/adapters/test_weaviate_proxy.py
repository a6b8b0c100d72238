"""A wrapped Weaviate client (and its collections and query namespaces) passes for the plain one.

The real weaviate-client talks to the in-process stand-in; the "Notes" collection has no ``text``
property, so a search that vecrank intercepted by mistake would fail with ``MissingTextError``.
"""

from __future__ import annotations

import copy
import gc
import inspect
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import weaviate
from adapter_helpers import WORDS, resolve
from engine_fixtures import EngineCalls, registered
from weaviate import WeaviateAsyncClient, WeaviateClient
from weaviate.classes.query import Rerank
from weaviate.collections import Collection, CollectionAsync
from weaviate.collections.collections.async_ import _CollectionsAsync
from weaviate.collections.collections.sync import _Collections
from weaviate.collections.generate import _GenerateCollection, _GenerateCollectionAsync
from weaviate.collections.query import _QueryCollection, _QueryCollectionAsync
from weaviate_fixtures import BOUNDED

import vecrank
from vecrank.testing.weaviate_server import WeaviateStandIn

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXT = "city river"


@pytest.fixture(scope="module")
def standin() -> Iterator[WeaviateStandIn]:
    with WeaviateStandIn() as server:
        server.add_collection("Notes", {"body": "text", "n": "int"})
        for i in range(12):
            server.add_object("Notes", {"body": " ".join(WORDS[i : i + 6]), "n": i})
        yield server


@pytest.fixture(params=["sync", "async"])
def plain(
    request: pytest.FixtureRequest, sync_client: WeaviateClient, async_client: WeaviateAsyncClient
) -> Any:
    return sync_client if request.param == "sync" else async_client


def _kinds(client: Any) -> tuple[type, type, type, type, type]:
    """The plain client's own classes: client, collections, collection, query and generate namespaces."""
    if isinstance(client, WeaviateAsyncClient):
        return (
            WeaviateAsyncClient,
            _CollectionsAsync,
            CollectionAsync,
            _QueryCollectionAsync,
            _GenerateCollectionAsync,
        )
    return WeaviateClient, _Collections, Collection, _QueryCollection, _GenerateCollection


async def _searches(client: Any) -> list:
    """Text searches as code written for the plain client makes them."""
    notes = client.collections.get("Notes")
    return [
        await resolve(notes.query.near_text(TEXT, limit=3)),
        await resolve(notes.query.bm25(TEXT, limit=3)),
        await resolve(notes.query.hybrid(TEXT, limit=3)),
    ]


def _same(a: list, b: list) -> bool:
    return [[(o.uuid, o.properties) for o in r.objects] for r in a] == [
        [(o.uuid, o.properties) for o in r.objects] for r in b
    ]


# --- it passes for the plain client ------------------------------------------------------------------


async def test_every_wrapped_object_is_an_instance_of_the_plain_class(plain: Any) -> None:
    client_type, collections_type, collection_type, query_type, generate_type = _kinds(plain)
    wrapped = vecrank.wrap(plain)
    notes = wrapped.collections.get("Notes")
    assert isinstance(wrapped, client_type) and wrapped.__wrapped__ is plain
    assert isinstance(wrapped.collections, collections_type)
    assert isinstance(notes, collection_type) and isinstance(notes.query, query_type)
    assert isinstance(notes.generate, generate_type)
    assert isinstance(wrapped.collections.use("Notes"), collection_type)
    tenant = notes.with_tenant("a")
    assert isinstance(tenant, collection_type) and type(tenant) is type(notes)
    # private attributes are the plain objects' own
    assert wrapped._connection is plain._connection
    assert notes._connection is plain._connection and notes.query._name == "Notes"
    # one proxy per wrapped attribute, as the plain attribute is one object
    assert wrapped.collections is wrapped.collections and notes.query is notes.query
    assert notes.generate is notes.generate


async def test_dir_and_signatures_are_the_plain_ones_plus_vecrank_keywords(plain: Any) -> None:
    wrapped = vecrank.wrap(plain)
    notes, plain_notes = wrapped.collections.get("Notes"), plain.collections.get("Notes")
    for ours, own in ((wrapped, plain), (wrapped.collections, plain.collections), (notes, plain_notes)):
        assert dir(ours) == dir(own)
    for namespace in ("query", "generate"):
        ours, own = getattr(notes, namespace), getattr(plain_notes, namespace)
        assert dir(ours) == dir(own)
        for name in ("near_text", "hybrid", "bm25", "near_vector", "near_object", "near_image", "near_media"):
            assert inspect.signature(getattr(ours, name)) == inspect.signature(getattr(own, name))
        own_fetch = inspect.signature(own.fetch_objects).parameters
        our_fetch = inspect.signature(ours.fetch_objects).parameters
        assert list(our_fetch) == [*own_fetch, "rerank"]
        assert our_fetch["rerank"].kind is inspect.Parameter.KEYWORD_ONLY
    for name in ("get", "use", "create", "create_from_config", "create_from_dict"):
        assert inspect.signature(getattr(wrapped.collections, name)) == inspect.signature(
            getattr(plain.collections, name)
        )
    assert inspect.signature(notes.with_tenant) == inspect.signature(plain_notes.with_tenant)


# A plain client's failed deep copy leaves a half-built connection whose __del__ complains.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("attempt", [copy.copy, copy.deepcopy, pickle.dumps])
async def test_copy_and_pickle_behave_as_on_the_plain_objects(plain: Any, attempt: Any) -> None:
    """Where the plain object copies, the copy is a reranking twin; where it refuses, the same error."""
    wrapped = vecrank.wrap(plain, config={"collections": {"Notes": {"model": "minilm-l6"}}})
    pairs = [(wrapped, plain), (wrapped.collections.get("Notes"), plain.collections.get("Notes"))]
    for ours, own in pairs:
        try:
            expected = attempt(own)
        except Exception as error:
            with pytest.raises(type(error)) as caught:
                attempt(ours)
            assert str(caught.value) == str(error)
            continue
        twin = attempt(ours)
        if attempt is pickle.dumps:
            twin = pickle.loads(twin)
            expected = pickle.loads(expected)
        assert type(twin) is type(ours) and isinstance(twin, type(own))
        assert type(twin.__wrapped__) is type(expected)
        assert twin.vecrank_pipeline.config == wrapped.vecrank_pipeline.config
    gc.collect()  # the half-built connections complain here, under this test's warning filter


async def test_context_manager_and_close_are_the_plain_clients(standin: WeaviateStandIn) -> None:
    raw = weaviate.connect_to_custom(**standin.connection_kwargs, additional_config=BOUNDED)
    with vecrank.wrap(raw) as client:
        assert isinstance(client, WeaviateClient) and client.__wrapped__ is raw and client.is_connected()
    assert not raw.is_connected()
    raw = weaviate.use_async_with_custom(**standin.connection_kwargs, additional_config=BOUNDED)
    async with vecrank.wrap(raw) as aclient:
        assert isinstance(aclient, WeaviateAsyncClient) and aclient.__wrapped__ is raw
    assert not raw.is_connected()
    raw = weaviate.connect_to_custom(**standin.connection_kwargs, additional_config=BOUNDED)
    vecrank.wrap(raw).close()
    assert not raw.is_connected()


# --- safe defaults: wrapping never breaks a query that worked ---------------------------------------


@pytest.mark.parametrize("config", [None, {}, {"collections": {"Other": {}}}])
async def test_text_searches_pass_through_without_a_config_that_enables_them(
    plain: Any, config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No text property and no model: only an intercepted search could fail."""
    monkeypatch.delenv("VECRANK_CONFIG", raising=False)
    with registered(EngineCalls(), "test-engine-calls") as calls:
        results = await _searches(vecrank.wrap(plain, config=config))
    assert calls.pairs == []
    assert _same(results, await _searches(plain))


async def test_rerank_asks_even_with_an_empty_config(plain: Any, tiny_bert: Path) -> None:
    notes = vecrank.wrap(plain, config={"defaults": {"model": str(tiny_bert)}}).collections.get("Notes")
    result = await resolve(notes.query.near_text(TEXT, limit=3, rerank=Rerank(prop="body")))
    assert all(obj.metadata.rerank_score is not None for obj in result.objects)


async def test_strict_mode_rejects_only_searches_that_would_rerank(plain: Any, tiny_bert: Path) -> None:
    config = {"defaults": {"model": str(tiny_bert)}, "collections": {"Docs": {}}, "strict_collections": True}
    wrapped = vecrank.wrap(plain, config=config)
    assert _same(await _searches(wrapped), await _searches(plain))
    notes = wrapped.collections.get("Notes")
    with pytest.raises(vecrank.ConfigError, match="collection 'Notes' is not configured"):
        await resolve(notes.query.near_text(TEXT, limit=3, rerank=Rerank(prop="body")))


async def test_sync_and_async_twins_offer_the_same_methods() -> None:
    """Each sync proxy class and its async twin expose the same public methods and properties."""
    from vecrank.adapters import weaviate as adapter

    def own(cls: type) -> set[str]:
        return {
            name for klass in cls.__mro__[:-1] if klass.__module__ == adapter.__name__ for name in vars(klass)
        }

    for name in ("RerankingWeaviateClient", "RerankingCollections", "RerankingCollection", "RerankingQuery"):
        sync, asynchronous = getattr(adapter, name), getattr(adapter, f"Async{name}")
        assert {n for n in own(sync) if not n.startswith("_")} == {
            n for n in own(asynchronous) if not n.startswith("_")
        }
