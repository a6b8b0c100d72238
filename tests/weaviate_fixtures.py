"""The real Weaviate clients, sync and async, on the ``standin`` server of the module that uses them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import weaviate
from weaviate import WeaviateAsyncClient, WeaviateClient
from weaviate.classes.init import AdditionalConfig, Timeout

from vecrank.testing.weaviate_server import WeaviateStandIn

BOUNDED = AdditionalConfig(timeout=Timeout(init=5, query=10, insert=10))


@pytest.fixture(scope="module")
def sync_client(standin: WeaviateStandIn) -> Iterator[WeaviateClient]:
    with weaviate.connect_to_custom(**standin.connection_kwargs, additional_config=BOUNDED) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def async_client(standin: WeaviateStandIn) -> AsyncIterator[WeaviateAsyncClient]:
    client = weaviate.use_async_with_custom(**standin.connection_kwargs, additional_config=BOUNDED)
    await client.connect()
    yield client
    await client.close()
