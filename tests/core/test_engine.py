"""Engine behaviour beyond parity: errors, batching, sharing, input order."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
import torch

from vecrank import CrossEncoderReranker, ModelError
from vecrank.core import cache, varlen
from vecrank.core import reranker as reranker_module
from vecrank.core.batching import pack_batches

MIXED_PAIRS = [("query words", "document " * n) for n in (1, 40, 3, 90, 7, 0, 60)]


def test_unknown_alias_offline_names_alias_and_hub():
    with pytest.raises(ModelError) as caught:
        CrossEncoderReranker("ettin-17m")
    message = str(caught.value)
    assert "'ettin-17m'" in message
    assert "cross-encoder/ettin-reranker-17m-v1" in message
    assert "the Hugging Face hub cannot be reached" in message and "vecrank download ettin-17m" in message


def test_missing_folder_or_id_is_named():
    with pytest.raises(ModelError, match="'no-such/model-anywhere' is not on this machine"):
        CrossEncoderReranker("no-such/model-anywhere")


def test_bad_dtype_is_named(tiny_bert):
    with pytest.raises(ModelError, match="unknown dtype 'float8'"):
        CrossEncoderReranker(str(tiny_bert), dtype="float8")


def test_bad_or_missing_device_is_named(tiny_bert):
    with pytest.raises(ModelError, match="unknown device 'gpu0'"):
        CrossEncoderReranker(str(tiny_bert), device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="device 'cuda': no CUDA GPU is visible"):
            CrossEncoderReranker(str(tiny_bert), device="cuda")


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
    pairs = MIXED_PAIRS
    one_by_one = np.array([reranker.predict([pair])[0] for pair in pairs])
    np.testing.assert_allclose(reranker.predict(pairs, batch_tokens=64), one_by_one, atol=1e-5)
    np.testing.assert_allclose(reranker.predict(pairs, batch_tokens=100_000), one_by_one, atol=1e-5)


def test_max_length_per_call_truncates(tiny_bert):
    reranker = CrossEncoderReranker(str(tiny_bert))
    long_pair = [("query", "word " * 200)]
    short = CrossEncoderReranker(str(tiny_bert), max_length=16).predict(long_pair)
    np.testing.assert_allclose(reranker.predict(long_pair, max_length=16), short, atol=1e-6)
    assert not np.allclose(reranker.predict(long_pair), short)


def test_out_of_memory_splits_the_batch_and_keeps_every_score(tiny_bert, monkeypatch, caplog):
    reranker = CrossEncoderReranker(str(tiny_bert), cpu_workers=1)
    expected = reranker.predict(MIXED_PAIRS)
    forward = reranker._forward
    scored: list[int] = []

    def small_batches_only(encoded, indices):
        if len(indices) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        scored.extend(indices)
        return forward(encoded, indices)

    monkeypatch.setattr(reranker, "_forward", small_batches_only)
    with caplog.at_level(logging.WARNING, logger="vecrank.core.reranker"):
        np.testing.assert_allclose(reranker.predict(MIXED_PAIRS, batch_tokens=100_000), expected, atol=1e-5)
    assert sorted(scored) == list(range(len(MIXED_PAIRS)))  # each pair scored once, in halves
    assert "retrying in halves" in caplog.text

    def always_out_of_memory(encoded, indices):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(reranker, "_forward", always_out_of_memory)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        reranker.predict(MIXED_PAIRS[:1])


def test_overlapped_tokenisation_keeps_chunks_in_place(tiny_bert, monkeypatch):
    reranker = CrossEncoderReranker(str(tiny_bert))
    expected = reranker.predict(MIXED_PAIRS)
    monkeypatch.setattr(reranker_module, "TOKENIZE_CHUNK", 3)
    threads: set[str] = set()
    tokenize = reranker.tokenize

    def tokenize_and_record(pairs, max_length=None, instruction=None):
        threads.add(threading.current_thread().name)
        return tokenize(pairs, max_length, instruction)

    monkeypatch.setattr(reranker, "tokenize", tokenize_and_record)
    reranker._overlap_tokenization = True
    np.testing.assert_allclose(reranker.predict(MIXED_PAIRS), expected, atol=1e-6)
    assert threads and all(name.startswith("vecrank-tokenize") for name in threads)


@pytest.mark.parametrize("flash", [False, True])
@pytest.mark.parametrize("torch_varlen", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_auto_attention_packs_on_cuda_only_where_a_kernel_takes_the_dtype(
    monkeypatch, flash, torch_varlen, dtype
):
    """flash-attn and torch's varlen_attn take fp16/bf16 only: fp32 on CUDA runs padded."""
    cuda = torch.device("cuda")
    monkeypatch.setattr(varlen, "flash_attn_available", lambda: flash)
    monkeypatch.setattr(varlen, "torch_varlen_available", lambda: torch_varlen)
    half = dtype in (torch.float16, torch.bfloat16)
    expected = "flash-attn" if flash and half else "torch-varlen" if torch_varlen and half else "sdpa-loop"
    assert varlen.varlen_kernel(cuda, dtype) == expected
    assert varlen.packs_by_default(cuda, dtype) == (expected != "sdpa-loop")
    assert varlen.packs_by_default(torch.device("cpu"), dtype)
    assert varlen.varlen_kernel(torch.device("cpu"), dtype) == "sdpa-loop"


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


def test_padded_budget_shrinks_with_the_square_of_long_lengths():
    lengths = [8000] * 2 + [2000] * 8 + [500] * 16
    linear = pack_batches(lengths, batch_tokens=16384)
    padded = pack_batches(lengths, batch_tokens=16384, attention_span=512)
    assert [len(batch) for batch in linear] == [2, 8, 16]
    # 8K pairs one at a time; 2K pairs at a quarter of the linear count; short ones unchanged.
    assert [len(batch) for batch in padded] == [1, 1, 2, 2, 2, 2, 16]


def test_engine_counts_attention_memory_on_padded_batches_only(tiny_models):
    packed = CrossEncoderReranker(str(tiny_models["modernbert"]), attention="varlen")
    padded = CrossEncoderReranker(str(tiny_models["modernbert"]), attention="sdpa")
    assert packed._attention_span is None
    assert padded._attention_span == reranker_module.PADDED_ATTENTION_SPAN


def test_cpu_out_of_memory_splits_the_batch(tiny_bert, monkeypatch):
    reranker = CrossEncoderReranker(str(tiny_bert), cpu_workers=1)
    expected = reranker.predict(MIXED_PAIRS)
    forward = reranker._forward

    def small_batches_only(encoded, indices):
        if len(indices) > 2:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: can't allocate memory")
        return forward(encoded, indices)

    monkeypatch.setattr(reranker, "_forward", small_batches_only)
    np.testing.assert_allclose(reranker.predict(MIXED_PAIRS, batch_tokens=100_000), expected, atol=1e-5)

    def other_error(encoded, indices):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(reranker, "_forward", other_error)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        reranker.predict(MIXED_PAIRS)


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
