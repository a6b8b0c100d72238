"""``vecrank serve``: its command-line arguments and how they become :class:`ServerSettings`."""

from __future__ import annotations

import argparse
import os

from pydantic import ValidationError

from ..config import RayConfig, RayDeployment
from ..config_loading import load_config
from ..errors import ConfigError, ModelError
from ..models import MODEL_ALIASES, is_remote_model, resolve_model
from ..plugins import get_reranker_registry
from .settings import ServerSettings

API_KEY_ENV = "VECRANK_API_KEY"

# Options that map one to one onto ServerSettings fields; None keeps the settings' default.
_LIMITS = {
    "max_request_bytes": (int, "bytes in one request body"),
    "max_documents": (int, "documents in one request"),
    "max_document_chars": (int, "characters in one document"),
    "max_query_chars": (int, "characters in the query"),
    "queue_size": (int, "pairs waiting for the engine before requests get 429"),
    "max_wait_ms": (float, "milliseconds a batch waits to fill up"),
    "merge_tokens": (int, "tokens (estimated) merged from concurrent requests into one engine call"),
    "batch_tokens": (int, "token budget of one forward pass"),
    "chunk_tokens": (int, "tokens (estimated) of one request per engine call; larger requests take turns"),
    "max_body_bytes_in_flight": (int, "bytes of request bodies held at once; more get 429"),
    "max_connections": (int, "open connections; more are refused with 503"),
    "max_header_bytes": (int, "bytes of one request's headers"),
    "header_timeout": (float, "seconds to receive a request's headers"),
    "body_timeout": (float, "seconds to receive a request's body"),
    "keep_alive_timeout": (float, "seconds an idle keep-alive connection stays open"),
    "shutdown_timeout": (float, "seconds to finish requests in flight on shutdown"),
}

_UNSET_DEFAULTS = {"max_body_bytes_in_flight": "4 x --max-request-bytes"}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[NAME=]MODEL",
        help="model alias, folder or hub id to serve, optionally under a request name "
        "(e.g. rerank-v3.5=ettin-17m); repeatable, the first is the default",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="vecrank TOML config: its default and collection models"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default: %(default)s)")
    parser.add_argument("--api-key", help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV})")
    parser.add_argument(
        "--api-key-scope",
        choices=["api", "all"],
        default="api",
        help="routes the key covers: api (reranking, /meta, /metrics) or all (also /health and the docs)",
    )
    parser.add_argument(
        "--weaviate-without-key",
        action="store_true",
        help="answer the Weaviate module (which sends no key) without one; other protocols keep the key",
    )
    parser.add_argument(
        "--cors-origin", action="append", default=[], metavar="ORIGIN", help="allow CORS from ORIGIN"
    )
    parser.add_argument("--device", help="cuda, cpu, mps (default: the best available)")
    parser.add_argument("--dtype", help="float32, bfloat16, float16 (default: bf16 on CUDA, fp32 else)")
    parser.add_argument(
        "--precision", choices=["exact", "fast"], help="CPU tier when --dtype is not given (default: exact)"
    )
    for name, (kind, text) in _LIMITS.items():
        default = ServerSettings.model_fields[name].default
        shown = _UNSET_DEFAULTS.get(name, "the engine's for the device") if default is None else default
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"{text} (default: {shown})")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    ray = parser.add_argument_group("Ray Serve (pip install 'vecrank[ray]')")
    ray.add_argument(
        "--ray", action="store_true", help="serve on Ray Serve: one deployment per model behind this app"
    )
    ray.add_argument(
        "--address",
        help="Ray cluster to join ('auto', 'ray://head:10001'); default: start a local Ray (or $RAY_ADDRESS)",
    )
    ray.add_argument("--replicas", type=int, help="replicas per model (default: the config's [ray], or 1)")
    ray.add_argument(
        "--gpus-per-replica", type=float, help="GPUs per replica, fractions allowed (default: config or 0)"
    )


def parse_models(values: list[str]) -> dict[str, str]:
    """``["ettin-17m", "fast=/models/x"]`` -> ``{"ettin-17m": "ettin-17m", "fast": "/models/x"}``."""
    models = {}
    for value in values:
        name, sep, model = value.partition("=")
        if not sep or "/" in name:
            name, model = value, value
        if not name or not model:
            raise ConfigError(f"--model {value!r}: expected MODEL or NAME=MODEL")
        models[name] = model
    return models


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """Settings from parsed ``serve`` arguments; ``--model`` entries come first, then the config's."""
    values = {name: getattr(args, name) for name in _LIMITS if getattr(args, name) is not None}
    values.update(
        host=args.host,
        port=args.port,
        api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
        cors_origins=tuple(args.cors_origin),
        api_key_scope=args.api_key_scope,
        weaviate_without_key=args.weaviate_without_key,
        log_level=args.log_level,
    )
    values.update({key: getattr(args, key) for key in ("device", "dtype", "precision") if getattr(args, key)})
    models = parse_models(args.model)
    if args.address and not args.ray:
        raise ConfigError("--address joins a Ray cluster and needs --ray")
    try:
        if models and not args.config:
            settings = ServerSettings(models=models, ray=_ray_from_args(args, RayConfig()), **values)
        else:
            config = load_config(args.config)
            values["ray"] = _ray_from_args(args, config.ray)
            settings = ServerSettings.from_config(config, **values)
            if models:
                settings = settings.model_copy(update={"models": {**models, **settings.models}})
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "settings"
        raise ConfigError(f"{field}: {problem['msg']}") from None
    check_servable(settings)
    return settings


def check_servable(settings: ServerSettings) -> None:
    """A ConfigError, before the port is bound, for a model name the server cannot load."""
    registered = get_reranker_registry().plugin_names()
    for alias, model in settings.models.items():
        if is_remote_model(model):
            continue
        if model.strip().lower() in registered and model.strip().lower() not in MODEL_ALIASES:
            raise ConfigError(
                f"model {alias!r}: {model!r} is a reranker of plugin {registered[model.strip().lower()]!r}; "
                "vecrank serve serves cross-encoders: an alias (vecrank models), a local folder or a hub id"
            )
        try:
            resolve_model(model, registered)
        except ModelError as error:
            raise ConfigError(f"model {alias!r}: {error}") from None


def _ray_from_args(args: argparse.Namespace, ray: RayConfig) -> RayConfig:
    """``ray`` with ``--replicas`` and ``--gpus-per-replica`` applied to its defaults."""
    update = {"num_replicas": args.replicas, "num_gpus": args.gpus_per_replica}
    update = {key: value for key, value in update.items() if value is not None}
    if not update:
        return ray
    defaults = RayDeployment(**{**ray.defaults.model_dump(exclude_unset=True), **update})
    return ray.model_copy(update={"defaults": defaults})


def run_serve(args: argparse.Namespace) -> int:
    """Run ``vecrank serve`` with parsed arguments until interrupted; returns the exit status."""
    settings = settings_from_args(args)
    from ..plugins import check_model_available

    for model in dict.fromkeys(settings.models.values()):
        check_model_available(model)  # in seconds, before a port is bound or a Ray started
    if args.ray:
        from .ray import serve_on_ray

        serve_on_ray(settings, address=args.address, verbose=getattr(args, "verbose", False))
        return 0
    from .runner import serve

    serve(settings)
    return 0
