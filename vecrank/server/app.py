"""The HTTP app: Weaviate module, TEI, Cohere and Jina routes over one :class:`RerankService`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from .. import __version__
from ..candidate import Candidate
from ..core.reranker import CrossEncoderReranker
from ..plugins import get_plugin_manager
from ..plugins.capture import flush_capture
from ..plugins.hooks import call_each
from .auth import has_api_key, require_api_key
from .body import BodyBudget, read_json
from .errors import ApiError, error_body
from .middleware import RequestLog
from .openapi import openapi_schema
from .schemas import (
    CohereRerankRequest,
    RerankRequest,
    TeiRerankRequest,
    V1RerankRequest,
    WeaviateRerankRequest,
)
from .service import RerankService
from .settings import ServerSettings

logger = logging.getLogger("vecrank.server")

T = TypeVar("T")
# Answers of up to this many documents are built on the event loop; larger ones on a worker thread.
INLINE_ANSWER_DOCUMENTS = 256

router = APIRouter()
protected = APIRouter(dependencies=[Depends(require_api_key)])


def create_app(
    settings: ServerSettings,
    rerankers: Mapping[str, CrossEncoderReranker] | None = None,
    *,
    service: RerankService | None = None,
) -> FastAPI:
    """Load the models and build the app; ``rerankers`` supplies ready ones by model name.

    ``service`` replaces the local models with another scoring service (Ray Serve deployments).
    """
    get_plugin_manager()  # every request tells the vecrank_reranked hooks: a broken plugin fails here
    if service is None:
        service = RerankService.load(settings, rerankers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        logger.info("ready", extra={"fields": {"models": list(settings.aliases)}})
        try:
            yield
        finally:
            await service.stop()
            await asyncio.to_thread(flush_capture)
            logger.info("stopped")

    keyed_docs = settings.api_key is not None and settings.api_key_scope == "all"
    app = FastAPI(
        title="vecrank",
        version=__version__,
        lifespan=lifespan,
        **({"docs_url": None, "redoc_url": None, "openapi_url": None} if keyed_docs else {}),
    )
    app.state.settings = settings
    app.state.service = service
    app.state.body_budget = BodyBudget(settings.body_budget)
    app.include_router(router)
    app.include_router(protected)
    app.include_router(docs if keyed_docs else open_health)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.openapi = lambda: app.openapi_schema or _cache_openapi(app)  # type: ignore[method-assign]
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(RequestLog, metrics=service.metrics)
    return app


def _cache_openapi(app: FastAPI) -> dict[str, Any]:
    app.openapi_schema = openapi_schema(app)
    return app.openapi_schema


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, error), error.status, headers=error.headers)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's own errors (unknown route, wrong method) in the protocol's shape too."""
    kind = "not_found" if error.status_code == 404 else "validation"
    return await _api_error(request, ApiError(error.status_code, str(error.detail), kind, error.headers))


# Weaviate's reranker-transformers module: liveness, readiness, meta.


@router.get("/.well-known/live", status_code=204)
async def live() -> Response:
    return Response(status_code=204)


@router.get("/.well-known/ready", status_code=204)
async def ready(request: Request) -> Response:
    return Response(status_code=204 if request.app.state.service.ready else 503)


async def _health(request: Request) -> JSONResponse:
    """A bare status; the queue too for a caller with the key (or when the server has none)."""
    service: RerankService = request.app.state.service
    body: dict[str, Any] = {"status": "ok" if service.ready else "unavailable"}
    if has_api_key(request):
        body["queue_pairs"] = sum(service.queue_depths().values())
    return JSONResponse(body, 200 if service.ready else 503)


# /health is open, or keyed with the docs when the key covers everything (api_key_scope "all").
open_health = APIRouter()
open_health.get("/health")(_health)
docs = APIRouter(dependencies=[Depends(require_api_key)])
docs.get("/health")(_health)


@docs.get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@docs.get("/docs", include_in_schema=False)
async def swagger(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="vecrank")


@docs.get("/redoc", include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url="/openapi.json", title="vecrank")


@router.get("/meta")
async def meta(request: Request) -> dict[str, Any]:
    """The default model's config (without its folder path) and the served names."""
    if not request.app.state.settings.weaviate_without_key:
        await require_api_key(request)
    service: RerankService = request.app.state.service
    config = service.model_config(service.settings.default_alias)
    config.pop("_name_or_path", None)
    return {"model": config, "vecrank": {"version": __version__, "models": list(service.settings.aliases)}}


@protected.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    text = request.app.state.service.metrics.render()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@router.post("/rerank")
async def rerank(request: Request) -> JSONResponse:
    """Weaviate module (``documents`` or ``property``) or TEI (``texts``), told apart by their fields."""
    open_to_weaviate = request.app.state.settings.weaviate_without_key
    if not open_to_weaviate:
        await require_api_key(request)
    data = await _json(request)
    schema = TeiRerankRequest if isinstance(data, dict) and "texts" in data else WeaviateRerankRequest
    request.state.protocol = "tei" if schema is TeiRerankRequest else "weaviate"
    if open_to_weaviate and schema is TeiRerankRequest:
        await require_api_key(request)
    return await _rerank(request, schema, data)


@protected.post("/v2/rerank")
async def rerank_v2(request: Request) -> JSONResponse:
    """Cohere v2."""
    return await _rerank(request, CohereRerankRequest, await _json(request))


@protected.post("/v1/rerank")
async def rerank_v1(request: Request) -> JSONResponse:
    """Cohere v1 and Jina."""
    return await _rerank(request, V1RerankRequest, await _json(request))


async def _rerank(request: Request, schema: type[RerankRequest], data: Any) -> JSONResponse:
    service: RerankService = request.app.state.service
    body = _validate(schema, data)
    alias = request.state.model = service.resolve(body.model_name)
    texts = body.document_texts()
    request.state.documents = len(texts)
    service.check(body.query, texts, body.documents_field, body.allow_empty)
    service.check_instruction(alias, body.instruction)
    prepared = await service.prepare(alias, body.query, texts, body.truncation)
    if prepared.too_long is not None:
        limit = service.reranker(alias).max_length
        raise ApiError(
            413,
            f"`{body.documents_field}[{prepared.too_long}]` with the query holds more than the model's "
            f"{limit} tokens, and `truncate` is false",
        )
    try:
        logits = await _unless_disconnected(
            request, service.logits(alias, prepared.query, prepared.documents, body.instruction)
        )
    except ApiError:
        raise
    except Exception as error:
        raise ApiError(500, f"reranking failed: {type(error).__name__}: {error}", "backend") from error
    settings: ServerSettings = request.app.state.settings
    answer = (body, texts, logits, alias, prepared.tokens, settings)
    if len(texts) <= INLINE_ANSWER_DOCUMENTS:
        return JSONResponse(_answer(*answer))
    return JSONResponse(await asyncio.to_thread(_answer, *answer))


def _answer(
    body: RerankRequest,
    texts: list[str],
    logits: Any,
    alias: str,
    tokens: list[int] | None,
    settings: ServerSettings,
) -> Any:
    """The response body, after the ``vecrank_reranked`` hooks (capture) saw the request."""
    candidates = [
        Candidate(id=number, payload={}, vector_score=None, position=number, text=text, raw_score=score)
        for number, (text, score) in enumerate(zip(texts, logits.tolist()))
    ]
    call_each(
        get_plugin_manager().hook.vecrank_reranked,
        source="serve",
        collection=None,
        query=body.query,
        model=settings.aliases[alias],
        candidates=candidates,
        config=None,
        capture=settings.capture,
    )
    return body.answer(logits, alias, tokens)


async def _json(request: Request) -> Any:
    settings: ServerSettings = request.app.state.settings
    return await read_json(request, settings.max_request_bytes, request.app.state.body_budget)


def _validate(schema: type[RerankRequest], data: Any) -> RerankRequest:
    if not isinstance(data, dict):
        raise ApiError(422, f"the request body must be a JSON object, got {type(data).__name__}")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise ApiError(422, _describe(error)) from None


def _describe(error: ValidationError) -> str:
    """The first problems, each naming its field: ``texts.2: Input should be a valid string``."""
    problems = error.errors(include_url=False)
    parts = [
        f"`{'.'.join(str(part) for part in problem['loc'])}`: {problem['msg'].removeprefix('Value error, ')}"
        for problem in problems[:3]
    ]
    if len(problems) > 3:
        parts.append(f"and {len(problems) - 3} more")
    return "; ".join(parts)


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (and answering 499) if the client closes the connection first."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(request))
    done: set[asyncio.Future] = set()
    try:
        done, _ = await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if task not in done:
            task.cancel()
    if task not in done:
        raise ApiError(499, "the client closed the connection before its answer was ready", "client_closed")
    return task.result()


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
