"""The int8 CPU path: throughput against sentence-transformers fp32, and its quality on real weights.

``vecrank bench --int8`` times sentence-transformers (fp32) and vecrank at fp32, int8 and
int8-per-token interleaved in one run on random-weight shapes (speed depends on shapes only), then checks
quality where random weights would mislead (their activations have none of a trained model's
structure, which makes int8 look worse than it is):

- the ``minilm-bi`` demo (all-MiniLM-L6-v2 bi-encoder): NDCG@10, fp32 against both int8s;
- a cross-encoder fine-tuned from the real all-MiniLM-L6-v2 body on the demo (passage
  titles and half of the questions): per-query Kendall tau between fp32 and int8 scores over
  each question's 30 best candidates, NDCG@10 on the other half, and the tau that int8
  simulated in float32 reaches with one activation range per call (torch's plain dynamic
  int8, outlier tokens included) and with one per token.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..core import CrossEncoderReranker
from ..core.quantize import per_pair_linears
from . import measure
from .models import build_minilm_cross_encoder, build_model, count_parameters
from .pairs import PairSet

CANDIDATES = 30
NEGATIVES = 3  # other passages per training group
GROUPS_PER_STEP = 4
TRAIN_EPOCHS = 2
INT8_DTYPES = ("int8", "int8-per-token")
# The tiers whose agreement with fp32 the real-weights guard measures (see core/cpu.py).
GUARDED_TIERS = ("bfloat16", *INT8_DTYPES)
TOP = 10
ENGINES = ("st", "vecrank_fp32", "vecrank_int8", "vecrank_int8_per_token")


def int8_throughput(name: str, folder: Path, pair_set: PairSet, args: argparse.Namespace) -> dict:
    """Pairs/s of sentence-transformers fp32 and vecrank at fp32 and both int8 dtypes, interleaved."""
    from sentence_transformers import CrossEncoder

    build_model(name, folder, seed=args.seed)
    common = {"device": "cpu", "max_length": args.max_length, "cpu_workers": args.cpu_workers}
    st = CrossEncoder(
        str(folder), device="cpu", max_length=args.max_length, activation_fn=torch.nn.Identity()
    )
    engines = {
        _engine(dtype): CrossEncoderReranker(str(folder), dtype=dtype, **common)
        for dtype in ("fp32", *INT8_DTYPES)
    }
    batch_size = int(args.st_batch_sizes.split(",")[0])
    calls = {
        "st": lambda pairs: st.predict(pairs, batch_size=batch_size, show_progress_bar=False),
        **{engine: reranker.predict for engine, reranker in engines.items()},
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
        "parameters": count_parameters(engines["vecrank_fp32"].model)[0],
        "pairs_per_s": rates,
        "runs_pairs_per_s": {e: [round(len(pairs) / r["seconds"], 1) for r in runs[e]] for e in ENGINES},
        "others_busy_during_runs": {e: [r["others_busy"] for r in runs[e]] for e in ENGINES},
        "ratio_fp32_vs_st_fp32": round(rates["vecrank_fp32"] / rates["st"], 2),
        **{f"ratio_{d}_vs_st_fp32": round(rates[_engine(d)] / rates["st"], 2) for d in INT8_DTYPES},
        **{
            f"ratio_{d}_vs_vecrank_fp32": round(rates[_engine(d)] / rates["vecrank_fp32"], 2)
            for d in INT8_DTYPES
        },
        "st_batch_size": batch_size,
        "engines": {engine: repr(reranker) for engine, reranker in engines.items()},
        **{
            f"random_weights_max_abs_diff_{d}": float(np.abs(scores[_engine(d)] - scores["st"]).max())
            for d in INT8_DTYPES
        },
    }


def _engine(dtype: str) -> str:
    """The result key of vecrank at ``dtype``: ``vecrank_fp32``, ``vecrank_int8_per_token``, ..."""
    return "vecrank_" + dtype.replace("-", "_")


def demo_ndcg() -> dict:
    """NDCG@10 of the ``minilm-bi`` demo (the real all-MiniLM-L6-v2 weights), fp32 and both int8 paths."""
    from ..demo import run_demo

    def quiet(*args, **kwargs) -> None:
        return None

    found = {}
    for dtype in ("fp32", *INT8_DTYPES):
        result = run_demo("minilm-bi", progress=False, say=quiet, dtype=None if dtype == "fp32" else dtype)
        found[dtype] = result["metrics"]["minilm-bi"]["ndcg@10"]
    report = {f"ndcg@10_{dtype}": round(value, 4) for dtype, value in found.items()}
    for dtype in INT8_DTYPES:
        difference = found[dtype] - found["fp32"]
        report[dtype] = {"difference": round(difference, 4), "within_0.01": abs(difference) <= 0.01}
    return report


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a of two score lists (no ties in float scores)."""
    sign = np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :])
    pairs = len(a) * (len(a) - 1)
    return float(sign.sum() / pairs) if pairs else 1.0


def minilm_cross_encoder_agreement(folder: Path, seed: int = 0) -> dict:
    """Per-query Kendall tau and top-10 overlap against fp32 of each tier, on a cross-encoder
    fine-tuned from the real MiniLM body."""
    from ..config import CollectionConfig
    from ..evaluation import SearchRun, load_demo_dataset, metrics
    from ..plugins.bi_encoder import BiEncoderScorer

    dataset = load_demo_dataset()
    doc_ids, query_ids = list(dataset.documents), list(dataset.queries)
    embedder = BiEncoderScorer(CollectionConfig(model="minilm-bi", dtype="fp32"))
    documents = embedder.embed([dataset.documents[d] for d in doc_ids])
    similarity = embedder.embed([dataset.queries[q] for q in query_ids]) @ documents.T
    candidates = [[doc_ids[i] for i in row] for row in similarity.topk(CANDIDATES).indices.tolist()]
    title_neighbours = embedder.embed([dataset.titles[d] for d in doc_ids]) @ documents.T
    # Training groups (a text, its passage first, then its nearest other passages): every passage
    # under its title, and the even-numbered questions; the odd ones are held out.
    groups = [
        (dataset.titles[d], [d, *(doc_ids[j] for j in row if j != i)][: NEGATIVES + 1])
        for i, (d, row) in enumerate(zip(doc_ids, title_neighbours.topk(NEGATIVES + 1).indices.tolist()))
    ]
    for number, (q, docs) in enumerate(zip(query_ids, candidates)):
        if number % 2 == 0:
            answer = next(iter(dataset.qrels[q]))
            groups.append((dataset.queries[q], [answer, *(d for d in docs if d != answer)][: NEGATIVES + 1]))
    build_minilm_cross_encoder(folder, seed=seed)
    texts = [(text, [dataset.documents[d] for d in docs]) for text, docs in groups]
    losses = train_relevance_model(folder, texts, seed)
    pairs = [
        (dataset.queries[q], dataset.documents[d]) for q, docs in zip(query_ids, candidates) for d in docs
    ]
    scores = {
        dtype: CrossEncoderReranker(str(folder), device="cpu", dtype=dtype).predict(pairs)
        for dtype in ("fp32", *GUARDED_TIERS)
    }
    agreement = {}
    for dtype in GUARDED_TIERS:
        taus = per_query_tau(scores["fp32"], scores[dtype])
        agreement[dtype] = {
            f"top{TOP}_overlap_mean": round(
                float(np.mean(per_query_overlap(scores["fp32"], scores[dtype]))), 4
            ),
            "kendall_tau_mean": round(float(np.mean(taus)), 4),
            "kendall_tau_median": round(float(np.median(taus)), 4),
            "kendall_tau_min": round(float(np.min(taus)), 4),
            "share_of_queries_tau_at_least_0.95": round(float(np.mean(np.array(taus) >= 0.95)), 4),
            "max_abs_diff": round(float(np.abs(scores["fp32"] - scores[dtype]).max()), 4),
        }
    held_out = {}
    for dtype, values in scores.items():
        results = {
            q: dict(zip(docs, values[n * CANDIDATES : (n + 1) * CANDIDATES].tolist()))
            for n, (q, docs) in enumerate(zip(query_ids, candidates))
            if n % 2 == 1
        }
        found = metrics(dataset, SearchRun(results, 0.0), ("ndcg@10", "mrr@10"))  # ranx: two or more
        held_out[dtype] = round(found["ndcg@10"], 4)
    simulated = {
        scale: round(float(np.mean(per_query_tau(scores["fp32"], simulated_int8(folder, pairs, scale)))), 4)
        for scale in ("tensor", "token")
    }
    return {
        "model": "all-MiniLM-L6-v2 fine-tuned as a cross-encoder on the demo titles and even questions",
        "training_groups": len(groups),
        "training_loss_by_epoch": losses,
        "queries": len(query_ids),
        "candidates_per_query": CANDIDATES,
        "score_sd_fp32": round(float(scores["fp32"].std()), 4),
        "against_fp32": agreement,
        "held_out_ndcg@10": held_out,
        "simulated_kendall_tau_mean_by_activation_scale": simulated,
    }


def per_query_tau(reference: np.ndarray, other: np.ndarray) -> list[float]:
    """Kendall tau of each query's block of ``CANDIDATES`` scores."""
    return [
        kendall_tau(reference[start : start + CANDIDATES], other[start : start + CANDIDATES])
        for start in range(0, len(reference), CANDIDATES)
    ]


def per_query_overlap(reference: np.ndarray, other: np.ndarray) -> list[float]:
    """Share of each query's ``TOP`` best candidates by ``reference`` that ``other`` also puts there."""
    return [
        top_overlap(reference[start : start + CANDIDATES], other[start : start + CANDIDATES])
        for start in range(0, len(reference), CANDIDATES)
    ]


def top_overlap(reference: np.ndarray, other: np.ndarray, top: int = TOP) -> float:
    """Share of the ``top`` best of ``reference`` that are among the ``top`` best of ``other``."""
    best = np.argsort(-reference)[:top], np.argsort(-other)[:top]
    return len(set(best[0].tolist()) & set(best[1].tolist())) / len(best[0]) if len(best[0]) else 1.0


def train_relevance_model(
    folder: Path, groups: list[tuple[str, list[str]]], seed: int = 0, epochs: int = TRAIN_EPOCHS
) -> list[float]:
    """Fine-tune the cross-encoder in ``folder`` on (text, [relevant passage, *others]) groups; save it.

    A listwise loss (softmax cross-entropy over each group) over ``epochs``, AdamW with a short
    warm-up and linear decay; the new head and the pooler learn faster than the body. Returns
    the mean training loss of each epoch.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = AutoModelForSequenceClassification.from_pretrained(folder).train()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    fast = ("classifier", "bert.pooler")
    parameters = [
        {"params": [p for n, p in model.named_parameters() if not n.startswith(fast)], "peak": 5e-5},
        {"params": [p for n, p in model.named_parameters() if n.startswith(fast)], "peak": 2e-3},
    ]
    optimizer = torch.optim.AdamW(parameters, lr=5e-5, weight_decay=0.01)
    steps = epochs * -(-len(groups) // GROUPS_PER_STEP)
    step, losses = 0, []
    for _ in range(epochs):
        order, total = rng.permutation(len(groups)), 0.0
        for start in range(0, len(order), GROUPS_PER_STEP):
            batch = [groups[i] for i in order[start : start + GROUPS_PER_STEP]]
            encoded = tokenizer(
                [text for text, passages in batch for _ in passages],
                [passage for _, passages in batch for passage in passages],
                truncation=True,
                max_length=192,
                padding=True,
                return_tensors="pt",
            )
            logits = model(**encoded).logits.view(len(batch), -1)
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
            for group in optimizer.param_groups:
                group["lr"] = group["peak"] * min(1.0, (step + 1) / 10) * (1 - step / steps)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            total += loss.item() * len(batch)
        losses.append(round(total / len(groups), 4))
    model.eval().save_pretrained(folder)
    return losses


def simulated_int8(folder: Path, pairs: list, scale: str) -> np.ndarray:
    """Scores with int8 simulated in float32: weights per output channel, activations per ``scale``.

    ``scale="tensor"`` is torch's plain dynamic int8 (one asymmetric 8-bit range per linear
    call, outlier tokens included); ``scale="token"`` gives each token its own range.
    The same linears as on the int8 path stay exact (those that read one row per pair).
    """
    reranker = CrossEncoderReranker(str(folder), device="cpu", dtype="fp32")
    dims = {"tensor": None, "token": (-1,)}[scale]
    exact = per_pair_linears(reranker.model)
    for name, module in reranker.model.named_modules():
        if isinstance(module, torch.nn.Linear) and name not in exact:
            step = module.weight.abs().amax(1, keepdim=True) / 127
            module.weight.data = (module.weight / step).round() * step
            module.register_forward_pre_hook(lambda _, args: (_fake_quantize(args[0], dims),))
    return reranker.predict(pairs)


def _fake_quantize(x: torch.Tensor, dims: tuple[int, ...] | None) -> torch.Tensor:
    """Round ``x`` to 256 levels over its range (its whole range, or along ``dims``), as float."""
    low = (x.amin() if dims is None else x.amin(dims, keepdim=True)).clamp(max=0)
    high = (x.amax() if dims is None else x.amax(dims, keepdim=True)).clamp(min=0)
    step = ((high - low) / 255).clamp(min=1e-8)
    zero = (-low / step).round()
    return ((x / step + zero).round().clamp(0, 255) - zero) * step


def int8_quality(seed: int = 0) -> dict:
    """Both quality guards on real weights."""
    with tempfile.TemporaryDirectory(prefix="vecrank-int8-") as folder:
        return {
            "minilm_bi_demo": demo_ndcg(),
            "minilm_cross_encoder": minilm_cross_encoder_agreement(Path(folder) / "minilm-ce", seed),
        }
