"""Fixtures the framework integration tests share: the tiny reranker's folder and an engine of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import vecrank

# Haystack reads this when it is imported: no usage reports from the tests.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")


@pytest.fixture(scope="module")
def model(tiny_bert: Path) -> str:
    """The tiny BERT cross-encoder's folder, as a config names it."""
    return str(tiny_bert)


@pytest.fixture(scope="module")
def engine(tiny_bert: Path) -> vecrank.CrossEncoderReranker:
    """A reranker of its own on the same model, for the expected scores."""
    return vecrank.CrossEncoderReranker(str(tiny_bert))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The tiny model is fastest on one thread, and does not stall when other processes hold the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
