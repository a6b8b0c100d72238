"""The OpenAPI document: request and response schemas of every route, in each protocol's shape.

The routes read their bodies themselves (size limit, JSON depth, invalid Unicode, errors in the
protocol's own shape), so their schemas are declared here rather than inferred by FastAPI.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .schemas import (
    CohereErrorResponse,
    CohereRerankRequest,
    CohereRerankResponse,
    ErrorResponse,
    HealthResponse,
    TeiRerankRequest,
    TeiRerankResponse,
    V1ErrorResponse,
    V1RerankRequest,
    V1RerankResponse,
    WeaviateRerankRequest,
    WeaviateRerankResponse,
)
from .settings import ServerSettings

# route -> (request bodies, answers, error body)
POST_ROUTES: dict[str, tuple[list[type[BaseModel]], list[type[BaseModel]], type[BaseModel]]] = {
    "/rerank": (
        [WeaviateRerankRequest, TeiRerankRequest],
        [WeaviateRerankResponse, TeiRerankResponse],
        ErrorResponse,
    ),
    "/v2/rerank": ([CohereRerankRequest], [CohereRerankResponse], CohereErrorResponse),
    "/v1/rerank": ([V1RerankRequest], [V1RerankResponse], V1ErrorResponse),
}
POST_ERRORS = {
    "400": "malformed JSON, or no documents",
    "401": "missing or wrong API key",
    "404": "the model is not served here",
    "409": "an `instruction` for a model that takes none (a cross-encoder; yes/no rerankers take one)",
    "413": "too many documents, too large a body, or (TEI, truncate false) too long a pair",
    "415": "the body is not JSON (Content-Type application/json or application/*+json)",
    "422": "a field of the wrong type or value, too long a text, or invalid Unicode",
    "429": "the queue is full, or too many bodies are being read; retry after Retry-After seconds",
    "500": "the engine failed on this request",
    "503": "the server is shutting down, or has too many open connections",
}
# Which routes the key covers: always, or only with api_key_scope "all" (see ``_security``).
KEYED_GETS = {"/meta", "/metrics"}
# The request models whose documents may be an empty list.
_REQUESTS = [WeaviateRerankRequest, TeiRerankRequest, CohereRerankRequest, V1RerankRequest]
GET_RESPONSES: dict[str, dict[str, Any]] = {
    "/health": {"200": HealthResponse, "503": HealthResponse},
    "/.well-known/live": {"204": None},
    "/.well-known/ready": {"204": None, "503": None},
    "/meta": {"200": {"type": "object", "description": "the default model's config and the served names"}},
    "/metrics": {"200": "text/plain"},
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _any_of(models: list[type[BaseModel]]) -> dict[str, Any]:
    return _ref(models[0]) if len(models) == 1 else {"anyOf": [_ref(model) for model in models]}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with every route's request and response schemas filled in."""
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    models: set[type[BaseModel]] = {HealthResponse}
    paths = schema["paths"]
    for path, (requests, answers, error) in POST_ROUTES.items():
        models.update(answers + [error])
        operation = paths[path]["post"]
        operation["requestBody"] = {"required": True, "content": _json(_any_of(requests))}
        operation["responses"] = {"200": {"description": "the ranking", "content": _json(_any_of(answers))}}
        for status, text in POST_ERRORS.items():
            operation["responses"][status] = {"description": text, "content": _json(_ref(error))}
    for path, answers in GET_RESPONSES.items():
        responses: dict[str, Any] = {}
        for status, answer in answers.items():
            responses[status] = {"description": "no content" if answer is None else "ok"}
            if isinstance(answer, type):
                responses[status]["content"] = _json(_ref(answer))
            elif answer == "text/plain":
                responses[status]["content"] = {"text/plain": {"schema": {"type": "string"}}}
            elif isinstance(answer, dict):
                responses[status]["content"] = _json(answer)
        paths[path]["get"]["responses"] = responses
    _, definitions = models_json_schema(
        [(model, "serialization") for model in sorted(models, key=lambda m: m.__name__)]
        + [(model, "validation") for route in POST_ROUTES.values() for model in route[0]],
        ref_template="#/components/schemas/{model}",
    )
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(definitions["$defs"])
    settings: ServerSettings = app.state.settings
    _declare_limits(components["schemas"], settings)
    if settings.api_key is not None:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        _declare_security(paths, settings)
    return schema


def _declare_limits(schemas: dict[str, Any], settings: ServerSettings) -> None:
    """The bounds that depend on the server's settings: served model names, query and document
    lengths, documents per request (and at least one where an empty list is refused)."""
    for request in _REQUESTS:
        properties = schemas[request.__name__]["properties"]
        properties["query"]["maxLength"] = settings.max_query_chars
        if "model" in properties:
            properties["model"]["anyOf"][0]["enum"] = sorted(settings.aliases)
        documents = properties[request.documents_field]
        array = next(
            option for option in documents.get("anyOf", [documents]) if option.get("type") == "array"
        )
        array["maxItems"] = settings.max_documents
        if not request.allow_empty:
            array["minItems"] = 1
        for item in array["items"].get("anyOf", [array["items"]]):
            (item if item["type"] == "string" else item["additionalProperties"])["maxLength"] = (
                settings.max_document_chars
            )


def _declare_security(paths: dict[str, Any], settings: ServerSettings) -> None:
    """The bearer key on every route it covers; optional where a request may go without it."""
    keyed = [{"bearer": []}]
    for path in POST_ROUTES:
        paths[path]["post"]["security"] = keyed
    if settings.weaviate_without_key:
        paths["/rerank"]["post"]["security"] = [{}, *keyed]  # the Weaviate module's bodies need none
        paths["/meta"]["get"]["security"] = [{}]
    for path in KEYED_GETS | ({"/health"} if settings.api_key_scope == "all" else set()):
        operation = paths[path]["get"]
        operation.setdefault("security", keyed)
        if operation["security"] == keyed:
            operation["responses"]["401"] = {"description": "missing or wrong API key"}
