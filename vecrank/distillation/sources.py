"""What ``vecrank distill`` trains on: queries, each with candidate documents or a corpus to search.

Sources: a JSONL file of ``{query, documents}`` (or ``candidates``) rows, a BEIR folder
(``corpus.jsonl``, ``queries.jsonl``, optional ``qrels/<split>.tsv``), or ``demo`` for the
shipped corpus. Queries made from the corpus (titles, first sentences, the
``vecrank_distill_queries`` hook) are for training only: held-out queries are always given ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError


@dataclass
class Query:
    """One query; ``candidates`` ((doc_id, text) pairs) when the source gave them, else None."""

    id: str
    text: str
    candidates: list[tuple[str, str]] | None = None
    made: bool = False  # made from the corpus: never held out


@dataclass
class DistillData:
    """Queries, the corpus to search when they have no candidates, and relevance judgements if any."""

    queries: list[Query]
    documents: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)


def load_source(data: str | Path, split: str = "test") -> DistillData:
    """A JSONL file, a BEIR folder, or ``demo``; a ConfigError says what was expected and found."""
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
    queries = []
    for number, row in _rows(path):
        where = f"{path}: line {number}"
        key = "documents" if "documents" in row else "candidates"
        if "query" not in row or key not in row:
            raise ConfigError(
                f"{where}: expected keys 'query' and 'documents' (or 'candidates'), found {sorted(row)}"
            )
        docs = row[key]
        if not isinstance(docs, list) or not docs:
            raise ConfigError(f"{where}: expected a non-empty list of {key!r}, found {docs!r:.60}")
        candidates = [_document(item, f"{number}-{index}", where) for index, item in enumerate(docs)]
        queries.append(Query(str(row.get("id", number)), _query_text(row["query"], where), candidates))
    _check_queries(queries, str(path))
    return DistillData(queries)


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

    made: list[str] = []
    for doc_id, text in data.documents.items():
        if "titles" in kinds and data.titles.get(doc_id):
            made.append(data.titles[doc_id])
        if "sentences" in kinds and text:
            made.append(first_sentence(text))
    for impl in reversed(get_plugin_manager().hook.vecrank_distill_queries.get_hookimpls()):
        made.extend(call_impl(impl, documents=data.documents, titles=data.titles) or [])
    given = {" ".join(q.text.lower().split()) for q in data.queries}
    queries, seen = [], set(given)
    for number, text in enumerate(made):
        key = " ".join(text.lower().split())
        if key and key not in seen:
            seen.add(key)
            queries.append(Query(f"made-{number}", text, made=True))
    return queries
