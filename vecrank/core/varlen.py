"""Unpadded (variable-length) attention and the packed forward pass.

Sequences of a batch are concatenated into one row; attention stays inside each
sequence through ``cu_seqlens``. The kernel is flash-attn 2 when it is importable,
torch's own ``varlen_attn`` on CUDA otherwise (where it takes sliding windows), and a
per-sequence SDPA loop anywhere else (the CPU path, which the tests check against the
padded model).
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, PreTrainedModel

from .batching import PackedBatch

ATTENTION_NAME = "vecrank_varlen"
# Set on a model whose last layer returns first tokens only (see first_token.py).
FIRST_TOKEN_ONLY = "_vecrank_first_token_only"

# model_type -> how to run the encoder and pool the packed output into logits
PACKABLE_MODEL_TYPES = frozenset({"bert", "xlm-roberta", "roberta", "modernbert"})
# The only dtypes flash-attn 2 and torch's varlen_attn take.
CUDA_KERNEL_DTYPES = frozenset({torch.float16, torch.bfloat16})


@functools.cache
def flash_attn_available() -> bool:
    """Whether the flash-attn 2 package is importable."""
    return importlib.util.find_spec("flash_attn") is not None


@functools.cache
def torch_varlen_available() -> bool:
    """Whether this torch ships ``torch.nn.attention.varlen.varlen_attn`` with sliding windows.

    The first releases of ``varlen_attn`` take no ``window_size``, which ModernBERT's local
    layers need.
    """
    if importlib.util.find_spec("torch.nn.attention.varlen") is None:
        return False
    from torch.nn.attention.varlen import varlen_attn

    return "window_size" in inspect.signature(varlen_attn).parameters


def varlen_kernel(device: torch.device, dtype: torch.dtype) -> str:
    """Name of the varlen kernel for ``dtype`` on ``device``: flash-attn, torch-varlen or sdpa-loop.

    Both CUDA kernels take fp16 and bf16 only; anything else runs the SDPA loop.
    """
    if device.type == "cuda" and dtype in CUDA_KERNEL_DTYPES:
        if flash_attn_available():
            return "flash-attn"
        if torch_varlen_available():
            return "torch-varlen"
    return "sdpa-loop"


def packs_by_default(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether ``attention="auto"`` packs: on CPU, and on CUDA where a varlen kernel takes ``dtype``.

    On CUDA the SDPA loop would launch kernels for every sequence of every layer; padded
    batches are used instead (fp32 on CUDA runs padded).
    """
    return device.type == "cpu" or (device.type == "cuda" and varlen_kernel(device, dtype) != "sdpa-loop")


def _window(sliding_window: int | None) -> tuple[int, int]:
    # Transformers passes flash-style inclusive windows (half-width + 1), see ModernBertAttention.
    return (-1, -1) if sliding_window is None else (sliding_window - 1, sliding_window - 1)


# Sequences at least this many half-widths long run banded (measured on CPU: from about 300
# tokens with the Ettin window, banded is faster than a masked full matrix; 20x at 4K).
BANDED_FROM_HALF_WIDTHS = 3


def _band_bias(size: int, half_width: int, like: torch.Tensor) -> torch.Tensor:
    """Additive sliding-window mask: 0 where ``|i - j| <= half_width``, -inf elsewhere.

    Its top-left ``L x L`` corner is the mask of a sequence of length ``L``, so one is built
    per call and sliced for every sequence.
    """
    position = torch.arange(size, device=like.device)
    outside = (position[:, None] - position[None, :]).abs() > half_width
    return torch.zeros(size, size, dtype=like.dtype, device=like.device).masked_fill_(outside, float("-inf"))


def banded_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, half_width: int, scaling: float | None
) -> torch.Tensor:
    """Sliding-window attention of one sequence, block by block. q, k, v: (L, H, D); returns (L, H, D).

    Queries go in blocks of ``half_width`` rows; each block attends to the keys from
    ``half_width`` before its first row to ``half_width`` after its last, masked to the band.
    Work and memory grow linearly with ``L`` (a masked full matrix grows with ``L**2``); the
    scores are those of the masked full matrix, over the same keys.
    """
    length, heads, depth = q.shape
    block = max(half_width, 16)
    blocks = -(-length // block)
    span = block + 2 * half_width
    padded = blocks * block
    around = (0, 0, 0, 0, half_width, padded - length + half_width)  # pad the sequence axis
    # (blocks, H, span, D): overlapping windows of the padded keys and values
    keys, values = (F.pad(t, around).unfold(0, span, block).transpose(2, 3) for t in (k, v))
    queries = F.pad(q, (0, 0, 0, 0, 0, padded - length)).view(blocks, block, heads, depth).transpose(1, 2)
    offset = torch.arange(span, device=q.device) - torch.arange(block, device=q.device)[:, None]
    in_band = (offset >= 0) & (offset <= 2 * half_width)  # (block, span)
    key_position = (
        torch.arange(blocks, device=q.device)[:, None] * block
        - half_width
        + torch.arange(span, device=q.device)
    )
    allowed = in_band & ((key_position >= 0) & (key_position < length))[:, None, :]
    # The smallest float, not -inf: padding rows past the end see no key and must not give NaN.
    bias = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device)
    bias.masked_fill_(~allowed, torch.finfo(q.dtype).min)
    out = F.scaled_dot_product_attention(queries, keys, values, attn_mask=bias.unsqueeze(1), scale=scaling)
    return out.transpose(1, 2).reshape(padded, heads, depth)[:length]


def _sdpa_loop(q, k, v, cu, max_len, scaling, window) -> torch.Tensor:
    """Reference varlen attention: SDPA on each sequence in turn. q, k, v: (T, H, D).

    Each sequence goes to SDPA as a 4-D (1, H, L, D) view, so that CPU SDPA takes its fused
    kernel rather than the math path. Sliding-window layers mask a full matrix on short
    sequences and run :func:`banded_attention` on long ones.
    """
    out = torch.empty_like(q)
    half_width = window[0]
    windowed = 0 <= half_width < max_len - 1
    banded_from = BANDED_FROM_HALF_WIDTHS * half_width
    bias = _band_bias(min(max_len, banded_from), half_width, q) if windowed else None
    bounds = cu.tolist()
    for start, end in zip(bounds[:-1], bounds[1:]):
        length = end - start
        if windowed and length >= banded_from:
            out[start:end] = banded_attention(q[start:end], k[start:end], v[start:end], half_width, scaling)
            continue
        q1, k1, v1 = (t[start:end].transpose(0, 1).unsqueeze(0) for t in (q, k, v))
        mask = bias[:length, :length] if windowed and length > half_width + 1 else None
        out[start:end] = F.scaled_dot_product_attention(q1, k1, v1, attn_mask=mask, scale=scaling)[
            0
        ].transpose(0, 1)
    return out


def _kernel_call(kernel: str) -> Callable:
    if kernel == "flash-attn":
        from flash_attn import flash_attn_varlen_func

        def call(q, k, v, cu, max_len, scaling, window):
            return flash_attn_varlen_func(
                q, k, v, cu, cu, max_len, max_len, softmax_scale=scaling, window_size=window
            )

        return call
    if kernel == "torch-varlen":
        from torch.nn.attention.varlen import varlen_attn

        def call(q, k, v, cu, max_len, scaling, window):
            return varlen_attn(q, k, v, cu, cu, max_len, max_len, scale=scaling, window_size=window)

        return call
    return _sdpa_loop


def varlen_attention(q, k, v, cu_seqlens, max_seqlen: int, scaling: float | None, sliding_window: int | None):
    """Attention within each packed sequence. q, k, v: (T, H, D); returns (T, H, D).

    ``sliding_window`` follows transformers: half-width + 1, or None for global attention.
    """
    kernel = _kernel_call(varlen_kernel(q.device, q.dtype))
    return kernel(q, k, v, cu_seqlens, max_seqlen, scaling, _window(sliding_window))


def varlen_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    sliding_window: int | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Attention function in the transformers interface, for one packed row (batch size 1)."""
    cu_seqlens = kwargs.get("cu_seq_lens_q")
    if cu_seqlens is None or query.shape[0] != 1:
        raise RuntimeError(
            f"{ATTENTION_NAME} attention needs a packed batch (batch size 1 and cu_seq_lens_q)"
        )
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # (T, H, D) views
    out = varlen_attention(q, k, v, cu_seqlens, kwargs["max_length_q"], scaling, sliding_window)
    return out.unsqueeze(0), None


AttentionInterface.register(ATTENTION_NAME, varlen_attention_forward)


def position_offset(model: PreTrainedModel) -> int:
    """First position id: RoBERTa-family embeddings count from ``padding_idx + 1``."""
    if model.config.model_type in ("xlm-roberta", "roberta"):
        return model.config.pad_token_id + 1
    return 0


def _segment_mean(hidden: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """Mean of each packed sequence's rows, summed in float32 (CUDA's bf16 atomics round every add)."""
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()
    segment = torch.repeat_interleave(
        torch.arange(len(lengths), device=hidden.device), lengths, output_size=len(hidden)
    )
    sums = torch.zeros(len(lengths), hidden.shape[-1], dtype=torch.float32, device=hidden.device)
    sums.index_add_(0, segment, hidden.float())
    return sums / lengths.unsqueeze(1)


def packed_logits(model: PreTrainedModel, batch: PackedBatch) -> torch.Tensor:
    """Run a sequence-classification model on a packed batch already on its device; (N, labels) logits.

    A model of vecrank's own (JinaBERT) runs packed batches itself, through its ``packed_logits``.
    """
    if hasattr(model, "packed_logits"):
        return model.packed_logits(batch)
    config = model.config
    cu_seqlens = batch.cu_seqlens
    inputs = {
        "input_ids": batch.input_ids,
        "position_ids": batch.position_ids,
        "cu_seq_lens_q": cu_seqlens,
        "cu_seq_lens_k": cu_seqlens,
        "max_length_q": batch.max_seqlen,
        "max_length_k": batch.max_seqlen,
    }
    if batch.token_type_ids is not None and config.model_type == "bert":
        inputs["token_type_ids"] = batch.token_type_ids
    hidden = model.base_model(**inputs).last_hidden_state[0]  # (T, hidden), or (N, hidden): first tokens
    first_tokens = hidden if getattr(model, FIRST_TOKEN_ONLY, False) else hidden[cu_seqlens[:-1].long()]
    if config.model_type == "modernbert":
        pooled = first_tokens if config.classifier_pooling == "cls" else _segment_mean(hidden, cu_seqlens)
        return model.classifier(model.drop(model.head(pooled)))
    if config.model_type == "bert":
        return model.classifier(model.dropout(model.bert.pooler(first_tokens.unsqueeze(1))))
    return model.classifier(first_tokens.unsqueeze(1))
