"""The one-shot GPU check: parity on the device, then throughput, each stage saved as it ends.

    PYTHONPATH=. python benchmarks/gpu_check.py --out-dir DIR          # one GPU: about 8 minutes
    PYTHONPATH=. python benchmarks/gpu_check.py --out-dir DIR --cpu    # the same on CPU, tiny sizes

Stages, most important first:

1. Parity for each architecture of :mod:`vecrank.testing.tiny_models` (BERT, XLM-RoBERTa,
   DeBERTa-v2, ModernBERT with pairs longer than its sliding window): sentence-transformers
   ``CrossEncoder`` in fp32 against vecrank fp32 padded (within 1e-4, same order), and vecrank
   bf16 packed (varlen) against vecrank fp32 padded (within 5e-2, same order beyond that gap).
   JinaBERT (ALiBi, 6 heads; packed with flash-attn's ``alibi_slopes`` where importable) the same
   way, with vecrank's fp32 padded path on CPU as the reference.
2. Throughput (:mod:`vecrank.bench.run`) on the Ettin 17m, 150m and 1b shapes, merged into
   ``DIR/throughput_<device>.json`` model by model.
3. The Qwen3-Reranker-0.6B shape (:mod:`vecrank.bench.llm`): vecrank bf16 without and with prefix
   reuse against sentence-transformers bf16, 32 candidates a query, merged into
   ``DIR/llm_reranker_<device>.json``.
4. The Weaviate-module load shape on MiniLM-L6 (:mod:`vecrank.bench.weaviate_load`).
5. The cascades ``17m@20>150m`` and ``17m@30>1b``, on the models already built.
6. The other shapes: MiniLM-L6, 32m, 68m, 400m.

Each model is built once, on the device, and reused. ``DIR/check_<device>.json`` is rewritten
after every stage, so a run cut short keeps what it measured. A stage starts only if its
estimated time (from the stages so far) ends within ``--budget-s``; the others are listed as
skipped. A stage that crashes is recorded with its error and the next one runs. Exits 1 when a
parity check failed or a stage crashed. Needs torch, transformers, tokenizers,
sentence-transformers and numpy only (no pydantic, no database clients, no flash-attn); the BERT
tokenizer ships in the package.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import random
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from ..cascade import parse_stages
from ..core import CrossEncoderReranker
from ..core.loading import pick_device, pick_dtype
from ..errors import ConfigError, ModelError, VecrankError
from ..testing.tiny_llm_rerankers import build_tiny_llm_reranker
from ..testing.tiny_models import ARCHITECTURES, MODERNBERT_LOCAL_ATTENTION, build_jinabert, build_tiny_model
from . import options
from .environment import machine_info, versions
from .llm import LLM_SHAPES, llm_config
from .measure import score_agreement
from .models import bert_tokenizer_path, model_config
from .pairs import PairSet, make_pairs
from .run import built_model, load_engines, shapes_of
from .run import main as run_benchmark
from .weaviate_load import DOCUMENTS_PER_REQUEST, weaviate_module_load

WEAVIATE = "weaviate:"  # a stage name prefix: the Weaviate-module load shape on that model
LLM = "llm:"  # a stage name prefix: the yes/no reranker benchmark on that shape of vecrank.bench.llm
GPU_STAGES = (
    "17m",
    "150m",
    "1b",
    f"{LLM}qwen3-reranker-0.6b",
    f"{WEAVIATE}minilm-l6",
    "17m@20>150m",
    "17m@30>1b",
    "minilm-l6",
    "32m",
    "68m",
    "400m",
)
CPU_STAGES = ("tiny", f"{WEAVIATE}tiny", "tiny@10>tiny", f"{LLM}tiny")
# Fits 8 minutes on an H100 with the machine's start and the final write around it.
DEFAULT_BUDGET_S = 420.0
# Expected seconds of a throughput stage on an H100 (build, two loads, timed runs at 3,000 pairs):
# a fixed part, and a part that grows with the parameters each pair goes through.
STAGE_FIXED_S = 8.0
STAGE_S_PER_PARAMETER = 8e-8
# A yes/no reranker stage does 2.5 times that work per parameter: three engines instead of two, on
# pairs of ~260 tokens instead of ~155. The Qwen3-Reranker-0.6B shape (596M parameters with its tied
# embeddings; a 2.4 GB fp32 folder written once and loaded three times) comes to ~130 s.
LLM_STAGE_S_PER_PARAMETER = 2.5 * STAGE_S_PER_PARAMETER
WEAVIATE_CONCURRENT = 8
FP32_TOLERANCE = 1e-4
BF16_TOLERANCE = 5e-2
# A yes/no reranker's score is the difference of two logits after every decoder layer's bf16 residual
# stream: on the tiny Qwen3 folder, sentence-transformers bf16 is 3.3e-2 from its own fp32, vecrank 5.2e-2.
LLM_BF16_TOLERANCE = 1e-1
LLM_PARITY_MAX_LENGTH = 512  # the tiny Qwen3 folder's position table: no parity pair is cut
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
    parser.add_argument(
        "--out-dir", required=True, help="where the JSON files go (the folder that comes back from the GPU)"
    )
    parser.add_argument("--cpu", action="store_true", help="run on CPU with tiny sizes (checks the script)")
    parser.add_argument(
        "--pairs", type=int, default=None, help="pairs per throughput run (GPU 3000, CPU 100)"
    )
    parser.add_argument(
        "--stages",
        default=None,
        help=f"comma-separated throughput stages (GPU: {','.join(GPU_STAGES)}; CPU: {','.join(CPU_STAGES)})",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=DEFAULT_BUDGET_S,
        help="seconds for the whole check: a stage whose estimate ends past it is skipped",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the parity checks and the throughput stages; 0 when every parity check and stage passed."""
    args = parse_args(argv)
    started = time.monotonic()
    try:
        device = pick_device("cpu" if args.cpu else "cuda")
        stages = args.stages.split(",") if args.stages else (CPU_STAGES if args.cpu else GPU_STAGES)
        for name in stages:
            check_stage_name(name)
    except VecrankError as error:
        hint = " (use --cpu to run the check on CPU)" if isinstance(error, ModelError) else ""
        print(f"gpu_check: {error}{hint}", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"check_{device.type}.json"
    report: dict = {
        "command": shlex.join(["gpu_check.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine_info(device),
        "versions": versions(["sentence-transformers", "tokenizers"]),
        "device": device.type,
        "budget_s": args.budget_s,
        "parity": {},
        "stages": {},
    }
    save = functools.partial(_save, path, report, started)
    save()
    with tempfile.TemporaryDirectory(prefix="vecrank-check-") as folder:
        check_parity(report["parity"], Path(folder) / "parity", device, save)
        plan = StagePlan(started + args.budget_s)
        for name in stages:
            report["stages"][name] = run_or_skip(name, plan, device, args, out_dir, Path(folder) / "models")
            print(f"{name}: {json.dumps(report['stages'][name])}", flush=True)
            save()
    report["passed"] = all(result.get("passed") for result in report["parity"].values()) and not any(
        "failed" in row for row in report["stages"].values()
    )
    save()
    print(f"check {'passed' if report['passed'] else 'FAILED'}; {report['seconds']} s; wrote {path}")
    return 0 if report["passed"] else 1


def check_parity(results: dict, folder: Path, device: torch.device, save: Callable[[], None]) -> None:
    """Parity of every architecture into ``results``, saved after each."""
    for architecture in ARCHITECTURES:
        results[architecture] = run_stage(lambda a=architecture: parity(folder, a, device))
        print(_parity_line(architecture, results[architecture]), flush=True)
        save()
    results["jinabert"] = run_stage(lambda: jinabert_parity(folder, device))
    print(_parity_line("jinabert", results["jinabert"]), flush=True)
    save()
    results["qwen3-reranker"] = run_stage(lambda: llm_parity(folder, device))
    print(_parity_line("qwen3-reranker", results["qwen3-reranker"]), flush=True)
    save()


def run_or_skip(
    name: str, plan: StagePlan, device: torch.device, args: argparse.Namespace, out_dir: Path, models: Path
) -> dict:
    """The stage's result, or why it was skipped."""
    if not plan.fits(name):
        return {
            "skipped": f"estimated {plan.estimate(name):.0f} s would end past --budget-s {args.budget_s:.0f}"
        }
    begun = time.monotonic()
    result = run_stage(lambda: throughput_stage(name, device, args, out_dir, models))
    plan.record(name, time.monotonic() - begun)
    return result


def _save(path: Path, report: dict, started: float) -> None:
    """Rewrite the report in one step (a run killed mid-write leaves the previous one)."""
    report["seconds"] = round(time.monotonic() - started, 1)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(partial, path)


def run_stage(stage: Callable[[], dict]) -> dict:
    """The stage's result, or its error; the memory it held is given back either way."""
    try:
        return stage()
    except Exception as error:  # one stage's failure must not lose the next ones
        return {"failed": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-2000:]}
    finally:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class StagePlan:
    """Whether a stage fits the budget: its prior cost, scaled by how the stages so far went."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expected_so_far = 0.0
        self.seconds_so_far = 0.0

    def estimate(self, name: str) -> float:
        """Expected seconds of stage ``name`` on this machine."""
        scale = self.seconds_so_far / self.expected_so_far if self.expected_so_far else 1.0
        return scale * prior_seconds(name)

    def fits(self, name: str, now: float | None = None) -> bool:
        """Whether stage ``name``, started ``now``, is expected to end before the deadline."""
        return (time.monotonic() if now is None else now) + self.estimate(name) <= self.deadline

    def record(self, name: str, seconds: float) -> None:
        """Stage ``name`` took ``seconds``."""
        self.expected_so_far += prior_seconds(name)
        self.seconds_so_far += seconds


def check_stage_name(name: str) -> None:
    """A ``ConfigError`` for a stage naming a shape the benchmarks do not have."""
    if name.startswith(LLM):
        if name.removeprefix(LLM) not in LLM_SHAPES:
            shapes = ", ".join(LLM_SHAPES)
            raise ConfigError(f"unknown yes/no reranker shape in {name!r}; choose from {shapes}")
        return
    shapes_of(name.removeprefix(WEAVIATE))


def prior_seconds(name: str) -> float:
    """Seconds a stage is expected to take on an H100, from the parameters its pairs go through."""
    if name.startswith(LLM):
        return STAGE_FIXED_S + LLM_STAGE_S_PER_PARAMETER * parameter_count(name)
    shapes = [shape for shape, _ in parse_stages(name.removeprefix(WEAVIATE))]
    return STAGE_FIXED_S + STAGE_S_PER_PARAMETER * sum(map(parameter_count, shapes))


@functools.cache
def parameter_count(shape: str) -> int:
    """Parameters of a benchmark shape (``llm:`` + a yes/no reranker shape, tied embeddings counted once),
    counted on the meta device (nothing is allocated)."""
    with torch.device("meta"):
        if shape.startswith(LLM):
            model = AutoModelForCausalLM.from_config(llm_config(shape.removeprefix(LLM)))
        else:
            model = AutoModelForSequenceClassification.from_config(model_config(shape))
    return sum(parameter.numel() for parameter in model.parameters())


def throughput_stage(
    name: str, device: torch.device, args: argparse.Namespace, out_dir: Path, models: Path
) -> dict:
    """One stage: the throughput benchmark on a model or cascade, the Weaviate-module load shape, or the
    yes/no reranker benchmark."""
    pairs = args.pairs or (100 if args.cpu else 3000)
    if name.startswith(LLM):
        return llm_stage(name.removeprefix(LLM), pairs, device, args, out_dir)
    sizes = ["--max-length", "128", "--repeats", "1", "--latency-queries", "1"] if args.cpu else []
    common = ["--device", device.type, "--models-dir", str(models), *sizes]
    if name.startswith(WEAVIATE):
        return weaviate_stage(name.removeprefix(WEAVIATE), pairs, options.parse_args(common), device, models)
    path = out_dir / f"throughput_{device.type}.json"
    status = run_benchmark([*common, "--models", name, "--pairs", str(pairs), "--out", str(path)])
    if status != 0:
        return {"failed": f"the benchmark exited with status {status}"}
    row = json.loads(path.read_text())["models"][name]
    ours, st = row["vecrank"], row["sentence_transformers"]
    return {
        "vecrank_pairs_per_s": ours["pairs_per_s"],
        "sentence_transformers_pairs_per_s": st["pairs_per_s"],
        "ratio": row["ratio"],
        "attention": ours["attention"],
        "mfu": row.get("mfu"),
        "peak_over_start_mb": {"vecrank": ours["peak_over_start_mb"], "st": st["peak_over_start_mb"]},
        "max_abs_diff": row["agreement"]["max_abs_diff"],
        "same_order": row["agreement"]["same_order"],
    }


def llm_stage(shape: str, pairs: int, device: torch.device, args: argparse.Namespace, out_dir: Path) -> dict:
    """``vecrank bench --llm shape`` on the device (bf16 on CUDA, both engines), its row in the report."""
    path = out_dir / f"llm_reranker_{device.type}.json"
    repeats = ["--repeats", "1"] if args.cpu else []
    command = ["--llm", shape, "--device", device.type, "--pairs", str(pairs), *repeats, "--out", str(path)]
    status = run_benchmark(command)
    if status != 0:
        return {"failed": f"the benchmark exited with status {status}"}
    report = json.loads(path.read_text())
    row = report["models"][shape]
    return {
        "dtype": report["dtype"],
        "engine": row["engine"],
        "pairs": row["pairs"],
        "candidates_per_query": row["candidates_per_query"],
        "median_tokens_per_pair": row["median_tokens_per_pair"],
        "pairs_per_s": row["pairs_per_s"],
        "ratio": row["ratio_vs_st"],
        "ratio_prefix_reuse": row["ratio_prefix_reuse_vs_st"],
        "peak_over_start_mb": row["peak_over_start_mb"],
        "max_abs_diff": row["max_abs_diff_vs_st"],
    }


def parity_pairs(count: int = 48, seed: int = 0) -> list[tuple[str, str]]:
    """Queries of 2-10 words, documents of 0-110 words (most longer than ModernBERT's window), edge cases."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        query = " ".join(rng.choices(_WORDS, k=rng.randint(2, 10)))
        pairs.append((query, " ".join(rng.choices(_WORDS, k=rng.randint(0, 110)))))
    pairs += [("", "an empty query"), ("schlüssel", "Straße, naïve, 中文 文本"), ("river", "river " * 200)]
    return pairs


def sentence_transformers_scores(
    folder: Path, device: torch.device, max_length: int, pairs: list[tuple[str, str]]
) -> np.ndarray:
    """The raw fp32 scores of sentence-transformers' ``CrossEncoder`` on ``folder``: the parity reference."""
    from sentence_transformers import CrossEncoder

    st = CrossEncoder(
        str(folder),
        device=str(device),
        max_length=max_length,
        activation_fn=torch.nn.Identity(),
        model_kwargs={"dtype": torch.float32},
    )
    return np.asarray(st.predict(pairs, batch_size=16, show_progress_bar=False), dtype=np.float32)


def parity(root: Path, architecture: str, device: torch.device) -> dict:
    """sentence-transformers fp32, vecrank fp32 padded and bf16 packed on a tiny model built in ``root``."""
    folder = build_tiny_model(architecture, root / architecture, max_position_embeddings=PARITY_MAX_LENGTH)
    pairs = parity_pairs()
    reference = sentence_transformers_scores(folder, device, PARITY_MAX_LENGTH, pairs)
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


def llm_parity(root: Path, device: torch.device) -> dict:
    """A tiny Qwen3-Reranker-layout yes/no reranker: sentence-transformers fp32 against vecrank fp32, and
    vecrank bf16 (flash-attn's causal varlen kernel where importable) against fp32. No pair is cut."""
    from ..plugins.qwen3_template import Qwen3RerankerTemplate  # the template alone: no pluggy

    folder = build_tiny_llm_reranker("qwen3", root / "qwen3-reranker")
    pairs = parity_pairs()
    reference = sentence_transformers_scores(folder, device, LLM_PARITY_MAX_LENGTH, pairs)
    engines = {
        dtype: CrossEncoderReranker(
            str(folder), device=str(device), dtype=dtype, prompt_template=Qwen3RerankerTemplate()
        )
        for dtype in (torch.float32, torch.bfloat16)
    }
    fp32 = engines[torch.float32].predict(pairs, batch_tokens=1024)
    bf16 = engines[torch.bfloat16].predict(pairs, batch_tokens=1024)
    group = PairSet(pairs, 1, len(pairs))
    fp32_vs_st = score_agreement(fp32, reference, group, FP32_TOLERANCE)
    bf16_vs_fp32 = score_agreement(bf16, fp32, group, LLM_BF16_TOLERANCE)
    return {
        "attention": {
            "fp32_padded": engines[torch.float32].loaded.attention,
            "bf16_packed": engines[torch.bfloat16].loaded.attention,
        },
        "pairs": len(pairs),
        "longest_pair_tokens": int(max(engines[torch.float32].tokenize(pairs).lengths)),
        "fp32_padded_vs_sentence_transformers": fp32_vs_st,
        "bf16_packed_vs_fp32_padded": bf16_vs_fp32,
        "passed": _passed(fp32_vs_st, bf16_vs_fp32, LLM_BF16_TOLERANCE),
    }


def jinabert_parity(root: Path, device: torch.device) -> dict:
    """JinaBERT (6 heads, ALiBi): vecrank fp32 padded on CPU, on the device, and bf16 packed on the device.

    sentence-transformers could load it only with the hub's code; the padded fp32 path on CPU is the
    reference (the tests check it against the architecture written out plainly).
    """
    folder = build_jinabert(root / "jinabert", heads=6, hidden=48, max_position_embeddings=PARITY_MAX_LENGTH)
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


def _passed(fp32: dict, bf16: dict, bf16_tolerance: float = BF16_TOLERANCE) -> bool:
    """Both agreements within their tolerance and in the same order."""
    return bool(
        fp32["max_abs_diff"] <= FP32_TOLERANCE
        and fp32["same_order"]
        and bf16["max_abs_diff"] <= bf16_tolerance
        and bf16["same_order"]
    )


def _engine(folder: Path, device: torch.device, dtype: torch.dtype, attention: str) -> CrossEncoderReranker:
    return CrossEncoderReranker(
        str(folder), device=str(device), dtype=dtype, attention=attention, max_length=PARITY_MAX_LENGTH
    )


def weaviate_stage(
    shape: str, pairs: int, args: argparse.Namespace, device: torch.device, models: Path
) -> dict:
    """Requests of 32 documents on ``shape``: see :mod:`vecrank.bench.weaviate_load`."""
    dtype = pick_dtype(args.dtype, device)
    engines = load_engines(built_model(shape, models, args.seed, device), args, device, dtype)
    requests = max(2, pairs // DOCUMENTS_PER_REQUEST)
    pair_set = make_pairs(
        AutoTokenizer.from_pretrained(bert_tokenizer_path()),
        requests * DOCUMENTS_PER_REQUEST,
        candidates=DOCUMENTS_PER_REQUEST,
        max_length=args.max_length,
    )
    return weaviate_module_load(engines, pair_set, WEAVIATE_CONCURRENT, args)


def _parity_line(architecture: str, result: dict) -> str:
    if "failed" in result:
        return f"{architecture:<12} FAILED: {result['failed']}"
    fp32, bf16 = result["fp32_padded_vs_sentence_transformers"], result["bf16_packed_vs_fp32_padded"]
    return (
        f"{architecture:<12} fp32 padded vs ST {fp32['max_abs_diff']:.1e} "
        f"({'same order' if fp32['same_order'] else 'ORDER DIFFERS'}); "
        f"bf16 {result['attention']['bf16_packed']} vs fp32 {bf16['max_abs_diff']:.1e} "
        f"({'same order' if bf16['same_order'] else 'ORDER DIFFERS'}): "
        f"{'ok' if result['passed'] else 'FAILED'}"
    )
