"""The optional extras resolve to one working set: the Weaviate adapter and Ray Serve side by side.

``ray[serve]`` pulls grpcio, grpcio-reflection and protobuf releases newer than weaviate-client
accepts; the ``ray`` extra pins them. Both are imported in a fresh interpreter, and the Weaviate
client runs a real query against the stand-in.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires, version

import pytest
from packaging.requirements import Requirement

pytest.importorskip("ray.serve")

BOTH = """
import weaviate
from ray import serve
from weaviate.classes.init import AdditionalConfig, Timeout

from vecrank.testing.weaviate_server import WeaviateStandIn

with WeaviateStandIn() as server:
    server.add_collection("Docs", ["text"])
    server.add_object("Docs", {"text": "grpc works"}, vector=[1.0, 0.0])
    config = AdditionalConfig(timeout=Timeout(init=5, query=10, insert=10))
    with weaviate.connect_to_custom(**server.connection_kwargs, additional_config=config) as client:
        result = client.collections.get("Docs").query.near_vector([1.0, 0.0], limit=1)
print(result.objects[0].properties["text"], serve.Application.__name__)
"""


def test_installed_grpc_and_protobuf_satisfy_weaviate_client() -> None:
    wanted = [
        requirement
        for requirement in map(Requirement, requires("weaviate-client") or [])
        if requirement.name in ("grpcio", "protobuf")
        and (requirement.marker is None or requirement.marker.evaluate())
    ]
    assert {requirement.name for requirement in wanted} == {"grpcio", "protobuf"}
    for requirement in wanted:
        installed = version(requirement.name)
        assert requirement.specifier.contains(installed), (
            f"{requirement.name} {installed} breaks {requirement}"
        )


def test_weaviate_query_and_ray_serve_in_one_interpreter() -> None:
    result = subprocess.run([sys.executable, "-c", BOTH], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["grpc", "works", "Application"]
