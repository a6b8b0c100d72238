"""Request bodies: JSON content types only, read under a size limit and a byte budget shared by every
connection, and parsed off the event loop in pieces.

``json.loads`` is one C call that holds the GIL: 70 MB of JSON would stop every thread, the event loop
included, for a fifth of a second. ``parse_json`` decodes the items of a top-level object's arrays one
by one instead, so the interpreter can switch threads between them.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request

from .errors import ApiError
from .texts import invalid_text

# Bodies up to this size are parsed on the event loop (a millisecond or two); larger ones on a thread.
INLINE_PARSE_BYTES = 256 * 1024
_CLOSE = {"Connection": "close"}  # the rest of a refused body is not read: the connection closes
_SPACE = re.compile(r"[ \t\n\r]*")


def _number(text: str) -> int | float:
    """A JSON number written with a fraction or exponent: an int when it is whole (JSON has one number
    type, and JSON Schema counts 3.0 as an integer), so that strict integer fields take it."""
    value = float(text)
    return int(value) if value.is_integer() else value


_DECODER = json.JSONDecoder(parse_float=_number)


class BodyBudget:
    """Bytes of request bodies held at once, over every connection: the body that would pass it is
    refused (429) instead of read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> None:
        if self.held + size > self.limit:
            raise ApiError(
                429,
                "the server is reading as many request bodies as it holds at once "
                "(max_body_bytes_in_flight); retry later",
                "overloaded",
                {"Retry-After": "1", **_CLOSE},
            )
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters (charset) aside."""
    media = (content_type or "").partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_json(request: Request, max_bytes: int, budget: BodyBudget) -> Any:
    """The parsed body: 415 unless JSON, 413 past ``max_bytes``, 429 past the shared budget, 400 for bad
    or too deeply nested JSON, 422 for text that UTF-8 cannot encode, 499 if the client hangs up."""
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        raise ApiError(
            415, f"the body must be JSON (Content-Type: application/json), got {content_type or 'none'!r}"
        )
    declared = int(request.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise ApiError(413, _too_large(max_bytes), headers=_CLOSE)
    budget.take(declared)
    held = declared
    try:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                raise ApiError(413, _too_large(max_bytes), headers=_CLOSE)
            if len(body) > held:
                budget.take(len(body) - held)
                held = len(body)
        if len(body) <= INLINE_PARSE_BYTES:
            return _parsed(body)
        return await asyncio.to_thread(_parsed, body)
    except ClientDisconnect:
        raise ApiError(
            499, "the client closed the connection while sending the body", "client_closed"
        ) from None
    finally:
        budget.give(held)


def _too_large(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes (max_request_bytes)"


def _parsed(body: bytes | bytearray) -> Any:
    try:
        data = parse_json(bytes(body).decode(json.detect_encoding(body), "surrogatepass"))
    except RecursionError:
        raise ApiError(400, "the request body is not valid JSON: it is nested too deeply") from None
    except ValueError as error:
        raise ApiError(400, f"the request body is not valid JSON: {error}") from None
    found = invalid_text(data)
    if found:
        where, position = found
        raise ApiError(
            422, f"`{where}` is not valid Unicode: a lone surrogate at character {position} cannot be encoded"
        )
    return data


def parse_json(text: str) -> Any:
    """``json.loads(text)`` (whole numbers as ints), with the arrays of a top-level object decoded one
    item at a time."""
    if not text.lstrip(" \t\n\r").startswith("{"):
        return _DECODER.decode(text)
    result: dict[str, Any] = {}
    at = _skip(text, text.index("{") + 1)
    if text.startswith("}", at):
        return _end(text, at + 1, result)
    while True:
        if not text.startswith('"', at):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if not text.startswith(":", at):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        result[key], at = _value(text, _skip(text, at + 1))
        at = _skip(text, at)
        if text.startswith("}", at):
            return _end(text, at + 1, result)
        if not text.startswith(",", at):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _skip(text, at + 1)


def _value(text: str, at: int) -> tuple[Any, int]:
    """One member's value and the position after it; an array item by item."""
    if not text.startswith("[", at):
        return _DECODER.raw_decode(text, at)
    items: list[Any] = []
    at = _skip(text, at + 1)
    if text.startswith("]", at):
        return items, at + 1
    while True:
        item, at = _DECODER.raw_decode(text, at)
        items.append(item)
        at = _skip(text, at)
        if text.startswith("]", at):
            return items, at + 1
        if not text.startswith(",", at):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _skip(text, at + 1)


def _skip(text: str, at: int) -> int:
    return _SPACE.match(text, at).end()


def _end(text: str, at: int, result: dict[str, Any]) -> dict[str, Any]:
    if _skip(text, at) != len(text):
        raise json.JSONDecodeError("Extra data", text, _skip(text, at))
    return result
