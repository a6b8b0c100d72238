"""The CUDA path for real: parity, OOM back-off, float32 head, no host syncs (``pytest -m gpu``).

tests/core/test_cuda_path.py emulates the same on CPU; these run where torch sees a GPU.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from vecrank import CrossEncoderReranker
from vecrank.bench.check import parity
from vecrank.core import varlen
from vecrank.core.batching import pack_batch
from vecrank.testing.tiny_models import ARCHITECTURES

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason=f"needs a CUDA GPU; torch {torch.__version__} sees none"
    ),
]

PAIRS = [("query words", "document " * n) for n in (1, 40, 3, 90, 7, 0, 60)]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_parity_on_the_gpu(tmp_path, architecture):
    """sentence-transformers fp32 = vecrank fp32 (1e-4, same order); vecrank bf16 packed ~ fp32 (5e-2)."""
    result = parity(tmp_path, architecture, torch.device("cuda"))
    assert result["passed"], result


def test_fp32_on_cuda_runs_padded_and_bf16_packs(tiny_models):
    folder = str(tiny_models["modernbert"])
    assert not CrossEncoderReranker(folder, device="cuda", dtype="fp32").loaded.attention.startswith("varlen")
    if varlen.varlen_kernel(torch.device("cuda"), torch.bfloat16) != "sdpa-loop":
        bf16 = CrossEncoderReranker(folder, device="cuda", dtype="bf16")
        assert bf16.loaded.attention == f"varlen:{varlen.varlen_kernel(torch.device('cuda'), torch.bfloat16)}"


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_real_out_of_memory_splits_the_batch_once_the_failed_pass_is_freed(tiny_bert, monkeypatch, dtype):
    reranker = CrossEncoderReranker(str(tiny_bert), device="cuda", dtype=dtype)
    unsplit = reranker.predict(PAIRS, batch_tokens=100_000)
    forward = reranker._forward
    baseline = torch.cuda.memory_allocated()
    sizes: list[int] = []

    def out_of_memory_above_two(encoded, indices):
        sizes.append(len(indices))
        if len(indices) > 2:
            held = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")  # the failed pass's tensors
            held.new_empty(2**50)  # a real torch.OutOfMemoryError while they are held
        assert sys.exc_info() == (None, None, None)
        assert torch.cuda.memory_allocated() < baseline + 64 * 2**20  # the 256 MB were given back
        return forward(encoded, indices)

    monkeypatch.setattr(reranker, "_forward", out_of_memory_above_two)
    split = reranker.predict(PAIRS, batch_tokens=100_000)
    np.testing.assert_allclose(split, unsplit, atol=1e-5 if dtype == "fp32" else 5e-2, rtol=0)
    assert sizes == [7, 3, 1, 2, 4, 2, 2]


@pytest.mark.parametrize("attention", ["varlen", "sdpa"])
def test_bf16_scores_through_a_float32_head(tiny_bert, attention):
    reranker = CrossEncoderReranker(str(tiny_bert), device="cuda", dtype="bf16", attention=attention)
    reranker.model.classifier.bias.data.fill_(100.0)
    scores = reranker.predict(PAIRS)
    assert len(set(scores.tolist())) == len(PAIRS)


def test_packed_forward_makes_no_host_sync(tiny_models):
    device = torch.device("cuda")
    if varlen.varlen_kernel(device, torch.bfloat16) == "sdpa-loop":
        pytest.skip("no CUDA varlen kernel in this torch (and no flash-attn)")
    for architecture in ("bert", "xlm-roberta", "modernbert"):
        reranker = CrossEncoderReranker(str(tiny_models[architecture]), device="cuda", dtype="bf16")
        batch = pack_batch(reranker.tokenize(PAIRS), range(len(PAIRS)), reranker._position_offset).to(device)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            with torch.inference_mode():
                logits = varlen.packed_logits(reranker.model, batch)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert logits.shape == (len(PAIRS), 1) and logits.dtype == torch.float32
