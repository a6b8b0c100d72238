"""The int8 CPU path: throughput against sentence-transformers fp32, and its quality on real weights.

``vecrank bench --int8`` times sentence-transformers (fp32), vecrank fp32 and vecrank int8
interleaved in one run on random-weight shapes (speed depends on shapes only), then checks
quality where random weights would mislead (their activations have none of a trained model's
structure, which makes int8 look worse than it is):

- the ``minilm-bi`` demo (all-MiniLM-L6-v2 bi-encoder): NDCG@10, fp32 against int8;
- a cross-encoder on the real all-MiniLM-L6-v2 body with a relevance head fitted on half of
  the demo questions: per-query Kendall tau between fp32 and int8 scores over each
  question's 30 best candidates, and NDCG@10 on the other half.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..core import CrossEncoderReranker
from . import measure
from .models import build_minilm_cross_encoder, build_model, count_parameters
from .pairs import PairSet

CANDIDATES = 30
ENGINES = ("st", "vecrank_fp32", "vecrank_int8")


def int8_throughput(name: str, folder: Path, pair_set: PairSet, args: argparse.Namespace) -> dict:
    """Pairs/s of sentence-transformers fp32, vecrank fp32 and vecrank int8 on shape ``name``, interleaved."""
    from sentence_transformers import CrossEncoder

    build_model(name, folder, seed=args.seed)
    common = {"device": "cpu", "max_length": args.max_length, "cpu_workers": args.cpu_workers}
    st = CrossEncoder(
        str(folder), device="cpu", max_length=args.max_length, activation_fn=torch.nn.Identity()
    )
    fp32 = CrossEncoderReranker(str(folder), dtype="fp32", **common)
    int8 = CrossEncoderReranker(str(folder), dtype="int8", **common)
    batch_size = int(args.st_batch_sizes.split(",")[0])
    calls = {
        "st": lambda pairs: st.predict(pairs, batch_size=batch_size, show_progress_bar=False),
        "vecrank_fp32": fp32.predict,
        "vecrank_int8": int8.predict,
    }
    pairs = pair_set.pairs
    for call in calls.values():  # warm-up
        call(pairs[:256])
    stopwatch = measure.Stopwatch(args.quiet_wait)
    runs: dict[str, list] = {engine: [] for engine in ENGINES}
    scores: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):  # interleaved: every engine sees the same machine state
        for engine in ENGINES:
            timing = stopwatch.time(lambda e=engine: scores.__setitem__(e, calls[e](pairs)))
            runs[engine].append(asdict(timing))
    rates = {
        engine: round(len(pairs) / float(np.median([run["seconds"] for run in runs[engine]])), 1)
        for engine in ENGINES
    }
    return {
        "parameters": count_parameters(fp32.model)[0],
        "pairs_per_s": rates,
        "runs_pairs_per_s": {e: [round(len(pairs) / r["seconds"], 1) for r in runs[e]] for e in ENGINES},
        "others_busy_during_runs": {e: [r["others_busy"] for r in runs[e]] for e in ENGINES},
        "ratio_int8_vs_st_fp32": round(rates["vecrank_int8"] / rates["st"], 2),
        "ratio_fp32_vs_st_fp32": round(rates["vecrank_fp32"] / rates["st"], 2),
        "ratio_int8_vs_vecrank_fp32": round(rates["vecrank_int8"] / rates["vecrank_fp32"], 2),
        "st_batch_size": batch_size,
        "engines": {"vecrank_fp32": repr(fp32), "vecrank_int8": repr(int8)},
        "random_weights_max_abs_diff_int8": float(np.abs(scores["vecrank_int8"] - scores["st"]).max()),
    }


def demo_ndcg() -> dict:
    """NDCG@10 of the ``minilm-bi`` demo (the real all-MiniLM-L6-v2 weights), fp32 and int8."""
    from ..demo import run_demo

    def quiet(*args, **kwargs) -> None:
        return None

    found = {}
    for dtype in ("fp32", "int8"):
        result = run_demo("minilm-bi", progress=False, say=quiet, dtype=None if dtype == "fp32" else dtype)
        found[dtype] = result["metrics"]["minilm-bi"]["ndcg@10"]
    difference = found["int8"] - found["fp32"]
    return {
        "ndcg@10_fp32": round(found["fp32"], 4),
        "ndcg@10_int8": round(found["int8"], 4),
        "difference": round(difference, 4),
        "within_0.01": abs(difference) <= 0.01,
    }


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a of two score lists (no ties in float scores)."""
    sign = np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :])
    pairs = len(a) * (len(a) - 1)
    return float(sign.sum() / pairs) if pairs else 1.0


def minilm_cross_encoder_agreement(folder: Path, seed: int = 0) -> dict:
    """Per-query Kendall tau (fp32 against int8) of a cross-encoder on the real MiniLM body."""
    from ..config import CollectionConfig
    from ..demo import load_demo_dataset
    from ..evaluation import SearchRun, metrics
    from ..plugins.bi_encoder import BiEncoderScorer

    dataset = load_demo_dataset()
    doc_ids, query_ids = list(dataset.documents), list(dataset.queries)
    embedder = BiEncoderScorer(CollectionConfig(model="minilm-bi", dtype="fp32"))
    similarity = (
        embedder.embed([dataset.queries[q] for q in query_ids])
        @ embedder.embed([dataset.documents[d] for d in doc_ids]).T
    )
    candidates = [[doc_ids[i] for i in row] for row in similarity.topk(CANDIDATES).indices.tolist()]
    pairs = [
        (dataset.queries[q], dataset.documents[d]) for q, docs in zip(query_ids, candidates) for d in docs
    ]
    labels = np.array([float(d in dataset.qrels[q]) for q, docs in zip(query_ids, candidates) for d in docs])
    build_minilm_cross_encoder(folder, seed=seed)
    train = np.array([number % 2 == 0 for number in range(len(query_ids)) for _ in range(CANDIDATES)])
    fit_relevance_head(folder, pairs, labels, train)
    scores = {
        dtype: CrossEncoderReranker(str(folder), device="cpu", dtype=dtype).predict(pairs)
        for dtype in ("fp32", "int8")
    }
    taus = [
        kendall_tau(scores["fp32"][start : start + CANDIDATES], scores["int8"][start : start + CANDIDATES])
        for start in range(0, len(pairs), CANDIDATES)
    ]
    held_out = {}
    for dtype, values in scores.items():
        results = {
            q: dict(zip(docs, values[n * CANDIDATES : (n + 1) * CANDIDATES].tolist()))
            for n, (q, docs) in enumerate(zip(query_ids, candidates))
            if n % 2 == 1
        }
        held_out[dtype] = round(metrics(dataset, SearchRun(results, 0.0), ("ndcg@10",))["ndcg@10"], 4)
    return {
        "queries": len(query_ids),
        "candidates_per_query": CANDIDATES,
        "kendall_tau_mean": round(float(np.mean(taus)), 4),
        "kendall_tau_median": round(float(np.median(taus)), 4),
        "kendall_tau_min": round(float(np.min(taus)), 4),
        "share_of_queries_tau_at_least_0.95": round(float(np.mean(np.array(taus) >= 0.95)), 4),
        "max_abs_diff": round(float(np.abs(scores["fp32"] - scores["int8"]).max()), 4),
        "score_sd_fp32": round(float(scores["fp32"].std()), 4),
        "held_out_ndcg@10": held_out,
    }


def fit_relevance_head(folder: Path, pairs: list, labels: np.ndarray, train: np.ndarray) -> None:
    """Fit the one-label head (logistic regression on the pooled first token) on ``train`` pairs; save it."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    chosen = [pair for pair, used in zip(pairs, train) if used]
    features = []
    with torch.inference_mode():
        for start in range(0, len(chosen), 64):
            batch = chosen[start : start + 64]
            encoded = tokenizer(
                [q for q, _ in batch],
                [d for _, d in batch],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            features.append(model.bert(**encoded).pooler_output)
    x = torch.cat(features).double().numpy()
    y = labels[train]
    mean = x.mean(0)
    weight, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(2000):  # gradient descent on the L2-regularised logistic loss
        error = 1 / (1 + np.exp(-((x - mean) @ weight + bias))) - y
        weight -= (x - mean).T @ error / len(y) + 1e-3 * weight
        bias -= error.mean()
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(weight).float()[None])
        model.classifier.bias.fill_(float(bias - mean @ weight))
    model.save_pretrained(folder)


def int8_quality(seed: int = 0) -> dict:
    """Both quality guards on real weights."""
    with tempfile.TemporaryDirectory(prefix="vecrank-int8-") as folder:
        return {
            "minilm_bi_demo": demo_ndcg(),
            "minilm_cross_encoder": minilm_cross_encoder_agreement(Path(folder) / "minilm-ce", seed),
        }
