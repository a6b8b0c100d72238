"""Symmetric ALiBi attention on packed sequences: a bias of ``-slope * |i - j|`` per head.

JinaBERT adds this bias to the attention scores instead of position embeddings. On CUDA with
flash-attn the varlen kernel takes the slopes directly (``alibi_slopes``); elsewhere each
sequence goes to SDPA with its bias. Sequences up to ``CORNER_TOKENS`` share one bias (its
top-left ``L x L`` corner is the bias of a sequence of length ``L``); longer ones run in
blocks of query rows over all their keys, so that an 8K-token sequence never holds an
``8K x 8K`` bias per head: each block's bias is at most about ``BLOCK_ELEMENTS`` floats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .varlen import flash_attn_available

# Sequences up to this length slice one shared bias; longer ones are split into row blocks.
CORNER_TOKENS = 512
# Bias elements (heads x rows x keys) of one row block: 16M floats, 64 MB in float32.
BLOCK_ELEMENTS = 1 << 24


def alibi_slopes(heads: int) -> list[float]:
    """The ALiBi slopes of ``heads`` heads (Press et al.), also for head counts that are not powers of two.

    For ``2**n`` heads the slopes are ``2**(-8/2**n * k)``, ``k = 1 .. 2**n``; otherwise the
    slopes of the closest smaller power of two, then every other slope of the next power of two.
    """
    if heads < 1:
        raise ValueError(f"heads must be positive, got {heads}")

    def power_of_two(count: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(count) - 3)))
        return [start ** (k + 1) for k in range(count)]

    if math.log2(heads).is_integer():
        return power_of_two(heads)
    closest = 2 ** math.floor(math.log2(heads))
    return power_of_two(closest) + alibi_slopes(2 * closest)[0::2][: heads - closest]


def alibi_bias(slopes: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``-slope * |row - column|`` for each head: (H, len(rows), len(columns)), in the slopes' dtype."""
    distance = (rows[:, None] - columns[None, :]).abs().to(slopes.dtype)
    return -slopes[:, None, None] * distance


def _rows_per_block(heads: int, length: int) -> int:
    return max(16, BLOCK_ELEMENTS // (heads * length))


def alibi_sdpa_loop(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    max_seqlen: int,
    scaling: float,
    slopes: torch.Tensor,
) -> torch.Tensor:
    """ALiBi attention within each packed sequence, by SDPA per sequence. q, k, v: (T, H, D) -> (T, H, D)."""
    out = torch.empty_like(q)
    slopes = slopes.to(q.device, q.dtype)
    positions = torch.arange(max_seqlen, device=q.device)
    shared = positions[: min(max_seqlen, CORNER_TOKENS)]
    corner = alibi_bias(slopes, shared, shared).unsqueeze(0)  # (1, H, S, S)
    bounds = cu_seqlens.tolist()
    for start, end in zip(bounds[:-1], bounds[1:]):
        length = end - start
        q1, k1, v1 = (t[start:end].transpose(0, 1).unsqueeze(0) for t in (q, k, v))  # (1, H, L, D)
        if length <= CORNER_TOKENS:
            mixed = F.scaled_dot_product_attention(
                q1, k1, v1, attn_mask=corner[..., :length, :length], scale=scaling
            )
            out[start:end] = mixed[0].transpose(0, 1)
            continue
        keys = positions[:length]
        block = _rows_per_block(q.shape[1], length)
        for first in range(0, length, block):
            last = min(first + block, length)
            bias = alibi_bias(slopes, keys[first:last], keys).unsqueeze(0)
            mixed = F.scaled_dot_product_attention(
                q1[:, :, first:last], k1, v1, attn_mask=bias, scale=scaling
            )
            out[start + first : start + last] = mixed[0].transpose(0, 1)
    return out


def flash_alibi(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    max_seqlen: int,
    scaling: float,
    slopes: torch.Tensor,
) -> torch.Tensor:
    """flash-attn 2's varlen kernel with its own ALiBi (``-slope * |i - j|`` when queries are the keys)."""
    from flash_attn import flash_attn_varlen_func

    return flash_attn_varlen_func(
        q,
        k,
        v,
        cu_seqlens,
        cu_seqlens,
        max_seqlen,
        max_seqlen,
        softmax_scale=scaling,
        alibi_slopes=slopes.to(q.device, torch.float32),
    )


def alibi_kernel(device: torch.device) -> str:
    """``flash-attn`` on CUDA where importable, else ``sdpa-loop``."""
    return "flash-attn" if device.type == "cuda" and flash_attn_available() else "sdpa-loop"


def alibi_varlen_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    max_seqlen: int,
    scaling: float,
    slopes: torch.Tensor,
) -> torch.Tensor:
    """ALiBi attention within each packed sequence on the kernel that suits ``q``'s device."""
    kernel = flash_alibi if alibi_kernel(q.device) == "flash-attn" else alibi_sdpa_loop
    return kernel(q, k, v, cu_seqlens.to(torch.int32), max_seqlen, scaling, slopes)
