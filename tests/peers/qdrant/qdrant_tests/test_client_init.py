# Vendored from qdrant/qdrant-client v1.18.0 (tests/test_qdrant_client.py: test_client_init and
# test_grpc_options, with the imports they need), Apache-2.0: see LICENSE in qdrant_tests/.
import importlib.metadata
import platform

import pytest
from grpc import RpcError

from qdrant_client import QdrantClient, models
from qdrant_client.local.qdrant_local import QdrantLocal
from qdrant_client.qdrant_remote import QdrantRemote


def test_client_init():
    import tempfile
    import ssl

    client = QdrantClient(":memory:")
    assert isinstance(client._client, QdrantLocal)
    assert client._client.location == ":memory:"

    with tempfile.TemporaryDirectory() as tmpdir:
        client = QdrantClient(path=tmpdir + "/test.db")
        assert isinstance(client._client, QdrantLocal)
        assert client._client.location == tmpdir + "/test.db"

    client = QdrantClient(check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://localhost:6333"

    client = QdrantClient(":memory:")
    assert isinstance(client._client, QdrantLocal)

    client = QdrantClient(check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)

    client = QdrantClient(prefer_grpc=True, check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)

    client = QdrantClient(https=True, check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "https://localhost:6333"

    client = QdrantClient(https=True, port=7333, check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "https://localhost:7333"

    client = QdrantClient(host="hidden_port_addr.com", prefix="custom", check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://hidden_port_addr.com:6333/custom"

    client = QdrantClient(host="hidden_port_addr.com", port=None, check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://hidden_port_addr.com"

    client = QdrantClient(
        host="hidden_port_addr.com",
        port=None,
        prefix="custom",
        check_compatibility=False,
    )
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://hidden_port_addr.com/custom"

    client = QdrantClient("http://hidden_port_addr.com", port=None, check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://hidden_port_addr.com"

    # url takes precedence over port, which has default value for a backward compatibility
    client = QdrantClient(url="http://localhost:6333", port=7333, check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://localhost:6333"

    client = QdrantClient(url="http://localhost:6333", prefix="custom", check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://localhost:6333/custom"

    for prefix in ("api/v1", "/api/v1"):
        client = QdrantClient(
            url="http://localhost:6333", prefix=prefix, check_compatibility=False
        )
        assert (
            isinstance(client._client, QdrantRemote)
            and client._client.rest_uri == "http://localhost:6333/api/v1"
        )

        client = QdrantClient(host="localhost", prefix=prefix, check_compatibility=False)
        assert (
            isinstance(client._client, QdrantRemote)
            and client._client.rest_uri == "http://localhost:6333/api/v1"
        )

    for prefix in ("api/v1/", "/api/v1/"):
        client = QdrantClient(
            url="http://localhost:6333", prefix=prefix, check_compatibility=False
        )
        assert (
            isinstance(client._client, QdrantRemote)
            and client._client.rest_uri == "http://localhost:6333/api/v1/"
        )

        client = QdrantClient(host="localhost", prefix=prefix, check_compatibility=False)
        assert (
            isinstance(client._client, QdrantRemote)
            and client._client.rest_uri == "http://localhost:6333/api/v1/"
        )

    client = QdrantClient(url="http://localhost:6333/custom", check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://localhost:6333/custom"
    assert client._client._prefix == "/custom"

    client = QdrantClient("my-domain.com", check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://my-domain.com:6333"

    client = QdrantClient("my-domain.com:80", check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://my-domain.com:80"

    with pytest.raises(ValueError):
        QdrantClient(url="http://localhost:6333", host="localhost", check_compatibility=False)

    with pytest.raises(ValueError):
        QdrantClient(
            url="http://localhost:6333/origin", prefix="custom", check_compatibility=False
        )

    client = QdrantClient("127.0.0.1:6333", check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://127.0.0.1:6333"

    client = QdrantClient("localhost:6333", check_compatibility=False)
    assert isinstance(client._client, QdrantRemote)
    assert client._client.rest_uri == "http://localhost:6333"

    client = QdrantClient(":memory:", not_exist_param="test")
    assert isinstance(client._client, QdrantLocal)

    grid_params = [
        {"location": ":memory:", "url": "http://localhost:6333"},
        {"location": ":memory:", "host": "localhost"},
        {"location": ":memory:", "path": "/tmp/test.db"},
        {"url": "http://localhost:6333", "host": "localhost"},
        {"url": "http://localhost:6333", "path": "/tmp/test.db"},
        {"host": "localhost", "path": "/tmp/test.db"},
    ]
    for params in grid_params:
        with pytest.raises(
            ValueError,
            match="Only one of <location>, <url>, <host> or <path> should be specified.",
        ):
            QdrantClient(**params)

    client = QdrantClient(
        url="http://localhost:6333",
        prefix="custom",
        metadata={"some-rest-meta": "some-value"},
        check_compatibility=False,
    )
    assert client.init_options["url"] == "http://localhost:6333"
    assert client.init_options["prefix"] == "custom"
    assert client.init_options["metadata"] == {"some-rest-meta": "some-value"}

    ssl_context = ssl.create_default_context()
    client = QdrantClient(
        ":memory:",
        verify=ssl_context,  # `verify` does not make sense for local client,
        # it's just a mock to check creation of `init_options` with unpickleable objects like ssl context
    )
    assert client.init_options["verify"] is ssl_context


def test_grpc_options():
    client_version = importlib.metadata.version("qdrant-client")
    user_agent = f"python-client/{client_version}"
    python_version = f"python/{platform.python_version()}"

    client = QdrantClient(prefer_grpc=True)
    assert client._client._grpc_options == {
        "grpc.primary_user_agent": f"{user_agent} {python_version}"
    }

    client = QdrantClient(prefer_grpc=True, grpc_options={"grpc.max_send_message_length": 3})
    assert client._client._grpc_options == {
        "grpc.max_send_message_length": 3,
        "grpc.primary_user_agent": f"{user_agent} {python_version}",
    }

    with pytest.raises(RpcError):
        if not client.collection_exists("grpc_collection"):
            client.create_collection(
                "grpc_collection",
                vectors_config=models.VectorParams(size=100, distance=models.Distance.COSINE),
            )
