"""Candidates per query, mixed as in the Ettin recipe: the hardest (best first-stage ranks) plus medium.

With a corpus, a first stage retrieves a pool per query: a database source's own vector search
(for queries made from a document, and for given ones when a query encoder embeds them), else
BM25 (``bm25s``). Given candidate lists are mixed the same way, in the order they came.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from tqdm.auto import tqdm

from ..extras import needs_extra
from .sources import DistillData, Query

POOL_FACTOR = 4  # the medium candidates are drawn from a pool this many times the count wanted


def mix(
    ranked: Sequence[tuple[str, str]], hard: int, medium: int, rng: random.Random
) -> list[tuple[str, str]]:
    """The ``hard`` best-ranked candidates, then ``medium`` drawn (in rank order) from the rest."""
    rest = list(ranked[hard:])
    picked = sorted(rng.sample(range(len(rest)), min(medium, len(rest))))
    return list(ranked[:hard]) + [rest[index] for index in picked]


def bm25_rankings(
    data: DistillData, queries: Sequence[Query], depth: int, progress: bool = True
) -> dict[str, list[tuple[str, str]]]:
    """Each query's ``depth`` best documents by BM25, as (doc_id, text)."""
    with needs_extra("vecrank distill's BM25 first stage", extra="distill"):
        import bm25s

    ids = list(data.documents)
    texts = [_indexed_text(data, doc_id) for doc_id in ids]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    found: dict[str, list[tuple[str, str]]] = {}
    depth = min(depth, len(ids))
    for query in tqdm(queries, desc="Retrieving (BM25)", unit="query", disable=not progress):
        tokens = bm25s.tokenize([query.text], stopwords="en", show_progress=False)
        if not tokens.vocab:  # only stopwords: BM25 has nothing to match, keep the corpus order
            found[query.id] = [(doc_id, texts[i]) for i, doc_id in enumerate(ids[:depth])]
            continue
        rows, _ = retriever.retrieve(tokens, k=depth, show_progress=False)
        found[query.id] = [(ids[i], texts[i]) for i in rows[0]]
    return found


def _indexed_text(data: DistillData, doc_id: str) -> str:
    title = data.titles.get(doc_id, "")
    return f"{title}. {data.documents[doc_id]}" if title else data.documents[doc_id]


def _from_document(data: DistillData, query: Query) -> bool:
    return query.made and query.origin in data.documents


def prepare_search(data: DistillData, queries: Sequence[Query]) -> None:
    """Check, before any work is done, what a collection's searches for ``queries`` need."""
    if data.collection is not None:
        searching = [q for q in queries if q.candidates is None]
        made = sum(_from_document(data, q) for q in searching)
        data.collection.prepare(by_document=made, by_text=len(searching) - made)


def by_vector(data: DistillData, query: Query) -> bool:
    """Whether the collection's vector search finds ``query``'s candidates: a query made from one
    of its documents, or any other when the query encoder embeds it."""
    return data.collection is not None and (_from_document(data, query) or data.collection.encodes)


def first_stage(
    data: DistillData, queries: Sequence[Query], depth: int, progress: bool = True
) -> dict[str, list[tuple[str, str]]]:
    """Each query's ``depth`` best documents: by the collection's vector search where it can, else BM25."""
    vector = [q for q in queries if by_vector(data, q)]
    rest = [q for q in queries if not by_vector(data, q)]
    pools = bm25_rankings(data, rest, depth, progress) if rest else {}
    if vector and data.collection is not None:
        found = data.collection.rankings(
            [(q.id, q.origin or "") for q in vector if _from_document(data, q)],
            [(q.id, q.text) for q in vector if not _from_document(data, q)],
            depth,
            progress,
        )
        for query_id, ids in found.items():  # hits without text (left out when read) are skipped
            pools[query_id] = [(doc_id, data.documents[doc_id]) for doc_id in ids if doc_id in data.documents]
    return pools


def choose_candidates(
    data: DistillData,
    groups: Sequence[tuple[Sequence[Query], int, int]],
    seed: int,
    progress: bool = True,
) -> dict[str, list[tuple[str, str]]]:
    """Each query's candidates: its own list or the BM25 pool, mixed hardest + medium.

    ``groups`` are (queries, hard, medium): the training queries and the held-out ones may
    take different counts; the BM25 index is built once for all.
    """
    rng = random.Random(seed)
    searching = [q for queries, _, _ in groups for q in queries if q.candidates is None]
    depth = POOL_FACTOR * max(hard + medium for _, hard, medium in groups)
    pools = first_stage(data, searching, depth, progress)
    return {
        q.id: mix(q.candidates if q.candidates is not None else pools[q.id], hard, medium, rng)
        for queries, hard, medium in groups
        for q in queries
    }
