"""The packed causal forward of a yes/no reranker, with the query's prompt computed once.

Every document of one query starts with the same tokens (system prompt, instruction, query): the
*head*. A batch runs each distinct head once and each document's remaining tokens (its *tail*)
once, all packed in one row without padding. Tail tokens attend causally to their head's keys and
values and to their own; a head attends causally to itself. In the last layer only the last token
of each scored sequence is computed, and the answer is read through a hidden x 2 head (the
``yes`` and ``no`` rows of the LM head), never the vocabulary-wide one.

Attention runs per sequence through SDPA (CPU, and CUDA without flash-attn) or through flash-attn's
varlen kernel with ``causal=True``, whose causal mask is aligned to the end of the keys: a tail of
``Lq`` tokens over ``Lk`` keys sees key ``j`` from query ``i`` when ``j <= i + Lk - Lq``.
Decoder layers of the Llama shape (Qwen2, Qwen3: RMSNorm, rotary, grouped keys and values,
gated MLP) are run from the checkpoint's own modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .varlen import flash_attn_available

# Decoder families whose layers this forward runs (each layer: self_attn with q/k/v/o_proj and
# optional q_norm/k_norm, input_layernorm, post_attention_layernorm, mlp).
DECODER_MODEL_TYPES = frozenset({"qwen2", "qwen3", "llama"})


@dataclass
class Segment:
    """One sequence of a batch: its own tokens, and the head it continues (None: it has none)."""

    tokens: list[int]
    head: int | None = None


@dataclass
class DecoderBatch:
    """Heads and tails packed in one row, with the key layout each query segment attends to."""

    input_ids: torch.Tensor  # (T,)
    position_ids: torch.Tensor  # (T,)
    cu_q: torch.Tensor  # (S + 1,) query segments: every head, then every scored sequence
    key_index: torch.Tensor  # (K,) rows of the packed keys, segment after segment
    cu_k: torch.Tensor  # (S + 1,)
    max_q: int
    max_k: int
    last_rows: torch.Tensor  # (N,) the last row of each scored sequence
    last_key_index: torch.Tensor  # keys of the scored sequences only (last layer)
    last_cu_k: torch.Tensor  # (N + 1,)


def build_batch(heads: Sequence[list[int]], segments: Sequence[Segment]) -> DecoderBatch:
    """Pack ``heads`` (each run once) and the scored ``segments`` that continue them (or stand alone)."""
    rows, positions, query_lengths, keys, key_lengths = [], [], [], [], []
    head_rows: list[np.ndarray] = []
    start = 0
    for head in heads:
        own = np.arange(start, start + len(head))
        rows.append(head)
        positions.append(np.arange(len(head)))
        head_rows.append(own)
        query_lengths.append(len(head))
        keys.append(own)
        start += len(head)
    last_keys = []
    for segment in segments:
        before = head_rows[segment.head] if segment.head is not None else np.arange(0)
        own = np.arange(start, start + len(segment.tokens))
        rows.append(segment.tokens)
        positions.append(np.arange(len(before), len(before) + len(segment.tokens)))
        query_lengths.append(len(segment.tokens))
        keys.append(np.concatenate([before, own]))
        last_keys.append(keys[-1])
        start += len(segment.tokens)
    key_lengths = [len(k) for k in keys]
    cu_q = np.concatenate([[0], np.cumsum(query_lengths)])
    cu_k = np.concatenate([[0], np.cumsum(key_lengths)])
    last_rows = cu_q[len(heads) + 1 :] - 1
    return DecoderBatch(
        input_ids=torch.from_numpy(np.concatenate(rows).astype(np.int64)),
        position_ids=torch.from_numpy(np.concatenate(positions).astype(np.int64)),
        cu_q=torch.from_numpy(cu_q.astype(np.int32)),
        key_index=torch.from_numpy(np.concatenate(keys).astype(np.int64)),
        cu_k=torch.from_numpy(cu_k.astype(np.int32)),
        max_q=max(query_lengths),
        max_k=max(key_lengths),
        last_rows=torch.from_numpy(last_rows.astype(np.int64)),
        last_key_index=torch.from_numpy(np.concatenate(last_keys).astype(np.int64)),
        last_cu_k=torch.from_numpy(
            np.concatenate([[0], np.cumsum([len(k) for k in last_keys])]).astype(np.int32)
        ),
    )


def causal_kernel(device: torch.device) -> str:
    """The attention kernel :func:`causal_attention` runs on ``device``: flash-attn or sdpa-loop."""
    return "flash-attn" if device.type == "cuda" and flash_attn_available() else "sdpa-loop"


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The rotary embedding as transformers applies it (``rotate_half``); x: (T, H, D), cos/sin: (T, 1, D)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def _sdpa_segments(q, k, v, cu_q: list[int], cu_k: list[int], scaling: float) -> torch.Tensor:
    """End-aligned causal attention of each query segment over its keys. q: (Tq, H, D); k, v: (Tk, Hkv, D)."""
    out = torch.empty_like(q)
    grouped = q.shape[1] != k.shape[1]
    for qs, qe, ks, ke in zip(cu_q[:-1], cu_q[1:], cu_k[:-1], cu_k[1:]):
        length_q, length_k = qe - qs, ke - ks
        q1, k1, v1 = (t.transpose(0, 1).unsqueeze(0) for t in (q[qs:qe], k[ks:ke], v[ks:ke]))
        mask, causal = None, False
        if length_q == length_k and length_q > 1:
            causal = True
        elif 1 < length_q < length_k:
            mask = torch.ones(length_q, length_k, dtype=torch.bool, device=q.device).tril(length_k - length_q)
        out[qs:qe] = F.scaled_dot_product_attention(
            q1, k1, v1, attn_mask=mask, is_causal=causal, scale=scaling, enable_gqa=grouped
        )[0].transpose(0, 1)
    return out


def causal_attention(q, k, v, cu_q, cu_k, max_q: int, max_k: int, scaling: float) -> torch.Tensor:
    """End-aligned causal attention per segment: flash-attn varlen on CUDA when importable, else SDPA."""
    if causal_kernel(q.device) == "flash-attn" and q.dtype in (torch.float16, torch.bfloat16):
        from flash_attn import flash_attn_varlen_func

        return flash_attn_varlen_func(q, k, v, cu_q, cu_k, max_q, max_k, softmax_scale=scaling, causal=True)
    return _sdpa_segments(q, k, v, cu_q.tolist(), cu_k.tolist(), scaling)


def _attention(layer, hidden, cos, sin, batch: DecoderBatch, last: bool) -> torch.Tensor:
    """The self-attention block of one layer (all query rows, or the scored last rows in the last layer)."""
    attn = layer.self_attn
    depth = attn.head_dim
    normed = layer.input_layernorm(hidden)
    queries = normed[batch.last_rows] if last else normed
    q = attn.q_proj(queries).view(len(queries), -1, depth)
    k = attn.k_proj(normed).view(len(normed), -1, depth)
    v = attn.v_proj(normed).view(len(normed), -1, depth)
    if getattr(attn, "q_norm", None) is not None:
        q, k = attn.q_norm(q), attn.k_norm(k)
    q_cos, q_sin = (cos[batch.last_rows], sin[batch.last_rows]) if last else (cos, sin)
    q, k = _rotate(q, q_cos, q_sin), _rotate(k, cos, sin)
    if last:
        count = len(batch.last_rows)
        cu_q = torch.arange(count + 1, dtype=torch.int32, device=q.device)
        index, cu_k, max_q = batch.last_key_index, batch.last_cu_k, 1
    else:
        cu_q, index, cu_k, max_q = batch.cu_q, batch.key_index, batch.cu_k, batch.max_q
    mixed = causal_attention(q, k[index], v[index], cu_q, cu_k, max_q, batch.max_k, attn.scaling)
    return attn.o_proj(mixed.reshape(len(queries), -1))


def answer_logits(decoder: torch.nn.Module, answer_rows: torch.Tensor, batch: DecoderBatch) -> torch.Tensor:
    """(N, 2) float32 logits of the two answer tokens at the last position of each scored sequence."""
    device = answer_rows.device
    batch = DecoderBatch(
        **{
            name: value.to(device) if isinstance(value, torch.Tensor) else value
            for name, value in vars(batch).items()
        }
    )
    hidden = decoder.embed_tokens(batch.input_ids)
    cos, sin = decoder.rotary_emb(hidden, batch.position_ids.unsqueeze(0))
    cos, sin = cos[0].unsqueeze(1), sin[0].unsqueeze(1)  # (T, 1, D)
    layers = decoder.layers
    for number, layer in enumerate(layers):
        last = number == len(layers) - 1
        attended = _attention(layer, hidden, cos, sin, batch, last)
        hidden = (hidden[batch.last_rows] if last else hidden) + attended
        hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
    # In float32: the two logits are large and close, and bf16 would round their difference away.
    return decoder.norm(hidden).float() @ answer_rows.float().T
