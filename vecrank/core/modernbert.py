"""ModernBERT attention on packed batches, with the rotary embedding as one complex product.

Transformers pairs dimension ``i`` of each query and key head with dimension ``i + D/2``
and rotates them in five float32 operators per tensor, on strided head-major views.
:func:`pack_layers` permutes the query and key rows of ``Wqkv`` once, so that each pair
comes out adjacent; the rotation is then one complex multiplication of the queries and keys
together. A dot product does not change when both of its sides are permuted alike, so the
attention output is the same; values are not permuted. On the 17m shape on CPU this cuts
the rotary cost from about 12% of an int8 forward pass to about 5% (3.7 ms to under 1 ms a
layer on a 3,600-token batch, one thread).

In a bf16 model the rotary module's cos and sin are kept float32 (transformers rounds them
to the model's dtype, 8 bits of mantissa), so the rotation itself loses nothing to bf16.

The gated MLP multiplies the gate into the activation in place, one (T, intermediate)
tensor less per layer, with the same result.
"""

from __future__ import annotations

import types

import torch
from transformers import PreTrainedModel
from transformers.models.modernbert import modeling_modernbert

# Marks an attention block whose query and key rows pack_layers has interleaved.
INTERLEAVED = "_vecrank_interleaved_rotary"


def interleave_halves(rows: torch.Tensor, head_dim: int) -> torch.Tensor:
    """Reorder each head's rows from ``(0 .. D/2-1, D/2 .. D-1)`` to ``(0, D/2, 1, D/2+1, ...)``."""
    half = head_dim // 2
    heads = rows.reshape(-1, 2, half, *rows.shape[1:])  # (H, 2, D/2, ...)
    return heads.transpose(1, 2).reshape(rows.shape)


def rotate_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The rotary embedding of interleaved query or key rows; returns float32.

    ``x``: ``(*positions, ..., D)``, e.g. ``(T, 2, H, D)`` for packed queries and keys
    together; ``cos``, ``sin``: ``(*positions, D)`` as ModernBERT's rotary module gives them
    (both halves hold the same frequencies). Equal to transformers'
    ``x * cos + rotate_half(x) * sin`` on the un-interleaved rows, in float32 as there.
    """
    half = cos.shape[-1] // 2
    rotation = torch.complex(cos[..., :half].float(), sin[..., :half].float())
    rotation = rotation.view(*cos.shape[:-1], *(1,) * (x.dim() - cos.dim()), half)
    pairs = torch.view_as_complex(x.float().unflatten(-1, (half, 2)))
    return torch.view_as_real(pairs * rotation).flatten(-2)


def pack_layers(model: PreTrainedModel) -> None:
    """Interleave every ModernBERT attention block of ``model`` for the complex rotary; MLPs in place.

    Run before quantising: it reorders the float ``Wqkv`` rows.
    """
    for layer in model.model.layers:
        attn = layer.attn
        with torch.no_grad():
            for parameter in (attn.Wqkv.weight, attn.Wqkv.bias):
                if parameter is not None:
                    query_key = parameter[: len(parameter) * 2 // 3]
                    query_key.copy_(interleave_halves(query_key.clone(), attn.head_dim))
        setattr(attn, INTERLEAVED, True)
        attn.forward = types.MethodType(_interleaved_attention, attn)
        layer.mlp.forward = types.MethodType(_gated_mlp, layer.mlp)
    rotary = model.model.rotary_emb
    rotary.forward = types.MethodType(_float32_rotary, rotary)


def _float32_rotary(rotary, x: torch.Tensor, position_ids: torch.Tensor, layer_type: str):
    """ModernBertRotaryEmbedding.forward with float32 cos and sin whatever the model's dtype."""
    return type(rotary).forward(rotary, x[..., :0].float(), position_ids, layer_type)


def _gated_mlp(mlp, hidden_states: torch.Tensor) -> torch.Tensor:
    """ModernBertMLP.forward for inference: the gate multiplies the activation in place."""
    activation, gate = mlp.Wi(hidden_states).chunk(2, dim=-1)
    return mlp.Wo(mlp.drop(mlp.act(activation).mul_(gate)))


def _interleaved_attention(attn, hidden_states, position_embeddings=None, attention_mask=None, **kwargs):
    """ModernBertAttention.forward on interleaved query and key rows, packed or padded."""
    shape = hidden_states.shape[:-1]
    qkv = attn.Wqkv(hidden_states).view(*shape, 3, -1, attn.head_dim)
    query_key = rotate_interleaved(qkv[..., :2, :, :], *position_embeddings).to(qkv.dtype)
    query, key = query_key.unbind(-3)
    query, key, value = (t.transpose(1, 2) for t in (query, key, qkv.select(-3, 2)))  # (B, H, L, D)
    interface = modeling_modernbert.ALL_ATTENTION_FUNCTIONS.get_interface(
        attn.config._attn_implementation, modeling_modernbert.eager_attention_forward
    )
    mixed, _ = interface(
        attn,
        query,
        key,
        value,
        attention_mask,
        dropout=0.0,
        scaling=attn.head_dim**-0.5,
        sliding_window=attn.sliding_window,
        **kwargs,
    )
    return attn.out_drop(attn.Wo(mixed.reshape(*shape, -1))), None
