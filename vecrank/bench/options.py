"""``vecrank bench`` options (no torch: ``--help`` answers at once)."""

from __future__ import annotations

import argparse

from .shapes import JINA_SHAPES, LLM_SHAPE_NAMES, MODEL_NAMES

DEFAULT_MODELS = "minilm-l6,17m,32m"
JINA_DEFAULT = "jina-turbo,jina-tiny"

DESCRIPTION = (
    "Throughput of vecrank against sentence-transformers CrossEncoder on random-weight models in the "
    "exact shapes of the Ettin rerankers and MiniLM-L6, same pairs, same run. Prints one row per model "
    "and writes JSON to --out, or to a file in the current folder that it names."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="vecrank bench", description=DESCRIPTION, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--models",
        default=None,
        help=f"comma-separated: {', '.join(MODEL_NAMES)}, or a cascade such as '17m@20>150m' "
        "(17m scores each query's 100 candidates, 150m orders its best 20); default minilm-l6,17m,32m. "
        f"With --jina: {', '.join(JINA_SHAPES)}; default {JINA_DEFAULT}",
    )
    parser.add_argument("--pairs", type=int, default=1000, help="pairs per throughput run (queries of 100)")
    parser.add_argument("--max-length", type=int, default=512, help="tokens per pair")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA, fp32 on CPU), fp32, bf16, fp16")
    parser.add_argument(
        "--precision",
        choices=["exact", "fast"],
        default="exact",
        help="vecrank's CPU tier with --dtype auto: exact (fp32) or fast (this CPU's fastest tier that "
        "ranks as fp32 does); sentence-transformers stays fp32",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per engine, interleaved; median kept"
    )
    parser.add_argument(
        "--latency-queries", type=int, default=5, help="100-candidate queries timed one at a time"
    )
    parser.add_argument(
        "--st-batch-sizes", default="32", help="sentence-transformers batch sizes; the first is the baseline"
    )
    parser.add_argument(
        "--batch-tokens", type=int, default=None, help="vecrank token budget (None: the engine's)"
    )
    parser.add_argument("--attention", default="auto", help="vecrank attention: auto, varlen, sdpa, eager")
    parser.add_argument(
        "--cpu-workers", type=int, default=None, help="vecrank CPU batch workers (None: one per core)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="on a shared machine: seconds to wait before each timed call for other processes to leave "
        "the CPUs; a call they disturb (over 25%% of the CPUs) is repeated, up to 3 times",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the pairs and the random weights")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="CPU: time sentence-transformers fp32 and vecrank fp32, int8, int8-per-token interleaved, then "
        "check int8 quality on real MiniLM weights (writes int8_cpu.json)",
    )
    parser.add_argument(
        "--peers",
        default=None,
        metavar="RUNTIMES",
        help="CPU: vecrank's tiers beside peer runtimes (onnxruntime,openvino, with NNCF's int8; pip install "
        "'vecrank[bench-peers]') and sentence-transformers fp32 (writes benchmarks/results/peers_cpu.json)",
    )
    parser.add_argument(
        "--long",
        default=None,
        metavar="LENGTHS",
        help="CPU: long-document pairs of these token lengths, e.g. 1024,2048,4096,8192 "
        "(writes long_documents_cpu.json)",
    )
    parser.add_argument(
        "--long-tokens", type=int, default=16384, help="with --long: tokens per length (at least 2 pairs)"
    )
    parser.add_argument(
        "--llm",
        default=None,
        choices=LLM_SHAPE_NAMES,
        help="a yes/no reranker shape: 32 candidates a query, ~150-token documents, vecrank with and without "
        "prefix reuse against sentence-transformers, --pairs pairs (writes "
        "benchmarks/results/llm_reranker_<device>.json)",
    )
    parser.add_argument(
        "--models-dir",
        default=None,
        help="keep the built models here and reuse them in later runs (None: a temp folder per run)",
    )
    parser.add_argument(
        "--jina",
        action="store_true",
        help="CPU: JinaBERT shapes, vecrank packed fp32 and int8 against the padded reference on NQ-like "
        "and --jina-long-token pairs (writes jina_cpu.json)",
    )
    parser.add_argument("--jina-long", type=int, default=4096, help="with --jina: tokens of the long pairs")
    parser.add_argument(
        "--out",
        default=None,
        help="JSON path (None: throughput_<device>.json, int8_cpu.json, long_documents_cpu.json or "
        "jina_cpu.json here); an existing file on the same device keeps its other models' results",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="instead: the one-shot device check, parity on every architecture then throughput on every "
        "shape (writes check_<device>.json and throughput_<device>.json here, or in --out-dir; "
        "`vecrank bench --check --help` lists its options)",
    )
    parser.add_argument("--cpu", action="store_true", help="with --check: run it on CPU with tiny sizes")
    args = parser.parse_args(argv)
    if args.cpu and not args.check:
        parser.error("--cpu goes with --check (the benchmark itself takes --device cpu)")
    args.models = args.models or (JINA_DEFAULT if args.jina else DEFAULT_MODELS)
    return args
