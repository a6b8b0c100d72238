"""The serving audit as a benchmark: load, isolation, a maximal request, slow clients and shutdown,
against a live ``vecrank serve`` process on loopback.

    load         --clients clients send requests of 3-32 documents for --load-seconds (at most
                 --requests); each answer is checked against the same request's answer when sent alone
                 (wrong answers, 5xx, p50/p99)
    isolation    bad requests (bad JSON, wrong types, lone surrogates, too many or too long texts, not
                 JSON) sent among --innocents innocent ones: innocents failed, 5xx
    big_request  a maximal request (--max-documents documents of --document-chars characters) while
                 liveness probes run every 20 ms and a 3-document request every 200 ms, in two windows:
                 "tokenising", from its first byte until its pairs reach the model's queue (read, parsed,
                 cut and counted), and "scoring", --scoring-seconds of it being scored; then the client
                 disconnects (scoring 10,000 pairs of 512 tokens takes about half an hour on 2 cores) and
                 the server must drop the rest
    slow_clients --slow connections that send half a header and --slow that trickle their body, while
                 innocent requests run: innocents failed, and how long until the slow ones are closed
    shutdown     SIGTERM with --in-flight requests of the load's shape in flight: answered, lost

The server runs in its own process (a MiniLM-L6-shaped model with random weights by default) with the
settings recorded in the JSON; the clients run here. Each stage prints a progress line every 15 s and
its wall and server CPU seconds when done; a stage past --stage-limit seconds ends the audit with an error.

    python benchmarks/serve_audit.py                       # the full audit (about 5 min on 2 quiet cores)
    python benchmarks/serve_audit.py --small --out /tmp/a.json   # a quick check of the script
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import numpy as np

DEFAULT_OUT = Path(__file__).parent / "results" / "serve_audit_cpu.json"
API_KEY = "audit-key"
TIMEOUT_S = 600  # a client gives up on an answer after this long (counted as failed)
PROGRESS_S = 15  # seconds between a stage's progress lines
AUTH = {"Authorization": f"Bearer {API_KEY}"}
WORDS = ["the", "river", "city", "school", "music", "history", "berlin", "people", "report", "market"]
WORDS += ["energy", "policy", "water", "garden", "science", "data", "search", "vector", "answer", "rank"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm-l6", help="benchmark shape or model folder")
    parser.add_argument("--requests", type=int, default=3000, help="most requests of the load check")
    parser.add_argument("--load-seconds", type=float, default=120, help="how long the load check sends")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--innocents", type=int, default=160, help="innocent requests of the isolation check")
    parser.add_argument("--max-documents", type=int, default=10_000, help="documents of the maximal request")
    parser.add_argument("--document-chars", type=int, default=6_500)
    parser.add_argument(
        "--scoring-seconds", type=float, default=30, help="how long the maximal request is scored"
    )
    parser.add_argument("--load-chars", type=int, default=600, help="longest document of the load requests")
    parser.add_argument("--slow", type=int, default=150, help="half-header and trickling connections, each")
    parser.add_argument("--in-flight", type=int, default=20, help="requests in flight at SIGTERM")
    parser.add_argument("--header-timeout", type=float, default=5.0)
    parser.add_argument("--body-timeout", type=float, default=10.0)
    parser.add_argument("--stage-limit", type=float, default=300, help="seconds a stage may take at most")
    parser.add_argument("--small", action="store_true", help="a quick run that checks the script")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.small:
        args.requests, args.clients, args.max_documents, args.slow, args.in_flight = 100, 8, 1_000, 20, 8
        args.innocents, args.load_seconds, args.scoring_seconds, args.load_chars = 32, 30, 5, 300
        args.header_timeout, args.body_timeout = 1.0, 2.0
    return args


def text(rng: random.Random, chars: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(chars // 5 + 1))[:chars]


def percentiles(seconds: list[float]) -> dict:
    if not seconds:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    values = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
    }


class Server:
    """``vecrank serve`` in a child process on a free loopback port."""

    def __init__(self, model: str, options: list[str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "vecrank", "serve", "--model", f"audit={model}"]
        command += ["--port", str(self.port), "--api-key", API_KEY, "--log-level", "warning", *options]
        self.process = subprocess.Popen(command)
        deadline = time.monotonic() + 300
        while True:
            assert self.process.poll() is None, "the server exited while starting"
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(self.url + "/.well-known/ready", timeout=1).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    def cpu_seconds(self) -> float | None:
        """User and system CPU seconds of the server process, all its threads (Linux; None elsewhere)."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(120)


class Stage:
    """One check's clock and counters: a progress line every ``PROGRESS_S`` seconds while it runs."""

    def __init__(self, name: str, server: Server) -> None:
        self.name = name
        self.server = server
        self.start = time.monotonic()
        self.cpu_start = server.cpu_seconds()
        self.phase = ""
        self.counts: dict[str, int] = {}

    def add(self, key: str, number: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + number

    def seconds(self) -> float:
        return time.monotonic() - self.start

    def cpu(self) -> float | None:
        now = self.server.cpu_seconds()
        return None if now is None or self.cpu_start is None else round(now - self.cpu_start, 1)

    def line(self) -> str:
        counts = " ".join(f"{key}={value}" for key, value in self.counts.items())
        gone = "" if self.server.process.poll() is None else " (the server has exited)"
        return f"[{self.name}] {self.seconds():.0f} s, server CPU {self.cpu()} s {self.phase} {counts}{gone}"

    async def run(self, work: Awaitable[dict], limit: float) -> dict:
        """``work``'s result with the stage's wall and server CPU seconds; exits the audit past ``limit``."""
        print(f"[{self.name}] started", flush=True)

        async def report() -> None:
            while True:
                await asyncio.sleep(PROGRESS_S)
                print(self.line(), flush=True)

        reporter = asyncio.create_task(report())
        try:
            result = await asyncio.wait_for(work, limit)
        except asyncio.TimeoutError:
            print(self.line(), flush=True)
            raise SystemExit(f"the {self.name} check ran past --stage-limit ({limit:g} s)") from None
        finally:
            reporter.cancel()
        result["stage_seconds"] = round(self.seconds(), 1)
        result["server_cpu_seconds"] = self.cpu()
        print(self.line() + " done", flush=True)
        return result


async def post(http: httpx.AsyncClient, path: str, body, **kwargs) -> tuple[float, httpx.Response | None]:
    """Seconds and response (None when the connection failed)."""
    start = time.perf_counter()
    try:
        if isinstance(body, bytes):
            response = await http.post(path, content=body, **kwargs)
        else:
            response = await http.post(path, json=body, **kwargs)
    except httpx.HTTPError:
        return time.perf_counter() - start, None
    return time.perf_counter() - start, response


def load_requests(count: int, rng: random.Random, longest: int) -> list[dict]:
    queries = [text(rng, rng.randint(20, 80)) for _ in range(16)]
    return [
        {
            "query": rng.choice(queries),
            "texts": [text(rng, rng.randint(50, longest)) for _ in range(rng.randint(3, 32))],
            "raw_scores": True,
        }
        for _ in range(count)
    ]


def scores(response: httpx.Response) -> dict[int, float]:
    return {rank["index"]: rank["score"] for rank in response.json()}


async def check_load(url: str, args: argparse.Namespace, rng: random.Random, stage: Stage) -> dict:
    requests = load_requests(args.requests, rng, args.load_chars)
    distinct = requests[:32]
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=TIMEOUT_S) as http:
        stage.phase = "alone"
        alone = [await post(http, "/rerank", body) for body in distinct]
        expected = [scores(response) for _, response in alone]
        stage.phase = "load"
        numbers = iter(range(len(requests)))
        latencies: list[float] = []
        outcome = {"requests": 0, "5xx": 0, "failed": 0, "wrong_answers": 0}
        start = time.perf_counter()
        deadline = start + args.load_seconds

        async def client() -> None:
            for number in numbers:  # one shared iterator: each request is sent once
                if time.perf_counter() > deadline:
                    return
                seconds, response = await post(http, "/rerank", requests[number])
                latencies.append(seconds)
                outcome["requests"] += 1
                stage.add("answered")
                if response is None or response.status_code != 200:
                    outcome["failed"] += 1
                    outcome["5xx"] += response is not None and response.status_code >= 500
                elif number < len(distinct):
                    got = scores(response)
                    if any(abs(got[i] - score) > 1e-3 for i, score in expected[number].items()):
                        outcome["wrong_answers"] += 1

        await asyncio.gather(*(client() for _ in range(args.clients)))
        outcome["seconds"] = round(time.perf_counter() - start, 2)
    stopped_by = "time" if outcome["requests"] < len(requests) else "requests"
    return {**outcome, "stopped_by": stopped_by, "clients": args.clients, **percentiles(latencies)}


def bad_requests(rng: random.Random) -> list[tuple[str, bytes, dict]]:
    """Requests that must each get a 4xx answer and harm no one else."""
    json_type = {"Content-Type": "application/json"}
    many = json.dumps({"query": "q", "texts": ["x"] * 20_000}).encode()
    return [
        ("/rerank", b'{"query": "q", "texts": [', json_type),
        ("/rerank", b"[" * 50_000, json_type),
        ("/rerank", b'{"query": "q", "texts": ["a\\ud800"]}', json_type),
        ("/rerank", json.dumps({"query": "q", "texts": ["a"], "truncate": "yes"}).encode(), json_type),
        ("/v2/rerank", json.dumps({"query": "q", "documents": ["a"], "top_n": True}).encode(), json_type),
        ("/v2/rerank", json.dumps({"query": "q", "documents": []}).encode(), json_type),
        ("/v1/rerank", json.dumps({"query": "q", "documents": [{"title": "a"}]}).encode(), json_type),
        (
            "/v1/rerank",
            json.dumps({"query": "q", "documents": ["a"]}).encode(),
            {"Content-Type": "text/plain"},
        ),
        ("/rerank", many, json_type),
        ("/rerank", json.dumps({"query": "q", "texts": [text(rng, 200_000)]}).encode(), json_type),
        ("/v2/rerank", json.dumps({"model": "nope", "query": "q", "documents": ["a"]}).encode(), json_type),
    ]


async def check_isolation(url: str, args: argparse.Namespace, rng: random.Random, stage: Stage) -> dict:
    innocents = load_requests(args.innocents, rng, args.load_chars)
    bad = bad_requests(rng) * 8
    outcome = {"innocent_requests": len(innocents), "bad_requests": len(bad), "innocents_failed": 0}
    outcome.update({"bad_not_4xx": 0, "5xx": 0})
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=TIMEOUT_S) as http:
        stage.phase = "alone"
        alone = [scores((await post(http, "/rerank", body))[1]) for body in innocents[:16]]
        stage.phase = "mixed"

        async def innocent(number: int) -> None:
            _, response = await post(http, "/rerank", innocents[number])
            ok = response is not None and response.status_code == 200
            if ok and number < len(alone):
                got = scores(response)
                ok = all(abs(got[i] - score) <= 1e-3 for i, score in alone[number].items())
            outcome["innocents_failed"] += not ok
            outcome["5xx"] += response is not None and response.status_code >= 500
            stage.add("innocents")

        async def guilty(path: str, body: bytes, headers: dict) -> None:
            _, response = await post(http, path, body, headers={**AUTH, **headers})
            outcome["bad_not_4xx"] += response is None or not 400 <= response.status_code < 500
            outcome["5xx"] += response is not None and response.status_code >= 500
            stage.add("bad")

        work = [innocent(number) for number in range(len(innocents))] + [guilty(*bad_one) for bad_one in bad]
        rng.shuffle(work)
        await asyncio.gather(*work)
    return outcome


async def queued_pairs(http: httpx.AsyncClient) -> int:
    """Pairs waiting for the engine, from ``/health`` (shown to a caller with the key)."""
    return (await http.get("/health", headers=AUTH)).json()["queue_pairs"]


async def check_big_request(url: str, args: argparse.Namespace, rng: random.Random, stage: Stage) -> dict:
    """Liveness probes and small requests while a maximal request is tokenised, then scored. A probe or
    small request counts in the window it is answered in when it started and ended in it, and in the
    scoring window when it straddles the two (there it may wait behind the maximal request's chunks)."""
    documents = [text(rng, args.document_chars) for _ in range(args.max_documents)]
    body = json.dumps({"query": "who lives in berlin", "texts": documents, "raw_scores": True}).encode()
    small = {"query": "who lives in berlin", "texts": ["berlin people", "a river", "music school"]}
    windows = ("tokenising", "scoring")
    live: dict[str, list[float]] = {window: [] for window in windows}
    small_seconds: dict[str, list[float]] = {window: [] for window in windows}
    failed = {"live": 0, "small": 0}
    stop = asyncio.Event()
    scoring = asyncio.Event()
    async with (
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=TIMEOUT_S) as http,
        httpx.AsyncClient(base_url=url, timeout=60) as probes,
    ):
        stage.phase = "alone"
        small_alone = [(await post(http, "/rerank", small))[0] for _ in range(10)]
        headers = {**AUTH, "Content-Type": "application/json"}
        stage.phase = "tokenising"
        sent = time.perf_counter()
        big = asyncio.create_task(post(http, "/rerank", body, headers=headers))

        async def watch() -> None:
            """Sets ``scoring`` once the maximal request's pairs are in the engine's queue."""
            try:
                while not big.done() and await queued_pairs(probes) < args.max_documents // 2:
                    await asyncio.sleep(0.05)
            finally:
                scoring.set()

        async def probe() -> None:
            while not stop.is_set():
                in_tokenising = not scoring.is_set()
                start = time.perf_counter()
                try:
                    failed["live"] += (await probes.get("/.well-known/live")).status_code != 204
                except httpx.HTTPError:
                    failed["live"] += 1
                tokenising = in_tokenising and not scoring.is_set()
                live[windows[not tokenising]].append(time.perf_counter() - start)
                stage.add("live")
                await asyncio.sleep(0.02)

        async def small_requests() -> None:
            while not stop.is_set():
                in_tokenising = not scoring.is_set()
                seconds, response = await post(http, "/rerank", small)
                tokenising = in_tokenising and not scoring.is_set()
                if response is not None and response.status_code == 200:
                    small_seconds[windows[not tokenising]].append(seconds)
                else:
                    failed["small"] += 1
                stage.add("small")
                await asyncio.sleep(0.2)

        watcher = asyncio.create_task(watch())
        clients = asyncio.gather(probe(), small_requests())
        await scoring.wait()
        tokenising_seconds = time.perf_counter() - sent
        stage.phase = "scoring"
        await asyncio.wait({big}, timeout=args.scoring_seconds)
        scored_seconds = time.perf_counter() - sent - tokenising_seconds
        left = await queued_pairs(probes)
        big.cancel()  # the client disconnects: the server must drop the pairs it has not scored
        stop.set()
        await clients
        await watcher
        stage.phase = "draining"
        disconnected = time.perf_counter()
        while await queued_pairs(probes) > 0:
            await asyncio.sleep(0.05)
        dropped_seconds = time.perf_counter() - disconnected
        after_seconds, after = await post(http, "/rerank", small)  # the engine is free again
    big_response = big.result()[1] if big.done() and not big.cancelled() else None
    if big_response is not None:
        left = 0 if big_response.status_code == 200 else args.max_documents
    return {
        "documents": args.max_documents,
        "document_chars": args.document_chars,
        "body_mb": round(len(body) / 2**20, 1),
        "tokenising_seconds": round(tokenising_seconds, 2),
        "scored_seconds": round(scored_seconds, 2),
        "pairs_scored": args.max_documents - left,
        "big_status": big_response.status_code if big_response is not None else "disconnected",
        "queue_empty_after_disconnect_s": round(dropped_seconds, 2),
        "small_after_s": round(after_seconds, 2) if after is not None and after.status_code == 200 else None,
        "live_failed": failed["live"],
        "small_failed": failed["small"],
        "small_alone": percentiles(small_alone),
        **{
            name: {
                "live_probes": len(live[name]),
                "live": percentiles(live[name]),
                "small_requests": len(small_seconds[name]),
                "small": percentiles(small_seconds[name]),
            }
            for name in windows
        },
    }


async def check_slow_clients(url: str, args: argparse.Namespace, rng: random.Random, stage: Stage) -> dict:
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    body = json.dumps({"query": "q", "texts": ["slow body"] * 50}).encode()
    closed_after: dict[str, list[float]] = {"half_header": [], "trickle": []}

    async def half_header() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        start = time.perf_counter()
        writer.write(b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        await writer.drain()
        await asyncio.wait_for(reader.read(), args.header_timeout * 10)
        closed_after["half_header"].append(time.perf_counter() - start)
        stage.add("half_header_closed")
        writer.close()

    async def trickle() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        start = time.perf_counter()
        closed = asyncio.create_task(reader.read())  # done when the server closes the connection
        try:
            for byte in body[:-1]:  # one byte every 100 ms: far slower than the body timeout allows
                if closed.done() or time.perf_counter() - start > args.body_timeout * 10:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        except OSError:
            pass
        await asyncio.wait_for(closed, args.body_timeout)
        closed_after["trickle"].append(time.perf_counter() - start)
        stage.add("trickle_closed")
        writer.close()

    innocents = load_requests(32, rng, args.load_chars)
    failed = 0
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=TIMEOUT_S) as http:
        slow = [asyncio.create_task(half_header()) for _ in range(args.slow)]
        slow += [asyncio.create_task(trickle()) for _ in range(args.slow)]
        await asyncio.sleep(0.5)
        for request in innocents:
            seconds, response = await post(http, "/rerank", request)
            latencies.append(seconds)
            failed += response is None or response.status_code != 200
            stage.add("innocents")
        results = await asyncio.gather(*slow, return_exceptions=True)
    return {
        "half_header_connections": args.slow,
        "trickle_connections": args.slow,
        "header_timeout_s": args.header_timeout,
        "body_timeout_s": args.body_timeout,
        "not_closed": sum(isinstance(result, BaseException) for result in results),
        "half_header_closed_after": percentiles(closed_after["half_header"]),
        "trickle_closed_after": percentiles(closed_after["trickle"]),
        "innocent_requests": len(innocents),
        "innocents_failed": failed,
        "innocent": percentiles(latencies),
    }


async def check_shutdown(server: Server, args: argparse.Namespace, rng: random.Random, stage: Stage) -> dict:
    """Requests of the load's shape: what a server has in flight when it is told to stop."""
    requests = load_requests(args.in_flight, rng, args.load_chars)
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=TIMEOUT_S) as http:
        sent = [asyncio.create_task(post(http, "/rerank", body)) for body in requests]
        await asyncio.sleep(0.5)  # sent and received: the engine works through them
        in_flight = sum(not task.done() for task in sent)
        stage.phase = f"SIGTERM with {in_flight} in flight"
        exit_code = await asyncio.to_thread(server.stop)
        answers = [response for _, response in await asyncio.gather(*sent)]
    served = sum(response is not None and response.status_code == 200 for response in answers)
    return {
        "requests": len(requests),
        "in_flight_at_sigterm": in_flight,
        "served": served,
        "lost": len(requests) - served,
        "exit_code": exit_code,
    }


def cpu_flags() -> list[str]:
    """The CPU flags that set the engine's speed (vector widths, bf16, int8 dot products)."""
    wanted = {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8"}
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(wanted & set(flags))


Check = Callable[[str, argparse.Namespace, random.Random, Stage], Awaitable[dict]]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    from vecrank.bench.environment import machine_info, versions
    from vecrank.bench.models import MODEL_NAMES, build_model

    began = time.monotonic()
    model = args.model
    if model in MODEL_NAMES:
        model = str(build_model(model, Path(tempfile.mkdtemp(prefix="vecrank-audit-")) / model))
    machine = {**machine_info(torch.device("cpu")), "cpu_flags": cpu_flags()}
    options = [
        "--max-documents",
        str(args.max_documents),
        "--header-timeout",
        str(args.header_timeout),
        "--body-timeout",
        str(args.body_timeout),
    ]
    rng = random.Random(0)
    server = Server(model, options)
    print(f"server ready after {time.monotonic() - began:.0f} s", flush=True)
    checks: list[tuple[str, Check]] = [
        ("load", check_load),
        ("isolation", check_isolation),
        ("big_request", check_big_request),
        ("slow_clients", check_slow_clients),
    ]
    try:
        results = {}
        for name, check in checks:
            stage = Stage(name, server)
            results[name] = asyncio.run(stage.run(check(server.url, args, rng, stage), args.stage_limit))
            print(name, json.dumps(results[name]), flush=True)
        stage = Stage("shutdown", server)
        shutdown = check_shutdown(server, args, rng, stage)
        results["shutdown"] = asyncio.run(stage.run(shutdown, args.stage_limit))
        print("shutdown", json.dumps(results["shutdown"]), flush=True)
    finally:
        if server.process.poll() is None:
            server.process.kill()
    big = results["big_request"]
    summary = {
        "requests": results["load"]["requests"]
        + results["isolation"]["innocent_requests"]
        + results["isolation"]["bad_requests"],
        "5xx": results["load"]["5xx"] + results["isolation"]["5xx"],
        "wrong_answers": results["load"]["wrong_answers"],
        "innocents_failed": sum(results[name]["innocents_failed"] for name in ("isolation", "slow_clients")),
        "p50_ms": results["load"]["p50_ms"],
        "p99_ms": results["load"]["p99_ms"],
        "max_request_tokenising_s": big["tokenising_seconds"],
        "live_max_ms_while_max_request_tokenises": big["tokenising"]["live"]["max_ms"],
        "small_max_ms_while_max_request_tokenises": big["tokenising"]["small"]["max_ms"],
        "live_max_ms_while_max_request_scores": big["scoring"]["live"]["max_ms"],
        "small_max_ms_while_max_request_scores": big["scoring"]["small"]["max_ms"],
        "slow_connections_not_closed": results["slow_clients"]["not_closed"],
        "lost_at_shutdown": results["shutdown"]["lost"],
        "audit_seconds": round(time.monotonic() - began, 1),
    }
    document = {
        "benchmark": "serve_audit",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": args.model,
        "server_options": options,
        "machine": machine,
        "versions": versions(["fastapi", "uvicorn", "h11", "httpx"]),
        "summary": summary,
        **results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    main()
