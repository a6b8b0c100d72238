"""Served throughput on Ray Serve: 1 and 2 model replicas against the single-process server, one run.

The same requests (one query with ``--docs-per-request`` passages each, Weaviate module protocol) go,
from ``--clients`` concurrent clients in a separate process, to: ``vecrank serve`` in one process
(the engine on every core), then ``vecrank serve --ray`` on a local Ray with 1 replica holding every
core, then 2 replicas holding half each. On a GPU machine pass ``--gpus-per-replica`` to place the
replicas on GPUs (``0.5`` puts both replicas on one GPU). Scores are checked against the engine.

    python benchmarks/served_ray.py --model minilm-l6 --pairs 256 --clients 8
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from served_throughput import run_clients  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "served_ray_cpu.json"
ONE_DOCUMENT_REQUESTS = 32


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm-l6", help="a benchmark shape (random weights) or a folder")
    parser.add_argument("--pairs", type=int, default=256, help="pairs per measurement (default: %(default)s)")
    parser.add_argument("--docs-per-request", type=int, default=8)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setup; medians are reported")
    parser.add_argument("--gpus-per-replica", type=float, default=0.0, help="0: CPU replicas")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def model_folder(name: str) -> str:
    """A benchmark shape is built with random weights into a temp folder; anything else is used as is."""
    from vecrank.bench.models import MODEL_NAMES, build_model

    if name in MODEL_NAMES:
        return str(build_model(name, Path(tempfile.mkdtemp(prefix="vecrank-bench-")) / name))
    return name


def cpu_seconds(marker: str) -> float:
    """User + system CPU seconds of the local processes whose command line holds ``marker``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if marker not in (stat.parent / "cmdline").read_bytes().decode(errors="replace"):
                continue
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


# The Ray Serve processes a request crosses before its model replica: HTTP proxy and ingress.
HOPS = {"proxy": "ProxyActor", "ingress": "vecrank-ingress"}


def measure(pool, url: str, requests: list[tuple[str, list[str]]], clients: int, repeats: int) -> dict:
    """Warm up, then ``repeats`` runs of every request; medians and the scores of the first run.

    ``one_document_ms_p50``: one client sending one-document requests in turn, the time a request
    spends outside the engine (HTTP, proxy and ingress hops) plus one tiny engine call.
    ``*_cpu_ms_per_request``: CPU time of the Ray Serve proxy and ingress processes per request,
    what sizes the ingress of a many-GPU deployment (wall times here mostly measure contention).
    """
    pool.apply(run_clients, (url, requests[: 2 * clients], clients))
    tiny = [(query, documents[:1]) for query, documents in requests[:ONE_DOCUMENT_REQUESTS]]
    one_document = pool.apply(run_clients, (url, tiny, 1))["latencies"]
    cpu_before = {hop: cpu_seconds(marker) for hop, marker in HOPS.items()}
    runs = [pool.apply(run_clients, (url, requests, clients)) for _ in range(repeats)]
    hops_cpu_ms = {
        f"{hop}_cpu_ms_per_request": round(
            (cpu_seconds(marker) - cpu_before[hop]) * 1000 / (repeats * len(requests)), 2
        )
        for hop, marker in HOPS.items()
        if cpu_before[hop]
    }
    pairs = sum(len(documents) for _, documents in requests)
    latencies = np.concatenate([np.array(run["latencies"]) for run in runs]) * 1000
    return {
        "pairs_per_s": round(median(pairs / run["seconds"] for run in runs), 1),
        "runs_pairs_per_s": [round(pairs / run["seconds"], 1) for run in runs],
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1),
        "one_document_ms_p50": round(float(np.median(one_document)) * 1000, 1),
        **hops_cpu_ms,
        "scores": runs[0]["scores"],
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import ray

    from vecrank.bench.environment import machine_info, versions
    from vecrank.bench.pairs import make_pairs, token_length_stats
    from vecrank.config import RayConfig, RayDeployment
    from vecrank.core import get_reranker
    from vecrank.server import ServerSettings, running_server
    from vecrank.server.ray import running_ray_server

    folder = model_folder(args.model)
    reranker = get_reranker(folder, device=args.device)
    pair_set = make_pairs(
        reranker.tokenizer, args.pairs, candidates=args.docs_per_request, max_length=reranker.max_length
    )
    requests = [
        (group[0][0], [document for _, document in group])
        for group in (pair_set.query_group(number) for number in range(pair_set.queries))
    ]
    expected = [
        1 / (1 + np.exp(-reranker.predict([(q, d) for d in docs]).astype(np.float64))) for q, docs in requests
    ]
    machine = machine_info(reranker.device)
    cpus = os.cpu_count() or 1
    settings = ServerSettings(models={"bench": folder}, port=0, device=args.device)
    setups: list[dict] = []
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(1) as pool:
        with running_server(settings, {folder: reranker}) as url:
            result = measure(pool, url, requests, args.clients, args.repeats)
        setups.append({"setup": "single process", "replicas": 1, "cpus_per_replica": cpus, **result})
        print(json.dumps({k: v for k, v in setups[-1].items() if k != "scores"}), flush=True)

        start = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        ray_start_s = time.perf_counter() - start
        for replicas in (1, 2):
            deployment = RayDeployment(
                num_replicas=replicas, num_cpus=cpus / replicas, num_gpus=args.gpus_per_replica
            )
            ray_settings = settings.model_copy(update={"ray": RayConfig(defaults=deployment, ingress_cpus=0)})
            start = time.perf_counter()
            with running_ray_server(ray_settings) as url:
                deploy_s = time.perf_counter() - start
                result = measure(pool, url, requests, args.clients, args.repeats)
            setups.append(
                {
                    "setup": f"ray serve, {replicas} replica{'s' * (replicas > 1)}",
                    "replicas": replicas,
                    "cpus_per_replica": cpus / replicas,
                    "gpus_per_replica": args.gpus_per_replica,
                    "deploy_s": round(deploy_s, 1),
                    **result,
                }
            )
            print(json.dumps({k: v for k, v in setups[-1].items() if k != "scores"}), flush=True)
        ray.shutdown()

    single = setups[0]["pairs_per_s"]
    for setup in setups:
        scores = setup.pop("scores")
        setup["to_single_process"] = round(setup["pairs_per_s"] / single, 3)
        setup["max_abs_score_diff_vs_engine"] = max(
            float(np.max(np.abs(np.array(s) - e))) for s, e in zip(scores, expected)
        )
    machine.update(load_average_after=[round(x, 2) for x in os.getloadavg()])
    report = {
        "benchmark": "served_ray",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine,
        "versions": versions(["ray", "fastapi", "uvicorn", "httpx"]),
        "model": {"name": args.model, "dtype": str(reranker.loaded.dtype), "max_length": reranker.max_length},
        "data": token_length_stats(reranker.tokenizer, pair_set.pairs, reranker.max_length),
        "settings": {
            "clients": args.clients,
            "docs_per_request": args.docs_per_request,
            "requests": len(requests),
            "repeats": args.repeats,
            "protocol": "weaviate module POST /rerank",
        },
        "ray_start_s": round(ray_start_s, 1),
        "results": setups,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
