"""Server settings from a vecrank config and from ``vecrank serve`` arguments; Prometheus rendering."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

from vecrank.config_loading import load_config
from vecrank.errors import ConfigError
from vecrank.server import ServerSettings, add_serve_arguments, settings_from_args
from vecrank.server.auth import bearer_matches
from vecrank.server.cli import parse_models
from vecrank.server.metrics import Metrics

CONFIG = """
[defaults]
model = "ettin-17m"
device = "cpu"
batch_tokens = 4096

[collections.docs]
model = "ettin-150m"

[collections.faq]
candidates = 20
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_models_come_from_the_default_and_every_collection() -> None:
    settings = ServerSettings.from_config(
        load_config(
            {
                "defaults": {"model": "org/a"},
                "collections": {"docs": {"model": "org/b"}, "logs": {"model": "org/c", "enabled": False}},
            }
        )
    )
    assert settings.models == {"default": "org/a", "docs": "org/b", "org/a": "org/a", "org/b": "org/b"}
    assert settings.default_alias == "default"


def test_config_file_and_cli_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vecrank.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("VECRANK_API_KEY", "from-env")
    settings = settings_from_args(
        parse(
            "--config",
            str(config),
            "--model",
            "rerank-v3.5=ettin-32m",
            "--port",
            "9000",
            "--max-wait-ms",
            "5",
        )
    )
    assert list(settings.models)[0] == "rerank-v3.5"  # --model first: it is the default
    assert settings.aliases["default"] == "ettin-32m"
    assert settings.models["docs"] == "ettin-150m" and settings.models["faq"] == "ettin-17m"
    assert (settings.port, settings.max_wait_ms, settings.device, settings.batch_tokens) == (
        9000,
        5.0,
        "cpu",
        4096,
    )
    assert settings.api_key.get_secret_value() == "from-env"


def test_model_arguments_alone(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    settings = settings_from_args(
        parse("--model", str(folder), "--model", "fast=ettin-17m", "--api-key", "k")
    )
    assert settings.models == {"tiny": str(folder), "fast": "ettin-17m"}  # served by name, not path
    assert settings.max_documents == 10_000 and settings.host == "127.0.0.1"
    assert settings.api_key.get_secret_value() == "k"
    assert settings.api_key_scope == "api" and not settings.weaviate_without_key


def test_key_scope_weaviate_and_chunk_options() -> None:
    argv = ["--model", "org/m", "--api-key", "k", "--api-key-scope", "all", "--weaviate-without-key"]
    settings = settings_from_args(parse(*argv, "--chunk-tokens", "2048"))
    assert (settings.api_key_scope, settings.weaviate_without_key, settings.chunk_tokens) == (
        "all",
        True,
        2048,
    )


def test_two_folders_of_one_name_need_names() -> None:
    with pytest.raises(ConfigError, match="NAME=MODEL"):
        settings_from_args(parse("--model", "/a/tiny", "--model", "/b/tiny"))


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="queue_size"):
        settings_from_args(parse("--model", "m", "--queue-size", "10", "--max-documents", "20"))
    with pytest.raises(ConfigError, match="max_wait_ms"):
        settings_from_args(parse("--model", "m", "--max-wait-ms", "-1"))
    with pytest.raises(ConfigError, match="NAME=MODEL"):
        parse_models(["fast="])
    with pytest.raises(ValidationError):
        ServerSettings(models={})


def test_model_names_are_checked_before_serving() -> None:
    with pytest.raises(ConfigError, match="did you mean 'ettin-17m'"):
        settings_from_args(parse("--model", "ettin-17"))
    with pytest.raises(ConfigError, match="plugin 'vecrank.plugins.bi_encoder'; vecrank serve serves"):
        settings_from_args(parse("--model", "minilm-bi"))


def test_bearer_token_comparison() -> None:
    assert bearer_matches("Bearer secret", "secret")
    assert bearer_matches("bearer secret", "secret")
    assert not bearer_matches("Bearer secre", "secret")
    assert not bearer_matches("Basic secret", "secret")
    assert not bearer_matches("secret", "secret")
    assert not bearer_matches("Bearer sécret", "secret")


def test_metrics_render_prometheus_text() -> None:
    metrics = Metrics(lambda: {"m": 3})
    metrics.record_request("tei", 200, 0.02)
    metrics.record_request("tei", 200, 3.0)
    metrics.record_batch("m", 40)
    metrics.record_dropped("m", 2)
    text = metrics.render()
    assert 'vecrank_requests_total{code="200",protocol="tei"} 2' in text
    assert 'vecrank_request_duration_seconds_bucket{protocol="tei",le="0.025"} 1' in text
    assert 'vecrank_request_duration_seconds_bucket{protocol="tei",le="+Inf"} 2' in text
    assert 'vecrank_request_duration_seconds_sum{protocol="tei"} 3.02' in text
    assert 'vecrank_batch_pairs_bucket{model="m",le="32"} 0' in text
    assert 'vecrank_batch_pairs_bucket{model="m",le="64"} 1' in text
    assert 'vecrank_pairs_total{model="m"} 40' in text
    assert 'vecrank_dropped_pairs_total{model="m"} 2' in text
    assert 'vecrank_queue_pairs{model="m"} 3' in text
    assert "# TYPE vecrank_request_duration_seconds histogram" in text
