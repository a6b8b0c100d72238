"""Engine behaviour beyond parity: errors, batching, sharing, input order."""

from __future__ import annotations

import numpy as np
import pytest

from vecrank import CrossEncoderReranker, ModelError
from vecrank.core import cache
from vecrank.core.batching import pack_batches


def test_unknown_alias_offline_names_alias_and_hub():
    with pytest.raises(ModelError) as caught:
        CrossEncoderReranker("ettin-17m")
    message = str(caught.value)
    assert "'ettin-17m'" in message
    assert "cross-encoder/ettin-reranker-17m-v1" in message
    assert "hub was unreachable" in message


def test_missing_folder_or_id_is_named():
    with pytest.raises(ModelError, match="'no-such/model-anywhere' could not be loaded"):
        CrossEncoderReranker("no-such/model-anywhere")


def test_remote_code_models_are_opt_in():
    with pytest.raises(ModelError, match="jina-reranker-v1-turbo-en.*trust_remote_code=True"):
        CrossEncoderReranker("jina-turbo")


def test_bad_dtype_is_named(tiny_bert):
    with pytest.raises(ModelError, match="unknown dtype 'float8'"):
        CrossEncoderReranker(str(tiny_bert), dtype="float8")


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ("not pairs", "not a string"),
        ([("q", "d"), ("only one",)], "pair 1 must be a \\(query, document\\) tuple"),
        ([("q", None)], "pair 0 must hold two strings, got \\(str, NoneType\\)"),
    ],
)
def test_bad_pairs_are_named(tiny_bert, pairs, message):
    with pytest.raises(TypeError, match=message):
        CrossEncoderReranker(str(tiny_bert)).predict(pairs)


def test_empty_input_gives_empty_scores(tiny_bert):
    reranker = CrossEncoderReranker(str(tiny_bert))
    assert reranker.predict([]).shape == (0,)
    assert reranker.rank("q", []) == []


def test_scores_do_not_depend_on_batching(tiny_bert):
    reranker = CrossEncoderReranker(str(tiny_bert))
    pairs = [("query words", "document " * n) for n in (1, 40, 3, 90, 7, 0, 60)]
    one_by_one = np.array([reranker.predict([pair])[0] for pair in pairs])
    np.testing.assert_allclose(reranker.predict(pairs, batch_tokens=64), one_by_one, atol=1e-5)
    np.testing.assert_allclose(reranker.predict(pairs, batch_tokens=100_000), one_by_one, atol=1e-5)


def test_max_length_per_call_truncates(tiny_bert):
    reranker = CrossEncoderReranker(str(tiny_bert))
    long_pair = [("query", "word " * 200)]
    short = CrossEncoderReranker(str(tiny_bert), max_length=16).predict(long_pair)
    np.testing.assert_allclose(reranker.predict(long_pair, max_length=16), short, atol=1e-6)
    assert not np.allclose(reranker.predict(long_pair), short)


def test_pack_batches_respects_budget_and_covers_everything():
    lengths = [5, 300, 17, 120, 120, 9, 64, 511, 2]
    batches = pack_batches(lengths, batch_tokens=512)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 512
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat, reverse=True)
    with pytest.raises(ValueError, match="batch_tokens must be positive"):
        pack_batches(lengths, batch_tokens=0)


def test_collections_naming_one_model_share_it(tiny_bert):
    cache.clear()
    try:
        first = cache.get_reranker(str(tiny_bert))
        assert cache.get_reranker(str(tiny_bert)) is first
        assert cache.get_reranker(str(tiny_bert), attention="eager") is not first
    finally:
        cache.clear()


async def test_async_twins_match(tiny_bert):
    reranker = CrossEncoderReranker(str(tiny_bert))
    documents = ["alpha beta", "gamma", "beta alpha gamma"]
    assert await reranker.arank("beta", documents) == reranker.rank("beta", documents)
    pairs = [("beta", d) for d in documents]
    np.testing.assert_array_equal(await reranker.apredict(pairs), reranker.predict(pairs))
