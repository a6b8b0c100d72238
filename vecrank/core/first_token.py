"""The last encoder layer, run for the first token of each packed sequence only.

A classification head that reads the first token ([CLS] or <s>) needs nothing else from the
last layer: every token still gives keys and values, but the other tokens' queries, output
projection and feed-forward block are skipped. That is most of one layer (about a seventh of
the 17m ModernBERT, a sixth of MiniLM-L6), and no score changes.
"""

from __future__ import annotations

import types

import torch
from transformers import PreTrainedModel

from .modernbert import INTERLEAVED, rotate_interleaved
from .varlen import FIRST_TOKEN_ONLY

BERT_LIKE = frozenset({"bert", "roberta", "xlm-roberta"})

# Linears of the first-token last layer that read one row per sequence (the forwards below);
# the key and value projections (ModernBERT: all of Wqkv) still read every token.
FIRST_TOKEN_LINEARS = {
    "modernbert": ("attn.Wo", "mlp.Wi", "mlp.Wo"),
    **dict.fromkeys(
        BERT_LIKE, ("attention.self.query", "attention.output.dense", "intermediate.dense", "output.dense")
    ),
}


def first_token_linears(model: PreTrainedModel) -> tuple[str, ...] | None:
    """The last layer's linears that read first tokens only when it runs first-token-only (None: unknown)."""
    return getattr(model, "first_token_linears", None) or FIRST_TOKEN_LINEARS.get(model.config.model_type)


def encoder_layers(model: PreTrainedModel) -> torch.nn.ModuleList:
    """The encoder layers of a BERT-like or ModernBERT model (with or without its task head)."""
    base = model.base_model
    return base.layers if model.config.model_type == "modernbert" else base.encoder.layer


def first_token_only(model: PreTrainedModel) -> bool:
    """Make the model's last layer compute first tokens only on packed batches; returns whether it could.

    ModernBERT models need :func:`~vecrank.core.modernbert.pack_layers` first (interleaved rotary rows).
    A model of vecrank's own (JinaBERT) names its ``first_token_linears`` and runs that layer itself.
    """
    config = model.config
    if getattr(model, "first_token_linears", None):
        setattr(model, FIRST_TOKEN_ONLY, True)
        return True
    if config.model_type == "modernbert" and config.classifier_pooling == "cls":
        layer, forward = encoder_layers(model)[-1], _modernbert_layer
        if not getattr(layer.attn, INTERLEAVED, False):
            raise ValueError("first_token_only on ModernBERT needs pack_layers(model) first")
    elif (
        config.model_type in BERT_LIKE
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
    ):
        layer, forward = encoder_layers(model)[-1], _bert_layer
    else:
        return False
    layer.forward = types.MethodType(forward, layer)  # parameter names stay those of the checkpoint
    setattr(model, FIRST_TOKEN_ONLY, True)
    return True


def first_token_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    cu_seqlens: torch.Tensor,
    scaling: float,
    half_window: int,
    alibi_slopes: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each sequence's first-token query over its own keys (within ``half_window`` if not -1).

    query: (N, H, D), one row per sequence; key, value: (T, H, D) packed; returns (N, H * D).
    ``alibi_slopes`` (H,): add ``-slope * j`` to the score of the key at position ``j`` (ALiBi).
    """
    starts, lengths = cu_seqlens[:-1].long(), (cu_seqlens[1:] - cu_seqlens[:-1]).long()
    count, heads, depth = query.shape
    segment = torch.repeat_interleave(torch.arange(count, device=key.device), lengths, output_size=len(key))
    q, k, v = (t.transpose(0, 1).float() for t in (query, key, value))  # (H, ., D)
    scores = (q[:, segment] * k).sum(-1) * scaling  # (H, T)
    position = torch.arange(len(segment), device=key.device) - starts[segment]
    if half_window >= 0:
        scores = scores.masked_fill(position > half_window, float("-inf"))
    if alibi_slopes is not None:
        scores = scores - alibi_slopes.float()[:, None] * position
    index = segment.expand(heads, -1)
    peak = scores.new_full((heads, count), float("-inf")).scatter_reduce(1, index, scores, "amax")
    weights = (scores - peak[:, segment]).exp()
    total = scores.new_zeros(heads, count).index_add_(1, segment, weights)
    mixed = q.new_zeros(heads, count, depth).index_add_(1, segment, weights.unsqueeze(-1) * v)
    mixed = mixed / total.unsqueeze(-1)
    return mixed.transpose(0, 1).reshape(count, heads * depth).to(query.dtype)


def _modernbert_layer(layer, hidden_states, attention_mask=None, position_embeddings=None, **kwargs):
    """ModernBertEncoderLayer.forward for first tokens only; returns (1, N, hidden)."""
    cu_seqlens = kwargs.get("cu_seq_lens_q")
    if cu_seqlens is None:
        return type(layer).forward(
            layer,
            hidden_states,
            attention_mask=attention_mask,
            position_embeddings=position_embeddings,
            **kwargs,
        )
    attn = layer.attn
    tokens = hidden_states[0]
    qkv = attn.Wqkv(layer.attn_norm(tokens)).view(len(tokens), 3, -1, attn.head_dim)
    cos, sin = (table[0] for table in position_embeddings)  # (T, D)
    starts = cu_seqlens[:-1].long()
    query = rotate_interleaved(qkv[starts, 0], cos[starts], sin[starts]).to(qkv.dtype)
    key = rotate_interleaved(qkv[:, 1], cos, sin).to(qkv.dtype)
    half_window = -1 if attn.sliding_window is None else attn.sliding_window - 1
    mixed = first_token_attention(query, key, qkv[:, 2], cu_seqlens, attn.head_dim**-0.5, half_window)
    first = tokens[starts] + attn.out_drop(attn.Wo(mixed))
    return (first + layer.mlp(layer.mlp_norm(first))).unsqueeze(0)


def _bert_layer(layer, hidden_states, attention_mask=None, *args, **kwargs):
    """BertLayer.forward (also RoBERTa, XLM-RoBERTa) for first tokens only; returns (1, N, hidden)."""
    cu_seqlens = kwargs.get("cu_seq_lens_q")
    if cu_seqlens is None:
        return type(layer).forward(layer, hidden_states, attention_mask, *args, **kwargs)
    attention = layer.attention.self
    tokens = hidden_states[0]
    first = tokens[cu_seqlens[:-1].long()]

    def heads(states: torch.Tensor) -> torch.Tensor:
        return states.view(len(states), attention.num_attention_heads, attention.attention_head_size)

    mixed = first_token_attention(
        heads(attention.query(first)),
        heads(attention.key(tokens)),
        heads(attention.value(tokens)),
        cu_seqlens,
        attention.scaling,
        -1,
    )
    attended = layer.attention.output(mixed, first)
    return layer.output(layer.intermediate(attended), attended).unsqueeze(0)
