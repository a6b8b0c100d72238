"""qdrant-client's own tests (vendored in ``qdrant_tests/``, Apache-2.0) against vecrank-wrapped clients.

- Client tests (``test_in_memory``, ``test_local_persistence``, ``test_client_init``): every
  ``QdrantClient`` / ``AsyncQdrantClient`` they build is ``vecrank.wrap``-ped.
- Congruence tests compare two clients call by call. Upstream the pair is local mode and a Qdrant
  server; here it is a plain local client and a wrapped local one (the "remote" role), so every
  operation must give the same result through the wrapper as without it.

The wrapping config is empty: with safe defaults a wrapped client must change nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
import qdrant_client
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_tests.congruence_tests.test_common import (
    delete_fixture_collection,
    init_local,
    initialize_fixture_collection,
)

import vecrank
from vecrank.testing.peers import wrapping_class

CONFIG: dict = {}
# Upstream tests that cannot run here, with the reason (shown as skips).
SERVER_ERRORS = "expects a Qdrant server's UnexpectedResponse from the remote client; both are local here"
TOO_SLOW = "a 1000-point fixture searched dozens of ways: minutes on a 2-core CI runner"
NOT_RUN = {
    "test_dense_query_lookup_from_negative": SERVER_ERRORS,
    "test_query_invalid_vector_type": SERVER_ERRORS,
    "test_query_with_nan": SERVER_ERRORS,
    "test_upload_wrong_vectors": SERVER_ERRORS,
    "test_upsert_without_vector_name": SERVER_ERRORS,
    "test_query_group": TOO_SLOW,
    "test_dense_query": TOO_SLOW,
    "test_dense_query_filtered_prefetch": TOO_SLOW,
    "test_simple_opt_vectors_query": TOO_SLOW,
    "test_formula_query": TOO_SLOW,
    "test_search_with_persistence": TOO_SLOW,
    "test_search_with_persistence_and_skipped_vectors": TOO_SLOW,
    "test_single_dense_vector": TOO_SLOW,
}
SERVER = pytest.StashKey["Server"]()


WRAPPING = {cls.__name__: wrapping_class(cls, CONFIG) for cls in (QdrantClient, AsyncQdrantClient)}


class Server:
    """The "server" of one congruence test: a plain local client that every ``init_remote`` shares.

    Upstream, the REST and gRPC clients a test opens see the same server; here each is a new
    wrapper around one local client.
    """

    def __init__(self) -> None:
        self.plain: QdrantClient | None = None

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.plain is None:
            self.plain = QdrantClient(":memory:")
        return vecrank.wrap(self.plain, config=CONFIG)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = NOT_RUN.get(item.originalname) if "qdrant_tests" in item.nodeid else None
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def wrapped_clients(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hand the test wrapped clients wherever it builds its own."""
    if request.module.__name__.startswith("qdrant_tests.congruence_tests"):
        server = Server()
        for name, module in list(sys.modules.items()):
            if name.startswith("qdrant_tests.congruence_tests") and hasattr(module, "init_remote"):
                monkeypatch.setattr(module, "init_remote", server.connect)
        request.node.stash[SERVER] = server
        yield
        return
    for target in (request.module, qdrant_client):
        for name, replacement in WRAPPING.items():
            if hasattr(target, name):
                monkeypatch.setattr(target, name, replacement)
    yield


@pytest.fixture
def local_client() -> Iterator[QdrantClient]:
    client = init_local()
    initialize_fixture_collection(client)
    yield client
    delete_fixture_collection(client)


@pytest.fixture
def remote_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    client = request.node.stash[SERVER].connect()
    assert isinstance(client, QdrantClient) and type(client) is not QdrantClient
    initialize_fixture_collection(client)
    yield client
    delete_fixture_collection(client)
