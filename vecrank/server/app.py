"""The HTTP app: Weaviate module, TEI, Cohere and Jina routes over one :class:`RerankService`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from .. import __version__
from ..core.reranker import CrossEncoderReranker
from .auth import require_api_key
from .errors import ApiError, error_body
from .middleware import RequestLog
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
    if service is None:
        service = RerankService.load(settings, rerankers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        logger.info("ready", extra={"fields": {"models": settings.aliases}})
        try:
            yield
        finally:
            await service.stop()
            logger.info("stopped")

    app = FastAPI(title="vecrank", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.service = service
    app.include_router(router)
    app.include_router(protected)
    app.add_exception_handler(ApiError, _api_error)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(RequestLog, metrics=service.metrics)
    return app


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, error), error.status, headers=error.headers)


# Weaviate's reranker-transformers module: liveness, readiness, meta.


@router.get("/.well-known/live", status_code=204)
async def live() -> Response:
    return Response(status_code=204)


@router.get("/.well-known/ready", status_code=204)
async def ready(request: Request) -> Response:
    return Response(status_code=204 if request.app.state.service.ready else 503)


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    service: RerankService = request.app.state.service
    body = {
        "status": "ok" if service.ready else "unavailable",
        "queue_pairs": sum(service.queue_depths().values()),
    }
    return JSONResponse(body, 200 if service.ready else 503)


@protected.get("/meta")
async def meta(request: Request) -> dict[str, Any]:
    service: RerankService = request.app.state.service
    config = service.model_config(service.settings.default_alias)
    return {"model": config, "vecrank": {"version": __version__, "models": service.settings.aliases}}


@protected.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    text = request.app.state.service.metrics.render()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@protected.post("/rerank")
async def rerank(request: Request) -> JSONResponse:
    """Weaviate module (``documents`` or ``property``) or TEI (``texts``), told apart by their fields."""
    data = await _json(request)
    schema = TeiRerankRequest if isinstance(data, dict) and "texts" in data else WeaviateRerankRequest
    request.state.protocol = "tei" if schema is TeiRerankRequest else "weaviate"
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
    try:
        logits = await _unless_disconnected(
            request, service.logits(alias, body.query, texts, body.max_length)
        )
    except ApiError:
        raise
    except Exception as error:
        raise ApiError(500, f"reranking failed: {type(error).__name__}: {error}", "backend") from error
    return JSONResponse(body.answer(logits, alias))


async def _json(request: Request) -> Any:
    limit = request.app.state.settings.max_request_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"the request body is larger than {limit} bytes (max_request_bytes)")
    try:
        return json.loads(body)
    except ValueError as error:
        raise ApiError(400, f"the request body is not valid JSON: {error}") from None


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
