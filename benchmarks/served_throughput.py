"""Served throughput: pairs/s through ``vecrank serve`` at 1, 8 and 32 concurrent clients vs direct.

Every request is one query with ``--docs-per-request`` passages (a Weaviate server sends chunks of
32), sent with the Weaviate module protocol. The clients run in a separate process so that they do not
share the server's interpreter lock. "Direct" is the same engine scoring all pairs in one ``predict``
call (offline throughput), measured right before each served run so that both see the same load
(medians of ``--repeats`` such pairs, and of their ratios, are reported); one call per request in
turn (a server without micro-batching) is measured ``--repeats`` times too.

    python benchmarks/served_throughput.py --model minilm-l6 --pairs 256 --clients 1,8,32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import httpx
import numpy as np

DEFAULT_OUT = Path(__file__).parent / "results" / "served_throughput_cpu.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        default="minilm-l6",
        help="a benchmark shape (minilm-l6, 17m ... 1b: random weights, built in a temp folder) "
        "or a model folder / alias (default: %(default)s)",
    )
    parser.add_argument("--pairs", type=int, default=256, help="pairs per measurement (default: %(default)s)")
    parser.add_argument(
        "--docs-per-request", type=int, default=8, help="passages per request (default: %(default)s)"
    )
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="paired runs per level; medians are reported")
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--merge-tokens", type=int, default=65_536)
    parser.add_argument("--batch-tokens", type=int, default=None, help="default: the engine's for the device")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def load_reranker(name: str, device: str | None):
    """The engine for ``name``: benchmark shapes are built with random weights into a temp folder."""
    from vecrank.bench.models import MODEL_NAMES, build_model
    from vecrank.core import get_reranker

    if name in MODEL_NAMES:
        name = str(build_model(name, Path(tempfile.mkdtemp(prefix="vecrank-bench-")) / name))
    return get_reranker(name, device=device)


def direct_one_call(reranker, requests: list[tuple[str, list[str]]]) -> float:
    """Seconds of one predict call over every pair: the engine's offline throughput."""
    pairs = [(query, document) for query, documents in requests for document in documents]
    start = time.perf_counter()
    reranker.predict(pairs)
    return time.perf_counter() - start


def measure(reranker, pool, url: str, requests: list[tuple[str, list[str]]], clients: int) -> dict:
    """One paired measurement: direct right before served, so that both see the same machine load."""
    direct_seconds = direct_one_call(reranker, requests)
    calls_before = engine_calls(url)
    run = pool.apply(run_clients, (url, requests, clients))
    run["engine_calls"] = engine_calls(url) - calls_before
    run["direct_seconds"] = direct_seconds
    run["latencies"] = np.array(run["latencies"])
    return run


def direct_per_request(reranker, requests: list[tuple[str, list[str]]]) -> tuple[float, list[np.ndarray]]:
    """Pairs/s of one predict call per request in turn (no micro-batching), and the scores as served."""
    start = time.perf_counter()
    logits = [
        reranker.predict([(query, document) for document in documents]) for query, documents in requests
    ]
    seconds = time.perf_counter() - start
    scores = [1 / (1 + np.exp(-x.astype(np.float64))) for x in logits]
    return sum(len(documents) for _, documents in requests) / seconds, scores


def run_clients(url: str, requests: list[tuple[str, list[str]]], clients: int) -> dict:
    """In the client process: ``clients`` concurrent clients send every request once."""

    async def main() -> dict:
        pending = iter(range(len(requests)))
        latencies: list[float] = [0.0] * len(requests)
        scores: list[list[float]] = [[] for _ in requests]
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:

            async def client() -> None:
                for index in pending:
                    query, documents = requests[index]
                    start = time.perf_counter()
                    response = await http.post("/rerank", json={"query": query, "documents": documents})
                    response.raise_for_status()
                    latencies[index] = time.perf_counter() - start
                    scores[index] = [item["score"] for item in response.json()["scores"]]

            start = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            seconds = time.perf_counter() - start
        return {"seconds": seconds, "latencies": latencies, "scores": scores}

    return asyncio.run(main())


def engine_calls(url: str) -> int:
    """Engine calls so far, from the server's /metrics."""
    found = re.search(r"vecrank_batch_pairs_count\{[^}]*\} (\S+)", httpx.get(url + "/metrics").text)
    return int(float(found.group(1))) if found else 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from vecrank.bench.environment import machine_info, versions
    from vecrank.bench.pairs import make_pairs, token_length_stats
    from vecrank.server import ServerSettings, running_server

    reranker = load_reranker(args.model, args.device)
    pair_set = make_pairs(
        reranker.tokenizer, args.pairs, candidates=args.docs_per_request, max_length=reranker.max_length
    )
    requests = [
        (group[0][0], [document for _, document in group])
        for group in (pair_set.query_group(number) for number in range(pair_set.queries))
    ]
    pairs = sum(len(documents) for _, documents in requests)
    machine = machine_info(reranker.device)
    reranker.predict(pair_set.pairs[: args.docs_per_request])  # warm up
    per_request_runs = [direct_per_request(reranker, requests) for _ in range(args.repeats)]
    per_request, expected = median(speed for speed, _ in per_request_runs), per_request_runs[0][1]
    print(f"direct, one call per request: {per_request:.1f} pairs/s", flush=True)

    settings = ServerSettings(
        models={"bench": args.model},
        port=0,
        max_wait_ms=args.max_wait_ms,
        merge_tokens=args.merge_tokens,
        batch_tokens=args.batch_tokens,
    )
    results = []
    spawn = multiprocessing.get_context("spawn")
    with running_server(settings, {args.model: reranker}) as url, spawn.Pool(1) as pool:
        pool.apply(run_clients, (url, requests[:4], 4))  # warm up connections, threads and the engine
        for clients in (int(c) for c in args.clients.split(",")):
            runs = [measure(reranker, pool, url, requests, clients) for _ in range(args.repeats)]
            latencies = np.concatenate([run["latencies"] for run in runs]) * 1000
            calls = sum(run["engine_calls"] for run in runs)
            results.append(
                {
                    "clients": clients,
                    "requests": len(requests),
                    "pairs": pairs,
                    "repeats": args.repeats,
                    "direct_pairs_per_s": round(median(pairs / run["direct_seconds"] for run in runs), 1),
                    "served_pairs_per_s": round(median(pairs / run["seconds"] for run in runs), 1),
                    "served_to_direct": round(
                        median(run["direct_seconds"] / run["seconds"] for run in runs), 3
                    ),
                    "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
                    "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1),
                    "engine_calls_per_run": calls / args.repeats,
                    "mean_pairs_per_engine_call": round(pairs * args.repeats / max(1, calls), 1),
                    "runs": [
                        {
                            "direct_pairs_per_s": round(pairs / run["direct_seconds"], 1),
                            "served_pairs_per_s": round(pairs / run["seconds"], 1),
                        }
                        for run in runs
                    ],
                    "max_abs_score_diff_vs_direct": max(
                        float(np.max(np.abs(np.array(s) - e)))
                        for run in runs
                        for s, e in zip(run["scores"], expected)
                    ),
                }
            )
            print(json.dumps(results[-1]), flush=True)

    machine.update(device=str(reranker.device), load_average_after=[round(x, 2) for x in os.getloadavg()])
    report = {
        "benchmark": "served_throughput",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine,
        "versions": versions(["fastapi", "uvicorn", "httpx"]),
        "model": {"name": args.model, **{k: str(v) for k, v in _model_facts(reranker).items()}},
        "data": token_length_stats(reranker.tokenizer, pair_set.pairs, reranker.max_length),
        "settings": {
            "docs_per_request": args.docs_per_request,
            "protocol": "weaviate module POST /rerank",
            "max_wait_ms": args.max_wait_ms,
            "merge_tokens": args.merge_tokens,
            "batch_tokens": args.batch_tokens,
        },
        "direct_per_request_pairs_per_s": round(per_request, 1),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


def _model_facts(reranker) -> dict:
    loaded = reranker.loaded
    return {"dtype": loaded.dtype, "attention": loaded.attention, "max_length": loaded.max_length}


if __name__ == "__main__":
    main()
