"""JinaBERT: vecrank's packed module against the padded reference path, same weights, same pairs.

``vecrank bench --jina --models jina-turbo,jina-tiny`` builds each shape with seeded random
weights (speed depends on shapes only) and times, interleaved: the padded reference (what the
hub code computes: pairs in input order, right-padded batches of ``--st-batch-sizes``, a full
``(B, H, L, L)`` ALiBi bias in every layer), and vecrank packed in fp32 and int8. Two pair
sets: NQ-like (``--pairs``, up to ``--max-length`` tokens) and ``--jina-long``-token pairs
(batches of one in the reference, whose bias alone is ``H x L x L`` floats). fp32 scores are
checked against the reference (within 1e-4, same order). Writes ``jina_cpu.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from ..core import CrossEncoderReranker
from . import measure
from .environment import machine_info, versions, write_results
from .models import bert_tokenizer_path, count_parameters
from .pairs import PairSet, make_long_pairs, make_pairs, token_length_stats
from .shapes import JINA_SHAPES

ENGINES = ("reference", "vecrank_fp32", "vecrank_int8")
MAX_POSITIONS = 8192


def build_jina(name: str, folder: Path, seed: int = 0) -> Path:
    """A random-weight JinaBERT of shape ``name`` with the benchmark's BERT tokenizer (8192 tokens)."""
    from ..testing.tiny_models import build_jinabert

    shape = JINA_SHAPES[name]
    return build_jinabert(
        folder,
        layers=shape.layers,
        hidden=shape.hidden,
        heads=shape.heads,
        intermediate=shape.intermediate,
        tokenizer=AutoTokenizer.from_pretrained(bert_tokenizer_path(), model_max_length=MAX_POSITIONS),
        seed=seed,
    )


class PaddedReference:
    """The model padded, as the hub code runs it: input order, fixed batch size, full bias matrices."""

    def __init__(self, folder: Path, max_length: int) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.engine = CrossEncoderReranker(str(folder), device="cpu", attention="sdpa", max_length=max_length)
        self.max_length = max_length

    @torch.inference_mode()
    def predict(self, pairs: list[tuple[str, str]], batch_size: int) -> np.ndarray:
        scores = []
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            inputs = self.tokenizer(
                [query for query, _ in batch],
                [document for _, document in batch],
                padding=True,
                truncation="longest_first",
                max_length=self.max_length,
                return_tensors="pt",
            )
            scores.append(self.engine.model(**inputs).logits[:, 0].float().numpy())
        return np.concatenate(scores)


def jina_benchmark(
    name: str, folder: Path, tokenizer: PreTrainedTokenizerBase, args: argparse.Namespace
) -> dict:
    """Pairs/s of the padded reference and vecrank fp32 and int8 on NQ-like and long pairs of ``name``."""
    build_jina(name, folder, seed=args.seed)
    long_tokens = args.jina_long
    limit = max(args.max_length, long_tokens)
    reference = PaddedReference(folder, limit)
    common = {"device": "cpu", "max_length": limit, "cpu_workers": args.cpu_workers}
    engines = {
        f"vecrank_{dtype}": CrossEncoderReranker(str(folder), dtype=dtype, **common)
        for dtype in ("fp32", "int8")
    }
    nq = make_pairs(tokenizer, args.pairs, max_length=args.max_length, seed=args.seed)
    long_count = max(2, args.long_tokens // long_tokens)
    sets = {
        "nq_like": (nq, int(args.st_batch_sizes.split(",")[0])),
        f"{long_tokens}_tokens": (make_long_pairs(tokenizer, long_count, long_tokens, seed=args.seed), 1),
    }
    warm = nq.pairs[:32]
    reference.predict(warm, 32)
    for engine in engines.values():
        engine.predict(warm)
    stopwatch = measure.Stopwatch(args.quiet_wait)
    results = {}
    for label, (pair_set, batch_size) in sets.items():
        pairs = pair_set.pairs if isinstance(pair_set, PairSet) else pair_set
        calls = {
            "reference": lambda p=pairs, b=batch_size: reference.predict(p, b),
            **{key: engine.predict for key, engine in engines.items()},
        }
        runs, scores = _interleaved(calls, pairs, args.repeats, stopwatch)
        rates = {e: round(len(pairs) / float(np.median([r["seconds"] for r in runs[e]])), 2) for e in ENGINES}
        group = pair_set if isinstance(pair_set, PairSet) else PairSet(pairs, 1, len(pairs))
        results[label] = {
            "pairs": len(pairs),
            "tokens": token_length_stats(tokenizer, pairs, limit),
            "reference_batch_size": batch_size,
            "pairs_per_s": rates,
            "ratio_fp32_vs_reference": round(rates["vecrank_fp32"] / rates["reference"], 2),
            "ratio_int8_vs_reference": round(rates["vecrank_int8"] / rates["reference"], 2),
            "runs_pairs_per_s": {e: [round(len(pairs) / r["seconds"], 2) for r in runs[e]] for e in ENGINES},
            "others_busy_during_runs": {e: [r["others_busy"] for r in runs[e]] for e in ENGINES},
            "fp32_agreement": measure.score_agreement(
                scores["vecrank_fp32"], scores["reference"], group, 1e-4
            ),
            "int8_max_abs_diff": float(np.abs(scores["vecrank_int8"] - scores["reference"]).max()),
        }
        print(format_row(name, label, results[label]), flush=True)
    return {
        "parameters": count_parameters(engines["vecrank_fp32"].model)[0],
        "engines": {key: repr(engine) for key, engine in engines.items()},
        "reference": "padded, input order, explicit (B, H, L, L) ALiBi bias, torch SDPA, fp32",
        "cpu_workers": engines["vecrank_fp32"].cpu_workers,
        "pair_sets": results,
    }


def _interleaved(calls: dict, pairs: list, repeats: int, stopwatch: measure.Stopwatch) -> tuple[dict, dict]:
    """Timed runs of each engine in turn, ``repeats`` times; and each engine's last scores."""
    runs: dict[str, list[dict]] = {engine: [] for engine in calls}
    scores: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for engine, call in calls.items():
            timing = stopwatch.time(lambda e=engine, c=call: scores.__setitem__(e, np.asarray(c(pairs))))
            runs[engine].append(asdict(timing))
    return runs, scores


def format_row(name: str, label: str, row: dict) -> str:
    """One printed line per shape and pair set."""
    rates = row["pairs_per_s"]
    return (
        f"{name:<11} {label:<12} reference {rates['reference']:>8.2f}/s  "
        f"vecrank fp32 {rates['vecrank_fp32']:>8.2f}/s ({row['ratio_fp32_vs_reference']:.2f}x)  "
        f"int8 {rates['vecrank_int8']:>8.2f}/s ({row['ratio_int8_vs_reference']:.2f}x)  "
        f"fp32 max|diff| {row['fp32_agreement']['max_abs_diff']:.1e} "
        f"{'same order' if row['fp32_agreement']['same_order'] else 'ORDER DIFFERS'}"
    )


def run_jina(
    names: list[str], tokenizer: PreTrainedTokenizerBase, args: argparse.Namespace, command: str
) -> int:
    """``--jina``: the benchmark per shape, printed and written to ``jina_cpu.json``; an exit status."""
    unknown = [name for name in names if name not in JINA_SHAPES]
    if unknown or args.device not in ("auto", "cpu"):
        problem = f"not {unknown[0]!r}" if unknown else "it measures the CPU (pass --device cpu)"
        print(f"vecrank bench: --jina takes models {', '.join(JINA_SHAPES)}; {problem}", file=sys.stderr)
        return 2
    cpu = torch.device("cpu")
    report = {"command": command, "machine": machine_info(cpu), "versions": versions([]), "device": "cpu"}
    report["models"] = {}
    with tempfile.TemporaryDirectory(prefix="vecrank-bench-") as folder:
        for name in names:
            report["models"][name] = jina_benchmark(name, Path(folder) / name, tokenizer, args)
    path = Path(args.out or "jina_cpu.json")
    write_results(path, report)
    print(f"wrote {path}")
    return 0
