"""LlamaIndex: vecrank as a node postprocessor (``as_query_engine(node_postprocessors=[...])``).

``VecrankRerank(model="ettin-17m", top_n=3)`` goes where LlamaIndex's ``SentenceTransformerRerank`` goes.

Over-fetch through the retriever: ``similarity_top_k=rerank.similarity_top_k`` asks the vector
store for the collection's ``candidates``, and the postprocessor keeps the best ``top_n``. Nodes
keep their type and metadata; ``score`` becomes the reranker's, and ``rerank_score`` and
``vector_score`` are added to the metadata (hidden from the LLM and the embedder).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .shared import (
    RERANK_SCORE_KEY,
    VECTOR_SCORE_KEY,
    Hit,
    PostProcessor,
    Ranked,
    store_collection,
)

try:
    from llama_index.core.bridge.pydantic import Field
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as error:
    from .shared import missing_extra

    raise missing_extra("LlamaIndex", "llamaindex", error) from None

__all__ = ["VecrankRerank"]

_SCORE_KEYS = [RERANK_SCORE_KEY, VECTOR_SCORE_KEY]


class VecrankRerank(PostProcessor, BaseNodePostprocessor):
    """Reorders nodes by the reranker and keeps the best ``top_n`` (None: all).

    ``model`` (and ``max_length``, ``device``, ...) need no config. ``config`` takes what
    :func:`vecrank.wrap` takes (or a wrapped client's ``pipeline``); the settings are those of
    ``collection``, or of ``vector_store``'s collection, else ``[defaults]``.
    """

    framework: ClassVar[str] = "llamaindex"

    top_n: int | None = Field(default=2, description="nodes to return, best first (None: all)")
    vector_store: Any = Field(default=None, exclude=True, description="a store to take the collection from")

    def _store_collection(self) -> str | None:
        return store_collection(self.vector_store)

    @classmethod
    def class_name(cls) -> str:
        return "VecrankRerank"

    @property
    def similarity_top_k(self) -> int:
        """How many nodes the retriever should fetch for ``top_n`` (the collection's ``candidates``)."""
        collection = self._reranker.collection_for()
        if self.top_n is None:
            raise ValueError("similarity_top_k needs top_n: set how many nodes to keep")
        return self._reranker.candidate_count(collection, self.top_n)

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        query = _query(query_bundle)
        ranked = self._reranker.rerank(self._reranker.collection_for(), query, _hits(nodes), self.top_n)
        return _nodes(ranked)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        query = _query(query_bundle)
        collection = self._reranker.collection_for()
        return _nodes(await self._reranker.arerank(collection, query, _hits(nodes), self.top_n))


def _query(query_bundle: QueryBundle | None) -> str:
    if query_bundle is None:
        raise ValueError("VecrankRerank needs the query: pass query_bundle or query_str")
    return query_bundle.query_str


def _hits(nodes: Sequence[NodeWithScore]) -> list[Hit]:
    return [
        Hit(
            node,
            node.node.get_content(metadata_mode=MetadataMode.NONE),
            node.node.metadata,
            node.score,
            node.node.node_id,
        )
        for node in nodes
    ]


def _nodes(ranked: Sequence[Ranked]) -> list[NodeWithScore]:
    """Each node with the new score and both scores in a copy of its metadata (unscored: as it was)."""
    return [item.document if item.score is None else _rescored(item) for item in ranked]


def _rescored(item: Ranked) -> NodeWithScore:
    original: NodeWithScore = item.document
    node = original.node.model_copy(
        update={
            "metadata": {**original.node.metadata, **item.score_metadata()},
            "excluded_llm_metadata_keys": _with_keys(original.node.excluded_llm_metadata_keys),
            "excluded_embed_metadata_keys": _with_keys(original.node.excluded_embed_metadata_keys),
        }
    )
    return NodeWithScore(node=node, score=item.score)


def _with_keys(keys: list[str]) -> list[str]:
    return [*keys, *(key for key in _SCORE_KEYS if key not in keys)]
