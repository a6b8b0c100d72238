"""Test data and helpers shared by the server tests."""

from __future__ import annotations

import threading

import numpy as np

from vecrank.core import CrossEncoderReranker

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


class GatedReranker:
    """A real reranker whose ``predict`` waits for ``gate`` and records the pairs of every call."""

    def __init__(self, reranker: CrossEncoderReranker) -> None:
        self.reranker = reranker
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[list[tuple[str, str]]] = []

    def __getattr__(self, name: str):
        return getattr(self.reranker, name)

    def predict(self, pairs, **kwargs) -> np.ndarray:
        self.calls.append(list(pairs))
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("test gate never opened")
        return self.reranker.predict(pairs, **kwargs)
