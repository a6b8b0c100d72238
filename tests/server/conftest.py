"""Fixtures for the server tests: a real tiny model, a running server on loopback, shared test data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import API_KEY, AUTH, DOCUMENTS, QUERIES, GatedReranker

from vecrank.core import CrossEncoderReranker, get_reranker
from vecrank.server import ServerSettings, running_server


@pytest.fixture(scope="session")
def model_path(tiny_bert: Path) -> str:
    return str(tiny_bert)


@pytest.fixture(scope="session")
def reranker(model_path: str) -> CrossEncoderReranker:
    return get_reranker(model_path)


@pytest.fixture(scope="session")
def expected(reranker: CrossEncoderReranker) -> dict[tuple[str, str], float]:
    """The engine's direct logit for every (query, document) of the test data, in one offline call."""
    pairs = [(query, document) for query in QUERIES for document in DOCUMENTS]
    return dict(zip(pairs, reranker.predict(pairs).tolist()))


@pytest.fixture(scope="session")
def settings(model_path: str) -> ServerSettings:
    """Small limits so that the limit tests stay small."""
    return ServerSettings(
        models={"tiny": model_path, "rerank-v3.5": model_path},
        port=0,
        api_key=API_KEY,
        max_documents=64,
        max_document_chars=2_000,
        max_query_chars=500,
        max_request_bytes=200_000,
        queue_size=4_096,
    )


@pytest.fixture(scope="module")
def base_url(settings: ServerSettings) -> Iterator[str]:
    with running_server(settings) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as client:
        yield client


@pytest.fixture
def gated(reranker: CrossEncoderReranker) -> Iterator[GatedReranker]:
    """A fresh gated wrapper around the tiny model; opened at teardown so that no thread hangs."""
    wrapper = GatedReranker(reranker)
    yield wrapper
    wrapper.gate.set()
