"""The distillation loop, offline: captured traffic -> a student trained on it -> the collection's reranker.

1. An embedded Qdrant folder holds part of the demo corpus with all-MiniLM-L6-v2 vectors.
2. A wrapped client reranks one search per demo question with ``[capture]`` on and
   ``keep_texts = false``: the traffic file holds each query and its hits' ids, in the retriever's order.
3. ``vecrank.distill`` reads those ids' texts from the collection, adds queries made from its
   passages (first sentences, searched with their passage's stored vector), scores the
   candidates with the teacher and trains the student, then compares the two on held-out questions.
4. The student is set as the collection's reranker, then as the first stage of a cascade.

The teacher is ``minilm-bi`` (real weights that ship in a package); the student starts from a tiny
random BERT so that the script runs in seconds, and its order means little. For real: a strong
teacher (``bge-base``, an LLM reranker, a cascade) and a small student (``ettin-17m``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from qdrant_client import QdrantClient, models

import vecrank
from vecrank.evaluation import Embedder, load_demo_dataset, minilm_embedder
from vecrank.testing.tiny_models import build_tiny_model

PASSAGES = 60  # of the demo corpus: every passage a demo question answers, then others


def build_collection(folder: Path, embed: Embedder) -> tuple[list[str], QdrantClient]:
    """Index passages in an embedded Qdrant folder; return the demo questions and the open client."""
    demo = load_demo_dataset()
    answers = [doc for judged in demo.qrels.values() for doc in judged]
    ids = list(dict.fromkeys(answers + list(demo.documents)))[:PASSAGES]
    client = QdrantClient(path=str(folder))
    client.create_collection(
        "docs", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE)
    )
    vectors = embed([demo.documents[doc] for doc in ids])
    client.upsert(
        "docs",
        [
            models.PointStruct(
                id=n, vector=vector.tolist(), payload={"text": demo.documents[doc], "doc": doc}
            )
            for n, (doc, vector) in enumerate(zip(ids, vectors))
        ],
    )
    return list(demo.queries.values()), client


def capture_traffic(path: Path, questions: list[str], folder: Path, embed: Embedder) -> None:
    """One reranked search per question through a wrapped client, recorded by ``[capture]``: ids, no texts."""
    config = {
        "capture": {"enabled": True, "path": str(path), "keep_texts": False},
        "collections": {"docs": {"model": "minilm-bi", "candidates": 20}},
    }
    client = vecrank.wrap(QdrantClient(path=str(folder)), config=config)
    for question, vector in zip(questions, embed(questions)):
        client.query_points("docs", query=vector.tolist(), limit=5, rerank_query=question)
    client.close()
    vecrank.flush_capture()  # the writer thread has written every record


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work, embed = Path(tmp), minilm_embedder()
        questions, client = build_collection(work / "qdrant-db", embed)
        client.close()  # an embedded folder is opened by one client at a time
        capture_traffic(work / "traffic.jsonl", questions, work / "qdrant-db", embed)
        print("The student is a tiny random BERT here, so its scores and order mean little.")
        student = str(build_tiny_model("bert", work / "tiny-bert"))

        report = vecrank.distill(
            str(work / "traffic.jsonl"),  # what [capture] wrote
            corpus=f"qdrant:{work / 'qdrant-db'}",  # the texts of its ids, read from the collection
            collection="docs",
            text_field="text",
            make=["sentences"],  # also train on queries made from the passages
            teacher="minilm-bi",
            student=student,
            out=work / "models" / "docs-student",
            candidates=6,
            max_length=64,
            progress=False,
        )
        print(
            f"held out {report['queries']['held_out']} questions; trained on {report['queries']['trained']}"
        )

        student_folder = str(work / "models" / "docs-student")
        for settings in (
            {"model": student_folder},  # the student alone
            {
                "stages": [{"model": student_folder, "keep": 5}, {"model": "minilm-bi"}]
            },  # or a cascade's first stage
        ):
            config = {"collections": {"docs": {**settings, "candidates": 20}}}
            wrapped = vecrank.wrap(QdrantClient(path=str(work / "qdrant-db")), config=config)
            query = embed([questions[0]])[0].tolist()
            hits = wrapped.query_points("docs", query=query, limit=3, rerank_query=questions[0]).points
            print(f"{list(settings)[0]} for {questions[0]!r}: {[hit.payload['doc'] for hit in hits]}")
            wrapped.close()


if __name__ == "__main__":
    main()
