"""JinaBERT (the Jina reranker v1 family) in vecrank's own module: packed, offline, no hub code.

The architecture of Jina Embeddings 2, as the public ``jinaai/jina-bert-implementation`` code
(named by the v1 rerankers' ``auto_map``) builds it: BERT embeddings without position
embeddings, post-layer-norm encoder layers, symmetric ALiBi (:mod:`.alibi`) and a gated
feed-forward whose activation ``feed_forward_type`` names (``geglu``: exact GELU, ``reglu``:
ReLU). Checkpoints come in two layouts, told apart by their weight names:

- ``gated_layers`` (jina-bert-implementation: the v1 rerankers, jina-embeddings-v2-base-en):
  ``mlp.gated_layers`` (no bias), the activation on the FIRST half times the second half,
  ``mlp.wo``, then ``mlp.layernorm`` over that plus the attention output;
- ``up_gated_layer`` (jina-bert-v2-qk-post-norm: jina-embeddings-v2-base-code): layer norms on
  the projected queries and keys (``attention.self.layer_norm_q`` / ``layer_norm_k``),
  ``layer_norm_1`` over the attention output plus the layer input, ``mlp.up_gated_layer``
  (no bias), the first half times the activation on the SECOND half, ``mlp.down_layer``, and
  ``layer_norm_2`` over that plus its input.

The head is BERT's: the pooler (dense and tanh on the first token) where the checkpoint has
one, then ``classifier``. The model runs packed (:meth:`packed_logits`, the last layer on
first tokens only when asked) or padded with an explicit bias matrix (``forward``, what the
hub code computes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig
from transformers.modeling_outputs import SequenceClassifierOutput

from .alibi import alibi_bias, alibi_slopes, alibi_varlen_attention
from .batching import PackedBatch
from .first_token import first_token_attention
from .varlen import FIRST_TOKEN_ONLY

ARCHITECTURE = "JinaBertForSequenceClassification"
ACTIVATIONS = {"geglu": F.gelu, "reglu": F.relu}
GATED_LAYERS, UP_GATED_LAYER = "gated_layers", "up_gated_layer"


def is_jinabert(config: PretrainedConfig) -> bool:
    """Whether a config describes a JinaBERT: its architecture says so, or a BERT uses ALiBi.

    These configs say ``model_type: "bert"``, so the model type alone would build a plain BERT.
    """
    architectures = getattr(config, "architectures", None) or []
    return any(name.startswith("JinaBert") for name in architectures) or (
        config.model_type == "bert" and getattr(config, "position_embedding_type", None) == "alibi"
    )


def unsupported_setting(config: PretrainedConfig) -> str | None:
    """``field = value`` of the first JinaBERT config setting this module does not implement, or None."""
    checks = {
        "position_embedding_type": (getattr(config, "position_embedding_type", None), ("alibi",)),
        "feed_forward_type": (getattr(config, "feed_forward_type", "geglu"), tuple(ACTIVATIONS)),
        "is_decoder": (bool(getattr(config, "is_decoder", False)), (False,)),
        "add_cross_attention": (bool(getattr(config, "add_cross_attention", False)), (False,)),
    }
    for field, (value, supported) in checks.items():
        if value not in supported:
            return f"{field} = {value!r} (supported: {', '.join(repr(s) for s in supported)})"
    if config.hidden_size % config.num_attention_heads:
        return f"hidden_size = {config.hidden_size} (not a multiple of num_attention_heads)"
    return None


@dataclass(frozen=True)
class JinaLayout:
    """What a JinaBERT checkpoint holds: its feed-forward layout, query/key norms, pooler."""

    feed_forward: str  # GATED_LAYERS or UP_GATED_LAYER
    qk_norm: bool
    pooler: bool

    @classmethod
    def from_weights(cls, names: Iterable[str]) -> JinaLayout:
        """Read the layout from the checkpoint's weight names; a ValueError if neither layout is there."""
        names = set(names)
        if any(".mlp.gated_layers." in name for name in names):
            feed_forward = GATED_LAYERS
        elif any(".mlp.up_gated_layer." in name for name in names):
            feed_forward = UP_GATED_LAYER
        else:
            raise ValueError("the weights hold neither mlp.gated_layers nor mlp.up_gated_layer")
        return cls(
            feed_forward=feed_forward,
            qk_norm=any(".attention.self.layer_norm_q." in name for name in names),
            pooler="bert.pooler.dense.weight" in names,
        )


class JinaBertSelfAttention(nn.Module):
    """``attention.self``: query, key and value projections, with layer norms on queries and keys if any."""

    def __init__(self, config: PretrainedConfig, qk_norm: bool) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.heads = config.num_attention_heads
        self.head_dim = hidden // self.heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.qk_norm = qk_norm
        if qk_norm:
            self.layer_norm_q = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
            self.layer_norm_k = nn.LayerNorm(hidden, eps=config.layer_norm_eps)

    def _heads(self, states: torch.Tensor) -> torch.Tensor:
        return states.unflatten(-1, (self.heads, self.head_dim))

    def queries(self, states: torch.Tensor) -> torch.Tensor:
        """(..., hidden) -> (..., H, D)."""
        query = self.query(states)
        return self._heads(self.layer_norm_q(query) if self.qk_norm else query)

    def keys_values(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., hidden) -> keys and values, each (..., H, D)."""
        key = self.key(states)
        return self._heads(self.layer_norm_k(key) if self.qk_norm else key), self._heads(self.value(states))


class JinaBertSelfOutput(nn.Module):
    """``attention.output``: ``LayerNorm(dense(mixed) + residual)``."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, mixed: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(mixed) + residual)


class JinaBertAttention(nn.Module):
    def __init__(self, config: PretrainedConfig, qk_norm: bool) -> None:
        super().__init__()
        self.self = JinaBertSelfAttention(config, qk_norm)
        self.output = JinaBertSelfOutput(config)


class GatedLayersMLP(nn.Module):
    """``mlp`` of the gated_layers layout: ``layernorm(wo(act(first half) * second half) + x)``."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.activation = ACTIVATIONS[getattr(config, "feed_forward_type", "geglu")]
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        gate, value = self.gated_layers(states).chunk(2, dim=-1)
        return self.layernorm(self.wo(self.activation(gate).mul_(value)) + states)


class UpGatedMLP(nn.Module):
    """``mlp`` of the up_gated_layer layout: ``down_layer(first half * act(second half))``."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.activation = ACTIVATIONS[getattr(config, "feed_forward_type", "geglu")]
        self.up_gated_layer = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.down_layer = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        up, gate = self.up_gated_layer(states).chunk(2, dim=-1)
        return self.down_layer(self.activation(gate).mul_(up))


class JinaBertLayer(nn.Module):
    """One post-norm encoder layer; the attention itself is computed by the caller (packed or padded)."""

    def __init__(self, config: PretrainedConfig, layout: JinaLayout) -> None:
        super().__init__()
        self.attention = JinaBertAttention(config, layout.qk_norm)
        self.up_gated = layout.feed_forward == UP_GATED_LAYER
        if self.up_gated:
            self.mlp = UpGatedMLP(config)
            self.layer_norm_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
            self.layer_norm_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        else:
            self.mlp = GatedLayersMLP(config)

    def finish(self, mixed: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """The layer's output from the attention's mixed values (..., hidden) and the layer input rows."""
        attended = self.attention.output(mixed, residual)
        if not self.up_gated:
            return self.mlp(attended)
        attended = self.layer_norm_1(attended + residual)
        return self.layer_norm_2(attended + self.mlp(attended))


class JinaBertEmbeddings(nn.Module):
    """Word and token-type embeddings and their layer norm; no position embeddings (ALiBi)."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None) -> torch.Tensor:
        embedded = self.word_embeddings(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        return self.LayerNorm(embedded + self.token_type_embeddings(token_type_ids))


class JinaBertEncoder(nn.Module):
    def __init__(self, config: PretrainedConfig, layout: JinaLayout) -> None:
        super().__init__()
        self.layer = nn.ModuleList(JinaBertLayer(config, layout) for _ in range(config.num_hidden_layers))


class JinaBertPooler(nn.Module):
    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, first_tokens: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(first_tokens))


class JinaBertModel(nn.Module):
    def __init__(self, config: PretrainedConfig, layout: JinaLayout) -> None:
        super().__init__()
        self.embeddings = JinaBertEmbeddings(config)
        self.encoder = JinaBertEncoder(config, layout)
        self.pooler = JinaBertPooler(config) if layout.pooler else None


class JinaBertForSequenceClassification(nn.Module):
    """A JinaBERT cross-encoder whose parameters carry the checkpoint's names (``bert.…``, ``classifier``)."""

    def __init__(self, config: PretrainedConfig, layout: JinaLayout) -> None:
        super().__init__()
        self.config = config
        self.layout = layout
        self.bert = JinaBertModel(config, layout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.slopes = torch.tensor(alibi_slopes(config.num_attention_heads), dtype=torch.float32)
        self.scaling = (config.hidden_size // config.num_attention_heads) ** -0.5

    @property
    def base_model(self) -> JinaBertModel:
        return self.bert

    @property
    def device(self) -> torch.device:
        return self.classifier.weight.device

    @property
    def first_token_linears(self) -> tuple[str, ...]:
        """Linears of the last layer that read first tokens only when that layer runs first-token-only."""
        mlp = (
            ("mlp.gated_layers", "mlp.wo")
            if self.layout.feed_forward == GATED_LAYERS
            else ("mlp.up_gated_layer", "mlp.down_layer")
        )
        return ("attention.self.query", "attention.output.dense", *mlp)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    def _logits(self, first_tokens: torch.Tensor) -> torch.Tensor:
        pooler = self.bert.pooler
        return self.classifier(pooler(first_tokens) if pooler is not None else first_tokens)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        """Padded batches: every layer adds a full (B, H, L, L) bias (ALiBi plus the padding mask)."""
        hidden = self.bert.embeddings(input_ids, token_type_ids)
        length = input_ids.shape[1]
        positions = torch.arange(length, device=input_ids.device)
        bias = alibi_bias(self.slopes.to(hidden.device), positions, positions).to(hidden.dtype).unsqueeze(0)
        if attention_mask is not None:
            padding = (attention_mask[:, None, None, :] == 0) * torch.finfo(hidden.dtype).min
            bias = bias + padding.to(hidden.dtype)
        for layer in self.bert.encoder.layer:
            attention = layer.attention.self
            query = attention.queries(hidden).transpose(1, 2)  # (B, H, L, D)
            key, value = (t.transpose(1, 2) for t in attention.keys_values(hidden))
            mixed = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, scale=self.scaling)
            hidden = layer.finish(mixed.transpose(1, 2).flatten(2), hidden)
        return SequenceClassifierOutput(logits=self._logits(hidden[:, 0]))

    def packed_logits(self, batch: PackedBatch) -> torch.Tensor:
        """Logits (N, labels) of a packed batch, ALiBi per sequence; the last layer on first tokens if set."""
        device = self.device
        cu_seqlens = batch.cu_seqlens.to(device, non_blocking=True)
        input_ids = batch.input_ids[0].to(device, non_blocking=True)
        types = (
            None if batch.token_type_ids is None else batch.token_type_ids[0].to(device, non_blocking=True)
        )
        hidden = self.bert.embeddings(input_ids, types)  # (T, hidden)
        slopes = self.slopes.to(device)
        layers = self.bert.encoder.layer
        first_only = getattr(self, FIRST_TOKEN_ONLY, False)
        starts = cu_seqlens[:-1].long()
        for number, layer in enumerate(layers):
            attention = layer.attention.self
            key, value = attention.keys_values(hidden)
            if first_only and number == len(layers) - 1:
                first = hidden[starts]
                mixed = first_token_attention(
                    attention.queries(first), key, value, cu_seqlens, self.scaling, -1, slopes
                )
                return self._logits(layer.finish(mixed, first))
            query = attention.queries(hidden)
            mixed = alibi_varlen_attention(
                query, key, value, cu_seqlens, batch.max_seqlen, self.scaling, slopes
            )
            hidden = layer.finish(mixed.flatten(1), hidden)
        return self._logits(hidden[starts])


def build(
    config: PretrainedConfig, state_dict: dict[str, torch.Tensor]
) -> tuple[JinaBertForSequenceClassification, list[str], list[str]]:
    """The model for ``state_dict``'s layout with its weights loaded; and the missing and unused names."""
    model = JinaBertForSequenceClassification(config, JinaLayout.from_weights(state_dict))
    missing, unused = model.load_state_dict(state_dict, strict=False)
    return model.eval(), list(missing), list(unused)
