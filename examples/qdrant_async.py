"""Rerank with the async Qdrant client: single queries, a batch, and queries running concurrently.

Runs offline: embedded Qdrant (``AsyncQdrantClient(":memory:")``) and ``minilm-bi``, the real
all-MiniLM-L6-v2 weights that the ``demo`` extra installs. Run it with
``python examples/qdrant_async.py``; with network, name a cross-encoder such as ``ettin-17m``.
"""

from __future__ import annotations

import asyncio

from qdrant_client import AsyncQdrantClient, models

import vecrank

# A handful of passages with hand-made 3-d "embeddings" (axes: places, animals, software).
PASSAGES = [
    ("Berlin is the capital of Germany and its largest city.", "places", [0.9, 0.1, 0.1]),
    ("Paris is the capital of France, on the river Seine.", "places", [0.8, 0.2, 0.1]),
    ("Tokyo is the most populous city in the world.", "places", [0.9, 0.0, 0.2]),
    ("Cats sleep for most of the day.", "animals", [0.1, 0.9, 0.0]),
    ("A dog needs a walk every day.", "animals", [0.2, 0.8, 0.1]),
    ("Python is a programming language for data and the web.", "software", [0.1, 0.0, 0.9]),
    ("A vector database stores embeddings and searches them by similarity.", "software", [0.2, 0.1, 0.8]),
    ("London has a population of about nine million people.", "places", [0.8, 0.1, 0.3]),
]


def show(title: str, points: list[models.ScoredPoint]) -> None:
    """One line per point: its score, the database's score, the text."""
    print(title)
    for rank, point in enumerate(points, 1):
        # Reranked points keep the database's score as ``vector_score``; ``score`` is the reranker's.
        print(
            f"  {rank}. score {point.score:.4f}  database {point.vector_score:.4f}  {point.payload['text']}"
        )


async def main() -> None:
    # Real weights that work offline (all-MiniLM-L6-v2); with network, a cross-encoder: "ettin-17m".
    # minmax scales each query's scores to 0..1; the raw score stays in ``rerank_score``.
    config = {"defaults": {"model": "minilm-bi", "normalize": "minmax"}}
    client = vecrank.wrap(AsyncQdrantClient(":memory:"), config=config)

    await client.create_collection(
        "passages", vectors_config=models.VectorParams(size=3, distance=models.Distance.COSINE)
    )
    await client.upsert(
        "passages",
        [
            models.PointStruct(id=i, vector=vector, payload={"text": text, "topic": topic})
            for i, (text, topic, vector) in enumerate(PASSAGES)
        ],
    )

    places = models.Filter(must=[models.FieldCondition(key="topic", match=models.MatchValue(value="places"))])
    response = await client.query_points(
        "passages", query=[0.7, 0.1, 0.3], query_filter=places, limit=3, rerank_query="largest city"
    )
    show("Places, reranked for 'largest city':", response.points)

    # A batch: every query's candidates go to the reranker in one call.
    requests = [
        models.QueryRequest(query=[0.1, 0.9, 0.1], limit=2, with_payload=True),
        models.QueryRequest(query=[0.1, 0.1, 0.9], limit=2, with_payload=True),
    ]
    pets, code = await client.query_batch_points(
        "passages", requests, rerank_queries=["which pet sleeps most?", "search by similarity"]
    )
    show("Batch query 1, 'which pet sleeps most?':", pets.points)
    show("Batch query 2, 'search by similarity':", code.points)

    # Reranking runs on a worker thread, so concurrent queries do not block the event loop.
    questions = ["capital of France", "capital of Germany"]
    answers = await asyncio.gather(
        *(client.query_points("passages", query=[0.8, 0.1, 0.2], limit=1, rerank_query=q) for q in questions)
    )
    for question, answer in zip(questions, answers):
        show(f"Concurrent query {question!r}:", answer.points)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
