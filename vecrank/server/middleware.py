"""ASGI middleware: one structured log line and the request metrics for every HTTP request."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
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
