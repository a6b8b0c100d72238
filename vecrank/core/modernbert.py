"""ModernBERT attention on packed batches, with the rotary embedding applied in one pass.

Transformers applies the rotary embedding to queries and keys separately, on head-major
strided views, in five operators each. Here queries and keys are rotated together in the
token-major layout the projection produced, half a head at a time (ModernBERT's cos and
sin tables hold the same frequencies in both halves), and go to varlen attention as they
are. On the 17m shape this halves the rotary cost, about 7% of a CPU forward pass.

The gated MLP multiplies the gate into the activation in place, one (T, intermediate)
tensor less per layer, with the same result.
"""

from __future__ import annotations

import types

import torch
from transformers import PreTrainedModel

from .varlen import varlen_attention


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """ModernBERT's rotary embedding of ``x`` (T, ..., D), with ``cos``, ``sin`` of shape (T, D).

    Equal to ``x * cos + rotate_half(x) * sin``, computed in float32 as transformers does.
    """
    half = x.shape[-1] // 2
    shape = (len(x),) + (1,) * (x.dim() - 2) + (half,)
    cos, sin = (table[:, :half].float().reshape(shape) for table in (cos, sin))
    x = x.float()
    first, second = x[..., :half], x[..., half:]
    out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    low, high = out[..., :half], out[..., half:]
    torch.mul(first, cos, out=low).addcmul_(second, sin, value=-1)
    torch.mul(second, cos, out=high).addcmul_(first, sin)
    return out


def pack_layers(model: PreTrainedModel) -> None:
    """Run every ModernBERT attention block of ``model`` on packed batches, and its MLPs in place."""
    for layer in model.model.layers:
        layer.attn.forward = types.MethodType(_packed_attention, layer.attn)
        layer.mlp.forward = types.MethodType(_gated_mlp, layer.mlp)


def _gated_mlp(mlp, hidden_states: torch.Tensor) -> torch.Tensor:
    """ModernBertMLP.forward for inference: the gate multiplies the activation in place."""
    activation, gate = mlp.Wi(hidden_states).chunk(2, dim=-1)
    return mlp.Wo(mlp.drop(mlp.act(activation).mul_(gate)))


def _packed_attention(attn, hidden_states, position_embeddings=None, attention_mask=None, **kwargs):
    """ModernBertAttention.forward for a packed row (1, T, hidden); padded batches go to the original."""
    cu_seqlens = kwargs.get("cu_seq_lens_q")
    if cu_seqlens is None:
        return type(attn).forward(attn, hidden_states, position_embeddings, attention_mask, **kwargs)
    tokens = hidden_states[0]
    qkv = attn.Wqkv(tokens).view(len(tokens), 3, -1, attn.head_dim)
    cos, sin = (table[0] for table in position_embeddings)
    query_key = apply_rotary(qkv[:, :2], cos, sin).to(qkv.dtype)
    mixed = varlen_attention(
        query_key[:, 0],
        query_key[:, 1],
        qkv[:, 2],
        cu_seqlens,
        kwargs["max_length_q"],
        attn.head_dim**-0.5,
        attn.sliding_window,
    )
    return attn.out_drop(attn.Wo(mixed.reshape(len(tokens), -1))).unsqueeze(0), None
