"""The throughput benchmark: vecrank against sentence-transformers on the same models and pairs.

``python benchmarks/throughput.py --models 17m,minilm-l6 --pairs 1000`` (or ``vecrank bench``)
prints a table and writes JSON to ``--out`` or into the current folder.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer

from ..cascade import Staged, order, parse_stages, run_cascade
from ..core import CrossEncoderReranker
from ..core.loading import pick_device, pick_dtype
from ..core.varlen import flash_attn_available
from ..errors import ConfigError, VecrankError
from . import measure
from .environment import machine_info, versions, write_results
from .models import bert_tokenizer_path, build_model, count_parameters
from .options import parse_args
from .pairs import PairSet, make_pairs, token_length_stats
from .shapes import ETTIN_SHAPES, MODEL_NAMES


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write (merge into) the JSON results; returns an exit status."""
    args = parse_args(argv)
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    try:
        stages = {} if args.jina else {name: shapes_of(name) for name in names}
    except ConfigError as error:
        print(f"vecrank bench: {error}", file=sys.stderr)
        return 2
    try:
        device = pick_device(args.device)
        dtype = pick_dtype(args.dtype, device)
    except VecrankError as error:
        print(f"vecrank bench: {error}", file=sys.stderr)
        return 2
    command = shlex.join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)])
    if args.llm:
        return run_llm_mode(args, device, dtype, command)
    tokenizer = AutoTokenizer.from_pretrained(bert_tokenizer_path())
    if args.jina:
        from .jina import run_jina

        return run_jina(names, tokenizer, args, command)
    if args.int8 or args.long or args.peers:
        if device.type != "cpu":
            print(
                "vecrank bench: --int8, --long and --peers measure the CPU; pass --device cpu",
                file=sys.stderr,
            )
            return 2
        if args.peers:
            from .peer_run import run_peers

            return run_peers(names, tokenizer, args, command, write_results)
        return run_cpu_mode(names, tokenizer, args, command)
    pair_set = make_pairs(tokenizer, args.pairs, max_length=args.max_length, seed=args.seed)
    print(
        f"{len(pair_set.pairs)} pairs on {device} ({str(dtype).removeprefix('torch.')}); {command}",
        flush=True,
    )
    run = {
        "command": command,
        "pairs": token_length_stats(tokenizer, pair_set.pairs, args.max_length),
        "tokenization_pairs_per_s": measure.tokenization_rates(tokenizer, pair_set.pairs, args.max_length),
    }
    report = {
        "machine": machine_info(device),
        "versions": versions(["sentence-transformers"]),
        "device": device.type,
        "dtype": str(dtype).removeprefix("torch."),
        "precision": args.precision,
        "models": {},
    }
    print(HEADER, flush=True)
    path = Path(args.out or f"throughput_{device.type}.json")
    with models_folder(args.models_dir) as folder:
        for name in names:
            result = benchmark_model(stages[name], folder, pair_set, args, device, dtype)
            report["models"][name] = {**result, "run": run, "machine": report["machine"]}
            print(format_row(name, result), flush=True)
            write_results(path, report)  # after each model: an interrupted run keeps what it measured
    print(f"tokenisation alone (pairs/s): {run['tokenization_pairs_per_s']}")
    print(f"wrote {path}")
    return 0


@contextmanager
def models_folder(kept: str | None) -> Iterator[Path]:
    """Where the benchmark models are built: ``kept`` (reused by later runs), else a temp folder."""
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        yield Path(kept)
        return
    with tempfile.TemporaryDirectory(prefix="vecrank-bench-") as folder:
        yield Path(folder)


def run_cpu_mode(names: list[str], tokenizer, args: argparse.Namespace, command: str) -> int:
    """``--int8`` or ``--long``: run that benchmark per model, print it, write its JSON."""
    from .int8 import int8_quality, int8_throughput
    from .long import long_documents

    allowed = ETTIN_SHAPES if args.long else MODEL_NAMES
    unknown = [name for name in names if name not in allowed]
    if unknown:
        mode = "--long" if args.long else "--int8"
        print(f"vecrank bench: {mode} takes models {', '.join(allowed)}; not {unknown[0]!r}", file=sys.stderr)
        return 2
    cpu = torch.device("cpu")
    report = {
        "command": command,
        "machine": machine_info(cpu),
        "versions": versions(["sentence-transformers"]),
    }
    report.update(device="cpu", models={})
    if args.long:
        lengths = [int(length) for length in args.long.split(",")]
    else:
        pair_set = make_pairs(tokenizer, args.pairs, max_length=args.max_length, seed=args.seed)
        report["pairs"] = token_length_stats(tokenizer, pair_set.pairs, args.max_length)
    with tempfile.TemporaryDirectory(prefix="vecrank-bench-") as folder:
        for name in names:
            if args.long:
                result = long_documents(name, Path(folder) / name, lengths, tokenizer, args)
            else:
                result = int8_throughput(name, Path(folder) / name, pair_set, args)
                rates = result["pairs_per_s"]
                print(
                    f"{name:<10} ST fp32 {rates['st']:>7.1f}/s  vecrank fp32 {rates['vecrank_fp32']:>7.1f}/s "
                    f"({result['ratio_fp32_vs_st_fp32']:.2f}x)  vecrank int8 {rates['vecrank_int8']:>7.1f}/s "
                    f"({result['ratio_int8_vs_st_fp32']:.2f}x)  int8-per-token "
                    f"{rates['vecrank_int8_per_token']:>7.1f}/s "
                    f"({result['ratio_int8-per-token_vs_st_fp32']:.2f}x)",
                    flush=True,
                )
            report["models"][name] = {**result, "machine": report["machine"], "command": command}
    default = "long_documents_cpu.json" if args.long else "int8_cpu.json"
    path = Path(args.out or default)
    write_results(path, report)
    if args.int8:  # the throughput is written first: the quality guards take a while
        report["quality"] = int8_quality(args.seed)
        print(f"int8 quality on real MiniLM weights: {json.dumps(report['quality'])}")
        write_results(path, report)
    print(f"wrote {path}")
    return 0


def run_llm_mode(args: argparse.Namespace, device: torch.device, dtype: torch.dtype, command: str) -> int:
    """``--llm``: the yes/no reranker benchmark on one shape, printed and written to its JSON."""
    from .llm import format_row as llm_row
    from .llm import llm_throughput

    report = {
        "command": command,
        "machine": machine_info(device),
        "versions": versions(["sentence-transformers"]),
        "device": device.type,
        "dtype": str(dtype).removeprefix("torch."),
        "models": {},
    }
    with tempfile.TemporaryDirectory(prefix="vecrank-bench-") as folder:
        result = llm_throughput(args.llm, Path(folder), device, dtype, args)
    report["models"][args.llm] = {**result, "machine": report["machine"], "command": command}
    print(llm_row(args.llm, result), flush=True)
    path = Path(args.out or f"benchmarks/results/llm_reranker_{device.type}.json")
    write_results(path, report)
    print(f"wrote {path}")
    return 0


def shapes_of(name: str) -> list[tuple[str, int | None]]:
    """``17m`` -> [("17m", None)]; a cascade ``17m@20>150m`` -> [("17m", 20), ("150m", None)]."""
    stages = parse_stages(name)
    unknown = [shape for shape, _ in stages if shape not in MODEL_NAMES]
    if unknown:
        raise ConfigError(f"unknown model {unknown[0]!r} in {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return stages


def benchmark_model(
    stages: list[tuple[str, int | None]],
    folder: Path,
    pair_set: PairSet,
    args: argparse.Namespace,
    device: torch.device,
    dtype: torch.dtype,
) -> dict:
    """Throughput, latency, memory and score agreement of both engines on one model or a cascade."""
    loaded = [
        load_engines(built_model(shape, folder, args.seed, device), args, device, dtype)
        for shape, _ in stages
    ]
    sizes = [int(size) for size in args.st_batch_sizes.split(",")]
    engines = engine_calls(stages, loaded, pair_set.candidates, sizes[0])
    stopwatch = measure.Stopwatch(args.quiet_wait)
    runs, scores = time_engines(engines, pair_set.pairs, args.repeats, stopwatch, device)
    latency = query_latencies(engines, pair_set, args.latency_queries, stopwatch)
    st, ours = loaded[-1]
    st_rates = {sizes[0]: _median_rate(runs["st"], len(pair_set.pairs))}
    if len(stages) == 1:
        st_rates.update(st_batch_size_rates(st, pair_set.pairs, sizes[1:], args.repeats, stopwatch))
    tolerance = 1e-4 if ours.loaded.dtype_name == "float32" else 5e-2
    result = compare_engines(runs, latency, st_rates, len(pair_set.pairs))
    result["vecrank"].update(
        engine=" > ".join(repr(o) for _, o in loaded),
        attention=ours.loaded.attention,
        batch_tokens=ours.batch_tokens,
        cpu_workers=ours.cpu_workers,
    )
    result["sentence_transformers"]["attention"] = st[0].model.config._attn_implementation
    if len(stages) > 1:
        result["stages"] = [
            {"model": shape, "keep": keep, "parameters": count_parameters(o.model)[0]}
            for (shape, keep), (_, o) in zip(stages, loaded)
        ]
        result["agreement"] = cascade_agreement(scores["vecrank"], scores["st"], tolerance)
        return result
    result.update(
        model_figures(ours, pair_set.pairs, args.max_length, result["vecrank"]["pairs_per_s"], device)
    )
    result["agreement"] = measure.score_agreement(scores["vecrank"], scores["st"], pair_set, tolerance)
    return result


def built_model(shape: str, folder: Path, seed: int, device: torch.device) -> Path:
    """The folder of benchmark model ``shape`` under ``folder``, built on first use."""
    path = folder / f"{shape}-seed{seed}"
    if not (path / "tokenizer_config.json").is_file():  # written last
        build_model(shape, path, seed=seed, device=device)
    return path


def engine_calls(
    stages: list[tuple[str, int | None]], loaded: list, candidates: int, st_batch_size: int
) -> dict[str, Callable[[list], Any]]:
    """One scoring call per engine: ``predict`` for one model, a cascade of them for several."""

    def st_predict(engine):
        return lambda subset: engine.predict(subset, batch_size=st_batch_size, show_progress_bar=False)

    if len(stages) == 1:
        st, ours = loaded[0]
        return {"st": st_predict(st), "vecrank": ours.predict}
    keeps = [keep for _, keep in stages]
    return {
        "st": cascade_call([st_predict(s) for s, _ in loaded], keeps, candidates),
        "vecrank": cascade_call([o.predict for _, o in loaded], keeps, candidates),
    }


def time_engines(
    engines: dict[str, Callable[[list], Any]],
    pairs: list,
    repeats: int,
    stopwatch: measure.Stopwatch,
    device: torch.device,
) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Warm up, then time every engine on all pairs, interleaved ``repeats`` times; (runs, last scores)."""
    for call in engines.values():
        call(pairs[:256])
    runs: dict[str, list[dict]] = {engine: [] for engine in engines}
    scores: dict[str, Any] = {}
    for _ in range(repeats):  # interleaved, so that both engines see the same machine state
        for engine, call in engines.items():
            with measure.peak_memory(device) as memory:
                timing = stopwatch.time(lambda e=engine, c=call: scores.__setitem__(e, c(pairs)))
            runs[engine].append({**asdict(timing), **memory})
    return runs, scores


def st_batch_size_rates(
    st, pairs: list, sizes: list[int], repeats: int, stopwatch: measure.Stopwatch
) -> dict[int, float]:
    """sentence-transformers pairs/s at each further batch size."""
    rates = {}
    for size in sizes:
        call = partial(st.predict, pairs, batch_size=size, show_progress_bar=False)
        rates[size] = _median_rate([asdict(stopwatch.time(call)) for _ in range(repeats)], len(pairs))
    return rates


def query_latencies(
    engines: dict[str, Callable[[list], Any]], pair_set: PairSet, queries: int, stopwatch: measure.Stopwatch
) -> dict[str, list[float]]:
    """Seconds to score one query's candidates, per engine, for the first ``queries`` queries."""
    latency: dict[str, list[float]] = {engine: [] for engine in engines}
    for number in range(min(queries, pair_set.queries)):
        group = pair_set.query_group(number)
        for engine, call in engines.items():
            latency[engine].append(stopwatch.time(lambda c=call, g=group: c(g)).seconds)
    return latency


def compare_engines(runs: dict, latency: dict, st_rates: dict[int, float], pairs: int) -> dict:
    """Each engine's rate, latency and memory, and vecrank's ratio to sentence-transformers."""
    baseline = next(iter(st_rates))
    best = max(st_rates, key=st_rates.get)
    ours_rate = _median_rate(runs["vecrank"], pairs)
    return {
        "vecrank": {
            "pairs_per_s": ours_rate,
            **_summary(runs["vecrank"], pairs),
            "latency_100": measure.percentiles_ms(latency["vecrank"]),
        },
        "sentence_transformers": {
            "pairs_per_s": st_rates[baseline],
            "batch_size": baseline,
            "pairs_per_s_by_batch_size": {str(size): rate for size, rate in st_rates.items()},
            "best_batch_size": best,
            **_summary(runs["st"], pairs),
            "latency_100": measure.percentiles_ms(latency["st"]),
        },
        "ratio": round(ours_rate / st_rates[baseline], 2),
        "ratio_vs_best_st": round(ours_rate / st_rates[best], 2),
    }


def model_figures(ours: CrossEncoderReranker, pairs: list, max_length: int, rate: float, device) -> dict:
    """Parameters, FLOPs per pair, achieved TFLOP/s and (on a known GPU) model FLOP utilisation."""
    total, non_embedding = count_parameters(ours.model)
    lengths = np.array(ours.tokenize(pairs, max_length).lengths)
    flops_per_pair = measure.model_flops(ours.model.config, non_embedding, lengths) / len(pairs)
    figures = {
        "parameters": total,
        "non_embedding_parameters": non_embedding,
        "architecture": ours.model.config.model_type,
        "flops_per_pair": flops_per_pair,
        "achieved_tflops": round(flops_per_pair * rate / 1e12, 4),
    }
    peak = measure.peak_flops(device)
    if peak:
        figures["mfu"] = round(flops_per_pair * rate / peak, 4)
    return figures


def cascade_call(
    predicts: list[Callable[[list], Any]], keeps: list[int | None], candidates: int
) -> Callable[[list], list[list[Staged]]]:
    """Run a cascade over pairs that come in query groups of ``candidates`` (each stage: one call)."""

    def call(subset: list) -> list[list[Staged]]:
        groups = [subset[start : start + candidates] for start in range(0, len(subset), candidates)]
        queries = [group[0][0] for group in groups]
        texts = [[text for _, text in group] for group in groups]
        return run_cascade(queries, texts, list(zip(predicts, keeps)))

    return call


def cascade_agreement(ours: list[list[Staged]], reference: list[list[Staged]], tolerance: float) -> dict:
    """Whether both engines' cascades kept the same hits in the same order, and the largest score gap."""
    same_order = sum(order(a) == order(b) for a, b in zip(ours, reference))
    gaps = [
        abs(a.score - b.score) for x, y in zip(ours, reference) for a, b in zip(x, y) if a.stage == b.stage
    ]
    return {
        "max_abs_diff": max(gaps, default=0.0),
        "same_stages": all(a.stage == b.stage for x, y in zip(ours, reference) for a, b in zip(x, y)),
        "queries_in_same_order": same_order,
        "same_order": same_order == len(ours),
        "tolerance": tolerance,
    }


def load_engines(folder: Path, args: argparse.Namespace, device: torch.device, dtype: torch.dtype):
    """sentence-transformers ``CrossEncoder`` (raw logits; flash-attn 2 on CUDA if importable); vecrank."""
    from sentence_transformers import CrossEncoder

    st_kwargs: dict[str, object] = {"dtype": dtype}
    if device.type == "cuda" and flash_attn_available():
        st_kwargs["attn_implementation"] = "flash_attention_2"
    st = CrossEncoder(
        str(folder),
        device=str(device),
        max_length=args.max_length,
        activation_fn=torch.nn.Identity(),
        model_kwargs=st_kwargs,
    )
    follows_precision = device.type == "cpu" and args.dtype == "auto"
    ours = CrossEncoderReranker(
        str(folder),
        device=str(device),
        dtype=None if follows_precision else dtype,
        precision=args.precision,
        max_length=args.max_length,
        batch_tokens=args.batch_tokens,
        attention=args.attention,
        cpu_workers=args.cpu_workers,
    )
    return st, ours


def _median_rate(runs: list[dict], pairs: int) -> float:
    return round(pairs / float(np.median([run["seconds"] for run in runs])), 1)


def _summary(runs: list[dict], pairs: int) -> dict:
    """Per-run rates, CPU time per pair, other processes' CPU share and the peak memory of the timed runs."""
    return {
        "runs_pairs_per_s": [round(pairs / run["seconds"], 1) for run in runs],
        "cpu_ms_per_pair": round(1000 * float(np.median([run["cpu_seconds"] for run in runs])) / pairs, 2),
        "others_busy_during_runs": [run["others_busy"] for run in runs],
        "attempts": [run["attempts"] for run in runs],
        "peak_memory_mb": round(max(run["peak_mb"] for run in runs), 1),
        "peak_over_start_mb": round(max(run["peak_mb"] - run.get("start_mb", 0.0) for run in runs), 1),
        "memory_scope": runs[0]["scope"],
    }


HEADER = (
    f"{'model':<14} {'vecrank/s':>10} {'ST/s':>8} {'ratio':>6} {'ST best':>12} {'p50/p95 ms vecrank':>19} "
    f"{'p50/p95 ms ST':>15} {'peak MB vr/ST':>15} {'max|diff|':>10} {'order':>6}"
)


def format_row(name: str, result: dict) -> str:
    """One table row."""
    ours, st = result["vecrank"], result["sentence_transformers"]
    best = f"{st['pairs_per_s_by_batch_size'][str(st['best_batch_size'])]:.0f}@{st['best_batch_size']}"
    return (
        f"{name:<14} {ours['pairs_per_s']:>10.1f} {st['pairs_per_s']:>8.1f} {result['ratio']:>5.2f}x "
        f"{best:>12} "
        f"{ours['latency_100']['p50_ms']:>9.0f}/{ours['latency_100']['p95_ms']:<9.0f} "
        f"{st['latency_100']['p50_ms']:>7.0f}/{st['latency_100']['p95_ms']:<7.0f} "
        f"{ours['peak_memory_mb']:>7.0f}/{st['peak_memory_mb']:<7.0f} "
        f"{result['agreement']['max_abs_diff']:>10.1e} "
        f"{'same' if result['agreement']['same_order'] else 'DIFF':>6}"
    )
