"""Request and response bodies of each protocol, and how each request turns logits into its answer.

Every request model knows its documents' texts (``document_texts``) and builds its protocol's answer from
raw logits in document order (``answer``). Unknown request fields are ignored, as the peers do.
"""

from __future__ import annotations

import math
import uuid
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, RootModel

from .errors import ApiError
from .texts import Truncation

# Cohere counts one search unit per query and 100 documents (nothing is billed here).
DOCUMENTS_PER_SEARCH_UNIT = 100


class ErrorResponse(BaseModel):
    """An error of the Weaviate module and TEI routes."""

    error: str
    error_type: str


class CohereErrorResponse(BaseModel):
    """An error of the Cohere v2 route."""

    message: str


class V1ErrorResponse(BaseModel):
    """An error of the Cohere v1 and Jina route: Cohere reads ``message``, Jina ``detail``."""

    message: str
    detail: str


class HealthResponse(BaseModel):
    """``queue_pairs`` (pairs waiting for the engine) only for callers with the key."""

    status: Literal["ok", "unavailable"]
    queue_pairs: int | None = None


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function in float64, without overflow for large negative logits."""
    return np.exp(-np.logaddexp(0.0, -logits.astype(np.float64)))


def ranking(logits: np.ndarray, top_n: int | None = None) -> list[int]:
    """Document indices, best logit first (ties keep document order), cut at ``top_n``.

    Ranked on the logits: the sigmoid of two large logits can round to the same score.
    """
    return [int(i) for i in np.argsort(-logits, kind="stable")[:top_n]]


class RerankRequest(BaseModel):
    """Fields every protocol shares; subclasses name their documents field and build the answer."""

    # strict: a boolean is no integer and a string no boolean or number, in every protocol's fields
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    documents_field: ClassVar[str] = "documents"
    allow_empty: ClassVar[bool] = False

    query: str

    @property
    def model_name(self) -> str | None:
        """The ``model`` the request asks for; None for the default."""
        return None

    @property
    def truncation(self) -> Truncation:
        """How long texts are cut: by default the model keeps each pair's first tokens."""
        return Truncation()

    def document_texts(self) -> list[str]:
        raise NotImplementedError

    def answer(self, logits: np.ndarray, model: str, tokens: list[int] | None) -> Any:
        """The answer from raw logits in document order (``tokens``: scored per pair, if counted)."""
        raise NotImplementedError


# Weaviate reranker-transformers module: POST /rerank {query, documents | property}


class DocumentScore(BaseModel):
    document: str
    score: float


class WeaviateRerankResponse(BaseModel):
    """Scores in document order; ``property``/``score`` answer the single-document form."""

    query: str
    scores: list[DocumentScore] | None = None
    property: str | None = None
    score: float | None = None


class WeaviateRerankRequest(RerankRequest):
    """Scores are the sigmoid of the logit, as sentence-transformers' CrossEncoder.predict gives them.

    A body with ``texts`` is TEI's, so this one has none."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["documents"], "properties": {"documents": {"type": "array"}}},
                {"required": ["property"], "properties": {"property": {"type": "string"}}},
            ],
            "not": {"required": ["texts"]},
        }
    )

    allow_empty: ClassVar[bool] = True

    documents: list[str] | None = None
    property: str | None = None

    def document_texts(self) -> list[str]:
        if self.documents is not None:
            return self.documents
        if self.property is not None:
            return [self.property]
        raise ApiError(422, "the body needs `documents` (a list of strings) or `property` (a string)")

    def answer(self, logits: np.ndarray, model: str, tokens: list[int] | None) -> dict[str, Any]:
        scores = sigmoid(logits)
        if self.documents is None:
            return WeaviateRerankResponse(
                query=self.query, property=self.property, score=scores[0]
            ).model_dump()
        items = [DocumentScore(document=d, score=s) for d, s in zip(self.documents, scores)]
        return WeaviateRerankResponse(query=self.query, scores=items).model_dump()


# Hugging Face text-embeddings-inference: POST /rerank {query, texts, ...} -> [{index, score, text?}]


class TeiRank(BaseModel):
    index: int
    score: float
    text: str | None = None


class TeiRerankResponse(RootModel[list[TeiRank]]):
    """Ranks, best first."""


class TeiRerankRequest(RerankRequest):
    """Ranks best first; the sigmoid of the logit unless ``raw_scores``. Long pairs are truncated at the
    end (``truncation_direction`` Right) or the start (Left) unless ``truncate`` is false: then 413.

    ``model`` is vecrank's addition (TEI serves one model): it picks a served model, as in Cohere's body.
    """

    documents_field: ClassVar[str] = "texts"

    model: str | None = None
    texts: list[str]
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool | None = None
    truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"

    @property
    def truncation(self) -> Truncation:
        return Truncation(left=self.truncation_direction.lower() == "left", refuse=self.truncate is False)

    @property
    def model_name(self) -> str | None:
        return self.model

    def document_texts(self) -> list[str]:
        return self.texts

    def answer(self, logits: np.ndarray, model: str, tokens: list[int] | None) -> list[dict[str, Any]]:
        scores = logits.astype(np.float64) if self.raw_scores else sigmoid(logits)
        return [
            TeiRank(index=i, score=scores[i], text=self.texts[i] if self.return_text else None).model_dump(
                exclude_none=True
            )
            for i in ranking(logits)
        ]


# Cohere v2: POST /v2/rerank {model, query, documents, top_n?, max_tokens_per_doc?}


class ApiVersion(BaseModel):
    version: str
    is_experimental: bool = False


class BilledUnits(BaseModel):
    search_units: int


class CohereMeta(BaseModel):
    """Cohere's ``meta``: the API version, and search units counted by Cohere's rule."""

    api_version: ApiVersion
    billed_units: BilledUnits

    @classmethod
    def of(cls, version: str, documents: int) -> CohereMeta:
        units = max(1, math.ceil(documents / DOCUMENTS_PER_SEARCH_UNIT))
        return cls(api_version=ApiVersion(version=version), billed_units=BilledUnits(search_units=units))


class CohereResult(BaseModel):
    index: int
    relevance_score: float


class CohereRerankResponse(BaseModel):
    id: str
    results: list[CohereResult]
    meta: CohereMeta


class CohereRerankRequest(RerankRequest):
    """``relevance_score`` is the sigmoid of the logit; ``max_tokens_per_doc`` keeps each document's
    first tokens (any value from 1), before the pair is cut to the model's own limit."""

    model: str | None = None
    documents: list[str]
    top_n: int | None = Field(None, ge=1)
    max_tokens_per_doc: int | None = Field(None, ge=1)

    @property
    def model_name(self) -> str | None:
        return self.model

    @property
    def truncation(self) -> Truncation:
        return Truncation(document_tokens=self.max_tokens_per_doc)

    def document_texts(self) -> list[str]:
        return self.documents

    def answer(self, logits: np.ndarray, model: str, tokens: list[int] | None) -> dict[str, Any]:
        scores = sigmoid(logits)
        results = [CohereResult(index=i, relevance_score=scores[i]) for i in ranking(logits, self.top_n)]
        meta = CohereMeta.of("2", len(self.documents))
        return CohereRerankResponse(id=str(uuid.uuid4()), results=results, meta=meta).model_dump()


# Cohere v1 and Jina: POST /v1/rerank, documents as strings or objects ({"text": ...})


class V1Result(BaseModel):
    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class Usage(BaseModel):
    total_tokens: int


class V1RerankResponse(BaseModel):
    """Cohere v1's answer, with Jina's ``model`` and ``usage`` (tokens scored) beside it."""

    id: str
    model: str
    results: list[V1Result]
    meta: CohereMeta
    usage: Usage


_WITH_TEXT = {"type": "object", "required": ["text"]}
_SOME_FIELDS = {"type": "array", "minItems": 1}


class V1RerankRequest(RerankRequest):
    """Cohere v1 and Jina share this body; documents come back unless ``return_documents`` is false
    (Jina's default). An object document is scored on its ``rank_fields`` (default ``text``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "description": "Object documents are scored on their `rank_fields`, each of which every object "
            "document must hold; with no `rank_fields`, on `text`.",
            "anyOf": [
                {
                    "required": ["rank_fields"],
                    "properties": {"rank_fields": {"type": "array", "minItems": 1}},
                },
                {"properties": {"documents": {"items": {"anyOf": [{"type": "string"}, _WITH_TEXT]}}}},
            ],
        }
    )

    model: str | None = None
    documents: list[str | dict[str, str]]
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = True
    rank_fields: list[str] | None = None

    @property
    def model_name(self) -> str | None:
        return self.model

    def document_texts(self) -> list[str]:
        return [self._text(number, document) for number, document in enumerate(self.documents)]

    def _text(self, number: int, document: str | dict[str, str]) -> str:
        if isinstance(document, str):
            return document
        fields = self.rank_fields or ["text"]
        missing = [field for field in fields if field not in document]
        if missing:
            raise ApiError(422, f"documents[{number}] has no field {missing[0]!r} to rank on")
        if fields == ["text"]:
            return document["text"]
        return "\n".join(f"{field}: {document[field]}" for field in fields)

    @property
    def truncation(self) -> Truncation:
        return Truncation(count=True)

    def answer(self, logits: np.ndarray, model: str, tokens: list[int] | None) -> dict[str, Any]:
        scores = sigmoid(logits)
        results = [
            V1Result(
                index=i,
                relevance_score=scores[i],
                document=self._returned(i) if self.return_documents else None,
            )
            for i in ranking(logits, self.top_n)
        ]
        response = V1RerankResponse(
            id=str(uuid.uuid4()),
            model=model,
            results=results,
            meta=CohereMeta.of("1", len(self.documents)),
            usage=Usage(total_tokens=sum(tokens or [])),
        )
        return response.model_dump(exclude_none=True)

    def _returned(self, index: int) -> dict[str, Any]:
        document = self.documents[index]
        return {"text": document} if isinstance(document, str) else document
