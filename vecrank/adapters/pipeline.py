"""What every adapter shares, with no I/O: over-fetch, text extraction, hook calls, error policy.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..candidate import Candidate
from ..config import CollectionConfig, VecrankConfig, load_config
from ..errors import MissingTextError, RerankError, VecrankError
from ..plugins import call_hook

logger = logging.getLogger("vecrank")


@dataclass
class RerankRequest:
    """One query's candidates (database order) and its query text (None: no rerank)."""

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

    def should_rerank(self, collection: str, queries: Sequence[str | None]) -> bool:
        """Whether to intercept: the collection is enabled and some query has text."""
        if not self.settings(collection).enabled:
            return False
        if not any(queries):
            if collection not in self._warned_no_text:
                self._warned_no_text.add(collection)
                logger.info("collection %r: query without text, results pass through unchanged", collection)
            return False
        return True

    def rerank(self, collection: str, requests: Sequence[RerankRequest]) -> list[list[Candidate]]:
        """Each request's candidates in the new order (all queries scored in one engine call)."""
        config = self.settings(collection)
        scored = [self._texts(collection, request, config) for request in requests]
        pairs = [
            (request.query, candidate.text)
            for request, usable in zip(requests, scored)
            for candidate in usable
        ]
        try:
            scores = self._scores(collection, pairs, config)
        except RerankError as error:
            if config.on_error != "passthrough":
                raise
            logger.warning("collection %r: %s; returning the database order", collection, error)
            return [_database_order(request.candidates) for request in requests]
        results = []
        position = 0
        for request, usable in zip(requests, scored):
            for candidate in usable:
                candidate.raw_score = candidate.score = float(scores[position])
                position += 1
            results.append(self._finish(collection, request, usable, config))
        return results

    async def arerank(self, collection: str, requests: Sequence[RerankRequest]) -> list[list[Candidate]]:
        """:meth:`rerank` on a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.rerank, collection, requests)

    def _texts(self, collection: str, request: RerankRequest, config: CollectionConfig) -> list[Candidate]:
        """Set each candidate's text; return those that can be scored."""
        if not request.query:
            return []
        usable = []
        for candidate in request.candidates:
            try:
                text = call_hook(
                    "vecrank_document_text", collection=collection, candidate=candidate, config=config
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
            scores = call_hook("vecrank_rerank", collection=collection, pairs=pairs, config=config)
        except VecrankError as error:
            if isinstance(error, RerankError):
                raise
            raise RerankError(f"collection {collection!r}: reranking failed: {error}") from error
        except Exception as error:
            reason = f"reranker {config.model!r} failed: {type(error).__name__}: {error}"
            raise RerankError(f"collection {collection!r}: {reason}") from error
        if scores is None or len(scores) != len(pairs):
            got = "no scores" if scores is None else f"{len(scores)} scores"
            raise RerankError(f"collection {collection!r}: reranker gave {got} for {len(pairs)} pairs")
        bad = [s for s in scores if not math.isfinite(float(s))]
        if bad:
            raise RerankError(f"collection {collection!r}: reranker gave a non-finite score ({bad[0]})")
        return scores

    def _finish(
        self, collection: str, request: RerankRequest, usable: list[Candidate], config: CollectionConfig
    ) -> list[Candidate]:
        """Post-process, sort by score, and put hits without text last in database order."""
        if not request.query:
            return list(request.candidates)
        kept = list(usable)
        call_hook(
            "vecrank_after_rerank", collection=collection, query=request.query, candidates=kept, config=config
        )
        kept.sort(key=lambda c: -c.score)
        scored_ids = {id(c) for c in usable}
        unscored = [c for c in request.candidates if id(c) not in scored_ids]
        return kept + unscored


def _summary(settings: CollectionConfig) -> str:
    fields = ("model", "text_field", "template", "enabled")
    return ", ".join(
        f"{key}={getattr(settings, key)!r}" for key in fields if getattr(settings, key) is not None
    )


def _database_order(candidates: list[Candidate]) -> list[Candidate]:
    for candidate in candidates:
        candidate.raw_score = candidate.score = None
    return sorted(candidates, key=lambda c: c.position)
