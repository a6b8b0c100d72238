"""Hypothesis over every route and protocol: no 5xx, every error JSON in its protocol's shape, and every
200 carrying the engine's own scores. Bounded examples keep it to a few seconds."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from server_helpers import DOCUMENTS

from vecrank.core import CrossEncoderReranker

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)

# Text: ordinary words, any Unicode, long runs (cut before tokenising); lone surrogates now and then.
texts = st.one_of(
    st.sampled_from(DOCUMENTS),
    st.text(max_size=40),
    st.builds(
        lambda word, count: (word + " ") * count,
        st.sampled_from(["river", "x", "中文", "  "]),
        st.integers(1, 400),
    ),
)
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
# Anything JSON, for fields that expect something else.
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
queries = st.one_of(texts, texts, texts, surrogates, junk)
documents = st.one_of(
    st.lists(texts, max_size=8), st.lists(texts, max_size=8), st.lists(texts | surrogates, max_size=4), junk
)
models = st.sampled_from([None, "tiny", "rerank-v3.5", "default", "nope", 7])
counts = st.none() | st.integers(-2, 70) | junk


def body(required: dict, **optional) -> st.SearchStrategy[dict]:
    """A body with its ``required`` fields (mostly valid) and each ``optional`` one present or not;
    now and then a required field is left out."""
    full = st.fixed_dictionaries(required, optional=optional)
    return st.one_of(full, full, full, st.fixed_dictionaries({}, optional={**required, **optional}))


BODIES = {
    "weaviate": ("/rerank", body({"query": queries}, documents=documents, property=texts | junk)),
    "tei": (
        "/rerank",
        st.builds(
            lambda fields, texts_: {**fields, "texts": texts_},
            body(
                {"query": queries},
                raw_scores=st.booleans(),
                return_text=st.booleans(),
                truncate=st.none() | st.booleans(),
                truncation_direction=st.sampled_from(["Left", "Right", "left", "right", "up"]),
                model=models,
            ),
            documents,
        ),
    ),
    "cohere-v2": (
        "/v2/rerank",
        body(
            {"query": queries, "documents": documents},
            model=models,
            top_n=counts,
            max_tokens_per_doc=counts,
        ),
    ),
    "cohere-v1/jina": (
        "/v1/rerank",
        body(
            {
                "query": queries,
                "documents": st.lists(
                    texts | st.fixed_dictionaries({"text": texts}, optional={"id": texts}), max_size=6
                )
                | junk,
            },
            model=models,
            top_n=counts,
            return_documents=st.booleans(),
            rank_fields=st.none() | st.just(["text"]) | st.just(["id"]),
        ),
    ),
}


def logit(probability: float) -> float:
    return (
        math.log(probability / (1 - probability))
        if 0 < probability < 1
        else math.copysign(50, probability - 0.5)
    )


def engine_logits(reranker: CrossEncoderReranker, query: str, documents: list[str]) -> list[float]:
    return reranker.predict([(query, document) for document in documents]).tolist() if documents else []


def check_scores(protocol: str, body: dict, answer, reranker: CrossEncoderReranker) -> None:
    """Every score of a 200 is the engine's own, for the right document, in the protocol's order."""
    query = body["query"]
    if protocol == "weaviate":
        documents = body["documents"] if body.get("documents") is not None else [body["property"]]
        scores = [s["score"] for s in answer["scores"]] if answer["scores"] is not None else [answer["score"]]
        pairs = list(enumerate(scores))
        raw = False
    elif protocol == "tei":
        documents, pairs, raw = (
            body["texts"],
            [(r["index"], r["score"]) for r in answer],
            body.get("raw_scores"),
        )
        if body.get("truncation_direction", "Right").lower() == "left":
            return  # the kept end of a long text is checked token by token in test_server_fidelity
    else:
        documents = [d if isinstance(d, str) else d.get("text", "") for d in body["documents"]]
        pairs, raw = [(r["index"], r["relevance_score"]) for r in answer["results"]], False
        if body.get("max_tokens_per_doc") is not None or body.get("rank_fields") == ["id"]:
            return  # checked token by token in test_server_fidelity
    truth = engine_logits(reranker, query, documents)
    for index, score in pairs:
        assert (score if raw else logit(score)) == pytest.approx(truth[index], abs=1e-3)
    ranked = [index for index, _ in pairs]
    if protocol != "weaviate":  # best first, and a top_n cut keeps the best
        assert all(truth[a] >= truth[b] - 1e-5 for a, b in zip(ranked, ranked[1:]))
        left_out = set(range(len(documents))) - set(ranked)
        assert all(truth[ranked[-1]] >= truth[i] - 1e-5 for i in left_out) if ranked else not documents


# One valid and one invalid body per protocol, always among the examples.
KNOWN = {
    "weaviate": [{"query": "q", "documents": DOCUMENTS[:3]}, {"query": "q", "documents": ["\ud800"]}],
    "tei": [{"query": "q", "texts": DOCUMENTS[:3]}, {"query": "q", "texts": [1]}],
    "cohere-v2": [{"query": "q", "documents": DOCUMENTS[:3], "top_n": 2}, {"query": "q", "documents": "a"}],
    "cohere-v1/jina": [{"query": "q", "documents": [{"text": "a"}, "b"]}, {"query": 1, "documents": ["a"]}],
}
ERROR_KEYS = {
    "/rerank": {"error", "error_type"},
    "/v2/rerank": {"message"},
    "/v1/rerank": {"message", "detail"},
}


@pytest.mark.parametrize("protocol", list(BODIES))
def test_fuzzed_requests_get_json_answers_and_the_engines_scores(
    client: httpx.Client, reranker: CrossEncoderReranker, protocol: str
) -> None:
    path, bodies = BODIES[protocol]

    @FUZZ
    @given(body=bodies)
    @example(body=KNOWN[protocol][0])
    @example(body=KNOWN[protocol][1])
    def run(body: dict) -> None:
        response = client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert response.status_code < 500, response.text
        assert response.headers["content-type"] == "application/json"
        answer = response.json()
        if response.status_code == 200:  # checked on the body as the server decodes it (surrogate pairs join)
            check_scores(protocol, json.loads(json.dumps(body)), answer, reranker)
        else:
            assert set(answer) == ERROR_KEYS[path] and answer[next(iter(ERROR_KEYS[path]))]

    run()


@FUZZ
@given(
    raw=st.binary(max_size=200) | st.sampled_from([b"[" * 50_000, b'{"query": "\xed\xa0\x80"}', b"\xff\xfe"])
)
def test_fuzzed_raw_bodies_never_get_a_server_error(client: httpx.Client, raw: bytes) -> None:
    for path in ERROR_KEYS:
        response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code < 500 and set(response.json()) == ERROR_KEYS[path]
