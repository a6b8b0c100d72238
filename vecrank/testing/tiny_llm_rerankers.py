"""Tiny random yes/no rerankers for offline tests: a Qwen3ForCausalLM or Qwen2ForCausalLM folder.

``build_tiny_llm_reranker("qwen3", path)`` writes a folder laid out like Qwen3-Reranker (``qwen2``:
like mxbai-rerank-v2): random weights, and a byte-level BPE tokenizer whose vocabulary holds the
chat markers (``<|im_start|>``, ``<|im_end|>``, ``<think>``, ``</think>``) as special tokens and the
answer tokens (``yes``, ``no``, ``1``, ``0``) as single tokens. Its chat template renders a
(query, document) pair the way the family's card does, so that sentence-transformers'
``CrossEncoder`` loads the folder as a reranker too.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers.trainers import BpeTrainer
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen3Config

from .tiny_models import _NON_ASCII, _SUFFIXES, _WORDS

__all__ = ["FAMILIES", "build_tiny_llm_reranker"]

FAMILIES = ("qwen3", "qwen2")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
VOCAB_SIZE = 1200
# Words of the two families' prompts, so that templates take a realistic few dozen tokens.
_PROMPT_TEXT = """
Judge whether the Document meets requirements based on Query and Instruct provided Note that answer
can only be yes or no system user assistant Given web search query retrieve relevant passages
You are Qwen created by Alibaba Cloud helpful expert who evaluates how well documents match queries
For each pair carefully analyze semantic relationship between them then provide your binary
judgment not relevant Relevance instruction document
"""
_PROMPT_WORDS = _PROMPT_TEXT.split()

_QWEN3_CHAT_TEMPLATE = (
    '{%- set system = messages | selectattr("role", "eq", "system") | map(attribute="content") | list -%}'
    '{%- set query = messages | selectattr("role", "eq", "query") | map(attribute="content") | first -%}'
    '{%- set document = messages | selectattr("role", "eq", "document") | map(attribute="content")'
    " | first -%}"
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    "<Instruct>: {{ system[0] if system else 'Given a web search query, retrieve relevant passages that "
    "answer the query' }}\n<Query>: {{ query }}\n<Document>: {{ document }}"
    # The closing newlines as an expression: Jinja drops a template's own trailing newline.
    "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>{{ '\\n\\n' }}"
)


def build_tiny_llm_reranker(
    family: str, path: str | Path, *, seed: int = 0, max_position_embeddings: int = 512
) -> Path:
    """Build a tiny random ``qwen3`` (Qwen3-Reranker layout) or ``qwen2`` (mxbai-rerank-v2) folder."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    tokenizer = _tokenizer(max_position_embeddings)
    sizes = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": max_position_embeddings,
        "tie_word_embeddings": True,
        "initializer_range": 0.2,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
    }
    config = Qwen3Config(head_dim=8, **sizes) if family == "qwen3" else Qwen2Config(**sizes)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.config.architectures = [type(model).__name__]
    model.eval()
    if family == "qwen3":
        tokenizer.chat_template = _QWEN3_CHAT_TEMPLATE
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _tokenizer(max_length: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE with the chat markers as special tokens and single-token answers."""
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    words = [*_WORDS, *_PROMPT_WORDS, *(word.capitalize() for word in _WORDS), *_SUFFIXES]
    answers = ["yes", "no"] * 50  # frequent enough to be merged into one token each
    backend.train_from_iterator([*words, *(f" {w}" for w in words), *answers, _NON_ASCII], trainer=trainer)
    backend.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=max_length,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
