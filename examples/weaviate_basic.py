"""Rerank Weaviate searches with vecrank: offline, against the in-process Weaviate stand-in.

Run: python examples/weaviate_basic.py
"""

from __future__ import annotations

import weaviate
from weaviate.classes.query import MetadataQuery, Rerank

import vecrank
from vecrank.testing.weaviate_server import WeaviateStandIn

PASSAGES = [
    "Paris is the capital of France and the river Seine runs through the city.",
    "The Thames flows through London, a city of about nine million people.",
    "Python code can search a vector database by meaning rather than by keywords.",
    "Tokyo is the largest city in the world by population.",
    "Rain and sunny weather alternate in Berlin during the spring.",
    "A cross-encoder reads the query and the document together and scores the pair.",
]
QUESTION = "which city has a river"
DATABASE_SCORES = MetadataQuery(distance=True, score=True)


def show(title: str, result) -> None:
    """One line per object: the server's distance or score, the reranker's score, the text."""
    print(title)
    for obj in result.objects:
        meta = obj.metadata
        server = f"distance {meta.distance:.3f}" if meta.distance is not None else f"score {meta.score:.3f}"
        rerank = "" if meta.rerank_score is None else f"  reranked {meta.rerank_score:.3f}"
        print(f"  {server}{rerank}  {obj.properties['text']}")


def main() -> None:
    with WeaviateStandIn() as standin:
        standin.add_collection("Passages", ["text"])
        for text in PASSAGES:
            standin.add_object("Passages", {"text": text})  # embedded by the stand-in's bag of words
        # Real weights that work offline (all-MiniLM-L6-v2); with network, a cross-encoder: "ettin-17m".
        # Listing the collection reranks its searches by their own text (near_text, hybrid, bm25).
        config = {"defaults": {"model": "minilm-bi"}, "collections": {"Passages": {"text_field": "text"}}}

        # Against a real server: raw = weaviate.connect_to_local() (or connect_to_weaviate_cloud(...)).
        raw = weaviate.connect_to_custom(**standin.connection_kwargs)
        with vecrank.wrap(raw, config=config) as client:
            plain = raw.collections.get("Passages").query
            reranked = client.collections.get("Passages").query
            show(
                "near_text, server order:",
                plain.near_text(QUESTION, limit=3, return_metadata=DATABASE_SCORES),
            )
            show(
                "near_text, reranked:", reranked.near_text(QUESTION, limit=3, return_metadata=DATABASE_SCORES)
            )
            show(
                "hybrid, server order:", plain.hybrid("city river", limit=3, return_metadata=DATABASE_SCORES)
            )
            show(
                "hybrid, reranked by Rerank(prop, query):",
                reranked.hybrid(
                    "city river",
                    limit=3,
                    return_metadata=DATABASE_SCORES,
                    rerank=Rerank(prop="text", query=QUESTION),
                ),
            )


if __name__ == "__main__":
    main()
