"""Per-collection reranking settings over defaults, from a TOML file, a dict or ``VECRANK_CONFIG``.

[defaults]
model = "ettin-17m"

[collections.docs]
model = "ettin-150m"
candidates = 50
text_field = "body"
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_VAR = "VECRANK_CONFIG"


class CollectionConfig(BaseModel):
    """How one collection's results are reranked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
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
    dtype: str | None = None
    trust_remote_code: bool = False

    def candidate_count(self, wanted: int) -> int:
        """How many hits to fetch from the database for ``wanted`` = offset + limit."""
        count = self.candidates if self.candidates is not None else self.candidates_factor * wanted
        return max(wanted, min(count, self.max_candidates))


_FIELDS = set(CollectionConfig.model_fields)


class VecrankConfig(BaseModel):
    """Defaults plus overrides per collection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: CollectionConfig = CollectionConfig()
    collections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    strict_collections: bool = Field(
        False, description="reject collections that are not listed instead of using defaults"
    )

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
        try:
            return CollectionConfig(**{**self.defaults.model_dump(exclude_unset=True), **overrides})
        except ValidationError as error:
            raise ConfigError(f"collection {name!r}: {_describe(error)}") from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "value"
    return f"key {key!r}: {first['msg']} (got {first.get('input')!r})"


def load_config(source: str | os.PathLike | Mapping | VecrankConfig | None = None) -> VecrankConfig:
    """Build a :class:`VecrankConfig` from a TOML path, a dict, an existing config, or ``$VECRANK_CONFIG``."""
    if isinstance(source, VecrankConfig):
        check_models(source, "config")
        return source
    if source is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            return VecrankConfig()
        source = env
    if isinstance(source, Mapping):
        data, origin = dict(source), "config dict"
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {error}") from None
        origin = f"config file {str(path)!r}"
    return _validate(data, origin)


def _validate(data: dict, origin: str) -> VecrankConfig:
    unknown = sorted(set(data) - set(VecrankConfig.model_fields))
    if unknown:
        raise ConfigError(
            f"{origin}: unknown top-level key {unknown[0]!r} (use [defaults] and [collections.<name>])"
        )
    defaults = data.get("defaults", {})
    if isinstance(defaults, Mapping):
        bad = sorted(set(defaults) - _FIELDS)
        if bad:
            raise ConfigError(f"{origin}: [defaults]: unknown key {bad[0]!r}")
    try:
        config = VecrankConfig(**data)
    except ValidationError as error:
        raise ConfigError(f"{origin}: {_describe(error)}") from None
    try:
        for name in config.collections:
            config.for_collection(name)
    except ConfigError as error:
        raise ConfigError(f"{origin}: {error}") from None
    check_models(config, origin)
    return config


def check_models(config: VecrankConfig, origin: str) -> None:
    """A :class:`ConfigError` for a model name that names nothing (with close matches), before any load."""
    from .plugins import check_model_name

    sections = {"[defaults]": config.defaults}
    sections.update({f"collection {name!r}": config.for_collection(name) for name in config.collections})
    for section, settings in sections.items():
        try:
            check_model_name(settings.model)
        except ConfigError as error:
            raise ConfigError(f"{origin}: {section}: key 'model': {error}") from None
