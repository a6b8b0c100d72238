"""Fixtures the adapter test modules use."""

from engine_fixtures import engine, one_torch_thread  # noqa: F401
from weaviate_fixtures import async_client, sync_client  # noqa: F401
