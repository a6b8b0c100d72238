"""Ray Serve settings: the ``[ray]`` config table and the ``vecrank serve --ray`` options (no Ray needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vecrank.config import RayDeployment
from vecrank.config_loading import load_config
from vecrank.errors import ConfigError
from vecrank.server import add_serve_arguments, settings_from_args

CONFIG = """
[defaults]
model = "ettin-17m"

[collections.docs]
model = "ettin-150m"

[ray]
ingress_replicas = 2

[ray.defaults]
num_gpus = 0.25
max_ongoing_requests = 128

[ray.models."ettin-150m"]
min_replicas = 1
max_replicas = 8
num_gpus = 1
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_ray_table_sets_each_model_over_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "vecrank.toml"
    path.write_text(CONFIG)
    settings = settings_from_args(parse("--config", str(path), "--ray"))
    assert settings.ray.ingress_replicas == 2
    assert settings.ray.for_model("ettin-17m") == RayDeployment(num_gpus=0.25, max_ongoing_requests=128)
    big = settings.ray.for_model("ettin-150m")
    assert (big.min_replicas, big.max_replicas, big.num_gpus, big.max_ongoing_requests) == (1, 8, 1, 128)


def test_replicas_and_gpus_options_change_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "vecrank.toml"
    path.write_text(CONFIG)
    settings = settings_from_args(
        parse("--config", str(path), "--ray", "--replicas", "3", "--gpus-per-replica", "0.5")
    )
    small = settings.ray.for_model("ettin-17m")
    assert (small.num_replicas, small.num_gpus, small.max_ongoing_requests) == (3, 0.5, 128)
    assert settings.ray.for_model("ettin-150m").num_gpus == 1  # a model's own setting wins
    plain = settings_from_args(parse("--model", "ettin-17m", "--ray", "--replicas", "2"))
    assert plain.ray.for_model("ettin-17m").num_replicas == 2


@pytest.mark.parametrize(
    ("ray", "message"),
    [
        ({"models": {"m": {"num_gpu": 1}}}, r"\[ray.models.'m'\]: key 'num_gpu'"),
        ({"models": {"m": {"min_replicas": 4, "max_replicas": 2}}}, r"min_replicas \(4\) is larger"),
        ({"defaults": {"num_gpus": -1}}, r"num_gpus"),
    ],
)
def test_bad_ray_settings_name_the_key(ray: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({"ray": ray})


def test_address_needs_ray() -> None:
    with pytest.raises(ConfigError, match="--address .* needs --ray"):
        settings_from_args(parse("--model", "ettin-17m", "--address", "auto"))
    with pytest.raises(ConfigError, match="num_replicas"):
        settings_from_args(parse("--model", "ettin-17m", "--ray", "--replicas", "0"))


def test_serve_ray_hands_the_settings_and_address_to_ray_serve(
    monkeypatch: pytest.MonkeyPatch, tiny_bert
) -> None:
    pytest.importorskip("ray.serve")
    from vecrank.server import ray as ray_module

    calls = []
    monkeypatch.setattr(
        ray_module, "serve_on_ray", lambda settings, address, verbose: calls.append((settings, address))
    )
    from vecrank.cli import main

    model = f"small={tiny_bert}"  # a model on this machine: serve checks that before Ray starts
    assert main(["serve", "--ray", "--address", "auto", "--model", model, "--replicas", "2"]) == 0
    [(settings, address)] = calls
    assert address == "auto"
    assert settings.models["small"] == str(tiny_bert)
    assert settings.ray.for_model(str(tiny_bert)).num_replicas == 2
