"""Built-in plugin: a hit's text is its payload field, or a template over the payload."""

from __future__ import annotations

import string
from collections.abc import Mapping

from ..errors import MissingTextError
from ..hookspecs import hookimpl


def lookup(payload: Mapping, path: str):
    """``payload[path]``, or the nested value at a dotted path such as ``"meta.body"``."""
    if path in payload:
        return payload[path]
    value = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@hookimpl(trylast=True)
def vecrank_document_text(collection, candidate, config):
    payload = candidate.payload or {}
    if config.template is not None:
        fields = [name for _, name, _, _ in string.Formatter().parse(config.template) if name]
        missing = [name for name in fields if payload.get(name) is None]
        if missing:
            raise MissingTextError(
                f"collection {collection!r}: hit {candidate.id!r} has no field {missing[0]!r} "
                f"needed by template {config.template!r}",
                hit_id=candidate.id,
                field=missing[0],
            )
        return config.template.format_map(payload)
    value = lookup(payload, config.text_field)
    if value is None:
        raise MissingTextError(
            f"collection {collection!r}: hit {candidate.id!r} has no text field {config.text_field!r}",
            hit_id=candidate.id,
            field=config.text_field,
        )
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)
