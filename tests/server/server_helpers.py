"""Test data and helpers shared by the server tests."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np

from vecrank.core import CrossEncoderReranker
from vecrank.server import ServerSettings

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}

QUERIES = [
    "how many people live in berlin",
    "what is the capital of france",
    "best music history book",
    "is the weather sunny in tokyo",
]
DOCUMENTS = [
    "berlin is the capital of germany and has many people",
    "paris is the capital of france",
    "the cat sat on the road",
    "a book about the history of music in london",
    "the weather in tokyo is sunny today",
    "python code for a search server",
    "rain on the sea and the mountain",
    "students read books at school every day",
    "the river runs through the city " * 6,
    "vector database search results are reranked by a cross encoder model",
    "",
    "café, niño, 中文 and straße",
]


def small_settings(model_path: str, **overrides) -> ServerSettings:
    """One tiny model, a free port, the test key; ``overrides`` win."""
    values = {"models": {"tiny": model_path}, "port": 0, "api_key": API_KEY}
    return ServerSettings(**{**values, **overrides})


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def queued(base_url: str) -> int:
    """Pairs waiting for the engine, from /health."""
    return httpx.get(base_url + "/health", headers=AUTH).json()["queue_pairs"]


class GatedReranker:
    """A real reranker whose ``predict`` waits for ``gate`` and records the pairs of every call; a call
    holding a document that contains ``poison`` fails, as an engine failing on one text would."""

    def __init__(self, reranker: CrossEncoderReranker) -> None:
        self.reranker = reranker
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[list[tuple[str, str]]] = []
        self.poison: str | None = None

    def __getattr__(self, name: str):
        return getattr(self.reranker, name)

    def predict(self, pairs, **kwargs) -> np.ndarray:
        self.calls.append(list(pairs))
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("test gate never opened")
        if self.poison and any(self.poison in document for _, document in pairs):
            raise RuntimeError("the engine failed on a poisoned text")
        return self.reranker.predict(pairs, **kwargs)
