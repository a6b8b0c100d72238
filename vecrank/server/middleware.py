"""ASGI middleware: one structured log line and the request metrics for every HTTP request, and a JSON
answer in the protocol's own shape for whatever the routes did not answer themselves."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, Unavailable, error_body
from .metrics import Metrics

logger = logging.getLogger("vecrank.server")

# The protocol label of a request's metrics and log line; /rerank is refined once its body is read.
PROTOCOLS = {"/rerank": "rerank", "/v2/rerank": "cohere-v2", "/v1/rerank": "cohere-v1/jina"}


class RequestLog:
    """ASGI middleware: one structured log line and the request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 500

        started = False

        async def send_status(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except asyncio.CancelledError:
            # The server's shutdown timeout ran out with this request still in flight.
            if not started:
                message = (
                    "the server is shutting down: the request did not finish within the shutdown timeout"
                )
                await self._answer(scope, send_status, Unavailable(message))
        except Exception as error:
            logger.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not started:
                await self._answer(
                    scope, send_status, ApiError(500, f"internal error: {type(error).__name__}", "backend")
                )
        finally:
            seconds = time.perf_counter() - start
            protocol = state.get("protocol") or PROTOCOLS.get(scope["path"], "other")
            self.metrics.record_request(protocol, status, seconds)
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round(seconds * 1000, 2),
                "protocol": protocol,
                "model": state.get("model"),
                "documents": state.get("documents"),
                "client": (scope.get("client") or ("", 0))[0],
            }
            logger.info("request", extra={"fields": fields})

    @staticmethod
    async def _answer(scope: Scope, send: Send, error: ApiError) -> None:
        body = json.dumps(error_body(scope["path"], error)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
