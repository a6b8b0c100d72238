"""Load a :class:`VecrankConfig` from a TOML file, a dict or ``$VECRANK_CONFIG``, model names checked.

It sits above the plugins: a model name is valid when it is an alias, a folder, a hub id, a
URL, or a reranker that a plugin registered.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from .config import CollectionConfig, VecrankConfig, validation_message
from .errors import ConfigError
from .plugins import check_model_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_VAR = "VECRANK_CONFIG"
_FIELDS = set(CollectionConfig.model_fields)


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
            f"{origin}: unknown top-level key {unknown[0]!r} "
            "(use [defaults], [collections.<name>], [ray] and [capture])"
        )
    defaults = data.get("defaults", {})
    if isinstance(defaults, Mapping):
        bad = sorted(set(defaults) - _FIELDS)
        if bad:
            raise ConfigError(f"{origin}: [defaults]: unknown key {bad[0]!r}")
    try:
        config = VecrankConfig(**data)
    except ValidationError as error:
        raise ConfigError(f"{origin}: {validation_message(error)}") from None
    try:
        for name in config.collections:
            config.for_collection(name)
        for name in config.ray.models:
            config.ray.for_model(name)
    except ConfigError as error:
        raise ConfigError(f"{origin}: {error}") from None
    check_models(config, origin)
    return config


def check_models(config: VecrankConfig, origin: str) -> None:
    """A :class:`ConfigError` for a model name that names nothing (with close matches), before any load."""
    sections = {"[defaults]": config.defaults}
    sections.update({f"collection {name!r}": config.for_collection(name) for name in config.collections})
    for section, settings in sections.items():
        key = "model" if settings.stages is None else "stages"
        for stage, _ in settings.stage_settings():
            try:
                check_model_name(stage.model)
            except ConfigError as error:
                raise ConfigError(f"{origin}: {section}: key {key!r}: {error}") from None
