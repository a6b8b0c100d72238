"""What every adapter shares, with no I/O: over-fetch, text extraction, cascades, hook calls, errors.

An adapter turns its client's hits into :class:`Candidate` objects, calls
:meth:`RerankPipeline.rerank` (or ``arerank``), and turns the reordered candidates back
into its client's own result types.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import logging
import math
import string
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..candidate import Candidate
from ..cascade import Staged, arun_cascade, run_cascade
from ..config import CollectionConfig, VecrankConfig
from ..config_loading import load_config
from ..errors import MissingTextError, RerankError, VecrankError
from ..plugins import get_plugin_manager
from ..plugins.hooks import call_each, first_result

logger = logging.getLogger("vecrank")

DEFAULT_LIMIT = 10  # what Qdrant and Weaviate return when a query sets no limit


@dataclass
class QueryCandidates:
    """One query's text (None: no rerank) and its candidates in database order: what the pipeline reranks."""

    query: str | None
    candidates: list[Candidate]


class RerankPipeline:
    """Reranks candidate lists of one collection per call, following its config."""

    def __init__(self, config: VecrankConfig | None = None) -> None:
        self.config = config if config is not None else load_config()
        self._warned_no_text: set[str] = set()
        self._announced: set[str] = set()
        self._empty_logged: set[str] = set()
        self._overrides: dict[str, CollectionConfig] = {}

    def settings(self, collection: str) -> CollectionConfig:
        """The settings of ``collection`` (a ConfigError names it when it is not configured)."""
        override = self._overrides.get(collection)
        if override is not None:
            return override
        settings = self.config.for_collection(collection)
        if collection not in self.config.collections and collection not in self._announced:
            self._announced.add(collection)
            logger.info("%s; it uses [defaults]: %s", self._not_configured(collection), _summary(settings))
        return settings

    def query_text(self, value: object, argument: str) -> str | None:
        """A query-text argument checked before any I/O: a string, or None; "" counts as no text."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"{argument} must be a string or None, got {type(value).__name__}: {value!r}")
        if not value.strip():
            if argument not in self._empty_logged:
                self._empty_logged.add(argument)
                logger.info("%s is empty: treated as no query text", argument)
            return None
        return value

    def query_texts(self, values: object, argument: str, count: int) -> list[str | None] | None:
        """A list of query texts, one per request (each checked like :meth:`query_text`), or None."""
        if values is None:
            return None
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"{argument} must be a list of strings (one per request), got {values!r}")
        if len(values) != count:
            raise ValueError(f"{argument} has {len(values)} entries for {count} requests")
        return [self.query_text(value, f"{argument}[{number}]") for number, value in enumerate(values)]

    def _not_configured(self, collection: str) -> str:
        known = sorted(self.config.collections)
        close = difflib.get_close_matches(collection, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (
            f"collection {collection!r} is not in the config (configured: {', '.join(known) or 'none'}{hint})"
        )

    def _text_source(self, collection: str) -> str:
        """Which settings gave ``collection`` its text field or template, for error messages."""
        if collection in self._overrides:
            return "this query's settings"
        section = self.config.collections.get(collection)
        if section is None:
            return f"[defaults]: {self._not_configured(collection)}"
        if "text_field" in section or "template" in section:
            return f"[collections.{collection}]"
        return f"[defaults] ([collections.{collection}] sets no text_field)"

    def with_settings(self, collection: str, **update: Any) -> RerankPipeline:
        """This pipeline with ``update`` applied to ``collection``'s settings, e.g. for one query."""
        view = copy.copy(self)
        view._overrides = {**self._overrides, collection: self.settings(collection).model_copy(update=update)}
        return view

    def fetch_limit(self, collection: str, offset: int, limit: int) -> int:
        """How many hits to ask the database for, to serve ``offset``..``offset + limit``."""
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must be non-negative, got offset={offset}, limit={limit}")
        return self.settings(collection).candidate_count(offset + limit)

    def text_fields(self, collection: str) -> list[str]:
        """Top-level payload fields the document text is built from (to fetch even if not asked)."""
        config = self.settings(collection)
        if config.template is None:
            return [config.text_field.split(".")[0]]
        names = [name for _, name, _, _ in string.Formatter().parse(config.template) if name]
        return list(dict.fromkeys(name.split(".")[0].split("[")[0] for name in names))

    def rerank_text(self, collection: str, asked: str | None, own: str | None) -> str | None:
        """The text to rerank one query by (None: pass it through).

        ``asked`` is the text the call asks with (``rerank_query=``, ``Rerank(...)``); ``own`` is the
        search's own text (a ``Document``, ``near_text``, ``hybrid``, ``bm25``), used only where the
        config enables the collection (see :meth:`VecrankConfig.enables`).
        """
        if asked:
            return asked
        if own and self.config.enables(collection):
            return own
        return None

    def should_rerank(self, collection: str, queries: Sequence[str | None]) -> bool:
        """Whether to intercept: some query has a rerank text and the collection is not disabled.

        Settings are read only then, so strict mode rejects only calls that would rerank.
        """
        if not any(queries):
            if collection not in self._warned_no_text:
                self._warned_no_text.add(collection)
                logger.info(
                    "collection %r: no rerank text (pass rerank_query= or Rerank(...), or enable the "
                    "collection in the config); results pass through unchanged",
                    collection,
                )
            return False
        return self.settings(collection).enabled

    def rerank(
        self, collection: str, requests: Sequence[QueryCandidates], source: str = "pipeline"
    ) -> list[list[Candidate]]:
        """Each request's candidates in the new order (each stage scores all queries in one call).

        ``source`` names the caller to the ``vecrank_reranked`` hook (``qdrant``, ``weaviate``, ...).
        """
        config, scored, stages = self._prepare(collection, requests)
        score = [(partial(self._scores, collection, config=stage), keep) for stage, keep in stages]
        try:
            staged = run_cascade(*_inputs(requests, scored), score)
        except RerankError as error:
            return self._passthrough(collection, requests, config, error)
        return self._apply(collection, requests, scored, staged, stages, config, source)

    async def arerank(
        self, collection: str, requests: Sequence[QueryCandidates], source: str = "pipeline"
    ) -> list[list[Candidate]]:
        """:meth:`rerank` for async callers: an async scorer is awaited, a sync one runs on a thread."""
        config, scored, stages = self._prepare(collection, requests)
        score = [(partial(self._ascores, collection, config=stage), keep) for stage, keep in stages]
        try:
            staged = await arun_cascade(*_inputs(requests, scored), score)
        except RerankError as error:
            return self._passthrough(collection, requests, config, error)
        return self._apply(collection, requests, scored, staged, stages, config, source)

    def _prepare(
        self, collection: str, requests: Sequence[QueryCandidates]
    ) -> tuple[CollectionConfig, list[list[Candidate]], list[tuple[CollectionConfig, int | None]]]:
        """The settings, each request's scorable candidates, and the stages (one for one model)."""
        config = self.settings(collection)
        scored = [self._texts(collection, request, config) for request in requests]
        return config, scored, config.stage_settings()

    def _passthrough(
        self,
        collection: str,
        requests: Sequence[QueryCandidates],
        config: CollectionConfig,
        error: RerankError,
    ) -> list[list[Candidate]]:
        if config.on_error != "passthrough":
            raise error
        logger.warning("%s; returning the database order", error)  # the error names the collection
        return [_database_order(request.candidates) for request in requests]

    def _apply(
        self,
        collection: str,
        requests: Sequence[QueryCandidates],
        scored: list[list[Candidate]],
        staged: list[list[Staged]],
        stages: list[tuple[CollectionConfig, int | None]],
        config: CollectionConfig,
        source: str,
    ) -> list[list[Candidate]]:
        results = []
        hook = get_plugin_manager().hook.vecrank_reranked
        for request, usable, outcome in zip(requests, scored, staged):
            groups: list[list[Candidate]] = [[] for _ in stages]
            for candidate, result in zip(usable, outcome):
                candidate.raw_score = candidate.score = result.score
                groups[result.stage].append(candidate)
            results.append(self._finish(collection, request, groups, [stage for stage, _ in stages]))
            if request.query:
                call_each(
                    hook,
                    source=source,
                    collection=collection,
                    query=request.query,
                    model=config.label,
                    candidates=request.candidates,
                    config=config,
                    capture=self.config.capture,
                )
        return results

    def _texts(self, collection: str, request: QueryCandidates, config: CollectionConfig) -> list[Candidate]:
        """Set each candidate's text; return those that can be scored."""
        if not request.query:
            return []
        usable = []
        for candidate in request.candidates:
            try:
                text = first_result(
                    get_plugin_manager().hook.vecrank_document_text,
                    collection=collection,
                    candidate=candidate,
                    config=config,
                )
            except MissingTextError as error:
                if config.on_missing_text == "raise":
                    raise MissingTextError(
                        f"{error} (text settings from {self._text_source(collection)})",
                        hit_id=error.hit_id,
                        field=error.field,
                    ) from None
                continue
            if text is None:
                raise MissingTextError(
                    f"collection {collection!r}: no plugin gave a text for hit {candidate.id!r}",
                    hit_id=candidate.id,
                )
            candidate.text = text
            usable.append(candidate)
        return usable

    def _scores(self, collection: str, pairs: list[tuple[str, str]], config: CollectionConfig) -> list[float]:
        if not pairs:
            return []
        try:
            scores = first_result(
                get_plugin_manager().hook.vecrank_rerank, collection=collection, pairs=pairs, config=config
            )
        except Exception as error:
            raise _rerank_error(collection, config, error) from error
        return _checked(collection, pairs, scores)

    async def _ascores(
        self, collection: str, pairs: list[tuple[str, str]], config: CollectionConfig
    ) -> list[float]:
        if not pairs:
            return []
        try:
            hook = get_plugin_manager().hook
            pending = first_result(hook.vecrank_arerank, collection=collection, pairs=pairs, config=config)
            if pending is not None:
                scores = await pending
            else:
                scores = await asyncio.to_thread(
                    first_result, hook.vecrank_rerank, collection=collection, pairs=pairs, config=config
                )
        except Exception as error:
            raise _rerank_error(collection, config, error) from error
        return _checked(collection, pairs, scores)

    def _finish(
        self,
        collection: str,
        request: QueryCandidates,
        groups: list[list[Candidate]],
        stages: list[CollectionConfig],
    ) -> list[Candidate]:
        """Post-process and sort each stage's hits (the last stage's first); hits without text last.

        ``groups`` holds the hits each stage scored last, in database order; ties keep that order.
        """
        if not request.query:
            return list(request.candidates)
        scored_ids = {id(c) for group in groups for c in group}  # before min_score drops some
        ordered = []
        for number in reversed(range(len(groups))):
            kept = groups[number]
            call_each(
                get_plugin_manager().hook.vecrank_after_rerank,
                collection=collection,
                query=request.query,
                candidates=kept,
                config=stages[number],
            )
            kept.sort(key=lambda c: (-c.score, c.position))
            ordered += kept
        unscored = [c for c in request.candidates if id(c) not in scored_ids]
        return ordered + unscored


def _inputs(
    requests: Sequence[QueryCandidates], scored: list[list[Candidate]]
) -> tuple[list[str], list[list[str]]]:
    """Each request's query and the texts of its scorable candidates."""
    return [request.query or "" for request in requests], [[c.text for c in usable] for usable in scored]


def _rerank_error(collection: str, config: CollectionConfig, error: Exception) -> RerankError:
    """A scorer's failure as the :class:`RerankError` the error policy acts on."""
    if isinstance(error, RerankError):
        return error
    if isinstance(error, VecrankError):
        return RerankError(f"collection {collection!r}: reranking failed: {error}")
    reason = f"reranker {config.model!r} failed: {type(error).__name__}: {error}"
    return RerankError(f"collection {collection!r}: {reason}")


def _checked(collection: str, pairs: list[tuple[str, str]], scores: Any) -> list[float]:
    """``scores`` if there is one finite score per pair; a RerankError otherwise."""
    if scores is None or len(scores) != len(pairs):
        got = "no scores" if scores is None else f"{len(scores)} scores"
        raise RerankError(f"collection {collection!r}: reranker gave {got} for {len(pairs)} pairs")
    bad = [s for s in scores if not math.isfinite(float(s))]
    if bad:
        raise RerankError(f"collection {collection!r}: reranker gave a non-finite score ({bad[0]})")
    return scores


def _summary(settings: CollectionConfig) -> str:
    fields = ("model", "text_field", "template", "enabled")
    return ", ".join(
        f"{key}={getattr(settings, key)!r}" for key in fields if getattr(settings, key) is not None
    )


def _database_order(candidates: list[Candidate]) -> list[Candidate]:
    for candidate in candidates:
        candidate.raw_score = candidate.score = None
    return sorted(candidates, key=lambda c: c.position)


def regroup(
    ordered: Sequence[Candidate], group_of: Callable[[Candidate], Hashable], limit: int
) -> list[list[Candidate]]:
    """Reranked candidates by group: each group's in their new order, groups by their best, ``limit`` kept."""
    groups: dict[Hashable, list[Candidate]] = {}
    for candidate in ordered:
        groups.setdefault(group_of(candidate), []).append(candidate)
    return list(groups.values())[:limit]
