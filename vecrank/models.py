"""Model names: the seed aliases, and resolving a name to a loadable source.

Standard library only, so that naming a model needs no torch, pydantic or plugin. A name is,
in this order: a service URL (``https://...``, see :func:`is_remote_model`), an alias
(``ettin-17m``), a local folder, or a hub id ``org/name``. Anything else is an error that
suggests close names. Names that plugins registered (``minilm-bi``) are checked one layer up,
by :func:`vecrank.plugins.check_model_name`, which passes them in here for the message.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

MODEL_ALIASES: dict[str, str] = {
    "ettin-17m": "cross-encoder/ettin-reranker-17m-v1",
    "ettin-32m": "cross-encoder/ettin-reranker-32m-v1",
    "ettin-68m": "cross-encoder/ettin-reranker-68m-v1",
    "ettin-150m": "cross-encoder/ettin-reranker-150m-v1",
    "ettin-400m": "cross-encoder/ettin-reranker-400m-v1",
    "ettin-1b": "cross-encoder/ettin-reranker-1b-v1",
    "jina-turbo": "jinaai/jina-reranker-v1-turbo-en",
    "jina-tiny": "jinaai/jina-reranker-v1-tiny-en",
    "jina-base": "jinaai/jina-reranker-v1-base-en",
    "minilm-l6": "cross-encoder/ms-marco-MiniLM-L6-v2",
    "bge-base": "BAAI/bge-reranker-base",
    "mxbai-base": "mixedbread-ai/mxbai-rerank-base-v1",
    # Yes/no rerankers: causal language models prompted by their family's template (core/prompts.py).
    "qwen3-reranker-0.6b": "Qwen/Qwen3-Reranker-0.6B",
    "qwen3-reranker-4b": "Qwen/Qwen3-Reranker-4B",
    "qwen3-reranker-8b": "Qwen/Qwen3-Reranker-8B",
    "mxbai-rerank-base-v2": "mixedbread-ai/mxbai-rerank-base-v2",
    "mxbai-rerank-large-v2": "mixedbread-ai/mxbai-rerank-large-v2",
}

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


@dataclass(frozen=True)
class ModelSource:
    """Where a model name points: a local folder or a hub id, and the alias it came from."""

    name: str
    source: str
    is_local: bool
    alias: str | None = None


def is_remote_model(name: str) -> bool:
    """Whether a model name is the URL of a reranking service rather than a local model."""
    return name.startswith(("http://", "https://"))


def resolve_model(name: str, registered: Mapping[str, str] | None = None) -> ModelSource:
    """Map an alias, a folder path or a hub id to a :class:`ModelSource`; anything else is a ModelError.

    ``registered`` maps the names that plugins registered to their plugin, for the message.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelError(f"model name must be a non-empty string, got {name!r}")
    registered = registered or {}
    alias = name.strip().lower()
    if alias in MODEL_ALIASES:
        return ModelSource(name=name, source=MODEL_ALIASES[alias], is_local=False, alias=alias)
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name=name, source=str(path.resolve()), is_local=True)
    if HUB_ID.match(name.strip()) and not path.exists():
        return ModelSource(name=name, source=name.strip(), is_local=False)
    if alias in registered:
        raise ModelError(
            f"{name!r} is a reranker registered by plugin {registered[alias]!r}, not a cross-encoder model: "
            f"name it in the config, in wrap() or on the command line (vecrank rank -m {name}), or in code "
            f"use vecrank.plugins.get_scorer(vecrank.CollectionConfig(model={name!r}))"
        )
    raise ModelError(unknown_model_message(name, registered))


def unknown_model_message(name: str, registered: Iterable[str] = ()) -> str:
    """Why ``name`` names no model, with the close matches among aliases and registered names."""
    known = sorted({*MODEL_ALIASES, *(n.lower() for n in registered)})
    close = difflib.get_close_matches(name.strip().lower(), known, n=3, cutoff=0.6)
    where = "no such folder" if ("/" in name or name.startswith((".", "~"))) else "not a folder"
    message = (
        f"unknown model {name!r}: not an alias or registered reranker, {where}, "
        "and not a hub id of the form org/name"
    )
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{message}{hint} (`vecrank models` lists the names)"
