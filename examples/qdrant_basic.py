"""Rerank Qdrant search results with a cross-encoder: wrap the client, add ``rerank_query=``.

Runs offline: embedded Qdrant (``QdrantClient(":memory:")``) and ``minilm-bi``, the real
all-MiniLM-L6-v2 weights that the ``demo`` extra installs. Run it with
``python examples/qdrant_basic.py``; with network, name a cross-encoder such as ``ettin-17m``.
"""

from __future__ import annotations

from qdrant_client import QdrantClient, models

import vecrank

# A handful of passages with hand-made 3-d "embeddings" (axes: places, animals, software).
PASSAGES = [
    ("Berlin is the capital of Germany and its largest city.", [0.9, 0.1, 0.1]),
    ("Paris is the capital of France, on the river Seine.", [0.8, 0.2, 0.1]),
    ("Tokyo is the most populous city in the world.", [0.9, 0.0, 0.2]),
    ("Cats sleep for most of the day.", [0.1, 0.9, 0.0]),
    ("A dog needs a walk every day.", [0.2, 0.8, 0.1]),
    ("Python is a programming language for data and the web.", [0.1, 0.0, 0.9]),
    ("A vector database stores embeddings and searches them by similarity.", [0.2, 0.1, 0.8]),
    ("London has a population of about nine million people.", [0.8, 0.1, 0.3]),
]


def show(title: str, points: list[models.ScoredPoint]) -> None:
    """One line per point: its score, the database's score, the text."""
    print(title)
    for rank, point in enumerate(points, 1):
        # Reranked points keep the database's score as ``vector_score``; ``score`` is the reranker's.
        database = getattr(point, "vector_score", point.score)
        print(f"  {rank}. score {point.score:+.4f}  database {database:.4f}  {point.payload['text']}")


def main() -> None:
    config = {
        # Real weights that work offline; with network, a cross-encoder: "ettin-17m".
        "defaults": {"model": "minilm-bi"},
        # Score 8 candidates for every query, whatever its limit (default: 4 x (offset + limit)).
        "collections": {"passages": {"candidates": 8, "text_field": "text"}},
    }
    client = vecrank.wrap(QdrantClient(":memory:"), config=config)

    # Every other method is the client's own.
    client.create_collection(
        "passages", vectors_config=models.VectorParams(size=3, distance=models.Distance.COSINE)
    )
    client.upsert(
        "passages",
        [
            models.PointStruct(id=i, vector=vector, payload={"text": text})
            for i, (text, vector) in enumerate(PASSAGES)
        ],
    )

    query_vector = [0.7, 0.1, 0.3]
    question = "which city has the most people?"
    # Without query text the hits pass through in the database's order.
    show("Database order:", client.query_points("passages", query=query_vector, limit=4).points)
    reranked = client.query_points("passages", query=query_vector, limit=4, rerank_query=question)
    show(f"Reranked for {question!r}:", reranked.points)


if __name__ == "__main__":
    main()
