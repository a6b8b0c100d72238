"""Aliases for the seed reranker models, and resolution of a name to a loadable source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_ALIASES: dict[str, str] = {
    "ettin-17m": "cross-encoder/ettin-reranker-17m-v1",
    "ettin-32m": "cross-encoder/ettin-reranker-32m-v1",
    "ettin-68m": "cross-encoder/ettin-reranker-68m-v1",
    "ettin-150m": "cross-encoder/ettin-reranker-150m-v1",
    "ettin-400m": "cross-encoder/ettin-reranker-400m-v1",
    "ettin-1b": "cross-encoder/ettin-reranker-1b-v1",
    "jina-turbo": "jinaai/jina-reranker-v1-turbo-en",
    "jina-tiny": "jinaai/jina-reranker-v1-tiny-en",
    "minilm-l6": "cross-encoder/ms-marco-MiniLM-L6-v2",
    "bge-base": "BAAI/bge-reranker-base",
    "mxbai-base": "mixedbread-ai/mxbai-rerank-base-v1",
}

# Models whose code lives on the hub (JinaBERT): loading them runs that code, so it is opt-in.
REMOTE_CODE_MODELS = frozenset({"jinaai/jina-reranker-v1-turbo-en", "jinaai/jina-reranker-v1-tiny-en"})


@dataclass(frozen=True)
class ModelSource:
    """Where a model name points: a local folder or a hub id, and the alias it came from."""

    name: str
    source: str
    is_local: bool
    alias: str | None = None

    @property
    def needs_remote_code(self) -> bool:
        return self.source in REMOTE_CODE_MODELS


def resolve_model(name: str) -> ModelSource:
    """Map an alias, a folder path or a hub id to a :class:`ModelSource`."""
    if not name or not name.strip():
        raise ValueError("model name is empty")
    alias = name.strip().lower()
    if alias in MODEL_ALIASES:
        return ModelSource(name=name, source=MODEL_ALIASES[alias], is_local=False, alias=alias)
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name=name, source=str(path.resolve()), is_local=True)
    return ModelSource(name=name, source=name, is_local=False)


def cached_locally(source: str) -> bool:
    """Whether a hub id's config is already in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(source, "config.json")
    return isinstance(found, str)
