"""``vecrank serve --ray`` on one local Ray instance: 2 CPU replicas of the tiny model behind the HTTP app
(and one of a tiny Qwen3-Reranker-layout yes/no reranker, for the per-request instruction).

One Ray and one Serve application are shared by every test of the module (a local Ray takes ~10 s to
start on a loaded 2-core machine, the replicas as long again); the tests run in file order, the
replica kill and the shutdown last. The replicas are :class:`HoldingReplica`s: like the plain ones,
except that one of them holds the request that asks it to until the test kills it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from server_helpers import API_KEY, AUTH, DOCUMENTS, QUERIES

import vecrank

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

from vecrank.config import RayConfig, RayDeployment  # noqa: E402
from vecrank.core import get_reranker  # noqa: E402
from vecrank.server import ServerSettings  # noqa: E402
from vecrank.server.ray import APP_NAME, running_ray_server  # noqa: E402
from vecrank.testing.ray_replicas import HOLD_QUERY, HoldingReplica, open_gate  # noqa: E402
from vecrank.testing.tiny_models import build_tiny_model  # noqa: E402

TEXTS = [text for text in DOCUMENTS if text]
# A request of ~300-token documents, so that the replicas have work queued under load.
HEAVY = [f"the river runs through the city {number} " * 40 for number in range(64)]
LOAD_REQUESTS = 80
LOAD_THREADS = 8
INSTRUCTION = "Given a question about a city, find the passage that names it"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def long_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny BERT that reads 512 tokens, so that HEAVY is scored in full."""
    folder = tmp_path_factory.mktemp("long_bert")
    return str(build_tiny_model("bert", folder, max_position_embeddings=512))


@pytest.fixture(scope="module")
def expected(long_model: str) -> dict[tuple[str, str], float]:
    """The in-process engine's logit for every (query, document) of the test data."""
    pairs = [(query, text) for query in QUERIES for text in TEXTS]
    return dict(zip(pairs, get_reranker(long_model).predict(pairs).tolist()))


@pytest.fixture(scope="module")
def qwen3(tiny_llm_rerankers: dict[str, Path]) -> str:
    return str(tiny_llm_rerankers["qwen3"])


@pytest.fixture(scope="module")
def ray_settings(long_model: str, qwen3: str) -> ServerSettings:
    replicas = RayDeployment(num_replicas=2, num_cpus=1, max_ongoing_requests=32)
    return ServerSettings(
        models={"tiny": long_model, "rerank-v3.5": long_model, "qwen": qwen3},
        port=0,
        api_key=API_KEY,
        max_documents=64,
        ray=RayConfig(defaults=replicas, models={qwen3: {"num_replicas": 1}}, ingress_cpus=0.5),
    )


@pytest.fixture(scope="module")
def ray_url(local_ray: None, ray_settings: ServerSettings) -> Iterator[str]:
    with running_ray_server(ray_settings, replica=HoldingReplica) as url:
        yield url


@pytest.fixture
def http(ray_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ray_url, headers=AUTH, timeout=60) as client:
        yield client


def _replica_counts(http: httpx.Client, model: str) -> tuple[dict[str, float], float]:
    """Scoring calls answered per replica of ``model``, and calls sent again, from the ingress's /metrics."""
    answered, retried = {}, 0.0
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("vecrank_replica_requests_total{") and f'model="{model}"' in line:
            replica = line.split('replica="')[1].split('"')[0]
            answered[replica] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("vecrank_replica_retries_total{"):
            retried += float(line.rsplit(" ", 1)[1])
    return answered, retried


def test_answers_equal_the_in_process_engine(
    http: httpx.Client, expected: dict[tuple[str, str], float]
) -> None:
    for query in QUERIES:
        logits = [expected[(query, text)] for text in TEXTS]
        tei = http.post("/rerank", json={"query": query, "texts": TEXTS, "raw_scores": True, "model": "tiny"})
        assert tei.status_code == 200
        by_index = {item["index"]: item["score"] for item in tei.json()}
        assert [by_index[i] for i in range(len(TEXTS))] == pytest.approx(logits, abs=1e-5)
        cohere = http.post("/v2/rerank", json={"model": "rerank-v3.5", "query": query, "documents": TEXTS})
        order = [result["index"] for result in cohere.json()["results"]]
        assert order == sorted(range(len(TEXTS)), key=lambda i: -logits[i])
    weaviate = http.post("/rerank", json={"query": QUERIES[0], "documents": TEXTS[:3]}).json()
    assert [item["document"] for item in weaviate["scores"]] == TEXTS[:3]


def test_same_protocols_validation_and_errors(http: httpx.Client, ray_url: str) -> None:
    assert httpx.get(f"{ray_url}/.well-known/ready").status_code == 204
    assert httpx.get(f"{ray_url}/health").json()["status"] == "ok"
    assert httpx.post(f"{ray_url}/v2/rerank", json={"query": "q", "documents": ["a"]}).status_code == 401
    empty = http.post("/rerank", json={"query": "q", "texts": []})
    assert empty.status_code == 400 and "`texts` cannot be empty" in empty.json()["error"]
    unknown = http.post("/v2/rerank", json={"model": "nope", "query": "q", "documents": ["a"]})
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["message"]
    too_many = http.post("/v1/rerank", json={"query": "q", "documents": ["a"] * 65})
    assert too_many.status_code == 413
    jina = http.post("/v1/rerank", json={"model": "tiny", "query": "q", "documents": [{"text": "a b"}]})
    assert jina.status_code == 200 and jina.json()["results"][0]["document"] == {"text": "a b"}
    meta = http.get("/meta").json()
    assert meta["model"]["model_type"] == "bert" and "tiny" in meta["vecrank"]["models"]


def test_a_yes_no_reranker_takes_the_instruction_of_each_request(http: httpx.Client, qwen3: str) -> None:
    """Requests with and without an instruction, sent together to one replica, each scored with its own."""
    engine = vecrank.get_reranker(qwen3)  # vecrank's: it loads the plugins, whose template the model needs
    pairs = [(QUERIES[1], text) for text in TEXTS]
    expected = {INSTRUCTION: engine.predict(pairs, instruction=INSTRUCTION), None: engine.predict(pairs)}
    assert not np.allclose(expected[INSTRUCTION], expected[None], atol=1e-3)

    def scores(instruction: str | None) -> list[float]:
        asked = {} if instruction is None else {"instruction": instruction}
        body = {"model": "qwen", "query": QUERIES[1], "texts": TEXTS, "raw_scores": True, **asked}
        answer = http.post("/rerank", json=body)
        assert answer.status_code == 200, answer.text
        by_index = {item["index"]: item["score"] for item in answer.json()}
        return [by_index[i] for i in range(len(TEXTS))]

    asked = [INSTRUCTION, None] * 3
    with ThreadPoolExecutor(len(asked)) as pool:
        for instruction, answer in zip(asked, pool.map(scores, asked)):
            assert answer == pytest.approx(expected[instruction].tolist(), abs=1e-5)
    refused = http.post(
        "/rerank", json={"model": "tiny", "query": "q", "texts": ["a"], "instruction": INSTRUCTION}
    )
    assert refused.status_code == 409
    assert "takes no instruction" in refused.json()["error"]


def _post(url: str, number: int, query: str | None = None) -> int:
    """One scoring request of the load (``query`` instead of the load's own); its HTTP status."""
    body = {"query": query or QUERIES[number % len(QUERIES)], "texts": HEAVY, "raw_scores": True}
    return httpx.post(f"{url}/rerank", json=body, headers=AUTH, timeout=60).status_code


def test_requests_spread_over_both_replicas(http: httpx.Client, ray_url: str, long_model: str) -> None:
    before, _ = _replica_counts(http, long_model)
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        statuses = list(pool.map(lambda n: _post(ray_url, n), range(40)))
    after, _ = _replica_counts(http, long_model)
    served = {replica: after[replica] - before.get(replica, 0) for replica in after}
    assert statuses == [200] * 40
    assert len(served) == 2 and all(count > 0 for count in served.values()), served
    assert sum(served.values()) == 40


def _serve_actors(kind: str) -> list[dict[str, str]]:
    return [a for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(kind)]


def _model_replicas() -> list[dict[str, str]]:
    """The replicas of the tiny model (the first model: deployment ``model-0-...``)."""
    return [a for a in _serve_actors("SERVE_REPLICA::") if "#model-0-" in a["name"]]


def test_killing_a_replica_mid_load_loses_no_request(
    http: httpx.Client, ray_url: str, long_model: str
) -> None:
    """The kill lands mid-request by construction: the victim holds a request until it dies."""
    _, retried_before = _replica_counts(http, long_model)
    assert len(_model_replicas()) == 2
    gate = open_gate()
    outcomes: dict[str, int] = {"answered": 0, "failed": 0, "lost": 0}

    def one(number: int, query: str | None = None) -> str:
        try:
            return "answered" if _post(ray_url, number, query) == 200 else "failed"
        except httpx.HTTPError:
            return "lost"

    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        held = pool.submit(one, -1, HOLD_QUERY)
        load = [pool.submit(one, number) for number in range(LOAD_REQUESTS)]
        victim = ray.get(gate.holder.remote(), timeout=120)  # a replica holds the request: kill it
        ray.kill(victim, no_restart=True)
        for future in [held, *load]:
            outcome = future.result(timeout=120)
            outcomes[outcome] += 1
    ray.kill(gate)
    _, retried_after = _replica_counts(http, long_model)
    retried = retried_after - retried_before
    print(f"replica killed mid-load: {outcomes}, retried {retried:g}")
    assert outcomes == {"answered": LOAD_REQUESTS + 1, "failed": 0, "lost": 0}
    assert retried >= 1  # the held request, at least


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)
    return condition()


def test_killed_replica_is_replaced_then_shutdown_is_clean(ray_url: str) -> None:
    # The application can read RUNNING before the controller has started the killed replica's
    # successor: wait for both.
    assert _wait(
        lambda: len(_model_replicas()) == 2 and serve.status().applications[APP_NAME].status == "RUNNING", 120
    )
    serve.shutdown()
    assert _wait(lambda: not _serve_actors("SERVE_") and not _port_open(ray_url), 60)
    assert _serve_actors("SERVE_") == []
    assert not _port_open(ray_url)


def test_settings_become_deployment_options(model_path: str) -> None:
    from vecrank.server.ray import deployment_name, deployment_options

    ray_config = RayConfig(
        defaults=RayDeployment(num_gpus=0.5, max_ongoing_requests=48),
        models={"big": {"min_replicas": 1, "max_replicas": 6, "num_gpus": 1}},
    )
    fixed = deployment_options(ray_config.for_model("small"))
    assert fixed == {
        "ray_actor_options": {"num_cpus": 1, "num_gpus": 0.5},
        "max_ongoing_requests": 48,
        "num_replicas": 1,
    }
    scaled = deployment_options(ray_config.for_model("big"))
    assert scaled["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 6,
        "target_ongoing_requests": 16,
    }
    assert scaled["ray_actor_options"]["num_gpus"] == 1 and "num_replicas" not in scaled
    assert deployment_name(0, str(Path("/models") / "x y")) == "model-0-models-x-y"
