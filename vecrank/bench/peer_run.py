"""``vecrank bench --peers``: vecrank's CPU tiers and peer runtimes side by side, in one run.

Per shape: sentence-transformers fp32 (the baseline) and bf16, vecrank at fp32, bfloat16, int8,
int8-per-token and the tier ``precision="fast"`` picks here, and each peer of
:mod:`vecrank.bench.peers`, timed interleaved. Each gets pairs/s, its ratio to
sentence-transformers fp32 and to vecrank's fastest tier, and its agreement with
sentence-transformers fp32: max |diff|, and on real weights (the ``minilm-l6`` shape is the real
all-MiniLM-L6-v2 body) the mean per-query top-10 overlap and Kendall tau. NNCF's
post-training quantisation calibrates on ``CALIBRATION_PAIRS`` pairs drawn with the next seed,
none of them timed. Each shape ends with where the time goes (:mod:`vecrank.bench.breakdown`)
for vecrank's fastest tier and the fastest peer.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..core import CrossEncoderReranker, cpu
from . import measure
from .breakdown import CATEGORIES, peer_breakdown, vecrank_breakdown
from .environment import machine_info, versions
from .int8 import kendall_tau, top_overlap
from .models import build_minilm_cross_encoder, build_model
from .pairs import PairSet, make_pairs, token_length_stats
from .peers import PEER_PRECISIONS, RUNTIMES, Peer, build_peers, parse_peers
from .shapes import MODEL_NAMES

VECRANK_TIERS = (cpu.FLOAT32, cpu.BFLOAT16, cpu.INT8, cpu.INT8_PER_TOKEN)
REAL_WEIGHTS = "minilm-l6"
QUALITY_KEYS = ("max_abs_diff", "top10_overlap", "kendall_tau")
CALIBRATION_PAIRS = 300
PRECISION_CLASSES = {
    "st-fp32": "exact",
    "st-bf16": "bf16",
    **{
        f"vecrank-{tier}": "exact" if tier == cpu.FLOAT32 else "bf16" if tier == cpu.BFLOAT16 else "int8"
        for tier in VECRANK_TIERS
    },
    **PEER_PRECISIONS,
}


def peers_throughput(
    name: str,
    folder: Path,
    pair_set: PairSet,
    args: argparse.Namespace,
    runtimes: list[str],
    calibration: PairSet,
) -> dict:
    """Pairs/s and agreement of sentence-transformers fp32, vecrank's tiers and the peers on one shape."""
    import torch
    from sentence_transformers import CrossEncoder
    from torch.nn import Identity

    model = folder / "model"
    if name == REAL_WEIGHTS:
        build_minilm_cross_encoder(model, seed=args.seed)
    else:
        build_model(name, model, seed=args.seed)
    batch_size = int(args.st_batch_sizes.split(",")[0])
    calls, built = {}, {}
    for engine, dtype in (("st-fp32", torch.float32), ("st-bf16", torch.bfloat16)):
        st = CrossEncoder(
            str(model),
            device="cpu",
            max_length=args.max_length,
            activation_fn=Identity(),
            model_kwargs={"dtype": dtype},
        )
        calls[engine] = lambda pairs, st=st: st.predict(pairs, batch_size=batch_size, show_progress_bar=False)
        built[engine] = f"sentence-transformers CrossEncoder, {dtype}, batch_size={batch_size}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bf16 where it is emulated: measured all the same
        for tier in VECRANK_TIERS:
            reranker = CrossEncoderReranker(
                str(model), device="cpu", dtype=tier, max_length=args.max_length, cpu_workers=args.cpu_workers
            )
            calls[f"vecrank-{tier}"], built[f"vecrank-{tier}"] = reranker.predict, repr(reranker)
    peers, failed = build_peers(
        runtimes, model, folder / "peers", args.max_length, os.cpu_count(), calibration.pairs
    )
    for peer in peers:
        calls[peer.name], built[peer.name] = peer.predict, peer.built
    pairs = pair_set.pairs
    for call in calls.values():  # warm-up
        call(pairs[:256])
    stopwatch = measure.Stopwatch(args.quiet_wait)
    seconds: dict[str, list[float]] = {engine: [] for engine in calls}
    scores: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):  # interleaved: every engine sees the same machine state
        for engine, call in calls.items():
            timing = stopwatch.time(lambda e=engine, c=call: scores.__setitem__(e, np.asarray(c(pairs))))
            seconds[engine].append(asdict(timing)["seconds"])
    rates = {engine: round(len(pairs) / float(np.median(times)), 1) for engine, times in seconds.items()}
    best_tier = max((e for e in rates if e.startswith("vecrank-")), key=rates.get)
    fast = f"vecrank-{cpu.fast_tier(cpu.detect())}"
    engines = {
        engine: {
            "pairs_per_s": rates[engine],
            "ratio_to_st_fp32": round(rates[engine] / rates["st-fp32"], 2),
            "ratio_to_vecrank_best": round(rates[engine] / rates[best_tier], 2),
            "precision_class": PRECISION_CLASSES[engine],
            "built": built[engine],
            **agreement(scores[engine], scores["st-fp32"], pair_set, real_weights=name == REAL_WEIGHTS),
        }
        for engine in calls
    }
    return {
        "weights": "real all-MiniLM-L6-v2 body, seeded head" if name == REAL_WEIGHTS else "random",
        "engines": engines,
        "vecrank_best_tier": best_tier,
        "precision_fast_picks": fast,
        "peers_not_run": failed,
        "time_breakdown": time_breakdown(model, best_tier, peers, rates, pairs, args.max_length),
    }


def time_breakdown(
    model: Path, best_tier: str, peers: list[Peer], rates: dict[str, float], pairs: list, max_length: int
) -> dict:
    """Where the time goes, on one thread, for vecrank's fastest tier and the fastest peer."""
    runs = {
        best_tier: lambda: vecrank_breakdown(model, best_tier.removeprefix("vecrank-"), pairs, max_length)
    }
    if peers:
        best_peer = max(peers, key=lambda peer: rates[peer.name])
        runs[best_peer.name] = lambda: peer_breakdown(best_peer, pairs)
    found = {}
    for engine, run in runs.items():
        try:
            found[engine] = run()
        except Exception as error:  # a profiler that fails is reported; the rates stand
            found[engine] = {"error": f"{type(error).__name__}: {error}"}
    return found


def agreement(scores: np.ndarray, reference: np.ndarray, pair_set: PairSet, *, real_weights: bool) -> dict:
    """Max |diff| against ``reference``; on real weights also per-query top-10 overlap and Kendall tau."""
    found = {"max_abs_diff": round(float(np.abs(scores - reference).max()), 5)}
    if real_weights:
        groups = [
            slice(n * pair_set.candidates, (n + 1) * pair_set.candidates) for n in range(pair_set.queries)
        ]
        found["top10_overlap"] = round(
            float(np.mean([top_overlap(reference[g], scores[g]) for g in groups])), 4
        )
        found["kendall_tau"] = round(
            float(np.mean([kendall_tau(reference[g], scores[g]) for g in groups])), 4
        )
    return found


def run_peers(
    names: list[str],
    tokenizer,
    args: argparse.Namespace,
    command: str,
    write_results: Callable[[Path, dict], None],
) -> int:
    """``--peers``: every shape of ``names`` with vecrank's tiers and the peers; print, write the JSON."""
    import torch

    try:
        runtimes = parse_peers(args.peers)
    except ValueError as error:
        print(f"vecrank bench: {error}", file=sys.stderr)
        return 2
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown:
        print(
            f"vecrank bench: --peers takes models {', '.join(MODEL_NAMES)}; not {unknown[0]!r}",
            file=sys.stderr,
        )
        return 2
    pair_set = make_pairs(tokenizer, args.pairs, max_length=args.max_length, seed=args.seed)
    calibration = make_pairs(tokenizer, CALIBRATION_PAIRS, max_length=args.max_length, seed=args.seed + 1)
    report = {
        "command": command,
        "machine": machine_info(torch.device("cpu")),
        "device": "cpu",
        "cpu_tiers": cpu.describe(cpu.detect()),
        "versions": versions(["sentence-transformers", *RUNTIMES.values(), "nncf"]),
        "ranking_agreement": (
            f"top-10 overlap and Kendall tau on {REAL_WEIGHTS} (real weights) only"
            if REAL_WEIGHTS in names
            else f"not measured: add {REAL_WEIGHTS} (real weights) to --models"
        ),
        "calibration": f"{CALIBRATION_PAIRS} pairs drawn with seed {args.seed + 1}, none of them timed",
        "pairs": token_length_stats(tokenizer, pair_set.pairs, args.max_length),
        "models": {},
    }
    path = Path(args.out or "benchmarks/results/peers_cpu.json")
    with tempfile.TemporaryDirectory(prefix="vecrank-peers-") as folder:
        for name in names:
            result = peers_throughput(name, Path(folder) / name, pair_set, args, runtimes, calibration)
            report["models"][name] = result
            for engine, row in result["engines"].items():
                quality = ", ".join(f"{key} {value}" for key, value in row.items() if key in QUALITY_KEYS)
                print(
                    f"{name:<10} {engine:<24} {row['pairs_per_s']:>8.1f}/s  "
                    f"{row['ratio_to_st_fp32']:>5.2f}x ST fp32  "
                    f"{row['ratio_to_vecrank_best']:>5.2f}x vecrank best  {quality}",
                    flush=True,
                )
            for engine, reason in result["peers_not_run"].items():
                print(f"{name:<10} {engine:<24} not run: {reason}", flush=True)
            for engine, found in result["time_breakdown"].items():
                shares = found.get("error") or ", ".join(
                    f"{category} {found['share'][category]:.0%} ({found['ms'][category]:.0f} ms)"
                    for category in CATEGORIES
                )
                print(f"{name:<10} {engine:<24} one thread: {shares}", flush=True)
            write_results(path, report)
    print(f"wrote {path}")
    return 0
