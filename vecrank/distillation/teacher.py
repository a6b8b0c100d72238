"""The teacher's scores through vecrank's own scoring (any model name, alias, folder, cascade or URL).

Scores are appended to a JSONL cache as each chunk of queries is scored, so an interrupted run
resumes without rescoring. A cascade's hits dropped by an earlier stage get targets below the
last stage's, in the cascade's order.
"""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ..cascade import Staged, order, run_cascade
from ..config import CollectionConfig, reranker_settings
from ..errors import ConfigError, DistillError, VecrankError
from ..plugins import get_plugin_manager
from ..plugins.hooks import first_result

COLLECTION = "distill"
QUERIES_PER_CALL = 8  # queries scored per engine call: enough pairs to fill its batches


class Teacher:
    """Scores candidate lists with ``model``, caching each query's scores in ``cache_path``."""

    def __init__(self, model: str, cache_path: Path, max_length: int | None = None) -> None:
        try:
            self.config = CollectionConfig(**reranker_settings(model), max_length=max_length)
        except ValueError as error:
            raise ConfigError(f"--teacher {model!r}: {error}") from None
        self.name = model
        self.cache_path = cache_path
        self.cache = _read_cache(cache_path)

    def check(self) -> None:
        """Score one pair now, so a teacher that cannot load fails before any work is done."""
        try:
            self._score(["a query"], [["a document"]])
        except VecrankError as error:
            raise ConfigError(
                f"--teacher {self.name!r} cannot be used here: expected a model that loads offline "
                f"(a folder, a downloaded hub id, a registered name) or a reachable URL; found: {error}"
            ) from None

    def score(
        self, queries: Sequence[str], candidates: Sequence[Sequence[str]], progress: bool = True
    ) -> list[list[float]]:
        """Each query's scores for its candidate texts, from the cache or the teacher."""
        keys = [self._key(q, texts) for q, texts in zip(queries, candidates)]
        todo = [i for i, key in enumerate(keys) if key not in self.cache]
        with tqdm(total=len(queries), desc="Teacher scoring", unit="query", disable=not progress) as bar:
            bar.update(len(queries) - len(todo))
            for start in range(0, len(todo), QUERIES_PER_CALL):
                chunk = todo[start : start + QUERIES_PER_CALL]
                scores = self._score([queries[i] for i in chunk], [candidates[i] for i in chunk])
                self._store({keys[i]: found for i, found in zip(chunk, scores)})
                bar.update(len(chunk))
        return [self.cache[key] for key in keys]

    def _score(self, queries: list[str], candidates: list[list[str]]) -> list[list[float]]:
        stages = [
            (lambda pairs, stage=stage: self._stage_scores(pairs, stage), keep)
            for stage, keep in self.config.stage_settings()
        ]
        return [targets(staged) for staged in run_cascade(queries, candidates, stages)]

    def _stage_scores(self, pairs: list[tuple[str, str]], config: CollectionConfig) -> list[float]:
        hook = get_plugin_manager().hook.vecrank_rerank
        scores = first_result(hook, collection=COLLECTION, pairs=pairs, config=config)
        if scores is None or len(scores) != len(pairs):
            raise DistillError(f"teacher {config.model!r} gave no score list for {len(pairs)} pairs")
        return [float(score) for score in scores]

    def _key(self, query: str, texts: Sequence[str]) -> str:
        blob = json.dumps([self.config.label, self.config.max_length, query, list(texts)])
        return hashlib.sha256(blob.encode()).hexdigest()

    def _store(self, found: dict[str, list[float]]) -> None:
        lines = "".join(json.dumps({"key": key, "scores": scores}) + "\n" for key, scores in found.items())
        try:
            with self.cache_path.open("a", encoding="utf-8") as cache:
                cache.write(lines)
                cache.flush()
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise DistillError(
                f"disk full while caching teacher scores in {self.cache_path}: expected room for "
                f"{len(lines)} more bytes, found none ({error.strerror}); the {len(self.cache)} queries "
                "scored so far are kept there: free space and rerun the same command to resume"
            ) from None
        self.cache.update(found)


def targets(staged: Sequence[Staged]) -> list[float]:
    """One training target per hit: the last stage's score; hits dropped earlier rank below, in order."""
    last = max((s.stage for s in staged), default=0)
    if all(s.stage == last for s in staged):
        return [s.score for s in staged]
    floor = min(s.score for s in staged if s.stage == last)
    result = [s.score for s in staged]
    dropped = [i for i in order(staged) if staged[i].stage != last]
    for rank, index in enumerate(dropped, start=1):
        result[index] = floor - rank
    return result


def _read_cache(path: Path) -> dict[str, list[float]]:
    """The scores a previous run cached; a torn last line (the run was killed mid-write) is skipped."""
    cache: dict[str, list[float]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            cache[row["key"]] = row["scores"]
    return cache
