"""Yes/no rerankers: the Qwen3-Reranker-0.6B shape, vecrank against sentence-transformers' CrossEncoder.

``vecrank bench --llm qwen3-reranker-0.6b``: random weights in the exact Qwen3-Reranker-0.6B shape
(28 layers, hidden 1024, 16 query and 8 key-value heads of 128, MLP 3072, vocabulary 151,669, tied
embeddings) with the byte-level tokenizer of :mod:`vecrank.testing.tiny_llm_rerankers` (its chat
template renders the card's prompt, so ``CrossEncoder`` loads the folder as a reranker). Queries of
32 candidates of about 150 tokens go through sentence-transformers (padded, batch 32, the full LM
head at the last position) and vecrank without and with prefix reuse, interleaved; pairs/s, the
ratios and the largest score difference against sentence-transformers are kept. ``tiny`` is a
two-layer shape that checks the benchmark in seconds.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3Config

from ..core import CrossEncoderReranker
from ..plugins.qwen3_template import Qwen3RerankerTemplate
from ..testing.tiny_llm_rerankers import build_tiny_llm_reranker
from ..testing.tiny_models import _WORDS
from . import measure
from .long import interleaved

LLM_SHAPES = {
    "qwen3-reranker-0.6b": {
        "vocab_size": 151_669,
        "hidden_size": 1024,
        "intermediate_size": 3072,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40_960,
        "rope_theta": 1_000_000.0,
    },
    "tiny": {
        "vocab_size": 2048,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 2048,
        "rope_theta": 1_000_000.0,
    },
}
CANDIDATES = 32
DOCUMENT_TOKENS = (100, 200)  # uniform: about 150 tokens a document
ENGINES = ("st", "vecrank", "vecrank_prefix_reuse")


def llm_config(name: str, **tokens: int | None) -> Qwen3Config:
    """The Qwen3 config of shape ``name`` (tied embeddings); ``tokens``: its pad and eos token ids."""
    shape = LLM_SHAPES[name]
    return Qwen3Config(
        **{key: value for key, value in shape.items() if key != "rope_theta"},
        rope_parameters={"rope_type": "default", "rope_theta": shape["rope_theta"]},
        tie_word_embeddings=True,
        **tokens,
    )


def build_llm_model(name: str, folder: Path, seed: int = 0) -> Path:
    """A random-weight Qwen3 causal LM of shape ``name`` with the test tokenizer and its chat template."""
    tokenizer_folder = build_tiny_llm_reranker("qwen3", folder / "tokenizer", seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    config = llm_config(name, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    model.config.architectures = [type(model).__name__]
    target = folder / f"{name}-reranker"
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def llm_pairs(tokenizer, queries: int, seed: int = 0) -> list[tuple[str, str]]:
    """``queries`` queries of 4-12 words, each with 32 documents of 100-200 tokens."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(queries):
        query = " ".join(rng.choices(_WORDS, k=rng.randint(4, 12)))
        for _ in range(CANDIDATES):
            words = rng.choices(_WORDS, k=400)
            ids = tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]
            pairs.append((query, tokenizer.decode(ids[: rng.randint(*DOCUMENT_TOKENS)])))
    return pairs


def llm_throughput(name: str, folder: Path, device: torch.device, dtype: torch.dtype, args) -> dict:
    """pairs/s of the three engines on shape ``name``, their ratios to sentence-transformers, max|diff|."""
    from sentence_transformers import CrossEncoder

    path = build_llm_model(name, folder, seed=args.seed)
    st = CrossEncoder(
        str(path), device=str(device), activation_fn=torch.nn.Identity(), model_kwargs={"dtype": dtype}
    )
    common = {
        "device": str(device),
        "dtype": dtype,
        "cpu_workers": args.cpu_workers,
        "prompt_template": Qwen3RerankerTemplate(),  # without the plugin manager (and pydantic)
    }
    plain = CrossEncoderReranker(str(path), prefix_reuse=False, **common)
    reusing = CrossEncoderReranker(str(path), prefix_reuse=True, **common)
    pairs = llm_pairs(plain.tokenizer, max(1, args.pairs // CANDIDATES), seed=args.seed)
    calls = {
        "st": lambda: np.asarray(st.predict(pairs, batch_size=CANDIDATES, show_progress_bar=False)),
        "vecrank": lambda: plain.predict(pairs),
        "vecrank_prefix_reuse": lambda: reusing.predict(pairs),
    }
    warm = pairs[:CANDIDATES]  # one query, through each engine once
    st.predict(warm, batch_size=CANDIDATES, show_progress_bar=False)
    plain.predict(warm)
    reusing.predict(warm)
    runs, scores = interleaved(calls, args.repeats, measure.Stopwatch(args.quiet_wait), device)
    rates = {e: round(len(pairs) / float(np.median([r["seconds"] for r in runs[e]])), 2) for e in ENGINES}
    lengths = plain.tokenize(pairs).lengths
    return {
        "shape": LLM_SHAPES[name],
        "engine": repr(reusing),
        "pairs": len(pairs),
        "candidates_per_query": CANDIDATES,
        "median_tokens_per_pair": int(np.median(lengths)),
        "pairs_per_s": rates,
        "ratio_vs_st": round(rates["vecrank"] / rates["st"], 2),
        "ratio_prefix_reuse_vs_st": round(rates["vecrank_prefix_reuse"] / rates["st"], 2),
        "runs_pairs_per_s": {e: [round(len(pairs) / r["seconds"], 2) for r in runs[e]] for e in ENGINES},
        "others_busy_during_runs": {e: [r["others_busy"] for r in runs[e]] for e in ENGINES},
        "peak_over_start_mb": {
            e: round(max(r["peak_mb"] - r.get("start_mb", 0.0) for r in runs[e]), 1) for e in ENGINES
        },
        "max_abs_diff_vs_st": {
            e: float(np.abs(scores[e] - scores["st"]).max()) for e in ("vecrank", "vecrank_prefix_reuse")
        },
    }


def format_row(name: str, row: dict) -> str:
    """One printed line per shape."""
    rates, diff = row["pairs_per_s"], row["max_abs_diff_vs_st"]
    return (
        f"{name:<20} ST {rates['st']:>8.2f}/s  "
        f"vecrank {rates['vecrank']:>8.2f}/s ({row['ratio_vs_st']:.2f}x)  "
        f"prefix reuse {rates['vecrank_prefix_reuse']:>8.2f}/s ({row['ratio_prefix_reuse_vs_st']:.2f}x)  "
        f"max|diff| {max(diff.values()):.1e}"
    )
