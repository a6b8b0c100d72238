"""Fixtures the framework integration tests share: the tiny reranker's folder and an engine of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from engine_fixtures import engine, one_torch_thread  # noqa: F401

# Haystack reads this when it is imported: no usage reports from the tests.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")


@pytest.fixture(scope="module")
def model(tiny_bert: Path) -> str:
    """The tiny BERT cross-encoder's folder, as a config names it."""
    return str(tiny_bert)
