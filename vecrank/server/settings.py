"""What ``vecrank serve`` runs: the models it offers under which names, its limits and its queue."""

from __future__ import annotations

import logging
import os
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..config import CaptureConfig, RayConfig, VecrankConfig

DEFAULT_ALIAS = "default"

logger = logging.getLogger("vecrank.server")


class ServerSettings(BaseModel):
    """Settings of one server process; ``models`` maps a request's ``model`` name to a reranker.

    The first entry of ``models`` is the default, used by requests that name no model (the
    Weaviate module and TEI protocols) and also offered as ``"default"``. A model given by its
    folder with no name of its own is served under the folder's name, never its path.

    ``api_key`` covers the reranking routes, ``/meta`` and ``/metrics``; with ``api_key_scope="all"``
    also ``/health``, ``/docs``, ``/redoc`` and ``/openapi.json`` (the ``/.well-known`` probes stay
    open). ``weaviate_without_key`` serves the Weaviate module's requests (``/rerank`` with
    ``documents`` or ``property``, ``/meta``), which cannot carry a key, without one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    models: dict[str, str] = Field(min_length=1, description="alias -> model alias, folder or hub id")
    device: str | None = None
    dtype: str | None = None
    precision: Literal["exact", "fast"] = "exact"
    attention: str = "auto"
    trust_remote_code: bool = False
    api_key: SecretStr | None = Field(None, description="required as 'Authorization: Bearer <key>'")
    api_key_scope: Literal["api", "all"] = Field(
        "api", description="api: reranking, /meta, /metrics; all: also /health and the docs"
    )
    weaviate_without_key: bool = Field(False, description="the Weaviate module's requests need no key")
    cors_origins: tuple[str, ...] = ()
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="size of one request body")
    max_documents: int = Field(10_000, ge=1, description="documents in one request (Cohere's limit)")
    max_document_chars: int = Field(100_000, ge=1)
    max_query_chars: int = Field(8_192, ge=1, description="about Cohere's 2,048 query tokens")
    queue_size: int = Field(32_768, ge=1, description="pairs waiting for the engine; more get 429")
    max_wait_ms: float = Field(2.0, ge=0, le=1000, description="how long a batch waits to fill up")
    merge_tokens: int = Field(65_536, ge=16, description="tokens (estimated) merged into one engine call")
    batch_tokens: int | None = Field(
        None, ge=16, description="token budget of one forward pass (engine default)"
    )
    chunk_tokens: int | None = Field(
        None,
        ge=16,
        description="tokens (estimated) of one request in one engine call; larger requests take turns "
        "(default: one round of the engine's forward passes)",
    )
    max_body_bytes_in_flight: int | None = Field(
        None,
        ge=1024,
        description="bytes of request bodies held at once over every connection; a body past it gets 429 "
        "(default: 4 x max_request_bytes)",
    )
    max_connections: int = Field(512, ge=1, description="open connections; more are refused with 503")
    max_header_bytes: int = Field(
        16_384, ge=1024, description="bytes of one request's headers (uvicorn h11_max_incomplete_event_size)"
    )
    header_timeout: float = Field(
        10.0, gt=0, description="seconds to receive a request's headers; a slower connection is closed"
    )
    body_timeout: float = Field(
        60.0, gt=0, description="seconds to receive a request's body; a slower connection is closed"
    )
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="seconds an idle keep-alive connection stays open (uvicorn timeout_keep_alive)"
    )
    shutdown_timeout: float = Field(30.0, gt=0, description="seconds to finish requests in flight")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    ray: RayConfig = Field(RayConfig(), description="replicas and resources per model on Ray Serve")
    capture: CaptureConfig = Field(CaptureConfig(), description="record the answered requests ([capture])")

    @field_validator("models", mode="before")
    @classmethod
    def _served_names(cls, models: Any) -> Any:
        """A folder path used as its own name is served under the folder's name."""
        if not isinstance(models, dict):
            return models
        named: dict[str, Any] = {}
        for name, model in models.items():
            served = served_name(name) if name == model else name
            if served in named and named[served] != model:
                raise ValueError(f"two models would be served as {served!r}; name them with NAME=MODEL")
            named[served] = model
        return named

    @model_validator(mode="after")
    def _check(self) -> ServerSettings:
        if self.max_documents > self.queue_size:
            raise ValueError(
                f"queue_size ({self.queue_size}) must hold at least "
                f"max_documents ({self.max_documents}) pairs"
            )
        return self

    @property
    def body_budget(self) -> int:
        """Bytes of request bodies the server holds at once."""
        return self.max_body_bytes_in_flight or 4 * self.max_request_bytes

    @property
    def default_alias(self) -> str:
        return next(iter(self.models))

    @property
    def aliases(self) -> dict[str, str]:
        """Every name a request may use: the configured aliases plus ``"default"``."""
        return {**self.models, DEFAULT_ALIAS: self.models[self.default_alias]}

    @classmethod
    def from_config(cls, config: VecrankConfig, **overrides: Any) -> ServerSettings:
        """Models, device, dtype, batch budget, [ray] and [capture] of a config; ``overrides`` win."""
        defaults = config.defaults
        values: dict[str, Any] = {
            "models": models_from_config(config),
            "device": defaults.device,
            "dtype": defaults.dtype,
            "precision": defaults.precision,
            "trust_remote_code": defaults.trust_remote_code,
            "batch_tokens": defaults.batch_tokens,
            "ray": config.ray,
            "capture": config.capture,
        }
        return cls(**{**values, **overrides})


def models_from_config(config: VecrankConfig) -> dict[str, str]:
    """``default`` and each enabled collection map to their model; each model is also offered by its name.

    A cascade's stages are offered by their own names only: one request gets one model's scores.
    """
    sections = {DEFAULT_ALIAS: config.defaults}
    for name in config.collections:
        section = config.for_collection(name)
        if section.enabled:
            sections.setdefault(name, section)
    models = {}
    for name, section in sections.items():
        if section.stages is None:
            models.setdefault(name, section.model)
        else:
            logger.info("%r is a cascade (%s): serving its stages by their own names", name, section.label)
    for section in sections.values():
        for stage, _ in section.stage_settings():
            models.setdefault(stage.model, stage.model)
    return models


def served_name(model: str) -> str:
    """The name a model is served under: a folder's own name for a local path, else ``model``."""
    path = PurePath(model)
    if model.startswith((".", "~", os.sep)) or path.is_absolute() or os.path.isdir(model):
        return path.name or model
    return model
