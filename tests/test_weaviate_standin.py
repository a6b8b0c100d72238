"""The Weaviate stand-in, exercised through the real weaviate-client (sync and async) on loopback."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import weaviate
import weaviate.connect.v4 as weaviate_connection
from weaviate.classes.config import DataType, Property
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Timeout
from weaviate.classes.query import BM25Operator, Filter, GroupBy, MetadataQuery, Rerank
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateQueryError
from weaviate.outputs.query import QueryReturn

from vecrank.testing.weaviate_server import WeaviateStandIn

VOCAB = ("cats", "stock", "bond")

# title, category, year, tags, vector (3-d, aligned with VOCAB)
CORPUS = [
    ("cats purr and sleep", "pets", 2001, ["animal"], [1.0, 0.0, 0.0]),
    ("dogs bark at cats", "pets", 1999, ["animal", "noise"], [0.8, 0.6, 0.0]),
    ("stock markets fall", "finance", 2010, ["money"], [0.0, 1.0, 0.0]),
    ("bond yields rise", "finance", 2015, ["money", "rates"], [0.0, 0.0, 1.0]),
    ("cats on the stock exchange", "finance", 2020, ["animal", "money"], [0.6, 0.8, 0.0]),
]
ALL = ("title", "category", "year", "tags")
# Every client call is bounded by these timeouts (seconds).
BOUNDED = AdditionalConfig(timeout=Timeout(init=5, query=10, insert=10))


def keyword_embed(text: str) -> list[float]:
    """Count the VOCAB words: near_text("cats") embeds to [1, 0, 0]."""
    words = text.lower().split()
    return [float(words.count(w)) for w in VOCAB]


@pytest.fixture(scope="module")
def standin() -> Iterator[WeaviateStandIn]:
    """A running stand-in holding CORPUS in "Articles" and two named-vector objects in "Multi"."""
    with WeaviateStandIn(embed=keyword_embed) as server:
        server.add_collection("Articles", {"title": "text", "category": "text", "year": "int"})
        for title, category, year, tags, vector in CORPUS:
            props = {"title": title, "category": category, "year": year, "tags": tags}
            server.add_object("Articles", props, vector=vector)
        server.add_collection("Multi", ["name"])
        server.add_object("Multi", {"name": "a"}, vectors={"title": [1, 0], "body": [0, 1]})
        server.add_object("Multi", {"name": "b"}, vectors={"title": [0, 1], "body": [1, 0]})
        yield server


@pytest.fixture(scope="module")
def articles(standin: WeaviateStandIn) -> Iterator[Collection]:
    """The "Articles" collection through a connected sync client."""
    with connect(standin) as client:
        yield client.collections.get("Articles")


def connect(server: WeaviateStandIn) -> weaviate.WeaviateClient:
    """A sync client connected with the full init checks (meta, gRPC health, version)."""
    return weaviate.connect_to_custom(
        **server.connection_kwargs, skip_init_checks=False, additional_config=BOUNDED
    )


def titles(result: QueryReturn) -> list[str]:
    """The titles of a query's objects, in result order."""
    return [o.properties["title"] for o in result.objects]


def test_connect_runs_init_checks_on_loopback() -> None:
    pypi_url = weaviate_connection.PYPI_PACKAGE_URL
    with WeaviateStandIn(version="1.31.2") as server:
        assert f"{server.url}/pypi/weaviate-client/json" == weaviate_connection.PYPI_PACKAGE_URL
        with connect(server) as c:
            assert c.is_ready() and c.is_live()
            assert c.get_meta()["version"] == "1.31.2"
            assert c.collections.list_all() == {}
        server.add_collection("Docs")
        with pytest.raises(ValueError, match="already exists"):
            server.add_collection("docs")
        with pytest.raises(KeyError, match="Nope"):
            server.add_object("Nope", {"text": "x"})
    assert pypi_url == weaviate_connection.PYPI_PACKAGE_URL


def test_near_vector_orders_by_cosine_distance(articles, standin: WeaviateStandIn) -> None:
    meta = MetadataQuery(distance=True, certainty=True, creation_time=True)
    result = articles.query.near_vector([1.0, 0.0, 0.0], limit=3, return_metadata=meta)
    assert titles(result) == [CORPUS[0][0], CORPUS[1][0], CORPUS[4][0]]
    distances = [o.metadata.distance for o in result.objects]
    assert distances == pytest.approx([0.0, 0.2, 0.4], abs=1e-6)
    assert result.objects[1].metadata.certainty == pytest.approx(0.9, abs=1e-6)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs(now - result.objects[0].metadata.creation_time) < datetime.timedelta(minutes=5)
    assert standin.last_request.limit == 3


def test_near_vector_distance_threshold_and_autocut(articles) -> None:
    near = articles.query.near_vector([1.0, 0.0, 0.0], distance=0.3)
    assert titles(near) == [CORPUS[0][0], CORPUS[1][0]]
    # distances 0, .2, .4, 1, 1: the first jump is before the two at 1.0
    cut = articles.query.near_vector([1.0, 0.0, 0.0], auto_limit=1)
    assert titles(cut) == [CORPUS[0][0], CORPUS[1][0], CORPUS[4][0]]


def test_near_text_embeds_the_query(articles, standin: WeaviateStandIn) -> None:
    result = articles.query.near_text("stock", limit=2, return_metadata=["distance"])
    assert titles(result) == [CORPUS[2][0], CORPUS[4][0]]
    assert result.objects[1].metadata.distance == pytest.approx(0.2, abs=1e-6)
    assert list(standin.last_request.near_text.query) == ["stock"]


def test_near_object_uses_the_objects_vector(articles) -> None:
    source = articles.query.fetch_objects(limit=1).objects[0]
    result = articles.query.near_object(source.uuid, limit=2, return_metadata=["distance"])
    assert result.objects[0].uuid == source.uuid
    assert titles(result)[1] == CORPUS[1][0]
    distances = [o.metadata.distance for o in result.objects]
    assert distances == pytest.approx([0.0, 0.2], abs=1e-6)


def test_bm25_scores_keyword_matches(articles) -> None:
    result = articles.query.bm25("cats", return_metadata=MetadataQuery(score=True))
    # all text fields count (title, category, tags): shorter documents score higher
    assert titles(result) == [CORPUS[0][0], CORPUS[1][0], CORPUS[4][0]]
    scores = [o.metadata.score for o in result.objects]
    assert scores[0] > scores[1] > scores[2] > 0
    # idf = ln(1 + 2.5/3.5); 6 tokens vs 6.4 on average: tf part 2.2 / (1 + 1.2 * (.25 + .75 * 6/6.4))
    assert scores[0] == pytest.approx(0.553139, abs=1e-5)
    both = articles.query.bm25("cats stock", operator=BM25Operator.and_())
    assert titles(both) == [CORPUS[4][0]]
    by_category = articles.query.bm25("finance", query_properties=["category"])
    assert sorted(titles(by_category)) == sorted(c[0] for c in CORPUS if c[1] == "finance")


def test_hybrid_fuses_normalised_scores(articles) -> None:
    meta = MetadataQuery(score=True)
    result = articles.query.hybrid("bond", vector=[1.0, 0.0, 0.0], alpha=0.25, return_metadata=meta)
    # keyword side: only "bond yields rise" (normalised 1.0); vector side: 1 - distance, min-max
    assert titles(result) == [CORPUS[i][0] for i in (3, 0, 1, 4, 2)]
    scores = [o.metadata.score for o in result.objects]
    assert scores == pytest.approx([0.75, 0.25, 0.2, 0.15, 0.0], abs=1e-6)
    keyword_only = articles.query.hybrid("bond", vector=[1.0, 0.0, 0.0], alpha=0.0)
    assert titles(keyword_only) == [CORPUS[3][0]]
    vector_only = articles.query.hybrid("stock", alpha=1.0, limit=2)  # embeds "stock"
    assert titles(vector_only) == [CORPUS[2][0], CORPUS[4][0]]


def test_fetch_objects_pages_in_insertion_order(articles, standin: WeaviateStandIn) -> None:
    assert titles(articles.query.fetch_objects()) == [c[0] for c in CORPUS]
    page = articles.query.fetch_objects(limit=2, offset=1)
    assert titles(page) == [CORPUS[1][0], CORPUS[2][0]]
    assert (standin.last_request.limit, standin.last_request.offset) == (2, 1)
    assert articles.query.fetch_objects(offset=10).objects == []


def test_iterator_pages_with_a_cursor(articles, standin: WeaviateStandIn) -> None:
    seen = len(standin.requests)
    listed = [o.properties["title"] for o in articles.iterator(cache_size=2)]
    assert listed == [c[0] for c in CORPUS]
    cursors = [request.after for request in standin.requests[seen:]]
    assert cursors[0] == "" and all(cursors[1:]) and len(cursors) == 4  # pages of 2, 2, 1, then none
    first = articles.query.fetch_objects(limit=1).objects[0].uuid
    with pytest.raises(WeaviateQueryError, match="cursor \\(after\\) goes with a plain fetch only"):
        articles.query.fetch_objects(after=first, filters=Filter.by_property("year").greater_than(2000))


def test_return_properties(articles) -> None:
    everything = articles.query.fetch_objects(limit=1).objects[0].properties
    assert everything == dict(zip(ALL, CORPUS[0][:4]))
    only_year = articles.query.fetch_objects(limit=1, return_properties=["year"])
    assert only_year.objects[0].properties == {"year": 2001}
    nothing = articles.query.near_vector([0.0, 0.0, 1.0], limit=1, return_properties=[])
    assert nothing.objects[0].properties == {} and nothing.objects[0].uuid is not None


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Filter.by_property("category").equal("finance"), {2, 3, 4}),
        (Filter.by_property("category").not_equal("finance"), {0, 1}),
        (Filter.by_property("year").greater_than(2010), {3, 4}),
        (Filter.by_property("year").greater_or_equal(2010), {2, 3, 4}),
        (Filter.by_property("year").less_than(2001), {1}),
        (Filter.by_property("title").equal("stock"), {2, 4}),
        (Filter.by_property("title").like("mark*"), {2}),
        (Filter.by_property("tags").contains_all(["animal", "money"]), {4}),
        (
            Filter.by_property("category").equal("pets") | Filter.by_property("year").greater_than(2015),
            {0, 1, 4},
        ),
        (
            Filter.all_of(
                [Filter.by_property("category").equal("finance"), Filter.by_property("year").less_than(2020)]
            ),
            {2, 3},
        ),
    ],
)
def test_filters(articles, where, expected: set[int]) -> None:
    result = articles.query.fetch_objects(filters=where)
    assert set(titles(result)) == {CORPUS[i][0] for i in expected}


def test_filters_apply_before_vector_ranking(articles) -> None:
    finance = Filter.by_property("category").equal("finance")
    result = articles.query.near_vector([1.0, 0.0, 0.0], filters=finance, limit=2)
    assert titles(result) == [CORPUS[4][0], CORPUS[2][0]]


def test_include_vector(articles) -> None:
    obj = articles.query.near_vector([0.8, 0.6, 0.0], limit=1, include_vector=True).objects[0]
    assert obj.vector["default"] == pytest.approx(CORPUS[1][4])
    assert articles.query.fetch_objects(limit=1).objects[0].vector == {}


def test_named_vectors(standin: WeaviateStandIn) -> None:
    with connect(standin) as client:
        multi = client.collections.get("Multi")
        by_body = multi.query.near_vector([1.0, 0.0], target_vector="body", include_vector=["title"])
        assert [o.properties["name"] for o in by_body.objects] == ["b", "a"]
        assert by_body.objects[0].vector == {"title": pytest.approx([0.0, 1.0])}
        by_title = multi.query.near_vector([1.0, 0.0], target_vector="title", limit=1)
        assert by_title.objects[0].properties["name"] == "a"
        assert list(standin.last_request.near_vector.targets.target_vectors) == ["title"]
        with pytest.raises(WeaviateQueryError, match="target_vector"):
            multi.query.near_vector([1.0, 0.0])


def test_group_by_groups_ranked_hits_by_property_value(articles) -> None:
    """Groups in the order of their best hit, each with its best objects, as Weaviate answers."""
    group_by = GroupBy(prop="category", number_of_groups=2, objects_per_group=2)
    result = articles.query.near_vector(
        [0.0, 1.0, 0.0], group_by=group_by, return_properties=["title"], return_metadata=["distance"]
    )
    assert list(result.groups) == ["finance", "pets"]
    finance, pets = result.groups["finance"], result.groups["pets"]
    assert [o.properties["title"] for o in finance.objects] == [
        "stock markets fall",
        "cats on the stock exchange",
    ]
    assert [o.properties["title"] for o in pets.objects] == ["dogs bark at cats", "cats purr and sleep"]
    assert finance.number_of_objects == 2 and all(o.belongs_to_group == "finance" for o in finance.objects)
    assert finance.min_distance == pytest.approx(0.0, abs=1e-6)
    assert finance.max_distance == pytest.approx(finance.objects[1].metadata.distance)
    assert pets.min_distance == pytest.approx(pets.objects[0].metadata.distance)
    assert [o.uuid for o in result.objects] == [o.uuid for g in (finance, pets) for o in g.objects]
    one = GroupBy(prop="category", number_of_groups=1, objects_per_group=1)
    only = articles.query.near_vector([1.0, 0.0, 0.0], group_by=one, return_properties=["title"])
    assert list(only.groups) == ["pets"] and only.objects[0].properties["title"] == "cats purr and sleep"


def test_unsupported_requests_fail_clearly(articles, standin) -> None:
    seen = len(standin.requests)
    with pytest.raises(WeaviateQueryError, match="no reranker module"):
        articles.query.near_vector([1.0, 0.0, 0.0], limit=2, rerank=Rerank(prop="title", query="cats"))
    assert len(standin.requests) == seen + 1
    assert standin.last_request.rerank.property == "title"
    assert standin.last_request.rerank.query == "cats"


async def test_async_client(standin: WeaviateStandIn) -> None:
    client = weaviate.use_async_with_custom(
        **standin.connection_kwargs, skip_init_checks=False, additional_config=BOUNDED
    )
    await client.connect()
    try:
        articles = client.collections.get("Articles")
        near = await articles.query.near_vector([1.0, 0.0, 0.0], limit=2, return_metadata=["distance"])
        assert titles(near) == [CORPUS[0][0], CORPUS[1][0]]
        assert near.objects[1].metadata.distance == pytest.approx(0.2, abs=1e-6)
        keyword = await articles.query.bm25("bond", return_properties=["year"])
        assert [o.properties for o in keyword.objects] == [{"year": 2015}]
        assert standin.last_request.bm25_search.query == "bond"
    finally:
        await client.close()


def test_connect_to_local_with_client_side_writes() -> None:
    with WeaviateStandIn(default_limit=2) as server:
        client = weaviate.connect_to_local(
            port=server.http_port, grpc_port=server.grpc_port, additional_config=BOUNDED
        )
        with client:
            notes = client.collections.create(
                "notes", properties=[Property(name="body", data_type=DataType.TEXT)]
            )
            assert notes.name == "Notes" and notes.config.get().properties[0].name == "body"
            first = notes.data.insert({"body": "the quick brown fox"})
            batch = notes.data.insert_many(
                [{"body": "lazy dogs sleep"}, DataObject(properties={"body": "fox den"})]
            )
            assert not batch.has_errors
            # no vectors given: the default hashed bag-of-words embeds the text
            hit = notes.query.near_text("the quick brown fox", return_metadata=["distance"])
            assert hit.objects[0].uuid == first
            assert hit.objects[0].metadata.distance == pytest.approx(0.0, abs=1e-6)
            assert len(notes.query.fetch_objects().objects) == 2  # default_limit
            assert len(notes.query.fetch_objects(limit=5).objects) == 3
            client.collections.delete("notes")
            assert not client.collections.exists("notes")
