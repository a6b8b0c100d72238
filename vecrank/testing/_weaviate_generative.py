"""The stand-in's generative module: it answers each prompt with the prompt itself, as Weaviate's
``generative-dummy`` module answers with what it was asked, so a test can read what the model saw.

- ``single``: the prompt with each ``{property}`` replaced by the object's value (Weaviate's
  interpolation; a property the object lacks is an error), one answer per result object;
- ``grouped``: the task, a newline, then the JSON list of the result objects' properties (the
  ``properties`` named, else all), in result order: one answer for the whole reply.

Answers use the v1.27+ reply fields (``SearchResult.generative``, ``generative_grouped_results``),
which the client reads from servers of that version on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import grpc
from weaviate.proto.v1 import generative_pb2

from vecrank.testing._weaviate_search import SearchError
from vecrank.testing._weaviate_store import StoredObject

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def generative_answers(
    search: generative_pb2.GenerativeSearch, objects: Sequence[StoredObject]
) -> tuple[list[generative_pb2.GenerativeResult | None], generative_pb2.GenerativeResult | None]:
    """Each object's single-prompt answer (None without a single prompt), and the grouped answer."""
    if search.single_response_prompt or search.grouped_response_task:
        raise SearchError(
            grpc.StatusCode.UNIMPLEMENTED,
            "the Weaviate stand-in answers the v1.27+ generative fields (single, grouped) only",
        )
    singles: list[generative_pb2.GenerativeResult | None] = [None] * len(objects)
    if search.HasField("single"):
        singles = [_answer(_interpolate(search.single.prompt, obj)) for obj in objects]
    grouped = None
    if search.HasField("grouped"):
        names = list(search.grouped.properties.values) if search.grouped.HasField("properties") else None
        context = [_selected(obj.properties, names) for obj in objects]
        grouped = _answer(f"{search.grouped.task}\n{json.dumps(context, default=str)}")
    return singles, grouped


def _answer(text: str) -> generative_pb2.GenerativeResult:
    return generative_pb2.GenerativeResult(values=[generative_pb2.GenerativeReply(result=text)])


def _interpolate(prompt: str, obj: StoredObject) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in obj.properties:
            raise SearchError(
                grpc.StatusCode.INVALID_ARGUMENT, f"single prompt: object has no property {name!r}"
            )
        return str(obj.properties[name])

    return _PLACEHOLDER.sub(value, prompt)


def _selected(properties: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    return dict(properties) if names is None else {name: properties.get(name) for name in names}
