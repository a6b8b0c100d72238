"""Symmetric ALiBi attention on packed sequences: a bias of ``-slope * |i - j|`` per head.

JinaBERT adds this bias to the attention scores instead of position embeddings. On CUDA with
flash-attn the varlen kernel takes the slopes directly (``alibi_slopes``). Elsewhere each
sequence goes to SDPA with its keys and values in reverse order: the bias of query ``i`` and
reversed key ``j'`` is then ``-slope * |i + j' - (L - 1)|``, a function of ``i + j'``, so the
whole ``L x L`` bias of every head is a strided view of one line of ``2L - 1`` values (rows
step by one along the line, as do columns). Attention does not depend on the order of its
keys, so the result is the same, and no sequence, however long, holds an ``L x L`` bias:
the batch's bias costs ``heads x (2 x longest - 1)`` floats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .varlen import flash_attn_available


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


def bias_line(slopes: torch.Tensor, longest: int, like: torch.Tensor) -> torch.Tensor:
    """``-slope * |m - (longest - 1)|`` for ``m = 0 .. 2 * longest - 2``: (H, 2 * longest - 1), contiguous."""
    distance = (torch.arange(2 * longest - 1, device=like.device) - (longest - 1)).abs()
    return (-slopes.to(like.device, torch.float32)[:, None] * distance).to(like.dtype).contiguous()


def reversed_key_bias(line: torch.Tensor, length: int) -> torch.Tensor:
    """The (1, H, L, L) bias of a sequence of ``length`` over its reversed keys: a view of ``line``."""
    heads, span = line.shape
    offset = line.storage_offset() + (span + 1) // 2 - length  # line index i + j' + (longest - length)
    return line.as_strided((1, heads, length, length), (0, span, 1, 1), offset)


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
    line = bias_line(slopes, max_seqlen, q)
    bounds = cu_seqlens.tolist()
    for start, end in zip(bounds[:-1], bounds[1:]):
        query = q[start:end].transpose(0, 1).unsqueeze(0)  # (1, H, L, D)
        key, value = (t[start:end].flip(0).transpose(0, 1).unsqueeze(0) for t in (k, v))  # reversed
        bias = reversed_key_bias(line, end - start)
        mixed = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, scale=scaling)
        out[start:end] = mixed[0].transpose(0, 1)
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


def alibi_kernel(device: torch.device, dtype: torch.dtype) -> str:
    """``flash-attn`` on CUDA in fp16 or bf16 where importable, else ``sdpa-loop``."""
    half = dtype in (torch.float16, torch.bfloat16)
    return "flash-attn" if device.type == "cuda" and half and flash_attn_available() else "sdpa-loop"


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
    kernel = flash_alibi if alibi_kernel(q.device, q.dtype) == "flash-attn" else alibi_sdpa_loop
    return kernel(q, k, v, cu_seqlens.to(torch.int32), max_seqlen, scaling, slopes)
