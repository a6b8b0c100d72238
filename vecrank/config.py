"""The settings schema: reranking settings per collection over defaults (validated by pydantic).

:mod:`vecrank.config_loading` reads them from a TOML file, a dict or ``VECRANK_CONFIG``:

[defaults]
model = "ettin-17m"

[collections.docs]
model = "ettin-150m"
candidates = 50
text_field = "body"

[collections.faq]                       # a cascade: 17m reads 200 hits, 1b the best 30
candidates = 200
stages = [{model = "ettin-17m", keep = 30}, {model = "ettin-1b"}]

[collections.support]                   # a yes/no reranker told what counts as relevant
model = "qwen3-reranker-0.6b"
instruction = "Given a support question, retrieve the answer that resolves it"

[capture]                               # record reranked searches (query text too) for distillation
enabled = true
path = "traffic/searches.jsonl"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .cascade import check_stages, parse_stages
from .errors import ConfigError


class Stage(BaseModel):
    """One stage of a cascade: a model, and how many of its best hits go on to the next stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    keep: int | None = Field(None, ge=1, description="hits passed on to the next stage (all but the last)")
    max_length: int | None = Field(None, ge=1, description="tokens per pair in this stage")
    instruction: str | None = Field(None, description="task instruction of this stage's yes/no reranker")
    prompt_template: str | None = Field(None, description="prompt template of this stage's causal LM")


class RemoteConfig(BaseModel):
    """How to call a reranking service when ``model`` is its URL (``[collections.<name>.remote]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["vecrank", "tei", "cohere", "jina"] = "vecrank"
    model: str | None = Field(None, description="model name sent to the service (vecrank, Cohere, Jina)")
    api_key_env: str | None = Field(
        None, description="environment variable holding the API key; default per protocol"
    )
    timeout: float = Field(10.0, gt=0, description="seconds to wait for one HTTP request")
    retries: int = Field(3, ge=0, le=10, description="retries on 429, 503 and refused connections")
    backoff: float = Field(0.25, ge=0, description="seconds before the first retry, doubled after each")
    max_retry_wait: float = Field(10.0, ge=0, description="longest wait for one retry (Retry-After)")
    max_documents: int | None = Field(
        None, ge=1, description="documents per request, larger ones are split; default per protocol"
    )


class CollectionConfig(BaseModel):
    """How one collection's results are reranked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True, description="false: never rerank; in [defaults], true: rerank every collection's text searches"
    )
    model: str = "ettin-17m"
    candidates: int | None = Field(
        None, ge=1, description="hits to over-fetch; default candidates_factor x (offset + limit)"
    )
    candidates_factor: int = Field(4, ge=1)
    max_candidates: int = Field(400, ge=1)
    text_field: str = "text"
    template: str | None = Field(
        None, description="str.format template over the payload, e.g. '{title}: {body}'"
    )
    max_length: int | None = Field(None, ge=1)
    batch_tokens: int | None = Field(None, ge=16, description="engine default: 16384 on GPU, 4096 on CPU")
    normalize: Literal["none", "sigmoid", "minmax"] = "none"
    min_score: float | None = None
    fusion: Literal["none", "weighted", "rrf"] = "none"
    fusion_weight: float = Field(0.5, ge=0.0, le=1.0, description="weight of the reranker score")
    rrf_k: int = Field(60, ge=1)
    on_error: Literal["raise", "passthrough"] = "raise"
    on_missing_text: Literal["raise", "last"] = "raise"
    device: str | None = None
    dtype: str | None = Field(
        None, description="auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16; on CPU int8 or int8-per-token"
    )
    precision: Literal["exact", "fast"] = Field(
        "exact",
        description="CPU tier when dtype is auto: exact (fp32) or fast (the fastest tier of this CPU "
        "whose ranking agrees with fp32)",
    )
    trust_remote_code: bool = False
    instruction: str | None = Field(
        None, description="task instruction of a yes/no reranker (Qwen3-Reranker, mxbai-rerank-v2)"
    )
    prompt_template: str | None = Field(
        None, description="prompt template for a causal LM that is not recognised as a reranker by name"
    )
    remote: RemoteConfig = RemoteConfig()
    capture: bool = Field(True, description="false: never record this collection's searches ([capture])")
    stages: tuple[Stage, ...] | None = Field(
        None, description="a cascade instead of one model: each stage reranks the hits the one before kept"
    )

    @field_validator("stages")
    @classmethod
    def _check_stages(cls, stages: tuple[Stage, ...] | None) -> tuple[Stage, ...] | None:
        if stages is not None:
            check_stages([(stage.model, stage.keep) for stage in stages])
        return stages

    @model_validator(mode="after")
    def _model_or_stages(self) -> CollectionConfig:
        if self.stages is not None and "model" in self.model_fields_set:
            raise ValueError("set either `model` or `stages`, not both")
        for key in ("instruction", "prompt_template"):
            if self.stages is not None and getattr(self, key) is not None:
                raise ValueError(
                    f"a cascade sets `{key}` on the stage whose model takes it, not on the collection"
                )
        return self

    @property
    def label(self) -> str:
        """The model's name, or the cascade's as ``vecrank eval`` takes it: ``ettin-17m@30>ettin-1b``."""
        if self.stages is None:
            return self.model
        return ">".join(f"{s.model}@{s.keep}" if s.keep else s.model for s in self.stages)

    def stage_settings(self) -> list[tuple[CollectionConfig, int | None]]:
        """Each stage's settings (one model each) and its ``keep``; one model is a one-stage cascade."""
        if self.stages is None:
            return [(self, None)]
        settings = []
        for stage in self.stages:
            update = {
                "model": stage.model,
                "stages": None,
                "max_length": stage.max_length or self.max_length,
                "instruction": stage.instruction,
                "prompt_template": stage.prompt_template,
            }
            settings.append((self.model_copy(update=update), stage.keep))
        return settings

    def candidate_count(self, wanted: int) -> int:
        """How many hits to fetch from the database for ``wanted`` = offset + limit."""
        count = self.candidates if self.candidates is not None else self.candidates_factor * wanted
        return max(wanted, min(count, self.max_candidates))


_FIELDS = set(CollectionConfig.model_fields)


class RayDeployment(BaseModel):
    """How ``vecrank serve --ray`` deploys one model: a fixed replica count or autoscaling bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_replicas: int = Field(1, ge=1, description="replicas when not autoscaling")
    min_replicas: int | None = Field(None, ge=0, description="autoscaling lower bound (with max_replicas)")
    max_replicas: int | None = Field(None, ge=1, description="autoscaling upper bound; enables autoscaling")
    target_ongoing_requests: float = Field(16, gt=0, description="requests per replica autoscaling aims at")
    num_gpus: float = Field(0, ge=0, description="GPUs per replica; fractions share one GPU")
    num_cpus: float = Field(1, ge=0, description="CPUs per replica")
    max_ongoing_requests: int = Field(
        64, ge=1, description="requests one replica takes at once; its micro-batcher merges them"
    )

    @model_validator(mode="after")
    def _check(self) -> RayDeployment:
        low, high = self.min_replicas, self.max_replicas
        if low is not None and high is None:
            raise ValueError("min_replicas needs max_replicas (autoscaling bounds)")
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_replicas ({low}) is larger than max_replicas ({high})")
        return self


class RayConfig(BaseModel):
    """``[ray.defaults]`` for every model, ``[ray.models."<model>"]`` overrides per model name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: RayDeployment = RayDeployment()
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    ingress_replicas: int = Field(1, ge=1, description="replicas of the HTTP ingress")
    ingress_cpus: float = Field(
        0, ge=0, description="CPUs reserved per ingress replica (it mostly waits on the model replicas)"
    )

    def for_model(self, name: str) -> RayDeployment:
        """The deployment of model ``name``: its overrides over the defaults."""
        overrides = self.models.get(name, {})
        try:
            return RayDeployment(**{**self.defaults.model_dump(exclude_unset=True), **overrides})
        except ValidationError as error:
            raise ConfigError(f"[ray.models.{name!r}]: {validation_message(error)}") from None


class CaptureConfig(BaseModel):
    """``[capture]``: record reranked searches (query, hits, both scores) to a JSONL file; off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    path: Path | None = Field(None, description="the JSONL file; rotated to path.1, path.2, ...")
    sample_rate: float = Field(1.0, ge=0.0, le=1.0, description="share of searches recorded, 0..1")
    max_bytes: int = Field(100 * 1024 * 1024, ge=1024, description="size at which the file rotates to path.1")
    backups: int = Field(3, ge=0, description="rotated files kept: path.1 (newest) .. path.<backups>")
    keep_texts: bool = Field(False, description="store each hit's text, not only its id")
    queue_size: int = Field(1000, ge=1, description="records waiting for the writer; more are dropped")

    @model_validator(mode="after")
    def _path_when_enabled(self) -> CaptureConfig:
        if self.enabled and self.path is None:
            raise ValueError("`enabled = true` needs `path`, the JSONL file to write")
        return self


class VecrankConfig(BaseModel):
    """Defaults plus overrides per collection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: CollectionConfig = CollectionConfig()
    collections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    strict_collections: bool = Field(
        False, description="reject collections that are not listed instead of using defaults"
    )
    ray: RayConfig = RayConfig()
    capture: CaptureConfig = CaptureConfig()

    def enables(self, name: str) -> bool:
        """Whether searches on ``name`` are reranked by their own text, unasked.

        True for a collection listed under ``[collections]`` (unless ``enabled = false``), or for every
        collection when ``[defaults]`` sets ``enabled = true``. Otherwise only calls that ask
        (``rerank_query=``, ``Rerank(...)``) are reranked.
        """
        if name in self.collections:
            return self.for_collection(name).enabled
        return "enabled" in self.defaults.model_fields_set and self.defaults.enabled

    def for_collection(self, name: str) -> CollectionConfig:
        """Settings for ``name``: its overrides over the defaults."""
        if name not in self.collections:
            if self.strict_collections:
                known = ", ".join(sorted(self.collections)) or "none"
                raise ConfigError(f"collection {name!r} is not configured (configured: {known})")
            return self.defaults
        overrides = self.collections[name]
        unknown = sorted(set(overrides) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"collection {name!r}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(_FIELDS))})"
            )
        base = self.defaults.model_dump(exclude_unset=True)
        # A collection's `model` replaces a default cascade, and its `stages` a default model; either
        # drops the default model's instruction and prompt template.
        base.pop("stages" if "model" in overrides else "model" if "stages" in overrides else "", None)
        if "model" in overrides or "stages" in overrides:
            base.pop("instruction", None)
            base.pop("prompt_template", None)
        try:
            return CollectionConfig(**{**base, **overrides})
        except ValidationError as error:
            raise ConfigError(f"collection {name!r}: {validation_message(error)}") from None


def validation_message(error: ValidationError) -> str:
    """The first problem of ``error``, naming its key: ``key 'candidates': ... (got 0)``."""
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "value_error":  # our own checks say what they got
        return f"key {'.'.join(map(str, first['loc']))!r}: {message}" if first["loc"] else message
    key = ".".join(str(part) for part in first["loc"]) or "value"
    return f"key {key!r}: {message} (got {first.get('input')!r})"


def reranker_settings(name: str) -> dict[str, Any]:
    """Config keys for a reranker named on the command line: a model, or a cascade ``a@30>b``."""
    stages = parse_stages(name)
    if len(stages) == 1:
        return {"model": name}
    return {
        "stages": [{"model": model, "keep": keep} if keep else {"model": model} for model, keep in stages]
    }
