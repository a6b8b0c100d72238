"""uvicorn's h11 protocol with the limits uvicorn lacks: deadlines for a request's headers and body, and a
cap on open connections applied when a connection opens (before it has sent anything).

uvicorn's own settings cover the rest: ``timeout_keep_alive`` closes idle keep-alive connections,
``limit_concurrency`` answers 503 past a number of requests in flight, and ``h11_max_incomplete_event_size``
bounds the bytes of a request's headers.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("vecrank.server")

_REFUSED_BODY = b'{"error": "too many open connections; retry later", "error_type": "overloaded"}'
_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_REFUSED_BODY), _REFUSED_BODY)
)


class GuardedH11Protocol(H11Protocol):
    """Closes a connection whose request headers take longer than ``header_timeout`` seconds (from the
    first byte, or from the connection's start) or whose body takes longer than ``body_timeout``; refuses
    (503) a connection past ``max_connections`` open ones."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 512

    @classmethod
    def with_limits(cls, header_timeout: float, body_timeout: float, max_connections: int) -> type:
        """A subclass with these limits (uvicorn builds protocols from a class)."""
        limits = {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_connections": max_connections,
        }
        return type(cls.__name__, (cls,), limits)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None
        self._answered = False
        if len(self.connections) > self.max_connections:
            logger.warning("refused a connection: %d are open (max_connections)", self.max_connections)
            transport.write(_REFUSED)
            transport.close()
            return
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_deadline(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        self._answered = True
        super().on_response_complete()
        self._follow()

    def _follow(self) -> None:
        """Keep the deadline of what the connection is waiting for: headers, a body, or nothing."""
        if self.transport.is_closing():
            phase = None
        elif self.conn.their_state is h11.IDLE:
            # Headers are awaited from the first byte; an idle keep-alive connection is uvicorn's to close.
            started = bool(self.conn.trailing_data[0]) or not self._answered
            phase = "headers" if started else None
        else:
            phase = "body" if self.conn.their_state is h11.SEND_BODY else None
        if phase != self._phase:
            self._set_deadline(phase)

    def _set_deadline(self, phase: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._phase, self._deadline = phase, None
        if phase is not None:
            seconds = self.header_timeout if phase == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._expire, phase, seconds)

    def _expire(self, phase: str, seconds: float) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            logger.info("closed a connection from %s: its %s took over %g s", self.client, phase, seconds)
            self.transport.close()
