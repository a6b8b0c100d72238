"""weaviate-client's own mock tests (vendored in ``mock_tests/``, BSD-3-Clause) against wrapped clients.

Every client they open (``weaviate.connect_to_local``, ``use_async_with_local``,
``weaviate.WeaviateClient``) is ``vecrank.wrap``-ped, with an empty config: with safe defaults a
wrapped client must change nothing. The mock servers' fixed ports are replaced by free ones and
the gRPC health servicer by the stand-in's (see the note at the top of ``mock_tests/conftest.py``).
"""

from __future__ import annotations

import pytest
import weaviate

from vecrank.testing.peers import wrapping_class, wrapping_function

CONFIG: dict = {}


@pytest.fixture(autouse=True)
def wrapped_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hand every test wrapped clients where it opens its own."""
    for name in ("connect_to_local", "use_async_with_local"):
        monkeypatch.setattr(weaviate, name, wrapping_function(getattr(weaviate, name), CONFIG))
    monkeypatch.setattr(weaviate, "WeaviateClient", wrapping_class(weaviate.WeaviateClient, CONFIG))
