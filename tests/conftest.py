"""Shared test fixtures: offline Hugging Face settings and tiny random cross-encoders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach the Hugging Face hub: set before anything imports transformers.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random cross-encoder folder per architecture, built once per session."""
    from vecrank.testing.tiny_models import ARCHITECTURES, build_tiny_model

    root = tmp_path_factory.mktemp("tiny_models")
    return {
        architecture: build_tiny_model(architecture, root / architecture) for architecture in ARCHITECTURES
    }


@pytest.fixture(scope="session")
def tiny_bert(tiny_models: dict[str, Path]) -> Path:
    """The folder of the tiny BERT cross-encoder."""
    return tiny_models["bert"]


@pytest.fixture(scope="session")
def tiny_llm_rerankers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny Qwen3-Reranker-layout folder ("qwen3") and an mxbai-rerank-v2-layout one ("qwen2")."""
    from vecrank.plugins import get_plugin_manager
    from vecrank.testing.tiny_llm_rerankers import build_tiny_llm_reranker

    get_plugin_manager()  # publishes the prompt templates to the engine
    root = tmp_path_factory.mktemp("tiny_llm_rerankers")
    return {
        "qwen3": build_tiny_llm_reranker("qwen3", root / "qwen3-reranker"),
        "qwen2": build_tiny_llm_reranker("qwen2", root / "mxbai-rerank-v2"),
    }


@pytest.fixture(autouse=True)
def _cli_quiet_settings_stay_in_their_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """``vecrank.cli.main`` quiets the libraries through the environment: undo it after each test."""
    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY"):
        value = os.environ.get(name)
        monkeypatch.setenv(name, value or "")  # records the value (or its absence) for teardown
        if value is None:
            monkeypatch.delenv(name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``slow`` unless ``VECRANK_SLOW_TESTS=1`` (``.ci/run full`` sets it)."""
    if os.environ.get("VECRANK_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set VECRANK_SLOW_TESTS=1 (or run .ci/run full)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
