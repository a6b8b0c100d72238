"""The engine behind every protocol: model names resolved to loaded rerankers, limits, batched scoring."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.cache import get_reranker
from ..core.reranker import CrossEncoderReranker
from ..core.yes_no import check_instruction
from ..errors import ConfigError, ModelError
from ..plugins import get_plugin_manager
from .batcher import Batcher
from .errors import ApiError
from .metrics import Metrics
from .settings import ServerSettings
from .texts import Prepared, TextCutter, Truncation, slices


class RerankService:
    """One :class:`Batcher` per loaded model, shared by every alias that names it."""

    def __init__(self, settings: ServerSettings, rerankers: Mapping[str, CrossEncoderReranker]) -> None:
        """``rerankers`` maps each model name in ``settings.models`` to its loaded reranker."""
        self.settings = settings
        self.metrics = Metrics(self.queue_depths)
        by_instance: dict[int, Batcher] = {}
        self._batchers: dict[str, Batcher] = {}
        self._cutters: dict[str, TextCutter] = {}
        for alias, name in settings.aliases.items():
            reranker = rerankers[name]
            if id(reranker) not in by_instance:
                batch_tokens = settings.batch_tokens or reranker.batch_tokens
                by_instance[id(reranker)] = Batcher(
                    reranker,
                    alias,
                    self.metrics,
                    max_wait_ms=settings.max_wait_ms,
                    merge_tokens=settings.merge_tokens,
                    chunk_tokens=settings.chunk_tokens or batch_tokens * reranker.cpu_workers,
                    batch_tokens=settings.batch_tokens,
                    queue_size=settings.queue_size,
                )
            self._batchers[alias] = by_instance[id(reranker)]
            self._cutters[alias] = TextCutter(reranker.tokenizers, reranker.max_length)
        self.batchers = list(by_instance.values())

    @classmethod
    def load(
        cls, settings: ServerSettings, loaded: Mapping[str, CrossEncoderReranker] | None = None
    ) -> RerankService:
        """Load every configured model once (``loaded`` supplies ready ones by model name).

        The plugins are loaded first: their prompt templates are how a yes/no reranker loads (a Ray
        replica's process, or a program that starts the server, has loaded nothing else).
        """
        get_plugin_manager()
        rerankers = dict(loaded or {})
        for name in dict.fromkeys(settings.models.values()):
            if name not in rerankers:
                rerankers[name] = get_reranker(
                    name,
                    device=settings.device,
                    dtype=settings.dtype,
                    precision=settings.precision,
                    attention=settings.attention,
                    trust_remote_code=settings.trust_remote_code,
                )
            if rerankers[name].num_labels != 1:
                raise ModelError(
                    f"model {name!r} has {rerankers[name].num_labels} output labels; "
                    "a reranker needs exactly one (its relevance logit)"
                )
        return cls(settings, rerankers)

    @property
    def ready(self) -> bool:
        return all(batcher.running for batcher in self.batchers)

    def start(self) -> None:
        for batcher in self.batchers:
            batcher.start()

    async def stop(self) -> None:
        """Finish the queued work of every model, then stop."""
        for batcher in self.batchers:
            await batcher.stop()

    def queue_depths(self) -> dict[str, int]:
        return {batcher.name: batcher.queued_pairs for batcher in self.batchers}

    def resolve(self, model: str | None) -> str:
        """The alias a request's ``model`` names (the default when None); 404 for an unknown name."""
        if model is None:
            return self.settings.default_alias
        if model not in self.settings.aliases:
            allowed = ", ".join(sorted(self.settings.aliases))
            raise ApiError(
                404, f"model {model!r} is not served here; `model` must be one of: {allowed}", "not_found"
            )
        return model

    def reranker(self, alias: str) -> CrossEncoderReranker:
        return self._batchers[alias].reranker

    def model_config(self, alias: str) -> dict[str, Any]:
        """The Hugging Face config of the model behind ``alias``, as a dict (for ``/meta``)."""
        return json.loads(self.reranker(alias).model.config.to_json_string(use_diff=False))

    def check(self, query: str, texts: list[str], field: str, allow_empty: bool = False) -> None:
        """Apply the request limits: 400 for no documents, 413 for too many, 422 for too long."""
        settings = self.settings
        if not texts and not allow_empty:
            raise ApiError(400, f"`{field}` cannot be empty", "empty")
        if len(texts) > settings.max_documents:
            raise ApiError(
                413, f"`{field}` holds {len(texts)} documents; at most {settings.max_documents} are allowed"
            )
        if len(query) > settings.max_query_chars:
            raise ApiError(
                422,
                f"`query` is {len(query)} characters long; at most {settings.max_query_chars} are allowed",
            )
        for number, text in enumerate(texts):
            if len(text) > settings.max_document_chars:
                raise ApiError(
                    422,
                    f"`{field}[{number}]` is {len(text)} characters long; "
                    f"at most {settings.max_document_chars} are allowed",
                )

    async def prepare(self, alias: str, query: str, texts: list[str], truncation: Truncation) -> Prepared:
        """The texts to score, cut to what the model reads: on worker threads, one slice at a time."""
        cutter = self._cutters[alias]
        parts = [
            await asyncio.to_thread(cutter.prepare, query, texts[part], truncation) for part in slices(texts)
        ]
        return Prepared.joined(parts)

    def check_instruction(self, alias: str, instruction: str | None) -> None:
        """409 for an instruction given to a model that takes none: the body is valid, the model is not."""
        try:
            check_instruction(self.reranker(alias).loaded, instruction)
        except ConfigError as error:
            raise ApiError(409, f"`instruction`: {error}", "conflict") from None

    async def logits(
        self, alias: str, query: str, texts: list[str], instruction: str | None = None
    ) -> np.ndarray:
        """Raw logits of (query, text) for each text, in order, from engine calls shared with others."""
        return await self._batchers[alias].score([(query, text) for text in texts], instruction)
