"""What the adapter and integration tests share: an engine of their own, one torch thread, plugins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

import vecrank
from vecrank.plugins import register_plugin, unregister_plugin


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


@contextmanager
def registered(plugin: Any, name: str) -> Iterator[Any]:
    """``plugin`` registered as ``name`` for the duration of the block."""
    register_plugin(plugin, name=name)
    try:
        yield plugin
    finally:
        unregister_plugin(name)


class EngineCalls:
    """Records the collection, pair count and settings of every ``vecrank_rerank`` call; the built-in
    engine scores."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.configs: list[Any] = []

    @property
    def pairs(self) -> list[int]:
        """The pair count of each call."""
        return [count for _, count in self.calls]

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        self.calls.append((collection, len(pairs)))
        self.configs.append(config)


class BrokenEngine:
    """A reranker that fails."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        raise RuntimeError("engine out of memory")
