"""Fair scheduling: a small request's latency while a maximal request runs, against its unloaded latency.

One run, one server: first ``--small-unloaded`` small requests alone (3 documents of ~100 tokens), then
one maximal request (``--big-docs`` documents of ``--big-chars`` characters each: the issue's 600 x
100,000, which fits the default 64 MB body) with small requests sent one after another while it runs.
The small requests sent while the big one was still running are the loaded latencies. The mean
engine call is the big request's time divided by the engine calls made meanwhile (from /metrics), so
the loaded latency can be read in engine calls. With ``--unchunked`` the same is measured again with
one chunk per request (``chunk_tokens`` past the request's size: first come, first served).

    python benchmarks/fair_scheduling.py --model minilm-l6
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

import httpx
import numpy as np

DEFAULT_OUT = Path(__file__).parent / "results" / "fair_scheduling_cpu.json"
UNCHUNKED = 1 << 30


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="minilm-l6", help="benchmark shape or model (default: %(default)s)"
    )
    parser.add_argument("--big-docs", type=int, default=600)
    parser.add_argument("--big-chars", type=int, default=100_000)
    parser.add_argument("--small-unloaded", type=int, default=20, help="small requests measured alone")
    parser.add_argument("--gap-s", type=float, default=0.2, help="pause between loaded small requests")
    parser.add_argument("--chunk-tokens", type=int, default=None, help="default: the server's")
    parser.add_argument("--unchunked", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def make_requests(tokenizer, args: argparse.Namespace) -> tuple[dict, dict]:
    """The maximal request (Cohere v2 body) and a small one, from the tokenizer's own words."""
    from vecrank.bench.pairs import vocabulary_words

    rng = np.random.default_rng(0)
    words = np.array(vocabulary_words(tokenizer))

    def text(chars: int) -> str:
        out = " ".join(rng.choice(words, size=chars // 4 + 16))
        return out[:chars]

    big = {"query": "how do i rotate keys", "documents": [text(args.big_chars) for _ in range(args.big_docs)]}
    small = {"query": "what is the capital of france", "documents": [text(500) for _ in range(3)]}
    return big, small


def engine_calls(url: str) -> int:
    found = re.search(r"vecrank_batch_pairs_count\{[^}]*\} (\S+)", httpx.get(url + "/metrics").text)
    return int(float(found.group(1))) if found else 0


def run_clients(url: str, big: dict, small: dict, unloaded: int, gap: float) -> dict:
    """In the client process: small requests alone, then the big one with small ones beside it."""

    async def main() -> dict:
        async with httpx.AsyncClient(base_url=url, timeout=900) as http:

            async def one_small() -> float:
                start = time.perf_counter()
                response = await http.post("/v2/rerank", json=small)
                response.raise_for_status()
                return time.perf_counter() - start

            for _ in range(3):
                await one_small()  # warm up
            alone = [await one_small() for _ in range(unloaded)]
            body = json.dumps(big).encode()
            calls_before = engine_calls(url)
            start = time.perf_counter()
            big_task = asyncio.create_task(
                http.post("/v2/rerank", content=body, headers={"Content-Type": "application/json"})
            )
            loaded: list[float] = []
            # Sent, parsed, cut and queued: chunks wait in the queue; one single chunk is taken at once.
            deadline = time.perf_counter() + 30
            while (await http.get("/health")).json()["queue_pairs"] == 0 and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            while not big_task.done():  # small requests sent while the big one runs
                loaded.append(await one_small())
                await asyncio.sleep(gap)
            response = await big_task
            response.raise_for_status()
            return {
                "alone": alone,
                "loaded": loaded,
                "big_seconds": time.perf_counter() - start,
                "calls": engine_calls(url) - calls_before,
            }

    return asyncio.run(main())


def measure(reranker, pool, args, big: dict, small: dict, chunk_tokens: int | None) -> dict:
    from vecrank.server import ServerSettings, running_server

    settings = ServerSettings(models={"bench": args.model}, port=0, chunk_tokens=chunk_tokens)
    with running_server(settings, {args.model: reranker}) as url:
        run = pool.apply(run_clients, (url, big, small, args.small_unloaded, args.gap_s))
    alone, loaded = np.array(run["alone"]) * 1000, np.array(run["loaded"]) * 1000
    calls = run["calls"]
    call_ms = run["big_seconds"] * 1000 / max(1, calls)
    result = {
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "chunk_tokens": "one chunk per request" if chunk_tokens == UNCHUNKED else chunk_tokens or "default",
        "big_request_s": round(run["big_seconds"], 2),
        "engine_calls_during_big_request": calls,
        "mean_engine_call_ms": round(call_ms, 1),
        "small_unloaded_ms_p50": round(float(np.median(alone)), 1),
        "small_loaded_requests": len(loaded),
    }
    if len(loaded):
        result.update(
            small_loaded_ms_p50=round(float(np.median(loaded)), 1),
            small_loaded_ms_p95=round(float(np.percentile(loaded, 95)), 1),
            small_loaded_ms_max=round(float(loaded.max()), 1),
            loaded_over_unloaded_p50=round(float(np.median(loaded) / np.median(alone)), 2),
            loaded_p50_in_engine_calls=round(float(np.median(loaded)) / call_ms, 2),
            loaded_max_in_engine_calls=round(float(loaded.max()) / call_ms, 2),
        )
    return result


def cut_versus_whole(reranker, big: dict, docs: int = 8) -> dict:
    """Seconds per document to cut and check a long text, against tokenising it whole."""
    from vecrank.server.texts import TextCutter

    documents = big["documents"][:docs]
    cutter = TextCutter(reranker.tokenizers, reranker.max_length)
    start = time.perf_counter()
    cutter.prepare(big["query"], documents)
    cut = time.perf_counter() - start
    start = time.perf_counter()
    reranker.tokenizer(documents, add_special_tokens=False, verbose=False)
    whole = time.perf_counter() - start
    return {
        "cut_ms_per_document": round(cut * 1000 / docs, 2),
        "whole_ms_per_document": round(whole * 1000 / docs, 2),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from vecrank.bench.environment import machine_info, versions
    from vecrank.bench.models import MODEL_NAMES, build_model
    from vecrank.core import get_reranker

    name = args.model
    if name in MODEL_NAMES:
        name = str(build_model(name, Path(tempfile.mkdtemp(prefix="vecrank-bench-")) / name))
    reranker = get_reranker(name, device=args.device)
    machine = machine_info(reranker.device)
    big, small = make_requests(reranker.tokenizer, args)
    tokenising = cut_versus_whole(reranker, big)
    print(json.dumps(tokenising), flush=True)
    report = {
        "benchmark": "fair_scheduling",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine,
        "versions": versions(["fastapi", "uvicorn", "httpx"]),
        "model": {"name": args.model, "max_length": reranker.max_length, "cpu_workers": reranker.cpu_workers},
        "requests": {
            "big": f"{args.big_docs} documents x {args.big_chars} characters (Cohere v2)",
            "small": "3 documents x 500 characters (Cohere v2)",
            "loaded_gap_s": args.gap_s,
        },
        "tokenising": tokenising,
        "median_of": {"unloaded": args.small_unloaded},
        "results": [],
    }
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(1) as pool:
        for chunk_tokens in [args.chunk_tokens] + ([UNCHUNKED] if args.unchunked else []):
            report["results"].append(measure(reranker, pool, args, big, small, chunk_tokens))
            print(json.dumps(report["results"][-1]), flush=True)
            machine.update(
                device=str(reranker.device), load_average_after=[round(x, 2) for x in os.getloadavg()]
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")  # after each setting
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
