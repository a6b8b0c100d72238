"""What the LangChain, LlamaIndex and Haystack integrations share, with no framework import.

A framework module turns its documents into :class:`Hit` objects, calls
:meth:`FrameworkReranker.rerank` (or ``arerank``), and rebuilds its own documents from the
:class:`Ranked` results. Everything else (text extraction, scoring, normalisation, fusion,
``min_score``, ``on_error``, ``on_missing_text``) is the adapters' :class:`RerankPipeline`.

The post-processors take the model settings of :class:`ModelSettings` as keywords, as their peers
take ``model=`` (LlamaIndex's ``SentenceTransformerRerank``, Haystack's
``SentenceTransformersSimilarityRanker``); a keyword they do not know is a ``TypeError``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, Field, PrivateAttr

from ..adapters.pipeline import QueryCandidates, RerankPipeline
from ..candidate import Candidate, to_candidates
from ..config import VecrankConfig
from ..config_loading import load_config
from ..errors import ConfigError

ConfigSource = str | os.PathLike | Mapping | VecrankConfig | RerankPipeline | None

# The name the settings of ``[defaults]`` go by when a config lists no collection and none is named.
DEFAULTS = "[defaults]"

# Where the frameworks' Qdrant and Weaviate stores keep their collection's name.
_STORE_COLLECTION_ATTRIBUTES = ("collection_name", "index_name", "_index_name", "index")

# The names both scores are recorded under in a framework document's metadata.
RERANK_SCORE_KEY = "rerank_score"
VECTOR_SCORE_KEY = "vector_score"


def missing_extra(framework: str, extra: str, error: ImportError) -> ImportError:
    """The one-line error for an integration whose framework is not installed."""
    return ImportError(
        f"vecrank's {framework} integration needs the {extra!r} extra ({error.name} is missing): "
        f"pip install 'vecrank[{extra}]'"
    )


def pipeline_for(config: ConfigSource) -> RerankPipeline:
    """A pipeline from the same sources :func:`vecrank.wrap` takes, or an existing one (shared as is)."""
    if isinstance(config, RerankPipeline):
        return config
    return RerankPipeline(load_config(config))


def store_collection(store: Any) -> str | None:
    """The collection (or index) name of a framework's Qdrant or Weaviate store, if it has one."""
    if store is None:
        return None
    for attribute in _STORE_COLLECTION_ATTRIBUTES:
        value = getattr(store, attribute, None)
        if isinstance(value, str) and value:
            return value
    settings = getattr(store, "_collection_settings", None)  # weaviate-haystack
    if isinstance(settings, Mapping) and isinstance(settings.get("class"), str):
        return settings["class"]
    return None


class ModelSettings(BaseModel):
    """Model settings a post-processor takes as keywords; each wins over the config's key of its name.

    A setting of the config (``CollectionConfig``) is offered here by one line. None: the config's.
    """

    model: str | None = Field(None, description="alias, local folder, hub id, plugin name or service URL")
    max_length: int | None = Field(None, description="tokens per (query, document) pair")
    device: str | None = Field(None, description="cuda, mps or cpu (default: the best there is)")
    dtype: str | None = Field(None, description="auto, fp32, bf16, fp16; on CPU int8 or int8-per-token")
    batch_tokens: int | None = Field(None, description="token budget of one engine batch")
    trust_remote_code: bool | None = Field(None, description="allow hub code")
    instruction: str | None = Field(
        None, description="task instruction of a yes/no reranker (Qwen3-Reranker)"
    )
    prompt_template: str | None = Field(None, description="yes/no template for a causal LM not named as one")


MODEL_SETTINGS = tuple(ModelSettings.model_fields)


def check_keywords(owner: str, given: Iterable[str], known: Iterable[str]) -> None:
    """A ``TypeError`` naming the first keyword of ``given`` that ``owner`` does not take."""
    known = sorted(known)
    for keyword in given:
        if keyword not in known:
            close = difflib.get_close_matches(keyword, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"{owner} got an unexpected keyword argument {keyword!r}{hint}; it takes: {', '.join(known)}"
            )


def check_settings(owner: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The model settings given (not None), checked as the config checks them: a ConfigError names one."""
    check_keywords(owner, settings, MODEL_SETTINGS)
    given = {name: value for name, value in settings.items() if value is not None}
    try:
        load_config({"defaults": given})
    except ConfigError as error:
        where = str(error).removeprefix("config dict: ").removeprefix("[defaults]: ")
        raise ConfigError(f"{owner}: " + where.replace(" 'defaults.", " '")) from None
    return given


@dataclass(frozen=True)
class Hit:
    """One framework document as the pipeline sees it: its text, metadata and database score."""

    document: Any
    text: str | None
    metadata: Mapping[str, Any]
    vector_score: float | None = None
    id: Any = None


@dataclass(frozen=True)
class Ranked:
    """One document in the new order; ``score`` is None where it was not reranked."""

    document: Any
    score: float | None
    rerank_score: float | None
    vector_score: float | None

    def score_metadata(self) -> dict[str, float]:
        """Both scores under vecrank's metadata keys (only those that are known)."""
        scores = {RERANK_SCORE_KEY: self.rerank_score, VECTOR_SCORE_KEY: self.vector_score}
        return {key: value for key, value in scores.items() if value is not None}


class FrameworkReranker:
    """Reranks one framework's documents with a :class:`RerankPipeline`, for one collection.

    ``collection`` picks the per-collection settings; with None, the framework module names
    one per call (from its store or its documents), a config that lists no collection gives its
    ``[defaults]``, or a ValueError asks for it. ``settings`` (checked :class:`ModelSettings`
    values) win over the config's for every collection. ``source`` names the framework to the
    ``vecrank_reranked`` hook (and in captured traffic).
    """

    def __init__(
        self,
        config: ConfigSource = None,
        collection: str | None = None,
        settings: Mapping[str, Any] | None = None,
        *,
        source: str,
    ) -> None:
        pipeline = pipeline_for(config)
        self.pipeline = RerankPipeline(_with_settings(pipeline.config, settings)) if settings else pipeline
        self.collection = collection
        self.source = source

    def collection_for(self, *hints: str | None) -> str:
        """The explicit collection, else the first hint (store or document metadata), else the defaults."""
        for name in (self.collection, *hints):
            if name:
                return name
        if not self.pipeline.config.collections:
            return DEFAULTS
        raise ValueError(
            "vecrank cannot tell which collection these documents come from: pass collection= "
            "(or the vector store) to pick its settings"
        )

    def candidate_count(self, collection: str, top_n: int) -> int:
        """How many documents to fetch from the store so that ``top_n`` come out reranked."""
        return self.pipeline.fetch_limit(collection, 0, top_n)

    def rerank(self, collection: str, query: str, hits: Sequence[Hit], top_n: int | None) -> list[Ranked]:
        """``hits`` in the new order, cut to ``top_n`` (None: all that remain)."""
        _check_top_n(top_n)
        request = _request(self.pipeline, collection, query, hits)
        if request is None:
            return _cut(_unchanged(hits), top_n)
        [ordered] = self.pipeline.rerank(collection, [request], source=self.source)
        return _cut(_ranked(ordered), top_n)

    async def arerank(
        self, collection: str, query: str, hits: Sequence[Hit], top_n: int | None
    ) -> list[Ranked]:
        """:meth:`rerank` without blocking the event loop."""
        _check_top_n(top_n)
        request = _request(self.pipeline, collection, query, hits)
        if request is None:
            return _cut(_unchanged(hits), top_n)
        [ordered] = await self.pipeline.arerank(collection, [request], source=self.source)
        return _cut(_ranked(ordered), top_n)


class PostProcessor(ModelSettings):
    """What the LangChain and LlamaIndex post-processors (pydantic models) share: their keywords checked,
    then the reranker built, so that errors come as they are (``TypeError``, ``ConfigError``)."""

    config: Any = Field(None, exclude=True, description="a TOML path, dict, VecrankConfig or pipeline")
    collection: str | None = Field(None, description="the collection whose settings apply")
    framework: ClassVar[str]  # the source the vecrank_reranked hook is told: langchain, llamaindex
    _reranker: FrameworkReranker = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        owner = type(self).__name__
        check_keywords(owner, data, type(self).model_fields)
        settings = check_settings(owner, {name: data.get(name) for name in MODEL_SETTINGS})
        super().__init__(**data)
        self._reranker = FrameworkReranker(
            self.config,
            self.collection or self._store_collection(),
            settings,
            source=self.framework,
        )

    def _store_collection(self) -> str | None:
        """The collection of the post-processor's vector store, where it is given one."""
        return None


def _with_settings(config: VecrankConfig, settings: Mapping[str, Any]) -> VecrankConfig:
    """``config`` with ``settings`` over ``[defaults]`` and each collection's (``model`` ends a cascade)."""
    data = config.model_dump(exclude_unset=True)

    def over(section: Mapping[str, Any]) -> dict[str, Any]:
        kept = {key: value for key, value in section.items() if not (key == "stages" and "model" in settings)}
        return {**kept, **settings}

    data["defaults"] = over(data.get("defaults", {}))
    data["collections"] = {name: over(section) for name, section in data.get("collections", {}).items()}
    return load_config(data)


def _request(
    pipeline: RerankPipeline, collection: str, query: str, hits: Sequence[Hit]
) -> QueryCandidates | None:
    """The pipeline request, or None where the hits pass through (disabled, no query, no hits)."""
    query = pipeline.query_text(query, "query")
    if not hits or not pipeline.should_rerank(collection, [query]):
        return None
    text_field = pipeline.settings(collection).text_field
    candidates = to_candidates(
        hits,
        id_of=lambda hit: hit.id,
        payload_of=lambda hit: _payload(hit, text_field),
        vector_score_of=lambda hit: hit.vector_score,
    )
    return QueryCandidates(query, candidates)


def _payload(hit: Hit, text_field: str) -> dict[str, Any]:
    """The hit's metadata with its text under the collection's ``text_field`` (for fields and templates)."""
    payload = dict(hit.metadata)
    if hit.text is not None:
        payload[text_field] = hit.text
    else:
        payload.pop(text_field, None)
    return payload


def _ranked(ordered: Sequence[Candidate]) -> list[Ranked]:
    return [
        Ranked(candidate.hit.document, candidate.score, candidate.raw_score, candidate.hit.vector_score)
        for candidate in ordered
    ]


def _unchanged(hits: Sequence[Hit]) -> list[Ranked]:
    return [Ranked(hit.document, None, None, hit.vector_score) for hit in hits]


def _check_top_n(top_n: int | None) -> None:
    if top_n is not None and top_n < 0:
        raise ValueError(f"the number of documents to return must be non-negative, got {top_n}")


def _cut(ranked: list[Ranked], top_n: int | None) -> list[Ranked]:
    return ranked if top_n is None else ranked[:top_n]
