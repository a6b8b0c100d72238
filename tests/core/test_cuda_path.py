"""What only a CUDA run would show, emulated on CPU: OOM back-off, precision, host syncs, copies.

tests/gpu/ runs the same checks for real where a GPU is present.
"""

from __future__ import annotations

import sys
import weakref

import numpy as np
import pytest
import torch

from vecrank import CrossEncoderReranker
from vecrank.core import reranker as reranker_module
from vecrank.core import varlen
from vecrank.core.batching import EncodedPairs, pack_batch, pad_batch
from vecrank.core.head import head_modules
from vecrank.testing.tiny_models import build_tiny_model

PAIRS = [("query words", "document " * n) for n in (1, 40, 3, 90, 7, 0, 60)]

OUT_OF_MEMORY = {
    "allocator": lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)"),
    "cublas": lambda: RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be reported later"),
    "cublas-create": lambda: RuntimeError(
        "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate`"
    ),
}


@pytest.mark.parametrize("form", sorted(OUT_OF_MEMORY))
def test_out_of_memory_above_a_batch_size_splits_outside_the_except_block(tiny_bert, monkeypatch, form):
    """A batch over 2 pairs runs out of memory: the halves run once the failed pass is freed."""
    reranker = CrossEncoderReranker(str(tiny_bert), cpu_workers=1)
    unsplit = reranker.predict(PAIRS, batch_tokens=100_000)
    forward = reranker._forward
    calls: list[tuple[int, bool]] = []
    failed_pass: list[weakref.ref] = []

    def out_of_memory_above_two(encoded, indices):
        if len(indices) > 2:
            activations = torch.ones(1024, 64)  # what the failed pass held when it ran out
            failed_pass.append(weakref.ref(activations))
            calls.append((len(indices), False))
            raise OUT_OF_MEMORY[form]()
        # The retry runs with no exception being handled, and the failed pass's tensors are gone.
        assert sys.exc_info() == (None, None, None)
        assert all(ref() is None for ref in failed_pass)
        calls.append((len(indices), True))
        return forward(encoded, indices)

    monkeypatch.setattr(reranker, "_forward", out_of_memory_above_two)
    split = reranker.predict(PAIRS, batch_tokens=100_000)
    np.testing.assert_allclose(split, unsplit, atol=1e-6, rtol=0)
    assert calls == [(7, False), (3, False), (1, True), (2, True), (4, False), (2, True), (2, True)]


def test_pooling_sums_in_float32_where_bf16_accumulation_drifts():
    """CUDA's bf16 index_add_ rounds at every add; emulated here, against the pooling the engine runs."""
    torch.manual_seed(0)
    length, hidden = 2048, 64
    states = (torch.randn(length, hidden) + 1.0).bfloat16()
    cu_seqlens = torch.tensor([0, length], dtype=torch.int32)
    exact = states.double().mean(0)

    rounded_every_add = torch.zeros(hidden, dtype=torch.bfloat16)
    for row in states:  # what atomics into a bf16 buffer compute
        rounded_every_add = rounded_every_add + row
    emulated = rounded_every_add.double() / length

    def relative_error(pooled: torch.Tensor) -> float:
        return float((pooled.double() - exact).norm() / exact.norm())

    assert relative_error(emulated) > 0.05
    pooled = varlen._segment_mean(states, cu_seqlens)
    assert pooled.dtype == torch.float32
    assert relative_error(pooled[0]) < 1e-3


@pytest.mark.parametrize("attention", ["varlen", "sdpa"])
def test_bf16_model_scores_through_a_float32_head(tiny_bert, attention):
    """Logits near 100 keep their differences: a bf16 head would round them to steps of 0.5."""
    reranker = CrossEncoderReranker(str(tiny_bert), dtype="bf16", attention=attention)
    assert all(
        parameter.dtype == torch.float32
        for module in head_modules(reranker.model)
        for parameter in module.parameters()
    )
    assert reranker.model.bert.embeddings.word_embeddings.weight.dtype == torch.bfloat16
    reference = CrossEncoderReranker(str(tiny_bert), dtype="fp32", attention=attention)
    for model in (reranker.model, reference.model):
        model.classifier.bias.data.fill_(100.0)
    scores, exact = reranker.predict(PAIRS), reference.predict(PAIRS)
    assert len(set(scores.tolist())) == len(PAIRS)
    assert np.abs(scores - 100.0).max() < 2.0
    np.testing.assert_allclose(scores, exact, atol=5e-2, rtol=0)


@pytest.fixture(scope="module")
def tiny_modernbert_cls(tmp_path_factory) -> str:
    return str(build_tiny_model("modernbert", tmp_path_factory.mktemp("cls"), pooling="cls"))


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta", "modernbert", "modernbert-cls"])
def test_packed_forward_never_reads_device_values(
    tiny_models, tiny_modernbert_cls, monkeypatch, architecture
):
    """On the meta device tensors have no values: any host sync (``.item()``, ``.tolist()``,
    ``repeat_interleave`` without ``output_size``) raises. A varlen kernel is stood in for."""
    folder = tiny_modernbert_cls if architecture == "modernbert-cls" else str(tiny_models[architecture])
    reranker = CrossEncoderReranker(folder, dtype="bf16", attention="varlen")
    encoded = reranker.tokenize(PAIRS)
    reranker.model.to("meta")
    monkeypatch.setattr(varlen, "_kernel_call", lambda kernel: lambda q, k, v, *rest: torch.empty_like(q))
    batch = pack_batch(encoded, range(len(PAIRS)), reranker._position_offset).to(torch.device("meta"))
    logits = varlen.packed_logits(reranker.model, batch)
    assert logits.device.type == "meta" and logits.shape == (len(PAIRS), 1)
    assert logits.dtype == torch.float32


def test_batches_go_to_cuda_through_pinned_memory_without_waiting(monkeypatch):
    encoded = EncodedPairs([[5, 6, 7], [8], [9, 10]], [[0, 1, 1], [0], [0, 1]])
    pinned: list[int] = []
    copies: list[tuple[int, str, bool]] = []

    def pin_memory(tensor):
        pinned.append(id(tensor))
        return tensor

    def to(tensor, device, non_blocking=False):
        copies.append((id(tensor), torch.device(device).type, non_blocking))
        return tensor

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin_memory)
    monkeypatch.setattr(torch.Tensor, "to", to)
    for batch in (pack_batch(encoded, [0, 1, 2]), pad_batch(encoded, [0, 1, 2], 0)):
        pinned.clear()
        copies.clear()
        tensors = [value for value in vars(batch).values() if isinstance(value, torch.Tensor)]
        batch.to(torch.device("cuda"))
        assert len(tensors) >= 3  # ids, positions or mask, token types (and cu_seqlens)
        assert sorted(pinned) == sorted(id(tensor) for tensor in tensors)
        assert sorted(copies) == sorted((id(tensor), "cuda", True) for tensor in tensors)


def test_logits_are_read_after_the_next_batch_is_queued(tiny_bert, monkeypatch):
    """Each batch's logits are read once the next forward pass has been issued (one batch late)."""
    reranker = CrossEncoderReranker(str(tiny_bert), cpu_workers=1)
    expected = reranker.predict(PAIRS)
    events: list[tuple[str, int]] = []
    forward = reranker._forward

    def recorded_forward(encoded, indices):
        batch = sum(kind == "forward" for kind, _ in events)
        events.append(("forward", batch))
        logits = forward(encoded, indices)
        logits.batch = batch  # carried to the copy below
        return logits

    class RecordedCopy(reranker_module.HostCopy):
        def __init__(self, tensor):
            super().__init__(tensor)
            self.batch = tensor.batch

        def numpy(self):
            events.append(("read", self.batch))
            return super().numpy()

    monkeypatch.setattr(reranker, "_forward", recorded_forward)
    monkeypatch.setattr(reranker_module, "HostCopy", RecordedCopy)
    np.testing.assert_allclose(reranker.predict(PAIRS, batch_tokens=64), expected, atol=1e-6, rtol=0)
    forwards = [position for position, (kind, _) in enumerate(events) if kind == "forward"]
    reads = {batch: position for position, (kind, batch) in enumerate(events) if kind == "read"}
    assert len(forwards) >= 3 and sorted(reads) == list(range(len(forwards)))
    for batch, position in reads.items():
        if batch + 1 < len(forwards):
            assert position > forwards[batch + 1]
