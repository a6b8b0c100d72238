"""What ``vecrank serve`` runs: the models it offers under which names, its limits and its queue."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ..config import VecrankConfig

DEFAULT_ALIAS = "default"


class ServerSettings(BaseModel):
    """Settings of one server process; ``models`` maps a request's ``model`` name to a reranker.

    The first entry of ``models`` is the default, used by requests that name no model (the
    Weaviate module and TEI protocols) and also offered as ``"default"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    models: dict[str, str] = Field(min_length=1, description="alias -> model alias, folder or hub id")
    device: str | None = None
    dtype: str | None = None
    attention: str = "auto"
    trust_remote_code: bool = False
    api_key: SecretStr | None = Field(None, description="required as 'Authorization: Bearer <key>'")
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
    shutdown_timeout: float = Field(30.0, gt=0, description="seconds to finish requests in flight")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _check(self) -> ServerSettings:
        if self.max_documents > self.queue_size:
            raise ValueError(
                f"queue_size ({self.queue_size}) must hold at least "
                f"max_documents ({self.max_documents}) pairs"
            )
        return self

    @property
    def default_alias(self) -> str:
        return next(iter(self.models))

    @property
    def aliases(self) -> dict[str, str]:
        """Every name a request may use: the configured aliases plus ``"default"``."""
        return {**self.models, DEFAULT_ALIAS: self.models[self.default_alias]}

    @classmethod
    def from_config(cls, config: VecrankConfig, **overrides: Any) -> ServerSettings:
        """Models, device, dtype and batch budget from a :class:`VecrankConfig`; ``overrides`` win."""
        defaults = config.defaults
        values: dict[str, Any] = {
            "models": models_from_config(config),
            "device": defaults.device,
            "dtype": defaults.dtype,
            "trust_remote_code": defaults.trust_remote_code,
            "batch_tokens": defaults.batch_tokens,
        }
        return cls(**{**values, **overrides})


def models_from_config(config: VecrankConfig) -> dict[str, str]:
    """``default`` and each enabled collection map to their model; each model is also served by its name."""
    models = {DEFAULT_ALIAS: config.defaults.model}
    for name in config.collections:
        settings = config.for_collection(name)
        if settings.enabled:
            models.setdefault(name, settings.model)
    for model in list(models.values()):
        models.setdefault(model, model)
    return models
