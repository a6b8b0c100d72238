"""Per-collection settings from a TOML file: two collections, two reranker sizes.

The TOML names Ettin rerankers. Where they cannot be downloaded (offline), this script
stands in two tiny local models of different architectures so it still runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from qdrant_client import QdrantClient, models

import vecrank
from vecrank.core.hub import cached_locally
from vecrank.models import resolve_model
from vecrank.testing.tiny_models import build_tiny_model

CONFIG = Path(__file__).with_name("per_collection.toml")


def offline_stand_ins(config: vecrank.VecrankConfig, folder: Path) -> vecrank.VecrankConfig:
    """Replace the two models, where not downloaded, with tiny local ones of two architectures."""
    data = config.model_dump(exclude_unset=True)
    sections = {"bert": data["defaults"], "modernbert": data["collections"]["support"]}
    for architecture, section in sections.items():
        if not cached_locally(resolve_model(section["model"]).source):
            print(
                f"{section['model']} is not downloaded: a tiny {architecture} model with random weights "
                "stands in, so its order below means nothing (vecrank download fetches the real one)"
            )
            section["model"] = str(build_tiny_model(architecture, folder / architecture))
    return vecrank.load_config(data)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = offline_stand_ins(vecrank.load_config(CONFIG), Path(folder))
        client = vecrank.wrap(QdrantClient(":memory:"), config=config)
        params = models.VectorParams(size=3, distance=models.Distance.COSINE)
        support = [
            "Reset your password from the sign-in page.",
            "Rotate API keys every ninety days.",
            "Invoices are emailed monthly.",
        ]
        products = [
            {"name": "Lamp", "description": "a warm desk lamp"},
            {"name": "Key safe", "description": "stores house keys"},
        ]
        for name, payloads in [("support", [{"text": t} for t in support]), ("products", products)]:
            client.create_collection(name, vectors_config=params)
            client.upsert(
                name,
                [models.PointStruct(id=i, vector=[1.0, i, 0.5], payload=p) for i, p in enumerate(payloads)],
            )
        for name in ("support", "products"):
            settings = config.for_collection(name)
            hits = client.query_points(name, query=[1.0, 0.0, 0.5], limit=2, rerank_query="api keys").points
            print(f"\n{name}: model {Path(settings.model).name}, candidates {settings.candidates}")
            for hit in hits:
                print(f"  {hit.score:.3f} (vector {hit.vector_score:.3f})  {hit.payload}")


if __name__ == "__main__":
    main()
