"""Packed (varlen) attention gives the padded result; CPU batch workers keep order and thread settings."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vecrank import CrossEncoderReranker
from vecrank.core.batching import EncodedPairs, pack_batch, pad_batch
from vecrank.core.first_token import first_token_attention, first_token_only
from vecrank.core.modernbert import interleave_halves, pack_layers, rotate_interleaved
from vecrank.core.varlen import FIRST_TOKEN_ONLY, banded_attention, varlen_attention_forward
from vecrank.core.workers import BatchWorkers
from vecrank.testing.tiny_models import MODERNBERT_LOCAL_ATTENTION, build_tiny_model

# Lengths around and well past the tiny ModernBERT's local window, so sliding layers mask.
WORDS = ["rotate", "keys", "cluster", "database", "search", "vector", "score", "model", "answer", "question"]
PAIRS = [
    (" ".join(WORDS[: 1 + n % 5]), " ".join(WORDS[i % len(WORDS)] for i in range(n)))
    for n in (0, 3, 9, 15, 16, 17, 30, 45, 70, 100)
]


def _reference_attention(q, k, v, lengths, half_window):
    """Padded SDPA per sequence with an explicit sliding-window mask; q, k, v: (1, H, T, D)."""
    out, start = [], 0
    for length in lengths:
        position = torch.arange(length)
        mask = (position[:, None] - position[None, :]).abs() <= half_window
        segment = (t[:, :, start : start + length] for t in (q, k, v))
        out.append(F.scaled_dot_product_attention(*segment, attn_mask=mask).transpose(1, 2))
        start += length
    return torch.cat(out, dim=1)


@pytest.mark.parametrize("sliding_window", [None, 9, 65])
def test_varlen_attention_matches_per_sequence_sdpa(sliding_window):
    torch.manual_seed(0)
    lengths = [1, 7, 40, 130, 200]
    q, k, v = (torch.randn(1, 4, sum(lengths), 16) for _ in range(3))
    cu_seqlens = torch.tensor(np.cumsum([0, *lengths]), dtype=torch.int32)
    out, _ = varlen_attention_forward(
        torch.nn.Module(),
        q,
        k,
        v,
        None,
        scaling=16**-0.5,
        sliding_window=sliding_window,
        cu_seq_lens_q=cu_seqlens,
        max_length_q=max(lengths),
    )
    half_window = 10**9 if sliding_window is None else sliding_window - 1
    torch.testing.assert_close(out, _reference_attention(q, k, v, lengths, half_window))


@pytest.mark.parametrize(("length", "half_width"), [(3, 8), (25, 8), (64, 64), (200, 64), (4097, 64)])
def test_banded_attention_equals_the_masked_full_matrix(length, half_width):
    torch.manual_seed(2)
    q, k, v = (torch.randn(length, 4, 32) for _ in range(3))
    out = banded_attention(q, k, v, half_width, 32**-0.5)
    reference = _reference_attention(
        *(t.transpose(0, 1).unsqueeze(0) for t in (q, k, v)), [length], half_width
    )
    torch.testing.assert_close(out, reference[0], atol=1e-5, rtol=0)


def test_long_documents_score_as_the_padded_model(tmp_path):
    """Pairs up to 2,000 tokens, far past the window: banded local layers give the padded scores."""
    folder = str(
        build_tiny_model("modernbert", tmp_path / "long", max_position_embeddings=2048, pooling="cls")
    )
    pairs = [("rotate keys", " ".join(WORDS[i % 7] for i in range(n))) for n in (40, 300, 900, 1990)]
    packed = CrossEncoderReranker(folder, device="cpu", attention="varlen")
    assert max(packed.tokenize(pairs).lengths) >= 1990
    padded = CrossEncoderReranker(folder, device="cpu", attention="sdpa")
    np.testing.assert_allclose(packed.predict(pairs), padded.predict(pairs), atol=1e-4, rtol=0)


@pytest.mark.parametrize("half_window", [-1, 8])
def test_first_token_attention_matches_sdpa_on_the_first_row(half_window):
    torch.manual_seed(1)
    lengths = [1, 5, 30]
    q, k, v = (torch.randn(1, 3, sum(lengths), 8) for _ in range(3))
    cu_seqlens = torch.tensor(np.cumsum([0, *lengths]), dtype=torch.int32)
    starts = cu_seqlens[:-1].long()
    q_first, k_packed, v_packed = q[0, :, starts].transpose(0, 1), k[0].transpose(0, 1), v[0].transpose(0, 1)
    out = first_token_attention(q_first, k_packed, v_packed, cu_seqlens, 8**-0.5, half_window)
    reference = _reference_attention(q, k, v, lengths, 10**9 if half_window < 0 else half_window)
    torch.testing.assert_close(out, reference[0, starts].reshape(len(lengths), -1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rotary_on_interleaved_rows_matches_transformers(dtype):
    from transformers.models.modernbert.modeling_modernbert import apply_rotary_pos_emb

    torch.manual_seed(2)
    tokens, heads, depth, hidden = 11, 3, 8, 12
    projection = torch.randn(3 * heads * depth, hidden)
    states = torch.randn(tokens, hidden)
    qkv = (states @ projection.T).to(dtype).view(tokens, 3, heads, depth)
    query_key_rows = interleave_halves(projection[: 2 * heads * depth], depth)
    interleaved = (states @ query_key_rows.T).to(dtype).view(tokens, 2, heads, depth)
    angles = torch.arange(tokens)[:, None] * 10000 ** (-torch.arange(0, depth, 2) / depth)
    cos, sin = (torch.cat((f(angles), f(angles)), dim=-1).to(dtype) for f in (torch.cos, torch.sin))
    query, key = (qkv[:, i].transpose(0, 1).unsqueeze(0) for i in (0, 1))  # (1, H, T, D), as transformers
    expected = apply_rotary_pos_emb(query, key, cos.unsqueeze(0), sin.unsqueeze(0))
    rotated = rotate_interleaved(interleaved, cos, sin).to(dtype)
    for index in (0, 1):
        want = expected[index][0].transpose(0, 1)  # (T, H, D)
        # the same values, each head's halves interleaved: (0, D/2, 1, D/2 + 1, ...)
        halves_interleaved = want.unflatten(-1, (2, depth // 2)).transpose(-1, -2).flatten(-2)
        torch.testing.assert_close(rotated[:, index], halves_interleaved)
    # so query-key dot products, all that attention reads, are those of transformers
    scores = torch.einsum("thd,shd->hts", rotated[:, 0].float(), rotated[:, 1].float())
    want_scores = torch.einsum("hTd,hsd->hTs", expected[0][0].float(), expected[1][0].float())
    torch.testing.assert_close(scores, want_scores, atol=1e-4 if dtype == torch.float32 else 0.1, rtol=1e-2)


def test_packed_layers_still_score_padded_batches_as_transformers_does(tiny_models):
    padded = CrossEncoderReranker(str(tiny_models["modernbert"]), device="cpu", attention="sdpa")
    before = padded.predict(PAIRS)
    pack_layers(padded.model)
    layers = padded.model.model.layers
    assert all("forward" in vars(layer.attn) and "forward" in vars(layer.mlp) for layer in layers)
    np.testing.assert_allclose(padded.predict(PAIRS), before, atol=1e-5, rtol=0)


def test_first_token_only_on_modernbert_needs_interleaved_layers(tiny_modernbert_cls):
    padded = CrossEncoderReranker(tiny_modernbert_cls, device="cpu", attention="sdpa")
    with pytest.raises(ValueError, match="pack_layers"):
        first_token_only(padded.model)


@pytest.fixture(scope="module")
def tiny_modernbert_cls(tmp_path_factory) -> str:
    """A tiny ModernBERT that pools the first token, like the Ettin rerankers."""
    return str(build_tiny_model("modernbert", tmp_path_factory.mktemp("cls"), pooling="cls"))


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta", "modernbert", "modernbert-cls"])
def test_packed_scores_equal_padded_scores(tiny_models, tiny_modernbert_cls, architecture):
    folder = tiny_modernbert_cls if architecture == "modernbert-cls" else str(tiny_models[architecture])
    padded = CrossEncoderReranker(folder, device="cpu", attention="sdpa", batch_tokens=256)
    packed = CrossEncoderReranker(folder, device="cpu", attention="varlen", batch_tokens=256)
    assert packed.loaded.attention == "varlen:sdpa-loop"
    # Mean pooling needs every token of the last layer; first-token heads need only the first.
    assert getattr(packed.model, FIRST_TOKEN_ONLY, False) == (architecture != "modernbert")
    lengths = packed.tokenize(PAIRS).lengths
    assert max(lengths) > 2 * MODERNBERT_LOCAL_ATTENTION
    np.testing.assert_allclose(packed.predict(PAIRS), padded.predict(PAIRS), atol=1e-5, rtol=0)


def test_first_token_modernbert_matches_sentence_transformers(tiny_modernbert_cls):
    from sentence_transformers import CrossEncoder

    expected = CrossEncoder(tiny_modernbert_cls, device="cpu").predict(
        PAIRS, activation_fn=torch.nn.Identity()
    )
    scores = CrossEncoderReranker(tiny_modernbert_cls, device="cpu").predict(PAIRS)
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)
    assert list(np.argsort(-scores, kind="stable")) == list(np.argsort(-expected, kind="stable"))


def test_auto_attention_packs_on_cpu_where_the_architecture_allows(tiny_models):
    assert CrossEncoderReranker(str(tiny_models["modernbert"])).loaded.attention == "varlen:sdpa-loop"
    assert not CrossEncoderReranker(str(tiny_models["deberta-v2"])).loaded.attention.startswith("varlen")


def test_pack_and_pad_lay_out_the_same_tokens():
    encoded = EncodedPairs([[5, 6, 7], [8], [9, 10]], [[0, 1, 1], [0], [0, 1]])
    packed = pack_batch(encoded, [2, 0, 1], position_offset=2)
    assert packed.input_ids.tolist() == [[9, 10, 5, 6, 7, 8]]
    assert packed.token_type_ids.tolist() == [[0, 1, 0, 1, 1, 0]]
    assert packed.position_ids.tolist() == [[2, 3, 2, 3, 4, 2]]
    assert packed.cu_seqlens.tolist() == [0, 2, 5, 6]
    assert packed.max_seqlen == 3
    padded = pad_batch(encoded, [2, 0, 1], pad_token_id=0)
    assert padded.input_ids.tolist() == [[9, 10, 0], [5, 6, 7], [8, 0, 0]]
    assert padded.attention_mask.tolist() == [[1, 1, 0], [1, 1, 1], [1, 0, 0]]
    assert padded.token_type_ids.tolist() == [[0, 1, 0], [0, 1, 1], [0, 0, 0]]


def test_workers_keep_order_and_the_callers_thread_setting():
    caller_threads = torch.get_num_threads()
    workers = BatchWorkers(2)
    try:
        seen = list(
            workers.map(lambda x: (x, torch.get_num_threads(), torch.is_inference_mode_enabled()), range(6))
        )
    finally:
        workers.close()
    assert seen == [(x, 1, True) for x in range(6)]
    assert torch.get_num_threads() == caller_threads
    started_later: list[int] = []
    thread = threading.Thread(target=lambda: started_later.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert started_later == [caller_threads]


def test_scores_do_not_depend_on_worker_count(tiny_models):
    folder = str(tiny_models["modernbert"])
    one = CrossEncoderReranker(folder, device="cpu", batch_tokens=64, cpu_workers=1).predict(PAIRS)
    two = CrossEncoderReranker(folder, device="cpu", batch_tokens=64, cpu_workers=2).predict(PAIRS)
    np.testing.assert_allclose(one, two, atol=1e-6, rtol=0)
