"""What ``vecrank distill`` trains on: queries, each with candidate documents or a corpus to search.

Sources: a JSONL file of ``{query, documents}`` (or ``candidates``) rows, a captured-traffic file
(one ``{"v": 1, "query", "candidates": [{"id", "text"?, ...}]}`` line per reranked search), a BEIR
folder (``corpus.jsonl``, ``queries.jsonl``, optional ``qrels/<split>.tsv``), ``demo`` for the
shipped corpus, or a Qdrant/Weaviate collection (see ``databases``) with its queries from a file.
Queries made from the corpus (titles, first sentences, the ``vecrank_distill_queries`` hook) are
for training only: held-out queries are always given ones.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .databases import CollectionOptions, is_database, open_collection

if TYPE_CHECKING:
    from .databases import Collection

logger = logging.getLogger(__name__)
TRAFFIC_VERSION = 1  # the "v" of a captured-traffic line this reader understands


@dataclass
class Query:
    """One query; ``candidates`` ((doc_id, text) pairs) when the source gave them, else None."""

    id: str
    text: str
    candidates: list[tuple[str, str]] | None = None
    made: bool = False  # made from the corpus: never held out
    origin: str | None = None  # the document a made query was made from, where known


@dataclass
class DistillData:
    """Queries, the corpus to search when they have no candidates, and relevance judgements if any."""

    queries: list[Query]
    documents: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    collection: Collection | None = None  # a database source: searched for candidates, closed at the end

    def close(self) -> None:
        if self.collection is not None:
            self.collection.close()


def load_source(
    data: object,
    split: str = "test",
    queries: str | Path | None = None,
    options: CollectionOptions | None = None,
    progress: bool = True,
) -> DistillData:
    """A JSONL or traffic file, a BEIR folder, ``demo``, or a collection with ``queries`` from a file.

    A ConfigError says what was expected and found.
    """
    options = options or CollectionOptions()
    if is_database(data):
        return _load_collection(data, queries, options, progress)
    misplaced = options.given() + (["--queries"] if queries is not None else [])
    if misplaced:
        raise ConfigError(
            f"{', '.join(misplaced)}: expected with a qdrant:/weaviate: source (--data or --corpus), "
            f"found --data {str(data)!r}"
        )
    if str(data) == "demo":
        from ..evaluation import load_demo_dataset

        return _from_dataset(load_demo_dataset())
    path = Path(data)
    if path.is_dir():
        return _load_beir(path, split)
    if path.is_file():
        return _load_jsonl(path)
    raise ConfigError(f"--data {str(data)!r}: expected a JSONL file, a BEIR folder or 'demo'; found nothing")


def _rows(path: Path):
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ConfigError(f"{path}: line {number} is not JSON: {error}") from None
                if not isinstance(row, dict):
                    raise ConfigError(f"{path}: line {number}: expected a JSON object, found {row!r:.60}")
                yield number, row


def _load_jsonl(path: Path) -> DistillData:
    return DistillData(_query_rows(path, documents_needed=True))


def _query_rows(
    path: Path, documents_needed: bool, collection: str | None = None, corpus: dict[str, str] | None = None
) -> list[Query]:
    """A traffic file's queries (see :func:`_traffic_queries`), or rows of ``{query}`` with their
    ``documents`` (or ``candidates``), which ``documents_needed`` makes required."""
    if _is_traffic(path):
        queries = _traffic_queries(path, collection, corpus or {})
        _check_queries(queries, str(path))
        return queries
    queries = []
    for number, row in _rows(path):
        where = f"{path}: line {number}"
        key = "documents" if "documents" in row else "candidates"
        if "query" not in row or (documents_needed and key not in row):
            wanted = "'query' and 'documents' (or 'candidates')" if documents_needed else "'query'"
            raise ConfigError(f"{where}: expected keys {wanted}, found {sorted(row)}")
        candidates = None
        if key in row:
            docs = row[key]
            if not isinstance(docs, list) or not docs:
                raise ConfigError(f"{where}: expected a non-empty list of {key!r}, found {docs!r:.60}")
            candidates = [_document(item, f"{number}-{index}", where) for index, item in enumerate(docs)]
        queries.append(Query(str(row.get("id", number)), _query_text(row["query"], where), candidates))
    _check_queries(queries, str(path))
    return queries


def _document(item: object, default_id: str, where: str) -> tuple[str, str]:
    if isinstance(item, str):
        return default_id, item
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return str(item.get("id", default_id)), item["text"]
    raise ConfigError(f"{where}: expected each document as a string or {{id, text}}, found {item!r:.60}")


def _query_text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty query string, found {value!r:.60}")
    return value


def _check_queries(queries: list[Query], origin: str) -> None:
    """ConfigError for no queries or the same query text twice (it would leak into the held-out set)."""
    if not queries:
        raise ConfigError(f"{origin}: expected at least one query, found none")
    seen: dict[str, str] = {}
    for query in queries:
        text = " ".join(query.text.lower().split())
        if text in seen:
            raise ConfigError(
                f"{origin}: query {query.id!r} repeats query {seen[text]!r} ({query.text!r}); "
                "expected each query once"
            )
        seen[text] = query.id


def _load_beir(root: Path, split: str) -> DistillData:
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (root / name).is_file():
            found = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
            raise ConfigError(
                f"BEIR folder {str(root)!r}: expected corpus.jsonl and queries.jsonl (qrels/ optional), "
                f"found {found}; {name} is missing"
            )
    qrels_path = root / "qrels" / f"{split}.tsv"
    if qrels_path.is_file():
        from ..evaluation import load_beir

        return _from_dataset(load_beir(root, split))
    documents, titles = {}, {}
    for number, row in _rows(root / "corpus.jsonl"):
        if "_id" not in row:
            raise ConfigError(f"{root / 'corpus.jsonl'}: line {number}: expected an '_id' key")
        documents[str(row["_id"])], titles[str(row["_id"])] = row.get("text", ""), row.get("title", "")
    queries = [
        Query(
            str(row.get("_id", number)),
            _query_text(row.get("text"), f"{root / 'queries.jsonl'}: line {number}"),
        )
        for number, row in _rows(root / "queries.jsonl")
    ]
    _check_queries(queries, str(root / "queries.jsonl"))
    return DistillData(queries, documents, titles)


def _from_dataset(dataset) -> DistillData:
    """An evaluation Dataset (BEIR with qrels, or the demo corpus) as distill data."""
    queries = [Query(qid, _query_text(text, f"query {qid!r}")) for qid, text in dataset.queries.items()]
    _check_queries(queries, "queries")
    return DistillData(queries, dict(dataset.documents), dict(dataset.titles), dict(dataset.qrels))


def _is_traffic(path: Path) -> bool:
    """Whether ``path``'s first line is a captured-traffic record (``"v"`` and candidate objects)."""
    for _, row in _rows(path):
        candidates = row.get("candidates")
        return "v" in row and isinstance(candidates, list) and all(isinstance(c, dict) for c in candidates)
    return False


def _traffic_queries(path: Path, collection: str | None, documents: dict[str, str]) -> list[Query]:
    """One query per distinct query text of a traffic file, its captures merged (candidates united by id,
    first seen first); a candidate without text takes it from ``documents`` (a collection read by id).

    With ``collection``, lines captured on another collection are left out.
    """
    merged: dict[str, tuple[Query, dict[str, str]]] = {}  # query key -> (query, {doc_id: text})
    lines = other = repeats = unknown = 0
    for number, row in _rows(path):
        where = f"{path}: line {number}"
        if row.get("v") != TRAFFIC_VERSION or not isinstance(row.get("candidates"), list):
            raise ConfigError(
                f'{where}: expected a captured-traffic record like line 1 ("v": {TRAFFIC_VERSION}, '
                f'"query", "candidates"), found v={row.get("v")!r} and keys {sorted(row)}'
            )
        lines += 1
        captured_on = row.get("collection")
        if (
            collection is not None
            and captured_on is not None
            and str(captured_on).lower() != collection.lower()
        ):
            other += 1
            continue
        text = _query_text(row.get("query"), where)
        key = " ".join(text.lower().split())
        repeats += key in merged
        query, texts = merged.setdefault(key, (Query(f"line-{number}", text), {}))
        for item in row["candidates"]:
            if not isinstance(item, dict) or "id" not in item:
                raise ConfigError(f'{where}: expected each candidate as {{"id", ...}}, found {item!r:.60}')
            doc_id = str(item["id"])
            if doc_id in texts:
                continue
            found = item["text"] if isinstance(item.get("text"), str) else documents.get(doc_id)
            if found is not None:
                texts[doc_id] = found
            elif documents:
                unknown += 1
            else:
                raise ConfigError(
                    f"{where}: candidate {doc_id!r} has no text (captured with keep_texts = false): "
                    "expected a collection to read the texts from by id, found none; pass --corpus "
                    "qdrant:PATH|URL or weaviate:URL with --collection and --text-field"
                )
    if other:
        logger.warning("%s: %d of %d lines were captured on other collections and are left out",
                       path, other, lines)  # fmt: skip
    if repeats:
        logger.warning(
            "%s: %d repeated queries merged into the first of each (candidates united)", path, repeats
        )
    if unknown:
        logger.warning("%s: %d candidates are no longer in the collection and are left out", path, unknown)
    kept = [Query(query.id, query.text, list(texts.items())) for query, texts in merged.values() if texts]
    if not kept and lines:
        raise ConfigError(
            f"{path}: expected captures with candidates"
            + (f" on collection {collection!r}" if collection else "")
            + f", found none of its {lines} lines"
        )
    return kept


def _load_collection(
    source: object, queries: str | Path | None, options: CollectionOptions, progress: bool
) -> DistillData:
    """A collection's texts as the corpus, with its given queries (and their candidates) from ``queries``."""
    if queries is None:
        raise ConfigError(
            f"--data {source}: a collection gives documents, not queries; expected --queries FILE (a "
            'JSONL of {"query"} rows or a captured-traffic file) for the held-out queries '
            "(queries made from the corpus are never held out)"
        )
    if not Path(queries).is_file():
        raise ConfigError(f"queries {str(queries)!r}: expected a JSONL file, found nothing")
    collection = open_collection(source, options)
    try:
        documents, titles = collection.read(progress)
        given = _query_rows(Path(queries), False, options.collection, documents)
    except BaseException:
        collection.close()
        raise
    return DistillData(given, documents, titles, collection=collection)


def first_sentence(text: str) -> str:
    """The text up to its first sentence end (or all of it)."""
    match = re.search(r"(?<=[.!?])\s", text)
    return text[: match.start()].strip() if match else text.strip()


QUERY_KINDS = ("titles", "sentences")


def make_queries(data: DistillData, kinds: tuple[str, ...] = QUERY_KINDS) -> list[Query]:
    """Training queries from the corpus: titles, first sentences, and what plugins' hooks give."""
    from ..plugins import get_plugin_manager
    from ..plugins.hooks import call_impl

    unknown = sorted(set(kinds) - set(QUERY_KINDS))
    if unknown:
        raise ConfigError(f"queries made from {unknown}: expected kinds among {', '.join(QUERY_KINDS)}")

    made: list[tuple[str | None, str]] = []  # (the document it was made from, the query)
    for doc_id, text in data.documents.items():
        if "titles" in kinds and data.titles.get(doc_id):
            made.append((doc_id, data.titles[doc_id]))
        if "sentences" in kinds and text:
            made.append((doc_id, first_sentence(text)))
    for impl in reversed(get_plugin_manager().hook.vecrank_distill_queries.get_hookimpls()):
        for item in call_impl(impl, documents=data.documents, titles=data.titles) or []:
            made.append((str(item[0]), item[1]) if isinstance(item, tuple) else (None, item))
    given = {" ".join(q.text.lower().split()) for q in data.queries}
    queries, seen = [], set(given)
    for number, (origin, text) in enumerate(made):
        key = " ".join(text.lower().split())
        if key and key not in seen:
            seen.add(key)
            queries.append(Query(f"made-{number}", text, made=True, origin=origin))
    return queries
