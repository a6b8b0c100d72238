"""Plugins the adapter tests register to watch or break the engine."""

from __future__ import annotations

import vecrank


class EngineCalls:
    """Records the pair count of every ``vecrank_rerank`` call and leaves scoring to the built-in engine."""

    def __init__(self) -> None:
        self.pairs: list[int] = []

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        self.pairs.append(len(pairs))


class BrokenEngine:
    """A reranker that fails."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        raise RuntimeError("engine out of memory")
