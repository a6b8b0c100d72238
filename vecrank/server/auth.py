"""Optional API key: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request

from .errors import ApiError

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_matches(header: str | None, api_key: str) -> bool:
    """Whether an Authorization header carries ``api_key`` as a bearer token."""
    scheme, _, token = (header or "").partition(" ")
    same = hmac.compare_digest(token.strip().encode(), api_key.encode())
    return same and scheme.lower() == "bearer"


def has_api_key(request: Request) -> bool:
    """Whether the request carries the configured key (True when the server has none)."""
    api_key = request.app.state.settings.api_key
    return api_key is None or bearer_matches(request.headers.get("authorization"), api_key.get_secret_value())


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the request carries the configured key (if any)."""
    api_key = request.app.state.settings.api_key
    if api_key is None:
        return
    header = request.headers.get("authorization")
    if header is None:
        raise ApiError(
            401, "missing API key: send the header 'Authorization: Bearer <key>'", "unauthorized", _CHALLENGE
        )
    if not bearer_matches(header, api_key.get_secret_value()):
        raise ApiError(401, "wrong API key in the Authorization header", "unauthorized", _CHALLENGE)
