"""Errors the server answers with, and their JSON body in each protocol's own shape.

ApiError           an HTTP status, a message naming the field, and a kind (TEI's ``error_type``)
 ├── Overloaded    the queue is full: 429, retry later
 └── Unavailable   the server is shutting down: 503
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request the server refuses; ``kind`` is TEI's ``error_type`` (validation, empty, ...)."""

    def __init__(
        self, status: int, message: str, kind: str = "validation", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.headers = headers

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its fields: a Ray replica's refusal reaches the ingress with its status (``args``
        holds the message alone, which is not what ``__init__`` takes)."""
        return _rebuild, (type(self), self.status, self.message, self.kind, self.headers)


def _rebuild(
    cls: type[ApiError], status: int, message: str, kind: str, headers: dict[str, str] | None
) -> ApiError:
    error = Exception.__new__(cls)
    ApiError.__init__(error, status, message, kind, headers)
    return error


class Overloaded(ApiError):
    """The queue of pairs waiting for the engine is full."""

    def __init__(self, message: str) -> None:
        super().__init__(429, message, "overloaded", {"Retry-After": "1"})


class Unavailable(ApiError):
    """The server is shutting down and takes no new work."""

    def __init__(self, message: str = "the server is shutting down") -> None:
        super().__init__(503, message, "unhealthy")


def error_body(path: str, error: ApiError) -> dict[str, Any]:
    """Cohere (``/v1``, ``/v2``) reads ``message``, Jina (``/v1``) ``detail``; TEI and the Weaviate
    module read ``error`` and ``error_type``."""
    if path.startswith("/v1/"):
        return {"message": error.message, "detail": error.message}
    if path.startswith("/v2/"):
        return {"message": error.message}
    return {"error": error.message, "error_type": error.kind}
