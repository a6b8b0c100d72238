"""Cascades (config, order, both adapters, the real engine) and deterministic ties.

Two plugin rerankers with known scores stand in for a small and a large model: ``count-x``
scores a text by its number of ``x``, ``count-y`` by its number of ``y``. Each records the
pairs it was asked to score, so the tests see which stage read which hit.
"""

from __future__ import annotations

import random

import pytest
import weaviate
from engine_fixtures import registered
from qdrant_client import QdrantClient, models
from weaviate.classes.init import AdditionalConfig, Timeout

import vecrank
from vecrank import ConfigError, load_config
from vecrank.adapters import QueryCandidates, RerankPipeline
from vecrank.candidate import Candidate
from vecrank.cascade import Staged, order, run_cascade
from vecrank.config import CollectionConfig, reranker_settings
from vecrank.server.settings import models_from_config
from vecrank.testing.weaviate_server import WeaviateStandIn

DIM = 4
QUERY_VECTOR = [0.3, -0.2, 0.8, 0.1]
CASCADE = {"stages": [{"model": "count-x", "keep": 4}, {"model": "count-y"}]}


class Counting:
    """Scores each text by how often ``letter`` occurs in it, and records every call's pairs."""

    def __init__(self, letter: str, calls: list) -> None:
        self.letter, self.calls = letter, calls

    def predict(self, pairs):
        self.calls.append([text for _, text in pairs])
        return [float(text.count(self.letter)) for _, text in pairs]


class CountingRerankers:
    """Registers ``count-x`` and ``count-y``; ``calls[name]`` lists the texts of each call."""

    def __init__(self) -> None:
        self.calls: dict[str, list[list[str]]] = {"count-x": [], "count-y": []}

    @vecrank.hookimpl
    def vecrank_register_rerankers(self, register):
        for name in self.calls:
            letter = name[-1]
            register(name, lambda config, letter=letter, name=name: Counting(letter, self.calls[name]))


@pytest.fixture
def counting():
    with registered(CountingRerankers(), "counting") as plugin:
        yield plugin


def _texts(seed: int = 3, count: int = 12) -> list[str]:
    """Texts with distinct numbers of x and of y (so both orders are strict), plus a tag."""
    rng = random.Random(seed)
    xs, ys = rng.sample(range(1, 30), count), rng.sample(range(1, 30), count)
    return [f"doc{i} " + "x" * x + " " + "y" * y for i, (x, y) in enumerate(zip(xs, ys))]


def expected_cascade(texts_in_database_order: list[str], keep: int) -> list[str]:
    """The cascade order by hand: the best ``keep`` by x, ordered by y; the rest by x."""
    by_x = sorted(texts_in_database_order, key=lambda t: -t.count("x"))
    return sorted(by_x[:keep], key=lambda t: -t.count("y")) + by_x[keep:]


# --- config -------------------------------------------------------------------------------------


def test_stages_from_toml(tmp_path):
    path = tmp_path / "vecrank.toml"
    path.write_text(
        '[defaults]\nmodel = "ettin-32m"\n\n[collections.faq]\ncandidates = 200\nmax_length = 256\n'
        'stages = [{model = "ettin-17m", keep = 30, max_length = 128}, {model = "ettin-1b"}]\n'
    )
    config = load_config(path)
    faq = config.for_collection("faq")
    assert faq.label == "ettin-17m@30>ettin-1b"
    assert [(s.model, s.max_length, keep) for s, keep in faq.stage_settings()] == [
        ("ettin-17m", 128, 30),
        ("ettin-1b", 256, None),
    ]
    assert all(s.stages is None and s.candidates == 200 for s, _ in faq.stage_settings())
    plain = config.for_collection("other")
    assert (plain.label, plain.stage_settings()) == ("ettin-32m", [(plain, None)])


def test_a_collection_model_replaces_a_default_cascade_and_stages_replace_a_default_model(counting):
    config = load_config({"defaults": CASCADE, "collections": {"one": {"model": "ettin-150m"}, "two": {}}})
    assert config.for_collection("one").label == "ettin-150m"
    assert config.for_collection("two").label == "count-x@4>count-y"
    config = load_config({"defaults": {"model": "ettin-150m"}, "collections": {"c": CASCADE}})
    assert config.for_collection("c").label == "count-x@4>count-y"


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([{"model": "a", "keep": 3}], "a cascade needs at least two stages"),
        ([{"model": "a"}, {"model": "b"}], "stage 1 ('a') needs `keep`: how many hits go on to stage 2"),
        ([{"model": "a", "keep": 3}, {"model": "b", "keep": 2}], "the last stage ('b') orders every hit"),
        (
            [{"model": "a", "keep": 3}, {"model": "b", "keep": 3}, {"model": "c"}],
            "stage 2 ('b') keeps 3 of the 3 hits it gets: `keep` must shrink",
        ),
        ([{"model": "a", "keep": 0}, {"model": "b"}], "key 'collections.docs.stages.0.keep'"),
        ([{"model": "a", "kept": 3}, {"model": "b"}], "'collections.docs.stages.0.kept'"),
        ([{"keep": 3}, {"model": "b"}], "'collections.docs.stages.0.model'"),
    ],
)
def test_bad_stages_are_config_errors_naming_the_collection(stages, message):
    with pytest.raises(ConfigError) as caught:
        load_config({"collections": {"docs": {"stages": stages}}})
    assert "collection 'docs'" in str(caught.value) or "collections.docs" in str(caught.value)
    assert message.replace("collections.docs.", "") in str(caught.value)


def test_model_and_stages_in_one_section_is_an_error():
    with pytest.raises(ConfigError, match=r"\[defaults\]|defaults.*set either `model` or `stages`"):
        load_config({"defaults": {"model": "a", **CASCADE}})
    with pytest.raises(ConfigError, match="collection 'docs': set either `model` or `stages`, not both"):
        load_config({"collections": {"docs": {"model": "a", **CASCADE}}})


def test_command_line_names():
    assert reranker_settings("ettin-17m") == {"model": "ettin-17m"}
    assert reranker_settings("ettin-17m@30 > ettin-150m@10>ettin-1b") == {
        "stages": [
            {"model": "ettin-17m", "keep": 30},
            {"model": "ettin-150m", "keep": 10},
            {"model": "ettin-1b"},
        ]
    }
    assert CollectionConfig(**reranker_settings("a@30>b")).label == "a@30>b"
    with pytest.raises(ConfigError, match="cascade 'a@x>b': write each stage as MODEL@KEEP"):
        reranker_settings("a@x>b")
    with pytest.raises(ConfigError, match="cascade 'a@0>b': stage 1 \\('a'\\) keeps 0 hits"):
        reranker_settings("a@0>b")
    with pytest.raises(ConfigError, match="cascade 'a>b': stage 1 \\('a'\\) needs `keep`"):
        reranker_settings("a>b")


# --- the cascade itself ------------------------------------------------------------------------


def test_each_stage_scores_what_the_one_before_kept_in_one_call():
    calls = []

    def by_length(pairs):
        calls.append(list(pairs))
        return [len(text) for _, text in pairs]

    def by_first_letter(pairs):
        calls.append(list(pairs))
        return [-ord(text[0]) for _, text in pairs]

    texts = [["ccc", "a", "dddd", "bb", "eeeee"], ["zz", "y"]]
    staged = run_cascade(["q1", "q2"], texts, [(by_length, 3), (by_first_letter, None)])
    assert [len(call) for call in calls] == [7, 5]
    assert calls[1] == [("q1", "eeeee"), ("q1", "dddd"), ("q1", "ccc"), ("q2", "zz"), ("q2", "y")]
    assert staged[0][1] == Staged(0, 1.0) and staged[0][0] == Staged(1, -ord("c"))
    # kept hits by the last stage, then the dropped ones by the first stage
    assert [texts[0][i] for i in order(staged[0])] == ["ccc", "dddd", "eeeee", "bb", "a"]
    assert [texts[1][i] for i in order(staged[1])] == ["y", "zz"]


def test_ties_keep_the_input_order_at_every_stage():
    staged = run_cascade(
        ["q"], [["a", "b", "c", "d"]], [(lambda p: [1.0] * len(p), 2), (lambda p: [0.0, 0.0], None)]
    )
    assert order(staged[0]) == [0, 1, 2, 3]


def test_qdrant_cascade(counting):
    texts = _texts()
    client = QdrantClient(":memory:")
    client.create_collection(
        "docs", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT)
    )
    rng = random.Random(5)
    client.upsert(
        "docs",
        [
            models.PointStruct(id=i, vector=[rng.uniform(-1, 1) for _ in range(DIM)], payload={"text": t})
            for i, t in enumerate(texts)
        ],
    )
    database = [p.payload["text"] for p in client.query_points("docs", query=QUERY_VECTOR, limit=12).points]
    wrapped = vecrank.wrap(client, {"collections": {"docs": {**CASCADE, "candidates": 12}}})
    points = wrapped.query_points("docs", query=QUERY_VECTOR, limit=8, rerank_query="q").points
    expected = expected_cascade(database, keep=4)
    assert [p.payload["text"] for p in points] == expected[:8]
    # kept hits carry the last stage's score, the others the first stage's
    assert [p.score for p in points] == [t.count("y") for t in expected[:4]] + [
        t.count("x") for t in expected[4:8]
    ]
    assert [len(c) for c in counting.calls["count-x"]] == [12]
    assert sorted(counting.calls["count-y"][0]) == sorted(expected[:4])

    for calls in counting.calls.values():
        calls.clear()
    batch = wrapped.query_batch_points(
        "docs",
        [
            models.QueryRequest(query=QUERY_VECTOR, limit=5, with_payload=True),
            models.QueryRequest(query=QUERY_VECTOR, limit=5, with_payload=True),
        ],
        rerank_queries=["q", "r"],
    )
    assert [len(c) for c in counting.calls["count-x"]] == [12 * 2]  # one call per stage for all queries
    assert [len(c) for c in counting.calls["count-y"]] == [4 * 2]
    assert [[p.payload["text"] for p in r.points] for r in batch] == [expected[:5]] * 2


def test_weaviate_cascade(counting):
    texts = _texts(seed=9, count=10)
    with WeaviateStandIn(embed=lambda text: [1.0, 0.0, 0.0, 0.0]) as server:
        server.add_collection("Docs", {"text": "text"})
        rng = random.Random(2)
        for text in texts:
            server.add_object("Docs", {"text": text}, vector=[rng.uniform(-1, 1) for _ in range(DIM)])
        timeouts = AdditionalConfig(timeout=Timeout(init=5, query=10, insert=10))
        with weaviate.connect_to_custom(**server.connection_kwargs, additional_config=timeouts) as client:
            raw = client.collections.get("Docs").query.near_vector(QUERY_VECTOR, limit=10).objects
            database = [obj.properties["text"] for obj in raw]
            wrapped = vecrank.wrap(client, {"collections": {"docs": {**CASCADE, "candidates": 10}}})
            docs = wrapped.collections.get("Docs")
            result = docs.query.near_vector(
                QUERY_VECTOR, limit=6, rerank=weaviate.classes.query.Rerank(prop="text", query="q")
            )
    expected = expected_cascade(database, keep=4)
    assert [obj.properties["text"] for obj in result.objects] == expected[:6]
    assert [len(c) for c in counting.calls["count-x"]] == [10]
    assert [len(c) for c in counting.calls["count-y"]] == [4]


def test_post_processing_runs_per_stage_and_errors_name_the_stage(counting):
    texts = _texts()
    pipeline = RerankPipeline(load_config({"defaults": {**CASCADE, "normalize": "minmax"}}))
    candidates = [
        Candidate(id=i, payload={"text": t}, vector_score=None, position=i) for i, t in enumerate(texts)
    ]
    [ordered] = pipeline.rerank("docs", [QueryCandidates("q", candidates)])
    assert [c.payload["text"] for c in ordered] == expected_cascade(texts, keep=4)
    # minmax per group: the kept hits span 0..1 by y, the rest 0..1 by x
    assert [ordered[0].score, ordered[3].score, ordered[4].score, ordered[-1].score] == [1.0, 0.0, 1.0, 0.0]

    class Failing:
        @vecrank.hookimpl(tryfirst=True)
        def vecrank_rerank(self, collection, pairs, config):
            if config.model == "count-y":
                raise RuntimeError("out of memory")

    with registered(Failing(), "failing"):
        with pytest.raises(vecrank.RerankError, match="plugin 'failing' raised in vecrank_rerank"):
            pipeline.rerank("docs", [QueryCandidates("q", candidates)])
        passthrough = RerankPipeline(load_config({"defaults": {**CASCADE, "on_error": "passthrough"}}))
        [ordered] = passthrough.rerank("docs", [QueryCandidates("q", candidates)])
        assert [c.position for c in ordered] == list(range(12)) and ordered[0].score is None


def test_real_engine_cascade_matches_the_two_models_run_by_hand(tiny_models):
    small, large = str(tiny_models["bert"]), str(tiny_models["modernbert"])
    texts = [
        "the city by the river",
        "a dog needs a walk",
        "python code for search",
        "people live in berlin",
        "the capital of france is paris",
        "rain and sunny weather",
        "music history",
        "a cat and a dog",
    ]
    query = "which city has the most people"
    pipeline = RerankPipeline(
        load_config({"defaults": {"stages": [{"model": small, "keep": 3}, {"model": large}]}})
    )
    candidates = [
        Candidate(id=i, payload={"text": t}, vector_score=None, position=i) for i, t in enumerate(texts)
    ]
    [ordered] = pipeline.rerank("docs", [QueryCandidates(query, candidates)])
    first = vecrank.get_reranker(small).predict([(query, t) for t in texts])
    by_first = sorted(range(len(texts)), key=lambda i: -first[i])
    second = vecrank.get_reranker(large).predict([(query, texts[i]) for i in by_first[:3]])
    kept = [by_first[i] for i in sorted(range(3), key=lambda i: -second[i])]
    assert [c.position for c in ordered] == kept + by_first[3:]
    assert [c.score for c in ordered[:3]] == pytest.approx(sorted(second, reverse=True), abs=1e-6)


def test_serve_offers_a_cascades_stages_by_their_own_names(counting):
    config = load_config({"defaults": {"model": "ettin-17m"}, "collections": {"faq": CASCADE, "docs": {}}})
    assert models_from_config(config) == {
        "default": "ettin-17m",
        "docs": "ettin-17m",
        "ettin-17m": "ettin-17m",
        "count-x": "count-x",
        "count-y": "count-y",
    }


# --- deterministic ties ------------------------------------------------------------------------


def test_identical_pairs_are_scored_once_and_get_identical_scores(tiny_models, monkeypatch):
    reranker = vecrank.CrossEncoderReranker(str(tiny_models["modernbert"]))
    tokenized = []
    original = reranker.tokenize
    monkeypatch.setattr(
        reranker, "tokenize", lambda pairs, *a: tokenized.append(len(pairs)) or original(pairs, *a)
    )
    rng = random.Random(1)
    words = ["city", "river", "people", "python", "code", "search", "music", "rain", "dog", "cat"]
    others = [("q", " ".join(rng.choices(words, k=rng.randint(1, 40)))) for _ in range(60)]
    pair = ("which city", "the city by the river")
    scores = reranker.predict([pair, *others, pair, pair], batch_tokens=64)
    assert scores[0] == scores[-1] == scores[-2]
    assert sum(tokenized) == len(set(others) | {pair})
    assert scores[0] == pytest.approx(float(reranker.predict([pair])[0]), abs=1e-5)


def test_pipeline_scores_each_distinct_pair_once_and_ties_keep_the_database_order(counting):
    texts = ["x", "xx", "x", "y", "xx", "x"]
    pipeline = RerankPipeline(load_config({"defaults": {"model": "count-x"}}))
    candidates = [
        Candidate(id=i, payload={"text": t}, vector_score=None, position=i) for i, t in enumerate(texts)
    ]
    [ordered] = pipeline.rerank("docs", [QueryCandidates("q", candidates)])
    assert counting.calls["count-x"] == [["x", "xx", "y"]]
    assert [c.position for c in ordered] == [1, 4, 0, 2, 5, 3]


async def test_async_pipeline_runs_the_same_cascade(counting):
    texts = _texts(seed=4)
    pipeline = RerankPipeline(load_config({"defaults": CASCADE}))

    def request():
        return QueryCandidates("q", [Candidate(i, {"text": t}, None, i) for i, t in enumerate(texts)])

    [sync] = pipeline.rerank("docs", [request()])
    [async_] = await pipeline.arerank("docs", [request()])
    assert [(c.position, c.score) for c in async_] == [(c.position, c.score) for c in sync]
    assert [c.payload["text"] for c in async_] == expected_cascade(texts, keep=4)
    assert [len(c) for c in counting.calls["count-y"]] == [4, 4]
