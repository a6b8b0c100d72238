"""Long documents: pairs of 1K to 8K tokens on the Ettin shapes, vecrank against sentence-transformers.

``vecrank bench --long 1024,2048,4096,8192 --models 17m,150m``: at each length, the same pairs
(a short query and a passage filling the rest) go through both engines, interleaved; pairs/s,
the ratio, peak memory and the largest score difference are kept. The Ettin position table
ends at 7999 tokens, so the 8K point is 7999 tokens for both engines. sentence-transformers
gets batches of about the engine's CPU token budget (``4096 // length`` pairs, at least one):
at 32 pairs of 8K tokens its padded attention would need tens of GB.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from ..core import CrossEncoderReranker
from ..core.reranker import CPU_BATCH_TOKENS
from . import measure
from .models import ETTIN_MAX_POSITIONS, build_model, count_parameters
from .pairs import make_long_pairs

ENGINES = ("st", "vecrank")


def long_documents(
    name: str, folder: Path, lengths: list[int], tokenizer: PreTrainedTokenizerBase, args: argparse.Namespace
) -> dict:
    """Per length: pairs/s of both engines, their ratio, peak memory and score agreement on shape ``name``."""
    from sentence_transformers import CrossEncoder

    build_model(name, folder, seed=args.seed)
    limit = min(max(lengths), ETTIN_MAX_POSITIONS)
    st = CrossEncoder(str(folder), device="cpu", max_length=limit, activation_fn=torch.nn.Identity())
    ours = CrossEncoderReranker(str(folder), device="cpu", max_length=limit, cpu_workers=args.cpu_workers)
    warm = make_long_pairs(tokenizer, 2, 256, seed=args.seed)
    st.predict(warm, show_progress_bar=False)
    ours.predict(warm)
    stopwatch = measure.Stopwatch(args.quiet_wait)
    by_length = {}
    for length in lengths:
        tokens = min(length, limit)
        count = max(2, args.long_tokens // tokens)
        pairs = make_long_pairs(tokenizer, count, tokens, seed=args.seed)
        measured = ours.tokenize(pairs).lengths
        batch_size = max(1, CPU_BATCH_TOKENS // tokens)
        calls = {
            "st": lambda p=pairs, b=batch_size: st.predict(p, batch_size=b, show_progress_bar=False),
            "vecrank": lambda p=pairs: ours.predict(p),
        }
        runs, scores = interleaved(calls, args.repeats, stopwatch)
        rates = {e: round(count / float(np.median([r["seconds"] for r in runs[e]])), 3) for e in ENGINES}
        by_length[str(length)] = {
            "tokens_per_pair": int(np.median(measured)),
            "pairs": count,
            "st_batch_size": batch_size,
            "pairs_per_s": rates,
            "ratio": round(rates["vecrank"] / rates["st"], 2),
            "runs_pairs_per_s": {e: [round(count / r["seconds"], 3) for r in runs[e]] for e in ENGINES},
            "others_busy_during_runs": {e: [r["others_busy"] for r in runs[e]] for e in ENGINES},
            "peak_over_start_mb": {
                e: round(max(r["peak_mb"] - r.get("start_mb", 0.0) for r in runs[e]), 1) for e in ENGINES
            },
            "max_abs_diff": float(np.abs(scores["vecrank"] - scores["st"]).max()),
        }
        print(format_row(name, by_length[str(length)]), flush=True)
    return {
        "parameters": count_parameters(ours.model)[0],
        "engine": repr(ours),
        "cpu_workers": ours.cpu_workers,
        "lengths": by_length,
    }


def interleaved(
    calls: dict, repeats: int, stopwatch: measure.Stopwatch, device: torch.device | None = None
) -> tuple[dict, dict]:
    """Timed runs (with peak memory) of each engine in turn, ``repeats`` times; and the last scores."""
    runs: dict[str, list[dict]] = {engine: [] for engine in calls}
    scores: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for engine, call in calls.items():
            with measure.peak_memory(device or torch.device("cpu")) as memory:
                timing = stopwatch.time(lambda e=engine, c=call: scores.__setitem__(e, c()))
            runs[engine].append({**asdict(timing), **memory})
    return runs, scores


def format_row(name: str, row: dict) -> str:
    """One printed line per model and length."""
    rates, peak = row["pairs_per_s"], row["peak_over_start_mb"]
    return (
        f"{name:<6} {row['tokens_per_pair']:>6} tokens x {row['pairs']:<3} "
        f"vecrank {rates['vecrank']:>8.3f}/s  "
        f"ST {rates['st']:>8.3f}/s  {row['ratio']:>5.2f}x  peak MB {peak['vecrank']:.0f}/{peak['st']:.0f}  "
        f"max|diff| {row['max_abs_diff']:.1e}"
    )
