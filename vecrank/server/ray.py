"""``vecrank serve --ray``: the same HTTP app as a Ray Serve ingress in front of one deployment per model.

    HTTP -> Ray Serve proxy -> Ingress (create_app: every protocol, validation, errors, metrics)
                                  -> ModelReplica deployment of each model (a one-model RerankService,
                                     its own micro-batcher merging the requests routed to it)

Ray Serve places, routes, restarts and autoscales the replicas; ``[ray]`` in the config sets replicas or
autoscaling bounds, GPUs (fractions allowed), CPUs and ``max_ongoing_requests`` per model. A request
whose replica dies before answering is sent again to another one (scoring has no side effects).
Needs the ``ray`` extra: ``pip install 'vecrank[ray]'``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
from ray import serve
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError, ReplicaUnavailableError

from ..config import RayDeployment
from ..core.tokenizer_pool import TokenizerPool
from ..errors import ModelError, VecrankError
from .app import create_app
from .errors import ApiError, Overloaded, Unavailable
from .logs import configure_logging
from .metrics import Counter, Metrics
from .service import RerankService
from .settings import ServerSettings
from .texts import TextCutter

logger = logging.getLogger("vecrank.server")

APP_NAME = "vecrank"
INGRESS_NAME = "vecrank-ingress"
# How often one request is sent again after its replica died; Ray Serve routes it to a live replica.
REPLICA_RETRIES = 3
_LOCAL = "model"  # the one alias of a replica's own RerankService
# A Ray started by the command itself: no dashboard (the cluster's own tooling is for real clusters).
_LOCAL_RAY = {"include_dashboard": False}


@dataclass(frozen=True)
class ServedModel:
    """What the ingress knows of a model its replicas serve: enough to cut texts and answer /meta."""

    tokenizer: Any
    max_length: int
    config: dict[str, Any]


class ModelReplica:
    """One model on one Ray Serve replica: a one-model :class:`RerankService` with its own batcher."""

    async def __init__(self, settings: ServerSettings, model: str) -> None:
        self.service = RerankService.load(settings.model_copy(update={"models": {_LOCAL: model}}))
        self.service.start()
        self.replica = serve.get_replica_context().replica_id.unique_id

    async def score(
        self, query: str, texts: list[str], instruction: str | None = None
    ) -> tuple[np.ndarray, str]:
        """Raw logits in document order (texts already cut by the ingress), and this replica's id."""
        self.service.check_instruction(_LOCAL, instruction)
        return await self.service.logits(_LOCAL, query, texts, instruction), self.replica

    def model_info(self) -> ServedModel:
        reranker = self.service.reranker(_LOCAL)
        return ServedModel(reranker.tokenizer, reranker.max_length, self.service.model_config(_LOCAL))

    def check_health(self) -> None:
        if not self.service.ready:
            raise RuntimeError("the micro-batcher of this replica is not running")

    async def __del__(self) -> None:
        if hasattr(self, "service"):  # not when the model failed to load
            await self.service.stop()


class RayMetrics(Metrics):
    """The server's metrics plus which replica answered and how often a request was sent again."""

    def __init__(self) -> None:
        super().__init__()
        self.replica_requests = Counter(
            "vecrank_replica_requests_total", "Scoring calls answered, by model and Ray Serve replica."
        )
        self.retries = Counter(
            "vecrank_replica_retries_total", "Scoring calls sent again after their replica died, by model."
        )

    def render(self) -> str:
        return super().render() + "\n".join(self.replica_requests.render() + self.retries.render()) + "\n"


class RayRerankService(RerankService):
    """The ingress's service: the same names, limits and checks, scored by the model deployments."""

    def __init__(self, settings: ServerSettings, handles: Mapping[str, Any]) -> None:
        """``handles`` maps each model name in ``settings.models`` to its deployment handle."""
        self.settings = settings
        self.metrics = RayMetrics()
        self._handles = handles
        self._models: dict[str, ServedModel] = {}
        self._cutters: dict[str, TextCutter] = {}
        self._running = False

    async def connect(self) -> None:
        """Wait for every model deployment to answer; keep its tokenizer, limit and config."""
        for name, handle in self._handles.items():
            self._models[name] = await handle.model_info.remote()
        for alias, name in self.settings.aliases.items():
            model = self._models[name]
            self._cutters[alias] = TextCutter(TokenizerPool(model.tokenizer), model.max_length)

    @property
    def ready(self) -> bool:
        return self._running

    def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False

    def queue_depths(self) -> dict[str, int]:
        return {}

    def reranker(self, alias: str) -> ServedModel:
        return self._models[self.settings.aliases[alias]]

    def model_config(self, alias: str) -> dict[str, Any]:
        return dict(self.reranker(alias).config)

    def check_instruction(self, alias: str, instruction: str | None) -> None:
        """Checked by the replica, which holds the model (its 409 comes back through ``logits``)."""

    async def logits(
        self, alias: str, query: str, texts: list[str], instruction: str | None = None
    ) -> np.ndarray:
        """Raw logits from a replica of the model; sent again if that replica dies first."""
        if not self._running:
            raise Unavailable()
        if not texts:
            return np.empty(0, dtype=np.float32)
        name = self.settings.aliases[alias]
        for attempt in itertools.count():
            try:
                logits, replica = await self._handles[name].score.remote(query, texts, instruction)
            except (RayActorError, ReplicaUnavailableError) as error:
                if attempt == REPLICA_RETRIES:
                    raise ApiError(
                        503, f"model {name!r}: no replica answered after {attempt + 1} tries", "unhealthy"
                    ) from error
                self.metrics.retries.inc(model=name)
                logger.warning("model %r: replica lost (%s); sending the request again", name, error)
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            except BackPressureError as error:
                message = f"model {name!r}: every replica is at max_ongoing_requests; retry later"
                raise Overloaded(message) from error
            except RayTaskError as error:
                if isinstance(error.cause, ApiError):
                    raise error.cause from None
                raise
            self.metrics.replica_requests.inc(model=name, replica=replica)
            return logits


class Ingress:
    """The HTTP app of ``vecrank serve`` (built on each ingress replica) over the model deployments."""

    async def __init__(self, settings: ServerSettings, handles: Mapping[str, Any]) -> None:
        self.settings = settings
        self.service = RayRerankService(settings, handles)
        await self.service.connect()

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self.settings, service=self.service)


def deployment_name(index: int, model: str) -> str:
    """A readable, unique Ray Serve deployment name for a model name, folder or hub id."""
    return f"model-{index}-{re.sub(r'[^A-Za-z0-9._-]+', '-', model).strip('-')[-48:]}"


def deployment_options(deployment: RayDeployment) -> dict[str, Any]:
    """Ray Serve options of one model's deployment."""
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": deployment.num_cpus, "num_gpus": deployment.num_gpus},
        "max_ongoing_requests": deployment.max_ongoing_requests,
    }
    if deployment.max_replicas is None:
        options["num_replicas"] = deployment.num_replicas
    else:
        options["autoscaling_config"] = {
            "min_replicas": deployment.min_replicas if deployment.min_replicas is not None else 1,
            "max_replicas": deployment.max_replicas,
            "target_ongoing_requests": deployment.target_ongoing_requests,
        }
    return options


def build_app(settings: ServerSettings, replica: type[ModelReplica] = ModelReplica) -> serve.Application:
    """The Ray Serve application: one deployment per distinct model, the HTTP app as ingress.

    ``replica`` is the model deployments' class (tests pass one that can hold a request).
    """
    models: dict[str, Any] = {}
    for index, model in enumerate(dict.fromkeys(settings.models.values())):
        options = deployment_options(settings.ray.for_model(model))
        # A model that cannot load fails alike on every try: one try per replica, then the deploy fails.
        tries = max(1, options.get("num_replicas") or options["autoscaling_config"]["min_replicas"])
        deployment = serve.deployment(replica).options(
            name=deployment_name(index, model), max_constructor_retry_count=tries, **options
        )
        models[model] = deployment.bind(settings, model)
    ingress = serve.deployment(serve.ingress()(Ingress)).options(
        name=INGRESS_NAME,
        num_replicas=settings.ray.ingress_replicas,
        ray_actor_options={"num_cpus": settings.ray.ingress_cpus},
        max_ongoing_requests=10_000,
    )
    return ingress.bind(settings, models)


def start(
    settings: ServerSettings,
    address: str | None = None,
    replica: type[ModelReplica] = ModelReplica,
    log_to_driver: bool = True,
) -> str:
    """Join the Ray cluster at ``address`` (a local one is started if none), deploy, return the URL.

    ``log_to_driver``: print the replicas' and Serve's own logs here too (they are always in Ray's log files).
    """
    if not ray.is_initialized():
        local = not address and not os.environ.get("RAY_ADDRESS")
        ray.init(address=address, log_to_driver=log_to_driver, **_LOCAL_RAY if local else {})
    port = settings.port or _free_port(settings.host)
    serve.start(http_options={"host": settings.host, "port": port})
    serve.run(build_app(settings, replica), name=APP_NAME, route_prefix="/")
    return f"http://{settings.host}:{port}"


@contextmanager
def running_ray_server(
    settings: ServerSettings, address: str | None = None, replica: type[ModelReplica] = ModelReplica
) -> Iterator[str]:
    """Deploy on Ray Serve for the duration of the block (``port=0`` picks a free port); yields the URL.

    On exit Serve shuts down (replicas finish their queued requests); Ray itself stays up.
    """
    url = start(settings, address, replica)
    try:
        yield url
    finally:
        serve.shutdown()


def serve_on_ray(settings: ServerSettings, address: str | None = None, verbose: bool = False) -> None:
    """Serve on Ray until SIGINT or SIGTERM, then shut Serve down (and the local Ray it started).

    A model that fails to load is a one-line :class:`ModelError`; ``verbose`` streams Ray's own logs
    (the replicas' tracebacks among them) here as well.
    """
    configure_logging(settings.log_level)
    started_ray = not ray.is_initialized()
    try:
        try:
            url = start(settings, address, log_to_driver=verbose)
        except RuntimeError as error:
            raise _deploy_error(error) from error
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # after ray.init, which sets its own
        logger.info("ready", extra={"fields": {"url": url, "models": settings.aliases}})
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
        if started_ray:
            ray.shutdown()


def _deploy_error(error: RuntimeError) -> VecrankError:
    """A failed deploy as the one-line error plain ``vecrank serve`` gives (a replica's ModelError)."""
    application = serve.status().applications.get(APP_NAME)
    messages = [deployment.message for deployment in application.deployments.values()] if application else []
    found = re.search(r"ModelError: (.+)", "\n".join([str(error), *messages]))
    if found:
        return ModelError(found.group(1).strip())
    first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return VecrankError(f"Ray Serve could not deploy the models: {first} (--verbose shows Ray's logs)")


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
