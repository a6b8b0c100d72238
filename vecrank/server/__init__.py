"""``vecrank serve``: one reranking service speaking the Weaviate module, TEI, Cohere and Jina protocols.

    POST /rerank          Weaviate reranker-transformers module ({query, documents}) or TEI ({query, texts})
    POST /v2/rerank       Cohere v2
    POST /v1/rerank       Cohere v1 and Jina
    GET  /.well-known/live, /.well-known/ready, /meta, /health, /metrics

``create_app`` and ``serve`` need the ``server`` extra (FastAPI, uvicorn); they are imported on first use
so that the CLI can add the ``serve`` options without it.
"""

from __future__ import annotations

from typing import Any

from .cli import add_serve_arguments, run_serve, settings_from_args
from .settings import ServerSettings

__all__ = [
    "ServerSettings",
    "add_serve_arguments",
    "create_app",
    "run_serve",
    "running_server",
    "serve",
    "settings_from_args",
]

_LAZY = {"create_app": "app", "serve": "runner", "running_server": "runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
