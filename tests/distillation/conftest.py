"""Fixtures shared by the distillation tests: a tiny teacher and a tiny student."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny BERT teacher and a differently seeded student."""
    from vecrank.testing.tiny_models import build_tiny_model

    root = tmp_path_factory.mktemp("distill-models")
    return {
        name: build_tiny_model("bert", root / name, seed=seed)
        for name, seed in (("teacher", 1), ("student", 2))
    }
